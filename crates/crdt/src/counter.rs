//! Values as base + surviving increments (strings, hash fields, sorted-set scores).

use crate::clock::{Origin, Stamp};
use crate::ctx::Seen;
use crate::digest::Digest;
use crate::f80::F80;
use crate::reg::MvReg;
use crate::vv::VersionVector;
use smallvec::SmallVec;

/// The amount of one increment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Amount {
    /// INCR, INCRBY, DECR, DECRBY, HINCRBY.
    Int(i64),
    /// INCRBYFLOAT, HINCRBYFLOAT, in Redis's `long double` precision.
    Float(F80),
}

/// One surviving increment, or a folded run of stable ones from the same origin.
#[derive(Clone, Debug, PartialEq)]
struct Inc {
    /// First sequence number folded into this entry (equal to `stamp.dot.seq` if single).
    lo: u64,
    /// The last increment's dot, and the newest timestamp of the run.
    stamp: Stamp,
    /// Exact sum of the integer amounts.
    int: i128,
    /// Left fold from zero of every amount, in sequence order, as floats.
    float: F80,
    /// Whether every amount was an integer.
    all_int: bool,
}

impl Inc {
    fn covers(&self, other: &Inc) -> bool {
        self.stamp.dot.origin == other.stamp.dot.origin
            && self.lo <= other.lo
            && other.stamp.dot.seq <= self.stamp.dot.seq
            && (self.lo, self.stamp.dot.seq) != (other.lo, other.stamp.dot.seq)
    }

    fn contains_seq(&self, origin: Origin, seq: u64) -> bool {
        self.stamp.dot.origin == origin && self.lo <= seq && seq <= self.stamp.dot.seq
    }
}

/// The surviving increments of one value, kept sorted by (origin, sequence).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Increments {
    incs: SmallVec<[Inc; 1]>,
}

/// The sum of a set of increments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sum {
    /// Exact integer sum (meaningful when `all_int`).
    pub int: i128,
    /// Canonical float sum: per origin in ascending order, its increments in sequence order.
    pub float: F80,
    /// Whether every increment was an integer.
    pub all_int: bool,
}

impl Increments {
    /// Adds one increment with its own stamp.
    pub fn add(&mut self, stamp: Stamp, amount: Amount) {
        let (int, float, all_int) = match amount {
            Amount::Int(i) => (i128::from(i), F80::from_i64(i), true),
            Amount::Float(f) => (0, f, false),
        };
        let inc = Inc {
            lo: stamp.dot.seq,
            stamp,
            int,
            float,
            all_int,
        };
        let pos = self.incs.partition_point(|e| {
            (e.stamp.dot.origin, e.stamp.dot.seq) < (stamp.dot.origin, stamp.dot.seq)
        });
        self.incs.insert(pos, inc);
    }

    /// Cancels the increments the remover had seen; returns whether any was cancelled.
    pub fn cancel(&mut self, seen: &impl Seen) -> bool {
        let before = self.incs.len();
        self.incs.retain(|e| !seen.seen(&e.stamp.dot));
        self.incs.len() != before
    }

    /// Whether no increment survives.
    pub fn is_empty(&self) -> bool {
        self.incs.is_empty()
    }

    /// The stamp of the newest surviving increment (largest timestamp, then smaller id).
    pub fn newest(&self) -> Option<Stamp> {
        newest(self.incs.iter().map(|e| e.stamp))
    }

    /// The sum of the surviving increments; `float` starts from `base`.
    pub fn sum_from(&self, base: F80) -> Sum {
        let mut s = Sum {
            int: 0,
            float: base,
            all_int: true,
        };
        let mut i = 0;
        while i < self.incs.len() {
            let origin = self.incs[i].stamp.dot.origin;
            let mut per_origin = F80::ZERO;
            while i < self.incs.len() && self.incs[i].stamp.dot.origin == origin {
                let e = &self.incs[i];
                s.int += e.int;
                s.all_int &= e.all_int;
                per_origin = per_origin.plus(e.float);
                i += 1;
            }
            s.float = s.float.plus(per_origin);
        }
        s
    }

    /// Folds the leading stable increments of each origin into one entry.
    pub fn compact(&mut self, stable: &VersionVector) {
        let mut out: SmallVec<[Inc; 1]> = SmallVec::new();
        for e in self.incs.drain(..) {
            match out.last_mut() {
                Some(last)
                    if last.stamp.dot.origin == e.stamp.dot.origin
                        && stable.contains(&last.stamp.dot)
                        && stable.contains(&e.stamp.dot) =>
                {
                    last.int += e.int;
                    last.float = last.float.plus(e.float);
                    last.all_int &= e.all_int;
                    last.stamp.dot = e.stamp.dot;
                    last.stamp.ts = last.stamp.ts.max(e.stamp.ts);
                }
                _ => out.push(e),
            }
        }
        self.incs = out;
    }

    /// Joins with another replica's increments (folded runs are consistent on both sides).
    pub fn merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        let keep = |e: &Inc, side: &Increments, seen: &dyn Fn(&Inc) -> bool| {
            side.incs
                .iter()
                .any(|o| o.contains_seq(e.stamp.dot.origin, e.stamp.dot.seq))
                || !seen(e)
        };
        let mut all: Vec<Inc> = Vec::new();
        for e in &self.incs {
            if keep(e, other, &|e: &Inc| theirs.seen(&e.stamp.dot)) {
                all.push(e.clone());
            }
        }
        for e in &other.incs {
            if keep(e, self, &|e: &Inc| mine.seen(&e.stamp.dot)) {
                all.push(e.clone());
            }
        }
        let mut out: SmallVec<[Inc; 1]> = SmallVec::new();
        for (i, e) in all.iter().enumerate() {
            let dominated = all
                .iter()
                .enumerate()
                .any(|(j, o)| o.covers(e) || (j < i && o.lo == e.lo && o.stamp.dot == e.stamp.dot));
            if !dominated {
                out.push(e.clone());
            }
        }
        out.sort_by_key(|e| (e.stamp.dot.origin, e.stamp.dot.seq));
        self.incs = out;
    }

    /// Feeds a canonical encoding into `d`.
    pub fn digest(&self, d: &mut Digest) {
        d.u64(self.incs.len() as u64);
        for e in &self.incs {
            d.u64(e.lo);
            d.stamp(&e.stamp);
            d.raw(&e.int.to_le_bytes());
            d.bytes(e.float.to_human().as_bytes());
            d.u64(u64::from(e.all_int));
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

/// A base register plus surviving increments: the value of a string or a hash field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counted<T> {
    /// The register written by SET-like commands.
    pub base: MvReg<T>,
    /// Increments not cancelled by a write or removal that saw them.
    pub incs: Option<Box<Increments>>,
}

impl<T: Clone> Counted<T> {
    /// A value holding one base write.
    pub fn with(stamp: Stamp, value: T) -> Self {
        Counted {
            base: MvReg::with(stamp, value),
            incs: None,
        }
    }

    /// A register write: removes the seen writes and cancels the seen increments.
    pub fn write(&mut self, stamp: Stamp, seen: &impl Seen, value: T) {
        self.cancel_incs(seen);
        self.base.write(stamp, seen, value);
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

    /// The sum of the surviving increments, if any, its float part starting from `base`.
    pub fn inc_sum(&self, base: F80) -> Option<Sum> {
        self.incs.as_ref().map(|i| i.sum_from(base))
    }

    /// Folds stable increments.
    pub fn compact(&mut self, stable: &VersionVector) {
        if let Some(i) = &mut self.incs {
            i.compact(stable);
        }
    }

    /// Joins with another replica's value.
    pub fn merge(&mut self, mine: &impl Seen, other: &Self, theirs: &impl Seen) {
        self.base.merge(mine, &other.base, theirs);
        let empty = Increments::default();
        let mut incs = self.incs.take().map(|b| *b).unwrap_or_default();
        incs.merge(mine, other.incs.as_deref().unwrap_or(&empty), theirs);
        if !incs.is_empty() {
            self.incs = Some(Box::new(incs));
        }
    }

    /// Feeds a canonical encoding into `d`.
    pub fn digest(&self, d: &mut Digest, f: impl Fn(&T, &mut Digest)) {
        self.base.digest(d, f);
        match &self.incs {
            Some(i) => i.digest(d),
            None => d.u64(0),
        }
    }
}

/// Why a counted string has no numeric reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Numeric {
    /// Integer base and integer increments: exact sum, clamped to the 64-bit range.
    Int(i64),
    /// Some float involved: canonical float sum.
    Float(F80),
}

impl Counted<Box<[u8]>> {
    /// The value a read shows: the base alone when it does not parse as the increments need.
    pub fn read(&self) -> std::borrow::Cow<'_, [u8]> {
        use std::borrow::Cow;
        match self.numeric() {
            Some(Numeric::Int(i)) if self.incs.is_some() => Cow::Owned(i.to_string().into_bytes()),
            Some(Numeric::Float(f)) if self.incs.is_some() => Cow::Owned(f.to_human().into_bytes()),
            _ => match self.base.get() {
                Some(v) => Cow::Borrowed(&v[..]),
                None => Cow::Borrowed(b"0"),
            },
        }
    }

    /// The numeric value base + increments, or `None` if the base does not parse.
    pub fn numeric(&self) -> Option<Numeric> {
        let base: &[u8] = self.base.get().map(|b| &b[..]).unwrap_or(b"0");
        match self.inc_sum(F80::ZERO) {
            None => crate::num::parse_i64(base)
                .map(Numeric::Int)
                .or_else(|| F80::parse(base).map(Numeric::Float)),
            Some(s) if s.all_int => {
                let b = crate::num::parse_i64(base)?;
                let total = i128::from(b) + s.int;
                Some(Numeric::Int(
                    total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
                ))
            }
            Some(_) => {
                let b = F80::parse(base)?;
                let s = self.inc_sum(b)?;
                Some(Numeric::Float(s.float))
            }
        }
    }
}
