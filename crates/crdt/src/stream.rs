//! Streams: entries keyed by id (and by the dot that added them, so equal ids from two
//! instances both survive), observed-remove deletion, and max-merged metadata.
//!
//! Every instance appends its own entries; a read walks the one ordered map, which is the
//! merge of every instance's part by id. In the default strict id mode the sequence
//! number carries the instance id, so ids never collide.

use crate::clock::{Dot, Origin, Stamp};
use crate::coll::Blob;
use crate::ctx::Seen;
use crate::digest::Digest;
use crate::vv::VersionVector;
use std::collections::BTreeMap;
use std::fmt;

/// A stream entry id: milliseconds and a sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The largest id.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// Builds an id.
    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// The next id in order, if any.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous id in order, if any.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The key of an entry: its id, then the dot of the XADD that made it.
pub type EntryKey = (StreamId, Dot);

/// A consumer group's replicated part: where it starts and how far it delivered from each
/// instance's part of the stream. Consumers and pending entries are per instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The start id (CREATE, SETID): a last-writer-wins register.
    pub start: StreamId,
    /// The write that set `start`.
    pub start_set: Stamp,
    /// Per part (the instance id in an entry's dot), the largest id delivered after the
    /// start was set.
    pub delivered: BTreeMap<u16, (StreamId, Stamp)>,
    /// entries-read (introspection): last writer wins; `None` when unknown.
    pub read: Option<i64>,
    /// The write that set `read`.
    pub read_set: Stamp,
}

impl Group {
    /// The last id delivered from `part`.
    pub fn cursor(&self, part: u16) -> StreamId {
        match self.delivered.get(&part) {
            Some((id, s)) if s.wins_over(&self.start_set) => *id,
            _ => self.start,
        }
    }

    /// The largest id delivered from any part (last-delivered-id).
    pub fn last_delivered(&self) -> StreamId {
        self.delivered
            .keys()
            .map(|p| self.cursor(*p))
            .fold(self.start, StreamId::max)
    }

    fn set_start(&mut self, stamp: Stamp, id: StreamId, read: Option<i64>) {
        if stamp.wins_over(&self.start_set) {
            self.start = id;
            self.start_set = stamp;
            self.delivered.retain(|_, (_, s)| s.wins_over(&stamp));
        }
        self.set_read(stamp, read);
    }

    /// Whether `vv` covers every write the group's state comes from.
    fn seen_by(&self, vv: &VersionVector) -> bool {
        vv.contains(&self.start_set.dot)
            && vv.contains(&self.read_set.dot)
            && self.delivered.values().all(|(_, s)| vv.contains(&s.dot))
    }

    fn set_read(&mut self, stamp: Stamp, read: Option<i64>) {
        if stamp.wins_over(&self.read_set) {
            self.read = read;
            self.read_set = stamp;
        }
    }

    fn advance(&mut self, stamp: Stamp, part: u16, id: StreamId, read: Option<i64>) {
        if !stamp.wins_over(&self.start_set) {
            return;
        }
        self.set_read(stamp, read);
        let e = self.delivered.entry(part).or_insert((id, stamp));
        if id > e.0 {
            *e = (id, stamp);
        }
    }

    fn join(&mut self, other: &Group) {
        if other.start_set.wins_over(&self.start_set) {
            self.start = other.start;
            self.start_set = other.start_set;
            let s0 = other.start_set;
            self.delivered.retain(|_, (_, s)| s.wins_over(&s0));
        }
        self.set_read(other.read_set, other.read);
        for (p, (id, s)) in &other.delivered {
            if s.wins_over(&self.start_set) {
                let e = self.delivered.entry(*p).or_insert((*id, *s));
                if *id > e.0 {
                    *e = (*id, *s);
                }
            }
        }
    }
}

/// A stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stream {
    /// Consumer groups by name.
    pub groups: BTreeMap<Blob, Group>,
    /// Group removals not known stable yet, by name: an op on the group that has not seen
    /// them is dropped (delete-wins, SEMANTICS.md rule 3).
    destroyed: BTreeMap<Blob, Vec<Dot>>,
    /// Entries in id order; values are the flat field/value list.
    entries: BTreeMap<EntryKey, Box<[Blob]>>,
    /// The surviving writes that made the key a stream (XADD, XGROUP CREATE MKSTREAM), the
    /// newest per origin: an emptied stream still exists until a DEL that saw them.
    made: Vec<Stamp>,
    /// The last generated id: a last-writer-wins register written by XADD and XSETID.
    pub last_id: StreamId,
    /// The write that set `last_id`.
    last_set: Option<Stamp>,
    /// The largest id ever deleted (max-deleted-entry-id).
    pub max_deleted: StreamId,
    /// Entries ever added, per origin (their sum is entries-added).
    added: BTreeMap<Origin, u64>,
    /// A floor for entries-added set by XSETID ENTRIESADDED.
    added_floor: u64,
}

impl Stream {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing at all is kept (no value, no kept group removal).
    pub fn is_empty(&self) -> bool {
        !self.exists() && self.destroyed.is_empty()
    }

    /// Whether the key holds a stream (entries, a creating write, or groups).
    pub fn exists(&self) -> bool {
        !self.entries.is_empty() || !self.made.is_empty() || !self.groups.is_empty()
    }

    fn group_op_dropped(&self, name: &[u8], seen: &impl Seen) -> bool {
        self.destroyed
            .get(name)
            .is_some_and(|d| d.iter().any(|x| !seen.seen(x)))
    }

    /// XGROUP CREATE (`create`) or SETID: the group starts after `id`. A concurrent create
    /// of the same name: the later write's start wins; SETID of a missing group: nothing.
    pub fn group_start(
        &mut self,
        stamp: Stamp,
        seen: &impl Seen,
        name: &[u8],
        (id, read): (StreamId, Option<i64>),
        create: bool,
    ) {
        if self.group_op_dropped(name, seen) {
            return;
        }
        match self.groups.get_mut(name) {
            Some(g) => g.set_start(stamp, id, read),
            None if create => {
                self.groups.insert(
                    name.into(),
                    Group {
                        start: id,
                        start_set: stamp,
                        delivered: BTreeMap::new(),
                        read,
                        read_set: stamp,
                    },
                );
            }
            None => {}
        }
    }

    /// XREADGROUP delivered up to `id` from `part`.
    pub fn group_advance(
        &mut self,
        stamp: Stamp,
        seen: &impl Seen,
        name: &[u8],
        part: u16,
        id: StreamId,
        read: Option<i64>,
    ) {
        if self.group_op_dropped(name, seen) {
            return;
        }
        if let Some(g) = self.groups.get_mut(name) {
            g.advance(stamp, part, id, read);
        }
    }

    /// Whether a deleted entry may lie at or after `from` (Redis's tombstone check).
    pub fn tombstones_after(&self, from: StreamId) -> bool {
        let Some((first, _)) = self.first() else {
            return false;
        };
        if self.max_deleted == StreamId::default() || first.0 > self.max_deleted {
            return false;
        }
        from <= self.max_deleted
    }

    /// Redis's estimate of how many entries precede and include `id`; `None` when unknown.
    pub fn distance_from_first(&self, id: StreamId) -> Option<i64> {
        let added = self.entries_added() as i64;
        if added == 0 {
            return Some(0);
        }
        let last = self.top();
        if self.entries.is_empty() && id <= last {
            return Some(added);
        }
        if id == last {
            return Some(added);
        }
        if id > last {
            return None;
        }
        let first = self.first().map(|(k, _)| k.0).unwrap_or_default();
        if self.max_deleted == StreamId::default() || self.max_deleted < first {
            if id < first {
                return Some(added - self.len() as i64);
            }
            if id == first {
                return Some(added - self.len() as i64 + 1);
            }
        }
        None
    }

    /// XGROUP DESTROY (or a DEL of the key that saw the group): removes the group, and
    /// every concurrent op on it, until stable.
    pub fn group_destroy(&mut self, dot: Dot, name: &[u8]) {
        self.groups.remove(name);
        let d = self.destroyed.entry(name.into()).or_default();
        if !d.contains(&dot) {
            d.push(dot);
        }
    }

    /// Drops the group removals every member has seen.
    pub fn compact(&mut self, stable: &VersionVector) {
        self.destroyed.retain(|_, d| {
            d.retain(|x| !stable.contains(x));
            !d.is_empty()
        });
    }

    /// The kept group removals (for snapshots).
    pub fn destroyed(&self) -> impl Iterator<Item = (&Blob, &Vec<Dot>)> {
        self.destroyed.iter()
    }

    /// Adds a kept group removal decoded from a snapshot.
    pub fn set_destroyed(&mut self, name: Blob, dots: Vec<Dot>) {
        self.destroyed.insert(name, dots);
    }

    /// Entries in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&EntryKey, &[Blob])> {
        self.entries.iter().map(|(k, v)| (k, &v[..]))
    }

    /// Entries whose id is within `from..=to`.
    pub fn range(
        &self,
        from: StreamId,
        to: StreamId,
    ) -> impl DoubleEndedIterator<Item = (&EntryKey, &[Blob])> {
        let lo = (from, Dot::new(Origin::new(0, 0), 0));
        let hi = (to, Dot::new(Origin::new(u16::MAX, u32::MAX), u64::MAX));
        let r = if from <= to {
            Some(self.entries.range(lo..=hi))
        } else {
            None
        };
        r.into_iter().flatten().map(|(k, v)| (k, &v[..]))
    }

    /// The first and last entries.
    pub fn first(&self) -> Option<(&EntryKey, &[Blob])> {
        self.entries.iter().next().map(|(k, v)| (k, &v[..]))
    }

    /// The last entry.
    pub fn last(&self) -> Option<(&EntryKey, &[Blob])> {
        self.entries.iter().next_back().map(|(k, v)| (k, &v[..]))
    }

    /// The largest id in use: the last generated id or a larger entry's.
    pub fn top(&self) -> StreamId {
        let last = self.entries.keys().next_back().map(|k| k.0);
        last.map_or(self.last_id, |l| l.max(self.last_id))
    }

    /// entries-added.
    pub fn entries_added(&self) -> u64 {
        self.added.values().sum::<u64>().max(self.added_floor)
    }

    fn made_by(&mut self, stamp: Stamp, seen: &impl Seen) {
        self.made.retain(|s| !seen.seen(&s.dot));
        self.made.push(stamp);
    }

    /// XADD: an entry with the op's dot.
    pub fn add(&mut self, stamp: Stamp, seen: &impl Seen, id: StreamId, fields: &[Blob]) {
        self.made_by(stamp, seen);
        self.entries.insert((id, stamp.dot), fields.into());
        self.set_last(stamp, id);
        *self.added.entry(stamp.dot.origin).or_insert(0) += 1;
    }

    /// XGROUP CREATE ... MKSTREAM: makes the key a stream.
    pub fn create(&mut self, stamp: Stamp, seen: &impl Seen) {
        self.made_by(stamp, seen);
    }

    /// XDEL / trimming: removes the given entries (they were seen by the remover); XDEL
    /// (`record`) raises max-deleted-entry-id, trimming does not, as in Redis.
    pub fn delete(&mut self, keys: &[EntryKey], record: bool) {
        for k in keys {
            self.entries.remove(k);
            if record {
                self.max_deleted = self.max_deleted.max(k.0);
            }
        }
    }

    fn set_last(&mut self, stamp: Stamp, id: StreamId) {
        if self.last_set.is_none_or(|s| stamp.wins_over(&s)) {
            self.last_set = Some(stamp);
            self.last_id = id;
        }
    }

    /// XSETID: sets the last id; raises the counters.
    pub fn set_id(
        &mut self,
        stamp: Stamp,
        id: StreamId,
        added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) {
        self.set_last(stamp, id);
        if let Some(a) = added {
            self.added_floor = self.added_floor.max(a);
        }
        if let Some(m) = max_deleted {
            self.max_deleted = self.max_deleted.max(m);
        }
    }

    /// Removes everything seen (DEL, a type change).
    pub fn remove_all(&mut self, seen: &impl Seen) {
        self.entries.retain(|k, _| !seen.seen(&k.1));
        self.made.retain(|s| !seen.seen(&s.dot));
    }

    /// The newest surviving write, for the type choice of a key.
    pub fn newest(&self) -> Option<Stamp> {
        let mut best: Option<Stamp> = None;
        for s in self
            .made
            .iter()
            .chain(self.groups.values().map(|g| &g.start_set))
        {
            if best.is_none_or(|b| s.wins_over(&b)) {
                best = Some(*s);
            }
        }
        best
    }

    /// The creating writes (for snapshots).
    pub fn made(&self) -> &[Stamp] {
        &self.made
    }

    /// Per-origin added counts and the floor (for snapshots).
    pub fn added_counts(&self) -> (impl Iterator<Item = (&Origin, &u64)>, u64) {
        (self.added.iter(), self.added_floor)
    }

    /// The write that set the last id (for snapshots).
    pub fn last_set(&self) -> Option<Stamp> {
        self.last_set
    }

    /// Rebuilds a stream from a snapshot's parts.
    pub fn from_parts(
        entries: Vec<(EntryKey, Box<[Blob]>)>,
        made: Vec<Stamp>,
        last: (StreamId, Option<Stamp>),
        max_deleted: StreamId,
        added: Vec<(Origin, u64)>,
        added_floor: u64,
    ) -> Stream {
        Stream {
            groups: BTreeMap::new(),
            destroyed: BTreeMap::new(),
            entries: entries.into_iter().collect(),
            made,
            last_id: last.0,
            last_set: last.1,
            max_deleted,
            added: added.into_iter().collect(),
            added_floor,
        }
    }

    /// Joins with another replica's stream: entries and creating writes one side lacks
    /// survive when that side had not seen them; metadata merges by maximum.
    pub fn merge(&mut self, mine: &VersionVector, other: &Stream, theirs: &VersionVector) {
        self.entries
            .retain(|k, _| other.entries.contains_key(k) || !theirs.contains(&k.1));
        for (k, v) in &other.entries {
            if !self.entries.contains_key(k) && !mine.contains(&k.1) {
                self.entries.insert(*k, v.clone());
            }
        }
        let mut made: Vec<Stamp> = self
            .made
            .iter()
            .filter(|s| other.made.contains(s) || !theirs.contains(&s.dot))
            .copied()
            .collect();
        for s in &other.made {
            if !made.contains(s) && !mine.contains(&s.dot) {
                made.push(*s);
            }
        }
        made.sort_by_key(|s| s.dot);
        self.made = made;
        if let Some(s) = other.last_set {
            self.set_last(s, other.last_id);
        }
        self.max_deleted = self.max_deleted.max(other.max_deleted);
        for (o, n) in &other.added {
            let e = self.added.entry(*o).or_insert(0);
            *e = (*e).max(*n);
        }
        self.added_floor = self.added_floor.max(other.added_floor);
        // Groups: a kept removal one side holds drops the other side's group unless that
        // side had seen the removal; a group one side lacks although it has seen every
        // write behind it was destroyed there (by a removal maybe collected as stable and
        // then lost by this side in a crash), so it goes; otherwise the registers join.
        self.groups
            .retain(|name, g| other.groups.contains_key(name) || !g.seen_by(theirs));
        for (name, dots) in &other.destroyed {
            if dots.iter().any(|d| !mine.contains(d)) {
                self.groups.remove(name);
            }
            let mine_d = self.destroyed.entry(name.clone()).or_default();
            for d in dots {
                if !mine_d.contains(d) {
                    mine_d.push(*d);
                }
            }
            mine_d.sort();
        }
        for (name, g) in &other.groups {
            let dropped = self
                .destroyed
                .get(name)
                .is_some_and(|d| d.iter().any(|x| !theirs.contains(x)));
            if dropped {
                continue;
            }
            match self.groups.get_mut(name) {
                Some(mine_g) => mine_g.join(g),
                None if g.seen_by(mine) => {}
                None => {
                    self.groups.insert(name.clone(), g.clone());
                }
            }
        }
    }

    /// Feeds the groups' names, starts and cursors into `d`.
    pub fn digest_groups(&self, d: &mut Digest) {
        d.u64(self.groups.len() as u64);
        for (name, g) in &self.groups {
            d.bytes(name);
            d.u64(g.start.ms);
            d.u64(g.start.seq);
            for p in g.delivered.keys() {
                let c = g.cursor(*p);
                d.u64(u64::from(*p));
                d.u64(c.ms);
                d.u64(c.seq);
            }
        }
    }

    /// Feeds a canonical encoding into `d`: entries and what makes the key a stream. The
    /// counters are introspection (XINFO) and depend on when a DEL dropped them.
    pub fn digest(&self, d: &mut Digest) {
        d.u64(self.entries.len() as u64);
        for ((id, dot), v) in &self.entries {
            d.u64(id.ms);
            d.u64(id.seq);
            d.u64(u64::from(dot.origin.id));
            d.u64(dot.seq);
            d.u64(v.len() as u64);
            for b in v.iter() {
                d.bytes(b);
            }
        }
        self.digest_groups(d);
        let mut made = self.made.clone();
        made.sort_by_key(|s| s.dot);
        d.u64(made.len() as u64);
        for s in made {
            d.u64(u64::from(s.dot.origin.id));
            d.u64(s.dot.seq);
        }
    }
}
