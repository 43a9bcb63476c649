//! Files are a 16-byte header followed by framed records:
//! `len: u32 | body_crc: u32 | header_crc: u32 | body[len]`, little-endian, CRC-32 (IEEE).
//! The header CRC covers `len` and `body_crc`, so a damaged length is caught before it is
//! trusted.

use std::io::{self, Read};

/// Format version written in every file header.
pub const FORMAT_VERSION: u16 = 1;
/// Size of a file header.
pub const FILE_HEADER: usize = 16;
/// Size of a record header.
pub const RECORD_HEADER: usize = 12;
/// The largest record body.
pub const MAX_RECORD: usize = u32::MAX as usize - 1;

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// An append-only file of ops.
    Aof,
    /// A snapshot of the whole state.
    Snapshot,
}

impl FileKind {
    fn magic(self) -> &'static [u8; 8] {
        match self {
            FileKind::Aof => b"CONCAOF\0",
            FileKind::Snapshot => b"CONCSNP\0",
        }
    }
}

/// The header of a new file.
pub fn file_header(kind: FileKind, replica: u16) -> [u8; FILE_HEADER] {
    let mut h = [0u8; FILE_HEADER];
    h[..8].copy_from_slice(kind.magic());
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[10..12].copy_from_slice(&replica.to_le_bytes());
    h
}

/// Appends a framed record holding `body` to `out`.
pub fn put_record(out: &mut Vec<u8>, body: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER]);
    out.extend_from_slice(body);
    seal_record(out, start);
}

/// Fills in the header of a record whose body was written in place after `start`
/// (where [`RECORD_HEADER`] bytes were reserved).
pub fn seal_record(out: &mut [u8], start: usize) {
    let len = (out.len() - start - RECORD_HEADER) as u32;
    let body_crc = crc32fast::hash(&out[start + RECORD_HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&body_crc.to_le_bytes());
    let hcrc = crc32fast::hash(&out[start..start + 8]);
    out[start + 8..start + 12].copy_from_slice(&hcrc.to_le_bytes());
}

/// How reading a file ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// At a record boundary.
    Clean,
    /// Inside the last record (a crash mid-write): the file is good up to `offset`.
    Torn {
        /// Where the incomplete record starts.
        offset: u64,
    },
    /// A damaged record with data after it.
    Corrupt {
        /// Where the damaged record starts.
        offset: u64,
        /// What is wrong.
        why: String,
    },
}

/// Errors that stop reading before any record.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a file of this kind (or not a Concord file at all).
    #[error("not a Concord {0:?} file (bad magic)")]
    Magic(FileKind),
    /// Written by a newer format.
    #[error("file format version {0} is not supported (this build reads {FORMAT_VERSION})")]
    Version(u16),
    /// Written by another instance.
    #[error("file belongs to replica {found}, this instance is replica {expected}")]
    Replica {
        /// The replica id in the file.
        found: u16,
        /// This instance's id.
        expected: u16,
    },
    /// Shorter than a header.
    #[error("file is shorter than its header")]
    Short,
}

/// Reads records one by one from a file, classifying how it ends.
pub struct RecordReader {
    r: Box<dyn Read + Send>,
    offset: u64,
    end: Option<End>,
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl RecordReader {
    /// Checks the header of `r` (an empty input is a file with no header: `Short`).
    /// `replica` 0 accepts any replica id.
    pub fn new(
        mut r: Box<dyn Read + Send>,
        kind: FileKind,
        replica: u16,
    ) -> Result<RecordReader, HeaderError> {
        let mut h = [0u8; FILE_HEADER];
        if read_full(&mut r, &mut h)? < FILE_HEADER {
            return Err(HeaderError::Short);
        }
        if &h[..8] != kind.magic() {
            return Err(HeaderError::Magic(kind));
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version != FORMAT_VERSION {
            return Err(HeaderError::Version(version));
        }
        let found = u16::from_le_bytes([h[10], h[11]]);
        if replica != 0 && found != replica {
            return Err(HeaderError::Replica {
                found,
                expected: replica,
            });
        }
        Ok(RecordReader {
            r,
            offset: FILE_HEADER as u64,
            end: None,
        })
    }

    /// The offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How the file ended, once [`RecordReader::next`] returned `None`.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// The next record as (offset, body); `None` at the end of the readable part.
    pub fn next(&mut self) -> io::Result<Option<(u64, Vec<u8>)>> {
        if self.end.is_some() {
            return Ok(None);
        }
        let at = self.offset;
        let mut h = [0u8; RECORD_HEADER];
        let got = read_full(&mut self.r, &mut h)?;
        if got == 0 {
            self.end = Some(End::Clean);
            return Ok(None);
        }
        if got < RECORD_HEADER {
            // The file ends inside a record header: a write cut short.
            self.end = Some(End::Torn { offset: at });
            return Ok(None);
        }
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let body_crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let hcrc = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if crc32fast::hash(&h[..8]) != hcrc || len == 0 || len > MAX_RECORD {
            // A damaged header: a crash can leave zeros at the end of a file, anything
            // else is damage.
            let rest_zero = h.iter().all(|b| *b == 0) && self.rest_is_zero()?;
            self.end = Some(if rest_zero {
                End::Torn { offset: at }
            } else {
                End::Corrupt {
                    offset: at,
                    why: "damaged record header".into(),
                }
            });
            return Ok(None);
        }
        let mut body = Vec::new();
        let got = (&mut self.r).take(len as u64).read_to_end(&mut body)?;
        if got < len {
            self.end = Some(End::Torn { offset: at });
            return Ok(None);
        }
        if crc32fast::hash(&body) != body_crc {
            // The last record of the file may be a torn write that left its full length;
            // with records after it, it is damage.
            let mut probe = [0u8; 1];
            self.end = Some(if read_full(&mut self.r, &mut probe)? == 0 {
                End::Torn { offset: at }
            } else {
                End::Corrupt {
                    offset: at,
                    why: "record checksum mismatch".into(),
                }
            });
            return Ok(None);
        }
        self.offset = at + (RECORD_HEADER + len) as u64;
        Ok(Some((at, body)))
    }

    fn rest_is_zero(&mut self) -> io::Result<bool> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = read_full(&mut self.r, &mut buf)?;
            if buf[..n].iter().any(|b| *b != 0) {
                return Ok(false);
            }
            if n < buf.len() {
                return Ok(true);
            }
        }
    }
}
