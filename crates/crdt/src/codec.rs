//! The binary encoding of ops: what goes on the wire between peers and into the
//! append-only file. Every encoded group starts with the format version; decoding is
//! bounded and never trusts a length it has not checked against the bytes present.

use crate::clock::{Dot, Hlc, Origin, Stamp};
use crate::coll::{Blob, Dots, OrMap, OrSet};
use crate::counter::{Amount, Counted, CountedValue, Fold};
use crate::f80::F80;
use crate::key::KeyState;
use crate::list::{Elem, Level, List, Pos};
use crate::op::{Content, OP_FORMAT_VERSION, Op, OpKind, Ttl};
use crate::reg::MvReg;
use crate::stream::StreamId;
use crate::vv::VersionVector;
use crate::zset::ZSet;
use std::sync::Arc;

/// Why bytes did not decode into ops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended inside a value.
    #[error("truncated op encoding")]
    Truncated,
    /// The group was written by a format this build does not know.
    #[error("unsupported op format version {0}")]
    Version(u16),
    /// An unknown op kind or sub-tag.
    #[error("unknown tag {0} in op encoding")]
    Tag(u8),
    /// A value that cannot be (an overlong varint, a non-canonical float, a zero seq).
    #[error("malformed op encoding: {0}")]
    Malformed(&'static str),
}

/// Appends an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_amount(out: &mut Vec<u8>, a: &Amount) {
    match a {
        Amount::Int(i) => {
            out.push(0);
            put_varint(out, *i as u64);
        }
        Amount::Float(f) => {
            let (neg, mant, exp, inf) = f.to_parts();
            out.push(1 | (u8::from(neg) << 1) | (u8::from(inf) << 2));
            put_varint(out, mant);
            put_varint(out, exp as u32 as u64);
        }
    }
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

/// Appends one op's encoding (without the group header).
pub fn encode_op(op: &Op, out: &mut Vec<u8>) {
    let d = op.stamp.dot;
    put_varint(out, u64::from(d.origin.id));
    put_varint(out, u64::from(d.origin.incarnation));
    put_varint(out, d.seq);
    put_varint(out, op.stamp.ts.0);
    put_varint(out, op.deps.len() as u64);
    for (o, s) in op.deps.iter() {
        put_varint(out, u64::from(o.id));
        put_varint(out, u64::from(o.incarnation));
        put_varint(out, s);
    }
    put_bytes(out, &op.key);
    match &op.kind {
        OpKind::SetStr(v, ttl) => {
            out.push(1);
            put_bytes(out, v);
            match ttl {
                Ttl::Keep => out.push(0),
                Ttl::Set(None) => out.push(1),
                Ttl::Set(Some(at)) => {
                    out.push(2);
                    put_varint(out, *at);
                }
            }
        }
        OpKind::IncrStr(a) => {
            out.push(2);
            put_amount(out, a);
        }
        OpKind::DelKey => out.push(3),
        OpKind::Expire(at) => {
            out.push(4);
            match at {
                None => out.push(0),
                Some(t) => {
                    out.push(1);
                    put_varint(out, *t);
                }
            }
        }
        OpKind::HSet(pairs) => {
            out.push(5);
            put_pairs(out, pairs);
        }
        OpKind::HIncr(f, a) => {
            out.push(6);
            put_bytes(out, f);
            put_amount(out, a);
        }
        OpKind::HDel(v) => {
            out.push(7);
            put_list(out, v);
        }
        OpKind::SAdd(v) => {
            out.push(8);
            put_list(out, v);
        }
        OpKind::SRem(v) => {
            out.push(9);
            put_list(out, v);
        }
        OpKind::ZAdd(v) => {
            out.push(10);
            put_scored(out, v);
        }
        OpKind::ZIncr(m, d) => {
            out.push(11);
            put_bytes(out, m);
            put_f64(out, *d);
        }
        OpKind::ZRem(v) => {
            out.push(12);
            put_list(out, v);
        }
        OpKind::Restore(c) => {
            out.push(13);
            match c {
                Content::Str(v) => {
                    out.push(0);
                    put_bytes(out, v);
                }
                Content::Hash(p) => {
                    out.push(1);
                    put_pairs(out, p);
                }
                Content::Set(v) => {
                    out.push(2);
                    put_list(out, v);
                }
                Content::ZSet(v) => {
                    out.push(3);
                    put_scored(out, v);
                }
                Content::List(v) => {
                    out.push(4);
                    put_list(out, v);
                }
                Content::Hll(r) => {
                    out.push(5);
                    put_regs(out, r);
                }
                Content::Stream(entries, last) => {
                    out.push(6);
                    put_varint(out, entries.len() as u64);
                    for (id, f) in entries {
                        put_sid(out, id);
                        put_list(out, f);
                    }
                    put_sid(out, last);
                }
            }
        }
        OpKind::FlushAll => out.push(14),
        OpKind::ListInsert {
            prefix,
            digit,
            values,
        } => {
            out.push(15);
            put_levels(out, prefix);
            put_varint(out, *digit);
            put_list(out, values);
        }
        OpKind::ListRemove(ranges) => {
            out.push(16);
            put_varint(out, ranges.len() as u64);
            for (a, b) in ranges {
                put_pos(out, a);
                put_pos(out, b);
            }
        }
        OpKind::ListSet(p, v) => {
            out.push(17);
            put_pos(out, p);
            put_bytes(out, v);
        }
        OpKind::PfAdd(r) => {
            out.push(18);
            put_regs(out, r);
        }
        OpKind::HllDel => out.push(19),
        OpKind::XAdd { id, fields } => {
            out.push(20);
            put_sid(out, id);
            put_list(out, fields);
        }
        OpKind::XDel(keys) | OpKind::XTrim(keys) => {
            out.push(if matches!(op.kind, OpKind::XDel(_)) {
                21
            } else {
                23
            });
            put_varint(out, keys.len() as u64);
            for (id, dot) in keys {
                put_sid(out, id);
                put_stamp(out, &Stamp::new(*dot, Hlc(0)));
            }
        }
        OpKind::XGroupCreate {
            name,
            id,
            mkstream,
            read,
        } => {
            out.push(24);
            put_bytes(out, name);
            put_sid(out, id);
            out.push(u8::from(*mkstream));
            put_read(out, *read);
        }
        OpKind::XGroupSetId(name, id, read) => {
            out.push(25);
            put_bytes(out, name);
            put_sid(out, id);
            put_read(out, *read);
        }
        OpKind::XGroupAdvance(name, part, id, read) => {
            out.push(26);
            put_bytes(out, name);
            put_varint(out, u64::from(*part));
            put_sid(out, id);
            put_read(out, *read);
        }
        OpKind::XGroupDestroy(name) => {
            out.push(27);
            put_bytes(out, name);
        }
        OpKind::XSetId {
            id,
            added,
            max_deleted,
        } => {
            out.push(22);
            put_sid(out, id);
            match added {
                None => out.push(0),
                Some(a) => {
                    out.push(1);
                    put_varint(out, *a);
                }
            }
            match max_deleted {
                None => out.push(0),
                Some(m) => {
                    out.push(1);
                    put_sid(out, m);
                }
            }
        }
    }
}

fn put_read(out: &mut Vec<u8>, read: Option<i64>) {
    match read {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            put_varint(out, n as u64);
        }
    }
}

fn put_sid(out: &mut Vec<u8>, id: &StreamId) {
    put_varint(out, id.ms);
    put_varint(out, id.seq);
}

fn put_regs(out: &mut Vec<u8>, r: &[(u16, u8)]) {
    put_varint(out, r.len() as u64);
    for &(i, v) in r {
        put_varint(out, u64::from(i));
        out.push(v);
    }
}

fn put_level(out: &mut Vec<u8>, l: &Level) {
    put_varint(out, l.digit);
    put_varint(out, u64::from(l.id));
    put_varint(out, u64::from(l.incarnation));
    put_varint(out, l.seq);
    put_varint(out, u64::from(l.idx));
}

fn put_levels(out: &mut Vec<u8>, levels: &[Level]) {
    put_varint(out, levels.len() as u64);
    for l in levels {
        put_level(out, l);
    }
}

fn put_pos(out: &mut Vec<u8>, p: &Pos) {
    put_varint(out, p.depth() as u64);
    for l in p.levels() {
        put_level(out, l);
    }
}

fn put_list(out: &mut Vec<u8>, v: &[impl AsRef<[u8]>]) {
    put_varint(out, v.len() as u64);
    for b in v {
        put_bytes(out, b.as_ref());
    }
}

fn put_pairs(out: &mut Vec<u8>, v: &[(Blob, Blob)]) {
    put_varint(out, v.len() as u64);
    for (a, b) in v {
        put_bytes(out, a);
        put_bytes(out, b);
    }
}

fn put_scored(out: &mut Vec<u8>, v: &[(Blob, f64)]) {
    put_varint(out, v.len() as u64);
    for (m, s) in v {
        put_bytes(out, m);
        put_f64(out, *s);
    }
}

/// Encodes a group of ops (applied all together) with the format version in front.
pub fn encode_group(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + ops.iter().map(Op::size_hint).sum::<usize>());
    encode_group_into(ops, &mut out);
    out
}

/// Appends the encoding of [`encode_group`] to `out` (no allocation of its own).
pub fn encode_group_into(ops: &[Op], out: &mut Vec<u8>) {
    out.extend_from_slice(&OP_FORMAT_VERSION.to_le_bytes());
    put_varint(out, ops.len() as u64);
    for op in ops {
        encode_op(op, out);
    }
}

/// A cursor over bytes being decoded; every read is bounded by the bytes present.
pub struct Reader<'a> {
    buf: &'a [u8],
    /// The state format version of what is read (older ones lack some fields).
    state_version: u16,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            state_version: STATE_FORMAT_VERSION,
        }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Reads one byte.
    pub fn byte(&mut self) -> Result<u8, CodecError> {
        let (&b, rest) = self.buf.split_first().ok_or(CodecError::Truncated)?;
        self.buf = rest;
        Ok(b)
    }

    /// Reads a varint written by [`put_varint`].
    pub fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(CodecError::Malformed("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Malformed("varint longer than 10 bytes"))
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        u32::try_from(self.varint()?).map_err(|_| CodecError::Malformed("value exceeds 32 bits"))
    }

    fn u16(&mut self) -> Result<u16, CodecError> {
        u16::try_from(self.varint()?).map_err(|_| CodecError::Malformed("value exceeds 16 bits"))
    }

    /// Reads a count of items each at least `min_size` bytes long, bounded by what is left.
    pub fn count(&mut self, min_size: usize) -> Result<usize, CodecError> {
        let n = self.varint()?;
        if n > (self.buf.len() / min_size.max(1)) as u64 {
            return Err(CodecError::Truncated);
        }
        Ok(n as usize)
    }

    /// Reads a byte string written by [`put_bytes`].
    pub fn bytes(&mut self) -> Result<Blob, CodecError> {
        Ok(self.byte_slice()?.into())
    }

    /// Like [`Reader::bytes`], short values inline.
    fn small_bytes(&mut self) -> Result<crate::small::SmallBlob, CodecError> {
        Ok(self.byte_slice()?.into())
    }

    fn byte_slice(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.varint()?;
        if n > self.buf.len() as u64 {
            return Err(CodecError::Truncated);
        }
        let (b, rest) = self.buf.split_at(n as usize);
        self.buf = rest;
        Ok(b)
    }

    fn f64(&mut self) -> Result<f64, CodecError> {
        if self.buf.len() < 8 {
            return Err(CodecError::Truncated);
        }
        let (b, rest) = self.buf.split_at(8);
        self.buf = rest;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    fn amount(&mut self) -> Result<Amount, CodecError> {
        let tag = self.byte()?;
        match tag {
            0 => Ok(Amount::Int(self.varint()? as i64)),
            t if t & 1 == 1 && t < 8 => {
                let mant = self.varint()?;
                let exp = self.u32()? as i32;
                F80::from_parts(t & 2 != 0, mant, exp, t & 4 != 0)
                    .map(Amount::Float)
                    .ok_or(CodecError::Malformed("non-canonical extended float"))
            }
            t => Err(CodecError::Tag(t)),
        }
    }

    fn list(&mut self) -> Result<Vec<Blob>, CodecError> {
        let n = self.count(1)?;
        (0..n).map(|_| self.bytes()).collect()
    }

    fn pairs(&mut self) -> Result<Vec<(Blob, Blob)>, CodecError> {
        let n = self.count(2)?;
        (0..n).map(|_| Ok((self.bytes()?, self.bytes()?))).collect()
    }

    fn scored(&mut self) -> Result<Vec<(Blob, f64)>, CodecError> {
        let n = self.count(9)?;
        (0..n).map(|_| Ok((self.bytes()?, self.f64()?))).collect()
    }

    fn read(&mut self) -> Result<Option<i64>, CodecError> {
        match self.byte()? {
            0 => Ok(None),
            1 => Ok(Some(self.varint()? as i64)),
            t => Err(CodecError::Tag(t)),
        }
    }

    fn sid(&mut self) -> Result<StreamId, CodecError> {
        Ok(StreamId::new(self.varint()?, self.varint()?))
    }

    fn regs(&mut self) -> Result<Vec<(u16, u8)>, CodecError> {
        let n = self.count(2)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let i = self.u16()?;
            let r = self.byte()?;
            if usize::from(i) >= crate::hll::REGISTERS || r > 64 {
                return Err(CodecError::Malformed("HyperLogLog register out of range"));
            }
            v.push((i, r));
        }
        Ok(v)
    }

    fn level(&mut self) -> Result<Level, CodecError> {
        let digit = self.varint()?;
        let id = self.u16()?;
        let incarnation = self.u32()?;
        let seq = self.varint()?;
        if seq == 0 {
            return Err(CodecError::Malformed("sequence numbers start at 1"));
        }
        Ok(Level {
            digit,
            id,
            incarnation,
            seq,
            idx: self.u32()?,
        })
    }

    fn levels(&mut self) -> Result<Vec<Level>, CodecError> {
        let n = self.count(5)?;
        (0..n).map(|_| self.level()).collect()
    }

    fn pos(&mut self) -> Result<Pos, CodecError> {
        let levels = self.levels()?;
        Pos::from_levels(&levels).ok_or(CodecError::Malformed("empty list position"))
    }

    fn op(&mut self, last: &mut Option<Arc<VersionVector>>) -> Result<Op, CodecError> {
        let origin = Origin::new(self.u16()?, self.u32()?);
        let seq = self.varint()?;
        if seq == 0 {
            return Err(CodecError::Malformed("sequence numbers start at 1"));
        }
        let ts = Hlc(self.varint()?);
        let ndeps = self.count(3)?;
        let mut deps = VersionVector::new();
        for _ in 0..ndeps {
            let o = Origin::new(self.u16()?, self.u32()?);
            deps.raise(o, self.varint()?);
        }
        let key = self.bytes()?;
        let kind = match self.byte()? {
            1 => {
                let v = self.bytes()?;
                let ttl = match self.byte()? {
                    0 => Ttl::Keep,
                    1 => Ttl::Set(None),
                    2 => Ttl::Set(Some(self.varint()?)),
                    t => return Err(CodecError::Tag(t)),
                };
                OpKind::SetStr(v, ttl)
            }
            2 => OpKind::IncrStr(self.amount()?),
            3 => OpKind::DelKey,
            4 => match self.byte()? {
                0 => OpKind::Expire(None),
                1 => OpKind::Expire(Some(self.varint()?)),
                t => return Err(CodecError::Tag(t)),
            },
            5 => OpKind::HSet(self.pairs()?),
            6 => OpKind::HIncr(self.bytes()?, self.amount()?),
            7 => OpKind::HDel(self.list()?),
            8 => OpKind::SAdd(self.list()?),
            9 => OpKind::SRem(self.list()?),
            10 => OpKind::ZAdd(self.scored()?),
            11 => OpKind::ZIncr(self.bytes()?, self.f64()?),
            12 => OpKind::ZRem(self.list()?),
            13 => OpKind::Restore(match self.byte()? {
                0 => Content::Str(self.bytes()?),
                1 => Content::Hash(self.pairs()?),
                2 => Content::Set(self.list()?),
                3 => Content::ZSet(self.scored()?),
                4 => Content::List(self.list()?),
                5 => Content::Hll(self.regs()?),
                6 => {
                    let n = self.count(3)?;
                    let mut entries = Vec::with_capacity(n);
                    for _ in 0..n {
                        let id = self.sid()?;
                        entries.push((id, self.list()?));
                    }
                    Content::Stream(entries, self.sid()?)
                }
                t => return Err(CodecError::Tag(t)),
            }),
            14 => OpKind::FlushAll,
            15 => OpKind::ListInsert {
                prefix: self.levels()?.into(),
                digit: self.varint()?,
                values: {
                    let n = self.count(1)?;
                    (0..n)
                        .map(|_| self.small_bytes())
                        .collect::<Result<_, _>>()?
                },
            },
            16 => {
                let n = self.count(12)?;
                let mut ranges = Vec::with_capacity(n);
                for _ in 0..n {
                    let a = self.pos()?;
                    let b = self.pos()?;
                    ranges.push((a, b));
                }
                OpKind::ListRemove(ranges)
            }
            17 => OpKind::ListSet(self.pos()?, self.bytes()?),
            18 => OpKind::PfAdd(self.regs()?),
            19 => OpKind::HllDel,
            20 => OpKind::XAdd {
                id: self.sid()?,
                fields: self.list()?,
            },
            t @ (21 | 23) => {
                let n = self.count(6)?;
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = self.sid()?;
                    keys.push((id, self.stamp()?.dot));
                }
                if t == 21 {
                    OpKind::XDel(keys)
                } else {
                    OpKind::XTrim(keys)
                }
            }
            24 => OpKind::XGroupCreate {
                name: self.bytes()?,
                id: self.sid()?,
                mkstream: match self.byte()? {
                    0 => false,
                    1 => true,
                    t => return Err(CodecError::Tag(t)),
                },
                read: self.read()?,
            },
            25 => OpKind::XGroupSetId(self.bytes()?, self.sid()?, self.read()?),
            26 => OpKind::XGroupAdvance(self.bytes()?, self.u16()?, self.sid()?, self.read()?),
            27 => OpKind::XGroupDestroy(self.bytes()?),
            22 => {
                let id = self.sid()?;
                let added = match self.byte()? {
                    0 => None,
                    1 => Some(self.varint()?),
                    t => return Err(CodecError::Tag(t)),
                };
                let max_deleted = match self.byte()? {
                    0 => None,
                    1 => Some(self.sid()?),
                    t => return Err(CodecError::Tag(t)),
                };
                OpKind::XSetId {
                    id,
                    added,
                    max_deleted,
                }
            }
            t => return Err(CodecError::Tag(t)),
        };
        // Consecutive ops mostly carry the same context: share one allocation.
        let deps = match last {
            Some(a) if **a == deps => Arc::clone(a),
            _ => {
                let a = Arc::new(deps);
                *last = Some(Arc::clone(&a));
                a
            }
        };
        Ok(Op {
            stamp: Stamp::new(Dot::new(origin, seq), ts),
            deps,
            key,
            kind,
        })
    }
}

/// Decodes one group written by [`encode_group`]; the whole input must be used.
pub fn decode_group(buf: &[u8]) -> Result<Vec<Op>, CodecError> {
    decode_group_sharing(buf, &mut None)
}

/// Like [`decode_group`], reusing `last` (and updating it) for equal contexts, so a batch
/// of groups holds one copy of each distinct context.
pub fn decode_group_sharing(
    buf: &[u8],
    last: &mut Option<Arc<VersionVector>>,
) -> Result<Vec<Op>, CodecError> {
    if buf.len() < 2 {
        return Err(CodecError::Truncated);
    }
    let version = u16::from_le_bytes([buf[0], buf[1]]);
    if version != OP_FORMAT_VERSION {
        return Err(CodecError::Version(version));
    }
    let mut r = Reader::new(&buf[2..]);
    // The smallest op (empty key, no deps, DEL) takes 7 bytes.
    let n = r.count(7)?;
    let ops = (0..n).map(|_| r.op(last)).collect::<Result<Vec<_>, _>>()?;
    if !r.buf.is_empty() {
        return Err(CodecError::Malformed("trailing bytes after the group"));
    }
    Ok(ops)
}

fn put_stamp(out: &mut Vec<u8>, s: &Stamp) {
    put_varint(out, u64::from(s.dot.origin.id));
    put_varint(out, u64::from(s.dot.origin.incarnation));
    put_varint(out, s.dot.seq);
    put_varint(out, s.ts.0);
}

/// Appends a version vector: entry count, then (id, incarnation, seq) per entry.
pub fn put_vv(out: &mut Vec<u8>, vv: &VersionVector) {
    put_varint(out, vv.len() as u64);
    for (o, s) in vv.iter() {
        put_varint(out, u64::from(o.id));
        put_varint(out, u64::from(o.incarnation));
        put_varint(out, s);
    }
}

impl Reader<'_> {
    fn stamp(&mut self) -> Result<Stamp, CodecError> {
        let origin = Origin::new(self.u16()?, self.u32()?);
        let seq = self.varint()?;
        if seq == 0 {
            return Err(CodecError::Malformed("sequence numbers start at 1"));
        }
        Ok(Stamp::new(Dot::new(origin, seq), Hlc(self.varint()?)))
    }

    /// Reads a version vector written by [`put_vv`].
    pub fn vv(&mut self) -> Result<VersionVector, CodecError> {
        let n = self.count(3)?;
        let mut vv = VersionVector::new();
        for _ in 0..n {
            let o = Origin::new(self.u16()?, self.u32()?);
            vv.raise(o, self.varint()?);
        }
        Ok(vv)
    }
}

mod state;

pub use state::{
    STATE_FORMAT_VERSION, decode_states, encode_state, encode_states, encode_states_as,
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn blob() -> impl Strategy<Value = Blob> {
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(|v| v.into_boxed_slice())
    }

    fn amount() -> impl Strategy<Value = Amount> {
        prop_oneof![
            any::<i64>().prop_map(Amount::Int),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| Amount::Float(F80::from_f64(f))),
        ]
    }

    fn kind() -> impl Strategy<Value = OpKind> {
        let score = any::<f64>().prop_filter("not NaN", |f| !f.is_nan());
        prop_oneof![
            (
                blob(),
                proptest::option::of(proptest::option::of(any::<u64>()))
            )
                .prop_map(|(v, t)| OpKind::SetStr(
                    v,
                    match t {
                        None => Ttl::Keep,
                        Some(x) => Ttl::Set(x),
                    }
                )),
            amount().prop_map(OpKind::IncrStr),
            Just(OpKind::DelKey),
            proptest::option::of(any::<u64>()).prop_map(OpKind::Expire),
            proptest::collection::vec((blob(), blob()), 0..4).prop_map(OpKind::HSet),
            (blob(), amount()).prop_map(|(f, a)| OpKind::HIncr(f, a)),
            proptest::collection::vec(blob(), 0..4).prop_map(OpKind::HDel),
            proptest::collection::vec(blob(), 0..4).prop_map(OpKind::SAdd),
            proptest::collection::vec(blob(), 0..4).prop_map(OpKind::SRem),
            proptest::collection::vec((blob(), score.clone()), 0..4).prop_map(OpKind::ZAdd),
            (blob(), score.clone()).prop_map(|(m, d)| OpKind::ZIncr(m, d)),
            proptest::collection::vec(blob(), 0..4).prop_map(OpKind::ZRem),
            proptest::collection::vec((blob(), score), 0..4)
                .prop_map(|v| OpKind::Restore(Content::ZSet(v))),
            blob().prop_map(|v| OpKind::Restore(Content::Str(v))),
            Just(OpKind::FlushAll),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        (
            1u16..100,
            any::<u32>(),
            1u64..u64::MAX,
            any::<u64>(),
            proptest::collection::vec((1u16..100, any::<u32>(), 1u64..1000), 0..4),
            blob(),
            kind(),
        )
            .prop_map(|(id, inc, seq, ts, deps, key, kind)| Op {
                stamp: Stamp::new(Dot::new(Origin::new(id, inc), seq), Hlc(ts)),
                deps: Arc::new(
                    deps.into_iter()
                        .map(|(i, n, s)| (Origin::new(i, n), s))
                        .collect(),
                ),
                key,
                kind,
            })
    }

    proptest! {
        /// Every group decodes to exactly what was encoded.
        #[test]
        fn groups_roundtrip(ops in proptest::collection::vec(op(), 0..5)) {
            let bytes = encode_group(&ops);
            let back = decode_group(&bytes).expect("decodes");
            prop_assert_eq!(back.len(), ops.len());
            for (a, b) in ops.iter().zip(&back) {
                // Scores compare by bits so -0.0 and NaN payloads are checked exactly.
                prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
            }
        }

        /// Truncated, corrupted or random input is refused, never a panic.
        #[test]
        fn hostile_bytes_are_refused(ops in proptest::collection::vec(op(), 1..3), cut in any::<usize>(), flip in any::<(usize, u8)>(), junk in proptest::collection::vec(any::<u8>(), 0..64)) {
            let bytes = encode_group(&ops);
            let cut = cut % bytes.len();
            prop_assert!(decode_group(&bytes[..cut]).is_err());
            let mut bad = bytes.clone();
            let i = flip.0 % bad.len();
            bad[i] ^= flip.1 | 1;
            let _ = decode_group(&bad);
            let _ = decode_group(&junk);
        }
    }

    #[test]
    fn many_minimal_ops_decode() {
        let ops: Vec<Op> = (1..=20)
            .map(|seq| Op {
                stamp: Stamp::new(Dot::new(Origin::new(1, 0), seq), Hlc(0)),
                deps: Arc::new(VersionVector::new()),
                key: Blob::default(),
                kind: OpKind::DelKey,
            })
            .collect();
        assert_eq!(
            decode_group(&encode_group(&ops)).expect("decodes").len(),
            20
        );
    }

    #[test]
    fn unknown_versions_are_refused() {
        let mut bytes = encode_group(&[]);
        bytes[0] = 99;
        assert_eq!(decode_group(&bytes), Err(CodecError::Version(99)));
    }
}
