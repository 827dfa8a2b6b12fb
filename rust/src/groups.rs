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
#[derive(Default)]
pub struct IdSlots {
    by_hash: CodeMap<u64, u32>,
    collided: HashMap<Box<str>, u32>,
}

impl IdSlots {
    /// The slot of `id` (hash `h`); `is_id(slot)` says whether that slot's group has `id`.
    pub fn get(&self, id: &str, h: u64, is_id: impl Fn(u32) -> bool) -> Option<u32> {
        if let Some(&s) = self.by_hash.get(&h) {
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
        match self.by_hash.entry(h) {
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
        if self.by_hash.get(&h) == Some(&slot) {
            self.by_hash.remove(&h);
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
