//! Values as base + surviving increments (strings, hash fields, sorted-set scores).
//!
//! The value is computed canonically, never in arrival order: start from the winning base,
//! then apply the surviving increments origin by origin (ascending id, incarnation), each
//! origin's in sequence order. A float step is computed as the type's own arithmetic does
//! it in Redis (for strings: `long double`, printed and re-read at every step), so a lone
//! instance replies exactly as Redis does.

use crate::clock::{Dot, Stamp};
use crate::ctx::Seen;
use crate::digest::Digest;
use crate::f80::F80;
use crate::reg::MvReg;
use crate::vv::VersionVector;
use smallvec::SmallVec;
use std::borrow::Cow;

/// The amount of one increment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Amount {
    /// INCR, INCRBY, DECR, DECRBY, HINCRBY.
    Int(i64),
    /// INCRBYFLOAT, HINCRBYFLOAT (extended precision) and ZINCRBY (an exact `f64`).
    Float(F80),
}

impl Amount {
    fn as_f80(self) -> F80 {
        match self {
            Amount::Int(i) => F80::from_i64(i),
            Amount::Float(f) => f,
        }
    }
}

/// The surviving increments of one value, sorted by (origin, sequence): canonical order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Increments {
    incs: SmallVec<[(Stamp, Amount); 1]>,
}

impl Increments {
    /// Adds one increment.
    pub fn add(&mut self, stamp: Stamp, amount: Amount) {
        let key = |s: &Stamp| (s.dot.origin, s.dot.seq);
        let pos = self.incs.partition_point(|(s, _)| key(s) < key(&stamp));
        self.incs.insert(pos, (stamp, amount));
    }

    /// Cancels the increments the remover had seen; returns whether any was cancelled.
    pub fn cancel(&mut self, seen: &impl Seen) -> bool {
        let before = self.incs.len();
        self.incs.retain(|(s, _)| !seen.seen(&s.dot));
        self.incs.len() != before
    }

    /// Whether no increment survives.
    pub fn is_empty(&self) -> bool {
        self.incs.is_empty()
    }

    /// The increments in canonical order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Stamp, Amount)> {
        self.incs.iter()
    }

    /// The stamp of the newest surviving increment (largest timestamp, then smaller id).
    pub fn newest(&self) -> Option<Stamp> {
        newest(self.incs.iter().map(|(s, _)| *s))
    }

    /// Whether every increment is an integer.
    pub fn all_int(&self) -> bool {
        self.incs.iter().all(|(_, a)| matches!(a, Amount::Int(_)))
    }

    /// Joins with another replica's increments (a dot-store join).
    pub fn merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        self.incs.retain(|(s, _)| {
            other.incs.iter().any(|(o, _)| o.dot == s.dot) || !theirs.seen(&s.dot)
        });
        for (s, a) in &other.incs {
            if !mine.seen(&s.dot) && !self.incs.iter().any(|(x, _)| x.dot == s.dot) {
                self.add(*s, *a);
            }
        }
    }

    /// Feeds a canonical encoding into `d`.
    pub fn digest(&self, d: &mut Digest) {
        d.u64(self.incs.len() as u64);
        for (s, a) in &self.incs {
            d.stamp(s);
            match a {
                Amount::Int(i) => {
                    d.u64(0);
                    d.u64(*i as u64);
                }
                Amount::Float(f) => {
                    d.u64(1);
                    d.bytes(f.to_human().as_bytes());
                }
            }
        }
    }
}

/// The newest of some stamps: largest timestamp, then smaller id.
pub fn newest(stamps: impl Iterator<Item = Stamp>) -> Option<Stamp> {
    let mut best: Option<Stamp> = None;
    for s in stamps {
        if best.is_none_or(|b| s.wins_over(&b)) {
            best = Some(s);
        }
    }
    best
}

/// A record that the base write is the fold of stable writes and increments.
#[derive(Clone, Debug, PartialEq)]
pub struct Fold {
    /// The dot the folded base write carries.
    pub dot: Dot,
    /// Every dot folded into it.
    pub upto: VersionVector,
}

/// A base register plus surviving increments: a string, a hash field or a score.
#[derive(Clone, Debug, PartialEq)]
pub struct Counted<T> {
    /// The register written by SET-like commands.
    pub base: MvReg<T>,
    /// Increments not cancelled by a write or removal that saw them.
    pub incs: Option<Box<Increments>>,
    /// Set when the base is a fold of stable increments (compaction).
    pub fold: Option<Box<Fold>>,
}

impl<T> Default for Counted<T> {
    fn default() -> Self {
        Counted {
            base: MvReg::default(),
            incs: None,
            fold: None,
        }
    }
}

impl<T: Clone + CountedValue> Counted<T> {
    /// A value holding one base write.
    pub fn with(stamp: Stamp, value: T) -> Self {
        Counted {
            base: MvReg::with(stamp, value),
            incs: None,
            fold: None,
        }
    }

    /// A register write: removes the seen writes and cancels the seen increments.
    pub fn write(&mut self, stamp: Stamp, seen: &impl Seen, value: T) {
        self.cancel_incs(seen);
        self.base.write(stamp, seen, value);
        self.fix_fold();
    }

    /// Adds an increment.
    pub fn incr(&mut self, stamp: Stamp, amount: Amount) {
        self.incs
            .get_or_insert_with(Default::default)
            .add(stamp, amount);
    }

    /// Removes the seen writes and increments; returns whether anything was removed.
    pub fn remove(&mut self, seen: &impl Seen) -> bool {
        let a = self.cancel_incs(seen);
        let b = self.base.remove(seen);
        self.fix_fold();
        a || b
    }

    fn cancel_incs(&mut self, seen: &impl Seen) -> bool {
        let mut changed = false;
        if let Some(incs) = &mut self.incs {
            changed = incs.cancel(seen);
            if incs.is_empty() {
                self.incs = None;
            }
        }
        changed
    }

    /// Drops the fold record once its base write is gone.
    fn fix_fold(&mut self) {
        if let Some(f) = &self.fold
            && !self.base.writes().any(|(s, _)| s.dot == f.dot)
        {
            self.fold = None;
        }
    }

    /// Whether neither a base write nor an increment survives.
    pub fn is_empty(&self) -> bool {
        self.base.is_empty() && self.incs.is_none()
    }

    /// The newest surviving write or increment.
    pub fn newest(&self) -> Option<Stamp> {
        let b = self.base.winner().map(|(s, _)| *s);
        let i = self.incs.as_ref().and_then(|i| i.newest());
        newest(b.into_iter().chain(i))
    }

    /// Folds the base and the longest stable prefix of increments (in canonical order)
    /// into a new base. Everyone has seen them, so any later write or removal covers them
    /// all, and the canonical value is unchanged.
    pub fn compact(&mut self, stable: &VersionVector) {
        self.compact_with(stable, true);
    }

    /// Like [`Counted::compact`]; `record` keeps the record of what was folded, which only
    /// merges with other replicas' states need (a lone instance skips it).
    pub fn compact_with(&mut self, stable: &VersionVector, record: bool) {
        let Some(incs) = &self.incs else { return };
        // A lone instance's INCR: one stable write and one stable integer increment. The
        // sum is written over the write in place, as the general fold below would compute
        // it, without building a new register.
        if !record
            && let &[(s, Amount::Int(i))] = &incs.incs[..]
            && stable.contains(&s.dot)
            && let Some((base_stamp, value)) = self.base.only_mut()
            && stable.contains(&base_stamp.dot)
            && value.add_int_in_place(i)
        {
            *base_stamp = newest([*base_stamp, s].into_iter()).expect("two stamps");
            self.incs = None;
            self.fold = None;
            return;
        }
        let many = self.base.writes().nth(1).is_some();
        let base = self.base.writes().next();
        if many || base.is_some_and(|(s, _)| !stable.contains(&s.dot)) {
            return;
        }
        let n = incs
            .incs
            .iter()
            .take_while(|(s, _)| stable.contains(&s.dot))
            .count();
        if n == 0 {
            return;
        }
        let prefix = &incs.incs[..n];
        let Some(value) = T::fold(base.map(|(_, v)| v), prefix) else {
            return;
        };
        let base_stamp = base.map(|(s, _)| *s);
        let stamp = newest(base_stamp.into_iter().chain(prefix.iter().map(|(s, _)| *s)))
            .expect("a non-empty prefix has a newest stamp");
        let fold = if record {
            let mut upto = self.fold.take().map(|f| f.upto).unwrap_or_default();
            if let Some(s) = base_stamp {
                upto.add(s.dot);
            }
            for (s, _) in prefix {
                upto.raise(s.dot.origin, s.dot.seq);
            }
            Some(Box::new(Fold {
                dot: stamp.dot,
                upto,
            }))
        } else {
            None
        };
        let rest: SmallVec<[(Stamp, Amount); 1]> = incs.incs[n..].iter().copied().collect();
        self.base = MvReg::with(stamp, value);
        self.fold = fold;
        self.incs = (!rest.is_empty()).then(|| Box::new(Increments { incs: rest }));
    }

    /// Joins with another replica's value. Folds are stable on both sides, so the larger
    /// fold stands for everything it covers, however the other side holds it.
    pub fn merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        let mine_covers = |f: &Fold, o: &Counted<T>| match &o.fold {
            Some(of) => f.upto.covers(&of.upto),
            None => true,
        };
        let (keep_mine, take_theirs) = match (&self.fold, &other.fold) {
            (Some(f), _) if mine_covers(f, other) => (Some(f.as_ref().clone()), None),
            (_, Some(f)) => (None, Some(f.as_ref().clone())),
            _ => (None, None),
        };
        if let Some(f) = keep_mine {
            self.merge_under_fold(mine, other, theirs, f);
        } else if let Some(f) = take_theirs {
            let mut merged = other.clone();
            merged.merge_under_fold(theirs, self, mine, f);
            *self = merged;
        } else {
            self.plain_merge(mine, other, theirs);
        }
    }

    /// Joins `other` into this value, whose fold `f` covers at least as much as any fold of
    /// `other`: what `f` covers is dropped from `other` first, and the folded base stays
    /// unless `other` removed it (it saw it and holds nothing of it).
    fn merge_under_fold(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen, f: Fold) {
        let filtered = other.without(&f.upto);
        let holds = other.holds_any(&f.upto);
        let pinned = self.base.writes().find(|(s, _)| s.dot == f.dot).cloned();
        self.plain_merge(mine, &filtered, theirs);
        if let Some((s, v)) = pinned
            && (holds || !theirs.seen(&s.dot))
            && !self.base.writes().any(|(x, _)| x.dot == s.dot)
        {
            self.base.write(s, &VersionVector::new(), v);
        }
        self.fold = self
            .base
            .writes()
            .any(|(s, _)| s.dot == f.dot)
            .then(|| Box::new(f));
    }

    fn plain_merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        self.base.merge(mine, &other.base, theirs);
        let empty = Increments::default();
        let mut incs = self.incs.take().map(|b| *b).unwrap_or_default();
        incs.merge(mine, other.incs.as_deref().unwrap_or(&empty), theirs);
        if !incs.is_empty() {
            self.incs = Some(Box::new(incs));
        }
        self.fix_fold();
    }

    /// A copy without the writes and increments a fold up to `upto` already contains.
    fn without(&self, upto: &VersionVector) -> Counted<T> {
        let mut c = self.clone();
        c.base.remove(upto);
        c.cancel_incs(upto);
        c.fix_fold();
        c
    }

    /// Whether this value still holds anything a fold up to `upto` contains.
    fn holds_any(&self, upto: &VersionVector) -> bool {
        self.base.writes().any(|(s, _)| upto.contains(&s.dot))
            || self
                .incs
                .as_ref()
                .is_some_and(|i| i.iter().any(|(s, _)| upto.contains(&s.dot)))
    }

    /// Feeds a canonical encoding of what the value reads as, and of its live metadata.
    pub fn digest(&self, d: &mut Digest, f: impl Fn(&T, &mut Digest)) {
        self.base.digest(d, f);
        match &self.incs {
            Some(i) => i.digest(d),
            None => d.u64(0),
        }
    }
}

/// A base value type that increments apply to.
pub trait CountedValue: Sized {
    /// The value of `base` followed by `incs`, or `None` when it cannot be computed.
    fn fold(base: Option<&Self>, incs: &[(Stamp, Amount)]) -> Option<Self>;

    /// Adds integer `i` in place, giving what `fold(Some(self), [Int(i)])` gives; `false`
    /// (and nothing changed) when that fold is not a plain integer sum.
    fn add_int_in_place(&mut self, i: i64) -> bool {
        let _ = i;
        false
    }
}

/// Strings and hash fields: byte strings.
impl CountedValue for Box<[u8]> {
    fn fold(base: Option<&Self>, incs: &[(Stamp, Amount)]) -> Option<Self> {
        let base: &[u8] = base.map(|b| &b[..]).unwrap_or(b"0");
        if let Some(total) = int_sum(base, incs.iter().map(|(_, a)| *a)) {
            // A sum past the 64-bit bounds must not become the base (its reading is
            // clamped): the exact sum is still needed when later increments bring it back.
            let total = i64::try_from(total).ok()?;
            return Some(itoa::Buffer::new().format(total).as_bytes().into());
        }
        match str_value(base, incs.iter().map(|(_, a)| *a))? {
            Cow::Owned(v) => Some(v.into_boxed_slice()),
            Cow::Borrowed(b) => Some(b.into()),
        }
    }

    fn add_int_in_place(&mut self, i: i64) -> bool {
        let Some(total) = crate::num::parse_i64(self).and_then(|b| b.checked_add(i)) else {
            return false;
        };
        let mut buf = itoa::Buffer::new();
        let text = buf.format(total).as_bytes();
        // Most increments keep the length: the bytes are overwritten, nothing allocated.
        if text.len() == self.len() {
            self.copy_from_slice(text);
        } else {
            *self = text.into();
        }
        true
    }
}

/// Scores: doubles, summed in `f64` as Redis's ZINCRBY does.
impl CountedValue for f64 {
    fn fold(base: Option<&Self>, incs: &[(Stamp, Amount)]) -> Option<Self> {
        Some(score_value(
            base.copied().unwrap_or(0.0),
            incs.iter().map(|(_, a)| *a),
        ))
    }
}

/// An exact integer sum as it reads: clamped to the 64-bit range.
fn clamp(total: i128) -> i64 {
    // In range once clamped: the cast is exact.
    total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The exact sum of `base` and `incs` when the base and every increment are integers
/// (the integer rule of [`str_value`]), else `None`.
fn int_sum(base: &[u8], mut incs: impl Iterator<Item = Amount> + Clone) -> Option<i128> {
    if !incs.clone().all(|a| matches!(a, Amount::Int(_))) {
        return None;
    }
    let base = crate::num::parse_i64(base)?;
    incs.try_fold(i128::from(base), |t, a| match a {
        Amount::Int(i) => Some(t + i128::from(i)),
        Amount::Float(_) => None,
    })
}

/// `base` followed by `incs`, as a string: exact integers when the base and every
/// increment are integers, else Redis's `long double` steps (integer increments included).
/// `None` when the base does not parse as the increments need. The choice depends only on
/// the base and the increments still unfolded, so folding a stable prefix never changes it.
fn str_value(base: &[u8], incs: impl Iterator<Item = Amount> + Clone) -> Option<Cow<'_, [u8]>> {
    if incs.clone().next().is_none() {
        return Some(Cow::Borrowed(base));
    }
    if let Some(total) = int_sum(base, incs.clone()) {
        // Printed on the stack and copied once at its length: a String's spare room
        // would cost a shrinking reallocation when it becomes the stored value.
        let text = itoa::Buffer::new().format(clamp(total)).as_bytes().to_vec();
        return Some(Cow::Owned(text));
    }
    // The base is read as it is (not printed first: that would round it to 17 decimals
    // before the first step); each later step reads the text the previous one printed.
    let mut v = F80::parse(base)?;
    let mut text = String::new();
    for (i, a) in incs.enumerate() {
        if i > 0 {
            v = F80::parse(text.as_bytes()).unwrap_or(F80::ZERO);
        }
        text = (v + a.as_f80()).to_human();
    }
    Some(Cow::Owned(text.into_bytes()))
}

/// `base` followed by `incs`, in `f64`.
fn score_value(base: f64, incs: impl Iterator<Item = Amount>) -> f64 {
    incs.fold(base, |t, a| match a {
        Amount::Int(i) => t + i as f64,
        Amount::Float(f) => t + f.to_f64(),
    })
}

/// A numeric reading of a counted string.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Numeric {
    /// Integer base and integer increments: exact sum, clamped to the 64-bit range.
    Int(i64),
    /// Some float involved.
    Float(F80),
}

impl Counted<Box<[u8]>> {
    /// The value a read shows: the base alone when it does not parse as the increments need.
    pub fn read(&self) -> Cow<'_, [u8]> {
        let base: &[u8] = self.base.get().map(|b| &b[..]).unwrap_or(b"0");
        let Some(incs) = &self.incs else {
            return Cow::Borrowed(base);
        };
        str_value(base, incs.iter().map(|(_, a)| *a)).unwrap_or(Cow::Borrowed(base))
    }

    /// The value as INCR reads it ([`Counted::read`] as an integer), summed without
    /// printing the text first when the base and the increments are integers.
    pub fn int(&self) -> Option<i64> {
        let base: &[u8] = self.base.get().map(|b| &b[..]).unwrap_or(b"0");
        let Some(incs) = &self.incs else {
            return crate::num::parse_i64(base);
        };
        if let Some(total) = int_sum(base, incs.iter().map(|(_, a)| *a)) {
            return Some(clamp(total));
        }
        crate::num::parse_i64(&self.read())
    }

    /// Whether any surviving increment is a float.
    pub fn has_float_incs(&self) -> bool {
        self.incs.as_ref().is_some_and(|i| !i.all_int())
    }

    /// The numeric value as INCR (integers) or INCRBYFLOAT would read it.
    pub fn numeric(&self) -> Option<Numeric> {
        self.int()
            .map(Numeric::Int)
            .or_else(|| F80::parse(&self.read()).map(Numeric::Float))
    }
}

impl Counted<f64> {
    /// The score: base (0 when none) followed by the surviving increments. A stored score
    /// of -0 reads as 0, as in Redis.
    pub fn score(&self) -> f64 {
        let base = self.base.get().copied().unwrap_or(0.0);
        let s = match &self.incs {
            None => base,
            Some(i) => score_value(base, i.iter().map(|(_, a)| *a)),
        };
        if s == 0.0 { 0.0 } else { s }
    }
}

#[cfg(test)]
mod int_tests {
    use super::*;
    use crate::clock::{Hlc, Origin};
    use proptest::prelude::*;

    fn stamp(seq: u64) -> Stamp {
        Stamp::new(Dot::new(Origin::new(1, 1), seq), Hlc(seq))
    }

    /// Folding a stable increment that takes the sum past the 64-bit bound must keep the
    /// exact sum: a later increment brings it back, and an instance that folded at another
    /// moment (or not yet) must read the same.
    #[test]
    fn a_fold_past_the_bound_keeps_the_exact_sum() {
        let mut folded: Counted<Box<[u8]>> = Counted::default();
        let max = i64::MAX.to_string().into_bytes().into_boxed_slice();
        folded.write(stamp(1), &VersionVector::default(), max);
        folded.incr(stamp(2), Amount::Int(1));
        let mut unfolded = folded.clone();
        let mut stable = VersionVector::default();
        stable.raise(Origin::new(1, 1), 2);
        folded.compact_with(&stable, false);
        for c in [&mut folded, &mut unfolded] {
            c.incr(stamp(3), Amount::Int(-1));
        }
        assert_eq!(unfolded.int(), Some(i64::MAX));
        assert_eq!(folded.int(), unfolded.int());
        assert_eq!(folded.read(), unfolded.read());
    }

    proptest! {
        /// INCR's integer reading is the printed value, parsed.
        #[test]
        fn int_is_the_read_value_parsed(
            base in prop_oneof![
                Just(None),
                any::<i64>().prop_map(|n| Some(n.to_string())),
                Just(Some("1.5".to_string())),
                Just(Some("abc".to_string())),
                Just(Some(" 1".to_string())),
            ],
            incs in proptest::collection::vec(
                prop_oneof![
                    any::<i64>().prop_map(Amount::Int),
                    (-1000i64..1000).prop_map(Amount::Int),
                    (-1000i32..1000).prop_map(|f| Amount::Float(F80::from_f64(f64::from(f) / 4.0))),
                ],
                0..4,
            ),
        ) {
            let mut c: Counted<Box<[u8]>> = Counted::default();
            if let Some(b) = base {
                c.write(stamp(1), &VersionVector::default(), b.into_bytes().into_boxed_slice());
            }
            for (i, a) in incs.into_iter().enumerate() {
                c.incr(stamp(i as u64 + 2), a);
            }
            prop_assert_eq!(c.int(), crate::num::parse_i64(&c.read()));
        }

        /// Folding after every increment (a lone instance's in-place path among them)
        /// reads as never folding, for the increments a lone instance issues: an integer
        /// one only on an integer reading it does not take past the 64-bit bounds, as
        /// INCRBY refuses the others.
        #[test]
        fn folding_each_increment_reads_as_not_folding(
            base in prop_oneof![
                Just(None),
                any::<i64>().prop_map(|n| Some(n.to_string())),
                (-12i64..12).prop_map(|n| Some(n.to_string())),
                Just(Some("1.5".to_string())),
                Just(Some("abc".to_string())),
                Just(Some("007".to_string())),
            ],
            incs in proptest::collection::vec(
                prop_oneof![
                    any::<i64>().prop_map(Amount::Int),
                    (-3i64..3).prop_map(Amount::Int),
                    Just(Amount::Int(i64::MAX)),
                    Just(Amount::Int(i64::MIN)),
                    (-8i32..8).prop_map(|f| Amount::Float(F80::from_f64(f64::from(f) / 4.0))),
                ],
                0..8,
            ),
        ) {
            let mut folded: Counted<Box<[u8]>> = Counted::default();
            if let Some(b) = base {
                folded.write(stamp(1), &VersionVector::default(), b.into_bytes().into_boxed_slice());
            }
            let mut unfolded = folded.clone();
            let mut stable = VersionVector::default();
            for (i, a) in incs.into_iter().enumerate() {
                if let Amount::Int(n) = a
                    && unfolded.int().and_then(|v| v.checked_add(n)).is_none()
                {
                    continue;
                }
                let seq = i as u64 + 2;
                folded.incr(stamp(seq), a);
                unfolded.incr(stamp(seq), a);
                stable.raise(Origin::new(1, 1), seq);
                folded.compact_with(&stable, false);
                prop_assert_eq!(folded.read(), unfolded.read());
                prop_assert_eq!(folded.int(), unfolded.int());
                prop_assert_eq!(folded.newest(), unfolded.newest());
            }
        }
    }
}
