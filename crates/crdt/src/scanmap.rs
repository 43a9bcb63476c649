//! A hash map over byte keys whose entries never move, so SCAN cursors stay valid.

use crate::slots::Slots;
use crate::small::SmallBlob;
use hashbrown::HashTable;
use std::cell::Cell;
use std::hash::{BuildHasher, Hasher, RandomState};

/// A map from byte-string keys to values, stored in stable slots.
///
/// SCAN walks slot indexes: an entry present for the whole walk is never moved, so it is
/// returned at least once. The hasher is keyed SipHash, as client keys choose the hashes.
/// Short keys live inside their slot: a lookup compares them without reaching for
/// another cache line, and they cost no allocation of their own.
#[derive(Clone)]
pub struct ScanMap<V> {
    /// Slot index and the key's 32-bit hash: growing the table and skipping wrong
    /// candidates never touch (or rehash) the keys themselves.
    table: HashTable<(u32, u32)>,
    slots: Slots<Option<(SmallBlob, V)>>,
    free: Vec<u32>,
    hasher: RandomState,
    /// The slot found last: a command usually looks the same key up several times
    /// (read, then apply), and checking it first skips hashing and probing.
    hint: Cell<u32>,
}

/// Asks the processor to bring the cache line holding `p` in, without waiting for it.
pub fn prefetch<T: ?Sized>(p: &T) {
    prefetch_addr((p as *const T).cast::<u8>());
}

/// [`prefetch`] of every cache line `v` spans (a slot is larger than a line).
fn prefetch_whole<T>(v: &T) {
    let start = (v as *const T).cast::<u8>();
    let mut at = 0;
    while at < std::mem::size_of::<T>() {
        prefetch_addr(start.wrapping_add(at));
        at += 64;
    }
    prefetch_addr(start.wrapping_add(std::mem::size_of::<T>().saturating_sub(1)));
}

/// [`prefetch`] of a raw address (any address will do: a prefetch never faults).
fn prefetch_addr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults and reads nothing the program sees.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The 64-bit hash the table works with, from a key's 32-bit one (the multiply spreads
/// it over the high bits the table takes its tag from).
fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(h)
}

impl<V> Default for ScanMap<V> {
    fn default() -> Self {
        ScanMap {
            table: HashTable::new(),
            slots: Slots::default(),
            free: Vec::new(),
            hasher: RandomState::new(),
            hint: Cell::new(u32::MAX),
        }
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for ScanMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: PartialEq> PartialEq for ScanMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V> ScanMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The key's 32-bit hash (SipHash, keyed per map). The bytes go in with one write and
    /// no length prefix: a map's keys are whole strings, so none is a prefix of another's
    /// hashed input, and the prefix costs as much again as a short key.
    fn hash(&self, key: &[u8]) -> u32 {
        let mut h = self.hasher.build_hasher();
        h.write(key);
        h.finish() as u32
    }

    /// Reserves room for `n` more entries (a load knows its size).
    pub fn reserve(&mut self, n: usize) {
        self.table.reserve(n, |&(_, h)| spread(h));
        self.slots.reserve(n);
    }

    fn find(&self, key: &[u8]) -> Option<u32> {
        self.lookup(key).ok()
    }

    /// The slot of `key`, or, when it is absent, its hash (an insert that follows needs
    /// it, and hashing twice showed in profiles of writes of new keys).
    fn lookup(&self, key: &[u8]) -> Result<u32, u32> {
        let hint = self.hint.get();
        if let Some(Some((k, _))) = self.slots.get(hint as usize)
            && &k[..] == key
        {
            return Ok(hint);
        }
        let h = self.hash(key);
        let slots = &self.slots;
        let found = self
            .table
            .find(spread(h), |&(i, hh)| {
                hh == h
                    && slots[i as usize]
                        .as_ref()
                        .is_some_and(|(k, _)| &k[..] == key)
            })
            .map(|&(i, _)| i);
        if let Some(i) = found {
            self.hint.set(i);
        }
        found.ok_or(h)
    }

    /// Starts bringing the slot of `key` into the cache and returns it (when some entry
    /// has the key's hash; the key itself is not compared, so this is a hint). Nothing
    /// waits on the slot: called for a batch of keys first, their cache misses overlap, and
    /// the lookups that follow find the lines already there.
    pub fn prefetch(&self, key: &[u8]) -> Option<u32> {
        let h = self.hash(key);
        let i = self
            .table
            .find(spread(h), |&(_, hh)| hh == h)
            .map(|&(i, _)| i)?;
        if let Some(slot) = self.slots.get(i as usize) {
            prefetch(slot);
        }
        Some(i)
    }

    /// [`ScanMap::prefetch`] for many keys: every hash first (pure computation), then
    /// every table probe back to back, so the processor overlaps the probes' cache misses.
    pub fn prefetch_many<'k>(
        &self,
        keys: impl ExactSizeIterator<Item = &'k [u8]>,
    ) -> smallvec::SmallVec<[Option<u32>; 32]> {
        let hashes: smallvec::SmallVec<[u32; 32]> = keys.map(|k| self.hash(k)).collect();
        let slots: smallvec::SmallVec<[Option<u32>; 32]> = hashes
            .iter()
            .map(|&h| {
                self.table
                    .find(spread(h), |&(_, hh)| hh == h)
                    .map(|&(i, _)| i)
            })
            .collect();
        for &i in slots.iter().flatten() {
            if let Some(slot) = self.slots.get(i as usize) {
                prefetch(slot);
            }
        }
        slots
    }

    /// Makes slot `i` (from [`ScanMap::prefetch`]) the first one the next lookup tries:
    /// when it holds the key looked up, no hashing or probing is needed.
    pub fn set_hint(&self, i: u32) {
        self.hint.set(i);
    }

    /// The value in slot `i` (from [`ScanMap::prefetch`]), if the slot holds one.
    pub fn slot_value(&self, i: u32) -> Option<&V> {
        self.slots
            .get(i as usize)
            .and_then(|s| s.as_ref().map(|(_, v)| v))
    }

    /// The entry in slot `i`, its value mutable.
    pub fn entry_at_mut(&mut self, i: u32) -> Option<(&[u8], &mut V)> {
        if i as usize >= self.slots.len() {
            return None;
        }
        self.slots[i as usize].as_mut().map(|(k, v)| (&k[..], v))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Slots held, used or free: what the map's memory is sized for (its peak).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key)
            .and_then(|i| self.slots[i as usize].as_ref().map(|(_, v)| v))
    }

    /// The value of `key`, mutable.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = self.find(key)?;
        self.slots[i as usize].as_mut().map(|(_, v)| v)
    }

    /// The slot `key` is in (slots never move while their entry stays).
    pub fn slot_of(&self, key: &[u8]) -> Option<u32> {
        self.find(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// The value of `key`, inserting `make()` first when absent.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        let i = match self.lookup(key) {
            Ok(i) => i,
            Err(h) => self.insert_new(SmallBlob::new(key), h, make()),
        };
        match &mut self.slots[i as usize] {
            Some((_, v)) => v,
            None => unreachable!("a table index always names an occupied slot"),
        }
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: Box<[u8]>, value: V) -> Option<V> {
        let key = SmallBlob::from(key);
        match self.lookup(&key) {
            Ok(i) => self.slots[i as usize]
                .as_mut()
                .map(|(_, v)| std::mem::replace(v, value)),
            Err(h) => {
                self.insert_new(key, h, value);
                None
            }
        }
    }

    /// Inserts `key` (absent, with hash `h`).
    fn insert_new(&mut self, key: SmallBlob, h: u32, value: V) -> u32 {
        debug_assert_eq!(h, self.hash(&key));
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some((key, value));
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 entries");
                self.slots.push(Some((key, value)));
                i
            }
        };
        self.hint.set(i);
        self.table
            .insert_unique(spread(h), (i, h), |&(_, hh)| spread(hh));
        i
    }

    /// Removes `key`; returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Box<[u8]>, V)> {
        self.take(key).map(|(k, v)| (k.into_blob(), v))
    }

    /// Removes `key`; returns its value.
    pub fn remove_value(&mut self, key: &[u8]) -> Option<V> {
        self.take(key).map(|(_, v)| v)
    }

    fn take(&mut self, key: &[u8]) -> Option<(SmallBlob, V)> {
        let h = self.hash(key);
        let slots = &self.slots;
        let entry = self
            .table
            .find_entry(spread(h), |&(i, hh)| {
                hh == h
                    && slots[i as usize]
                        .as_ref()
                        .is_some_and(|(k, _)| &k[..] == key)
            })
            .ok()?;
        let ((i, _), _) = entry.remove();
        let out = self.slots[i as usize].take();
        if i as usize + 1 == self.slots.len() {
            self.slots.pop();
            // Trailing free slots are dropped so a shrinking map gives memory back.
            while matches!(self.slots.last(), Some(None)) {
                self.slots.pop();
            }
            let n = self.slots.len() as u32;
            self.free.retain(|&f| f < n);
        } else {
            self.free.push(i);
        }
        if self.is_empty() {
            self.slots = Slots::default();
            self.free = Vec::new();
        }
        out
    }

    /// Every entry, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.slots
            .iter()
            .filter_map(|s| s.as_ref().map(|(k, v)| (&k[..], v)))
    }

    /// Every entry, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&[u8], &mut V)> {
        self.slots
            .iter_mut()
            .filter_map(|s| s.as_mut().map(|(k, v)| (&k[..], v)))
    }

    /// Keeps the entries for which `keep` says yes.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &mut V) -> bool) {
        let doomed: Vec<SmallBlob> = self
            .slots
            .iter_mut()
            .filter_map(|s| match s {
                Some((k, v)) => (!keep(k, v)).then(|| k.clone()),
                None => None,
            })
            .collect();
        for k in doomed {
            self.take(&k);
        }
    }

    /// Visits entries from `cursor` until `count` were visited; returns the next cursor
    /// (0 when the walk is over).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &V)) -> u64 {
        let mut i = usize::try_from(cursor).unwrap_or(usize::MAX);
        let mut seen = 0;
        while i < self.slots.len() {
            if let Some((k, v)) = &self.slots[i] {
                f(k, v);
                seen += 1;
            }
            i += 1;
            if seen >= count.max(1) {
                break;
            }
        }
        if i >= self.slots.len() { 0 } else { i as u64 }
    }

    /// An entry chosen from `r`, a random number supplied by the caller: the first
    /// occupied slot from a random one on. Entries after a run of free slots are chosen a
    /// little more often (as Redis's sampling of a sparse table is biased); the walk is
    /// as long as that run, never a walk of the whole map.
    pub fn random(&self, r: u64) -> Option<(&[u8], &V)> {
        self.random_slot(r).map(|(_, k, v)| (k, v))
    }

    /// [`ScanMap::random`] with the entry's slot (for [`ScanMap::entry_at`] later).
    pub fn random_slot(&self, r: u64) -> Option<(u32, &[u8], &V)> {
        if self.is_empty() {
            return None;
        }
        let n = self.slots.len();
        let start = (r % n as u64) as usize;
        let (i, (k, v)) = self
            .slots
            .iter_from(start)
            .zip(start..)
            .chain(self.slots.iter().take(start).zip(0..))
            .find_map(|(s, i)| s.as_ref().map(|e| (i, e)))?;
        Some((u32::try_from(i).ok()?, &k[..], v))
    }

    /// The entry in slot `i`, if one is there (it may have been replaced since `i` was
    /// learnt: compare the key).
    pub fn entry_at(&self, i: u32) -> Option<(&[u8], &V)> {
        self.slots
            .get(i as usize)
            .and_then(|s| s.as_ref().map(|(k, v)| (&k[..], v)))
    }

    /// Starts bringing in the slot [`ScanMap::random`] would start from for `r`, without
    /// waiting: a sample of several draws prefetched first has its cache misses overlap.
    pub fn prefetch_random(&self, r: u64) {
        if let Some(n) = std::num::NonZeroU64::new(self.slots.len() as u64) {
            prefetch_whole(&self.slots[(r % n) as usize]);
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.table.clear();
        self.slots = Slots::default();
        self.free = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_map_and_scan_sees_survivors() {
        let mut m = ScanMap::new();
        let mut model = BTreeMap::new();
        for i in 0..2000u32 {
            let k = (i % 300).to_string().into_bytes();
            if i % 3 == 0 {
                assert_eq!(m.remove(&k).map(|(_, v)| v), model.remove(&k));
            } else {
                assert_eq!(m.insert(k.clone().into(), i), model.insert(k, i));
            }
            assert_eq!(m.len(), model.len());
        }
        for (k, v) in &model {
            assert_eq!(m.get(k), Some(v));
        }
        let mut seen = BTreeMap::new();
        let mut cursor = 0;
        loop {
            cursor = m.scan(cursor, 7, |k, v| {
                seen.insert(k.to_vec(), *v);
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, model);
        assert!(m.random(12345).is_some());
    }

    /// A sparse map (most slots freed) still answers every draw, with any survivor.
    #[test]
    fn random_finds_the_survivors_of_a_sparse_map() {
        let mut m = ScanMap::new();
        for i in 0..10_000u32 {
            m.insert(i.to_string().into_bytes().into(), i);
        }
        for i in 0..10_000u32 {
            if i % 1000 != 7 {
                m.remove(i.to_string().as_bytes());
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut r = 1u64;
        for _ in 0..2000 {
            r = r.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let (_, v) = m.random(r >> 11).expect("a survivor");
            assert_eq!(v % 1000, 7);
            seen.insert(*v);
            // The same draw with its slot names the same entry, found there again.
            let (i, k, w) = m.random_slot(r >> 11).expect("a survivor");
            assert_eq!((w, m.entry_at(i)), (v, Some((k, v))));
        }
        assert_eq!(seen.len(), 10);
        assert_eq!(m.entry_at(u32::MAX), None);
    }

    /// A prefetch only hints: lookups are right whatever slot the hint names, and long
    /// keys (kept outside their slot) behave like short ones.
    #[test]
    fn hints_never_change_answers() {
        let mut m = ScanMap::new();
        let long = |i: u32| format!("{i}-{}", "x".repeat(40)).into_bytes();
        for i in 0..500u32 {
            m.insert(long(i).into(), i);
            m.insert(i.to_string().into_bytes().into(), i + 1000);
        }
        for i in 0..500u32 {
            let slot = m.prefetch(&long(i)).expect("present");
            assert_eq!(m.slot_value(slot), Some(&i));
            for hint in [slot, 0, slot.wrapping_add(1), u32::MAX] {
                m.set_hint(hint);
                assert_eq!(m.get(&long(i)), Some(&i));
                m.set_hint(hint);
                assert_eq!(m.get(i.to_string().as_bytes()), Some(&(i + 1000)));
                m.set_hint(hint);
                assert_eq!(m.get(b"absent"), None);
            }
        }
        assert_eq!(m.prefetch(b"absent"), None);
    }
}
