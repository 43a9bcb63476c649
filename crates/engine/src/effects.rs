//! The one path every change to the state ends with, whoever made it: a client's command
//! or transaction, a batch from a peer, an expiry pass, a replication tick. The server and
//! the simulation both end their work here, so they cannot drift apart.

use crate::Engine;

/// What the world around the engine does once changes are applied. Every step has a
/// default that does nothing, for callers without that part (no blocked clients in the
/// simulation, no files when persistence is off).
pub trait Effects {
    /// Serves clients blocked on keys that changed ([`Engine::take_ready`]); serving one
    /// may apply more ops (BLMOVE), which the steps after this one include.
    fn serve_blocked(&mut self, _e: &mut Engine) {}

    /// Hands what was applied to the append-only file; returns the batch that holds it
    /// (0: nothing was handed over).
    fn persist(&mut self, _e: &mut Engine) -> u64 {
        0
    }

    /// The op log grew: links to peers have something new to send.
    fn log_grew(&mut self) {}
}

impl Engine {
    /// Ends a unit of work: closes the open group of local ops, serves blocked clients,
    /// persists, and wakes peer links if the op log grew since `appended_before` (the
    /// log's [`crate::OpLog::appended`] when the work began). Returns the append-only file
    /// batch holding the changes (0: none), which `appendfsync always` waits for.
    pub fn finish(&mut self, appended_before: u64, fx: &mut impl Effects) -> u64 {
        self.commit();
        fx.serve_blocked(self);
        let seq = fx.persist(self);
        if self.log().appended() != appended_before {
            fx.log_grew();
        }
        seq
    }
}
