//! Streaming a snapshot to a peer while the instance keeps serving.
//!
//! Encoding the whole state in one step paused every client for as long as it took and
//! held the whole state twice (once encoded). Instead, a snapshot is the state at the
//! moment it begins, encoded chunk by chunk as the link drains: a walk over the table's
//! slots encodes the keys it reaches, and a key about to change before the walk reached
//! it is encoded first, as it was (copy-on-write at the key level). Keys made after the
//! start are not part of it. What is held beyond the state itself is the keys changed
//! ahead of the walk, bounded: past the bound, the rest is encoded at once.

use super::SlotBits;
use crate::Engine;
use concord_crdt::codec::{encode_state, put_varint};
use concord_crdt::{Hlc, VersionVector};
use std::collections::VecDeque;

/// Bytes of keys encoded ahead of the walk (they changed first) past which the rest of
/// the snapshot is encoded at once: a stream slower than the writes ahead of it would
/// otherwise hold more and more.
const AHEAD_MAX_BYTES: usize = 64 << 20;

/// What a streamed snapshot is: sent before its chunks.
#[derive(Clone, Debug)]
pub struct SnapshotHead {
    /// Exactly the ops the state reflects.
    pub vv: VersionVector,
    /// The clock's high-water mark when it began.
    pub hlc: Hlc,
    /// Keys it holds.
    pub keys: u64,
}

/// The next part of a streamed snapshot.
#[derive(Debug, PartialEq)]
pub enum StreamPart {
    /// A chunk of encoded key states.
    Chunk(Vec<u8>),
    /// Every key was sent.
    Done,
    /// The stream no longer runs (cancelled, or another took its place).
    Gone,
}

/// A snapshot being streamed.
pub(crate) struct Streaming {
    /// Which stream this is (links hold it).
    id: u64,
    /// The state format the peer reads.
    format: u16,
    /// Slots below it were walked.
    cursor: u32,
    /// Slots at or past the walk whose key at the start was encoded ahead (it changed),
    /// or that were empty at the start and hold a key made since.
    skip: SlotBits,
    /// Key states encoded ahead of the walk, not yet sent.
    ahead: Vec<u8>,
    /// How many states `ahead` holds.
    ahead_n: u64,
    /// Chunks encoded at once when `ahead` outgrew its bound.
    rest: VecDeque<Vec<u8>>,
    /// Keys not sent yet (checked at the end).
    left: u64,
}

impl Engine {
    /// Starts streaming a snapshot in state format `format`; `None` while another stream
    /// runs (the caller encodes at once then). A merge in progress is finished first.
    pub fn stream_begin(&mut self, format: u16) -> Option<(u64, SnapshotHead)> {
        if self.streaming.is_some() {
            return None;
        }
        self.finish_merge();
        self.snapshot_streams += 1;
        let id = self.snapshot_streams;
        self.streaming = Some(Box::new(Streaming {
            id,
            format,
            cursor: 0,
            skip: SlotBits::new(self.keys.slot_count()),
            ahead: Vec::new(),
            ahead_n: 0,
            rest: VecDeque::new(),
            left: self.keys.len() as u64,
        }));
        let head = SnapshotHead {
            vv: self.vv.clone(),
            hlc: self.clock.last(),
            keys: self.keys.len() as u64,
        };
        Some((id, head))
    }

    /// The next chunk of stream `id`, of at most `keys_per_chunk` keys walked.
    pub fn stream_next(&mut self, id: u64, keys_per_chunk: usize) -> StreamPart {
        let Some(st) = self.streaming.as_mut().filter(|s| s.id == id) else {
            return StreamPart::Gone;
        };
        if let Some(c) = st.rest.pop_front() {
            return StreamPart::Chunk(c);
        }
        if st.ahead_n > 0 {
            let n = std::mem::take(&mut st.ahead_n);
            st.left -= n;
            return StreamPart::Chunk(chunk(st.format, n, &std::mem::take(&mut st.ahead)));
        }
        let mut body = Vec::new();
        let n = walk(st, &self.keys, keys_per_chunk.max(1), &mut body);
        if n > 0 {
            st.left -= n;
            return StreamPart::Chunk(chunk(st.format, n, &body));
        }
        let left = st.left;
        self.streaming = None;
        // Every key present at the start is sent once, ahead or by the walk.
        debug_assert_eq!(left, 0, "a streamed snapshot lost keys");
        StreamPart::Done
    }

    /// Ends stream `id` early (its link went away).
    pub fn stream_cancel(&mut self, id: u64) {
        if self.streaming.as_ref().is_some_and(|s| s.id == id) {
            self.streaming = None;
        }
    }

    /// Whether a snapshot is being streamed.
    pub fn streaming(&self) -> bool {
        self.streaming.is_some()
    }

    /// Before `key` changes: a stream that has not reached it encodes it as it was.
    pub(crate) fn stream_save(&mut self, key: &[u8]) {
        let Some(st) = self.streaming.as_mut() else {
            return;
        };
        let Some(s) = self.keys.slot_of(key) else {
            return;
        };
        if s < st.cursor || s as usize >= st.skip.len() || st.skip.get(s) {
            return;
        }
        let Some(ks) = self.keys.slot_value(s) else {
            return;
        };
        encode_state(key, ks, st.format, &mut st.ahead);
        st.ahead_n += 1;
        st.skip.set(s);
        if st.ahead.len() > AHEAD_MAX_BYTES {
            self.stream_rest_at_once();
        }
    }

    /// After `key` was written: a key made in a slot the stream has not reached is not
    /// part of the snapshot.
    pub(crate) fn stream_made(&mut self, key: &[u8]) {
        let Some(st) = self.streaming.as_mut() else {
            return;
        };
        if let Some(s) = self.keys.slot_of(key)
            && s >= st.cursor
            && (s as usize) < st.skip.len()
        {
            st.skip.set(s);
        }
    }

    /// Encodes everything the stream has not sent yet now (before a change of every key,
    /// or when the keys changed ahead of the walk outgrew their bound).
    pub(crate) fn stream_rest_at_once(&mut self) {
        let Some(st) = self.streaming.as_mut() else {
            return;
        };
        const KEYS_PER_CHUNK: usize = 1024;
        if st.ahead_n > 0 {
            let n = std::mem::take(&mut st.ahead_n);
            st.left -= n;
            let c = chunk(st.format, n, &std::mem::take(&mut st.ahead));
            st.rest.push_back(c);
        }
        loop {
            let mut body = Vec::new();
            let n = walk(st, &self.keys, KEYS_PER_CHUNK, &mut body);
            if n == 0 {
                break;
            }
            st.left -= n;
            st.rest.push_back(chunk(st.format, n, &body));
        }
    }
}

/// Encodes the next keys of the walk, up to `max`, into `body`; returns how many.
fn walk(
    st: &mut Streaming,
    keys: &concord_crdt::ScanMap<concord_crdt::KeyState>,
    max: usize,
    body: &mut Vec<u8>,
) -> u64 {
    let mut n = 0;
    while n < max as u64 && (st.cursor as usize) < st.skip.len() {
        let s = st.cursor;
        st.cursor += 1;
        if st.skip.get(s) {
            continue;
        }
        if let Some((k, ks)) = keys.entry_at(s) {
            encode_state(k, ks, st.format, body);
            n += 1;
        }
    }
    n
}

/// A chunk of `n` encoded states (as [`concord_crdt::codec::encode_states_as`] makes).
fn chunk(format: u16, n: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(&format.to_le_bytes());
    put_varint(&mut out, n);
    out.extend_from_slice(body);
    out
}
