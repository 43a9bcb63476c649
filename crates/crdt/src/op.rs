//! Operations: the deltas that local writes produce and every instance applies.

use crate::clock::{Dot, Origin, Stamp};
use crate::coll::Blob;
use crate::counter::Amount;
use crate::ctx::Ctx;
use crate::list::{Level, Pos};
use crate::small::SmallBlob;
use crate::stream::{EntryKey, StreamId};
use crate::vv::VersionVector;
use std::sync::Arc;

/// The version of the op encoding; bumped when a kind changes meaning.
pub const OP_FORMAT_VERSION: u16 = 1;

/// The values of one list insert: one inline, as a single push has (no allocation).
pub type ListValues = smallvec::SmallVec<[SmallBlob; 1]>;

/// What an operation does to its key.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// Register write of a whole string (SET, APPEND, SETRANGE, ...), with what it does to
    /// the expiry (the same dot stamps both).
    SetStr(Blob, Ttl),
    /// An increment of a string (INCR family).
    IncrStr(Amount),
    /// Observed-remove of every value and expiry change of the key (DEL, expiry).
    DelKey,
    /// An expiry change: absolute milliseconds, or `None` for no expiry.
    Expire(Option<u64>),
    /// Register writes of hash fields.
    HSet(Vec<(Blob, Blob)>),
    /// An increment of a hash field.
    HIncr(Blob, Amount),
    /// Observed-remove of hash fields.
    HDel(Vec<Blob>),
    /// Adds to a set.
    SAdd(Vec<Blob>),
    /// Observed-remove of set members.
    SRem(Vec<Blob>),
    /// ZADD: adds with base writes of their scores.
    ZAdd(Vec<(Blob, f64)>),
    /// ZINCRBY: an add with an increment of the score.
    ZIncr(Blob, f64),
    /// Observed-remove of sorted-set members.
    ZRem(Vec<Blob>),
    /// Inserts of list elements, in order: element `i` at `prefix ++ (digit, dot, i)`.
    ListInsert {
        /// The levels the elements share with their left neighbour.
        prefix: Box<[Level]>,
        /// The digit of their own level.
        digit: u64,
        /// The values, in list order.
        values: ListValues,
    },
    /// Observed-remove of the list elements in each inclusive range of positions.
    ListRemove(Vec<(Pos, Pos)>),
    /// LSET: a register write of one element's value.
    ListSet(Pos, Blob),
    /// PFADD/PFMERGE: raises HyperLogLog registers (index, value); an empty list creates.
    PfAdd(Vec<(u16, u8)>),
    /// Removal of a HyperLogLog by an instance that saw it: clears it and beats every
    /// concurrent add (delete-wins).
    HllDel,
    /// XADD: an entry (identified by its id and the op's dot).
    XAdd {
        /// The entry id.
        id: StreamId,
        /// The flat field/value list.
        fields: Vec<Blob>,
    },
    /// XDEL: removal of the entries the instance saw (raises max-deleted-entry-id).
    XDel(Vec<EntryKey>),
    /// Trimming (XTRIM, XADD MAXLEN/MINID): removal of the entries the instance saw.
    XTrim(Vec<EntryKey>),
    /// XGROUP CREATE (with MKSTREAM, it also makes the key a stream).
    XGroupCreate {
        /// The group.
        name: Blob,
        /// Deliver entries after this id.
        id: StreamId,
        /// MKSTREAM.
        mkstream: bool,
        /// entries-read, when known.
        read: Option<i64>,
    },
    /// XGROUP SETID (and entries-read).
    XGroupSetId(Blob, StreamId, Option<i64>),
    /// XREADGROUP delivered entries of one instance's part up to an id (and entries-read).
    XGroupAdvance(Blob, u16, StreamId, Option<i64>),
    /// XGROUP DESTROY, or a removal of the key by an instance that saw the group.
    XGroupDestroy(Blob),
    /// XSETID: raises the stream's last id and counters.
    XSetId {
        /// The last id.
        id: StreamId,
        /// ENTRIESADDED.
        added: Option<u64>,
        /// MAXDELETEDID.
        max_deleted: Option<StreamId>,
    },
    /// Observed-remove of the key's values, then a write of whole new content.
    Restore(Content),
    /// Observed-remove of every key (the key of the op is empty).
    FlushAll,
}

/// What a string write does to the key's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Leaves it (KEEPTTL, APPEND, SETRANGE, ...).
    Keep,
    /// An expiry change: absolute milliseconds, or `None` to clear it (plain SET).
    Set(Option<u64>),
}

/// The whole content of a key, as RENAME, COPY and the STORE commands write it.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// A string (a counter's value becomes a base).
    Str(Blob),
    /// A hash.
    Hash(Vec<(Blob, Blob)>),
    /// A set.
    Set(Vec<Blob>),
    /// A sorted set.
    ZSet(Vec<(Blob, f64)>),
    /// A list, in order.
    List(Vec<Blob>),
    /// A HyperLogLog's non-zero registers.
    Hll(Vec<(u16, u8)>),
    /// A stream's entries and last id (its groups are not copied).
    Stream(Vec<(StreamId, Vec<Blob>)>, StreamId),
}

/// One operation: a dot, a timestamp, the context it was made in, a key and an effect.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// Identity and timestamp.
    pub stamp: Stamp,
    /// What the origin had applied from other origins; its own earlier ops are implied.
    pub deps: Arc<VersionVector>,
    /// The key it acts on.
    pub key: Blob,
    /// What it does.
    pub kind: OpKind,
}

impl Op {
    /// The causal context of this op.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            origin: self.stamp.dot.origin,
            seq: self.stamp.dot.seq,
            deps: &self.deps,
        }
    }

    /// The op's dot.
    pub fn dot(&self) -> Dot {
        self.stamp.dot
    }

    /// Whether `vv` allows this op to be applied now: it is the next of its origin and its
    /// dependencies are covered.
    pub fn ready(&self, vv: &VersionVector) -> bool {
        let o: Origin = self.stamp.dot.origin;
        vv.get(o) + 1 == self.stamp.dot.seq
            && self.deps.iter().all(|(d, s)| d == o || vv.get(d) >= s)
    }

    /// A rough size in bytes, for the backlog's byte budget.
    pub fn size_hint(&self) -> usize {
        let body = match &self.kind {
            OpKind::SetStr(b, _) => b.len(),
            OpKind::HSet(v) => v.iter().map(|(f, x)| f.len() + x.len() + 16).sum(),
            OpKind::HIncr(f, _) => f.len() + 8,
            OpKind::HDel(v) | OpKind::SAdd(v) | OpKind::SRem(v) => {
                v.iter().map(|m| m.len() + 8).sum()
            }
            OpKind::Restore(Content::Str(b)) => b.len(),
            OpKind::Restore(Content::Hash(v)) => {
                v.iter().map(|(f, x)| f.len() + x.len() + 16).sum()
            }
            OpKind::Restore(Content::Set(v)) | OpKind::ZRem(v) => {
                v.iter().map(|m| m.len() + 8).sum()
            }
            OpKind::ZAdd(v) | OpKind::Restore(Content::ZSet(v)) => {
                v.iter().map(|(m, _)| m.len() + 16).sum()
            }
            OpKind::ZIncr(m, _) => m.len() + 8,
            OpKind::ListInsert { prefix, values, .. } => {
                prefix.len() * 32 + values.iter().map(|v| v.len() + 24).sum::<usize>()
            }
            OpKind::Restore(Content::List(values)) => {
                values.iter().map(|v| v.len() + 8).sum::<usize>()
            }
            OpKind::ListRemove(r) => r.iter().map(|(a, b)| 32 * (a.depth() + b.depth())).sum(),
            OpKind::ListSet(p, v) => 32 * p.depth() + v.len(),
            OpKind::PfAdd(r) | OpKind::Restore(Content::Hll(r)) => 3 * r.len(),
            OpKind::XAdd { fields, .. } => fields.iter().map(|f| f.len() + 8).sum::<usize>() + 16,
            OpKind::XDel(k) | OpKind::XTrim(k) => 32 * k.len(),
            _ => 8,
        };
        64 + self.key.len() + body
    }
}

/// How many ops at the front of `ops` are one origin's ops in sequence: every group
/// an instance issues or a peer may send is that whole.
pub fn run_len(ops: &[Op]) -> usize {
    let Some(head) = ops.first() else {
        return 0;
    };
    let h = head.dot();
    // Offsets, not a range from the first seq: a peer may send one at u64::MAX.
    ops.iter()
        .enumerate()
        .take_while(|(i, op)| {
            op.dot().origin == h.origin && op.dot().seq.wrapping_sub(h.seq) == *i as u64
        })
        .count()
}
