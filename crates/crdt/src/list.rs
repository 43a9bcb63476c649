//! Lists: a sequence CRDT with dense, totally ordered positions.
//!
//! Every element has a position that is also its identity: a path of levels, each a digit
//! and the dot of the op that made it (plus the element's index in that op). Positions are
//! compared level by level, so every instance orders the same elements the same way
//! whatever the delivery order. An insert picks a digit strictly between its visible
//! neighbours at the shallowest level with room; the elements of one op share everything
//! but their index, so they stay contiguous next to any concurrent insert at the same place.
//!
//! Because a position never depends on other elements once chosen, a removal deletes the
//! element outright: with causal delivery no op can arrive that needs it, so removals keep
//! no tombstones and a queue pushed and popped forever keeps bounded memory. LSET is a
//! last-writer-wins register on the element; a removal of the element beats it.

use crate::clock::{Dot, Hlc, Origin, ReplicaId, Stamp};
use crate::coll::Blob;
use crate::ctx::Seen;
use crate::digest::Digest;
use crate::small::SmallBlob;
use crate::vv::VersionVector;
use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

/// The digit the first element of an empty list gets: the middle leaves room both ways.
pub const MID: u64 = 1 << 63;

/// One level of a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level {
    /// Chosen between the neighbours' digits.
    pub digit: u64,
    /// The instance of the op that chose it.
    pub id: ReplicaId,
    /// Its incarnation.
    pub incarnation: u32,
    /// Its sequence number.
    pub seq: u64,
    /// The element's index among the op's elements.
    pub idx: u32,
}

impl Level {
    /// The level an op with dot `dot` gives its `idx`-th element.
    pub fn new(digit: u64, dot: Dot, idx: u32) -> Self {
        Level {
            digit,
            id: dot.origin.id,
            incarnation: dot.origin.incarnation,
            seq: dot.seq,
            idx,
        }
    }

    /// The dot of the op that made this level.
    pub fn dot(&self) -> Dot {
        Dot::new(Origin::new(self.id, self.incarnation), self.seq)
    }
}

/// A position: its first level inline (almost every position has one), deeper ones behind
/// one thin pointer (so an element of a list stays small).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    head: Level,
    // A thin pointer (8 bytes, not a boxed slice's 16): deep positions are rare, and every
    // element pays for the field.
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Level>>>,
}

impl Pos {
    /// Builds a position from its levels; `None` when there are none.
    pub fn from_levels(levels: &[Level]) -> Option<Pos> {
        let (&head, rest) = levels.split_first()?;
        Some(Pos {
            head,
            rest: (!rest.is_empty()).then(|| Box::new(rest.to_vec())),
        })
    }

    /// The position of the `idx`-th element of an op: `prefix`, then its own level.
    pub fn child(prefix: &[Level], digit: u64, dot: Dot, idx: u32) -> Pos {
        let own = Level::new(digit, dot, idx);
        match prefix.split_first() {
            None => Pos {
                head: own,
                rest: None,
            },
            Some((&head, more)) => {
                let mut rest = Vec::with_capacity(more.len() + 1);
                rest.extend_from_slice(more);
                rest.push(own);
                Pos {
                    head,
                    rest: Some(Box::new(rest)),
                }
            }
        }
    }

    /// The number of levels.
    pub fn depth(&self) -> usize {
        1 + self.rest.as_ref().map_or(0, |r| r.len())
    }

    /// The `k`-th level.
    pub fn level(&self, k: usize) -> Option<&Level> {
        if k == 0 {
            Some(&self.head)
        } else {
            self.rest.as_ref()?.get(k - 1)
        }
    }

    /// Every level, outermost first.
    pub fn levels(&self) -> impl Iterator<Item = &Level> {
        std::iter::once(&self.head).chain(self.rest.iter().flat_map(|r| r.iter()))
    }

    /// The dot of the op that inserted the element (its last level's).
    pub fn dot(&self) -> Dot {
        self.rest
            .as_ref()
            .and_then(|r| r.last())
            .unwrap_or(&self.head)
            .dot()
    }
}

impl Ord for Pos {
    fn cmp(&self, other: &Self) -> Ordering {
        self.head.cmp(&other.head).then_with(|| {
            let a: &[Level] = self.rest.as_deref().map_or(&[], |r| r.as_slice());
            let b: &[Level] = other.rest.as_deref().map_or(&[], |r| r.as_slice());
            a.cmp(b)
        })
    }
}

impl PartialOrd for Pos {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// No position is left between two neighbours (needs about 2^63 inserts at one place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ERR no list position left between these elements")]
pub struct Exhausted;

/// Chooses where an op's elements go strictly between `left` and `right` (`None` = an
/// end): the levels they share and the digit of their own level.
pub fn between(left: Option<&Pos>, right: Option<&Pos>) -> Result<(Vec<Level>, u64), Exhausted> {
    if let (Some(l), Some(r)) = (left, right) {
        debug_assert!(l < r, "neighbours out of order");
        if l >= r {
            return Err(Exhausted);
        }
    }
    // `bounded`: the new position still equals `right` on every level above `k`, so its
    // digit at `k` must stay below right's.
    let mut bounded = right.is_some();
    let mut k = 0;
    loop {
        let lo = left.and_then(|l| l.level(k)).map(|l| l.digit);
        let hi = if bounded {
            match right.and_then(|r| r.level(k)) {
                Some(r) => Some(r.digit),
                // Equal on every level so far and shorter: right < left, impossible.
                None => return Err(Exhausted),
            }
        } else {
            None
        };
        let l = lo.map_or(-1i128, i128::from);
        let h = hi.map_or(i128::from(u64::MAX) + 1, i128::from);
        if h - l >= 2 {
            let digit = match (lo, hi) {
                (None, None) => MID,
                (Some(l), None) => l + 1,
                (None, Some(h)) => h - 1,
                (Some(l), Some(h)) => l + (h - l) / 2,
            };
            let prefix = left.map_or(Vec::new(), |p| p.levels().take(k).copied().collect());
            return Ok((prefix, digit));
        }
        // No room at this level: go one deeper below left's level.
        let Some(llev) = left.and_then(|p| p.level(k)) else {
            return Err(Exhausted);
        };
        if bounded && right.and_then(|r| r.level(k)) != Some(llev) {
            bounded = false;
        }
        k += 1;
    }
}

/// One element.
#[derive(Clone, Debug, PartialEq)]
pub struct Elem {
    /// Its position and identity.
    pub pos: Pos,
    /// Its value (short ones inline).
    pub value: SmallBlob,
    /// The timestamp of the write its value comes from (insert or LSET).
    pub ts: Hlc,
}

/// A list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    items: VecDeque<Elem>,
    /// The LSET writes that are not known stable yet, to decide against concurrent ones.
    sets: HashMap<Pos, Stamp>,
}

impl List {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The element at `i`.
    pub fn get(&self, i: usize) -> Option<&Elem> {
        self.items.get(i)
    }

    /// The elements in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Elem> + ExactSizeIterator {
        self.items.iter()
    }

    /// The elements of `i..j`.
    pub fn range(&self, i: usize, j: usize) -> impl DoubleEndedIterator<Item = &Elem> {
        self.items.range(i..j)
    }

    /// Where `pos` is, or where it would go.
    pub fn find(&self, pos: &Pos) -> Result<usize, usize> {
        // Pushes and pops work at the ends: look there before searching.
        match self.items.back() {
            None => return Err(0),
            Some(b) => match b.pos.cmp(pos) {
                Ordering::Less => return Err(self.items.len()),
                Ordering::Equal => return Ok(self.items.len() - 1),
                Ordering::Greater => {}
            },
        }
        match self.items[0].pos.cmp(pos) {
            Ordering::Greater => return Err(0),
            Ordering::Equal => return Ok(0),
            Ordering::Less => {}
        }
        self.items.binary_search_by(|e| e.pos.cmp(pos))
    }

    /// Where an op's elements go between the elements at `i - 1` and `i` (`i` = 0: the
    /// head; `i` = len: the tail).
    pub fn place(&self, i: usize) -> Result<(Vec<Level>, u64), Exhausted> {
        let left = i.checked_sub(1).and_then(|j| self.items.get(j));
        let right = self.items.get(i);
        between(left.map(|e| &e.pos), right.map(|e| &e.pos))
    }

    /// Inserts the elements of one op, in order: `values[i]` at `prefix ++ (digit, dot, i)`.
    pub fn insert(&mut self, stamp: Stamp, prefix: &[Level], digit: u64, values: &[Blob]) {
        self.insert_values(
            stamp,
            prefix,
            digit,
            values.iter().map(|v| SmallBlob::new(v)),
        );
    }

    /// [`List::insert`] taking the values instead of copying them.
    pub fn insert_values(
        &mut self,
        stamp: Stamp,
        prefix: &[Level],
        digit: u64,
        values: impl IntoIterator<Item = SmallBlob>,
    ) {
        let mut at = None;
        for (i, v) in values.into_iter().enumerate() {
            let pos = Pos::child(prefix, digit, stamp.dot, i as u32);
            let j = match at {
                // Nothing can sit between two elements of one op: the next goes right after.
                Some(j) if self.items.get(j).is_none_or(|e: &Elem| e.pos > pos) => j,
                _ => match self.find(&pos) {
                    Ok(_) => continue,
                    Err(j) => j,
                },
            };
            let e = Elem {
                pos,
                value: v,
                ts: stamp.ts,
            };
            if j == self.items.len() {
                self.items.push_back(e);
            } else if j == 0 {
                self.items.push_front(e);
            } else {
                self.items.insert(j, e);
            }
            at = Some(j + 1);
        }
    }

    /// Removes the elements between `from` and `to` (inclusive) that `seen` covers.
    pub fn remove_range(&mut self, from: &Pos, to: &Pos, seen: &impl Seen) {
        let i = self.find(from).unwrap_or_else(|i| i);
        let j = match self.find(to) {
            Ok(j) => j + 1,
            Err(j) => j,
        };
        if i >= j {
            return;
        }
        if self.items.range(i..j).all(|e| seen.seen(&e.pos.dot())) {
            self.forget_sets(i, j);
            self.items.drain(i..j);
        } else {
            let mut k = i;
            let mut end = j;
            while k < end {
                if seen.seen(&self.items[k].pos.dot()) {
                    self.forget_sets(k, k + 1);
                    self.items.remove(k);
                    end -= 1;
                } else {
                    k += 1;
                }
            }
        }
        self.shrink();
    }

    fn forget_sets(&mut self, i: usize, j: usize) {
        if !self.sets.is_empty() {
            for e in self.items.range(i..j) {
                self.sets.remove(&e.pos);
            }
        }
    }

    fn shrink(&mut self) {
        // Give memory back when a large list has mostly drained.
        if self.items.capacity() > 64 && self.items.len() < self.items.capacity() / 4 {
            self.items.shrink_to(self.items.len() * 2);
        }
    }

    /// LSET: a register write of the element at `pos`; nothing when it is gone (a
    /// concurrent removal wins).
    pub fn set(&mut self, pos: &Pos, stamp: Stamp, value: &Blob) {
        let Ok(i) = self.find(pos) else { return };
        let sets = &mut self.sets;
        // Without a record the current value is causally older than any write that saw
        // the element (its insert, or an LSET already known stable).
        if sets.get(pos).is_some_and(|cur| !stamp.wins_over(cur)) {
            return;
        }
        sets.insert(pos.clone(), stamp);
        let e = &mut self.items[i];
        e.value = SmallBlob::new(value);
        e.ts = stamp.ts;
    }

    /// Removes every element `seen` covers.
    pub fn remove_all(&mut self, seen: &impl Seen) {
        self.sets.retain(|p, _| !seen.seen(&p.dot()));
        self.items.retain(|e| !seen.seen(&e.pos.dot()));
        self.shrink();
    }

    /// The newest surviving write, for the type choice of a key.
    pub fn newest(&self) -> Option<Stamp> {
        let mut best: Option<Stamp> = None;
        for e in &self.items {
            let s = Stamp::new(e.pos.dot(), e.ts);
            if best.is_none_or(|b| s.wins_over(&b)) {
                best = Some(s);
            }
        }
        best
    }

    /// Drops the LSET records every member has seen.
    pub fn compact(&mut self, stable: &VersionVector) {
        self.sets.retain(|_, st| !stable.contains(&st.dot));
        if self.sets.is_empty() && self.sets.capacity() > 0 {
            self.sets = HashMap::new();
        }
    }

    /// The LSET records (for snapshots).
    pub fn sets(&self) -> impl Iterator<Item = (&Pos, &Stamp)> {
        self.sets.iter()
    }

    /// Appends an element decoded from a snapshot; `false` when out of order.
    pub fn push_raw(&mut self, e: Elem) -> bool {
        if self.items.back().is_some_and(|b| b.pos >= e.pos) {
            return false;
        }
        self.items.push_back(e);
        true
    }

    /// Adds an LSET record decoded from a snapshot.
    pub fn set_raw(&mut self, pos: Pos, stamp: Stamp) {
        self.sets.insert(pos, stamp);
    }

    /// Joins with another replica's list: an element one side lacks survives when that
    /// side had not seen it; values of elements on both sides follow the newer LSET.
    pub fn merge(&mut self, mine: &VersionVector, other: &List, theirs: &VersionVector) {
        let mut out = VecDeque::with_capacity(self.items.len().max(other.items.len()));
        let mut a = std::mem::take(&mut self.items).into_iter().peekable();
        let mut b = other.items.iter().peekable();
        let my_sets = std::mem::take(&mut self.sets);
        let mine_sets = &my_sets;
        let their_sets = &other.sets;
        let mut sets: HashMap<Pos, Stamp> = HashMap::new();
        loop {
            let ord = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => x.pos.cmp(&y.pos),
            };
            match ord {
                Ordering::Less => {
                    let x = a.next().expect("peeked");
                    if !theirs.contains(&x.pos.dot()) {
                        if let Some(s) = mine_sets.get(&x.pos) {
                            sets.insert(x.pos.clone(), *s);
                        }
                        out.push_back(x);
                    }
                }
                Ordering::Greater => {
                    let y = b.next().expect("peeked");
                    if !mine.contains(&y.pos.dot()) {
                        if let Some(s) = their_sets.get(&y.pos) {
                            sets.insert(y.pos.clone(), *s);
                        }
                        out.push_back(y.clone());
                    }
                }
                Ordering::Equal => {
                    let mut x = a.next().expect("peeked");
                    let y = b.next().expect("peeked");
                    let ms = mine_sets.get(&x.pos);
                    let ts = their_sets.get(&y.pos);
                    // A side without a record holds a value at least as new as every
                    // write it has seen; an unseen write of the other side is newer.
                    let take_theirs = match (ms, ts) {
                        (Some(m), Some(t)) => t.wins_over(m),
                        (None, Some(t)) => !mine.contains(&t.dot),
                        _ => false,
                    };
                    let keep = match (ms, ts) {
                        (Some(m), Some(t)) => Some(if t.wins_over(m) { *t } else { *m }),
                        (Some(m), None) => (!theirs.contains(&m.dot)).then_some(*m),
                        (None, Some(t)) => (!mine.contains(&t.dot)).then_some(*t),
                        (None, None) => None,
                    };
                    if take_theirs {
                        x.value = y.value.clone();
                        x.ts = y.ts;
                    }
                    if let Some(s) = keep {
                        sets.insert(x.pos.clone(), s);
                    }
                    out.push_back(x);
                }
            }
        }
        self.items = out;
        self.sets = sets;
    }

    /// Feeds a canonical encoding into `d`.
    pub fn digest(&self, d: &mut Digest) {
        d.u64(self.items.len() as u64);
        for e in &self.items {
            d.u64(e.pos.depth() as u64);
            for l in e.pos.levels() {
                d.u64(l.digit);
                d.u64(u64::from(l.id));
                d.u64(u64::from(l.incarnation));
                d.u64(l.seq);
                d.u64(u64::from(l.idx));
            }
            d.bytes(&e.value);
            d.u64(e.ts.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dot(id: u16, seq: u64) -> Dot {
        Dot::new(Origin::new(id, 1), seq)
    }

    proptest! {
        /// Inserting anywhere, in any pattern, keeps the list sorted by position, and the
        /// usual patterns (pushes at either end, inserts before or after one element
        /// repeatedly) keep positions shallow.
        #[test]
        fn inserts_land_where_asked(steps in proptest::collection::vec((any::<u16>(), 1usize..4), 1..300)) {
            let mut l = List::default();
            let mut model: Vec<Blob> = Vec::new();
            for (seq, (at, n)) in steps.into_iter().enumerate() {
                let i = usize::from(at) % (l.len() + 1);
                let (prefix, digit) = l.place(i).expect("room");
                let values: Vec<Blob> = (0..n).map(|k| format!("{seq}.{k}").into_bytes().into()).collect();
                l.insert(Stamp::new(dot(1, seq as u64 + 1), Hlc(seq as u64)), &prefix, digit, &values);
                for (k, v) in values.into_iter().enumerate() {
                    model.insert(i + k, v);
                }
                let got: Vec<Blob> = l.iter().map(|e| e.value.clone().into_blob()).collect();
                prop_assert_eq!(&got, &model);
                prop_assert!(l.iter().zip(l.iter().skip(1)).all(|(a, b)| a.pos < b.pos));
            }
        }
    }

    #[test]
    fn elements_stay_small() {
        // Memory per list element: a position with one level inline, a short value inline.
        assert_eq!(std::mem::size_of::<Pos>(), 40);
        assert_eq!(std::mem::size_of::<Elem>(), 72);
    }

    #[test]
    fn repeated_inserts_at_one_place_stay_shallow() {
        for pattern in 0..4 {
            let mut l = List::default();
            let s = |seq: u64| Stamp::new(dot(1, seq), Hlc(seq));
            let (p, d) = l.place(0).unwrap();
            l.insert(s(1), &p, d, &[Blob::from(&b"x"[..]), Blob::from(&b"y"[..])]);
            for seq in 2..2000u64 {
                let x = l.iter().position(|e| &*e.value == b"x").unwrap();
                let i = match pattern {
                    0 => 0,
                    1 => l.len(),
                    2 => x,     // before x, each time
                    _ => x + 1, // after x, each time
                };
                let (p, d) = l.place(i).unwrap();
                l.insert(s(seq), &p, d, &[Blob::from(&b"v"[..])]);
            }
            let deepest = l.iter().map(|e| e.pos.depth()).max().unwrap();
            assert!(deepest <= 2, "pattern {pattern}: depth {deepest}");
        }
    }

    #[test]
    fn removal_by_range_spares_what_the_remover_had_not_seen() {
        let mut l = List::default();
        let (p, d) = l.place(0).unwrap();
        let vals: Vec<Blob> = (0..4).map(|i| Blob::from(vec![i])).collect();
        l.insert(Stamp::new(dot(1, 1), Hlc(1)), &p, d, &vals);
        // Another instance inserts between the second and third element.
        let (p, d) = l.place(2).unwrap();
        l.insert(
            Stamp::new(dot(2, 1), Hlc(2)),
            &p,
            d,
            &[Blob::from(&b"new"[..])],
        );
        let (from, to) = (l.get(0).unwrap().pos.clone(), l.get(4).unwrap().pos.clone());
        let mut vv = VersionVector::new();
        vv.add(dot(1, 1));
        l.remove_range(&from, &to, &vv);
        let got: Vec<&[u8]> = l.iter().map(|e| &*e.value).collect();
        assert_eq!(got, vec![&b"new"[..]]);
    }
}
