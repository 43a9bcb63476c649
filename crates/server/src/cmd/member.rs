//! Membership and admin flush, driven by the cluster manager (docs/REPLICATION.md,
//! "Membership"):
//!
//! - `CRDT.MEMBER LIST`: this instance, its peers and the removed members with their cuts.
//! - `CRDT.MEMBER ADD id host:port [sni]`: a new member (links to and from it start).
//! - `CRDT.MEMBER REMOVE id [cut]`: fences a member (or raises its cut); replies the cut.
//! - `CRDT.MEMBER LEAVE` / `STAY`: this instance is being removed: it refuses client
//!   writes and answers its vector, which the others must hold before the fence (or it
//!   takes writes again).
//! - `CRDT.WRITES HOLD ms` / `RELEASE`: client writes wait (an admin flush runs); the hold
//!   lapses by itself, so a coordinator that dies never leaves writes held.
//! - `CRDT.FLUSH`: FLUSHALL while writes are held; replies the vector that includes it.
//!
//! Changes are not saved by the instance: whoever changes membership also starts the
//! instance with the new `peer` and `removed-peer` settings (the manager does both).

use crate::Shared;
use crate::lock;
use crate::session::Session;
use crate::sync::{PeerAddr, start_link, stop_links};
use concord_crdt::{ReplicaId, VersionVector};
use concord_engine::Engine;
use concord_resp::Out;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// The longest a single CRDT.WRITES HOLD lasts (a coordinator renews it while it works).
const MAX_HOLD_MS: u64 = 60_000;

fn text(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|_| "ERR arguments must be UTF-8 text".to_string())
}

fn replica_id(b: &[u8]) -> Result<ReplicaId, String> {
    crate::sync::replica_id(text(b)?).ok_or_else(|| "ERR replica id must be 1..65535".to_string())
}

/// CRDT.MEMBER LIST|ADD|REMOVE|LEAVE|STAY.
pub(crate) fn member(_: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let sub = a[1].to_ascii_lowercase();
    let done = match (sub.as_slice(), a.len()) {
        (b"list", 2) => Ok(list(sh, e)),
        (b"add", 4 | 5) => add(sh, e, a),
        (b"remove", 3 | 4) => remove(sh, e, a),
        (b"leave", 2) => {
            sh.leaving.store(true, Ordering::Release);
            // All it holds, not only its own ops: another origin's ops that reached only
            // this instance (that origin crashed, say) must reach the others too.
            Ok(e.vv().to_string())
        }
        (b"stay", 2) => {
            sh.leaving.store(false, Ordering::Release);
            Ok(String::new())
        }
        _ => Err(crate::dispatch::help_err(a[1], "CRDT.MEMBER")),
    };
    match done {
        Ok(reply) => out.bulk(reply.as_bytes()),
        Err(why) => out.error(&why),
    }
}

/// One line per member and removed member, then this instance's vector.
fn list(sh: &Shared, e: &Engine) -> String {
    let mut s = format!("me:{}\r\n", e.origin().id);
    for p in lock(&sh.peer_addrs).values() {
        let _ = write!(s, "peer:{p}\r\n");
    }
    for (id, cut) in lock(&sh.repl).removed() {
        let _ = write!(s, "removed:{id}:{cut}\r\n");
    }
    let _ = write!(s, "vv:{}\r\nwrites:{}\r\n", e.vv(), writes_state(sh));
    s
}

fn add(sh: &Shared, e: &mut Engine, a: &[&[u8]]) -> Result<String, String> {
    let id = replica_id(a[2])?;
    let mut spec = format!("{id}={}", text(a[3])?);
    if let Some(sni) = a.get(4) {
        let _ = write!(spec, ",sni={}", text(sni)?);
    }
    let peer: PeerAddr = spec.parse().map_err(|e| format!("ERR {e}"))?;
    let added = lock(&sh.repl)
        .add_member(id)
        .map_err(|e| format!("ERR {e}"))?;
    let moved = lock(&sh.peer_addrs).insert(id, peer.clone()).as_ref() != Some(&peer);
    if added {
        let n = sh.peer_count.fetch_add(1, Ordering::AcqRel) + 1;
        e.set_peers(n);
        if e.log().budget() == 0 {
            // A lone instance keeps no backlog; a member from now on needs one.
            e.set_backlog_budget(usize::try_from(sh.cfg.backlog_bytes.0).unwrap_or(usize::MAX));
        }
    }
    if added || moved {
        start_link(sh, peer);
    }
    Ok(if added { "added" } else { "unchanged" }.to_string())
}

fn remove(sh: &Shared, e: &mut Engine, a: &[&[u8]]) -> Result<String, String> {
    let id = replica_id(a[2])?;
    let raise: VersionVector = match a.get(3) {
        Some(c) => text(c)?.parse().map_err(|e| format!("ERR {e}"))?,
        None => VersionVector::new(),
    };
    let was_member = lock(&sh.peer_addrs).remove(&id).is_some();
    let cut = lock(&sh.repl)
        .remove_member(e, id, &raise)
        .map_err(|e| format!("ERR {e}"))?;
    if was_member {
        stop_links(sh, id);
        let n = sh.peer_count.fetch_sub(1, Ordering::AcqRel) - 1;
        e.set_peers(n);
    }
    Ok(cut.to_string())
}

/// `open`, `held` (an admin flush runs) or `leaving` (this instance is being removed).
pub(crate) fn writes_state(sh: &Shared) -> &'static str {
    if sh.leaving.load(Ordering::Acquire) {
        "leaving"
    } else if writes_held(sh) {
        "held"
    } else {
        "open"
    }
}

/// Whether client writes are held now.
pub(crate) fn writes_held(sh: &Shared) -> bool {
    let until = sh.hold_until.load(Ordering::Acquire);
    until != 0 && sh.uptime_ms() < until
}

/// The refusal of a client write on this instance now, if any. Checked under the engine
/// lock, so no write is acknowledged after LEAVE answered: the vector LEAVE replies is all
/// the others must receive before the fence.
pub(crate) fn write_refusal(sh: &Shared) -> Option<&'static str> {
    sh.leaving
        .load(Ordering::Acquire)
        .then_some("READONLY this instance is being removed from its database")
}

/// Waits (until the hold lapses at most) while client writes are held. Only a gate before
/// a batch: a write that passed it just before HOLD answered is simply a write made right
/// after the flush began (it survives the flush, everywhere alike).
pub(crate) async fn wait_writes_open(sh: &Shared) {
    while writes_held(sh) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// CRDT.WRITES HOLD ms|RELEASE.
pub(crate) fn writes(_: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    match (a[1].to_ascii_lowercase().as_slice(), a.len()) {
        (b"hold", 3) => {
            let ms = text(a[2])
                .ok()
                .and_then(|t| t.parse::<u64>().ok())
                .filter(|ms| (1..=MAX_HOLD_MS).contains(ms));
            let Some(ms) = ms else {
                return out.error(&format!("ERR hold is 1 to {MAX_HOLD_MS} ms"));
            };
            sh.hold_until.store(sh.uptime_ms() + ms, Ordering::Release);
            // Under the engine lock: every write that started before is in the vector.
            out.bulk(e.vv().to_string().as_bytes());
        }
        (b"release", 2) => {
            sh.hold_until.store(0, Ordering::Release);
            out.ok();
        }
        _ => out.error(&crate::dispatch::help_err(a[1], "CRDT.WRITES")),
    }
}

/// CRDT.FLUSH: an observed-remove of everything, issued while writes are held.
pub(crate) fn flush(_: &mut Session, sh: &Shared, e: &mut Engine, _: &[&[u8]], out: &mut Out) {
    if !writes_held(sh) {
        return out.error("ERR CRDT.FLUSH needs writes held (CRDT.WRITES HOLD) on every instance");
    }
    let mut scratch = Out::new();
    e.execute(&[b"FLUSHALL"], &mut scratch);
    // The group is committed here, so the vector includes the flush.
    e.commit();
    out.bulk(e.vv().to_string().as_bytes());
}
