//! Holt-Winters forecasting as InfluxDB 1.x's `holt_winters()` computes it (Kapacitor's
//! `holtWinters` and `holtWintersWithFit` call the same reducer).
//!
//! The steps, each reproduced as InfluxDB does them so that forecasts agree to the last digit:
//! 1. point times are rounded to the interval (half an interval rounds down); a point in an
//!    already filled bucket is dropped, a bucket without a point holds NaN;
//! 2. initial level, trend and seasonal indices come from the first season(s) of data;
//! 3. the damped multiplicative model's alpha, beta, gamma and phi are fitted by minimising the
//!    sum of squared one-step errors with Nelder-Mead, started from each point of the grid
//!    {0.3, 0.7}^4; the best of the 16 fits wins (the first one on ties);
//! 4. the model is run forward `h` intervals past the last point.

use super::gomath;
use super::neldermead;

/// Weight of the first observations in the non-seasonal initial level and trend.
const INITIAL_WEIGHT: f64 = 0.5;
/// Stop the optimiser when the vertex errors agree this closely.
const EPSILON: f64 = 1.0e-4;
/// The grid of starting guesses for alpha, beta, gamma and phi: lower, upper (exclusive), step.
const GUESS_LOWER: f64 = 0.3;
const GUESS_UPPER: f64 = 1.0;
const GUESS_STEP: f64 = 0.4;
/// The most intervals a window may span. Each costs a slot in every one of the ~50 000 model
/// runs of a fit; far beyond this a forecast would take minutes and gigabytes.
pub const MAX_BUCKETS: i64 = 100_000;

/// The parameters of one forecast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoltWinters {
    /// Number of intervals to forecast past the last point.
    pub h: i64,
    /// Season length in intervals; below 2 means no seasonality.
    pub m: i64,
    /// Bucket width in nanoseconds (> 0).
    pub interval: i64,
    /// Also return the fitted values for the input's buckets (`holtWintersWithFit`).
    pub include_fit: bool,
}

/// The model fitted on one bucketed series.
struct Model {
    y: Vec<f64>,
    seasonal: bool,
}

impl HoltWinters {
    /// Rounds to the interval, half an interval down. Time arithmetic wraps as Go's int64 does,
    /// so that forecasts near the end of time land where InfluxDB puts them.
    fn round_time(&self, t: i64) -> i64 {
        let rem = t % self.interval;
        if rem > self.interval / 2 {
            (t / self.interval + 1).wrapping_mul(self.interval)
        } else {
            (t / self.interval).wrapping_mul(self.interval)
        }
    }

    /// Forecast from points in arrival order. Returns `(time, value)` pairs; empty when there is
    /// too little data (fewer than two points, less than a season, or all in one bucket).
    ///
    /// # Errors
    /// The number of buckets when the points span more than [`MAX_BUCKETS`] intervals (InfluxDB
    /// would try to allocate them all).
    pub fn forecast(&self, times: &[i64], values: &[f64]) -> Result<Vec<(i64, f64)>, i64> {
        let seasonal = self.m >= 2;
        let m = self.m.max(0) as usize;
        let len = times.len();
        if len < 2 || (seasonal && len < m) || self.h <= 0 {
            return Ok(Vec::new());
        }
        let start = self.round_time(times[0]);
        let stop = self.round_time(times[len - 1]);
        let count = stop.wrapping_sub(start) / self.interval;
        if count <= 0 {
            return Ok(Vec::new());
        }
        // Points out of time order can reach later buckets than the last point's.
        let max_rounded = times
            .iter()
            .map(|&t| self.round_time(t))
            .max()
            .unwrap_or(stop);
        let span = max_rounded.wrapping_sub(start) / self.interval;
        if !(0..=MAX_BUCKETS).contains(&span) {
            return Err(span);
        }

        // Bucket the series: one value per interval, NaN where none arrived.
        let mut y = vec![values[0]];
        let mut t = start;
        for (&time, &value) in times.iter().zip(values).skip(1) {
            let rounded = self.round_time(time);
            if rounded <= t {
                continue;
            }
            t = t.wrapping_add(self.interval);
            while rounded != t {
                y.push(f64::NAN);
                t = t.wrapping_add(self.interval);
            }
            y.push(value);
        }
        // InfluxDB would index past the end here; there is nothing to forecast from.
        if y.len() < 2 || (seasonal && y.len() < m) {
            return Ok(Vec::new());
        }

        let model = Model { y, seasonal };
        let mut params = model.initial_parameters(m);
        let mut best: Option<(f64, Vec<f64>)> = None;
        let mut alpha = GUESS_LOWER;
        while alpha < GUESS_UPPER {
            let mut beta = GUESS_LOWER;
            while beta < GUESS_UPPER {
                let mut gamma = GUESS_LOWER;
                while gamma < GUESS_UPPER {
                    let mut phi = GUESS_LOWER;
                    while phi < GUESS_UPPER {
                        params[0] = alpha;
                        params[1] = beta;
                        params[2] = gamma;
                        params[3] = phi;
                        let (sse, fitted) =
                            neldermead::optimize(|p| model.sse(p), &params, EPSILON, 1.0);
                        if best.as_ref().is_none_or(|(min, _)| sse < *min) {
                            best = Some((sse, fitted));
                        }
                        phi += GUESS_STEP;
                    }
                    gamma += GUESS_STEP;
                }
                beta += GUESS_STEP;
            }
            alpha += GUESS_STEP;
        }
        let Some((_, mut best)) = best else {
            return Ok(Vec::new());
        };

        let forecast = model.run(self.h.max(0) as usize, &mut best);
        let step = |base: i64, k: usize| base.wrapping_add(self.interval.wrapping_mul(k as i64));
        Ok(if self.include_fit {
            let first = times[0];
            forecast
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_nan())
                .map(|(i, &v)| (step(first, i), v))
                .collect()
        } else {
            let last = times[len - 1];
            forecast[model.y.len()..]
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_nan())
                .map(|(i, &v)| (step(last, i + 1), v))
                .collect()
        })
    }
}

impl Model {
    /// `[alpha, beta, gamma, phi, level, trend, seasonal indices...]` with the smoothing
    /// parameters left at zero.
    fn initial_parameters(&self, m: usize) -> Vec<f64> {
        let y = &self.y;
        let mut l0 = 0.0;
        if self.seasonal {
            for &v in &y[..m] {
                if !v.is_nan() {
                    l0 += (1.0 / m as f64) * v;
                }
            }
        } else {
            l0 += INITIAL_WEIGHT * y[0];
        }

        let mut b0 = 0.0;
        if self.seasonal {
            let mut i = 0;
            while i < m && m + i < y.len() {
                if !y[i].is_nan() && !y[m + i].is_nan() {
                    b0 += 1.0 / (m * m) as f64 * (y[m + i] - y[i]);
                }
                i += 1;
            }
        } else if !y[1].is_nan() {
            b0 = INITIAL_WEIGHT * (y[1] - y[0]);
        }

        let mut params = vec![0.0; 6];
        params[4] = l0;
        params[5] = b0;
        if self.seasonal {
            params.extend(
                y[..m]
                    .iter()
                    .map(|&v| if v.is_nan() { 0.0 } else { v / l0 }),
            );
        }
        params
    }

    /// Runs the model over the series and `h` steps past it. Like InfluxDB, this clamps the
    /// smoothing parameters in `params` and leaves the last seasonal indices in it.
    fn run(&self, h: usize, params: &mut [f64]) -> Vec<f64> {
        for p in params.iter_mut().take(4) {
            *p = p.clamp(0.0, 1.0);
        }
        let (alpha, beta, gamma, phi) = (params[0], params[1], params[2], params[3]);
        let mut phi_h = phi;
        let mut y_t = self.y[0];
        let mut l_t = params[4];
        let mut b_t = params[5];

        let seasonals = &mut params[6..];
        let m = seasonals.len();
        // Ring-buffer offset of the season indices.
        let mut so = 0usize;
        if self.seasonal {
            if m == 1 {
                seasonals[0] = 1.0;
            }
            so = m - 1;
        }

        let l = self.y.len();
        let mut out = vec![0.0; l + h];
        out[0] = y_t;
        let (mut s_tm, mut s_tmh) = (1.0, 1.0);
        for t in 1..l + h {
            if self.seasonal {
                let hm = t % m;
                s_tm = seasonals[(t + so - m) % m];
                s_tmh = seasonals[(t + hm + so - m) % m];
            }
            let (l_prev, b_prev) = (l_t, b_t);
            l_t = alpha * (y_t / s_tm) + (1.0 - alpha) * (l_prev + phi * b_prev);
            b_t = beta * (l_t - l_prev) + (1.0 - beta) * phi * b_prev;
            let s_t = gamma * (y_t / (l_prev + phi * b_prev)) + (1.0 - gamma) * s_tm;
            y_t = (l_t + phi_h * b_t) * s_tmh;
            phi_h += gomath::pow(phi, t as f64);
            if self.seasonal {
                seasonals[(t + so) % m] = s_t;
                so += 1;
            }
            out[t] = y_t;
        }
        out
    }

    /// Sum of squared one-step errors over the known buckets; +Inf when the model breaks down.
    fn sse(&self, params: &mut [f64]) -> f64 {
        let fitted = self.run(0, params);
        let mut sse = 0.0;
        for (&f, &y) in fitted.iter().zip(&self.y) {
            if y.is_nan() {
                continue;
            }
            if f.is_nan() {
                return f64::INFINITY;
            }
            let diff = f - y;
            sse += diff * diff;
        }
        sse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    /// 1971-01-01T00:00:00Z, where the conformance replays start.
    const T0: i64 = 31_536_000 * S;

    #[test]
    fn reproduces_kapacitors_stream_holt_winters_case() {
        // TestStream_HoltWinters: the 10 s window of serverA, holtWinters('value', 3, 0, 1s).
        let times: Vec<i64> = (0..10).map(|k| T0 + k * S).collect();
        let values = [
            1000.0, 1001.0, 1002.0, 1003.0, 1004.0, 1006.0, 1007.0, 1007.0, 1008.0, 1009.0,
        ];
        let hw = HoltWinters {
            h: 3,
            m: 0,
            interval: S,
            include_fit: false,
        };
        let got = hw.forecast(&times, &values).unwrap();
        assert_eq!(
            got,
            vec![
                (T0 + 10 * S, 1009.324690106368),
                (T0 + 11 * S, 1009.7524349889708),
                (T0 + 12 * S, 1010.105056042826),
            ]
        );
    }
    // InfluxDB 1.x's own Holt-Winters cases (query/functions_test.go), which our forecasts match
    // to the last digit: seasonal, missing buckets, with fit, unaligned times, the largest time.
    const AUS: [f64; 48] = [
        30.052513, 19.148496, 25.317692, 27.591437, 32.076456, 23.487961, 28.47594, 35.123753,
        36.838485, 25.007017, 30.72223, 28.693759, 36.640986, 23.824609, 29.311683, 31.770309,
        35.177877, 19.775244, 29.60175, 34.538842, 41.273599, 26.655862, 28.279859, 35.191153,
        41.727458, 24.04185, 32.328103, 37.328708, 46.213153, 29.346326, 36.48291, 42.977719,
        48.901525, 31.180221, 37.717881, 40.420211, 51.206863, 31.887228, 40.978263, 43.772491,
        55.558567, 33.850915, 42.076383, 45.642292, 59.76678, 35.191877, 44.319737, 47.913736,
    ];
    const US: [f64; 19] = [
        3.93, 5.31, 7.24, 9.64, 12.90, 17.10, 23.20, 31.40, 39.80, 50.20, 62.90, 76.00, 92.00,
        105.70, 122.80, 131.70, 151.30, 179.30, 203.20,
    ];

    /// Points at times 1, 2, ... except `skip`.
    fn series(values: &[f64], skip: &[i64]) -> (Vec<i64>, Vec<f64>) {
        (1..=values.len() as i64)
            .zip(values)
            .filter(|(t, _)| !skip.contains(t))
            .map(|(t, &v)| (t, v))
            .unzip()
    }

    fn check(got: Vec<(i64, f64)>, first_time: i64, want: &[f64]) {
        let want: Vec<(i64, f64)> = (first_time..).zip(want.iter().copied()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn influxdb_aus_tourists() {
        let (t, v) = series(&AUS, &[]);
        let hw = HoltWinters {
            h: 10,
            m: 4,
            interval: 1,
            include_fit: false,
        };
        let want = [
            51.85064132137853,
            43.26055282315273,
            41.827258044814464,
            54.3990354591749,
            54.62334472770803,
            45.57155693625209,
            44.06051240252263,
            57.30029870759433,
            57.53591513519172,
            47.999008139396096,
        ];
        check(hw.forecast(&t, &v).unwrap(), 49, &want);
    }

    #[test]
    fn influxdb_aus_tourists_missing() {
        let (t, v) = series(&AUS, &[2, 8, 18, 29, 33, 39, 40]);
        let hw = HoltWinters {
            h: 10,
            m: 4,
            interval: 1,
            include_fit: false,
        };
        let want = [
            54.84533610387743,
            41.19329421863249,
            45.71673175112451,
            56.05759298805955,
            59.32337460282217,
            44.75280096850461,
            49.98865098113751,
            61.86084934967605,
            65.95805633454883,
            50.1502170480547,
        ];
        check(hw.forecast(&t, &v).unwrap(), 49, &want);
    }

    #[test]
    fn influxdb_us_population_with_fit() {
        let hw = HoltWinters {
            h: 10,
            m: 0,
            interval: 1,
            include_fit: true,
        };
        let (t, v) = series(&US, &[]);
        let want = [
            3.93,
            4.957405463559748,
            7.012210102535647,
            10.099589257439924,
            14.229926188104242,
            19.418878968703797,
            25.68749172281409,
            33.062351305731305,
            41.575791076125206,
            51.26614395589263,
            62.178047564264595,
            74.36280483872488,
            87.87880423073163,
            102.79200429905801,
            119.17648832929542,
            137.11509549747296,
            156.70013608313175,
            178.03419933863566,
            201.23106385518594,
            226.4167216525905,
            253.73052878285205,
            283.32649700397553,
            315.37474308085984,
            350.06311454009256,
            387.59901328556873,
            428.21144141893404,
            472.1532969569147,
            519.7039509590035,
            571.1721419458248,
        ];
        check(hw.forecast(&t, &v).unwrap(), 1, &want);

        let (t, v) = series(&US, &[9, 14, 18]);
        let want = [
            3.93,
            4.8931364428135105,
            6.962653629047061,
            10.056207765903274,
            14.18435088129532,
            19.362939306110846,
            25.613247940326584,
            32.96213087008264,
            41.442230043017204,
            51.09223428526052,
            61.95719155158485,
            74.08887794968567,
            87.54622778052787,
            102.39582960014131,
            118.7124941463221,
            136.57990089987464,
            156.09133107941278,
            177.35049601833734,
            200.472471161683,
            225.58474737097785,
            252.82841286206823,
            282.35948095261017,
            314.3503808953992,
            348.99163145856954,
            386.49371962730555,
            427.08920989407727,
            471.0351131332573,
            518.615548088049,
            570.1447331101863,
        ];
        check(hw.forecast(&t, &v).unwrap(), 1, &want);
    }

    #[test]
    fn influxdb_round_time_and_max_time() {
        // Go's time.Unix(0, MaxTime).Round(time.Second).UnixNano() wraps past i64::MAX.
        let max = 9_223_372_037i64.wrapping_mul(S);
        let at = |back_ms: i64| max.wrapping_sub(back_ms * 1_000_000);
        let hw = HoltWinters {
            h: 2,
            m: 2,
            interval: S,
            include_fit: true,
        };
        let got = hw.forecast(
            &[at(5000), at(4103), at(3223), at(2481)],
            &[1.0, 10.0, 2.0, 11.0],
        );
        let got = got.unwrap();
        let want = [
            1.0,
            10.006729104838234,
            1.998341814469269,
            10.997858830631172,
            4.085860238030013,
            11.35713604403339,
        ];
        let want: Vec<(i64, f64)> = (0..6).map(|k| at(5000 - 1000 * k)).zip(want).collect();
        assert_eq!(got, want);

        // The largest time InfluxDB stores, and the forecast one past it.
        let max = i64::MAX - 1;
        let hw = HoltWinters {
            h: 1,
            m: 0,
            interval: 1,
            include_fit: true,
        };
        let got = hw.forecast(&[max - 1, max], &[1.0, 2.0]).unwrap();
        assert_eq!(
            got,
            vec![
                (max - 1, 1.0),
                (max, 2.001516944066403),
                (max + 1, 2.5365248972488343)
            ]
        );
    }

    #[test]
    fn too_little_data() {
        let hw = |h, m| HoltWinters {
            h,
            m,
            interval: S,
            include_fit: false,
        };
        assert_eq!(hw(3, 0).forecast(&[0], &[1.0]), Ok(vec![]));
        assert_eq!(hw(0, 0).forecast(&[0, S], &[1.0, 2.0]), Ok(vec![]));
        assert_eq!(
            hw(3, 4).forecast(&[0, S, 2 * S], &[1.0, 2.0, 3.0]),
            Ok(vec![])
        );
        // All points in one bucket.
        assert_eq!(hw(3, 0).forecast(&[0, S / 4], &[1.0, 2.0]), Ok(vec![]));
        // A day of points at a nanosecond interval would be 8.64e13 buckets.
        let ns = HoltWinters {
            h: 1,
            m: 0,
            interval: 1,
            include_fit: false,
        };
        assert_eq!(ns.forecast(&[0, 86_400 * S], &[1.0, 2.0]), Err(86_400 * S));
    }
}
