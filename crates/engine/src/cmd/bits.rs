//! Bitmaps and bit fields: string commands that read or rewrite bits. A write is a
//! register write of the whole new value, like every string write.

use super::strings::write_str;
use super::{MAX_STRING, get_str, index_range};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::Ttl;
use concord_crdt::num::parse_i64;
use concord_resp::Out;

fn bit_offset_err() -> CmdError {
    CmdError::msg("ERR bit offset is not an integer or out of range")
}

/// A bit offset argument within the 512 MB string limit.
fn bit_offset(b: &[u8]) -> Result<u64, CmdError> {
    let v = parse_i64(b).ok_or_else(bit_offset_err)?;
    if v < 0 || (v as u64 >> 3) >= MAX_STRING as u64 {
        return Err(bit_offset_err());
    }
    Ok(v as u64)
}

fn current(e: &mut Engine, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(get_str(e, key)?.map(|v| v.into_owned()))
}

/// SETBIT key offset value
pub fn setbit(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let off = bit_offset(a.get(2))?;
    let bit = match a.get(3) {
        b"0" => 0u8,
        b"1" => 1u8,
        _ => return Err(CmdError::msg("ERR bit is not an integer or out of range")),
    };
    let key = a.get(1);
    let found = current(e, key)?;
    let created = found.is_none();
    let mut v = found.unwrap_or_default();
    let byte = (off >> 3) as usize;
    let grown = v.len() <= byte;
    if grown {
        v.resize(byte + 1, 0);
    }
    let shift = 7 - (off & 7) as u8;
    let old = (v[byte] >> shift) & 1;
    v[byte] = (v[byte] & !(1 << shift)) | (bit << shift);
    // As Redis: a write (replicated, counted as a change) only when something changed.
    if created || grown || old != bit {
        write_str(e, key, &v, Ttl::Keep);
        e.notify(N::STRING, "setbit", key);
    }
    out.int(i64::from(old));
    Ok(())
}

/// GETBIT key offset
pub fn getbit(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let off = bit_offset(a.get(2))?;
    let v = get_str(e, a.get(1))?;
    let byte = (off >> 3) as usize;
    let bit = v
        .as_ref()
        .and_then(|v| v.get(byte))
        .map_or(0, |b| (b >> (7 - (off & 7))) & 1);
    out.int(i64::from(bit));
    Ok(())
}

/// Resolves a BITCOUNT/BITPOS range to inclusive bit positions, Redis's way.
fn bit_range(len: i64, start: i64, end: i64, isbit: bool) -> Option<(i64, i64)> {
    let total = if isbit { len << 3 } else { len };
    let (s, e) = index_range(total, start, end)?;
    Some(if isbit {
        (s, e)
    } else {
        (s << 3, (e << 3) + 7)
    })
}

fn bit_at(v: &[u8], i: i64) -> u8 {
    (v[(i >> 3) as usize] >> (7 - (i & 7))) & 1
}

fn unit(a: &Args, i: usize) -> Result<bool, CmdError> {
    if i >= a.len() {
        return Ok(false);
    }
    match a.upper(i).as_str() {
        "BIT" => Ok(true),
        "BYTE" => Ok(false),
        _ => Err(CmdError::Syntax),
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub fn bitcount(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let Some(v) = current(e, a.get(1))? else {
        out.int(0);
        return Ok(());
    };
    let range = match a.len() {
        2 => bit_range(v.len() as i64, 0, -1, false),
        4 | 5 => {
            let (s, en) = (a.int(2)?, a.int(3)?);
            // Redis answers an inverted negative range before it reads the unit.
            if s < 0 && en < 0 && s > en {
                out.int(0);
                return Ok(());
            }
            let isbit = unit(&a, 4)?;
            bit_range(v.len() as i64, s, en, isbit)
        }
        _ => return Err(CmdError::Syntax),
    };
    let n = match range {
        None => 0,
        Some((s, en)) => {
            let (fb, lb) = ((s >> 3) as usize, (en >> 3) as usize);
            let mut n: u64 = v[fb..=lb].iter().map(|b| u64::from(b.count_ones())).sum();
            // Take off the bits outside the range in the edge bytes.
            if s & 7 != 0 {
                n -= u64::from((v[fb] >> (8 - (s & 7))).count_ones());
            }
            n -= u64::from((v[lb] & ((1u16 << (7 - (en & 7))) - 1) as u8).count_ones());
            n
        }
    };
    out.int(n as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub fn bitpos(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let bit = a.int(2)?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::msg("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit as u8;
    let Some(v) = current(e, a.get(1))? else {
        out.int(if bit == 1 { -1 } else { 0 });
        return Ok(());
    };
    let len = v.len() as i64;
    let (range, end_given) = match a.len() {
        3 => (bit_range(len, 0, -1, false), false),
        4..=6 => {
            let s = a.int(3)?;
            let isbit = unit(&a, 5)?;
            let (en, given) = if a.len() >= 5 {
                (a.int(4)?, true)
            } else if isbit {
                ((len << 3) + 7, false)
            } else {
                (len - 1, false)
            };
            (bit_range(len, s, en, isbit), given)
        }
        _ => return Err(CmdError::Syntax),
    };
    let Some((s, en)) = range else {
        out.int(-1);
        return Ok(());
    };
    let found = (s..=en).find(|&i| bit_at(&v, i) == bit);
    let pos = match found {
        Some(p) => p,
        None if bit == 0 && !end_given => en + 1,
        None => -1,
    };
    out.int(pos);
    Ok(())
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
pub fn bitop(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let op = a.upper(1);
    if !matches!(op.as_str(), "AND" | "OR" | "XOR" | "NOT") {
        return Err(CmdError::Syntax);
    }
    if op == "NOT" && a.len() != 4 {
        return Err(CmdError::msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut srcs: Vec<Vec<u8>> = Vec::new();
    for k in a.from(3) {
        srcs.push(current(e, k)?.unwrap_or_default());
    }
    let maxlen = srcs.iter().map(Vec::len).max().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    for (i, r) in res.iter_mut().enumerate() {
        let byte = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
        *r = match op.as_str() {
            "NOT" => !byte(&srcs[0]),
            "AND" => srcs.iter().fold(0xFF, |acc, s| acc & byte(s)),
            "OR" => srcs.iter().fold(0, |acc, s| acc | byte(s)),
            _ => srcs.iter().fold(0, |acc, s| acc ^ byte(s)),
        };
    }
    let dst = a.get(2);
    if res.is_empty() {
        if e.lookup(dst, true).is_some() {
            e.emit(dst, concord_crdt::OpKind::DelKey);
            e.notify(N::GENERIC, "del", dst);
        }
    } else {
        write_str(e, dst, &res, Ttl::Set(None));
        e.notify(N::STRING, "set", dst);
    }
    out.int(res.len() as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy)]
enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

fn field_type(b: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || {
        CmdError::msg(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match b.first() {
        Some(b'i' | b'I') => true,
        Some(b'u' | b'U') => false,
        _ => return Err(err()),
    };
    let bits = parse_i64(&b[1..]).ok_or_else(err)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn field_offset(b: &[u8], bits: u32) -> Result<u64, CmdError> {
    let (hash, digits) = match b.first() {
        Some(b'#') => (true, &b[1..]),
        _ => (false, b),
    };
    let mut v = parse_i64(digits).ok_or_else(bit_offset_err)?;
    if hash {
        v = v.checked_mul(i64::from(bits)).ok_or_else(bit_offset_err)?;
    }
    if v < 0 || (v as u64 >> 3) >= MAX_STRING as u64 {
        return Err(bit_offset_err());
    }
    Ok(v as u64)
}

fn get_field(v: &[u8], offset: u64, bits: u32) -> u64 {
    let mut x: u64 = 0;
    for j in 0..u64::from(bits) {
        let i = offset + j;
        let byte = v.get((i >> 3) as usize).copied().unwrap_or(0);
        x = (x << 1) | u64::from((byte >> (7 - (i & 7))) & 1);
    }
    x
}

fn set_field(v: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let bit = (value >> (u64::from(bits) - 1 - j)) & 1;
        let i = offset + j;
        let byte = &mut v[(i >> 3) as usize];
        let shift = 7 - (i & 7);
        *byte = (*byte & !(1 << shift)) | ((bit as u8) << shift);
    }
}

fn to_signed(x: u64, bits: u32) -> i64 {
    if bits == 64 {
        x as i64
    } else if x & (1 << (bits - 1)) != 0 {
        (x | (u64::MAX << bits)) as i64
    } else {
        x as i64
    }
}

/// Redis's checkSignedBitfieldOverflow: (overflowed, value to store when it did).
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = max.wrapping_sub(value);
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        (true, if ow == Overflow::Wrap { wrap() } else { max })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        (true, if ow == Overflow::Wrap { wrap() } else { min })
    } else {
        (false, 0)
    }
}

/// Redis's checkUnsignedBitfieldOverflow.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max: u64 = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > maxincr) {
        (true, if ow == Overflow::Wrap { wrap() } else { max })
    } else if incr < 0 && incr < minincr {
        (true, if ow == Overflow::Wrap { wrap() } else { 0 })
    } else {
        (false, 0)
    }
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset incr]
/// [OVERFLOW WRAP|SAT|FAIL] ... (and BITFIELD_RO with GET only)
pub fn bitfield(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let readonly = a.is(0, "bitfield_ro");
    let mut ops: Vec<Field> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < a.len() {
        let sub = a.upper(i);
        let left = a.len() - i - 1;
        match sub.as_str() {
            "GET" if left >= 2 => {
                let (signed, bits) = field_type(a.get(i + 1))?;
                let offset = field_offset(a.get(i + 2), bits)?;
                ops.push(Field {
                    op: FieldOp::Get,
                    signed,
                    bits,
                    offset,
                    overflow,
                });
                i += 3;
            }
            "SET" | "INCRBY" if left >= 3 => {
                let (signed, bits) = field_type(a.get(i + 1))?;
                let offset = field_offset(a.get(i + 2), bits)?;
                let v = a.int(i + 3)?;
                let op = if sub == "SET" {
                    FieldOp::Set(v)
                } else {
                    FieldOp::Incr(v)
                };
                ops.push(Field {
                    op,
                    signed,
                    bits,
                    offset,
                    overflow,
                });
                i += 4;
            }
            "OVERFLOW" if left >= 1 => {
                overflow = match a.upper(i + 1).as_str() {
                    "WRAP" => Overflow::Wrap,
                    "SAT" => Overflow::Sat,
                    "FAIL" => Overflow::Fail,
                    _ => return Err(CmdError::msg("ERR Invalid OVERFLOW type specified")),
                };
                i += 2;
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    let writes = ops.iter().any(|f| !matches!(f.op, FieldOp::Get));
    if readonly && writes {
        return Err(CmdError::msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let key = a.get(1);
    let existing = current(e, key)?;
    let mut v = existing.clone().unwrap_or_default();
    if writes {
        let need = ops
            .iter()
            .filter(|f| !matches!(f.op, FieldOp::Get))
            .map(|f| ((f.offset + u64::from(f.bits) - 1) >> 3) as usize + 1)
            .max()
            .unwrap_or(0);
        if v.len() < need {
            v.resize(need, 0);
        }
    }
    out.array(ops.len());
    for f in &ops {
        let old = get_field(&v, f.offset, f.bits);
        match f.op {
            FieldOp::Get => {
                if f.signed {
                    out.int(to_signed(old, f.bits));
                } else {
                    out.int(old as i64);
                }
            }
            FieldOp::Set(x) | FieldOp::Incr(x) => {
                let is_incr = matches!(f.op, FieldOp::Incr(_));
                let (reply, store, failed) = if f.signed {
                    let oldv = to_signed(old, f.bits);
                    let (ov, wrapped) = if is_incr {
                        signed_overflow(oldv, x, f.bits, f.overflow)
                    } else {
                        signed_overflow(x, 0, f.bits, f.overflow)
                    };
                    let newv = if ov {
                        wrapped
                    } else if is_incr {
                        oldv.wrapping_add(x)
                    } else {
                        x
                    };
                    (
                        if is_incr { newv } else { oldv },
                        newv as u64,
                        ov && f.overflow == Overflow::Fail,
                    )
                } else {
                    let (ov, wrapped) = if is_incr {
                        unsigned_overflow(old, x, f.bits, f.overflow)
                    } else {
                        unsigned_overflow(x as u64, 0, f.bits, f.overflow)
                    };
                    let newv = if ov {
                        wrapped
                    } else if is_incr {
                        old.wrapping_add(x as u64)
                    } else {
                        x as u64
                    };
                    (
                        if is_incr { newv as i64 } else { old as i64 },
                        newv,
                        ov && f.overflow == Overflow::Fail,
                    )
                };
                if failed {
                    out.null();
                } else {
                    out.int(reply);
                    let mask = if f.bits == 64 {
                        u64::MAX
                    } else {
                        (1u64 << f.bits) - 1
                    };
                    set_field(&mut v, f.offset, f.bits, store & mask);
                }
            }
        }
    }
    if writes && existing.as_deref() != Some(&v[..]) {
        write_str(e, key, &v, Ttl::Keep);
    }
    if writes {
        e.notify(N::STRING, "setbit", key);
    }
    Ok(())
}
