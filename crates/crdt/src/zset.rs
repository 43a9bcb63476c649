//! Sorted sets: add-wins membership, scores as base + surviving increments, and an
//! order-statistic index over the visible scores.

use crate::clock::Stamp;
use crate::coll::Dots;
use crate::counter::{Amount, Counted, newest};
use crate::ctx::Seen;
use crate::digest::Digest;
use crate::f80::F80;
use crate::ostree::OsTree;
use crate::scanmap::ScanMap;
use crate::vv::VersionVector;

/// One member's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZMember {
    /// The surviving adds (ZADD, ZINCRBY) of the member.
    pub dots: Dots,
    /// The score: ZADD writes the base, ZINCRBY adds increments.
    pub score: Counted<f64>,
    /// The score the index holds for it.
    indexed: f64,
}

/// A sorted set.
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    members: ScanMap<ZMember>,
    index: OsTree,
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
    }
}

impl ZSet {
    /// Updates the index after `member` changed; drops it when no add survives.
    fn settle(&mut self, member: &[u8], was: Option<f64>) {
        let now = match self.members.get_mut(member) {
            Some(m) if !m.dots.is_empty() => {
                let s = m.score.score();
                m.indexed = s;
                Some(s)
            }
            Some(_) => {
                self.members.remove_value(member);
                None
            }
            None => None,
        };
        match (was, now) {
            (Some(w), Some(n)) if w.to_bits() != n.to_bits() => {
                let moved = self.index.rescore(w, n, member);
                assert!(moved, "an indexed member is in the index");
            }
            (Some(w), None) => {
                self.index.remove(w, member);
            }
            (None, Some(n)) => self.index.insert(n, member),
            _ => {}
        }
    }

    fn indexed(&self, member: &[u8]) -> Option<f64> {
        self.members.get(member).map(|m| m.indexed)
    }

    /// Sets a member's state as decoded from a snapshot and indexes it.
    pub(crate) fn insert_raw(&mut self, member: &[u8], dots: Dots, score: Counted<f64>) {
        let was = self.indexed(member);
        let m = self.members.get_or_insert_with(member, ZMember::default);
        m.dots = dots;
        m.score = score;
        self.settle(member, was);
    }

    /// ZADD of one member: an add and a base write of the score.
    pub fn add(&mut self, member: &[u8], stamp: Stamp, seen: &impl Seen, score: f64) {
        let was = self.indexed(member);
        let m = self.members.get_or_insert_with(member, ZMember::default);
        m.dots.retain(|s| !seen.seen(&s.dot));
        m.dots.push(stamp);
        m.score.write(stamp, seen, score);
        self.settle(member, was);
    }

    /// ZINCRBY of one member: an add and an increment of the score.
    pub fn incr(&mut self, member: &[u8], stamp: Stamp, seen: &impl Seen, delta: f64) {
        let was = self.indexed(member);
        let m = self.members.get_or_insert_with(member, ZMember::default);
        m.dots.retain(|s| !seen.seen(&s.dot));
        m.dots.push(stamp);
        m.score.incr(stamp, Amount::Float(F80::from_f64(delta)));
        self.settle(member, was);
    }

    /// Removes the seen adds, score writes and increments of `member`.
    pub fn remove(&mut self, member: &[u8], seen: &impl Seen) {
        let was = self.indexed(member);
        if let Some(m) = self.members.get_mut(member) {
            m.dots.retain(|s| !seen.seen(&s.dot));
            m.score.remove(seen);
            self.settle(member, was);
        }
    }

    /// Removes everything seen.
    pub fn remove_all(&mut self, seen: &impl Seen) {
        let names: Vec<Box<[u8]>> = self.members.iter().map(|(k, _)| k.into()).collect();
        for n in names {
            self.remove(&n, seen);
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.indexed(member)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The order index.
    pub fn index(&self) -> &OsTree {
        &self.index
    }

    /// The member map, for SCAN and random picks.
    pub fn map(&self) -> &ScanMap<ZMember> {
        &self.members
    }

    /// The newest surviving add.
    pub fn newest(&self) -> Option<Stamp> {
        newest(
            self.members
                .iter()
                .flat_map(|(_, m)| m.dots.iter().copied()),
        )
    }

    /// Folds stable score increments (scores do not change).
    pub fn compact(&mut self, stable: &VersionVector) {
        for (_, m) in self.members.iter_mut() {
            m.score.compact(stable);
        }
    }

    /// Folds the stable score increments of one member.
    pub fn compact_member(&mut self, member: &[u8], stable: &VersionVector) {
        if let Some(m) = self.members.get_mut(member) {
            m.score.compact(stable);
        }
    }

    /// Joins with another replica's sorted set.
    pub fn merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        let mut names: Vec<Box<[u8]>> = self.members.iter().map(|(k, _)| k.into()).collect();
        names.extend(
            other
                .members
                .iter()
                .filter(|(k, _)| !self.members.contains_key(k))
                .map(|(k, _)| k.into()),
        );
        let empty = ZMember::default();
        for n in names {
            let was = self.indexed(&n);
            let o = other.members.get(&n).unwrap_or(&empty);
            let m = self.members.get_or_insert_with(&n, ZMember::default);
            let od = &o.dots;
            m.dots
                .retain(|s| od.iter().any(|x| x.dot == s.dot) || !theirs.seen(&s.dot));
            for s in od {
                if !mine.seen(&s.dot) && !m.dots.iter().any(|x| x.dot == s.dot) {
                    m.dots.push(*s);
                }
            }
            m.score.merge(mine, &o.score, theirs);
            self.settle(&n, was);
        }
    }

    /// Feeds a canonical encoding into `d`.
    pub fn digest(&self, d: &mut Digest) {
        let mut v: Vec<(&[u8], &ZMember)> = self.members.iter().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        d.u64(v.len() as u64);
        for (k, m) in v {
            d.bytes(k);
            let mut ds: Vec<&Stamp> = m.dots.iter().collect();
            ds.sort_by_key(|s| s.dot);
            d.u64(ds.len() as u64);
            for s in ds {
                d.stamp(s);
            }
            m.score.digest(d, |v, d| d.u64(v.to_bits()));
        }
    }
}
