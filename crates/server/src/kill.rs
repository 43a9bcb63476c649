//! The switch that closes one client's connection (CLIENT KILL, output limits), seen by
//! the connection's task wherever it waits.

use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Set once, never reset: a killed client stays killed. Only the connection's own task
/// waits on it, so one waker slot is enough; waiting registers no list entry, which
/// matters because every request's wait starts and ends one.
#[derive(Debug, Default)]
pub struct Kill {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl Kill {
    /// Kills the client: its task wakes (or, busy, finds it at its next wait).
    pub fn fire(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Whether the client was killed.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Resolves once the client is killed (at once if it already was).
    pub fn wait(&self) -> Killed<'_> {
        Killed(self)
    }
}

/// The future of [`Kill::wait`].
#[derive(Debug)]
pub struct Killed<'a>(&'a Kill);

impl Future for Killed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.is_set() {
            return Poll::Ready(());
        }
        self.0.waker.register(cx.waker());
        // Looked at again after registering: a kill between the two is not missed.
        if self.0.is_set() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kill_wakes_a_waiting_task_and_stays_set() {
        let kill = std::sync::Arc::new(Kill::default());
        let k = std::sync::Arc::clone(&kill);
        let waiter = tokio::spawn(async move { k.wait().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        kill.fire();
        waiter.await.unwrap();
        // Later waits end at once.
        kill.wait().await;
        assert!(kill.is_set());
    }

    #[tokio::test]
    async fn a_kill_before_the_wait_is_not_lost() {
        let kill = Kill::default();
        kill.fire();
        kill.wait().await;
    }
}
