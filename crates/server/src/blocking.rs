//! Clients blocked on keys (BLPOP and friends): kept per key in arrival order and served,
//! under the engine lock, by whatever applied a write to one of their keys — a local
//! command or a group from a peer.

use crate::Shared;
use crate::pubsub::Msg;
use bytes::Bytes;
use concord_crdt::Blob;
use concord_engine::Engine;
use concord_resp::Out;
use std::collections::{HashMap, VecDeque};
use tokio::sync::mpsc;

/// One blocked client.
pub(crate) struct Waiter {
    /// The command to retry.
    pub args: Vec<Bytes>,
    /// The keys it waits on.
    pub keys: Vec<Blob>,
    /// Whether replies use RESP3.
    pub resp3: bool,
    /// What it answers when it times out (CLIENT UNBLOCK TIMEOUT sends it too).
    pub timeout_reply: Bytes,
    /// Where its reply goes.
    pub tx: mpsc::Sender<Msg>,
    /// The user it runs as: the retry is checked against that user's rules of the moment.
    pub user: Vec<u8>,
}

/// Every blocked client, by key in arrival order. Lock after the engine.
#[derive(Default)]
pub(crate) struct Blocked {
    by_key: HashMap<Blob, VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
}

impl Blocked {
    /// Registers client `id` as waiting.
    pub fn add(&mut self, e: &mut Engine, id: u64, w: Waiter) {
        for k in &w.keys {
            let q = self.by_key.entry(k.clone()).or_default();
            // A key named twice counts once.
            if q.back() != Some(&id) {
                q.push_back(id);
                e.want(k);
            }
        }
        self.waiters.insert(id, w);
    }

    /// Unregisters client `id`; `None` when it was not waiting (already served).
    pub fn remove(&mut self, e: &mut Engine, id: u64) -> Option<Waiter> {
        let w = self.waiters.remove(&id)?;
        for k in &w.keys {
            if let Some(q) = self.by_key.get_mut(k) {
                let before = q.len();
                q.retain(|&c| c != id);
                if q.len() != before {
                    e.unwant(k);
                }
                if q.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        Some(w)
    }

    /// How many clients wait.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }
}

/// Why a blocked command's retry may not run now, as the error it answers; the checks a
/// request passes in `dispatch`, for the ones that can change while a client waits.
fn refused(sh: &Shared, user: &[u8], args: &[&[u8]]) -> Option<String> {
    let id = concord_engine::resolve(args).ok()?;
    let Some(u) = sh.user(user) else {
        return Some("NOPERM the user of this connection was deleted".into());
    };
    let rules = crate::access::Rules::of(&u);
    if !rules.unrestricted
        && let Err(d) = crate::access::check(&u, rules, id, args)
    {
        let c = crate::access::catalog();
        let msg = d.noperm_message(c, crate::access::to_acl(id), &u);
        return Some(format!("NOPERM {}", String::from_utf8_lossy(&msg)));
    }
    if concord_engine::spec(id)
        .flags
        .has(concord_engine::Flags::WRITE)
    {
        if let Some(why) = sh.persist.write_error() {
            return Some(format!("MISCONF Errors writing to the AOF file: {why}"));
        }
        // A leaving instance acknowledges no write after LEAVE answered, woken or not.
        if let Some(why) = crate::cmd::member::write_refusal(sh) {
            return Some(why.to_string());
        }
    }
    None
}

/// Serves the blocked clients whose keys were written, first come first served; their
/// replies go to `replies`, to be sent once what they wrote is in a file batch. Call with
/// the engine lock held after anything that applied ops (the after-write path does).
pub(crate) fn serve(sh: &Shared, e: &mut Engine, replies: &mut Vec<(mpsc::Sender<Msg>, Bytes)>) {
    // Each served client may write another wanted key (BLMOVE); every round serves at
    // least one client or stops, so the loop ends.
    loop {
        let ready = e.take_ready();
        if ready.is_empty() {
            break;
        }
        let mut b = sh.blocked.lock().unwrap_or_else(|p| p.into_inner());
        for key in ready {
            let ids: Vec<u64> = b
                .by_key
                .get(&key)
                .map(|q| q.iter().copied().collect())
                .unwrap_or_default();
            for id in ids {
                let Some(w) = b.waiters.get(&id) else {
                    continue;
                };
                let mut out = Out::new();
                out.resp3 = w.resp3;
                let args: Vec<&[u8]> = w.args.iter().map(|a| &a[..]).collect();
                if let Some(why) = refused(sh, &w.user, &args) {
                    // The retry would be refused now (rules changed, the files cannot take
                    // writes): the client gets that error instead of waiting on.
                    out.error(&why);
                    if let Some(w) = b.remove(e, id) {
                        replies.push((w.tx, out.buf.freeze()));
                    }
                    continue;
                }
                e.execute(&args, &mut out);
                // Still nothing for it (another client took it, or the write was not a
                // push), or a key now holds another type: it keeps waiting, as in Redis,
                // except XREADGROUP, whose group went with the key: it answers.
                let other_type = out.buf.starts_with(b"-WRONGTYPE")
                    && !args[0].eq_ignore_ascii_case(b"xreadgroup");
                if e.take_block().is_some() || other_type {
                    continue;
                }
                e.commit();
                if let Some(w) = b.remove(e, id) {
                    replies.push((w.tx, out.buf.freeze()));
                }
            }
        }
    }
}
