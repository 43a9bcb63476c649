//! A growable array kept in fixed-size chunks, for [`crate::scanmap::ScanMap`]'s slots.
//!
//! A `Vec` doubles when it fills: a table of a million slots then holds up to a million
//! unused ones, counted against `maxmemory` (a doubling under a limit evicts a third of
//! the keys to pay for empty slots), and each doubling copies every slot while the
//! instance waits. Here growing adds one chunk: nothing moves, and at most one chunk is
//! allocated beyond what is used. The first chunk grows as a `Vec` does, so a small map
//! (a set of three members) stays small.

use std::ops::{Index, IndexMut};

/// log2 of the slots in a full chunk.
const CHUNK_BITS: u32 = 10;
/// The slots in a full chunk.
const CHUNK: usize = 1 << CHUNK_BITS;

/// A growable array that never moves its elements to grow.
#[derive(Clone, Debug)]
pub(crate) struct Slots<T> {
    /// Every chunk but the last is full (`CHUNK` long), and none holds room for more than
    /// `CHUNK`. The last may be empty: it is kept when its last element goes, so that a
    /// map whose size goes back and forth across a chunk's edge does not allocate and
    /// free a whole chunk each time.
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    /// How many elements it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The element at `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        Some(&self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)])
    }

    /// Appends `v` at index `len()`.
    pub fn push(&mut self, v: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity() {
                    // Doubling as a Vec does, but never past a chunk.
                    last.reserve_exact(last.capacity().max(4).min(CHUNK - last.len()));
                }
                last.push(v);
            }
            _ => {
                // A later chunk is allocated whole: its size is known, and growing it as
                // a Vec would copy it.
                let mut chunk = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(v);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        debug_assert!(self.chunks.len() < 2 || self.chunks[self.chunks.len() - 2].len() == CHUNK);
    }

    /// Removes the last element. A chunk is given back once the one before it is empty
    /// too (one empty chunk is kept for the next push).
    pub fn pop(&mut self) -> Option<T> {
        let i = self.len.checked_sub(1)?;
        let v = self.chunks[i >> CHUNK_BITS].pop();
        assert!(v.is_some(), "element {i} is in its chunk");
        self.len = i;
        // Chunks up to the one the next push fills are kept.
        self.chunks.truncate((i >> CHUNK_BITS) + 1);
        v
    }

    /// The last element.
    pub fn last(&self) -> Option<&T> {
        self.get(self.len.checked_sub(1)?)
    }

    /// Room for `n` more elements without allocating (the first chunk's part of it; later
    /// chunks are allocated whole when needed).
    pub fn reserve(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match self.chunks.as_mut_slice() {
            [] => self.chunks.push(Vec::with_capacity(n.min(CHUNK))),
            [only] => only.reserve_exact(n.min(CHUNK - only.len())),
            _ => {}
        }
        debug_assert!(self.chunks.iter().all(|c| c.capacity() <= CHUNK));
        self.chunks.reserve(n.div_ceil(CHUNK));
    }

    /// Every element, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// Every element, mutable, in index order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }

    /// The elements from index `start` on (none when `start >= len()`).
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &T> {
        let (c, at) = (start >> CHUNK_BITS, start & (CHUNK - 1));
        let first = self
            .chunks
            .get(c)
            .map_or(&[][..], |ch| ch.get(at..).unwrap_or(&[]));
        first
            .iter()
            .chain(self.chunks.get(c + 1..).unwrap_or(&[]).iter().flatten())
    }
}

impl<T> Index<usize> for Slots<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        assert!(i < self.len, "slot {i} of {}", self.len);
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

impl<T> IndexMut<usize> for Slots<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "slot {i} of {}", self.len);
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_across_chunks() {
        let mut s = Slots::default();
        let mut v = Vec::new();
        for i in 0..(3 * CHUNK + 17) {
            s.push(i);
            v.push(i);
        }
        for _ in 0..CHUNK + 20 {
            assert_eq!(s.pop(), v.pop());
        }
        assert_eq!(s.len(), v.len());
        assert_eq!(s.last(), v.last());
        assert!(s.iter().eq(v.iter()));
        for start in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            v.len() - 1,
            v.len(),
            v.len() + 5,
        ] {
            assert!(s.iter_from(start).eq(v.iter().skip(start)), "from {start}");
        }
        for i in 0..v.len() {
            assert_eq!(s[i], v[i]);
            assert_eq!(s.get(i), Some(&v[i]));
        }
        assert_eq!(s.get(v.len()), None);
        s[5] = 99;
        assert_eq!(s[5], 99);
        s.iter_mut().for_each(|x| *x += 1);
        assert_eq!(s[5], 100);
        while s.pop().is_some() {}
        assert_eq!((s.len(), s.chunks.len(), s.last()), (0, 1, None));
        s.reserve(10);
        assert_eq!(s.pop(), None);
        s.push(7);
        assert_eq!((s.len(), s.pop(), s.len()), (1, Some(7), 0));
    }

    #[test]
    fn a_size_going_back_and_forth_across_a_chunk_edge_keeps_its_chunks() {
        let mut s = Slots::default();
        for i in 0..(2 * CHUNK) {
            s.push(i);
        }
        let second = s.chunks[1].as_ptr();
        for _ in 0..100 {
            s.pop();
            s.push(7);
            s.push(8);
            s.pop();
        }
        assert_eq!(s.chunks[1].as_ptr(), second, "the chunk was not given back");
        assert_eq!((s.len(), s.last()), (2 * CHUNK, Some(&7)));
        // Emptied further, the chunks after the next push's one go.
        for _ in 0..(CHUNK + 1) {
            s.pop();
        }
        assert_eq!(s.chunks.len(), 1);
    }

    #[test]
    fn no_chunk_grows_past_its_size() {
        let mut s = Slots::default();
        s.reserve(600);
        for i in 0..(3 * CHUNK) {
            s.push(i);
        }
        let mut c = s.clone();
        for i in 0..CHUNK {
            c.push(i);
        }
        for x in [&s, &c] {
            assert!(x.chunks.iter().all(|c| c.capacity() <= CHUNK));
        }
    }

    #[test]
    fn a_large_array_keeps_at_most_one_chunk_unused() {
        let mut s = Slots::default();
        for i in 0..(5 * CHUNK + 1) {
            s.push(i as u64);
        }
        let room: usize = s.chunks.iter().map(Vec::capacity).sum();
        assert!(room - s.len() < CHUNK, "{room} for {}", s.len());
        let mut small = Slots::default();
        small.push(1u64);
        assert!(small.chunks[0].capacity() < 16, "a small map stays small");
    }
}
