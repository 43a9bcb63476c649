//! MEMORY USAGE's estimate of what a key costs: its name, its entry in the keyspace and
//! its value, aggregates sampled as Redis samples them (the average of the first
//! `samples` elements, times their number).

use crate::Engine;
use concord_crdt::{KeyState, Kind};
use std::mem::size_of;

/// Redis's default number of elements sampled.
pub const DEFAULT_SAMPLES: usize = 5;

/// What each element of an aggregate costs beyond its bytes: its slot in the
/// collection's table and the CRDT metadata (the dots of the writes that made it).
const SET_ELEM: usize = 48;
const HASH_ELEM: usize = 96;
const ZSET_ELEM: usize = 112;
const LIST_ELEM: usize = 64;
const STREAM_ENTRY: usize = 64;
/// The keyspace entry of a key, besides its name and value.
const KEY_ENTRY: usize = 48;
/// A dense HyperLogLog, as Redis stores one.
const HLL_BYTES: usize = 12_304;

/// The average over the first `samples` (0: all) of `sizes`, times `len`.
fn sampled(sizes: impl Iterator<Item = usize>, len: usize, samples: usize, each: usize) -> usize {
    let take = if samples == 0 { usize::MAX } else { samples };
    let (mut n, mut total) = (0usize, 0usize);
    for s in sizes.take(take) {
        n += 1;
        total = total.saturating_add(s.saturating_add(each));
    }
    if n == 0 {
        return 0;
    }
    (total / n).saturating_mul(len)
}

/// The bytes of a value, its elements sampled.
fn value_bytes(ks: &KeyState, samples: usize) -> usize {
    match ks.visible() {
        None => 0,
        Some(Kind::Str) => ks.string.as_ref().map_or(0, |s| s.read().len()) + 32,
        Some(Kind::Hll) => HLL_BYTES,
        Some(Kind::Set) => ks.set.as_ref().map_or(0, |s| {
            sampled(s.iter().map(<[u8]>::len), s.len(), samples, SET_ELEM)
        }),
        Some(Kind::Hash) => ks.hash.as_ref().map_or(0, |h| {
            let sizes = h.iter().map(|(f, v)| f.len() + v.read().len());
            sampled(sizes, h.len(), samples, HASH_ELEM)
        }),
        Some(Kind::ZSet) => ks.zset.as_ref().map_or(0, |z| {
            let sizes = z.map().iter().map(|(m, _)| m.len());
            sampled(sizes, z.len(), samples, ZSET_ELEM)
        }),
        Some(Kind::List) => ks.list.as_ref().map_or(0, |l| {
            let sizes = l.iter().map(|e| e.value.as_bytes().len());
            sampled(sizes, l.len(), samples, LIST_ELEM)
        }),
        Some(Kind::Stream) => ks.stream.as_ref().map_or(0, |st| {
            let sizes = st
                .iter()
                .map(|(_, fields)| fields.iter().map(|f| f.len() + 8).sum::<usize>());
            sampled(sizes, st.len(), samples, STREAM_ENTRY)
        }),
    }
}

/// MEMORY USAGE key [SAMPLES n]: the bytes `key` costs, or `None` when it does not exist.
pub fn usage(e: &mut Engine, key: &[u8], samples: usize) -> Option<u64> {
    let ks = e.lookup(key, false)?;
    let bytes = KEY_ENTRY + key.len() + size_of::<KeyState>() + value_bytes(ks, samples);
    Some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_scales_the_average() {
        assert_eq!(sampled([10, 20].into_iter(), 100, 2, 0), 1500);
        assert_eq!(sampled([10, 20, 30].into_iter(), 3, 0, 1), 63);
        assert_eq!(sampled(std::iter::empty(), 0, 5, 8), 0);
        assert_eq!(sampled([usize::MAX].into_iter(), 2, 5, 8), usize::MAX);
    }
}
