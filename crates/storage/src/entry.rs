//! What records hold: op groups, and whole states (a snapshot file, or a peer's full sync
//! merged into this instance) as a begin record, chunks of key states and an end record.

use concord_crdt::codec::{self, CodecError, Reader};
use concord_crdt::{Hlc, Op, VersionVector};
use std::sync::Arc;

const GROUP: u8 = 1;
const STATE_BEGIN: u8 = 2;
const STATE_CHUNK: u8 = 3;
const STATE_END: u8 = 4;

/// One decoded record.
#[derive(Debug)]
pub enum Entry {
    /// A group of ops applied together.
    Group(Vec<Op>),
    /// The start of a whole state taken at `vv`, with the clock's high-water mark.
    StateBegin {
        /// The ops the state reflects exactly.
        vv: VersionVector,
        /// The clock's high-water mark.
        hlc: Hlc,
        /// Keys that follow.
        keys: u64,
    },
    /// Encoded key states ([`codec::encode_states`]).
    StateChunk(Vec<u8>),
    /// The end of a whole state.
    StateEnd {
        /// Keys that were in it, for checking.
        keys: u64,
    },
}

/// Appends the body of a group record.
pub fn put_group(out: &mut Vec<u8>, ops: &[Op]) {
    out.push(GROUP);
    codec::encode_group_into(ops, out);
}

/// Appends the body of a state-begin record.
pub fn put_state_begin(out: &mut Vec<u8>, vv: &VersionVector, hlc: Hlc, keys: u64) {
    out.push(STATE_BEGIN);
    codec::put_vv(out, vv);
    codec::put_varint(out, hlc.0);
    codec::put_varint(out, keys);
}

/// Appends the body of a state chunk record.
pub fn put_state_chunk(out: &mut Vec<u8>, chunk: &[u8]) {
    out.push(STATE_CHUNK);
    out.extend_from_slice(chunk);
}

/// Appends the body of a state-end record.
pub fn put_state_end(out: &mut Vec<u8>, keys: u64) {
    out.push(STATE_END);
    codec::put_varint(out, keys);
}

/// Decodes a record body. `last` shares equal op contexts across groups.
pub fn decode(body: &[u8], last: &mut Option<Arc<VersionVector>>) -> Result<Entry, CodecError> {
    let (&tag, rest) = body.split_first().ok_or(CodecError::Truncated)?;
    match tag {
        GROUP => {
            let ops = codec::decode_group_sharing(rest, last)?;
            if ops.is_empty() {
                return Err(CodecError::Malformed("empty group"));
            }
            Ok(Entry::Group(ops))
        }
        STATE_BEGIN => {
            let mut r = Reader::new(rest);
            let vv = r.vv()?;
            let hlc = Hlc(r.varint()?);
            let keys = r.varint()?;
            if !r.rest().is_empty() {
                return Err(CodecError::Malformed("trailing bytes after a state header"));
            }
            Ok(Entry::StateBegin { vv, hlc, keys })
        }
        STATE_CHUNK => Ok(Entry::StateChunk(rest.to_vec())),
        STATE_END => {
            let mut r = Reader::new(rest);
            let keys = r.varint()?;
            if !r.rest().is_empty() {
                return Err(CodecError::Malformed("trailing bytes after a state end"));
            }
            Ok(Entry::StateEnd { keys })
        }
        t => Err(CodecError::Tag(t)),
    }
}
