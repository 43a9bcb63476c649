//! Identities and time: replica ids, origins, dots, stamps and the hybrid logical clock.

use std::cmp::Ordering;
use std::fmt;

/// The small integer that names an instance within one database (1..=N).
pub type ReplicaId = u16;

/// One incarnation of one instance: the unit that issues gap-free sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Origin {
    /// The instance id.
    pub id: ReplicaId,
    /// Fresh on every start that may have lost state.
    pub incarnation: u32,
}

impl Origin {
    /// An origin no dot can carry (id 0 is never a replica): a marker in vectors.
    pub const NONE: Origin = Origin::new(0, u32::MAX);

    /// Builds an origin from an instance id and an incarnation.
    pub const fn new(id: ReplicaId, incarnation: u32) -> Self {
        Origin { id, incarnation }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.id, self.incarnation)
    }
}

/// The identity of one write: its origin and its sequence number there (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dot {
    /// Who issued the write.
    pub origin: Origin,
    /// Gap-free per origin, starting at 1.
    pub seq: u64,
}

impl Dot {
    /// Builds a dot.
    pub const fn new(origin: Origin, seq: u64) -> Self {
        Dot { origin, seq }
    }
}

/// A hybrid logical clock value: 48 bits of physical milliseconds, 16 logical bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hlc(pub u64);

impl Hlc {
    /// The largest logical counter; the clock never carries it into the milliseconds.
    pub const MAX_LOGICAL: u16 = u16::MAX;

    /// Builds a timestamp from its two parts.
    pub const fn new(millis: u64, logical: u16) -> Self {
        Hlc(((millis & 0xFFFF_FFFF_FFFF) << 16) | logical as u64)
    }

    /// The physical part in milliseconds since the Unix epoch.
    pub const fn millis(self) -> u64 {
        self.0 >> 16
    }

    /// The logical counter.
    pub const fn logical(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

/// Error from the hybrid logical clock.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    /// A remote timestamp is further ahead of the local wall clock than allowed.
    #[error("timestamp {ahead_ms} ms ahead of the local clock (bound {bound_ms} ms)")]
    TooFarAhead {
        /// How far ahead it was.
        ahead_ms: u64,
        /// The configured bound.
        bound_ms: u64,
    },
}

/// The clock state of one instance. The wall clock is passed in, never read here.
#[derive(Clone, Copy, Debug, Default)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// Starts a clock that will never issue a value at or below `high_water`.
    pub fn new(high_water: Hlc) -> Self {
        HlcClock { last: high_water }
    }

    /// The largest timestamp issued or seen.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// Issues a timestamp for a local event at wall time `wall_ms`.
    pub fn tick(&mut self, wall_ms: u64) -> Hlc {
        let last_ms = self.last.millis();
        let next = match wall_ms.cmp(&last_ms) {
            Ordering::Greater => Hlc::new(wall_ms, 0),
            _ if self.last.logical() < Hlc::MAX_LOGICAL => {
                Hlc::new(last_ms, self.last.logical() + 1)
            }
            // The logical counter is exhausted: borrow the next millisecond rather than
            // carry, so ordering stays strict.
            _ => Hlc::new(last_ms + 1, 0),
        };
        debug_assert!(next > self.last);
        self.last = next;
        next
    }

    /// Takes a remote timestamp into account, refusing one too far ahead of `wall_ms`.
    pub fn observe(&mut self, remote: Hlc, wall_ms: u64, bound_ms: u64) -> Result<(), ClockError> {
        let ahead = remote.millis().saturating_sub(wall_ms);
        if ahead > bound_ms {
            return Err(ClockError::TooFarAhead {
                ahead_ms: ahead,
                bound_ms,
            });
        }
        if remote > self.last {
            self.last = remote;
        }
        Ok(())
    }

    /// How far the wall clock lags behind the largest timestamp seen, in milliseconds.
    pub fn lag_ms(&self, wall_ms: u64) -> u64 {
        self.last.millis().saturating_sub(wall_ms)
    }
}

/// A write's identity and timestamp, as stored next to the data it wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Which write.
    pub dot: Dot,
    /// When, on the hybrid logical clock.
    pub ts: Hlc,
}

impl Stamp {
    /// Builds a stamp.
    pub const fn new(dot: Dot, ts: Hlc) -> Self {
        Stamp { dot, ts }
    }

    /// The order in which concurrent writes win: larger timestamp, then smaller id.
    /// Incarnation and sequence only make the order total.
    pub fn wins_over(&self, other: &Stamp) -> bool {
        self.rank() > other.rank()
    }

    fn rank(&self) -> (Hlc, std::cmp::Reverse<ReplicaId>, u32, u64) {
        (
            self.ts,
            std::cmp::Reverse(self.dot.origin.id),
            self.dot.origin.incarnation,
            self.dot.seq,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_parts_roundtrip() {
        let h = Hlc::new(1_700_000_000_123, 7);
        assert_eq!(h.millis(), 1_700_000_000_123);
        assert_eq!(h.logical(), 7);
    }

    #[test]
    fn tick_is_strictly_monotonic_under_a_stuck_or_backward_clock() {
        let mut c = HlcClock::default();
        let mut prev = c.tick(1000);
        for wall in [1000, 999, 500, 1000, 1001, 2] {
            let t = c.tick(wall);
            assert!(t > prev);
            prev = t;
        }
    }

    #[test]
    fn logical_overflow_borrows_next_millisecond() {
        let mut c = HlcClock::new(Hlc::new(10, u16::MAX));
        let t = c.tick(10);
        assert_eq!(t, Hlc::new(11, 0));
    }

    #[test]
    fn observe_moves_forward_and_refuses_far_future() {
        let mut c = HlcClock::default();
        c.observe(Hlc::new(5000, 3), 4000, 2000).unwrap();
        assert!(c.tick(4000) > Hlc::new(5000, 3));
        assert!(c.observe(Hlc::new(100_000, 0), 4000, 2000).is_err());
    }

    #[test]
    fn ties_go_to_the_smaller_id() {
        let a = Stamp::new(Dot::new(Origin::new(1, 0), 1), Hlc(10));
        let b = Stamp::new(Dot::new(Origin::new(2, 0), 1), Hlc(10));
        assert!(a.wins_over(&b));
        assert!(!b.wins_over(&a));
    }
}
