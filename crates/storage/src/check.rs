//! `concord check-aof`: verify the files of a data directory and optionally cut an
//! append-only file at its first bad record.

use crate::dir::Dir;
use crate::entry;
use crate::frame::{End, FileKind, RecordReader};
use crate::recover::{RecoverError, read_manifest};
use std::io;

/// What checking one file found.
#[derive(Clone, Debug)]
pub struct FileCheck {
    /// The file.
    pub file: String,
    /// Good records.
    pub records: u64,
    /// Its size.
    pub size: u64,
    /// Where the good part ends, when something after it is bad.
    pub bad: Option<(u64, String)>,
    /// Whether `--fix` cut it there.
    pub fixed: bool,
}

/// Checks every file the manifest names (or, without a manifest, every append-only file
/// present). With `fix`, cuts each bad append-only file at its first bad record.
pub fn check(dir: &dyn Dir, fix: bool) -> Result<Vec<FileCheck>, RecoverError> {
    let io_err = |file: &str, source| RecoverError::Io {
        file: dir.describe(file),
        source,
    };
    let files: Vec<(String, FileKind)> = match read_manifest(dir)? {
        Some(m) => m
            .snapshot
            .into_iter()
            .map(|s| (s, FileKind::Snapshot))
            .chain(m.aofs.into_iter().map(|a| (a, FileKind::Aof)))
            .collect(),
        None => dir
            .list()
            .map_err(|e| io_err(".", e))?
            .into_iter()
            .filter(|n| n.ends_with(".aof"))
            .map(|n| (n, FileKind::Aof))
            .collect(),
    };
    let mut out = Vec::new();
    for (name, kind) in files {
        let size = dir.size(&name).map_err(|e| io_err(&name, e))?.unwrap_or(0);
        let mut c = FileCheck {
            file: dir.describe(&name),
            records: 0,
            size,
            bad: None,
            fixed: false,
        };
        let r = dir
            .open(&name)
            .map_err(|e| io_err(&name, e))?
            .ok_or_else(|| {
                io_err(
                    &name,
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        "listed in the manifest but missing",
                    ),
                )
            })?;
        match RecordReader::new(r, kind, 0) {
            Err(e) => c.bad = Some((0, e.to_string())),
            Ok(mut r) => {
                let mut last = None;
                loop {
                    match r.next() {
                        Err(e) => return Err(io_err(&name, e)),
                        Ok(None) => break,
                        Ok(Some((at, body))) => {
                            if let Err(e) = entry::decode(&body, &mut last) {
                                c.bad = Some((at, e.to_string()));
                                break;
                            }
                            c.records += 1;
                        }
                    }
                }
                if c.bad.is_none() {
                    c.bad = match r.end() {
                        Some(End::Torn { offset }) => Some((*offset, "torn last record".into())),
                        Some(End::Corrupt { offset, why }) => Some((*offset, why.clone())),
                        _ => None,
                    };
                }
            }
        }
        if let (true, FileKind::Aof, Some((offset, _))) = (fix, kind, &c.bad)
            && *offset >= crate::frame::FILE_HEADER as u64
        {
            dir.truncate(&name, *offset).map_err(|e| io_err(&name, e))?;
            c.fixed = true;
        }
        out.push(c);
    }
    Ok(out)
}
