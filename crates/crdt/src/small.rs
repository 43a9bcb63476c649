//! Byte strings that keep short values inline.
//!
//! List elements are mostly short (queue items, ids): held inline they cost no allocation
//! of their own, neither when pushed nor when popped, and no separate heap chunk.

use crate::coll::Blob;
use std::fmt;
use std::ops::Deref;

/// The longest value kept inline: the size of the type stays 24 bytes.
pub const INLINE: usize = 22;

/// An immutable byte string, inline up to [`INLINE`] bytes, boxed beyond.
#[derive(Clone)]
pub struct SmallBlob(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Blob),
}

impl SmallBlob {
    /// A copy of `b`.
    pub fn new(b: &[u8]) -> Self {
        if b.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            SmallBlob(Repr::Inline {
                len: b.len() as u8,
                bytes,
            })
        } else {
            SmallBlob(Repr::Heap(b.into()))
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }

    /// A boxed copy (or the box itself, when it has one).
    pub fn into_blob(self) -> Blob {
        match self.0 {
            Repr::Inline { .. } => self.as_bytes().into(),
            Repr::Heap(b) => b,
        }
    }
}

impl Deref for SmallBlob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for SmallBlob {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<&[u8]> for SmallBlob {
    fn from(b: &[u8]) -> Self {
        SmallBlob::new(b)
    }
}

impl From<Blob> for SmallBlob {
    /// Keeps the box of a long value; a short one moves inline.
    fn from(b: Blob) -> Self {
        if b.len() <= INLINE {
            SmallBlob::new(&b)
        } else {
            SmallBlob(Repr::Heap(b))
        }
    }
}

impl PartialEq for SmallBlob {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallBlob {}

impl std::hash::Hash for SmallBlob {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h);
    }
}

impl fmt::Debug for SmallBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_bytes(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_inline_and_every_length_round_trips() {
        assert_eq!(std::mem::size_of::<SmallBlob>(), 24);
        for n in [0, 1, INLINE - 1, INLINE, INLINE + 1, 1000] {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let s = SmallBlob::new(&v);
            assert_eq!(&*s, &v[..]);
            assert_eq!(matches!(s.0, Repr::Inline { .. }), n <= INLINE);
            let b: Blob = v.clone().into();
            assert_eq!(SmallBlob::from(b.clone()), s);
            assert_eq!(s.into_blob(), b);
        }
    }
}
