//! Canonical digests of CRDT state, for convergence checks.

use crate::clock::Stamp;

/// A streaming 64-bit digest (FNV-1a over a canonical, length-prefixed encoding).
#[derive(Clone, Debug)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Digest(0xcbf2_9ce4_8422_2325)
    }
}

impl Digest {
    /// A fresh digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Feeds a length-prefixed byte string.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.u64(bytes.len() as u64);
        self.raw(bytes);
    }

    /// Feeds an integer.
    pub fn u64(&mut self, v: u64) {
        self.raw(&v.to_le_bytes());
    }

    /// Feeds a stamp.
    pub fn stamp(&mut self, s: &Stamp) {
        self.u64(u64::from(s.dot.origin.id));
        self.u64(u64::from(s.dot.origin.incarnation));
        self.u64(s.dot.seq);
        self.u64(s.ts.0);
    }

    /// The value so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}
