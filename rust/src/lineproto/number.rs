//! Field values and timestamps: numbers, booleans, precision. Each function takes the body and
//! the position of the token and returns the value and the position just after it.

use super::error::ErrorKind;

/// A numeric field value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Float(f64),
    Int(i64),
    UInt(u64),
}

/// Exact powers of ten for the fast float path (10^22 is the largest exact f64 power).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Scans a number starting at `start` (a digit, '-' or '.'). Grammar as InfluxDB 1.x:
/// `-?digits[.digits][(e|E)[+-]digits]` for floats, `-?digits i` for integers, `digits u` for
/// unsigned. Returns the value and the position after it (the terminator is not checked here).
#[inline]
pub fn parse_number(buf: &[u8], start: usize) -> Result<(Number, usize), ErrorKind> {
    let mut i = start;
    let neg = buf.get(i) == Some(&b'-');
    if neg {
        i += 1;
    }
    // Mantissa digits, accumulated while they fit; `digits` counts them all.
    let mut mant: u64 = 0;
    let mut digits = 0usize;
    let mut overflow = false;
    while let Some(&b) = buf.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        match mant.checked_mul(10).and_then(|m| m.checked_add(d as u64)) {
            Some(m) => mant = m,
            None => overflow = true,
        }
        digits += 1;
        i += 1;
    }
    match buf.get(i) {
        Some(b'i') => return int_value(neg, mant, digits, overflow, i + 1),
        Some(b'u') => return uint_value(neg, mant, digits, overflow, i + 1),
        _ => {}
    }
    let mut frac_digits = 0usize;
    if buf.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&b) = buf.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            match mant.checked_mul(10).and_then(|m| m.checked_add(d as u64)) {
                Some(m) => mant = m,
                None => overflow = true,
            }
            frac_digits += 1;
            i += 1;
        }
    }
    if digits + frac_digits == 0 {
        return Err(ErrorKind::InvalidNumber);
    }
    let mut exp: i64 = 0;
    let mut has_exp = false;
    if matches!(buf.get(i), Some(b'e' | b'E')) {
        has_exp = true;
        i += 1;
        let eneg = match buf.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let estart = i;
        while let Some(&b) = buf.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            exp = (exp * 10 + d as i64).min(1 << 40);
            i += 1;
        }
        if i == estart {
            return Err(ErrorKind::InvalidFloat);
        }
        if eneg {
            exp = -exp;
        }
    }
    if matches!(buf.get(i), Some(b'i' | b'u' | b'.')) {
        // `1.5i`, `1e3u`, `1.2.3`: InfluxDB calls all of these an invalid number.
        return Err(ErrorKind::InvalidNumber);
    }
    let e10 = exp - frac_digits as i64;
    let v = if !overflow && mant < (1u64 << 53) && (-22..=22).contains(&e10) {
        // Clinger's fast path: mantissa and 10^|e| are exact, one rounding.
        let m = mant as f64;
        if e10 >= 0 {
            m * POW10[e10 as usize]
        } else {
            m / POW10[(-e10) as usize]
        }
    } else {
        slow_float(&buf[start..i])?
    };
    let _ = has_exp;
    Ok((Number::Float(if neg { -v.abs() } else { v }), i))
}

#[cold]
fn slow_float(text: &[u8]) -> Result<f64, ErrorKind> {
    let s = std::str::from_utf8(text).map_err(|_| ErrorKind::InvalidNumber)?;
    let v: f64 = s.parse().map_err(|_| ErrorKind::InvalidFloat)?;
    if v.is_finite() {
        Ok(v.abs())
    } else {
        // Go's ParseFloat reports overflow to ±Inf as an error; so does InfluxDB.
        Err(ErrorKind::InvalidFloat)
    }
}

fn int_value(
    neg: bool,
    mant: u64,
    digits: usize,
    overflow: bool,
    end: usize,
) -> Result<(Number, usize), ErrorKind> {
    if digits == 0 {
        return Err(ErrorKind::InvalidNumber);
    }
    let limit = if neg {
        i64::MAX as u64 + 1
    } else {
        i64::MAX as u64
    };
    if overflow || mant > limit {
        return Err(ErrorKind::IntegerOutOfRange);
    }
    let v = if neg {
        (mant as i64).wrapping_neg()
    } else {
        mant as i64
    };
    Ok((Number::Int(v), end))
}

fn uint_value(
    neg: bool,
    mant: u64,
    digits: usize,
    overflow: bool,
    end: usize,
) -> Result<(Number, usize), ErrorKind> {
    if digits == 0 || neg {
        return Err(ErrorKind::InvalidNumber);
    }
    if overflow {
        return Err(ErrorKind::UnsignedOutOfRange);
    }
    Ok((Number::UInt(mant), end))
}

/// A boolean in every spelling InfluxDB accepts: t T true True TRUE f F false False FALSE.
/// `token` is the whole value (up to the next comma, space or end of line).
#[inline]
pub fn parse_bool(token: &[u8]) -> Result<bool, ErrorKind> {
    match token {
        b"t" | b"T" | b"true" | b"True" | b"TRUE" => Ok(true),
        b"f" | b"F" | b"false" | b"False" | b"FALSE" => Ok(false),
        _ => Err(ErrorKind::InvalidBoolean),
    }
}

/// InfluxDB's time range: math.MinInt64 + 2 ..= math.MaxInt64 - 1.
pub const MIN_TIME: i64 = i64::MIN + 2;
pub const MAX_TIME: i64 = i64::MAX - 1;

/// Timestamp precision of a write (`/write?precision=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Nanosecond,
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
}

impl Precision {
    /// InfluxDB 1.x's values (`ns`, `u`/`µ`, `ms`, `s`, `m`, `h`; `n` and the empty string are
    /// nanoseconds as the influx CLI sends them) plus `us`. InfluxDB 1.x silently reads any
    /// unknown value as nanoseconds; kapfast rejects it instead (returns `None`).
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "" | "n" | "ns" => Precision::Nanosecond,
            "u" | "us" | "µ" | "µs" => Precision::Microsecond,
            "ms" => Precision::Millisecond,
            "s" => Precision::Second,
            "m" => Precision::Minute,
            "h" => Precision::Hour,
            _ => return None,
        })
    }

    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanosecond => 1,
            Precision::Microsecond => 1_000,
            Precision::Millisecond => 1_000_000,
            Precision::Second => 1_000_000_000,
            Precision::Minute => 60_000_000_000,
            Precision::Hour => 3_600_000_000_000,
        }
    }

    /// `now` truncated to this precision, as InfluxDB stamps a point that has no time.
    pub fn truncate(self, now: i64) -> i64 {
        now - now.rem_euclid(self.nanos())
    }
}

/// Scans `-?digits` at `start`; returns the time in nanoseconds and the position after it.
#[inline]
pub fn parse_timestamp(
    buf: &[u8],
    start: usize,
    precision: Precision,
) -> Result<(i64, usize), ErrorKind> {
    let mut i = start;
    let neg = buf.get(i) == Some(&b'-');
    if neg {
        i += 1;
    }
    let dstart = i;
    let mut v: u64 = 0;
    // Eight digits at a time while they last (a nanosecond timestamp has 19).
    while i + 8 <= buf.len() && i - dstart <= 16 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[i..i + 8]);
        let w = u64::from_le_bytes(w);
        if !all_digits(w) {
            break;
        }
        v = v.wrapping_mul(100_000_000).wrapping_add(eight_digits(w));
        i += 8;
    }
    while let Some(&b) = buf.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 || i - dstart >= 20 {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(d as u64);
        i += 1;
    }
    if i == dstart {
        return Err(ErrorKind::BadTimestamp);
    }
    let ndigits = i - dstart;
    if ndigits > 19 {
        // Out of range either way; but junk after the digits is InfluxDB's "bad timestamp".
        while buf.get(i).is_some_and(|b| b.is_ascii_digit()) {
            i += 1;
        }
        return Err(match buf.get(i) {
            None | Some(b' ' | b'\t' | b'\r' | b'\n') => ErrorKind::TimeOutOfRange,
            Some(_) => ErrorKind::BadTimestamp,
        });
    }
    // 19 digits fit in u64 without wrapping (10^19 < 2^64).
    if v > i64::MAX as u64 {
        return Err(ErrorKind::TimeOutOfRange);
    }
    let t = if neg { -(v as i64) } else { v as i64 };
    let ns = t
        .checked_mul(precision.nanos())
        .ok_or(ErrorKind::TimeOutOfRange)?;
    if !(MIN_TIME..=MAX_TIME).contains(&ns) {
        return Err(ErrorKind::TimeOutOfRange);
    }
    Ok((ns, i))
}

/// True when all eight bytes of `w` are ASCII digits.
#[inline]
fn all_digits(w: u64) -> bool {
    const HI: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    ((w & HI) | (((w.wrapping_add(0x0606_0606_0606_0606)) & HI) >> 4)) == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits (first digit in the lowest byte), by pairwise combining.
#[inline]
fn eight_digits(w: u64) -> u64 {
    let w = w - 0x3030_3030_3030_3030;
    let w = (w.wrapping_mul(10) + (w >> 8)) & 0x00FF_00FF_00FF_00FF;
    let w = (w.wrapping_mul(100) + (w >> 16)) & 0x0000_FFFF_0000_FFFF;
    (w.wrapping_mul(10000) + (w >> 32)) & 0xFFFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_of_every_length() {
        let mut v: i64 = 0;
        for d in 1..=19u32 {
            v = v * 10 + (d % 10) as i64;
            let text = v.to_string();
            let (t, end) = parse_timestamp(text.as_bytes(), 0, Precision::Nanosecond).unwrap();
            assert_eq!((t, end), (v, text.len()), "{text}");
        }
        assert_eq!(
            parse_timestamp(b"12345678901234567890123", 0, Precision::Nanosecond),
            Err(ErrorKind::TimeOutOfRange)
        );
        assert_eq!(
            parse_timestamp(b"123456789012345678901x", 0, Precision::Nanosecond),
            Err(ErrorKind::BadTimestamp)
        );
        assert_eq!(
            parse_timestamp(b"9223372036854775808", 0, Precision::Nanosecond),
            Err(ErrorKind::TimeOutOfRange)
        );
    }
}
