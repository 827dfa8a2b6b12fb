//! Go's text conversions that Kapacitor's built-ins expose: `strconv` parsing and float
//! formatting, InfluxQL duration literals and go-humanize's `Bytes`.

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
const D: i64 = 24 * H;
const W: i64 = 7 * D;

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest decimal that round-trips, never an exponent.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{f}")
    }
}

/// `influxql.FormatDuration`: the largest unit that divides the duration exactly.
pub fn format_duration(d: i64) -> String {
    if d == 0 {
        return "0s".to_owned();
    }
    for (unit, suffix) in [
        (W, "w"),
        (D, "d"),
        (H, "h"),
        (M, "m"),
        (S, "s"),
        (MS, "ms"),
        (US, "u"),
    ] {
        if d % unit == 0 {
            return format!("{}{}", d / unit, suffix);
        }
    }
    format!("{d}ns")
}

/// `influxql.ParseDuration`: one or more `<digits><unit>` parts (`1h30m`), units
/// `ns u µ ms s m h d w`. `None` when the text is not a duration.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ns") {
            (NS, 2)
        } else if rest.starts_with("ms") {
            (MS, 2)
        } else if rest.starts_with('u') {
            (US, 1)
        } else if rest.starts_with('µ') {
            (US, 'µ'.len_utf8())
        } else if rest.starts_with('s') {
            (S, 1)
        } else if rest.starts_with('m') {
            (M, 1)
        } else if rest.starts_with('h') {
            (H, 1)
        } else if rest.starts_with('d') {
            (D, 1)
        } else if rest.starts_with('w') {
            (W, 1)
        } else if rest.is_empty() && n == 0 && total == 0 {
            // A bare "0" is the one unit-less duration InfluxQL accepts.
            (NS, 0)
        } else {
            return None;
        };
        rest = &rest[len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(if neg { -total } else { total })
}

/// `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(s)
        )),
    }
}

/// `strconv.ParseInt(s, 10, 64)`.
pub fn parse_int(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>().map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(s)
        )
    })
}

/// `strconv.ParseFloat(s, 64)` for decimal input (Go also reads hex floats; rare in metrics).
pub fn parse_float(s: &str) -> Result<f64, String> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let ok_word = matches!(body, "inf" | "infinity" | "nan");
    let ok_num = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'));
    if ok_word || ok_num {
        if let Ok(v) = s.parse::<f64>() {
            if v.is_infinite() && !ok_word {
                return Err(format!(
                    "strconv.ParseFloat: parsing {}: value out of range",
                    go_quote(s)
                ));
            }
            return Ok(v);
        }
    }
    Err(format!(
        "strconv.ParseFloat: parsing {}: invalid syntax",
        go_quote(s)
    ))
}

/// Go's `%q` for the strings that appear in error texts.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// go-humanize `Bytes`: SI units (powers of 1000), one decimal below 10.
pub fn human_bytes(n: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n} B");
    }
    let nf = n as f64;
    let e = (nf.ln() / 1000f64.ln()).floor();
    let suffix = SIZES[(e as usize).min(SIZES.len() - 1)];
    let val = (nf / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {suffix}")
    } else {
        format!("{val:.0} {suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_format_like_go() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(-2.5), "-2.5");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(f64::NAN), "NaN");
    }

    #[test]
    fn durations_format_and_parse_like_influxql() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(2 * W), "2w");
        assert_eq!(format_duration(3 * D), "3d");
        assert_eq!(format_duration(90 * M), "90m");
        assert_eq!(format_duration(1500 * MS), "1500ms");
        assert_eq!(format_duration(7 * US), "7u");
        assert_eq!(format_duration(7), "7ns");
        assert_eq!(format_duration(-5 * S), "-5s");
        assert_eq!(parse_duration("1h30m"), Some(90 * M));
        assert_eq!(parse_duration("10ms"), Some(10 * MS));
        assert_eq!(parse_duration("5µ"), Some(5 * US));
        assert_eq!(parse_duration("5u"), Some(5 * US));
        assert_eq!(parse_duration("2w"), Some(2 * W));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("-3s"), Some(-3 * S));
        assert_eq!(parse_duration("3"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("1x"), None);
    }

    #[test]
    fn strconv_parsers() {
        assert_eq!(parse_bool("T"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert_eq!(
            parse_bool("yes"),
            Err("strconv.ParseBool: parsing \"yes\": invalid syntax".into())
        );
        assert_eq!(parse_int("-42"), Ok(-42));
        assert_eq!(
            parse_int("1.5"),
            Err("strconv.ParseInt: parsing \"1.5\": invalid syntax".into())
        );
        assert_eq!(
            parse_int("99999999999999999999"),
            Err("strconv.ParseInt: parsing \"99999999999999999999\": value out of range".into())
        );
        assert_eq!(parse_float("1.5e3"), Ok(1500.0));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(
            parse_float("abc"),
            Err("strconv.ParseFloat: parsing \"abc\": invalid syntax".into())
        );
    }

    #[test]
    fn human_bytes_like_go_humanize() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(9), "9 B");
        assert_eq!(human_bytes(82_854_982), "83 MB");
        assert_eq!(human_bytes(1000), "1.0 kB");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(999), "999 B");
    }
}
