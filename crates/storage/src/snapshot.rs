//! Writing a snapshot file: the whole state, its version vector and clock, in chunks.

use crate::dir::Dir;
use crate::entry;
use crate::frame::{self, FileKind, RECORD_HEADER};
use concord_crdt::{Hlc, KeyState, VersionVector};
use std::io;

/// Keys per chunk record.
const CHUNK_KEYS: usize = 1024;
/// Bytes gathered before a write to the file.
const WRITE_AT: usize = 1 << 20;

/// Writes a snapshot of `keys` (exactly the state at `vv`) to the file `name` and syncs
/// it. Returns its size in bytes.
pub fn write<'a>(
    dir: &dyn Dir,
    name: &str,
    replica: u16,
    vv: &VersionVector,
    hlc: Hlc,
    count: u64,
    keys: impl Iterator<Item = (&'a [u8], &'a KeyState)>,
) -> io::Result<u64> {
    let mut f = dir.create(name)?;
    let mut buf = Vec::with_capacity(WRITE_AT * 2);
    buf.extend_from_slice(&frame::file_header(FileKind::Snapshot, replica));
    let mut body = Vec::new();
    entry::put_state_begin(&mut body, vv, hlc, count);
    frame::put_record(&mut buf, &body);
    let mut size = 0u64;
    let mut written = 0u64;
    let mut chunk = Vec::with_capacity(CHUNK_KEYS);
    let mut keys = keys.peekable();
    while keys.peek().is_some() {
        chunk.clear();
        chunk.extend(keys.by_ref().take(CHUNK_KEYS));
        written += chunk.len() as u64;
        let start = buf.len();
        buf.extend_from_slice(&[0u8; RECORD_HEADER]);
        entry::put_state_chunk(
            &mut buf,
            &concord_crdt::codec::encode_states(chunk.iter().copied()),
        );
        if buf.len() - start - RECORD_HEADER > frame::MAX_RECORD {
            return Err(io::Error::other("a chunk of key states exceeds 4 GiB"));
        }
        frame::seal_record(&mut buf, start);
        if buf.len() >= WRITE_AT {
            f.write_all(&buf)?;
            size += buf.len() as u64;
            buf.clear();
        }
    }
    if written != count {
        return Err(io::Error::other(
            "key count changed while writing a snapshot",
        ));
    }
    body.clear();
    entry::put_state_end(&mut body, count);
    frame::put_record(&mut buf, &body);
    f.write_all(&buf)?;
    size += buf.len() as u64;
    f.sync()?;
    Ok(size)
}

/// Writes a snapshot of an engine's whole state.
pub fn write_engine(
    dir: &dyn Dir,
    name: &str,
    replica: u16,
    e: &concord_engine::Engine,
) -> io::Result<u64> {
    // Its vector would claim a peer's ops whose effects some keys do not hold yet: the
    // caller finishes the merge first (`Engine::finish_merge`).
    assert!(
        !e.merging(),
        "a snapshot written while a full sync's merge runs"
    );
    let keys = e.raw_keys();
    write(
        dir,
        name,
        replica,
        e.vv(),
        e.hlc(),
        keys.len() as u64,
        keys.iter(),
    )
}
