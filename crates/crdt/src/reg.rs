//! The multi-value register: concurrent writes are all kept, reads pick one.

use crate::clock::Stamp;
use crate::ctx::Seen;
use crate::digest::Digest;
use smallvec::SmallVec;

/// A multi-value register of `T`. Almost always holds one write.
#[derive(Clone, Debug, PartialEq)]
pub struct MvReg<T> {
    writes: SmallVec<[(Stamp, T); 1]>,
}

impl<T> Default for MvReg<T> {
    fn default() -> Self {
        MvReg {
            writes: SmallVec::new(),
        }
    }
}

impl<T: Clone> MvReg<T> {
    /// A register holding one write.
    pub fn with(stamp: Stamp, value: T) -> Self {
        let mut writes = SmallVec::new();
        writes.push((stamp, value));
        MvReg { writes }
    }

    /// Writes `value`, removing the writes the writer had seen.
    pub fn write(&mut self, stamp: Stamp, seen: &impl Seen, value: T) {
        self.remove(seen);
        debug_assert!(self.writes.iter().all(|(s, _)| s.dot != stamp.dot));
        self.writes.push((stamp, value));
    }

    /// Removes the writes the remover had seen; returns whether any was removed.
    pub fn remove(&mut self, seen: &impl Seen) -> bool {
        let before = self.writes.len();
        self.writes.retain(|(s, _)| !seen.seen(&s.dot));
        self.writes.len() != before
    }

    /// The winning write: largest timestamp, then smaller id.
    pub fn winner(&self) -> Option<&(Stamp, T)> {
        let mut best: Option<&(Stamp, T)> = None;
        for w in &self.writes {
            if best.is_none_or(|b| w.0.wins_over(&b.0)) {
                best = Some(w);
            }
        }
        best
    }

    /// The winning value.
    pub fn get(&self) -> Option<&T> {
        self.winner().map(|(_, v)| v)
    }

    /// Whether no write survives.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// A register holding exactly these writes (decoding a snapshot).
    pub(crate) fn from_writes(writes: impl IntoIterator<Item = (Stamp, T)>) -> Self {
        MvReg {
            writes: writes.into_iter().collect(),
        }
    }

    /// The only surviving write, mutable; `None` when there are none or several (a fold
    /// replaces a lone write in place).
    pub fn only_mut(&mut self) -> Option<&mut (Stamp, T)> {
        match &mut self.writes[..] {
            [w] => Some(w),
            _ => None,
        }
    }

    /// All surviving writes, concurrent with each other.
    pub fn writes(&self) -> impl Iterator<Item = &(Stamp, T)> {
        self.writes.iter()
    }

    /// Joins with another replica's register; each side's context says what it had seen.
    pub fn merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        let ours_before: SmallVec<[Stamp; 2]> = self.writes.iter().map(|(s, _)| *s).collect();
        self.writes.retain(|(s, _)| {
            other.writes.iter().any(|(o, _)| o.dot == s.dot) || !theirs.seen(&s.dot)
        });
        for (s, v) in &other.writes {
            if !ours_before.iter().any(|o| o.dot == s.dot) && !mine.seen(&s.dot) {
                self.writes.push((*s, v.clone()));
            }
        }
    }

    /// Feeds a canonical encoding (sorted by dot) into `d`, values via `f`.
    pub fn digest(&self, d: &mut Digest, f: impl Fn(&T, &mut Digest)) {
        let mut w: SmallVec<[&(Stamp, T); 2]> = self.writes.iter().collect();
        w.sort_by_key(|(s, _)| s.dot);
        d.u64(w.len() as u64);
        for (s, v) in w {
            d.stamp(s);
            f(v, d);
        }
    }
}
