//! Group identity in one place (#13, #19): a group's id hashed once, and a map from that hash
//! to a dense slot. The Python `Group` (rust/src/py/groups.rs) carries the hash; every per-node
//! group table and the `from`/`groupBy` index find slots through [`IdSlots`], so an idle group
//! costs a map entry (a few dozen bytes), not a Python dict entry and objects per node.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::batch::CodeMap;

/// The hash of a group id, the key of every group table.
pub fn id_hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Group id hash -> slot. Two ids with one hash are rare but possible: the second is kept
/// apart by its whole id, so a lookup is always exact (the caller tells whether a slot's group
/// has the id looked up).
///
/// The table keys by 32 bits of the hash: an entry takes 8 bytes, where a 64-bit key padded
/// it to 16 (every `from` and every node keeping groups has such a table: about 17 bytes a
/// group saved in each, issue #20). Ids sharing those 32 bits are kept apart as above.
#[derive(Default)]
pub struct IdSlots {
    by_hash: CodeMap<u32, u32>,
    collided: HashMap<Box<str>, u32>,
}

/// The 32 bits of an id's hash an [`IdSlots`] keys by.
fn key32(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

impl IdSlots {
    /// The slot of `id` (hash `h`); `is_id(slot)` says whether that slot's group has `id`.
    pub fn get(&self, id: &str, h: u64, is_id: impl Fn(u32) -> bool) -> Option<u32> {
        if let Some(&s) = self.by_hash.get(&key32(h)) {
            if is_id(s) {
                return Some(s);
            }
        }
        if self.collided.is_empty() {
            return None;
        }
        self.collided.get(id).copied()
    }

    /// Record `id` (hash `h`, not present) at `slot`.
    pub fn insert(&mut self, id: &str, h: u64, slot: u32) {
        match self.by_hash.entry(key32(h)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(id.into(), slot);
            }
        }
    }

    /// Forget `id` (hash `h`) held at `slot`.
    pub fn remove(&mut self, id: &str, h: u64, slot: u32) {
        let k = key32(h);
        if self.by_hash.get(&k) == Some(&slot) {
            self.by_hash.remove(&k);
        } else {
            self.collided.remove(id);
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        self.by_hash = CodeMap::default();
        self.collided = HashMap::new();
    }
}

/// Dense slots handed out and taken back: a forgotten group's slot is given to the next new
/// group, so per-slot columns stay as long as the most groups ever held at once.
pub struct Slots<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            items: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }
}

impl<T> Slots<T> {
    pub fn add(&mut self, item: T) -> u32 {
        self.live += 1;
        if let Some(s) = self.free.pop() {
            self.items[s as usize] = Some(item);
            return s;
        }
        self.items.push(Some(item));
        (self.items.len() - 1) as u32
    }

    /// Put `item` at `slot` (a checkpoint's slots): the slots below it that are unused are free.
    pub fn put(&mut self, slot: u32, item: T) {
        let s = slot as usize;
        while self.items.len() <= s {
            self.free.push(self.items.len() as u32);
            self.items.push(None);
        }
        if self.items[s].is_none() {
            self.live += 1;
            self.free.retain(|&f| f != slot);
        }
        self.items[s] = Some(item);
    }

    pub fn get(&self, slot: u32) -> Option<&T> {
        self.items.get(slot as usize).and_then(|x| x.as_ref())
    }

    pub fn take(&mut self, slot: u32) -> Option<T> {
        let out = self.items.get_mut(slot as usize).and_then(|x| x.take());
        if out.is_some() {
            self.live -= 1;
            self.free.push(slot);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// One past the highest slot ever handed out (the length per-slot columns need).
    pub fn end(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.as_ref().map(|x| (i as u32, x)))
    }

    pub fn clear(&mut self) {
        *self = Slots::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ids: &[&str]) -> (IdSlots, Slots<String>) {
        let mut m = IdSlots::default();
        let mut s = Slots::default();
        for id in ids {
            let slot = s.add((*id).to_owned());
            m.insert(id, id_hash(id), slot);
        }
        (m, s)
    }

    fn find(m: &IdSlots, s: &Slots<String>, id: &str, h: u64) -> Option<u32> {
        m.get(id, h, |slot| s.get(slot).map(|x| x.as_str()) == Some(id))
    }

    #[test]
    fn ids_find_their_slots() {
        let (m, s) = table(&["host=a", "host=b", ""]);
        assert_eq!(find(&m, &s, "host=b", id_hash("host=b")), Some(1));
        assert_eq!(find(&m, &s, "", id_hash("")), Some(2));
        assert_eq!(find(&m, &s, "host=c", id_hash("host=c")), None);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn hashes_equal_in_the_kept_32_bits_are_told_apart_by_the_id() {
        let (h1, h2) = (0x0000_0001_0000_0000u64, 0x0000_0000_0000_0001u64);
        assert_eq!(key32(h1), key32(h2));
        let mut m = IdSlots::default();
        let mut s = Slots::default();
        for (id, h) in [("x", h1), ("y", h2)] {
            let slot = s.add(id.to_owned());
            m.insert(id, h, slot);
        }
        assert_eq!(
            (find(&m, &s, "x", h1), find(&m, &s, "y", h2)),
            (Some(0), Some(1))
        );
        m.remove("x", h1, 0);
        assert_eq!(
            (find(&m, &s, "x", h1), find(&m, &s, "y", h2)),
            (None, Some(1))
        );
    }

    #[test]
    fn a_hash_collision_is_told_apart_by_the_id() {
        // two ids forced onto one hash: both found, each at its own slot, and removable
        let mut m = IdSlots::default();
        let mut s = Slots::default();
        for id in ["x", "y"] {
            let slot = s.add(id.to_owned());
            m.insert(id, 7, slot);
        }
        assert_eq!(find(&m, &s, "x", 7), Some(0));
        assert_eq!(find(&m, &s, "y", 7), Some(1));
        assert_eq!(find(&m, &s, "z", 7), None);
        m.remove("x", 7, 0);
        s.take(0);
        assert_eq!(find(&m, &s, "x", 7), None);
        assert_eq!(find(&m, &s, "y", 7), Some(1));
        m.remove("y", 7, 1);
        assert!(m.is_empty());
    }

    #[test]
    fn forgotten_slots_are_reused() {
        let (mut m, mut s) = table(&["a", "b", "c"]);
        assert_eq!(s.take(1).as_deref(), Some("b"));
        m.remove("b", id_hash("b"), 1);
        assert_eq!(s.len(), 2);
        assert_eq!(s.add("d".to_owned()), 1);
        assert_eq!(s.end(), 3);
        assert_eq!(s.take(1).as_deref(), Some("d"));
        assert_eq!(s.take(1), None, "a slot is taken back once");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn churn_keeps_the_slots_flat() {
        let mut m = IdSlots::default();
        let mut s: Slots<String> = Slots::default();
        for wave in 0..50 {
            let ids: Vec<String> = (0..100).map(|i| format!("host=w{wave}h{i}")).collect();
            let slots: Vec<u32> = ids
                .iter()
                .map(|id| {
                    let slot = s.add(id.clone());
                    m.insert(id, id_hash(id), slot);
                    slot
                })
                .collect();
            for (id, slot) in ids.iter().zip(slots) {
                m.remove(id, id_hash(id), slot);
                s.take(slot);
            }
        }
        assert_eq!(s.end(), 100);
        assert!(m.is_empty() && s.is_empty());
    }

    #[test]
    fn put_places_a_checkpoint_slot() {
        let mut s: Slots<&str> = Slots::default();
        s.put(3, "d");
        assert_eq!((s.len(), s.end()), (1, 4));
        assert_eq!(s.add("a"), 2, "the slots below a put one are free");
        s.put(0, "z");
        assert_eq!(s.add("b"), 1);
        assert_eq!(s.len(), 4);
        assert_eq!(
            s.iter().map(|(i, x)| (i, *x)).collect::<Vec<_>>(),
            vec![(0, "z"), (1, "b"), (2, "a"), (3, "d")]
        );
    }
}

/// Values keyed by a node's group ints (dense: handed out in order from 0, never reused), as
/// a run of slots from the lowest live int: 8 bytes a group for a box or a `Py`, where a hash
/// map took 17 per bucket at a load that falls to half (about 35 bytes a group at 4,000
/// groups). Ints forgotten at the front are trimmed; once forgotten ints would be most of the
/// run (a group that never goes away among thousands that do), it turns into a hash map, so
/// its memory follows the live groups, never the ints ever handed out.
#[derive(Debug, Clone)]
pub struct IntMap<T> {
    base: u32,
    items: std::collections::VecDeque<Option<T>>,
    live: usize,
    sparse: Option<CodeMap<u32, T>>,
}

impl<T> Default for IntMap<T> {
    fn default() -> Self {
        IntMap {
            base: 0,
            items: std::collections::VecDeque::new(),
            live: 0,
            sparse: None,
        }
    }
}

impl<T> IntMap<T> {
    fn at(&self, i: u32) -> Option<usize> {
        i.checked_sub(self.base)
            .map(|k| k as usize)
            .filter(|&k| k < self.items.len())
    }

    pub fn get(&self, i: u32) -> Option<&T> {
        match &self.sparse {
            Some(m) => m.get(&i),
            None => self.at(i).and_then(|k| self.items[k].as_ref()),
        }
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        let k = self.at(i);
        match &mut self.sparse {
            Some(m) => m.get_mut(&i),
            None => self.items[k?].as_mut(),
        }
    }

    pub fn contains_key(&self, i: u32) -> bool {
        self.get(i).is_some()
    }

    /// Put `v` at `i`: the value it replaces.
    pub fn insert(&mut self, i: u32, v: T) -> Option<T> {
        if let Some(m) = &mut self.sparse {
            return m.insert(i, v);
        }
        if self.items.is_empty() {
            self.base = i;
        }
        // the run it would take: sparse first when mostly free (never a slot per int between)
        let (lo, hi) = (
            u64::from(self.base.min(i)),
            (u64::from(self.base) + self.items.len() as u64).max(u64::from(i) + 1),
        );
        if hi - lo > 2 * (self.live as u64 + 1) + 1024 {
            self.go_sparse();
            return self.insert(i, v);
        }
        while i < self.base {
            self.items.push_front(None);
            self.base -= 1;
        }
        let k = (i - self.base) as usize;
        if k >= self.items.len() {
            self.items.resize_with(k + 1, || None);
        }
        let old = self.items[k].replace(v);
        if old.is_none() {
            self.live += 1;
        }
        self.go_sparse_if_thin();
        old
    }

    pub fn remove(&mut self, i: u32) -> Option<T> {
        if let Some(m) = &mut self.sparse {
            return m.remove(&i);
        }
        let k = self.at(i)?;
        let old = self.items[k].take();
        if old.is_some() {
            self.live -= 1;
            while let Some(None) = self.items.front() {
                self.items.pop_front();
                self.base += 1;
            }
            while let Some(None) = self.items.back() {
                self.items.pop_back();
            }
            if self.items.len() * 4 < self.items.capacity() {
                self.items.shrink_to_fit();
            }
        }
        old
    }

    fn go_sparse_if_thin(&mut self) {
        if self.items.len() > 2 * self.live + 1024 {
            self.go_sparse();
        }
    }

    fn go_sparse(&mut self) {
        {
            let base = self.base;
            let items = std::mem::take(&mut self.items);
            self.sparse = Some(
                items
                    .into_iter()
                    .enumerate()
                    .filter_map(|(k, v)| v.map(|v| (base + k as u32, v)))
                    .collect(),
            );
        }
    }

    pub fn len(&self) -> usize {
        match &self.sparse {
            Some(m) => m.len(),
            None => self.live,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        *self = IntMap::default();
    }

    /// `(int, value)` of every entry (by int while dense; in no order once sparse).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (u32, &T)> + '_> {
        match &self.sparse {
            Some(m) => Box::new(m.iter().map(|(i, v)| (*i, v))),
            None => Box::new(
                self.items
                    .iter()
                    .enumerate()
                    .filter_map(|(k, v)| v.as_ref().map(|v| (self.base + k as u32, v))),
            ),
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl<T> FromIterator<(u32, T)> for IntMap<T> {
    fn from_iter<I: IntoIterator<Item = (u32, T)>>(it: I) -> Self {
        let mut m = IntMap::default();
        for (i, v) in it {
            m.insert(i, v);
        }
        m
    }
}

#[cfg(test)]
mod int_map_tests {
    use super::IntMap;

    #[test]
    fn an_int_map_is_a_map_dense_or_sparse() {
        let mut m: IntMap<u32> = IntMap::default();
        let mut model = std::collections::BTreeMap::new();
        // ints handed out in order, most forgotten, one kept forever: it goes sparse
        for i in 0..5000u32 {
            m.insert(i, i * 2);
            model.insert(i, i * 2);
            if i > 0 && i % 3 != 0 {
                assert_eq!(m.remove(i - 1), model.remove(&(i - 1)));
            }
            if i == 10 {
                assert!(m.sparse.is_none());
            }
        }
        assert_eq!(m.insert(7, 1), model.insert(7, 1));
        assert_eq!(m.len(), model.len());
        let mut got: Vec<(u32, u32)> = m.iter().map(|(i, v)| (i, *v)).collect();
        got.sort();
        assert_eq!(got, model.iter().map(|(i, v)| (*i, *v)).collect::<Vec<_>>());
        for i in 0..5001 {
            assert_eq!(m.get(i), model.get(&i));
        }
        // far apart ints: sparse at once
        let far: IntMap<u8> = [(0, 1), (u32::MAX - 1, 2)].into_iter().collect();
        assert!(far.sparse.is_some() && far.get(u32::MAX - 1) == Some(&2));
        // dense: below the lowest int, trimmed at both ends
        let mut d: IntMap<u8> = [(5, 1), (6, 2)].into_iter().collect();
        d.insert(3, 0);
        assert_eq!(d.iter().map(|(i, _)| i).collect::<Vec<_>>(), vec![3, 5, 6]);
        assert_eq!(d.remove(3), Some(0));
        assert_eq!(d.remove(6), Some(2));
        assert_eq!((d.base, d.items.len(), d.len()), (5, 1, 1));
        assert!(d.get_mut(5).is_some() && d.get(4).is_none() && d.sparse.is_none());
    }
}
