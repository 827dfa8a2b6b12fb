//! Go's `math.Pow`, `math.Frexp` and `math.Ldexp`, reproduced operation by operation.
//!
//! InfluxDB's Holt-Winters forecast and its Nelder-Mead optimiser call Go's `math.Pow`, which
//! computes integer powers by repeated squaring of the mantissa, so its last bits differ from a
//! libm `pow`. The optimiser compares sums of squared errors and branches on them, so a one-ulp
//! difference can steer it elsewhere; to give the same forecasts as Kapacitor we compute powers
//! the way Go does.

const MASK: u64 = 0x7ff;
const SHIFT: u64 = 52;
const BIAS: i64 = 1023;
/// 2^52: scales a subnormal into the normal range.
const SMALLEST_NORMAL: f64 = 2.2250738585072014e-308;

/// Splits `x` into a mantissa in [0.5, 1) and a power of two (`x = frac * 2^exp`).
pub fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || x.is_infinite() || x.is_nan() {
        return (x, 0);
    }
    let (x, mut exp) = normalize(x);
    let mut bits = x.to_bits();
    exp += ((bits >> SHIFT) & MASK) as i64 - BIAS + 1;
    bits &= !(MASK << SHIFT);
    bits |= ((-1 + BIAS) as u64) << SHIFT;
    (f64::from_bits(bits), exp)
}

/// `frac * 2^exp`, rounded once (also into the subnormal range), as Go's `math.Ldexp`.
pub fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || frac.is_infinite() || frac.is_nan() {
        return frac;
    }
    let (frac, e) = normalize(frac);
    let mut exp = exp + e;
    let mut bits = frac.to_bits();
    exp += ((bits >> SHIFT) & MASK) as i64 - BIAS;
    if exp < -1075 {
        return 0.0_f64.copysign(frac);
    }
    if exp > 1023 {
        return if frac < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    bits &= !(MASK << SHIFT);
    bits |= ((exp + BIAS) as u64) << SHIFT;
    m * f64::from_bits(bits)
}

/// A subnormal `x` scaled into the normal range, with the power of two it was scaled by.
fn normalize(x: f64) -> (f64, i64) {
    if x.abs() < SMALLEST_NORMAL {
        return (x * (1u64 << 52) as f64, -52);
    }
    (x, 0)
}

/// `x^y` as Go's `math.Pow` computes it.
pub fn pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    let y_is_odd_int = {
        let (yi, yf) = modf(y);
        yf == 0.0 && (yi.abs() < (1u64 << 53) as f64) && (yi as i64) & 1 == 1
    };
    if x == 0.0 {
        return if y < 0.0 {
            if y_is_odd_int {
                f64::INFINITY.copysign(x)
            } else {
                f64::INFINITY
            }
        } else if y_is_odd_int {
            x
        } else {
            0.0
        };
    }
    if y.is_infinite() {
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if x.is_infinite() {
        if x < 0.0 {
            return pow(1.0 / x, -y);
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let (mut yi, mut yf) = modf(y.abs());
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= (1u64 << 63) as f64 {
        // yi is a large even integer; x^yi under- or overflows.
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = (yf * x.ln()).exp();
    }
    let (mut x1, mut xe) = frexp(x);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// Integer and fractional parts, both with the sign of `x` (Go's `math.Modf`).
fn modf(x: f64) -> (f64, f64) {
    let int = x.trunc();
    (int, x - int)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_and_ldexp_round_trip() {
        for &x in &[1.0, 0.75, 3.0, -5.5, 1e-310, 123456.789, f64::MIN_POSITIVE] {
            let (f, e) = frexp(x);
            assert!((0.5..1.0).contains(&f.abs()), "{x}: {f}");
            assert_eq!(ldexp(f, e), x);
        }
        assert_eq!(ldexp(1.0, -1074), 5e-324);
        assert_eq!(ldexp(1.0, -1076), 0.0);
        assert_eq!(ldexp(1.0, 1024), f64::INFINITY);
    }

    #[test]
    fn pow_matches_exact_cases() {
        assert_eq!(pow(2.0, 10.0), 1024.0);
        assert_eq!(pow(0.5, 3.0), 0.125);
        assert_eq!(pow(0.0, 3.0), 0.0);
        assert_eq!(pow(1.0, 1e9), 1.0);
        assert_eq!(pow(-3.0, 2.0), 9.0);
        assert_eq!(pow(-2.0, 3.0), -8.0);
        assert_eq!(pow(4.0, 0.5), 2.0);
        assert!(pow(-2.0, 0.5).is_nan());
        assert_eq!(pow(0.7, 2.0), 0.7 * 0.7);
        // Close to libm everywhere, even where the last bits differ.
        for t in 1..200 {
            let (a, b) = (pow(0.7, t as f64), 0.7f64.powi(t));
            assert!(((a - b) / b).abs() < 1e-13, "{t}: {a} vs {b}");
        }
    }
}
