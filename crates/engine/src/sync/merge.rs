//! Merging a peer's snapshot while the instance keeps serving.
//!
//! A full sync ends with the peer's whole state staged here. Merging it in one step
//! paused every client for as long as the merge took (1.7 s at a million keys). Instead,
//! the merge is adopted at once and carried out lazily: the engine's vector joins the
//! snapshot's immediately, and every key is merged before anything reads or changes it
//! (a command's lookup, an op's apply); a background walk merges the rest in bounded
//! slices. A key that is not merged yet holds exactly the state it had when the merge
//! began, so merging it later gives what merging it then would have given.

use super::SlotBits;
use crate::{Engine, Journal, MAX_CLOCK_AHEAD_MS};
use concord_crdt::{Blob, ClockError, Dot, Hlc, KeyState, ScanMap, VersionVector};

/// A peer's snapshot, staged as it arrives (full sync).
#[derive(Default)]
pub struct Incoming {
    /// Key states by key; `None` once merged (taken without touching the hash table).
    states: ScanMap<Option<KeyState>>,
    /// The chunks as they arrived, for the append-only file (kept while it is on).
    chunks: Vec<Vec<u8>>,
    /// Some chunk arrived without its bytes: the file's record is encoded again instead.
    chunks_missing: bool,
    /// States received (a key sent twice counts twice).
    received: u64,
}

impl Incoming {
    /// An empty staging area with room for `keys` states (up to a bound: the count is
    /// the peer's word).
    pub fn with_room(keys: u64) -> Self {
        let mut inc = Incoming::default();
        inc.states.reserve(keys.min(RESERVE_MAX_KEYS) as usize);
        inc
    }

    /// Stages one chunk: its states and, when the append-only file is on, its bytes.
    pub fn add(&mut self, states: Vec<(Blob, KeyState)>, raw: Option<Vec<u8>>) {
        self.received += states.len() as u64;
        match raw {
            Some(r) if !self.chunks_missing => self.chunks.push(r),
            _ => {
                self.chunks_missing = true;
                self.chunks = Vec::new();
            }
        }
        for (k, s) in states {
            self.states.insert(k, Some(s));
        }
    }

    /// States received so far.
    pub fn received(&self) -> u64 {
        self.received
    }
}

impl FromIterator<(Blob, KeyState)> for Incoming {
    fn from_iter<I: IntoIterator<Item = (Blob, KeyState)>>(it: I) -> Self {
        let mut inc = Incoming::default();
        inc.add(it.into_iter().collect(), None);
        inc
    }
}

/// A merge adopted and not yet carried out on every key.
pub(crate) struct Merging {
    /// The vector every key not merged yet reflects (the engine's when the merge began).
    mine: VersionVector,
    /// The snapshot's vector.
    theirs: VersionVector,
    /// `theirs` as dots, for the stability bookkeeping of merged keys.
    dots: Vec<Dot>,
    /// The snapshot's states; those merged are `None`.
    staged: ScanMap<Option<KeyState>>,
    /// How many of `staged` are not merged yet.
    staged_left: usize,
    /// This instance's slots merged (or filled by a key merged first), below `done.len()`.
    done: SlotBits,
    /// The walk over this instance's slots: every slot below it is merged.
    cursor: u32,
    /// The walk over the staged states not merged yet (after the slots).
    staged_cursor: u32,
}

/// Below this many keys, the table makes room for a whole snapshot when a merge begins.
const RESERVE_BELOW_KEYS: usize = 1 << 16;

/// The most keys a snapshot's announced count makes room for in advance.
const RESERVE_MAX_KEYS: u64 = 1 << 20;

/// Staged keys whose table slots are prefetched together.
const PREFETCH_AHEAD: u32 = 16;

impl Merging {
    /// Whether the key in slot `s` was merged (slots past the start hold keys made since,
    /// each merged before it was made).
    fn is_done(&self, s: u32) -> bool {
        s < self.cursor || s as usize >= self.done.len() || self.done.get(s)
    }
}

impl Engine {
    /// Adopts a peer's snapshot (taken at `theirs`): from now on this state is the merge
    /// of both, carried out key by key as keys are used and by [`Engine::merge_step`].
    /// Local writes the snapshot has not seen survive; what it removed after seeing it
    /// goes. Refused (nothing changes) when its clock is too far ahead.
    pub fn begin_merge(
        &mut self,
        theirs: &VersionVector,
        hlc: Hlc,
        incoming: Incoming,
    ) -> Result<(), ClockError> {
        self.clock.observe(hlc, self.wall, MAX_CLOCK_AHEAD_MS)?;
        self.start_merge(theirs, hlc, incoming, true);
        Ok(())
    }

    pub(super) fn start_merge(
        &mut self,
        theirs: &VersionVector,
        hlc: Hlc,
        incoming: Incoming,
        journal: bool,
    ) {
        // One merge at a time: the earlier one is carried out first.
        self.finish_merge();
        let Incoming {
            states,
            chunks,
            chunks_missing,
            received,
        } = incoming;
        if journal && self.journal.is_some() {
            let chunks = if chunks_missing || (chunks.is_empty() && !states.is_empty()) {
                let all: Vec<(&[u8], &KeyState)> = states
                    .iter()
                    .filter_map(|(k, s)| s.as_ref().map(|s| (k, s)))
                    .collect();
                all.chunks(1024)
                    .map(|c| concord_crdt::codec::encode_states(c.iter().copied()))
                    .collect()
            } else {
                chunks
            };
            let keys = if chunks_missing {
                states.len() as u64
            } else {
                received
            };
            if let Some(j) = &mut self.journal {
                j.push(Journal::Merge {
                    vv: theirs.clone(),
                    hlc,
                    keys,
                    chunks,
                });
            }
        }
        // A full sync may change any key: tracking clients drop their whole cache, and
        // every WATCHed key counts as changed now (not when it is merged, which may be
        // when the watcher itself first reads it).
        self.track_flush();
        let watched: Vec<Blob> = self.watched.keys().cloned().collect();
        for k in watched {
            self.touch(&k);
        }
        let dots = theirs
            .iter()
            .map(|(o, s)| Dot::new(o, s))
            .filter(|d| d.seq > 0)
            .collect();
        // Growing a table one doubling at a time would stall slices with rehashes (every
        // merged key is kept and, with peers, marked for stability); a table this small
        // is cheap to grow at once.
        if self.keys.len() < RESERVE_BELOW_KEYS {
            self.keys.reserve(states.len());
        }
        if self.peers > 0 && self.unstable.len() < RESERVE_BELOW_KEYS {
            self.unstable.reserve(states.len());
        }
        // What an earlier merge left to free goes now (nobody took it).
        self.merged = None;
        self.merging = Some(Box::new(Merging {
            mine: self.vv.clone(),
            theirs: theirs.clone(),
            dots,
            staged_left: states.len(),
            staged: states,
            done: SlotBits::new(self.keys.slot_count()),
            cursor: 0,
            staged_cursor: 0,
        }));
        self.vv.join(theirs);
        self.deps_stale = true;
        self.log.raise_floor(theirs);
    }

    /// Whether a merge is still being carried out.
    pub fn merging(&self) -> bool {
        self.merging.is_some()
    }

    /// Keys the merge in progress may still have to visit (INFO).
    pub fn merge_left(&self) -> usize {
        self.merging.as_ref().map_or(0, |m| {
            (m.done.len().saturating_sub(m.cursor as usize)) + m.staged_left
        })
    }

    /// Carries the merge in progress on for at most `budget` keys. Returns whether any
    /// is left.
    pub fn merge_step(&mut self, budget: usize) -> bool {
        let Some(mut m) = self.merging.take() else {
            return false;
        };
        let mut n = 0;
        // This instance's keys, in slot order; then the snapshot's keys new here.
        while n < budget && (m.cursor as usize) < m.done.len() {
            let s = m.cursor;
            m.cursor += 1;
            if m.done.get(s) {
                continue;
            }
            let Some((k, _)) = self.keys.entry_at(s) else {
                continue;
            };
            let k: Blob = k.into();
            self.merge_key(&mut m, &k);
            n += 1;
        }
        while n < budget && (m.staged_cursor as usize) < m.staged.slot_count() {
            let s = m.staged_cursor;
            m.staged_cursor += 1;
            if s % PREFETCH_AHEAD == 0 {
                // The table slots of the next keys, so their cache misses overlap.
                let end = (s + PREFETCH_AHEAD).min(m.staged.slot_count() as u32);
                let next: Vec<&[u8]> = (s..end)
                    .filter_map(|i| m.staged.entry_at(i))
                    .filter(|(_, v)| v.is_some())
                    .map(|(k, _)| k)
                    .collect();
                self.keys.prefetch_many(next.into_iter());
            }
            let Some((k, v)) = m.staged.entry_at_mut(s) else {
                continue;
            };
            let Some(other) = v.take() else {
                continue;
            };
            let k: Blob = k.into();
            m.staged_left -= 1;
            self.merge_with(&mut m, &k, Some(other));
            n += 1;
        }
        let more = (m.cursor as usize) < m.done.len() || m.staged_left > 0;
        if more {
            self.merging = Some(m);
        } else {
            // Freeing a whole snapshot's staging takes a while: the caller does it
            // outside its lock ([`Engine::take_merged`]).
            self.merged = Some(m);
        }
        more
    }

    /// What a finished merge leaves to free (its staged states), for the caller to drop
    /// where it does not hold up clients.
    pub fn take_merged(&mut self) -> Option<impl Send + use<>> {
        self.merged.take()
    }

    /// Carries the merge in progress out to the end (before anything that reads every key
    /// at once: a snapshot, a digest, FLUSHALL).
    pub fn finish_merge(&mut self) {
        while self.merge_step(usize::MAX) {}
    }

    /// Merges `key` first if a merge is in progress and has not reached it.
    pub(crate) fn ensure_merged(&mut self, key: &[u8]) {
        let Some(mut m) = self.merging.take() else {
            return;
        };
        let done = self.keys.slot_of(key).is_some_and(|s| m.is_done(s));
        if !done {
            self.merge_key(&mut m, key);
        }
        self.merging = Some(m);
    }

    /// After `key` was written: a key made now needs no merge.
    pub(super) fn merge_made(&mut self, key: &[u8]) {
        if let Some(m) = self.merging.as_mut()
            && let Some(s) = self.keys.slot_of(key)
            && (s as usize) < m.done.len()
        {
            m.done.set(s);
        }
    }

    /// Merges one key: its state here (if any) with the snapshot's (or with nothing, when
    /// the snapshot does not hold it).
    fn merge_key(&mut self, m: &mut Merging, key: &[u8]) {
        let other = m.staged.get_mut(key).and_then(Option::take);
        if other.is_some() {
            m.staged_left -= 1;
        }
        self.merge_with(m, key, other);
    }

    /// Merges `other` (the snapshot's state of `key`, taken from the staged ones) into
    /// this instance's state of `key`.
    fn merge_with(&mut self, m: &mut Merging, key: &[u8], other: Option<KeyState>) {
        if other.is_none() && !self.keys.contains_key(key) {
            return;
        }
        self.stream_save(key);
        let empty = KeyState::default();
        let ks = self.keys.get_or_insert_with(key, KeyState::default);
        let had = ks.has_value();
        ks.merge(&m.mine, other.as_ref().unwrap_or(&empty), &m.theirs);
        let has = ks.has_value();
        self.live = self.live + usize::from(has) - usize::from(had);
        if let Some(s) = self.keys.slot_of(key)
            && (s as usize) < m.done.len()
        {
            m.done.set(s);
        }
        self.stream_made(key);
        self.settle_merged(key, &m.dots);
        if self.wanted.contains_key(key) {
            self.ready.push(key.into());
        }
    }
}
