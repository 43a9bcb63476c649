//! Recovery: load the snapshot, replay the append-only files after it. A torn last record
//! is cut off; damage anywhere else stops the start with the file and offset.

use crate::dir::{self, Dir};
use crate::entry::{self, Entry};
use crate::frame::{End, FileKind, HeaderError, RecordReader};
use crate::manifest::{MANIFEST, Manifest, ManifestError};
use concord_crdt::codec::decode_states;
use concord_crdt::{Blob, Hlc, KeyState, VersionVector};
use concord_engine::Engine;
use std::io;
use std::sync::Arc;

/// Why the durable state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// A file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        source: io::Error,
    },
    /// A file has a bad header.
    #[error("{file}: {source}")]
    Header {
        /// The file.
        file: String,
        /// What is wrong.
        source: HeaderError,
    },
    /// The manifest cannot be read.
    #[error("{file}: {source}")]
    Manifest {
        /// The file.
        file: String,
        /// What is wrong.
        source: ManifestError,
    },
    /// A damaged record where more data follows, or one that cannot be applied.
    #[error(
        "{file}: bad record at offset {offset}: {why}; `concord check-aof --fix` cuts the file there (what follows is lost)"
    )]
    Corrupt {
        /// The file.
        file: String,
        /// Where the record starts.
        offset: u64,
        /// What is wrong.
        why: String,
    },
}

/// A torn tail that recovery cut off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncated {
    /// The file.
    pub file: String,
    /// Its new length.
    pub offset: u64,
    /// Bytes removed.
    pub lost: u64,
}

/// What recovery found and did.
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    /// The files loaded.
    pub manifest: Manifest,
    /// Keys loaded from the snapshot.
    pub snapshot_keys: u64,
    /// Size of the snapshot file.
    pub snapshot_bytes: u64,
    /// Op groups replayed from append-only files.
    pub groups: u64,
    /// Groups skipped because the snapshot already held them.
    pub skipped: u64,
    /// Merged full syncs replayed.
    pub merges: u64,
    /// Sizes of the append-only files, in manifest order (after any cut).
    pub aof_bytes: Vec<u64>,
    /// A torn tail that was cut off.
    pub truncated: Option<Truncated>,
}

impl Recovery {
    /// Whether nothing was on disk.
    pub fn fresh(&self) -> bool {
        self.manifest.snapshot.is_none() && self.manifest.aofs.is_empty()
    }
}

/// Counts reported while loading, for progress logs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Keys loaded from the snapshot so far.
    pub keys: u64,
    /// Records replayed so far.
    pub records: u64,
}

/// Reads the manifest, if there is one.
pub fn read_manifest(dir: &dyn Dir) -> Result<Option<Manifest>, RecoverError> {
    let bytes = dir::read_all(dir, MANIFEST).map_err(|source| RecoverError::Io {
        file: dir.describe(MANIFEST),
        source,
    })?;
    bytes
        .map(|b| {
            Manifest::decode(&b).map_err(|source| RecoverError::Manifest {
                file: dir.describe(MANIFEST),
                source,
            })
        })
        .transpose()
}

fn open(
    dir: &dyn Dir,
    name: &str,
    kind: FileKind,
    replica: u16,
) -> Result<RecordReader, RecoverError> {
    let file = dir.describe(name);
    let r = dir
        .open(name)
        .map_err(|source| RecoverError::Io {
            file: file.clone(),
            source,
        })?
        .ok_or_else(|| RecoverError::Io {
            file: file.clone(),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                "listed in the manifest but missing",
            ),
        })?;
    RecordReader::new(r, kind, replica).map_err(|source| RecoverError::Header { file, source })
}

/// A whole state being read (a snapshot, or a merged full sync in an append-only file).
struct Staged {
    offset: u64,
    vv: VersionVector,
    hlc: Hlc,
    keys: u64,
    states: Vec<(Blob, KeyState)>,
}

/// The file being read, for errors that name it.
struct Named(String);

impl Named {
    fn corrupt(&self, offset: u64, why: impl ToString) -> RecoverError {
        RecoverError::Corrupt {
            file: self.0.clone(),
            offset,
            why: why.to_string(),
        }
    }

    fn io(&self, source: io::Error) -> RecoverError {
        RecoverError::Io {
            file: self.0.clone(),
            source,
        }
    }
}

/// Loads the durable state in `dir` into `e` (a new, empty engine). `replica` is checked
/// against each file's header. Returns what was loaded.
pub fn recover(
    dir: &dyn Dir,
    replica: u16,
    e: &mut Engine,
    progress: &mut dyn FnMut(Progress),
) -> Result<Recovery, RecoverError> {
    let Some(manifest) = read_manifest(dir)? else {
        return Ok(Recovery::default());
    };
    let mut rec = Recovery {
        manifest: manifest.clone(),
        ..Recovery::default()
    };
    let mut prog = Progress::default();
    if let Some(snap) = &manifest.snapshot {
        load_snapshot(dir, snap, replica, e, &mut rec, &mut prog, progress)?;
    }
    for (i, name) in manifest.aofs.iter().enumerate() {
        let last_file = i + 1 == manifest.aofs.len();
        replay_aof(
            dir, name, last_file, replica, e, &mut rec, &mut prog, progress,
        )?;
    }
    progress(prog);
    Ok(rec)
}

/// Loads a snapshot file into an empty engine.
fn load_snapshot(
    dir: &dyn Dir,
    name: &str,
    replica: u16,
    e: &mut Engine,
    rec: &mut Recovery,
    prog: &mut Progress,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), RecoverError> {
    let f = Named(dir.describe(name));
    let mut r = open(dir, name, FileKind::Snapshot, replica)?;
    let mut vv = None;
    let mut done = false;
    let mut last = None;
    while let Some((at, body)) = r.next().map_err(|x| f.io(x))? {
        if done {
            return Err(f.corrupt(at, "data after the end of the snapshot"));
        }
        match entry::decode(&body, &mut last).map_err(|x| f.corrupt(at, x))? {
            Entry::StateBegin { vv: v, hlc, keys } if vv.is_none() => {
                // Bounded: a damaged count must not reserve the machine's memory.
                e.reserve_keys(keys.min(1 << 28) as usize);
                vv = Some((v, hlc, keys));
            }
            Entry::StateChunk(c) => {
                let Some((v, _, _)) = &vv else {
                    return Err(f.corrupt(at, "key states before the snapshot header"));
                };
                let states = decode_states(&c).map_err(|x| f.corrupt(at, x))?;
                rec.snapshot_keys += states.len() as u64;
                e.restore_chunk(v, states);
                prog.keys = rec.snapshot_keys;
                progress(*prog);
            }
            Entry::StateEnd { keys } => {
                let Some((v, hlc, expect)) = &vv else {
                    return Err(f.corrupt(at, "snapshot end before its header"));
                };
                if keys != *expect || keys != rec.snapshot_keys {
                    return Err(f.corrupt(at, "snapshot key count does not match"));
                }
                e.restore_finish(v, *hlc);
                done = true;
            }
            _ => return Err(f.corrupt(at, "unexpected record in a snapshot")),
        }
    }
    if !done {
        return Err(f.corrupt(r.offset(), "snapshot is incomplete"));
    }
    rec.snapshot_bytes = r.offset();
    Ok(())
}

/// Replays one append-only file; a torn tail of the last one is cut off.
#[allow(clippy::too_many_arguments)]
fn replay_aof(
    dir: &dyn Dir,
    name: &str,
    last_file: bool,
    replica: u16,
    e: &mut Engine,
    rec: &mut Recovery,
    prog: &mut Progress,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), RecoverError> {
    let f = Named(dir.describe(name));
    let mut r = open(dir, name, FileKind::Aof, replica)?;
    let mut staged: Option<Staged> = None;
    let mut last = None;
    while let Some((at, body)) = r.next().map_err(|x| f.io(x))? {
        prog.records += 1;
        if prog.records.is_multiple_of(100_000) {
            progress(*prog);
        }
        match entry::decode(&body, &mut last).map_err(|x| f.corrupt(at, x))? {
            Entry::Group(ops) => {
                if staged.is_some() {
                    return Err(f.corrupt(at, "ops inside a merged state"));
                }
                let g: Arc<[_]> = ops.into();
                match e.replay(&g) {
                    Ok(true) => rec.groups += 1,
                    Ok(false) => rec.skipped += 1,
                    Err(x) => return Err(f.corrupt(at, x)),
                }
            }
            Entry::StateBegin { vv, hlc, keys } => {
                if staged.is_some() {
                    return Err(f.corrupt(at, "a merged state inside another"));
                }
                staged = Some(Staged {
                    offset: at,
                    vv,
                    hlc,
                    keys,
                    states: Vec::new(),
                });
            }
            Entry::StateChunk(c) => {
                let Some(s) = &mut staged else {
                    return Err(f.corrupt(at, "key states outside a merged state"));
                };
                s.states
                    .extend(decode_states(&c).map_err(|x| f.corrupt(at, x))?);
            }
            Entry::StateEnd { keys } => {
                let Some(s) = staged.take() else {
                    return Err(f.corrupt(at, "end of a merged state that never began"));
                };
                if keys != s.keys || keys != s.states.len() as u64 {
                    return Err(f.corrupt(at, "merged state key count does not match"));
                }
                e.replay_merge(&s.vv, s.hlc, s.states);
                rec.merges += 1;
            }
        }
    }
    // Where the good part ends: a merged state not finished on disk never happened.
    let (cut, why) = match r.end().cloned().unwrap_or(End::Clean) {
        End::Clean => match &staged {
            Some(s) => (Some(s.offset), "an unfinished merged state"),
            None => (None, ""),
        },
        End::Torn { offset } => (
            Some(staged.as_ref().map_or(offset, |s| s.offset)),
            "a torn last record",
        ),
        End::Corrupt { offset, why } => return Err(f.corrupt(offset, why)),
    };
    let size = dir.size(name).map_err(|x| f.io(x))?.unwrap_or(0);
    match cut {
        Some(offset) if last_file => {
            dir.truncate(name, offset).map_err(|x| f.io(x))?;
            tracing::warn!(
                "{}: cut {} bytes at offset {offset}: {why} (a crash while writing)",
                f.0,
                size - offset
            );
            rec.truncated = Some(Truncated {
                file: f.0.clone(),
                offset,
                lost: size - offset,
            });
            rec.aof_bytes.push(offset);
        }
        Some(offset) => {
            return Err(f.corrupt(offset, format!("{why} in a file that is not the last one")));
        }
        None => rec.aof_bytes.push(size),
    }
    Ok(())
}
