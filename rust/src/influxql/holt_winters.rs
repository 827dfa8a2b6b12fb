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
    fn round_time(&self, t: i64) -> i64 {
        let rem = t % self.interval;
        if rem > self.interval / 2 {
            (t / self.interval + 1) * self.interval
        } else {
            (t / self.interval) * self.interval
        }
    }

    /// Forecast from points in arrival order. Returns `(time, value)` pairs; empty when there is
    /// too little data (fewer than two points, less than a season, or all in one bucket).
    pub fn forecast(&self, times: &[i64], values: &[f64]) -> Vec<(i64, f64)> {
        let seasonal = self.m >= 2;
        let m = self.m.max(0) as usize;
        let len = times.len();
        if len < 2 || (seasonal && len < m) || self.h <= 0 {
            return Vec::new();
        }
        let start = self.round_time(times[0]);
        let stop = self.round_time(times[len - 1]);
        if (stop - start) / self.interval <= 0 {
            return Vec::new();
        }

        // Bucket the series: one value per interval, NaN where none arrived.
        let mut y = vec![values[0]];
        let mut t = start;
        for (&time, &value) in times.iter().zip(values).skip(1) {
            let rounded = self.round_time(time);
            if rounded <= t {
                continue;
            }
            t += self.interval;
            while rounded != t {
                y.push(f64::NAN);
                t += self.interval;
            }
            y.push(value);
        }
        // InfluxDB would index past the end here; there is nothing to forecast from.
        if y.len() < 2 || (seasonal && y.len() < m) {
            return Vec::new();
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
            return Vec::new();
        };

        let forecast = model.run(self.h.max(0) as usize, &mut best);
        if self.include_fit {
            let first = times[0];
            forecast
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_nan())
                .map(|(i, &v)| (first + self.interval * i as i64, v))
                .collect()
        } else {
            let last = times[len - 1];
            forecast[model.y.len()..]
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_nan())
                .map(|(i, &v)| (last + self.interval * (i as i64 + 1), v))
                .collect()
        }
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
        let got = hw.forecast(&times, &values);
        assert_eq!(
            got,
            vec![
                (T0 + 10 * S, 1009.324690106368),
                (T0 + 11 * S, 1009.7524349889708),
                (T0 + 12 * S, 1010.105056042826),
            ]
        );
    }
}
