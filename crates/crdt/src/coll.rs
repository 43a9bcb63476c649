//! Add-wins observed-remove set and map on a dot store.

use crate::clock::Stamp;
use crate::counter::{Amount, Counted, newest};
use crate::ctx::Seen;
use crate::digest::Digest;
use crate::scanmap::ScanMap;
use crate::vv::VersionVector;
use smallvec::SmallVec;

/// The surviving adds of one member.
pub type Dots = SmallVec<[Stamp; 1]>;

/// A byte string as stored.
pub type Blob = Box<[u8]>;

/// Add-wins observed-remove set of byte strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrSet {
    members: ScanMap<Dots>,
}

impl OrSet {
    /// Sets a member's surviving adds as decoded from a snapshot.
    pub(crate) fn insert_raw(&mut self, member: Blob, dots: Dots) {
        if !dots.is_empty() {
            self.members.insert(member, dots);
        }
    }

    /// Adds `member`; the adder's seen adds of it are replaced by this one.
    pub fn add(&mut self, member: &[u8], stamp: Stamp, seen: &impl Seen) {
        let dots = self.members.get_or_insert_with(member, Dots::new);
        dots.retain(|s| !seen.seen(&s.dot));
        dots.push(stamp);
    }

    /// Removes the seen adds of `member`; returns whether it is gone.
    pub fn remove(&mut self, member: &[u8], seen: &impl Seen) -> bool {
        let gone = match self.members.get_mut(member) {
            Some(dots) => {
                dots.retain(|s| !seen.seen(&s.dot));
                dots.is_empty()
            }
            None => return false,
        };
        if gone {
            self.members.remove_value(member);
        }
        gone
    }

    /// Removes every seen add.
    pub fn remove_all(&mut self, seen: &impl Seen) {
        self.members.retain(|_, dots| {
            dots.retain(|s| !seen.seen(&s.dot));
            !dots.is_empty()
        });
    }

    /// Whether `member` is present.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.members.contains_key(member)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members, in storage order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.members.iter().map(|(k, _)| k)
    }

    /// The underlying map, for SCAN and random picks.
    pub fn map(&self) -> &ScanMap<Dots> {
        &self.members
    }

    /// The newest surviving add.
    pub fn newest(&self) -> Option<Stamp> {
        newest(self.members.iter().flat_map(|(_, d)| d.iter().copied()))
    }

    /// Joins with another replica's set.
    pub fn merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        self.members.retain(|k, dots| {
            let od = other.members.get(k);
            dots.retain(|s| {
                od.is_some_and(|o| o.iter().any(|x| x.dot == s.dot)) || !theirs.seen(&s.dot)
            });
            !dots.is_empty()
        });
        for (k, od) in other.members.iter() {
            for s in od {
                if mine.seen(&s.dot) {
                    continue;
                }
                let dots = self.members.get_or_insert_with(k, Dots::new);
                if !dots.iter().any(|x| x.dot == s.dot) {
                    dots.push(*s);
                }
            }
        }
    }

    /// Feeds a canonical encoding into `d`.
    pub fn digest(&self, d: &mut Digest) {
        let mut v: Vec<(&[u8], &Dots)> = self.members.iter().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        d.u64(v.len() as u64);
        for (k, dots) in v {
            d.bytes(k);
            let mut ds: Vec<&Stamp> = dots.iter().collect();
            ds.sort_by_key(|s| s.dot);
            d.u64(ds.len() as u64);
            for s in ds {
                d.stamp(s);
            }
        }
    }
}

/// Add-wins observed-remove map of fields to counted byte strings (a hash).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrMap {
    fields: ScanMap<Counted<Blob>>,
}

impl OrMap {
    /// A register write of `field`.
    pub fn write(&mut self, field: &[u8], stamp: Stamp, seen: &impl Seen, value: Blob) {
        self.fields
            .get_or_insert_with(field, Counted::default)
            .write(stamp, seen, value);
    }

    /// Sets a field's state as decoded from a snapshot.
    pub(crate) fn insert_raw(&mut self, field: Blob, value: Counted<Blob>) {
        self.fields.insert(field, value);
    }

    /// An increment of `field`.
    pub fn incr(&mut self, field: &[u8], stamp: Stamp, amount: Amount) {
        self.fields
            .get_or_insert_with(field, Counted::default)
            .incr(stamp, amount);
    }

    /// Removes the seen writes and increments of `field`; returns whether it is gone.
    pub fn remove(&mut self, field: &[u8], seen: &impl Seen) -> bool {
        let gone = match self.fields.get_mut(field) {
            Some(v) => {
                v.remove(seen);
                v.is_empty()
            }
            None => return false,
        };
        if gone {
            self.fields.remove(field);
        }
        gone
    }

    /// Removes every seen write and increment.
    pub fn remove_all(&mut self, seen: &impl Seen) {
        self.fields.retain(|_, v| {
            v.remove(seen);
            !v.is_empty()
        });
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&Counted<Blob>> {
        self.fields.get(field)
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields and values, in storage order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Counted<Blob>)> {
        self.fields.iter()
    }

    /// The underlying map, for SCAN and random picks.
    pub fn map(&self) -> &ScanMap<Counted<Blob>> {
        &self.fields
    }

    /// The newest surviving write or increment.
    pub fn newest(&self) -> Option<Stamp> {
        newest(self.fields.iter().filter_map(|(_, v)| v.newest()))
    }

    /// Folds stable increments.
    pub fn compact(&mut self, stable: &VersionVector) {
        for (_, v) in self.fields.iter_mut() {
            v.compact(stable);
        }
    }

    /// Folds the stable increments of one field.
    pub fn compact_field(&mut self, field: &[u8], stable: &VersionVector) {
        if let Some(v) = self.fields.get_mut(field) {
            v.compact(stable);
        }
    }

    /// Joins with another replica's map.
    pub fn merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        let empty = Counted::default();
        self.fields.retain(|k, v| {
            v.merge(mine, other.fields.get(k).unwrap_or(&empty), theirs);
            !v.is_empty()
        });
        for (k, ov) in other.fields.iter() {
            if self.fields.contains_key(k) {
                continue;
            }
            let mut v = Counted::default();
            v.merge(mine, ov, theirs);
            if !v.is_empty() {
                self.fields.insert(k.into(), v);
            }
        }
    }

    /// Feeds a canonical encoding into `d`.
    pub fn digest(&self, d: &mut Digest) {
        let mut v: Vec<(&[u8], &Counted<Blob>)> = self.fields.iter().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        d.u64(v.len() as u64);
        for (k, c) in v {
            d.bytes(k);
            c.digest(d, |b, d| d.bytes(b));
        }
    }
}
