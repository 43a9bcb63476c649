//! Full sync: the engine's whole state as a snapshot (streamed, or at once), and merging a
//! peer's snapshot in (carried out key by key while the instance keeps serving, or at once).

mod merge;
mod stream;

pub use merge::Incoming;
pub(crate) use merge::Merging;
pub(crate) use stream::Streaming;
pub use stream::{SnapshotHead, StreamPart};

use crate::{Engine, Snapshot, mark};
use concord_crdt::{Blob, Dot, Hlc, KeyState, VersionVector};

/// One bit per table slot (which slots a merge or a stream has dealt with).
pub(crate) struct SlotBits {
    words: Vec<u64>,
    len: usize,
}

impl SlotBits {
    /// `len` bits, all clear.
    pub(crate) fn new(len: usize) -> Self {
        SlotBits {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// How many bits there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bit `i` (below `len`).
    pub(crate) fn get(&self, i: u32) -> bool {
        self.words[i as usize / 64] & (1 << (i % 64)) != 0
    }

    /// Sets bit `i` (below `len`).
    pub(crate) fn set(&mut self, i: u32) {
        self.words[i as usize / 64] |= 1 << (i % 64);
    }
}

/// Snapshots taken and merged.
impl Engine {
    /// A consistent snapshot of the whole state, encoded at once: the vector it is exactly
    /// the state at, the clock's high-water mark, and the key states encoded in state
    /// format `format` in chunks of `keys_per_chunk`.
    pub fn snapshot(&mut self, keys_per_chunk: usize, format: u16) -> Snapshot {
        self.finish_merge();
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
    /// its vector ([`Engine::begin_merge`], carried out at once).
    pub fn merge_snapshot(
        &mut self,
        theirs: &VersionVector,
        hlc: Hlc,
        states: Vec<(Blob, KeyState)>,
    ) -> Result<(), concord_crdt::ClockError> {
        self.begin_merge(theirs, hlc, states.into_iter().collect())?;
        self.finish_merge();
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
        self.start_merge(theirs, hlc, states.into_iter().collect(), false);
        self.finish_merge();
    }

    /// Loads part of a snapshot of this instance into an engine that was empty: the states
    /// go in as they are (merging into nothing is the state itself).
    pub fn restore_chunk(&mut self, theirs: &VersionVector, states: Vec<(Blob, KeyState)>) {
        assert!(
            self.merging.is_none() && self.streaming.is_none(),
            "a snapshot loaded while a full sync runs"
        );
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

    /// After `key` was written while a merge or a stream runs: a key made now is merged
    /// already, and not part of the stream's snapshot.
    pub(crate) fn sync_made(&mut self, key: &[u8]) {
        self.merge_made(key);
        self.stream_made(key);
    }

    /// Bookkeeping after a key's state was merged: drop it when dead, keep the expiry
    /// index right, and remember its metadata for stability. (WATCHers were woken when the
    /// merge began: a key merged later, when first read, changes nothing a client saw.)
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
    }
}

#[cfg(test)]
mod tests;
