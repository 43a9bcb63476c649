//! The in-memory op log: groups of ops in apply order, bounded by a byte budget. Peers are
//! served from it (the replication backlog). Each group is held encoded, once: every link
//! sends the same bytes, and the budget counts what is held.

use concord_crdt::codec;
use concord_crdt::{Dot, Op, VersionVector};
use std::collections::VecDeque;
use std::sync::Arc;

/// One group held: one origin's ops in sequence (every group is; see [`OpLog::push`]),
/// told by its first dot and count, and its encoding ([`codec::encode_group`]).
#[derive(Clone, Debug)]
pub struct Held {
    first: Dot,
    count: u32,
    /// The group encoded, shared by every link that sends it.
    pub bytes: Arc<[u8]>,
}

/// Bytes of encoding buffer the log keeps between groups.
const SCRATCH_KEEP: usize = 64 * 1024;

/// What a held group costs beyond its encoding: the entry and the allocation's header.
const HELD_OVERHEAD: usize = std::mem::size_of::<Held>() + 16;

impl Held {
    /// Encodes `run` (one origin's ops in sequence, at most `u32::MAX`) through `scratch`
    /// (kept by the log, so the only allocation is the shared one).
    fn new(run: &[Op], scratch: &mut Vec<u8>) -> Self {
        assert!(!run.is_empty() && run.len() <= u32::MAX as usize);
        scratch.clear();
        codec::encode_group_into(run, scratch);
        Held {
            first: run[0].dot(),
            count: run.len() as u32,
            bytes: Arc::from(&scratch[..]),
        }
    }

    /// Bytes it costs (the budget's unit).
    fn size(&self) -> usize {
        self.bytes.len() + HELD_OVERHEAD
    }

    /// The dot of its first op.
    pub fn first(&self) -> Dot {
        self.first
    }

    /// The dots of its ops, in order.
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        (0..u64::from(self.count))
            .map(|i| Dot::new(self.first.origin, self.first.seq.wrapping_add(i)))
    }

    /// Its ops, decoded again (tests and tools; links send the bytes).
    pub fn decode(&self) -> Vec<Op> {
        codec::decode_group(&self.bytes).expect("a group this instance encoded decodes")
    }
}

/// Applied op groups, oldest first, trimmed to a byte budget.
///
/// Groups have absolute positions (0 for the first ever appended) so that a reader can keep
/// a cursor across trims. Per origin, the log holds a suffix of what was applied: `floor`
/// says how far each origin's ops are *not* held (trimmed, or learnt from a snapshot).
#[derive(Debug)]
pub struct OpLog {
    groups: VecDeque<Held>,
    bytes: usize,
    budget: usize,
    /// Groups ever appended, including trimmed ones: the position after the last group.
    appended: u64,
    floor: VersionVector,
    /// Where groups are encoded before they get their own allocation.
    scratch: Vec<u8>,
}

impl OpLog {
    /// An empty log holding at most `budget` bytes (approximately).
    pub fn new(budget: usize) -> Self {
        OpLog {
            groups: VecDeque::new(),
            bytes: 0,
            budget,
            appended: 0,
            floor: VersionVector::new(),
            scratch: Vec::new(),
        }
    }

    /// Whether the log holds nothing at all (a budget of 0): callers may then skip
    /// building groups and call [`OpLog::skip`] instead.
    pub fn keeps_nothing(&self) -> bool {
        self.budget == 0
    }

    /// Records the dot of an op that was applied but not kept (a log that keeps nothing).
    pub fn skip_dot(&mut self, dot: concord_crdt::Dot) {
        debug_assert!(self.groups.is_empty());
        self.floor.add(dot);
    }

    /// Counts a group nobody keeps, recording its ops' dots as passed.
    pub fn skip(&mut self, ops: &[Op]) {
        debug_assert!(self.groups.is_empty());
        for op in ops {
            self.floor.add(op.dot());
        }
        self.appended += 1;
    }

    /// Appends a group (encoding it) and trims the oldest groups past the budget. Every
    /// group a peer sends or this instance issues is one origin's ops in sequence; any
    /// other (a replayed file's) is held as one group per such run.
    pub fn push(&mut self, group: &[Op]) {
        assert!(!group.is_empty(), "an empty group");
        if self.budget == 0 {
            self.skip(group);
            return;
        }
        let mut rest = group;
        while !rest.is_empty() {
            let run = concord_crdt::run_len(rest).min(u32::MAX as usize);
            let held = Held::new(&rest[..run], &mut self.scratch);
            rest = &rest[run..];
            self.bytes += held.size();
            self.groups.push_back(held);
            self.appended += 1;
        }
        if self.scratch.capacity() > SCRATCH_KEEP {
            // One huge group does not keep its buffer.
            self.scratch = Vec::new();
        }
        while self.bytes > self.budget && self.groups.len() > 1 {
            if let Some(g) = self.groups.pop_front() {
                self.bytes -= g.size();
                for d in g.dots() {
                    self.floor.add(d);
                }
            }
        }
    }

    /// Records that ops up to `vv` were applied without passing through the log (a
    /// snapshot merge): a reader behind them cannot be served from here.
    pub fn raise_floor(&mut self, vv: &VersionVector) {
        self.floor.join(vv);
    }

    /// Per origin, the last sequence number this log does not hold.
    pub fn floor(&self) -> &VersionVector {
        &self.floor
    }

    /// Changes the byte budget (trimming happens on the next push; a budget of 0 drops
    /// everything held now).
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        if budget == 0 {
            while let Some(g) = self.groups.pop_front() {
                self.bytes -= g.size();
                for d in g.dots() {
                    self.floor.add(d);
                }
            }
        }
    }

    /// The byte budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The groups held, oldest first.
    pub fn groups(&self) -> impl Iterator<Item = &Held> {
        self.groups.iter()
    }

    /// The position of the oldest group held.
    pub fn first_position(&self) -> u64 {
        self.appended - self.groups.len() as u64
    }

    /// The position the next group will get.
    pub fn end_position(&self) -> u64 {
        self.appended
    }

    /// The group at absolute position `pos`, if still held.
    pub fn at(&self, pos: u64) -> Option<&Held> {
        let first = self.first_position();
        if pos < first {
            return None;
        }
        self.groups.get((pos - first) as usize)
    }

    /// Bytes held: encodings and their entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Groups held.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Groups ever appended.
    pub fn appended(&self) -> u64 {
        self.appended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_crdt::{Dot, Hlc, OpKind, Origin, Stamp};

    fn group(seq: u64) -> Vec<Op> {
        vec![Op {
            stamp: Stamp::new(Dot::new(Origin::new(1, 1), seq), Hlc(seq)),
            deps: Arc::new(VersionVector::new()),
            key: b"k".to_vec().into(),
            kind: OpKind::DelKey,
        }]
    }

    /// A group of one origin's ops in sequence is held whole; any other (only a replayed
    /// file could hold one) as one group per run, every dot accounted for.
    #[test]
    fn groups_are_held_as_runs_of_one_origin() {
        let op = |id: u16, seq: u64| Op {
            stamp: Stamp::new(Dot::new(Origin::new(id, 1), seq), Hlc(seq)),
            deps: Arc::new(VersionVector::new()),
            key: b"k".to_vec().into(),
            kind: OpKind::DelKey,
        };
        let mut log = OpLog::new(1 << 20);
        log.push(&[op(1, 1), op(1, 2), op(1, 3)]);
        assert_eq!(log.len(), 1);
        log.push(&[op(1, 4), op(2, 1), op(2, 2), op(1, 6), op(1, u64::MAX)]);
        assert_eq!(log.len(), 5);
        let dots: Vec<(u16, u64)> = log
            .groups()
            .flat_map(|g| g.dots().map(|d| (d.origin.id, d.seq)))
            .collect();
        assert_eq!(
            dots,
            [
                (1, 1),
                (1, 2),
                (1, 3),
                (1, 4),
                (2, 1),
                (2, 2),
                (1, 6),
                (1, u64::MAX)
            ]
        );
        assert_eq!(log.at(2).map(Held::decode), Some(vec![op(2, 1), op(2, 2)]));
    }

    #[test]
    fn trimming_raises_the_floor_and_keeps_positions() {
        let mut log = OpLog::new(1);
        for s in 1..=5 {
            log.push(&group(s));
        }
        assert_eq!(log.len(), 1);
        assert_eq!(log.first_position(), 4);
        assert_eq!(log.end_position(), 5);
        assert_eq!(log.floor().get(Origin::new(1, 1)), 4);
        assert!(log.at(3).is_none());
        assert_eq!(log.at(4).map(|g| g.first().seq), Some(5));
        assert_eq!(log.at(4).map(Held::decode), Some(group(5)));
    }
}
