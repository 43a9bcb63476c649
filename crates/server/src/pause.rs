//! CLIENT PAUSE as in Redis 7.2: until the pause ends, this instance's clients wait
//! before each command that is held (every command, or only those that may write), and
//! active expiry waits too. Peers are not clients: their ops keep being applied.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What a pause holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Holds {
    /// Commands that may write (CLIENT PAUSE ... WRITE).
    Writes,
    /// Every command (CLIENT PAUSE ..., or ALL).
    All,
}

/// The pause in effect, if any.
#[derive(Default)]
pub(crate) struct Pause {
    /// A pause may be in effect (one load on the request path when there is none).
    active: AtomicBool,
    /// Until when, and what it holds.
    state: Mutex<Option<(Instant, Holds)>>,
    /// Woken when the pause changes (CLIENT UNPAUSE, a new pause).
    changed: Notify,
}

impl Pause {
    /// CLIENT PAUSE: holds `what` until `until`. A pause already in effect that ends
    /// later, or holds more, keeps that, as in Redis.
    pub fn start(&self, until: Instant, what: Holds) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let merged = match *st {
            Some((end, held)) if end > Instant::now() => (end.max(until), held.max(what)),
            _ => (until, what),
        };
        *st = Some(merged);
        self.active.store(true, Ordering::Release);
        drop(st);
        self.changed.notify_waiters();
    }

    /// CLIENT UNPAUSE: the pause ends now.
    pub fn end(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.active.store(false, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Whether a pause may be in effect (cheap; [`Pause::held`] tells).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// What is held now, and until when (`None`: nothing; an expired pause is cleared).
    pub fn held(&self) -> Option<(Instant, Holds)> {
        if !self.active() {
            return None;
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *st {
            Some((end, what)) if end > Instant::now() => Some((end, what)),
            _ => {
                *st = None;
                self.active.store(false, Ordering::Release);
                None
            }
        }
    }

    /// Whether a command is held now (`may_write`: it may write or replicate).
    pub fn holds(&self, may_write: bool) -> bool {
        match self.held() {
            Some((_, Holds::All)) => true,
            Some((_, Holds::Writes)) => may_write,
            None => false,
        }
    }

    /// Waits until the pause changes or ends (at most until its end, re-checked at
    /// least every second so that no wait outlives a missed wake-up).
    pub async fn changed(&self) {
        let notified = self.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let Some((end, _)) = self.held() else {
            return;
        };
        let cap = Instant::now() + Duration::from_secs(1);
        let at = tokio::time::Instant::from_std(end.min(cap));
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(at) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_keeps_the_later_end_and_the_stronger_hold() {
        let p = Pause::default();
        let now = Instant::now();
        p.start(now + Duration::from_secs(60), Holds::All);
        p.start(now + Duration::from_secs(1), Holds::Writes);
        assert_eq!(p.held(), Some((now + Duration::from_secs(60), Holds::All)));
        assert!(p.holds(false));
        p.end();
        assert!(!p.holds(true));
        p.start(now + Duration::from_secs(60), Holds::Writes);
        assert!(p.holds(true) && !p.holds(false));
        p.end();
        p.start(now, Holds::All);
        assert!(!p.holds(false), "an ended pause holds nothing");
    }
}
