//! A fast seeded hash for short byte strings (series keys, field keys). std's SipHash is built
//! for worst-case safety at ~1 ns/byte; interning a million keys a second needs less. The seed
//! comes from std's random state per parse so that a client cannot precompute collisions.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Clone, Copy, Debug)]
pub struct FastBuild(u64);

impl FastBuild {
    pub fn random() -> Self {
        FastBuild(RandomState::new().hash_one(0x6b61_7066_u64) | 1)
    }
}

impl Default for FastBuild {
    fn default() -> Self {
        Self::random()
    }
}

impl BuildHasher for FastBuild {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

pub struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(23) ^ w).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche so that both the low (bucket) and high (tag) bits depend on every byte.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

#[inline]
fn load8(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// A word standing for the last `1..=7` bytes of `b` (whole `b` when shorter than 8), without a
/// variable-length copy: overlapping loads, exact for equality between equal-length inputs.
#[inline]
fn load_small(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]) as u64;
        lo | (hi << 32)
    } else if n > 0 {
        (b[0] as u64) | ((b[n / 2] as u64) << 8) | ((b[n - 1] as u64) << 16)
    } else {
        0
    }
}

/// The last `len % 8` bytes of `full` (0 when none) as a word: the final 8 bytes of `full`
/// (overlapping what was already read) when `full` is long enough.
#[inline]
fn load_rest(full: &[u8], rest_len: usize) -> u64 {
    if rest_len == 0 {
        0
    } else if full.len() >= 8 {
        load8(&full[full.len() - 8..])
    } else {
        load_small(full)
    }
}

/// Multiplies to 128 bits and folds: every output bit depends on every input bit.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Hash of a byte string with a seed: one 128-bit multiply per 16 bytes, so a 60-byte series
/// key costs a handful of cycles.
#[inline]
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(P0);
    let mut rest = bytes;
    while rest.len() >= 16 {
        h = fold(load8(rest) ^ P1, load8(&rest[8..]) ^ h);
        rest = &rest[16..];
    }
    let (a, b) = if rest.len() >= 8 {
        (load8(rest), load_rest(bytes, rest.len() - 8))
    } else {
        (load_rest(bytes, rest.len()), 0)
    };
    fold(a ^ P1 ^ h, b ^ P0 ^ h.rotate_left(32))
}

/// Byte-string equality without a call into libc: keys here are a few dozen bytes.
#[inline]
pub fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a, b);
    while x.len() >= 8 {
        if load8(x) != load8(y) {
            return false;
        }
        x = &x[8..];
        y = &y[8..];
    }
    load_rest(a, x.len()) == load_rest(b, y.len())
}

/// Raw key bytes → `u32`, open addressing with linear probing; keys live in one arena.
/// Built for the parser's pattern: millions of lookups, a few thousand inserts. A slot holds
/// the hash tag, the value and where the key sits, so a probe touches one cache line.
pub struct RawMap {
    seed: u64,
    slots: Vec<Slot>,
    arena: Vec<u8>,
    len: usize,
}

/// High half of the hash, value + 1 (0: empty slot), key start and length in the arena.
#[derive(Clone, Copy, Default)]
struct Slot {
    tag: u32,
    value: u32,
    start: u32,
    len: u32,
}

impl RawMap {
    pub fn new() -> Self {
        RawMap {
            seed: FastBuild::random().0,
            slots: vec![Slot::default(); 64],
            arena: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        let h = hash_bytes(self.seed, key);
        let mask = self.slots.len() - 1;
        let tag = (h >> 32) as u32;
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.value == 0 {
                return None;
            }
            if slot.tag == tag
                && bytes_eq(
                    &self.arena[slot.start as usize..(slot.start + slot.len) as usize],
                    key,
                )
            {
                return Some(slot.value - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// Inserts `key` (not present yet) → `value`.
    pub fn insert(&mut self, key: &[u8], value: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(key);
        self.place(start, key.len() as u32, value);
        self.len += 1;
    }

    fn place(&mut self, start: u32, len: u32, value: u32) {
        let key = &self.arena[start as usize..(start + len) as usize];
        let h = hash_bytes(self.seed, key);
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        while self.slots[i].value != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            tag: (h >> 32) as u32,
            value: value + 1,
            start,
            len,
        };
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        for s in old {
            if s.value != 0 {
                self.place(s.start, s.len, s.value - 1);
            }
        }
    }
}

impl Default for RawMap {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_eq_is_exact_for_every_length() {
        let base: Vec<u8> = (0..40u8).collect();
        for n in 0..40 {
            let a = &base[..n];
            assert!(bytes_eq(a, a));
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 1;
                assert!(!bytes_eq(a, &b), "len {n} byte {i}");
            }
        }
        assert!(!bytes_eq(b"ab", b"abc"));
    }

    #[test]
    fn raw_map_finds_what_it_stored_through_growth() {
        let mut m = RawMap::new();
        let keys: Vec<String> = (0..5000).map(|i| format!("cpu,host=h{i}")).collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k.as_bytes()), None);
            m.insert(k.as_bytes(), i as u32);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k.as_bytes()), Some(i as u32));
        }
        assert_eq!(m.get(b""), None);
    }
}
