//! Where the primary's writes run: a session of this instance, as Redis's replica runs its
//! primary's commands in a client of its own. Its user may run every command on every key;
//! the writes take the one dispatch path every client's do (MULTI/EXEC, scripts, CLIENT
//! PAUSE, write holds), and so reach the other instances by the normal replication.

use crate::Shared;
use crate::dispatch::Requests;
use crate::session::Session;
use concord_acl::{PubsubDefault, User};
use concord_resp::Out;
use concord_resp::reply::{Reply, parse};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The name CLIENT and the logs know the primary's session by.
const USER_NAME: &[u8] = b"(primary)";
/// How many refused writes are logged in full (the rest are counted).
const LOGGED_REFUSALS: u64 = 20;

/// The session and what it refused so far.
pub(super) struct Local {
    sess: Session,
    out: Out,
    /// Error replies so far.
    pub refused: u64,
}

impl Local {
    /// A session allowed everything (`refused`: the count so far, carried across links).
    pub fn new(sh: &Shared, refused: u64) -> Local {
        let (tx, _) = tokio::sync::mpsc::channel(1);
        let id = sh.next_client.fetch_add(1, Ordering::Relaxed);
        let mut sess = Session::new(
            sh,
            id,
            crate::pubsub::Mailbox::new(tx),
            std::time::Instant::now(),
        );
        let mut user = User::new(USER_NAME, PubsubDefault::AllChannels);
        user.apply_rules(
            crate::access::catalog(),
            PubsubDefault::AllChannels,
            &[b"on", b"nopass", b"allkeys", b"allchannels", b"allcommands"],
        )
        .expect("the rules of the primary's session are valid");
        sess.internal = true;
        sess.authed = true;
        sess.set_user(sh, Arc::new(user));
        Local {
            sess,
            out: Out::new(),
            refused,
        }
    }

    /// Runs `reqs` whole (those CLIENT PAUSE holds wait for it to end); their replies are
    /// dropped, error replies counted and logged. An error when the session closed (the
    /// link is then made again, with a new session).
    pub async fn run(&mut self, sh: &Shared, reqs: &impl Requests) -> Result<(), String> {
        if reqs.count() == 0 {
            return Ok(());
        }
        self.sess.run_requests(sh, reqs, &mut self.out).await;
        // Requests kept behind a held one run once it may run, before anything newer.
        while !self.sess.queued.is_empty() && !self.sess.closing {
            let kept = std::mem::take(&mut self.sess.queued);
            self.sess.queued_bytes = 0;
            self.sess.run_requests(sh, &kept, &mut self.out).await;
        }
        self.count_errors();
        if self.sess.closing {
            return Err("the session running the primary's writes closed".into());
        }
        Ok(())
    }

    /// Counts (and logs the first of) the error replies written so far, and drops them.
    fn count_errors(&mut self) {
        for err in errors(&self.out.buf) {
            self.refused += 1;
            if self.refused <= LOGGED_REFUSALS {
                tracing::warn!(
                    "REPLICAOF: a write from the primary was refused here: {}",
                    String::from_utf8_lossy(err)
                );
            }
        }
        self.out.buf.clear();
    }
}

/// The error replies among `buf`'s replies (RESP2 or RESP3, as this server writes them),
/// at any depth (EXEC's replies included).
fn errors(mut buf: &[u8]) -> Vec<&[u8]> {
    fn collect<'a>(r: &Reply<'a>, into: &mut Vec<&'a [u8]>) {
        match r {
            Reply::Error(e) => into.push(e),
            Reply::Array(Some(v)) | Reply::Set(v) => v.iter().for_each(|x| collect(x, into)),
            Reply::Map(v) => v.iter().for_each(|(k, x)| {
                collect(k, into);
                collect(x, into);
            }),
            _ => {}
        }
    }
    let mut found = Vec::new();
    while let Ok((r, used)) = parse(buf) {
        collect(&r, &mut found);
        buf = &buf[used..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_found_at_any_depth() {
        let buf =
            b"+OK\r\n$5\r\n-ERR \r\n*2\r\n-WRONGTYPE x\r\n:1\r\n!3\r\nERR\r\n$-1\r\n-ERR y\r\n";
        assert_eq!(
            errors(buf),
            vec![&b"WRONGTYPE x"[..], &b"ERR"[..], &b"ERR y"[..]]
        );
        assert!(errors(b"").is_empty());
        assert!(errors(b"$100\r\nshort").is_empty());
    }
}
