//! CRDT.LINK (a peer turns its connection into a replication link) and CRDT.SYNC (pause,
//! resume and inspect replication on this instance).

use crate::conn::Security;
use crate::session::Session;
use crate::{Shared, wall_ms};
use concord_engine::Engine;
use concord_resp::Out;
use std::sync::atomic::Ordering;

/// CRDT.LINK proto db from to.
pub(crate) fn link(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    if sh.paused.load(Ordering::Acquire) {
        return out.error("ERR replication is paused on this instance");
    }
    if let Err(why) = identity(s) {
        tracing::warn!("refused a peer link from {}: {why}", s.addr);
        s.closing = true;
        return out.error(&format!("ERR link refused: {why}"));
    }
    let checked = sh
        .repl
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .check_hello(a[1], a[2], a[3], a[4]);
    match checked {
        Ok(peer) => {
            out.ok();
            s.link = Some(peer);
        }
        Err(why) => {
            tracing::warn!("refused a peer link: {why}");
            out.error(&format!("ERR link refused: {why}"));
            s.closing = true;
        }
    }
}

/// Whether the connection may become a peer link: it proved who it is with a client
/// certificate the CA signed, or with a password; or it comes from this machine.
fn identity(s: &Session) -> Result<(), &'static str> {
    if s.security == Security::TlsCertified || s.password_proven || s.addr.ip().is_loopback() {
        return Ok(());
    }
    Err(
        "a peer on another host must authenticate with a password (peer-password and a user allowed to run CRDT.LINK) or a TLS client certificate",
    )
}

/// CRDT.SYNC PAUSE|RESUME|STATUS.
pub(crate) fn sync(_: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let mut r = sh.repl.lock().unwrap_or_else(|p| p.into_inner());
    match a[1].to_ascii_lowercase().as_slice() {
        b"pause" => {
            sh.paused.store(true, Ordering::Release);
            sh.pause_epoch.fetch_add(1, Ordering::AcqRel);
            r.set_paused(true);
            drop(r);
            // Wake served links so they notice at once.
            sh.log_notify.notify_waiters();
            out.ok();
        }
        b"resume" => {
            sh.paused.store(false, Ordering::Release);
            r.set_paused(false);
            out.ok();
        }
        b"status" => {
            let mut text = format!(
                "state:{}\r\n",
                if r.paused() { "paused" } else { "running" }
            );
            let now = wall_ms();
            for (id, p) in r.peers() {
                let (ops, ms) = r.lag(e, *id, now);
                text += &format!(
                    "peer{id}:state={},lag_ops={ops},lag_ms={ms}\r\n",
                    p.state.name()
                );
            }
            out.bulk(text.as_bytes());
        }
        _ => out.error(&format!(
            "ERR unknown subcommand '{}'. Try CRDT.SYNC PAUSE|RESUME|STATUS.",
            String::from_utf8_lossy(a[1])
        )),
    }
}
