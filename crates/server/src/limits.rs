//! Client output buffer limits (Redis's `client-output-buffer-limit`): how many reply bytes
//! may wait for a client before it is disconnected, per class of client.

use std::fmt;
use std::time::{Duration, Instant};

/// What waits for a client with a limit of 0 ("no limit" in Redis): still a bound, so one
/// request can never make the server allocate without end.
pub const UNLIMITED_CEILING: u64 = 1 << 30;

/// The classes Redis distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientClass {
    /// Ordinary clients.
    Normal,
    /// Replicas (Concord's peer links, served from the backlog).
    Replica,
    /// Clients subscribed to channels or patterns.
    PubSub,
}

impl ClientClass {
    fn parse(s: &str) -> Option<ClientClass> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientClass::Normal),
            "replica" | "slave" => Some(ClientClass::Replica),
            "pubsub" => Some(ClientClass::PubSub),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ClientClass::Normal => "normal",
            ClientClass::Replica => "slave",
            ClientClass::PubSub => "pubsub",
        }
    }
}

/// The limits of one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassLimit {
    /// Bytes past which the client is disconnected at once (0: no limit).
    pub hard: u64,
    /// Bytes the client may stay above for `soft_secs` (0: no limit).
    pub soft: u64,
    /// Seconds above `soft` before the client is disconnected.
    pub soft_secs: u64,
}

impl ClassLimit {
    /// The hard limit in bytes, with the ceiling standing in for "no limit".
    pub fn hard_bytes(&self) -> usize {
        let hard = if self.hard == 0 {
            UNLIMITED_CEILING
        } else {
            self.hard.min(UNLIMITED_CEILING)
        };
        usize::try_from(hard).unwrap_or(usize::MAX)
    }
}

impl ClassLimit {
    /// The limits for a served peer link. A link holds no buffer of its own (it sends
    /// from the backlog, bounded by `backlog-size`), so the replica class bounds what
    /// one frame may hold (`hard`) and how long a frame may wait to be written
    /// (`soft_secs`): a peer that stops reading is dropped then, and catches up by
    /// partial sync when it is back.
    pub fn stalled(self) -> ClassLimit {
        ClassLimit {
            hard: self.hard,
            soft: u64::from(self.soft_secs > 0),
            soft_secs: self.soft_secs,
        }
    }
}

/// The limits of every class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    /// Ordinary clients.
    pub normal: ClassLimit,
    /// Peer links.
    pub replica: ClassLimit,
    /// Subscribers.
    pub pubsub: ClassLimit,
}

impl Default for OutputLimits {
    /// Redis's defaults.
    fn default() -> Self {
        OutputLimits {
            normal: ClassLimit {
                hard: 0,
                soft: 0,
                soft_secs: 0,
            },
            replica: ClassLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_secs: 60,
            },
            pubsub: ClassLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_secs: 60,
            },
        }
    }
}

impl OutputLimits {
    /// The limits of a class.
    pub fn of(&self, class: ClientClass) -> ClassLimit {
        match class {
            ClientClass::Normal => self.normal,
            ClientClass::Replica => self.replica,
            ClientClass::PubSub => self.pubsub,
        }
    }

    fn of_mut(&mut self, class: ClientClass) -> &mut ClassLimit {
        match class {
            ClientClass::Normal => &mut self.normal,
            ClientClass::Replica => &mut self.replica,
            ClientClass::PubSub => &mut self.pubsub,
        }
    }

    /// Applies `<class> <hard> <soft> <soft seconds>` groups, as CONFIG SET and config
    /// files give them; classes not named keep their limits. All or nothing.
    pub fn merge(&mut self, text: &str) -> Result<(), String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *self;
        for w in words.chunks(4) {
            let class = ClientClass::parse(w[0])
                .ok_or("Invalid client class specified in buffer limit configuration.")?;
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = crate::settings::parse_bytes(w[1]).map_err(|_| bad())?;
            let soft = crate::settings::parse_bytes(w[2]).map_err(|_| bad())?;
            let soft_secs = crate::settings::parse_int(w[3])
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(bad)?;
            *next.of_mut(class) = ClassLimit {
                hard,
                soft,
                soft_secs,
            };
        }
        *self = next;
        Ok(())
    }
}

impl fmt::Display for OutputLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for c in [
            ClientClass::Normal,
            ClientClass::Replica,
            ClientClass::PubSub,
        ] {
            let l = self.of(c);
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{} {} {} {}", c.name(), l.hard, l.soft, l.soft_secs)?;
        }
        Ok(())
    }
}

/// Whether `waiting` bytes are above the soft limit (0: none).
fn above_soft(limit: &ClassLimit, waiting: usize) -> bool {
    limit.soft != 0 && waiting as u64 > limit.soft
}

/// Tracks how long a client's waiting output has stayed above its soft limit.
#[derive(Debug, Default)]
pub struct SoftWatch {
    above_since: Option<Instant>,
}

impl SoftWatch {
    /// Records that `waiting` bytes, within both limits, wait now (nothing waits for long
    /// then); false when they are not within them, and nothing is recorded.
    pub fn within(&mut self, limit: &ClassLimit, waiting: usize) -> bool {
        let within = waiting <= limit.hard_bytes() && !above_soft(limit, waiting);
        if within {
            self.above_since = None;
        }
        within
    }

    /// Records that `waiting` bytes wait now; true when the client must be disconnected
    /// (past the hard limit, or above the soft one for too long).
    pub fn over(&mut self, limit: &ClassLimit, waiting: usize, now: Instant) -> bool {
        if waiting > limit.hard_bytes() {
            return true;
        }
        if !above_soft(limit, waiting) {
            self.above_since = None;
            return false;
        }
        let since = *self.above_since.get_or_insert(now);
        now.duration_since(since) >= Duration::from_secs(limit.soft_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_shows_like_redis() {
        let mut l = OutputLimits::default();
        assert_eq!(
            l.to_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        l.merge("normal 10mb 5mb 30").expect("ok");
        assert_eq!(l.normal.hard, 10 << 20);
        assert_eq!(l.pubsub, OutputLimits::default().pubsub);
        assert!(l.merge("normal 1 2").is_err());
        assert!(l.merge("bogus 1 2 3").is_err());
        assert!(l.merge("normal 1 2 3 pubsub x 1 1").is_err());
        assert_eq!(l.normal.hard, 10 << 20, "a failed merge changes nothing");
    }

    #[test]
    fn soft_limit_needs_time_hard_does_not() {
        let limit = ClassLimit {
            hard: 100,
            soft: 10,
            soft_secs: 2,
        };
        let mut w = SoftWatch::default();
        let t0 = Instant::now();
        assert!(w.over(&limit, 101, t0));
        assert!(!w.over(&limit, 50, t0));
        assert!(!w.over(&limit, 50, t0 + Duration::from_secs(1)));
        assert!(w.over(&limit, 50, t0 + Duration::from_secs(2)));
        assert!(!w.over(&limit, 5, t0 + Duration::from_secs(3)));
        assert!(!w.over(&limit, 50, t0 + Duration::from_secs(4)));
    }
}
