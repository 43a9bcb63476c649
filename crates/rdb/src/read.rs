//! The walk over a file: header, opcodes, lengths, strings, and each key's value.

use crate::error::{ErrorKind, RdbError};
use crate::{MAX_STRING, VERSION_MAX, VERSION_MIN};

/// What precedes the keys, and the auxiliary fields met so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The file's RDB version.
    pub version: u16,
    /// Auxiliary fields (`redis-ver`, `ctime`, `used-mem`, ...), in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One key of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A key's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string (integers and compressed strings come out as their text).
    String(Vec<u8>),
}

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
                op::FUNCTION2 | op::MODULE_AUX => {
                    return Err(self.fail_at(
                        start,
                        ErrorKind::Unknown {
                            what: "section (functions and module data are not read yet)",
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
            _ => Err(self.fail_at(
                start,
                ErrorKind::Unsupported {
                    kind: t,
                    key: String::from_utf8_lossy(key).into_owned(),
                },
            )),
        }
    }

    /// After the end marker at `eof`: the checksum (zero when the writer skipped it), and
    /// nothing after it.
    fn finish(&mut self, eof: usize) -> Result<(), RdbError> {
        let b = self.take(8)?;
        let stated = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        if stated != 0 {
            let computed = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&self.buf[..=eof]);
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
