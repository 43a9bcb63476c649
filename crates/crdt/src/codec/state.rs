//! Key states (full-sync snapshots, snapshot files): every type's whole CRDT state,
//! encoded in a versioned format and read back in any format this build knows.

use super::*;

/// Format version of encoded key states (full-sync snapshots, snapshot files). Version 2
/// added the adds behind an HLL's registers; version 1 is still read.
pub const STATE_FORMAT_VERSION: u16 = 2;

fn put_counted<T: Clone>(out: &mut Vec<u8>, c: &Counted<T>, put: impl Fn(&mut Vec<u8>, &T)) {
    put_varint(out, c.base.writes().count() as u64);
    for (s, v) in c.base.writes() {
        put_stamp(out, s);
        put(out, v);
    }
    match &c.incs {
        None => put_varint(out, 0),
        Some(incs) => {
            put_varint(out, incs.iter().count() as u64);
            for (s, a) in incs.iter() {
                put_stamp(out, s);
                put_amount(out, a);
            }
        }
    }
    match &c.fold {
        None => out.push(0),
        Some(f) => {
            out.push(1);
            put_stamp(out, &Stamp::new(f.dot, Hlc(0)));
            put_vv(out, &f.upto);
        }
    }
}

fn put_dots(out: &mut Vec<u8>, dots: &Dots) {
    put_varint(out, dots.len() as u64);
    for s in dots {
        put_stamp(out, s);
    }
}

/// Appends one key and its whole CRDT state (a full-sync snapshot entry) in state format
/// `format` (1 or 2: format 1 leaves out what format 2 added).
pub fn encode_state(key: &[u8], ks: &KeyState, format: u16, out: &mut Vec<u8>) {
    assert!(
        (1..=STATE_FORMAT_VERSION).contains(&format),
        "state format {format}"
    );
    put_bytes(out, key);
    let flags = u8::from(ks.string.is_some())
        | u8::from(ks.hash.is_some()) << 1
        | u8::from(ks.set.is_some()) << 2
        | u8::from(ks.zset.is_some()) << 3
        | u8::from(ks.expiry.is_some()) << 4
        | u8::from(ks.list.is_some()) << 5
        | u8::from(ks.hll.is_some()) << 6
        | u8::from(ks.stream.is_some()) << 7;
    out.push(flags);
    if let Some(c) = &ks.string {
        put_counted(out, c, |o, v| put_bytes(o, v));
    }
    if let Some(h) = &ks.hash {
        put_varint(out, h.len() as u64);
        for (f, c) in h.iter() {
            put_bytes(out, f);
            put_counted(out, c, |o, v| put_bytes(o, v));
        }
    }
    if let Some(set) = &ks.set {
        put_varint(out, set.len() as u64);
        for (m, dots) in set.map().iter() {
            put_bytes(out, m);
            put_dots(out, dots);
        }
    }
    if let Some(z) = &ks.zset {
        put_varint(out, z.map().len() as u64);
        for (m, zm) in z.map().iter() {
            put_bytes(out, m);
            put_dots(out, &zm.dots);
            put_counted(out, &zm.score, |o, v| put_f64(o, *v));
        }
    }
    if let Some(e) = &ks.expiry {
        put_varint(out, e.writes().count() as u64);
        for (s, at) in e.writes() {
            put_stamp(out, s);
            match at {
                None => out.push(0),
                Some(t) => {
                    out.push(1);
                    put_varint(out, *t);
                }
            }
        }
    }
    if let Some(l) = &ks.list {
        put_varint(out, l.len() as u64);
        for e in l.iter() {
            put_pos(out, &e.pos);
            put_bytes(out, &e.value);
            put_varint(out, e.ts.0);
        }
        put_varint(out, l.sets().count() as u64);
        for (p, s) in l.sets() {
            put_pos(out, p);
            put_stamp(out, s);
        }
    }
    if let Some(h) = &ks.hll {
        out.push(u8::from(h.live));
        put_regs(out, &h.regs.nonzero());
        match &h.newest {
            None => out.push(0),
            Some(n) => {
                out.push(1);
                put_stamp(out, n);
            }
        }
        put_varint(out, h.kept.len() as u64);
        for d in &h.kept {
            put_stamp(out, &Stamp::new(*d, Hlc(0)));
        }
        if format >= 2 {
            put_vv(out, &h.adds);
        }
    }
    if let Some(st) = &ks.stream {
        put_varint(out, st.len() as u64);
        for ((id, dot), v) in st.iter() {
            put_sid(out, id);
            put_stamp(out, &Stamp::new(*dot, Hlc(0)));
            put_list(out, v);
        }
        put_varint(out, st.made().len() as u64);
        for s in st.made() {
            put_stamp(out, s);
        }
        put_sid(out, &st.last_id);
        match st.last_set() {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                put_stamp(out, &s);
            }
        }
        put_sid(out, &st.max_deleted);
        let (added, floor) = st.added_counts();
        let added: Vec<_> = added.collect();
        put_varint(out, added.len() as u64);
        for (o, n) in added {
            put_varint(out, u64::from(o.id));
            put_varint(out, u64::from(o.incarnation));
            put_varint(out, *n);
        }
        put_varint(out, floor);
        put_varint(out, st.groups.len() as u64);
        for (name, g) in &st.groups {
            put_bytes(out, name);
            put_sid(out, &g.start);
            put_stamp(out, &g.start_set);
            put_read(out, g.read);
            put_stamp(out, &g.read_set);
            put_varint(out, g.delivered.len() as u64);
            for (p, (id, s)) in &g.delivered {
                put_varint(out, u64::from(*p));
                put_sid(out, id);
                put_stamp(out, s);
            }
        }
        let destroyed: Vec<_> = st.destroyed().collect();
        put_varint(out, destroyed.len() as u64);
        for (name, dots) in destroyed {
            put_bytes(out, name);
            put_varint(out, dots.len() as u64);
            for d in dots {
                put_stamp(out, &Stamp::new(*d, Hlc(0)));
            }
        }
    }
}

/// Encodes a chunk of key states in the newest state format, with the version in front.
pub fn encode_states<'a>(entries: impl IntoIterator<Item = (&'a [u8], &'a KeyState)>) -> Vec<u8> {
    encode_states_as(STATE_FORMAT_VERSION, entries)
}

/// Encodes a chunk of key states in state format `format` (for a peer that reads no newer
/// one), with the version in front.
pub fn encode_states_as<'a>(
    format: u16,
    entries: impl IntoIterator<Item = (&'a [u8], &'a KeyState)>,
) -> Vec<u8> {
    let mut body = Vec::new();
    let mut n = 0u64;
    for (k, ks) in entries {
        encode_state(k, ks, format, &mut body);
        n += 1;
    }
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(&format.to_le_bytes());
    put_varint(&mut out, n);
    out.extend_from_slice(&body);
    out
}

impl Reader<'_> {
    fn dots(&mut self) -> Result<Dots, CodecError> {
        let n = self.count(4)?;
        (0..n).map(|_| self.stamp()).collect()
    }

    fn counted<T: Clone + CountedValue>(
        &mut self,
        mut value: impl FnMut(&mut Self) -> Result<T, CodecError>,
    ) -> Result<Counted<T>, CodecError> {
        let n = self.count(5)?;
        let mut writes = Vec::with_capacity(n);
        for _ in 0..n {
            writes.push((self.stamp()?, value(self)?));
        }
        let mut c = Counted {
            base: MvReg::from_writes(writes),
            incs: None,
            fold: None,
        };
        let n = self.count(5)?;
        for _ in 0..n {
            let s = self.stamp()?;
            let a = self.amount()?;
            c.incr(s, a);
        }
        c.fold = match self.byte()? {
            0 => None,
            1 => {
                let dot = self.stamp()?.dot;
                let upto = self.vv()?;
                Some(Box::new(Fold { dot, upto }))
            }
            t => return Err(CodecError::Tag(t)),
        };
        Ok(c)
    }

    fn state(&mut self) -> Result<(Blob, KeyState), CodecError> {
        let key = self.bytes()?;
        let flags = self.byte()?;
        let mut ks = KeyState::default();
        if flags & 1 != 0 {
            ks.string = Some(Box::new(self.counted(|r| r.bytes())?));
        }
        if flags & 2 != 0 {
            let mut h = OrMap::default();
            for _ in 0..self.count(2)? {
                let f = self.bytes()?;
                h.insert_raw(f, self.counted(|r| r.bytes())?);
            }
            ks.hash = Some(Box::new(h));
        }
        if flags & 4 != 0 {
            let mut set = OrSet::default();
            for _ in 0..self.count(2)? {
                let m = self.bytes()?;
                set.insert_raw(m, self.dots()?);
            }
            ks.set = Some(Box::new(set));
        }
        if flags & 8 != 0 {
            let mut z = ZSet::default();
            for _ in 0..self.count(3)? {
                let m = self.bytes()?;
                let dots = self.dots()?;
                let score = self.counted(|r| {
                    let v = r.f64()?;
                    if v.is_nan() {
                        return Err(CodecError::Malformed("NaN score"));
                    }
                    Ok(v)
                })?;
                if score.score().is_nan() {
                    return Err(CodecError::Malformed("score sums to NaN"));
                }
                z.insert_raw(&m, dots, score);
            }
            ks.zset = Some(Box::new(z));
        }
        if flags & 16 != 0 {
            let n = self.count(5)?;
            let mut writes = Vec::with_capacity(n);
            for _ in 0..n {
                let s = self.stamp()?;
                let at = match self.byte()? {
                    0 => None,
                    1 => Some(self.varint()?),
                    t => return Err(CodecError::Tag(t)),
                };
                writes.push((s, at));
            }
            ks.expiry = Some(Box::new(MvReg::from_writes(writes)));
        }
        if flags & 32 != 0 {
            let mut l = List::default();
            for _ in 0..self.count(8)? {
                let pos = self.pos()?;
                let value = self.small_bytes()?;
                let ts = Hlc(self.varint()?);
                if !l.push_raw(Elem { pos, value, ts }) {
                    return Err(CodecError::Malformed("list positions out of order"));
                }
            }
            for _ in 0..self.count(8)? {
                let pos = self.pos()?;
                l.set_raw(pos, self.stamp()?);
            }
            ks.list = Some(Box::new(l));
        }
        if flags & 64 != 0 {
            let mut h = crate::hll::Hll {
                live: match self.byte()? {
                    0 => false,
                    1 => true,
                    t => return Err(CodecError::Tag(t)),
                },
                ..Default::default()
            };
            for (i, v) in self.regs()? {
                h.regs.raise(i, v);
            }
            h.newest = match self.byte()? {
                0 => None,
                1 => Some(self.stamp()?),
                t => return Err(CodecError::Tag(t)),
            };
            for _ in 0..self.count(4)? {
                h.kept.push(self.stamp()?.dot);
            }
            if self.state_version >= 2 {
                h.adds = self.vv()?;
            } else if h.live {
                h.forget_adds();
            }
            ks.hll = Some(Box::new(h));
        }
        if flags & 128 != 0 {
            let n = self.count(4)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                let id = self.sid()?;
                let dot = self.stamp()?.dot;
                entries.push(((id, dot), self.list()?.into_boxed_slice()));
            }
            if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err(CodecError::Malformed("stream entries out of order"));
            }
            let made = (0..self.count(4)?)
                .map(|_| self.stamp())
                .collect::<Result<Vec<_>, _>>()?;
            let last_id = self.sid()?;
            let last_set = match self.byte()? {
                0 => None,
                1 => Some(self.stamp()?),
                t => return Err(CodecError::Tag(t)),
            };
            let max_deleted = self.sid()?;
            let mut added = Vec::new();
            for _ in 0..self.count(3)? {
                let o = Origin::new(self.u16()?, self.u32()?);
                added.push((o, self.varint()?));
            }
            let floor = self.varint()?;
            let mut st = crate::stream::Stream::from_parts(
                entries,
                made,
                (last_id, last_set),
                max_deleted,
                added,
                floor,
            );
            for _ in 0..self.count(4)? {
                let name = self.bytes()?;
                let start = self.sid()?;
                let start_set = self.stamp()?;
                let read = self.read()?;
                let read_set = self.stamp()?;
                let mut delivered = std::collections::BTreeMap::new();
                for _ in 0..self.count(4)? {
                    let p = self.u16()?;
                    let id = self.sid()?;
                    delivered.insert(p, (id, self.stamp()?));
                }
                st.groups.insert(
                    name,
                    crate::stream::Group {
                        start,
                        start_set,
                        delivered,
                        read,
                        read_set,
                    },
                );
            }
            for _ in 0..self.count(2)? {
                let name = self.bytes()?;
                let dots = (0..self.count(4)?)
                    .map(|_| self.stamp().map(|s| s.dot))
                    .collect::<Result<Vec<_>, _>>()?;
                st.set_destroyed(name, dots);
            }
            ks.stream = Some(Box::new(st));
        }
        Ok((key, ks))
    }
}

/// Decodes a chunk written by [`encode_states`] or [`encode_states_as`], in any format
/// this build knows; the whole input must be used.
pub fn decode_states(buf: &[u8]) -> Result<Vec<(Blob, KeyState)>, CodecError> {
    if buf.len() < 2 {
        return Err(CodecError::Truncated);
    }
    let version = u16::from_le_bytes([buf[0], buf[1]]);
    if !(1..=STATE_FORMAT_VERSION).contains(&version) {
        return Err(CodecError::Version(version));
    }
    let mut r = Reader {
        buf: &buf[2..],
        state_version: version,
    };
    let n = r.count(2)?;
    let states = (0..n).map(|_| r.state()).collect::<Result<Vec<_>, _>>()?;
    if !r.buf.is_empty() {
        return Err(CodecError::Malformed("trailing bytes after the states"));
    }
    Ok(states)
}
