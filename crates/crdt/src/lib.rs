//! Concord's conflict-free replicated data types.
//!
//! Pure logic: no I/O, no clock is read, replica ids and times are passed in. Every type
//! keeps the dots (identity + timestamp) of the writes that survive; a write or removal
//! carries the context of what its instance had seen and removes exactly that. Delivery is
//! causal, so contexts stay plain version vectors and removals leave no tombstones.

pub mod clock;
pub mod codec;
pub mod coll;
pub mod counter;
pub mod ctx;
pub mod digest;
pub mod f80;
pub mod hll;
pub mod key;
pub mod list;
pub mod num;
pub mod op;
pub mod ostree;
pub mod reg;
pub mod scanmap;
mod slots;
pub mod small;
pub mod stream;
pub mod vv;
pub mod zset;

pub use clock::{ClockError, Dot, Hlc, HlcClock, Origin, ReplicaId, Stamp};
pub use coll::{Blob, OrMap, OrSet};
pub use counter::{Amount, Counted, Increments, Numeric};
pub use ctx::{Ctx, Seen};
pub use digest::Digest;
pub use hll::Hll;
pub use key::{Access, KeyState, Kind};
pub use list::{Elem, List, Pos};
pub use op::{Content, ListValues, OP_FORMAT_VERSION, Op, OpKind, Ttl, run_len};
pub use reg::MvReg;
pub use scanmap::ScanMap;
pub use small::SmallBlob;
pub use stream::{Stream, StreamId};
pub use vv::{VersionVector, VvParseError};
pub use zset::{ZMember, ZSet};

#[cfg(test)]
mod tests;
