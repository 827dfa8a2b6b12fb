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

/// Measured (#20, examples/lineproto_profile.rs and an in-process A/B of the two builds): a
/// separate word-at-a-time path for `ddd.ddd` values (two 8-byte loads, no digit loop) made a
/// Telegraf line 9 % cheaper in a build without LTO, but in the shipped fat-LTO build 2-decimal
/// rows stayed equal and full-precision rows got 3-5 % dearer: the parser's one large inlined
/// loop (its register use and layout) bounds it more than the digit loops do.
///
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
    let mut overflow = false;
    let dstart = i;
    i = scan_digits_one_by_one(buf, i, &mut mant, &mut overflow);
    let digits = i - dstart;
    match buf.get(i) {
        Some(b'i') => return int_value(neg, mant, digits, overflow, i + 1),
        Some(b'u') => return uint_value(neg, mant, digits, overflow, i + 1),
        _ => {}
    }
    let mut frac_digits = 0usize;
    if buf.get(i) == Some(&b'.') {
        i += 1;
        let fstart = i;
        i = scan_digits(buf, i, &mut mant, &mut overflow);
        frac_digits = i - fstart;
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
        // Full-precision values (Telegraf's `97.28643216080402`) have 16-17 digits, past
        // Clinger's 2^53: Eisel-Lemire on the digits already scanned, else the exact parse.
        match eisel_lemire(mant, e10).filter(|_| !overflow) {
            Some(v) => v,
            None => slow_float(&buf[start..i])?,
        }
    };
    let _ = has_exp;
    Ok((Number::Float(if neg { -v.abs() } else { v }), i))
}

/// Exact powers of ten as integers, for adding a run of `n` digits to a mantissa at once.
const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Accumulates the ASCII digits at `i` into `mant` and returns the position after them; sets
/// `overflow` (and leaves `mant`) when the value no longer fits a u64.
///
/// A short run (`28` of `97.28`) goes digit by digit: the loop's exit is predicted, so the
/// position of the next token is known early. A longer run (the 14-16 fraction digits of
/// Telegraf's full-precision floats) goes up to eight digits per step
/// ([`scan_long_digits`]) instead of a 16-long chain of dependent multiplies. Used for
/// fractions; integer parts (short in metrics) always go digit by digit.
#[inline(always)]
fn scan_digits(buf: &[u8], i: usize, mant: &mut u64, overflow: &mut bool) -> usize {
    // One byte decides (a guess: both ways are exact): a fourth digit means a long run.
    if buf.get(i + 3).is_some_and(u8::is_ascii_digit) {
        scan_long_digits(buf, i, mant, overflow)
    } else {
        scan_digits_one_by_one(buf, i, mant, overflow)
    }
}

/// [`scan_digits`] eight digits per step: the run of digits at the start of an 8-byte word is
/// found with one mask and converted with three multiplies. Near the end of the body, or when
/// a step would overflow, the digits go one at a time.
#[inline(always)]
fn scan_long_digits(buf: &[u8], mut i: usize, mant: &mut u64, overflow: &mut bool) -> usize {
    while let Some(word) = buf.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        // Digit bytes become 0..=9; any other byte has its high bit set in `x` or in `x + 0x76`.
        // A carry only leaves a non-digit byte, upwards: bytes below the first one are exact.
        let x = u64::from_le_bytes(w) ^ 0x3030_3030_3030_3030;
        let nondigit = (x.wrapping_add(0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080;
        let n = (nondigit.trailing_zeros() / 8) as usize;
        if n == 0 {
            return i;
        }
        // The n digits moved to the top bytes (the low ones become leading zeros).
        let v = digit_values(x << (64 - 8 * n as u32));
        match mant
            .checked_mul(POW10_U64[n])
            .and_then(|m| m.checked_add(v))
        {
            Some(m) => *mant = m,
            None => break,
        }
        i += n;
        if n < 8 {
            return i;
        }
    }
    scan_digits_one_by_one(buf, i, mant, overflow)
}

#[inline(always)]
fn scan_digits_one_by_one(buf: &[u8], mut i: usize, mant: &mut u64, overflow: &mut bool) -> usize {
    while let Some(&b) = buf.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        match mant.checked_mul(10).and_then(|m| m.checked_add(d as u64)) {
            Some(m) => *mant = m,
            None => *overflow = true,
        }
        i += 1;
    }
    i
}

/// The decimal exponents [`POW10_128`] covers: every float a metrics agent writes (Telegraf's
/// `%g`-style output stays within 1e-55..1e55); others take the exact parse.
const EL_MIN: i64 = -55;
const EL_MAX: i64 = 55;

/// 10^q for q in EL_MIN..=EL_MAX as (high, low) words of its 128-bit mantissa normalized to
/// [2^127, 2^128), rounded down: the table Eisel-Lemire needs (Go's strconv holds the same
/// values for -348..=347), computed at compile time.
static POW10_128: [(u64, u64); (EL_MAX - EL_MIN + 1) as usize] = pow10_table();

const fn pow10_table() -> [(u64, u64); (EL_MAX - EL_MIN + 1) as usize] {
    let mut t = [(0u64, 0u64); (EL_MAX - EL_MIN + 1) as usize];
    let mut k = 0;
    while k < t.len() {
        let q = EL_MIN + k as i64;
        t[k] = if q >= 0 {
            pow10_mantissa(q as u32)
        } else {
            inverse_pow5_mantissa((-q) as u32)
        };
        k += 1;
    }
    t
}

const fn pow5(q: u32) -> u128 {
    let mut p: u128 = 1;
    let mut k = 0;
    while k < q {
        p *= 5;
        k += 1;
    }
    p
}

/// 10^q = 5^q * 2^q: 5^q (exact below 5^56) shifted to the top of 128 bits.
const fn pow10_mantissa(q: u32) -> (u64, u64) {
    let p = pow5(q);
    let n = p << p.leading_zeros();
    ((n >> 64) as u64, n as u64)
}

/// 10^-q = 2^-q / 5^q: the first 128 bits of 1 / 5^q by long division, rounded down.
const fn inverse_pow5_mantissa(q: u32) -> (u64, u64) {
    let d = pow5(q);
    let (mut rem, mut out, mut bits) = (1u128, 0u128, 0);
    while bits < 128 {
        // rem < d < 2^128; 2 * rem may not fit, but then it is surely >= d.
        let over = rem >> 127 == 1;
        rem <<= 1;
        let bit = over || rem >= d;
        if bit {
            rem = rem.wrapping_sub(d);
        }
        if bit || out != 0 {
            out = (out << 1) | bit as u128;
            bits += 1;
        }
    }
    ((out >> 64) as u64, out as u64)
}

#[inline]
fn mul64(a: u64, b: u64) -> (u64, u64) {
    let p = a as u128 * b as u128;
    ((p >> 64) as u64, p as u64)
}

/// `mant * 10^e10` correctly rounded (to nearest, ties to even) by Lemire's algorithm, the one
/// Go's strconv.ParseFloat tries first; `None` when 128 bits of the product cannot decide the
/// rounding (rare) or the result is subnormal, infinite or out of the table: the caller then
/// parses the text exactly.
///
/// Kept out of line on purpose. Measured under fat LTO (#20, examples/lineproto_profile.rs,
/// alternated runs): inlining it made full-precision lines 6 % dearer, and moving the whole
/// conversion (Clinger and this) out of line made them 7-10 % dearer; moving the exponent scan
/// into a cold function changed nothing.
#[inline(never)]
pub(crate) fn eisel_lemire(mant: u64, e10: i64) -> Option<f64> {
    if mant == 0 {
        return Some(0.0);
    }
    if !(EL_MIN..=EL_MAX).contains(&e10) {
        return None;
    }
    let (p_hi, p_lo) = POW10_128[(e10 - EL_MIN) as usize];
    let clz = mant.leading_zeros();
    let m = mant << clz;
    // floor(e10 * log2(10)) + 64 + the exponent bias, less the normalization shift.
    let mut exp2 = ((217_706 * e10) >> 16) + 64 + 1023 - clz as i64;
    let (mut hi, mut lo) = mul64(m, p_hi);
    if hi & 0x1FF == 0x1FF && lo.wrapping_add(m) < m {
        // The low 9 bits are all ones: the truncated table word may hide a carry. Widen.
        let (y_hi, y_lo) = mul64(m, p_lo);
        let merged_lo = lo.wrapping_add(y_hi);
        let merged_hi = hi + (merged_lo < lo) as u64;
        if merged_hi & 0x1FF == 0x1FF && merged_lo.wrapping_add(1) == 0 && y_lo.wrapping_add(m) < m
        {
            return None;
        }
        (hi, lo) = (merged_hi, merged_lo);
    }
    let msb = hi >> 63;
    let mut bits = hi >> (msb + 9);
    exp2 -= (1 ^ msb) as i64;
    if lo == 0 && hi & 0x1FF == 0 && bits & 3 == 1 {
        // Exactly halfway between two floats as far as 128 bits tell.
        return None;
    }
    bits += bits & 1;
    bits >>= 1;
    if bits >> 53 > 0 {
        bits >>= 1;
        exp2 += 1;
    }
    if exp2 <= 0 || exp2 >= 0x7FF {
        return None;
    }
    Some(f64::from_bits(
        ((exp2 as u64) << 52) | (bits & ((1 << 52) - 1)),
    ))
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
    digit_values(w - 0x3030_3030_3030_3030)
}

/// The value of eight digit values 0..=9 (first digit in the lowest byte).
#[inline(always)]
fn digit_values(w: u64) -> u64 {
    let w = (w.wrapping_mul(10) + (w >> 8)) & 0x00FF_00FF_00FF_00FF;
    let w = (w.wrapping_mul(100) + (w >> 16)) & 0x0000_FFFF_0000_FFFF;
    (w.wrapping_mul(10000) + (w >> 32)) & 0xFFFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn float(text: &str) -> f64 {
        match parse_number(text.as_bytes(), 0) {
            Ok((Number::Float(v), end)) if end == text.len() => v,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn pow10_table_matches_known_entries() {
        // Values of Go's detailedPowersOfTen (strconv/eisel_lemire.go) and exact powers.
        assert_eq!(POW10_128[(0 - EL_MIN) as usize], (0x8000_0000_0000_0000, 0));
        assert_eq!(
            POW10_128[(-1 - EL_MIN) as usize],
            (0xCCCC_CCCC_CCCC_CCCC, 0xCCCC_CCCC_CCCC_CCCC)
        );
        assert_eq!(
            POW10_128[(43 - EL_MIN) as usize],
            (0xE596_B7B0_C643_C719, 0x6D9C_CD05_D000_0000)
        );
        for q in EL_MIN..=EL_MAX {
            assert!(
                POW10_128[(q - EL_MIN) as usize].0 >> 63 == 1,
                "1e{q} not normalized"
            );
        }
    }

    #[test]
    fn eisel_lemire_declines_what_it_cannot_decide() {
        assert_eq!(eisel_lemire(0, 5), Some(0.0));
        assert_eq!(eisel_lemire(1, EL_MAX + 1), None);
        assert_eq!(eisel_lemire(1, EL_MIN - 1), None);
        assert_eq!(
            eisel_lemire(9_728_643_216_080_402, -14),
            Some(97.28643216080402)
        );
        // 2^53 + 1 is halfway between two floats: rounds to even through the exact parse.
        assert_eq!(float("9007199254740993"), 9007199254740992.0);
        assert_eq!(float("9007199254740995"), 9007199254740996.0);
    }

    #[test]
    fn full_precision_floats_match_std() {
        for text in [
            "97.28643216080402",
            "0.30000000000000004",
            "-1.2345678901234567e-05",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "4.9e-324",
            "123456789012345678901234567890",
            "0.000000000000000000000000000000000000000000000000000000000001234567890123",
        ] {
            assert_eq!(
                float(text).to_bits(),
                text.parse::<f64>().unwrap().to_bits(),
                "{text}"
            );
        }
    }

    #[test]
    fn scan_digits_counts_and_flags_overflow() {
        let (mut m, mut o) = (0u64, false);
        assert_eq!(scan_digits(b"12345678901234567x", 0, &mut m, &mut o), 17);
        assert_eq!((m, o), (12_345_678_901_234_567, false));
        let (mut m, mut o) = (0u64, false);
        assert_eq!(
            scan_digits(b"000000000000000000000001", 0, &mut m, &mut o),
            24
        );
        assert_eq!((m, o), (1, false));
        let (mut m, mut o) = (0u64, false);
        assert_eq!(scan_digits(b"18446744073709551616", 0, &mut m, &mut o), 20);
        assert!(o);
        for text in [
            "7",
            "97",
            "1234567",
            "123456789",
            "97 1",
            "0.5",
            "12345678901234567890",
        ] {
            let (mut m, mut o) = (0u64, false);
            let end = scan_digits(text.as_bytes(), 0, &mut m, &mut o);
            let digits = text.bytes().take_while(u8::is_ascii_digit).count();
            assert_eq!(end, digits, "{text}");
            assert_eq!(m, text[..digits].parse::<u64>().unwrap(), "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The eight-at-a-time scan agrees with a digit-by-digit reference on any bytes (digit
        /// runs of every length, any neighbour byte, at any distance from the end of the body).
        #[test]
        fn scan_digits_matches_one_at_a_time(
            bytes in proptest::collection::vec(
                prop_oneof![6 => b'0'..=b'9', 1 => any::<u8>(), 1 => Just(b'/'), 1 => Just(b':')],
                0..48,
            ),
            start in 0usize..48,
            seed in 0u64..1_000_000,
        ) {
            let start = start.min(bytes.len());
            let (mut want_m, mut want_o, mut i) = (seed, false, start);
            while let Some(d) = bytes.get(i).map(|b| b.wrapping_sub(b'0')).filter(|&d| d <= 9) {
                match want_m.checked_mul(10).and_then(|m| m.checked_add(d as u64)) {
                    Some(m) => want_m = m,
                    None => want_o = true,
                }
                i += 1;
            }
            let (mut m, mut o) = (seed, false);
            prop_assert_eq!(scan_digits(&bytes, start, &mut m, &mut o), i);
            prop_assert_eq!(o, want_o);
            if !o {
                prop_assert_eq!(m, want_m);
            }
        }

        /// Any f64 printed shortest (as Telegraf and Go print them) parses back to its bits.
        #[test]
        fn shortest_repr_round_trips(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let text = format!("{:?}", v.abs());
            prop_assert_eq!(float(&text).to_bits(), v.abs().to_bits(), "{}", text);
        }

        /// Decimal mantissas of 1-19 digits at any exponent agree with std's correctly
        /// rounded parse (which is what Go's ParseFloat computes).
        #[test]
        fn decimal_digits_match_std(mant in 1u64..=9_999_999_999_999_999_999, e in -70i32..70, frac in 0usize..19) {
            let digits = mant.to_string();
            let frac = frac.min(digits.len() - 1);
            let text = if frac == 0 {
                format!("{digits}e{e}")
            } else {
                let (int, dec) = digits.split_at(digits.len() - frac);
                format!("{int}.{dec}e{e}")
            };
            let want: f64 = text.parse().unwrap();
            prop_assume!(want.is_finite());
            prop_assert_eq!(float(&text).to_bits(), want.to_bits(), "{}", text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Short values (Clinger's fast path) equal std's parse, and end where the number ends,
        /// whatever byte follows them.
        #[test]
        fn short_values_match_std(int in 0u32..1_000_000, frac in 0u32..1_000_000,
                                  fd in 1usize..6, neg: bool, next in any::<u8>()) {
            let digits = format!("{frac:06}");
            let text = format!("{}{int}.{}", if neg { "-" } else { "" }, &digits[..fd]);
            let mut body = text.clone().into_bytes();
            body.push(next);
            body.extend_from_slice(b"0000000");
            let got = parse_number(&body, 0);
            if matches!(next, b'0'..=b'9' | b'e' | b'E' | b'i' | b'u' | b'.') {
                return Ok(());
            }
            let want: f64 = text.parse().unwrap();
            prop_assert_eq!(got.map(|(n, e)| (match n { Number::Float(v) => v.to_bits(), _ => 0 }, e)),
                            Ok((want.to_bits(), text.len())), "{}", text);
        }
    }

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
