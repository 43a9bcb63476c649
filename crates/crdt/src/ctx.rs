//! The causal context of an operation: what its instance had applied when it made it.

use crate::clock::{Dot, Origin};
use crate::vv::VersionVector;

/// A context: `deps` for other origins plus everything before `seq` of `origin`.
///
/// Keeping the own-origin entry implicit lets a run of local ops share one `deps` vector.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The origin of the operation.
    pub origin: Origin,
    /// The operation's own sequence number; everything below it is seen.
    pub seq: u64,
    /// What had been applied from other origins (its own-origin entry is ignored).
    pub deps: &'a VersionVector,
}

impl<'a> Ctx<'a> {
    /// Whether the operation had seen `dot`.
    pub fn contains(&self, dot: &Dot) -> bool {
        if dot.origin == self.origin {
            dot.seq < self.seq
        } else {
            self.deps.contains(dot)
        }
    }

    /// A context that covers everything in `vv` (used for merges and compaction).
    pub fn of_vv(vv: &'a VersionVector) -> Self {
        // An origin no dot can carry, so `deps` decides everything.
        Ctx {
            origin: Origin::NONE,
            seq: 0,
            deps: vv,
        }
    }
}

/// Something that decides whether a dot has been seen.
pub trait Seen {
    /// Whether `dot` is covered.
    fn seen(&self, dot: &Dot) -> bool;
}

impl Seen for Ctx<'_> {
    fn seen(&self, dot: &Dot) -> bool {
        self.contains(dot)
    }
}

impl Seen for VersionVector {
    fn seen(&self, dot: &Dot) -> bool {
        self.contains(dot)
    }
}
