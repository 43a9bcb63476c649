//! Full sync: the engine's whole state as a snapshot, and merging a peer's snapshot in
//! (at once, or in chunks while the instance keeps serving).

use crate::{Engine, Journal, MAX_CLOCK_AHEAD_MS, Snapshot, mark};
use concord_crdt::{Blob, Dot, Hlc, KeyState, VersionVector};
use std::collections::HashSet;

/// Snapshots taken and merged.
impl Engine {
    /// A consistent snapshot of the whole state: the vector it is exactly the state at, the
    /// clock's high-water mark, and the key states encoded in state format `format` in
    /// chunks of `keys_per_chunk`.
    pub fn snapshot(&self, keys_per_chunk: usize, format: u16) -> Snapshot {
        let mut chunks = Vec::new();
        let mut it = self.keys.iter().peekable();
        while it.peek().is_some() {
            chunks.push(concord_crdt::codec::encode_states_as(
                format,
                it.by_ref().take(keys_per_chunk.max(1)),
            ));
        }
        Snapshot {
            vv: self.vv.clone(),
            hlc: self.clock.last(),
            keys: self.keys.len() as u64,
            chunks,
        }
    }

    /// Merges a peer's snapshot (taken at `theirs`) into this state in one step and adopts
    /// its vector. Local writes the snapshot has not seen survive; what it removed after
    /// seeing it goes. Refused (nothing changes) when its clock is too far ahead.
    pub fn merge_snapshot(
        &mut self,
        theirs: &VersionVector,
        hlc: Hlc,
        states: Vec<(Blob, KeyState)>,
    ) -> Result<(), concord_crdt::ClockError> {
        self.clock.observe(hlc, self.wall, MAX_CLOCK_AHEAD_MS)?;
        if self.journal.is_some() {
            let chunks = states
                .chunks(1024)
                .map(|c| concord_crdt::codec::encode_states(c.iter().map(|(k, s)| (&k[..], s))))
                .collect();
            let entry = Journal::Merge {
                vv: theirs.clone(),
                hlc,
                keys: states.len() as u64,
                chunks,
            };
            if let Some(j) = &mut self.journal {
                j.push(entry);
            }
        }
        self.merge_states(theirs, states);
        Ok(())
    }

    /// Replays a merge the append-only file recorded.
    pub fn replay_merge(
        &mut self,
        theirs: &VersionVector,
        hlc: Hlc,
        states: Vec<(Blob, KeyState)>,
    ) {
        let _ = self.clock.observe(hlc, self.wall, u64::MAX);
        self.merge_states(theirs, states);
    }

    /// Loads part of a snapshot of this instance into an engine that was empty: the states
    /// go in as they are (merging into nothing is the state itself).
    pub fn restore_chunk(&mut self, theirs: &VersionVector, states: Vec<(Blob, KeyState)>) {
        let dots: Vec<Dot> = if self.peers > 0 {
            theirs
                .iter()
                .map(|(o, s)| Dot::new(o, s))
                .filter(|d| d.seq > 0)
                .collect()
        } else {
            Vec::new()
        };
        for (k, ks) in states {
            if ks.is_dead() {
                continue;
            }
            if ks.expiry.is_some() && ks.has_value() {
                self.expiring.insert(k.clone(), ());
            }
            if !dots.is_empty() {
                mark(&mut self.unstable, &k, dots.iter().copied());
            }
            self.live += usize::from(ks.has_value());
            if let Some(old) = self.keys.insert(k, ks) {
                self.live -= usize::from(old.has_value());
            }
        }
    }

    /// Makes room for `n` more keys (a load knows how many come).
    pub fn reserve_keys(&mut self, n: usize) {
        self.keys.reserve(n);
    }

    /// Finishes loading a snapshot: adopts its vector and clock.
    pub fn restore_finish(&mut self, theirs: &VersionVector, hlc: Hlc) {
        let _ = self.clock.observe(hlc, self.wall, u64::MAX);
        self.vv.join(theirs);
        self.deps_stale = true;
        self.log.raise_floor(theirs);
    }

    fn merge_states(&mut self, theirs: &VersionVector, states: Vec<(Blob, KeyState)>) {
        // A full sync may change any key: tracking clients drop their whole cache.
        self.track_flush();
        let mut staged: HashSet<Blob> = HashSet::with_capacity(states.len());
        let dots: Vec<Dot> = theirs
            .iter()
            .map(|(o, s)| Dot::new(o, s))
            .filter(|d| d.seq > 0)
            .collect();
        for (k, other) in states {
            let ks = self.keys.get_or_insert_with(&k, KeyState::default);
            ks.merge(&self.vv, &other, theirs);
            self.settle_merged(&k, &dots);
            if self.wanted.contains_key(&k) {
                self.ready.push(k.clone());
            }
            staged.insert(k);
        }
        let absent: Vec<Blob> = self
            .keys
            .iter()
            .filter(|(k, _)| !staged.contains(*k))
            .map(|(k, _)| k.into())
            .collect();
        let empty = KeyState::default();
        for k in absent {
            if let Some(ks) = self.keys.get_mut(&k) {
                ks.merge(&self.vv, &empty, theirs);
                self.settle_merged(&k, &dots);
            }
        }
        self.vv.join(theirs);
        self.deps_stale = true;
        self.log.raise_floor(theirs);
        // A merge touched every key: count them again.
        self.live = self.count_live_keys();
    }

    /// Bookkeeping after a key's state was merged: drop it when dead, keep the expiry
    /// index right, wake WATCHers, and remember its metadata for stability.
    fn settle_merged(&mut self, key: &[u8], dots: &[Dot]) {
        let Some(ks) = self.keys.get(key) else {
            return;
        };
        let dead = ks.is_dead();
        let expiring = ks.expiry.is_some() && ks.has_value();
        if dead {
            self.keys.remove_value(key);
            self.unstable.remove_value(key);
        } else if self.peers > 0 {
            mark(&mut self.unstable, key, dots.iter().copied());
        }
        if expiring {
            self.expiring.insert(key.into(), ());
        } else {
            self.expiring.remove_value(key);
        }
        self.touch(key);
    }
}
