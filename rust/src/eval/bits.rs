//! Mask kernels that write one bit per row: the words of a [`Selection`] that `where()` compacts
//! the batch by. An eighth of the bytes of a `bool` mask, written in the same pass that reads the
//! column (a 1 M-row float compare reads 8 MB and writes 125 KB instead of 1 MB).
//!
//! [`Selection`]: crate::batch::Selection

use crate::batch::NO_TAG;

#[cfg(target_arch = "x86_64")]
use super::kernels::with_cmp_pd;
use super::kernels::{all_true, with_cmp, Direct};
use super::types::BinOp;

/// The bits of a [`Direct`] comparison, one word per 64 rows appended to `out` (rows that
/// fail, a field or tag missing, are 0), and (the failing rows, the first of them).
pub fn direct_bits(d: Direct<'_>, out: &mut Vec<u64>) -> (usize, Option<usize>) {
    let first_invalid = |va: &[bool]| va.iter().position(|&k| !k);
    match d {
        Direct::F64(v, va, op, c) => {
            let dense = all_true(va);
            let bad = cmp_f64_bits(op, v, c, va, dense, out);
            (bad, if bad > 0 { first_invalid(va) } else { None })
        }
        Direct::I64(v, va, op, c) => {
            let bad = with_cmp!(op, c, i64, |f| bits_plain(v, va, out, f));
            (bad, if bad > 0 { first_invalid(va) } else { None })
        }
        Direct::Dict(codes, lut) => {
            let bad = dict_bits(codes, lut, out);
            let first = (bad > 0).then(|| codes.iter().position(|&k| k == NO_TAG));
            (bad, first.flatten())
        }
    }
}

/// `f(a[i]) & valid[i]` as bits; returns the rows not valid.
#[inline(always)]
fn bits_plain<T: Copy>(a: &[T], va: &[bool], out: &mut Vec<u64>, f: impl Fn(T) -> bool) -> usize {
    let mut bad = 0;
    for (ca, cv) in a.chunks(64).zip(va.chunks(64)) {
        let mut w = 0u64;
        let mut good = 0usize;
        for (j, (&x, &v)) in ca.iter().zip(cv).enumerate() {
            w |= ((f(x) & v) as u64) << j;
            good += v as usize;
        }
        out.push(w);
        bad += ca.len() - good;
    }
    bad
}

/// A float field against a constant. On x86-64 with AVX2, four rows per compare and a 64-row
/// word from 16 sign masks; `dense` (every row has the field) skips the validity flags.
fn cmp_f64_bits(
    op: BinOp,
    a: &[f64],
    c: f64,
    va: &[bool],
    dense: bool,
    out: &mut Vec<u64>,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked above; every x86-64 CPU with AVX2 has POPCNT).
        return with_cmp_pd!(op, |P| unsafe {
            if dense {
                cmp_f64_bits_avx2::<P, true>(op, a, c, va, out)
            } else {
                cmp_f64_bits_avx2::<P, false>(op, a, c, va, out)
            }
        });
    }
    let _ = dense;
    with_cmp!(op, c, f64, |f| bits_plain(a, va, out, f))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn cmp_f64_bits_avx2<const P: i32, const DENSE: bool>(
    op: BinOp,
    a: &[f64],
    c: f64,
    va: &[bool],
    out: &mut Vec<u64>,
) -> usize {
    use std::arch::x86_64::*;
    let n = a.len().min(va.len());
    let (a, va) = (&a[..n], &va[..n]);
    let whole = n - n % 64;
    out.reserve(n.div_ceil(64));
    let mut bad = 0usize;
    let mut i = 0;
    while i < whole {
        // SAFETY: 64 rows from `i < whole <= n` are inside both slices (unaligned loads).
        let (mut w, invalid) = unsafe {
            let cv = _mm256_set1_pd(c);
            let pa = a.as_ptr().add(i);
            let mut w = 0u64;
            for k in 0..16 {
                let m = _mm256_movemask_pd(_mm256_cmp_pd::<P>(_mm256_loadu_pd(pa.add(4 * k)), cv));
                w |= (m as u64) << (4 * k);
            }
            let invalid = if DENSE {
                0
            } else {
                // validity bytes are 0 or 1: a zero byte is a row without the field
                let pv = va.as_ptr().add(i) as *const __m256i;
                let zero = _mm256_setzero_si256();
                let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256(pv), zero));
                let hi =
                    _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256(pv.add(1)), zero));
                (lo as u32 as u64) | ((hi as u32 as u64) << 32)
            };
            (w, invalid)
        };
        w &= !invalid;
        bad += invalid.count_ones() as usize;
        out.push(w);
        i += 64;
    }
    bad + with_cmp!(op, c, f64, |f| bits_plain(
        &a[whole..],
        &va[whole..],
        out,
        f
    ))
}

/// `lut[codes[i]]` as bits (0 where the row has no tag); returns the rows without the tag.
fn dict_bits(codes: &[u32], lut: &[bool], out: &mut Vec<u64>) -> usize {
    // One more entry, false, for the rows without the tag: the lookup needs no branch.
    let mut table: Vec<u64> = lut.iter().map(|&b| b as u64).collect();
    table.push(0);
    let last = lut.len();
    let mut missing = 0;
    for chunk in codes.chunks(64) {
        let mut w = 0u64;
        for (j, &c) in chunk.iter().enumerate() {
            w |= table[(c as usize).min(last)] << j;
            missing += (c == NO_TAG) as usize;
        }
        out.push(w);
    }
    missing
}
