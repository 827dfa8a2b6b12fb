//! [`Selection`]: which rows of a batch a filter keeps, one bit per row, and the compaction of a
//! batch's columns by it.
//!
//! A bit per row is an eighth of the bytes of a `bool` mask and a 64th of an index list (which
//! `take` needs): the lambda kernels write it directly, and each column is compacted from it in
//! one pass, 64 rows per step: a step whose rows are all kept is a block copy, one with none is
//! skipped, others are copied branch-free (dense) or by their set bits (sparse).

use std::borrow::Cow;

use super::PointBatch;

/// Rows kept, bit `i % 64` of word `i / 64` for row `i`; bits past `len` are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    words: Vec<u64>,
    len: usize,
    count: usize,
}

impl Selection {
    /// A selection from its words (`len` rows; bits past `len` are cleared).
    pub fn from_words(mut words: Vec<u64>, len: usize) -> Selection {
        words.resize(len.div_ceil(64), 0);
        if len % 64 != 0 {
            if let Some(last) = words.last_mut() {
                *last &= (1u64 << (len % 64)) - 1;
            }
        }
        let count = words.iter().map(|w| w.count_ones() as usize).sum();
        Selection { words, len, count }
    }

    pub fn from_bools(mask: &[bool]) -> Selection {
        let words = mask
            .chunks(64)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u64, |w, (j, &b)| w | ((b as u64) << j))
            })
            .collect();
        Selection::from_words(words, mask.len())
    }

    pub fn all(len: usize) -> Selection {
        Selection::from_words(vec![u64::MAX; len.div_ceil(64)], len)
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Rows kept.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn is_all(&self) -> bool {
        self.count == self.len
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub fn to_bools(&self) -> Vec<bool> {
        (0..self.len).map(|i| self.get(i)).collect()
    }

    /// The kept rows' indices, in order.
    pub fn indices(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.count);
        for (w, &word) in self.words.iter().enumerate() {
            let mut m = word;
            while m != 0 {
                out.push(w * 64 + m.trailing_zeros() as usize);
                m &= m - 1;
            }
        }
        out
    }

    /// The kept items of `v` (one per row), in order.
    pub fn compact<T: Copy>(&self, v: &[T]) -> Vec<T> {
        assert_eq!(
            v.len(),
            self.len,
            "a column of another length than the selection"
        );
        // Dense steps are written branch-free and may write up to 63 items past the kept ones.
        let mut out: Vec<T> = Vec::with_capacity(self.count + 64);
        let dst = out.spare_capacity_mut();
        let mut k = 0;
        for (w, &word) in self.words.iter().enumerate() {
            let base = w * 64;
            let src = &v[base..(base + 64).min(v.len())];
            if word == 0 {
                continue;
            }
            if word == u64::MAX {
                for (d, &x) in dst[k..k + 64].iter_mut().zip(src) {
                    d.write(x);
                }
                k += 64;
            } else if word.count_ones() >= 16 {
                // `src.len() + k <= count + 63`: every write is inside the capacity.
                for (j, &x) in src.iter().enumerate() {
                    dst[k].write(x);
                    k += (word >> j & 1) as usize;
                }
            } else {
                let mut m = word;
                while m != 0 {
                    dst[k].write(src[m.trailing_zeros() as usize]);
                    k += 1;
                    m &= m - 1;
                }
            }
        }
        debug_assert_eq!(k, self.count);
        // SAFETY: items `0..k` were written above (each step writes its kept items in order,
        // and `k` counts exactly the set bits seen, which is `count`).
        unsafe { out.set_len(k) };
        out
    }
}

/// The rows a copy of a batch or column keeps: indices (in any order, repeats allowed) or a
/// [`Selection`] (in order).
#[derive(Debug, Clone, Copy)]
pub enum Rows<'x> {
    Idx(&'x [usize]),
    Sel(&'x Selection),
}

impl<'x> Rows<'x> {
    /// The items of `v` at these rows.
    pub fn copy<T: Copy>(self, v: &[T]) -> Vec<T> {
        match self {
            Rows::Idx(idx) => idx.iter().map(|&i| v[i]).collect(),
            Rows::Sel(sel) => sel.compact(v),
        }
    }

    /// The row indices (for columns copied value by value).
    pub fn indices(self) -> Cow<'x, [usize]> {
        match self {
            Rows::Idx(idx) => Cow::Borrowed(idx),
            Rows::Sel(sel) => Cow::Owned(sel.indices()),
        }
    }
}

impl PointBatch {
    /// The kept rows, as [`PointBatch::take`] of their indices.
    pub fn select(&self, sel: &Selection) -> PointBatch {
        assert_eq!(
            sel.len(),
            self.len(),
            "a selection of another length than the batch"
        );
        self.pick(Rows::Sel(sel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn compact_is_take_of_the_kept_rows(mask in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), 0u8..=1], 0..400), dense in any::<bool>()) {
            // runs of kept rows as well as scattered ones
            let mask: Vec<bool> = mask.iter().enumerate()
                .map(|(i, &b)| if dense { b == 1 || i % 7 != 0 } else { b == 1 && i % 3 == 0 })
                .collect();
            let sel = Selection::from_bools(&mask);
            let v: Vec<u64> = (0..mask.len() as u64).map(|i| i * 31 + 7).collect();
            let want: Vec<u64> = v.iter().zip(&mask).filter(|(_, &m)| m).map(|(&x, _)| x).collect();
            prop_assert_eq!(sel.compact(&v), want);
            prop_assert_eq!(sel.to_bools(), mask.clone());
            prop_assert_eq!(sel.count(), mask.iter().filter(|&&m| m).count());
            let idx: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
            prop_assert_eq!(sel.indices(), idx);
        }
    }

    #[test]
    fn words_past_the_length_are_cleared() {
        let s = Selection::from_words(vec![u64::MAX, u64::MAX], 70);
        assert_eq!(s.count(), 70);
        assert!(s.is_all());
        assert!(!s.get(70));
        assert_eq!(Selection::all(0).count(), 0);
        assert_eq!(Selection::from_words(vec![], 3).count(), 0);
    }
}
