//! The walk over a file: header, opcodes, lengths, strings, and each key's value.

use crate::error::{ErrorKind, RdbError};
use crate::packed;
use crate::stream::{self, Consumer, Group, Pending, Stream, StreamId};
use crate::{MAX_STRING, VERSION_MAX, VERSION_MIN};

/// What precedes the keys, and the auxiliary fields met so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The file's RDB version.
    pub version: u16,
    /// Auxiliary fields (`redis-ver`, `ctime`, `used-mem`, ...), in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// The function libraries' code (Redis 7.0 on), in file order: each loads with
    /// `FUNCTION LOAD`.
    pub functions: Vec<Vec<u8>>,
}

/// One key of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The database number it is in.
    pub db: u64,
    /// The key.
    pub key: Vec<u8>,
    /// When it expires, in milliseconds since the epoch.
    pub expire_ms: Option<u64>,
    /// Its value.
    pub value: Value,
}

/// A key's value. Integers stored packed come out as their decimal text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (integers and compressed strings come out as their text).
    String(Vec<u8>),
    /// A list, head first.
    List(Vec<Vec<u8>>),
    /// A set's members.
    Set(Vec<Vec<u8>>),
    /// A hash's fields and values.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// A sorted set's members and scores.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// A stream, with its consumer groups.
    Stream(Stream),
}

/// Fields and values (or members and scores as text), in order.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Opcodes between keys (Redis's `RDB_OPCODE_*`).
mod op {
    pub const FUNCTION2: u8 = 245;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Value types (Redis's `RDB_TYPE_*`) this reader reads.
mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// A quicklist node's container (Redis's `QUICKLIST_NODE_CONTAINER_*`).
mod node {
    pub const PLAIN: u64 = 1;
    pub const PACKED: u64 = 2;
}

/// The special string encodings (a length byte `11xxxxxx`).
mod enc {
    pub const INT8: u8 = 0;
    pub const INT16: u8 = 1;
    pub const INT32: u8 = 2;
    pub const LZF: u8 = 3;
}

/// How far LZF can expand its input at most (a 2-byte back reference copies 264 bytes).
const LZF_MAX_RATIO: u64 = 133;

/// A length, or a string stored as an integer or compressed.
enum Len {
    Plain(u64),
    Encoded(u8),
}

/// Reads a file's keys one at a time.
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    header: Header,
    db: u64,
    done: bool,
}

impl<'a> Reader<'a> {
    /// Checks the header of `file` and stands before its first opcode.
    pub fn new(file: &'a [u8]) -> Result<Self, RdbError> {
        let mut r = Reader {
            buf: file,
            at: 0,
            header: Header::default(),
            db: 0,
            done: false,
        };
        let magic = r.take(9).map_err(|_| r.fail_at(0, ErrorKind::NotRdb))?;
        if &magic[..5] != b"REDIS" || !magic[5..].iter().all(u8::is_ascii_digit) {
            return Err(r.fail_at(0, ErrorKind::NotRdb));
        }
        let version = magic[5..]
            .iter()
            .fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
        if !(VERSION_MIN..=VERSION_MAX).contains(&version) {
            return Err(r.fail_at(5, ErrorKind::Version(version)));
        }
        r.header.version = version;
        Ok(r)
    }

    /// A reader of one value (a DUMP payload's body: a type byte, then the value), with
    /// no header to check.
    pub(crate) fn value_only(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            at: 0,
            header: Header::default(),
            db: 0,
            done: false,
        }
    }

    /// Reads a type byte and the value of that type.
    pub(crate) fn value_alone(&mut self) -> Result<Value, RdbError> {
        let t = self.byte()?;
        self.value(t, b"", 0)
    }

    /// The header, with the auxiliary fields read so far.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes read so far (for progress).
    pub fn offset(&self) -> usize {
        self.at
    }

    /// The next key, or `None` at the end (after the checksum was verified).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, RdbError> {
        let mut expire_ms = None;
        while !self.done {
            let start = self.at;
            let t = self.byte()?;
            match t {
                op::EOF => {
                    self.finish(start)?;
                    return Ok(None);
                }
                op::SELECTDB => self.db = self.length()?,
                op::RESIZEDB => {
                    self.length()?;
                    self.length()?;
                }
                op::AUX => {
                    let k = self.string()?;
                    let v = self.string()?;
                    self.header.aux.push((k, v));
                }
                op::EXPIRETIME_MS => {
                    let b = self.take(8)?;
                    expire_ms = Some(u64::from_le_bytes(b.try_into().expect("8 bytes")));
                }
                op::EXPIRETIME => {
                    let b = self.take(4)?;
                    let secs = u32::from_le_bytes(b.try_into().expect("4 bytes"));
                    expire_ms = Some(u64::from(secs) * 1000);
                }
                op::FREQ => {
                    self.take(1)?;
                }
                op::IDLE => {
                    self.length()?;
                }
                op::FUNCTION2 => {
                    let code = self.string()?;
                    self.header.functions.push(code);
                }
                op::MODULE_AUX => {
                    return Err(self.fail_at(
                        start,
                        ErrorKind::Unknown {
                            what: "section (module data is not read)",
                            byte: t,
                        },
                    ));
                }
                _ => {
                    let key = self.string()?;
                    let value = self.value(t, &key, start)?;
                    return Ok(Some(Entry {
                        db: self.db,
                        key,
                        expire_ms,
                        value,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The value of `key`, of type `t` (its type byte at `start`).
    fn value(&mut self, t: u8, key: &[u8], start: usize) -> Result<Value, RdbError> {
        match t {
            kind::STRING => Ok(Value::String(self.string()?)),
            kind::LIST => Ok(Value::List(self.strings()?)),
            kind::SET => Ok(Value::Set(self.strings()?)),
            kind::HASH => Ok(Value::Hash(pairs(self.strings_n(2)?))),
            kind::ZSET | kind::ZSET_2 => {
                let n = self.count(2)?;
                let mut out = Vec::new();
                for _ in 0..n {
                    let m = self.string()?;
                    let score = if t == kind::ZSET_2 {
                        f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"))
                    } else {
                        self.old_double()?
                    };
                    // As in Redis: a NaN score is damage (no order holds it).
                    if score.is_nan() {
                        return Err(self.fail(ErrorKind::Malformed("NaN score")));
                    }
                    out.push((m, score));
                }
                Ok(Value::ZSet(out))
            }
            kind::LIST_ZIPLIST => Ok(Value::List(self.packed(packed::ziplist)?)),
            kind::SET_INTSET => Ok(Value::Set(self.packed(packed::intset)?)),
            kind::SET_LISTPACK => Ok(Value::Set(self.packed(packed::listpack)?)),
            kind::HASH_ZIPLIST => Ok(Value::Hash(self.packed_pairs(packed::ziplist)?)),
            kind::HASH_LISTPACK => Ok(Value::Hash(self.packed_pairs(packed::listpack)?)),
            kind::ZSET_ZIPLIST | kind::ZSET_LISTPACK => {
                let decode = if t == kind::ZSET_ZIPLIST {
                    packed::ziplist
                } else {
                    packed::listpack
                };
                let at = self.at;
                let mut out = Vec::new();
                for (m, s) in self.packed_pairs(decode)? {
                    let score = std::str::from_utf8(&s)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                        .filter(|s| !s.is_nan())
                        .ok_or_else(|| self.fail_at(at, ErrorKind::Malformed("score")))?;
                    out.push((m, score));
                }
                Ok(Value::ZSet(out))
            }
            kind::LIST_QUICKLIST => {
                let n = self.count(1)?;
                let mut out = Vec::new();
                for _ in 0..n {
                    out.extend(self.packed(packed::ziplist)?);
                }
                Ok(Value::List(out))
            }
            kind::LIST_QUICKLIST_2 => {
                let n = self.count(2)?;
                let mut out = Vec::new();
                for _ in 0..n {
                    match self.length()? {
                        node::PLAIN => out.push(self.string()?),
                        node::PACKED => out.extend(self.packed(packed::listpack)?),
                        _ => {
                            return Err(self.fail(ErrorKind::Malformed("quicklist node container")));
                        }
                    }
                }
                Ok(Value::List(out))
            }
            kind::STREAM_LISTPACKS | kind::STREAM_LISTPACKS_2 | kind::STREAM_LISTPACKS_3 => {
                Ok(Value::Stream(self.stream(t)?))
            }
            _ => Err(self.fail_at(
                start,
                ErrorKind::Unsupported {
                    kind: t,
                    key: String::from_utf8_lossy(key).into_owned(),
                },
            )),
        }
    }

    /// A stream of type `t`: its listpacks, ids and counters, then its groups.
    fn stream(&mut self, t: u8) -> Result<Stream, RdbError> {
        let mut s = Stream::default();
        for _ in 0..self.count(2)? {
            let at = self.at;
            let key = self.string()?;
            let master = stream::node_key(&key)
                .ok_or_else(|| self.fail_at(at, ErrorKind::Malformed("stream node key")))?;
            let at = self.at;
            let lp = self.string()?;
            stream::entries(master, &lp, &mut s.entries)
                .map_err(|why| self.fail_at(at, ErrorKind::Malformed(why)))?;
        }
        self.length()?; // the entry count, known from the entries
        s.last_id = (self.length()?, self.length()?);
        if t >= kind::STREAM_LISTPACKS_2 {
            self.length()?; // the first id, known from the entries
            self.length()?;
            s.max_deleted = (self.length()?, self.length()?);
            s.entries_added = Some(self.length()?);
        }
        for _ in 0..self.count(3)? {
            let mut g = Group {
                name: self.string()?,
                last_id: (self.length()?, self.length()?),
                ..Group::default()
            };
            if t >= kind::STREAM_LISTPACKS_2 {
                // -1 (all ones) when unknown, as for a group created at `$`.
                g.entries_read = Some(self.length()?).filter(|&n| n != u64::MAX);
            }
            let mut owner: Vec<Option<Vec<u8>>> = Vec::new();
            for _ in 0..self.count(25)? {
                let id = self.raw_id()?;
                let delivery_ms = self.le_u64()?;
                let deliveries = self.length()?;
                if g.pending.last().is_some_and(|p: &Pending| p.id >= id) {
                    return Err(self.fail(ErrorKind::Malformed("stream PEL out of order")));
                }
                g.pending.push(Pending {
                    id,
                    delivery_ms,
                    deliveries,
                    consumer: Vec::new(),
                });
                owner.push(None);
            }
            for _ in 0..self.count(9)? {
                let name = self.string()?;
                let seen_ms = self.le_u64()?;
                if t >= kind::STREAM_LISTPACKS_3 {
                    self.le_u64()?; // the active time, which no command sets
                }
                for _ in 0..self.count(16)? {
                    let id = self.raw_id()?;
                    let i = g
                        .pending
                        .binary_search_by(|p| p.id.cmp(&id))
                        .ok()
                        .filter(|&i| owner[i].is_none())
                        .ok_or_else(|| {
                            self.fail(ErrorKind::Malformed(
                                "a consumer's pending entry is not the group's, or twice",
                            ))
                        })?;
                    owner[i] = Some(name.clone());
                }
                g.consumers.push(Consumer { name, seen_ms });
            }
            for (p, o) in g.pending.iter_mut().zip(owner) {
                p.consumer = o.ok_or_else(|| {
                    self.fail(ErrorKind::Malformed("a pending entry has no consumer"))
                })?;
            }
            // As Redis's loader: a group or consumer name twice is damage.
            let mut names: Vec<&[u8]> = g.consumers.iter().map(|c| &c.name[..]).collect();
            names.sort_unstable();
            if names.windows(2).any(|w| w[0] == w[1])
                || s.groups.iter().any(|other| other.name == g.name)
            {
                return Err(self.fail(ErrorKind::Malformed(
                    "a stream group or consumer name appears twice",
                )));
            }
            s.groups.push(g);
        }
        Ok(s)
    }

    /// A stream id as 16 raw bytes (ms, seq, big endian).
    fn raw_id(&mut self) -> Result<StreamId, RdbError> {
        let b = self.take(16)?;
        Ok(stream::node_key(b).expect("16 bytes"))
    }

    /// A millisecond time: 8 bytes, little endian.
    fn le_u64(&mut self) -> Result<u64, RdbError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A count of things that take at least `min_bytes` each: never more than the file
    /// has room for.
    fn count(&mut self, min_bytes: u64) -> Result<u64, RdbError> {
        let n = self.length()?;
        let room = (self.buf.len() - self.at) as u64;
        if n.saturating_mul(min_bytes) > room {
            return Err(self.fail(ErrorKind::TooLong(n)));
        }
        Ok(n)
    }

    /// A count, then that many strings.
    fn strings(&mut self) -> Result<Vec<Vec<u8>>, RdbError> {
        self.strings_n(1)
    }

    /// A count of groups of `per` strings, then the strings.
    fn strings_n(&mut self, per: u64) -> Result<Vec<Vec<u8>>, RdbError> {
        let n = self.count(per)?;
        let mut out = Vec::new();
        for _ in 0..n * per {
            out.push(self.string()?);
        }
        Ok(out)
    }

    /// A string holding a packed collection, decoded by `decode`.
    fn packed(&mut self, decode: packed::Decode) -> Result<Vec<Vec<u8>>, RdbError> {
        let at = self.at;
        let blob = self.string()?;
        decode(&blob).map_err(|why| self.fail_at(at, ErrorKind::Malformed(why)))
    }

    /// A packed collection of alternating fields and values.
    fn packed_pairs(&mut self, decode: packed::Decode) -> Result<Pairs, RdbError> {
        let at = self.at;
        let flat = self.packed(decode)?;
        if flat.len() % 2 != 0 {
            return Err(self.fail_at(at, ErrorKind::Malformed("odd number of elements in pairs")));
        }
        Ok(pairs(flat))
    }

    /// A score as the old sorted-set type writes it: a length byte (253 NaN, 254 +inf,
    /// 255 -inf) and that many bytes of text.
    fn old_double(&mut self) -> Result<f64, RdbError> {
        let at = self.at;
        Ok(match self.byte()? {
            253 => f64::NAN,
            254 => f64::INFINITY,
            255 => f64::NEG_INFINITY,
            n => {
                let text = self.take(usize::from(n))?;
                std::str::from_utf8(text)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or_else(|| self.fail_at(at, ErrorKind::Malformed("score")))?
            }
        })
    }

    /// After the end marker at `eof`: the checksum (zero when the writer skipped it), and
    /// nothing after it.
    fn finish(&mut self, eof: usize) -> Result<(), RdbError> {
        let b = self.take(8)?;
        let stated = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        if stated != 0 {
            let computed = checksum(&self.buf[..=eof]);
            if computed != stated {
                return Err(self.fail_at(eof + 1, ErrorKind::Checksum { stated, computed }));
            }
        }
        if self.at != self.buf.len() {
            return Err(self.fail(ErrorKind::Trailing));
        }
        self.done = true;
        Ok(())
    }

    /// A length (an encoded string's marker is refused here).
    fn length(&mut self) -> Result<u64, RdbError> {
        match self.len()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(e) => Err(self.fail(ErrorKind::Unknown {
                what: "length encoding",
                byte: e,
            })),
        }
    }

    fn len(&mut self) -> Result<Len, RdbError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Len::Plain(u64::from(b & 0x3f)),
            1 => Len::Plain(u64::from(b & 0x3f) << 8 | u64::from(self.byte()?)),
            2 => match b {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().expect("4 bytes"),
                ))),
                0x81 => Len::Plain(u64::from_be_bytes(
                    self.take(8)?.try_into().expect("8 bytes"),
                )),
                _ => {
                    return Err(self.fail(ErrorKind::Unknown {
                        what: "length encoding",
                        byte: b,
                    }));
                }
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    /// A string: plain, an integer (as its text) or LZF-compressed.
    fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len()? {
            Len::Plain(n) => Ok(self.take(self.bounded(n)?)?.to_vec()),
            Len::Encoded(enc::INT8) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Len::Encoded(enc::INT16) => {
                let b = self.take(2)?;
                Ok(i16::from_le_bytes(b.try_into().expect("2 bytes"))
                    .to_string()
                    .into_bytes())
            }
            Len::Encoded(enc::INT32) => {
                let b = self.take(4)?;
                Ok(i32::from_le_bytes(b.try_into().expect("4 bytes"))
                    .to_string()
                    .into_bytes())
            }
            Len::Encoded(enc::LZF) => {
                let clen = self.length()?;
                let len = self.length()?;
                let clen = self.bounded(clen)?;
                if len > MAX_STRING || len > (clen as u64).saturating_mul(LZF_MAX_RATIO) + 64 {
                    return Err(self.fail(ErrorKind::TooLong(len)));
                }
                let start = self.at;
                let data = self.take(clen)?;
                if len == 0 {
                    return Ok(Vec::new());
                }
                match lzf::decompress(data, len as usize) {
                    Ok(out) if out.len() as u64 == len => Ok(out),
                    _ => Err(self.fail_at(start, ErrorKind::Lzf)),
                }
            }
            Len::Encoded(e) => Err(self.fail(ErrorKind::Unknown {
                what: "string encoding",
                byte: e,
            })),
        }
    }

    /// `n` as a length of bytes still in the file.
    fn bounded(&self, n: u64) -> Result<usize, RdbError> {
        if n > MAX_STRING || n > (self.buf.len() - self.at) as u64 {
            return Err(self.fail(if n > MAX_STRING {
                ErrorKind::TooLong(n)
            } else {
                ErrorKind::Truncated
            }));
        }
        Ok(n as usize)
    }

    fn byte(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.fail(ErrorKind::Truncated))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn fail(&self, kind: ErrorKind) -> RdbError {
        self.fail_at(self.at, kind)
    }

    fn fail_at(&self, offset: usize, kind: ErrorKind) -> RdbError {
        RdbError { offset, kind }
    }
}

/// Redis's CRC-64 of `bytes` (slice-by-16: a snapshot of gigabytes is checked at memory
/// speed).
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    CRC.checksum(bytes)
}

/// The CRC-64 with its tables built once, at compile time (building them costs more than
/// checking a small DUMP payload).
static CRC: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

/// Checks a whole file's header and checksum before anything of it is used: a file
/// damaged anywhere is refused before a load replaces data with it. (A file written
/// without a checksum, `rdbchecksum no`, passes; its damage shows while it is read.)
pub fn verify(file: &[u8]) -> Result<(), RdbError> {
    Reader::new(file)?;
    let Some(body) = file.len().checked_sub(8).filter(|&b| b >= 10) else {
        return Err(RdbError {
            offset: file.len(),
            kind: ErrorKind::Truncated,
        });
    };
    let stated = u64::from_le_bytes(file[body..].try_into().expect("8 bytes"));
    if file[body - 1] != op::EOF {
        return Err(RdbError {
            offset: body - 1,
            kind: ErrorKind::Truncated,
        });
    }
    if stated != 0 {
        let computed = checksum(&file[..body]);
        if computed != stated {
            return Err(RdbError {
                offset: body,
                kind: ErrorKind::Checksum { stated, computed },
            });
        }
    }
    Ok(())
}

/// Alternating elements as pairs (an even count).
fn pairs(flat: Vec<Vec<u8>>) -> Pairs {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    out
}
