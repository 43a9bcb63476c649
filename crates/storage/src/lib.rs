//! Concord's storage: the append-only file of what the engine applied, snapshots of the
//! whole state, the manifest that ties them together, and recovery from them.
//!
//! All file I/O goes through [`Dir`], so tests can build the file image a crash would
//! leave and check recovery from it.

mod check;
mod dir;
mod entry;
mod frame;
mod manifest;
mod recover;
pub mod snapshot;
mod writer;

#[cfg(test)]
mod tests;

pub use check::{FileCheck, check};
pub use dir::{Dir, File, MemDir, RealDir, replace};
pub use frame::{End, FORMAT_VERSION, HeaderError};
pub use manifest::{MANIFEST, Manifest, aof_name, snapshot_name};
pub use recover::{Progress, RecoverError, Recovery, Truncated, read_manifest, recover};
pub use writer::{Fsync, OnDurable, Writer, WriterConfig, WriterState};
