//! Civil time (UTC) from Unix nanoseconds, without a calendar crate: the time functions
//! `minute hour weekday day month year` only need these few fields.

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// Calendar fields of one instant in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1..=12
    pub month: i64,
    /// 1..=31
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    /// 0 = Sunday, like Go's `time.Weekday`.
    pub weekday: i64,
}

/// Days since 1970-01-01 and seconds within that day, flooring for times before the epoch.
fn split(ns: i64) -> (i64, i64) {
    let secs = ns.div_euclid(NS_PER_SEC);
    (secs.div_euclid(SECS_PER_DAY), secs.rem_euclid(SECS_PER_DAY))
}

/// (year, month, day) of a day count since the epoch (proleptic Gregorian calendar), by the
/// well-known era/day-of-era decomposition.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn civil(ns: i64) -> Civil {
    let (days, secs) = split(ns);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: (secs % 3600) / 60,
        // 1970-01-01 was a Thursday (4).
        weekday: (days + 4).rem_euclid(7),
    }
}

pub fn minute(ns: i64) -> i64 {
    split(ns).1 % 3600 / 60
}

pub fn hour(ns: i64) -> i64 {
    split(ns).1 / 3600
}

pub fn weekday(ns: i64) -> i64 {
    (split(ns).0 + 4).rem_euclid(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // 2017-11-02T13:45:30Z was a Thursday.
        let ns = 1_509_630_330 * NS_PER_SEC;
        assert_eq!(
            civil(ns),
            Civil {
                year: 2017,
                month: 11,
                day: 2,
                hour: 13,
                minute: 45,
                weekday: 4
            }
        );
        // One nanosecond before the epoch is 1969-12-31T23:59:59.999999999, a Wednesday.
        assert_eq!(
            civil(-1),
            Civil {
                year: 1969,
                month: 12,
                day: 31,
                hour: 23,
                minute: 59,
                weekday: 3
            }
        );
        // A leap day.
        let c = civil(951_782_400 * NS_PER_SEC); // 2000-02-29T00:00:00Z
        assert_eq!((c.year, c.month, c.day, c.weekday), (2000, 2, 29, 2));
        assert_eq!(minute(ns), 45);
        assert_eq!(hour(ns), 13);
        assert_eq!(weekday(ns), 4);
    }

    #[test]
    fn day_boundaries_round_trip() {
        // Walk day by day over 800 years and check the calendar advances by exactly one day.
        let mut prev = civil_from_days(-200_000);
        for d in -199_999..100_000 {
            let cur = civil_from_days(d);
            let next_expected = if cur.2 == 1 {
                assert!(cur.1 == prev.1 % 12 + 1);
                true
            } else {
                cur.2 == prev.2 + 1
            };
            assert!(next_expected, "{prev:?} -> {cur:?}");
            prev = cur;
        }
    }
}
