//! ROLE and WAIT: Redis's view of replication, over Concord's peers. Every instance
//! takes writes, so each answers as a master whose replicas are its peers; a peer
//! acknowledges this instance's writes in the reports it sends every 100 ms
//! (`Msg::Report`, what it applied).

use crate::Shared;
use crate::pubsub::Msg;
use crate::session::Session;
use bytes::Bytes;
use concord_engine::Engine;
use concord_resp::Out;
use std::time::Duration;

/// How often a waiting WAIT looks at the peers' reports again.
const WAIT_POLL: Duration = Duration::from_millis(5);

/// What CLIENT UNBLOCK asked of a waiting WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unblock {
    /// Nothing yet.
    No,
    /// End it as its timeout would.
    Timeout,
    /// End it with Redis's UNBLOCKED error.
    Error,
}

/// The clients waiting in WAIT, by id, each with what CLIENT UNBLOCK asked.
#[derive(Default)]
pub(crate) struct Waits(std::sync::Mutex<std::collections::HashMap<u64, Unblock>>);

impl Waits {
    /// Asks a waiting client's WAIT to end; whether the client was waiting.
    pub fn unblock(&self, id: u64, error: bool) -> bool {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match w.get_mut(&id) {
            Some(u) if *u == Unblock::No => {
                *u = if error {
                    Unblock::Error
                } else {
                    Unblock::Timeout
                };
                true
            }
            _ => false,
        }
    }

    fn start(&self, id: u64) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Unblock::No);
    }

    fn state(&self, id: u64) -> Unblock {
        let w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        w.get(&id).copied().unwrap_or(Unblock::No)
    }

    fn end(&self, id: u64) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }
}

/// The ops of this instance's own origin applied here (ROLE's offset), and for each
/// peer its address and how many of them it reported applying.
fn acks(sh: &Shared, e: &Engine) -> (u64, Vec<(String, String, u64)>) {
    let me = e.origin();
    let mine = e.vv().get(me);
    let r = sh.repl.lock().unwrap_or_else(|p| p.into_inner());
    let addrs = sh.peer_addrs.lock().unwrap_or_else(|p| p.into_inner());
    let peers = r
        .peers()
        .iter()
        .map(|(id, p)| {
            let (host, port) = addrs.get(id).map_or((String::new(), String::new()), |a| {
                let port = a.addr.rsplit_once(':').map_or("", |(_, p)| p);
                (a.host().to_string(), port.to_string())
            });
            let applied = p.report.as_ref().map_or(0, |vv| vv.get(me));
            (host, port, applied)
        })
        .collect();
    (mine, peers)
}

/// ROLE: `master`, this instance's own ops applied, and each peer as a replica with
/// the ops of this instance it reported applying.
pub(crate) fn role(_: &mut Session, sh: &Shared, e: &mut Engine, _: &[&[u8]], out: &mut Out) {
    if let Some(status) = sh.follow.status() {
        crate::follow::write_role(&status, out);
        return;
    }
    let (offset, peers) = acks(sh, e);
    out.array(3);
    out.bulk(b"master");
    out.int(i64::try_from(offset).unwrap_or(i64::MAX));
    out.array(peers.len());
    for (host, port, applied) in peers {
        out.array(3);
        out.bulk(host.as_bytes());
        out.bulk(port.as_bytes());
        out.bulk(applied.to_string().as_bytes());
    }
}

/// REPLICAOF host port | NO ONE (and SLAVEOF): follows a Redis primary to take its data
/// in, or stops. This instance stays writable and keeps its peers meanwhile.
pub(crate) fn replicaof(_: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    if a[1].eq_ignore_ascii_case(b"no") && a[2].eq_ignore_ascii_case(b"one") {
        sh.follow.stop();
        out.ok();
        return;
    }
    let Some(port) = std::str::from_utf8(a[2])
        .ok()
        .and_then(|p| p.parse::<i64>().ok())
        .and_then(|p| u16::try_from(p).ok())
    else {
        out.error("ERR Invalid master port");
        return;
    };
    let Ok(host) = std::str::from_utf8(a[1]) else {
        out.error("ERR Invalid master host");
        return;
    };
    let Some(me) = sh.me.upgrade() else {
        out.error("ERR the server is shutting down");
        return;
    };
    match sh.follow.start(&me, host.to_string(), port) {
        crate::follow::Started::New => out.ok(),
        crate::follow::Started::Already => out.simple("OK Already connected to specified master"),
    }
}

/// How many peers applied the ops of origin `me` up to `target`.
fn acked(sh: &Shared, me: concord_crdt::Origin, target: u64) -> i64 {
    let r = sh.repl.lock().unwrap_or_else(|p| p.into_inner());
    r.peers()
        .values()
        .filter(|p| p.report.as_ref().is_some_and(|vv| vv.get(me) >= target))
        .count() as i64
}

/// WAIT numreplicas timeout: waits until `numreplicas` peers applied every write this
/// instance made so far (those of this client among them), or `timeout` ms pass (0:
/// no limit); answers how many did. In a transaction it answers at once.
pub(crate) fn wait(s: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let Some(want) = std::str::from_utf8(a[1])
        .ok()
        .and_then(|x| x.parse::<i64>().ok())
    else {
        return out.error("ERR value is not an integer or out of range");
    };
    let Some(timeout) = std::str::from_utf8(a[2])
        .ok()
        .and_then(|x| x.parse::<i64>().ok())
    else {
        return out.error("ERR timeout is not an integer or out of range");
    };
    if timeout < 0 {
        return out.error("ERR timeout is negative");
    }
    let origin = e.origin();
    let target = e.vv().get(origin);
    let (_, peers) = acks(sh, e);
    let now = peers.iter().filter(|(_, _, n)| *n >= target).count() as i64;
    // A transaction or a script cannot wait: it gets the count now, as in Redis.
    if now >= want || s.in_exec || s.multi.is_some() || s.script {
        return out.int(now);
    }
    let Some(me) = sh.me.upgrade() else {
        return out.int(now);
    };
    // Blocked as on a key, with no key: the answer comes through the mailbox, and
    // requests that follow wait behind it.
    s.blocked = Some((Bytes::new(), None));
    let tx = s.mailbox.tx.clone();
    let client = s.id;
    sh.waits.start(client);
    let deadline = (timeout > 0).then(|| {
        tokio::time::Instant::now() + Duration::from_millis(u64::try_from(timeout).unwrap_or(0))
    });
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(WAIT_POLL).await;
            // A client gone stops the wait, even one without a timeout.
            if tx.is_closed() {
                me.waits.end(client);
                return;
            }
            let n = acked(&me, origin, target);
            let asked = me.waits.state(client);
            let timed_out = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
            if n >= want || timed_out || asked != Unblock::No {
                me.waits.end(client);
                let reply = if asked == Unblock::Error {
                    Bytes::from_static(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
                } else {
                    Bytes::from(format!(":{n}\r\n"))
                };
                let _ = tx.send(Msg::Reply(reply, 0)).await;
                return;
            }
        }
    });
}
