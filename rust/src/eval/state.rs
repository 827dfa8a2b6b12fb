//! State of the stateful built-ins (`sigma count spread rand`), one per call site ("slot") of a
//! program and per group. Kapacitor copies a stateful expression per group (EvalNode's
//! `CopyReset`), so `count()` counts the points of one group.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::functions::Func;
use super::types::Scalar;

/// The state of one stateful call site in one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FuncState {
    Sigma { n: f64, mean: f64, m2: f64 },
    Count(i64),
    Spread { min: f64, max: f64 },
    Rand(u64),
}

impl FuncState {
    fn new(func: Func, slot: u32, group: u32) -> FuncState {
        match func {
            Func::Sigma => FuncState::Sigma {
                n: 0.0,
                mean: 0.0,
                m2: 0.0,
            },
            Func::Spread => FuncState::Spread {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            },
            Func::Rand => {
                // Deterministic per call site and group, so that a replay gives the same values.
                FuncState::Rand(splitmix(((slot as u64) << 32) | group as u64) | 1)
            }
            _ => FuncState::Count(0),
        }
    }

    /// Applies one call: updates the state and returns the function's value.
    pub fn call(&mut self, args: &[Scalar]) -> Result<Scalar, String> {
        match (self, args) {
            (FuncState::Count(n), []) => {
                *n += 1;
                Ok(Scalar::Int(*n))
            }
            (FuncState::Sigma { n, mean, m2 }, [Scalar::Float(x)]) => {
                *n += 1.0;
                let delta = x - *mean;
                *mean += delta / *n;
                *m2 += delta * (x - *mean);
                let variance = *m2 / (*n - 1.0);
                if *n < 2.0 || variance == 0.0 {
                    Ok(Scalar::Float(0.0))
                } else {
                    Ok(Scalar::Float((x - *mean).abs() / variance.sqrt()))
                }
            }
            (FuncState::Spread { min, max }, [Scalar::Float(x)]) => {
                if *x < *min {
                    *min = *x;
                }
                if *x > *max {
                    *max = *x;
                }
                Ok(Scalar::Float(*max - *min))
            }
            (FuncState::Rand(s), []) => Ok(Scalar::Int((next_rand(s) >> 1) as i64)),
            (FuncState::Rand(s), [Scalar::Int(n)]) => {
                if *n <= 0 {
                    return Err(format!("rand bound must be positive, got {n}"));
                }
                Ok(Scalar::Int(((next_rand(s) >> 1) % *n as u64) as i64))
            }
            _ => Err("value is not a float".to_owned()),
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A multiply-with-carry step (lag 1): the low 32 bits hold x, the high 32 bits the carry.
fn next_rand(s: &mut u64) -> u64 {
    let step = |s: &mut u64| {
        let x = *s & 0xFFFF_FFFF;
        let c = *s >> 32;
        *s = 4_294_957_665u64.wrapping_mul(x).wrapping_add(c);
        *s & 0xFFFF_FFFF
    };
    (step(s) << 32) | step(s)
}

/// All stateful-function state of one program instance, keyed by (call site, group).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EvalState {
    map: HashMap<(u32, u32), FuncState>,
}

impl EvalState {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of a call site in a group, created on first use.
    pub fn entry(&mut self, func: Func, slot: u32, group: u32) -> &mut FuncState {
        self.map
            .entry((slot, group))
            .or_insert_with(|| FuncState::new(func, slot, group))
    }

    /// A copy of the state, for computing a value without changing the state.
    pub fn peek(&self, func: Func, slot: u32, group: u32) -> FuncState {
        self.map
            .get(&(slot, group))
            .cloned()
            .unwrap_or_else(|| FuncState::new(func, slot, group))
    }

    /// Forgets the state of one group, or of every group.
    pub fn reset(&mut self, group: Option<u32>) {
        match group {
            Some(g) => self.map.retain(|&(_, grp), _| grp != g),
            None => self.map.clear(),
        }
    }

    /// Number of (call site, group) states held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
