//! Reading Redis's RDB files (versions 9 to 11: Redis 6.0 to 7.2).
//!
//! The reader walks a file held in memory and hands out its keys one by one. Every length
//! it reads is checked against the bytes left before anything is allocated, and a damaged
//! file gives an error naming its offset: never a panic, never a partial load reported as
//! whole (the checksum at the end is verified).
//!
//! Strings, lists, sets, hashes, sorted sets and streams (with their consumer groups) are
//! read in every encoding those versions write; module types are refused with an error
//! naming the key.

mod commands;
mod dump;
mod error;
mod packed;
mod read;
mod stream;

pub use commands::{ELEMENTS_PER_COMMAND, commands, score};
pub use dump::{DUMP_VERSION, DumpError, dump, undump};
pub use error::{ErrorKind, RdbError};
pub use read::{Entry, Header, Reader, Value, verify};
pub use stream::{Consumer, Group, Pending, Stream, StreamEntry, StreamId};

/// The oldest RDB version read (Redis 6.0).
pub const VERSION_MIN: u16 = 9;
/// The newest RDB version read (Redis 7.2).
pub const VERSION_MAX: u16 = 11;
/// The longest string a file may hold (Redis's `proto-max-bulk-len` default).
pub const MAX_STRING: u64 = 512 << 20;

/// Reads every key of `file`, checking its checksum (a convenience over [`Reader`]).
pub fn read_all(file: &[u8]) -> Result<(Header, Vec<Entry>), RdbError> {
    let mut r = Reader::new(file)?;
    let mut keys = Vec::new();
    while let Some(e) = r.next_entry()? {
        keys.push(e);
    }
    Ok((r.header().clone(), keys))
}

#[cfg(test)]
mod tests;
