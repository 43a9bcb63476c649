//! CRDT.LINK (a peer turns its connection into a replication link) and CRDT.SYNC (pause,
//! resume and inspect replication on this instance).

use crate::conn::Security;
use crate::lock;
use crate::session::Session;
use crate::{Shared, wall_ms};
use concord_crdt::ReplicaId;
use concord_engine::Engine;
use concord_resp::Out;
use rustls::client::verify_server_name;
use rustls::server::ParsedCertificate;
use rustls_pki_types::ServerName;
use std::sync::atomic::Ordering;

/// CRDT.LINK proto db from to: `proto` is the newest protocol version the dialer speaks.
/// The reply is `OK` when the link runs at that version, `OK <version>` when it runs at an
/// older one this instance speaks (during a rolling upgrade).
pub(crate) fn link(s: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    if sh.paused.load(Ordering::Acquire) {
        return out.error("ERR replication is paused on this instance");
    }
    let checked = proven(s).and_then(|()| {
        let (peer, version) = lock(&sh.repl).check_hello(a[1], a[2], a[3], a[4])?;
        names(s, sh, peer)?;
        match crate::access::link_refusal(&s.user) {
            Some(why) => Err(why),
            None => Ok((peer, version)),
        }
    });
    match checked {
        Ok((peer, version)) => {
            if a[1] == version.to_string().as_bytes() {
                out.ok();
            } else {
                out.simple(&format!("OK {version}"));
            }
            s.link = Some((peer, version));
        }
        Err(why) => {
            tracing::warn!("refused a peer link from {}: {why}", s.addr);
            out.error(&format!("ERR link refused: {why}"));
            s.closing = true;
        }
    }
}

/// Whether the connection may become a peer link: it proved who it is with a client
/// certificate the CA signed, or with a password; or it comes from this machine.
fn proven(s: &Session) -> Result<(), String> {
    if matches!(s.security, Security::TlsCertified(_))
        || s.password_proven
        || s.addr.ip().is_loopback()
    {
        return Ok(());
    }
    Err("a peer on another host must authenticate with a password (peer-password and a user allowed to run CRDT.LINK) or a TLS client certificate".into())
}

/// A client certificate, when one was shown, must name the peer claimed: the name this
/// instance checks that peer's server certificate against (its `sni`, else its host).
/// Every peer's certificate comes from the same CA, so without this one peer could link
/// as another.
fn names(s: &Session, sh: &Shared, peer: ReplicaId) -> Result<(), String> {
    let Security::TlsCertified(cert) = &s.security else {
        return Ok(());
    };
    let addrs = lock(&sh.peer_addrs);
    let Some(addr) = addrs.get(&peer) else {
        return Err(format!("replica id {peer} is not a peer of this instance"));
    };
    let name = addr.sni.clone().unwrap_or_else(|| addr.host().to_string());
    let valid = ServerName::try_from(name.clone())
        .map_err(|e| e.to_string())
        .and_then(|n| {
            let parsed = ParsedCertificate::try_from(cert.as_ref()).map_err(|e| e.to_string())?;
            verify_server_name(&parsed, &n).map_err(|e| e.to_string())
        });
    valid.map_err(|e| format!("the client certificate does not name peer {peer} ('{name}'): {e}"))
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
            drop(r);
            // The outbound links relink now, not at their next poll.
            sh.link_wake.notify_waiters();
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
