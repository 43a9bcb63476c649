//! HyperLogLog: Redis's estimator and byte formats, and a delete-wins CRDT around them.
//!
//! Registers merge by maximum, so adds and merges commute. A removal of an HLL (DEL, a type
//! change, FLUSHALL, expiry) is an explicit op issued by an instance that saw the HLL; it
//! clears every register, including those of adds it had not seen, and is kept until
//! stable: an add whose context does not cover a kept removal is dropped. That is the
//! delete-wins rule of SEMANTICS.md, decided by op content and so the same everywhere.

use crate::clock::{Dot, Stamp};
use crate::digest::Digest;
use crate::vv::VersionVector;

/// Register index bits (Redis's HLL_P).
pub const P: u32 = 14;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bits of the hash left for the run length (Redis's HLL_Q).
const Q: u32 = 64 - P;
/// Bytes of the header: magic, encoding, 3 unused, 8 cached cardinality.
pub const HDR: usize = 16;
/// Bytes of a dense representation.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
/// The largest sparse representation before Redis promotes it (hll-sparse-max-bytes).
pub const SPARSE_MAX: usize = 3000;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// MurmurHash64A, as Redis hashes HLL elements (little-endian words).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the run length it proposes (1..=51).
pub fn pattern(element: &[u8]) -> (u16, u8) {
    let mut hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as u16;
    hash >>= P;
    hash |= 1 << Q;
    (index, hash.trailing_zeros() as u8 + 1)
}

/// The registers of one HLL: sparse (sorted non-zero entries) while small, then dense.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Registers {
    sparse: Vec<(u16, u8)>,
    dense: Option<Box<[u8; REGISTERS]>>,
}

/// Above this many non-zero registers the dense array is smaller.
const SPARSE_ENTRIES: usize = REGISTERS / 4;

impl Registers {
    /// Raises register `i` to at least `v`; returns whether it changed.
    pub fn raise(&mut self, i: u16, v: u8) -> bool {
        if v == 0 || usize::from(i) >= REGISTERS {
            return false;
        }
        if let Some(d) = &mut self.dense {
            let r = &mut d[usize::from(i)];
            if *r >= v {
                return false;
            }
            *r = v;
            return true;
        }
        match self.sparse.binary_search_by_key(&i, |e| e.0) {
            Ok(j) => {
                if self.sparse[j].1 >= v {
                    return false;
                }
                self.sparse[j].1 = v;
            }
            Err(j) => {
                self.sparse.insert(j, (i, v));
                if self.sparse.len() > SPARSE_ENTRIES {
                    let mut d = Box::new([0u8; REGISTERS]);
                    for &(i, v) in &self.sparse {
                        d[usize::from(i)] = v;
                    }
                    self.dense = Some(d);
                    self.sparse = Vec::new();
                }
            }
        }
        true
    }

    /// The value of register `i`.
    pub fn get(&self, i: usize) -> u8 {
        match &self.dense {
            Some(d) => d.get(i).copied().unwrap_or(0),
            None => self
                .sparse
                .binary_search_by_key(&i, |e| usize::from(e.0))
                .map_or(0, |j| self.sparse[j].1),
        }
    }

    /// The non-zero registers in index order.
    pub fn nonzero(&self) -> Vec<(u16, u8)> {
        match &self.dense {
            Some(d) => d
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0)
                .map(|(i, v)| (i as u16, *v))
                .collect(),
            None => self.sparse.clone(),
        }
    }

    /// Whether every register is zero.
    pub fn is_zero(&self) -> bool {
        match &self.dense {
            Some(d) => d.iter().all(|v| *v == 0),
            None => self.sparse.is_empty(),
        }
    }

    /// Raises every register to at least `other`'s.
    pub fn join(&mut self, other: &Registers) {
        for (i, v) in other.nonzero() {
            self.raise(i, v);
        }
    }

    /// Redis's cardinality estimate (Ertl's improved estimator, as in Redis 5 and later).
    pub fn count(&self) -> u64 {
        let mut histo = [0u32; 64];
        let mut nonzero = 0u32;
        for (_, v) in self.nonzero() {
            histo[usize::from(v)] += 1;
            nonzero += 1;
        }
        histo[0] = REGISTERS as u32 - nonzero;
        let m = REGISTERS as f64;
        let q = Q as usize;
        let mut z = m * tau((m - f64::from(histo[q + 1])) / m);
        for j in (1..=q).rev() {
            z += f64::from(histo[j]);
            z *= 0.5;
        }
        z += m * sigma(f64::from(histo[0]) / m);
        (ALPHA_INF * m * m / z).round() as u64
    }

    /// Redis's representation: sparse while it fits (no register above 32 and at most
    /// [`SPARSE_MAX`] bytes), else dense. The cached cardinality is marked stale, as after
    /// a PFADD that changed something (or zero and valid for an empty HLL).
    pub fn encode(&self) -> Vec<u8> {
        let nz = self.nonzero();
        let mut out = Vec::with_capacity(HDR + 64);
        out.extend_from_slice(b"HYLL");
        out.extend_from_slice(&[1, 0, 0, 0]);
        out.extend_from_slice(&[0; 8]);
        if !nz.is_empty() {
            out[15] = 0x80;
        }
        if nz.iter().all(|&(_, v)| v <= 32) {
            encode_sparse(&nz, &mut out);
            if out.len() <= SPARSE_MAX + HDR {
                return out;
            }
        }
        out.truncate(HDR);
        out[4] = 0;
        out.resize(DENSE_SIZE, 0);
        for (i, v) in nz {
            set_dense(&mut out[HDR..], usize::from(i), v);
        }
        out
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn set_dense(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (byte, fb) = (bit / 8, bit % 8);
    let v = u16::from(v & 63) << fb;
    let mask = 63u16 << fb;
    regs[byte] = (regs[byte] & !(mask as u8)) | v as u8;
    if byte + 1 < regs.len() {
        regs[byte + 1] = (regs[byte + 1] & !((mask >> 8) as u8)) | (v >> 8) as u8;
    }
}

fn get_dense(regs: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (byte, fb) = (bit / 8, bit % 8);
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 | (b1 << 8)) >> fb) & 63) as u8
}

fn put_zeros(mut n: usize, out: &mut Vec<u8>) {
    while n > 0 {
        let run = n.min(REGISTERS);
        if run <= 64 {
            out.push((run - 1) as u8);
        } else {
            let r = run - 1;
            out.push(0x40 | (r >> 8) as u8);
            out.push((r & 0xff) as u8);
        }
        n -= run;
    }
}

fn encode_sparse(nz: &[(u16, u8)], out: &mut Vec<u8>) {
    let mut next = 0usize;
    let mut k = 0;
    while k < nz.len() {
        let (i, v) = (usize::from(nz[k].0), nz[k].1);
        put_zeros(i - next, out);
        // A run of equal values at consecutive registers, up to 4 per opcode.
        let mut len = 1;
        while len < 4
            && k + len < nz.len()
            && usize::from(nz[k + len].0) == i + len
            && nz[k + len].1 == v
        {
            len += 1;
        }
        out.push(0x80 | ((v - 1) << 2) | (len - 1) as u8);
        next = i + len;
        k += len;
    }
    put_zeros(REGISTERS - next, out);
}

/// Why bytes are not an HLL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HllError {
    /// Not an HLL at all (wrong magic, encoding or size).
    NotHll,
    /// An HLL header with a body that does not decode.
    Corrupt,
}

/// Parses Redis's representation (sparse or dense) into registers.
pub fn decode(b: &[u8]) -> Result<Registers, HllError> {
    if b.len() < HDR || &b[..4] != b"HYLL" {
        return Err(HllError::NotHll);
    }
    let mut r = Registers::default();
    match b[4] {
        0 => {
            if b.len() != DENSE_SIZE {
                return Err(HllError::NotHll);
            }
            for i in 0..REGISTERS {
                r.raise(i as u16, get_dense(&b[HDR..], i));
            }
        }
        1 => {
            let mut idx = 0usize;
            let mut p = HDR;
            while p < b.len() {
                let op = b[p];
                if op & 0xc0 == 0 {
                    idx += usize::from(op & 0x3f) + 1;
                    p += 1;
                } else if op & 0xc0 == 0x40 {
                    let lo = *b.get(p + 1).ok_or(HllError::Corrupt)?;
                    idx += ((usize::from(op & 0x3f) << 8) | usize::from(lo)) + 1;
                    p += 2;
                } else {
                    let v = ((op >> 2) & 0x1f) + 1;
                    let len = usize::from(op & 3) + 1;
                    if idx + len > REGISTERS {
                        return Err(HllError::Corrupt);
                    }
                    for j in idx..idx + len {
                        r.raise(j as u16, v);
                    }
                    idx += len;
                    p += 1;
                }
                if idx > REGISTERS {
                    return Err(HllError::Corrupt);
                }
            }
            if idx != REGISTERS {
                return Err(HllError::Corrupt);
            }
        }
        _ => return Err(HllError::NotHll),
    }
    Ok(r)
}

/// Parses bytes that are exactly what [`Registers::encode`] makes of their registers
/// (ignoring the cached cardinality): only those are stored as an HLL, so that any other
/// bytes written as a string read back unchanged.
pub fn decode_canonical(b: &[u8]) -> Option<Registers> {
    let r = decode(b).ok()?;
    let enc = r.encode();
    (enc.len() == b.len() && enc[..8] == b[..8] && enc[HDR..] == b[HDR..]).then_some(r)
}

/// An HLL value with its kept removals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hll {
    /// Whether the key holds an HLL (PFADD with no elements creates an empty one).
    pub live: bool,
    /// The registers.
    pub regs: Registers,
    /// The newest add that survives, for the type choice of the key.
    pub newest: Option<Stamp>,
    /// Removals not known stable yet: an add that has not seen all of them is dropped.
    pub kept: Vec<Dot>,
    /// The newest add of each origin behind the registers (since the last removal). A
    /// merge drops the registers of a side whose adds the other side has all seen: that
    /// side knows their fate. It matters when a removal was collected as stable and a
    /// member then lost it in a crash: its registers must not come back.
    pub adds: VersionVector,
}

impl Hll {
    /// An add or merge of registers (made in context `seen`); dropped when concurrent with
    /// a kept removal.
    pub fn add(&mut self, stamp: Stamp, seen: &impl crate::ctx::Seen, regs: &[(u16, u8)]) {
        if self.kept.iter().any(|d| !seen.seen(d)) {
            return;
        }
        self.live = true;
        self.adds.add(stamp.dot);
        for &(i, v) in regs {
            self.regs.raise(i, v);
        }
        if self.newest.is_none_or(|n| stamp.wins_over(&n)) {
            self.newest = Some(stamp);
        }
    }

    /// A removal: clears everything, seen or not, and is kept until stable.
    pub fn remove(&mut self, dot: Dot) {
        self.live = false;
        self.regs = Registers::default();
        self.newest = None;
        self.adds = VersionVector::new();
        if !self.kept.contains(&dot) {
            self.kept.push(dot);
        }
    }

    /// Whether nothing is left (no value, no kept removal).
    pub fn is_empty(&self) -> bool {
        !self.live && self.kept.is_empty()
    }

    /// Drops the removals every member has seen.
    pub fn compact(&mut self, stable: &VersionVector) {
        self.kept.retain(|d| !stable.contains(d));
    }

    /// Marks the adds behind the registers as unknown (a state decoded from an older
    /// format): no vector covers an entry of [`Origin::NONE`](crate::Origin::NONE), so a
    /// merge never drops them for having been seen.
    pub fn forget_adds(&mut self) {
        self.adds = VersionVector::new();
        self.adds.raise(crate::clock::Origin::NONE, u64::MAX);
    }

    /// Joins with another replica's state. A side's registers survive unless the other
    /// side holds a removal they had not seen, or the other side has seen every add behind
    /// them (its own registers then tell what became of them) while it holds adds this
    /// side has not seen or holds no HLL at all. When each side has seen all adds of the
    /// other, both hold the same surviving adds unless one knows a removal the other lost:
    /// then an empty side wins.
    pub fn merge(&mut self, mine: &VersionVector, other: &Hll, theirs: &VersionVector) {
        let mine_alive = self.live && other.kept.iter().all(|d| mine.contains(d));
        let theirs_alive = other.live && self.kept.iter().all(|d| theirs.contains(d));
        let they_know_mine = theirs.covers(&self.adds);
        let i_know_theirs = mine.covers(&other.adds);
        let (keep_mine, keep_theirs) = match (they_know_mine, i_know_theirs) {
            (false, false) => (mine_alive, theirs_alive),
            (true, false) => (false, theirs_alive),
            (false, true) => (mine_alive, false),
            (true, true) => {
                let both = mine_alive && theirs_alive;
                (both, both)
            }
        };
        if !keep_mine {
            self.regs = Registers::default();
            self.newest = None;
            self.adds = VersionVector::new();
        }
        if keep_theirs {
            self.regs.join(&other.regs);
            self.adds.join(&other.adds);
            if let Some(n) = other.newest
                && self.newest.is_none_or(|m| n.wins_over(&m))
            {
                self.newest = Some(n);
            }
        }
        self.live = keep_mine || keep_theirs;
        for d in &other.kept {
            if !self.kept.contains(d) {
                self.kept.push(*d);
            }
        }
        self.kept.sort();
    }

    /// Feeds a canonical encoding into `d`.
    pub fn digest(&self, d: &mut Digest) {
        d.u64(u64::from(self.live));
        let nz = self.regs.nonzero();
        d.u64(nz.len() as u64);
        for (i, v) in nz {
            d.u64(u64::from(i));
            d.u64(u64::from(v));
        }
        let mut kept = self.kept.clone();
        kept.sort();
        d.u64(kept.len() as u64);
        for k in kept {
            d.u64(u64::from(k.origin.id));
            d.u64(u64::from(k.origin.incarnation));
            d.u64(k.seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_roundtrip_and_counts_are_close() {
        let mut r = Registers::default();
        for n in 0..20000u32 {
            let (i, v) = pattern(format!("element:{n}").as_bytes());
            r.raise(i, v);
            if n == 10 || n == 300 || n == 19999 {
                let enc = r.encode();
                let back = decode(&enc).expect("own encoding");
                assert_eq!(back.nonzero(), r.nonzero());
                let c = r.count() as f64;
                let want = f64::from(n + 1);
                assert!((c - want).abs() / want < 0.05, "{n}: {c}");
            }
        }
        // Small sets are sparse, large ones dense.
        let mut small = Registers::default();
        let (i, v) = pattern(b"a");
        small.raise(i, v);
        assert_eq!(small.encode()[4], 1);
        assert_eq!(r.encode()[4], 0);
        assert_eq!(r.encode().len(), DENSE_SIZE);
    }

    #[test]
    fn garbage_is_refused_never_a_panic() {
        assert_eq!(decode(b"HYLL"), Err(HllError::NotHll));
        let mut b = Registers::default().encode();
        assert_eq!(decode(&b).map(|r| r.is_zero()), Ok(true));
        b.push(0x7f);
        assert_eq!(decode(&b), Err(HllError::Corrupt));
        for n in 0..2000u32 {
            let mut junk = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
            junk.extend(
                (0..n % 40).map(|k| (n.wrapping_mul(2654435761).rotate_left(k) & 0xff) as u8),
            );
            let _ = decode(&junk);
        }
    }
}
