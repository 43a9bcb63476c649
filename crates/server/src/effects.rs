//! The server's side of the after-write path ([`concord_engine::Effects`]): serve blocked
//! clients, hand changes to the append-only file, wake peer links, announce keyspace
//! events and invalidate tracked keys. Every place that applies changes ends with
//! [`after_write`] (or [`after_client_write`], which names the client whose work it was).

use crate::Shared;
use crate::pubsub::{Msg, Tx};
use bytes::Bytes;
use concord_engine::{Effects, Engine};

/// The effects of applied changes on this instance.
struct ServerEffects<'a> {
    sh: &'a Shared,
    /// Replies for blocked clients served, sent once their writes have a file batch.
    replies: Vec<(Tx, Bytes)>,
}

impl Effects for ServerEffects<'_> {
    fn serve_blocked(&mut self, e: &mut Engine) {
        crate::blocking::serve(self.sh, e, &mut self.replies);
    }

    fn persist(&mut self, e: &mut Engine) -> u64 {
        self.sh.persist.drain(e)
    }

    fn log_grew(&mut self) {
        if self
            .sh
            .peer_count
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
        {
            self.sh.log_notify.notify_waiters();
        }
    }
}

/// Ends a unit of work on `e` (locked by the caller) that started when the op log had
/// `appended_before` groups: see [`Engine::finish`]. Returns the append-only file batch
/// holding the changes (0: none).
pub(crate) fn after_write(sh: &Shared, e: &mut Engine, appended_before: u64) -> u64 {
    after_client_write(sh, e, appended_before, 0)
}

/// [`after_write`] for the work of client `actor`: a tracking client in NOLOOP mode is
/// not told about its own changes.
pub(crate) fn after_client_write(
    sh: &Shared,
    e: &mut Engine,
    appended_before: u64,
    actor: u64,
) -> u64 {
    let mut fx = ServerEffects {
        sh,
        replies: Vec::new(),
    };
    let seq = e.finish(appended_before, &mut fx);
    crate::notify::publish(sh, e);
    if e.tracking() {
        crate::tracking::after_write(sh, e, actor);
    }
    for (tx, reply) in fx.replies {
        // A full queue means the client is gone or stuck: it times out or disconnects.
        let _ = tx.try_send(Msg::Reply(reply, seq));
    }
    seq
}
