//! The Nelder-Mead simplex minimiser as InfluxDB's `query/neldermead` runs it (after Michael F.
//! Hutt's C version): a regular initial simplex around the start, reflection 1, contraction 0.5,
//! expansion 2, at most 1000 iterations, stop when the standard deviation of the vertex values
//! drops below epsilon.
//!
//! Two details matter to reproduce InfluxDB's Holt-Winters forecasts exactly:
//! * the objective may change the point it is given (the Holt-Winters error function clamps the
//!   smoothing parameters into [0, 1] and writes its seasonal indices back), and the simplex keeps
//!   the changed point — so the objective takes `&mut [f64]`;
//! * after a failed contraction only the worst and second-worst vertices are re-evaluated.

// The simplex steps are written with explicit indices, like the published algorithm, so that
// they can be checked against it line by line.
#![allow(clippy::needless_range_loop)]

use super::gomath;

const MAX_ITERATIONS: usize = 1000;
const REFLECTION: f64 = 1.0;
const CONTRACTION: f64 = 0.5;
const EXPANSION: f64 = 2.0;

/// Minimises `objective` from `start`; returns the smallest value found and where.
pub fn optimize<F>(mut objective: F, start: &[f64], epsilon: f64, scale: f64) -> (f64, Vec<f64>)
where
    F: FnMut(&mut [f64]) -> f64,
{
    let n = start.len();
    let nf = n as f64;
    let mut v: Vec<Vec<f64>> = vec![vec![0.0; n]; n + 1];
    let mut f = vec![0.0; n + 1];
    let mut vr = vec![0.0; n];
    let mut ve = vec![0.0; n];
    let mut vc = vec![0.0; n];
    let mut vm = vec![0.0; n];

    // A regular simplex with one vertex at `start`.
    let pn = scale * ((nf + 1.0).sqrt() - 1.0 + nf) / (nf * 2f64.sqrt());
    let qn = scale * ((nf + 1.0).sqrt() - 1.0) / (nf * 2f64.sqrt());
    v[0].copy_from_slice(start);
    for i in 1..=n {
        for j in 0..n {
            v[i][j] = if i - 1 == j {
                pn + start[j]
            } else {
                qn + start[j]
            };
        }
    }
    for j in 0..=n {
        f[j] = objective(&mut v[j]);
    }

    for _ in 0..MAX_ITERATIONS {
        // Largest (vg), smallest (vs) and second largest (vh) vertices.
        let (mut vg, mut vs) = (0, 0);
        for i in 0..=n {
            if f[i] > f[vg] {
                vg = i;
            }
            if f[i] < f[vs] {
                vs = i;
            }
        }
        let mut vh = vs;
        for i in 0..=n {
            if f[i] > f[vh] && f[i] < f[vg] {
                vh = i;
            }
        }

        for i in 0..n {
            let mut cent = 0.0;
            for (m, vertex) in v.iter().enumerate() {
                if m != vg {
                    cent += vertex[i];
                }
            }
            vm[i] = cent / nf;
        }

        for i in 0..n {
            vr[i] = vm[i] + REFLECTION * (vm[i] - v[vg][i]);
        }
        let fr = objective(&mut vr);

        if fr < f[vh] && fr >= f[vs] {
            v[vg].copy_from_slice(&vr);
            f[vg] = fr;
        }

        if fr < f[vs] {
            for i in 0..n {
                ve[i] = vm[i] + EXPANSION * (vr[i] - vm[i]);
            }
            let fe = objective(&mut ve);
            if fe < fr {
                v[vg].copy_from_slice(&ve);
                f[vg] = fe;
            } else {
                v[vg].copy_from_slice(&vr);
                f[vg] = fr;
            }
        }

        if fr >= f[vh] {
            if fr < f[vg] && fr >= f[vh] {
                for i in 0..n {
                    vc[i] = vm[i] + CONTRACTION * (vr[i] - vm[i]);
                }
            } else {
                for i in 0..n {
                    vc[i] = vm[i] - CONTRACTION * (vm[i] - v[vg][i]);
                }
            }
            let fc = objective(&mut vc);
            if fc < f[vg] {
                v[vg].copy_from_slice(&vc);
                f[vg] = fc;
            } else {
                // Shrink every vertex halfway towards the best one.
                let best = v[vs].clone();
                for (row, vertex) in v.iter_mut().enumerate() {
                    if row != vs {
                        for i in 0..n {
                            vertex[i] = best[i] + (vertex[i] - best[i]) / 2.0;
                        }
                    }
                }
                f[vg] = objective(&mut v[vg]);
                f[vh] = objective(&mut v[vh]);
            }
        }

        let mut fsum = 0.0;
        for &fi in &f {
            fsum += fi;
        }
        let favg = fsum / (nf + 1.0);
        let mut s = 0.0;
        for &fi in &f {
            s += gomath::pow(fi - favg, 2.0) / nf;
        }
        if s.sqrt() < epsilon {
            break;
        }
    }

    let mut vs = 0;
    for i in 0..=n {
        if f[i] < f[vs] {
            vs = i;
        }
    }
    let best = v[vs].clone();
    let min = objective(&mut v[vs]);
    (min, best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_bowl() {
        let (min, at) = optimize(
            |x| (x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2),
            &[0.0, 0.0],
            1e-12,
            1.0,
        );
        assert!(min < 1e-8, "{min}");
        assert!(
            (at[0] - 1.0).abs() < 1e-3 && (at[1] + 2.0).abs() < 1e-3,
            "{at:?}"
        );
    }

    #[test]
    fn rosenbrock_converges() {
        let (min, at) = optimize(
            |x| 100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2),
            &[-1.2, 1.0],
            1e-10,
            1.0,
        );
        assert!(min < 1e-6, "{min} at {at:?}");
    }
}
