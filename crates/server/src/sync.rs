//! Replication over TCP: one outbound link per peer (the syncer), and the serving side of
//! links peers open to this instance. The logic is `concord_replication`'s; this module
//! only moves frames, takes the locks (engine first, then replication) and reconnects.

use crate::lock;
use crate::{Shared, wall_ms};
use bytes::{Buf, BytesMut};
use concord_crdt::ReplicaId;
use concord_replication::{Msg, PROTO_MIN, Serve};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Bytes of ops per batch a served link sends before looking at its socket again.
const BATCH_BYTES: usize = 256 * 1024;

/// How often a link reports, heartbeats and checks whether to pull again.
const PERIOD: Duration = Duration::from_millis(100);

/// A peer to link to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerAddr {
    /// Its replica id.
    pub id: ReplicaId,
    /// Where its client port listens (`host:port`; its TLS port with `tls-replication`).
    pub addr: String,
    /// The name its certificate is checked against over TLS (default: the host).
    pub sni: Option<String>,
}

impl PeerAddr {
    /// The host part of the address.
    pub fn host(&self) -> &str {
        let (h, _) = self.addr.rsplit_once(':').unwrap_or((&self.addr, ""));
        h.trim_start_matches('[').trim_end_matches(']')
    }
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.id, self.addr)?;
        if let Some(sni) = &self.sni {
            write!(f, ",sni={sni}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for PeerAddr {
    type Err = String;

    /// Parses `ID=HOST:PORT[,sni=NAME]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (main, sni) = match s.split_once(',') {
            None => (s, None),
            Some((m, opt)) => match opt.trim().strip_prefix("sni=") {
                Some(name) if !name.is_empty() => (m, Some(name.to_string())),
                _ => return Err(format!("peer '{s}': unknown option '{opt}' (sni=NAME)")),
            },
        };
        let (id, addr) = main
            .split_once('=')
            .ok_or_else(|| format!("peer '{s}' is not ID=HOST:PORT"))?;
        let id =
            replica_id(id).ok_or_else(|| format!("peer '{s}': replica id must be 1..65535"))?;
        let addr = addr.trim();
        let port_ok = addr
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok {
            return Err(format!("peer '{s}': address must be HOST:PORT"));
        }
        Ok(PeerAddr {
            id,
            addr: addr.to_string(),
            sni,
        })
    }
}

/// A replica id from its text: 1..65535.
pub(crate) fn replica_id(text: &str) -> Option<ReplicaId> {
    text.trim().parse().ok().filter(|&i| i > 0)
}

/// A member removed from the database and its cut: its ops are accepted only up to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedMember {
    /// Its replica id (never a member again).
    pub id: ReplicaId,
    /// How far its ops are accepted (its origins only).
    pub cut: concord_crdt::VersionVector,
}

impl std::fmt::Display for RemovedMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.id, self.cut)
    }
}

impl std::str::FromStr for RemovedMember {
    type Err = String;

    /// Parses `ID[:CUT]`, the cut as `crdt_vv` shows vectors (`3.1=120,3.2=5`).
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, cut) = s.split_once(':').unwrap_or((s, ""));
        let id = replica_id(id)
            .ok_or_else(|| format!("removed peer '{s}': replica id must be 1..65535"))?;
        let cut: concord_crdt::VersionVector = cut
            .parse()
            .map_err(|e| format!("removed peer '{s}': {e}"))?;
        if cut.iter().any(|(o, _)| o.id != id) {
            return Err(format!(
                "removed peer '{s}': the cut names another replica's ops"
            ));
        }
        Ok(RemovedMember { id, cut })
    }
}

/// Decodes every complete frame of a link at protocol `version` at the front of `buf`.
fn take_frames(buf: &mut BytesMut, version: u16) -> Result<Vec<Msg>, String> {
    let mut out = Vec::new();
    loop {
        match Msg::decode(buf, version) {
            Ok(Some((m, used))) => {
                buf.advance(used);
                out.push(m);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The links this instance serves, one per peer: a new link from a peer replaces the
/// one it had (which a dead connection may still hold).
#[derive(Default)]
pub(crate) struct Served {
    links: HashMap<ReplicaId, (u64, Arc<Notify>)>,
    next: u64,
}

impl Served {
    /// Whether a link from `peer` is being served.
    pub(crate) fn serves(&self, peer: ReplicaId) -> bool {
        self.links.contains_key(&peer)
    }

    /// Ends the link served to `peer`, if there is one (the peer was removed).
    pub(crate) fn end(&mut self, peer: ReplicaId) {
        if let Some((_, done)) = self.links.remove(&peer) {
            done.notify_one();
        }
    }
}

/// Starts (or restarts, at a new address) the outbound link to `peer`.
pub(crate) fn start_link(sh: &Shared, peer: PeerAddr) {
    let Some(owned) = sh.me.upgrade() else {
        return;
    };
    let id = peer.id;
    let task = tokio::spawn(outbound(owned, peer)).abort_handle();
    if let Some(old) = lock(&sh.link_tasks).insert(id, task) {
        old.abort();
    }
}

/// Stops the links to and from `peer`, which is no longer a member.
pub(crate) fn stop_links(sh: &Shared, peer: ReplicaId) {
    if let Some(t) = lock(&sh.link_tasks).remove(&peer) {
        t.abort();
    }
    lock(&sh.served).end(peer);
}

/// A served link's place in [`Served`]; leaving it (however the task ends) frees the
/// place unless a newer link took it.
struct ServedGuard<'a> {
    sh: &'a Shared,
    peer: ReplicaId,
    ticket: u64,
    replaced: Arc<Notify>,
}

impl<'a> ServedGuard<'a> {
    fn enter(sh: &'a Shared, peer: ReplicaId) -> ServedGuard<'a> {
        let replaced = Arc::new(Notify::new());
        let mut s = lock(&sh.served);
        s.next += 1;
        let ticket = s.next;
        if let Some((_, old)) = s.links.insert(peer, (ticket, replaced.clone())) {
            // A stored permit: the old link ends even if it is busy writing just now.
            old.notify_one();
        }
        ServedGuard {
            sh,
            peer,
            ticket,
            replaced,
        }
    }
}

impl Drop for ServedGuard<'_> {
    fn drop(&mut self) {
        let mut s = lock(&self.sh.served);
        if s.links
            .get(&self.peer)
            .is_some_and(|(t, _)| *t == self.ticket)
        {
            s.links.remove(&self.peer);
        }
    }
}

/// Serves a link a peer opened with `CRDT.LINK` (already checked) as `user`: answers its
/// pulls from the backlog or with a snapshot, streams new ops as they are applied,
/// forwards local publishes. Returns when the peer goes away, misbehaves, replication is
/// paused, a newer link from the same peer replaces it, or `user` loses the right to link.
pub(crate) async fn serve_link<R, W>(
    sh: Arc<Shared>,
    mut rd: R,
    mut wr: W,
    mut buf: BytesMut,
    peer: ReplicaId,
    version: u16,
    user: Vec<u8>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let compress = sh.cfg.repl_compression;
    let mut link = Serve::new(peer, version);
    let mut publishes = sh.publishes.subscribe();
    let mut frame = Vec::new();
    let epoch = sh.pause_epoch.load(Ordering::Acquire);
    let mut acl_epoch = sh.acl_epoch.load(Ordering::Acquire);
    let mut watch = crate::limits::SoftWatch::default();
    let guard = ServedGuard::enter(&sh, peer);
    tracing::info!("peer {peer} linked (serving, protocol {version})");
    // The peer reaches this instance again: the link the other way likely works too.
    sh.peer_arrived.notify_waiters();
    let why = 'outer: loop {
        if sh.pause_epoch.load(Ordering::Acquire) != epoch {
            break "replication paused".to_string();
        }
        let now = sh.acl_epoch.load(Ordering::Acquire);
        if now != acl_epoch {
            // Users changed (ACL SETUSER, DELUSER, LOAD): the link's user must still hold
            // the right to link.
            acl_epoch = now;
            let refusal = match sh.user(&user) {
                Some(u) => crate::access::link_refusal(&u),
                None => Some(format!(
                    "user '{}' was deleted",
                    String::from_utf8_lossy(&user)
                )),
            };
            if let Some(why) = refusal {
                break why;
            }
        }
        let notified = sh.log_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Requests that already arrived.
        match take_frames(&mut buf, version) {
            Ok(reqs) => {
                if !reqs.is_empty() {
                    let mut r = lock(&sh.repl);
                    for m in reqs {
                        if let Err(e) = r.serve_request(&mut link, m) {
                            tracing::warn!("peer {peer}: dropping link: {e}");
                            break 'outer "bad request".to_string();
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!("peer {peer}: dropping link: {e}");
                break "bad frame".to_string();
            }
        }
        let msgs = {
            let _turn = sh.script.task_turn().await;
            let mut e = lock(&sh.engine);
            let mut r = lock(&sh.repl);
            // PAUSE bumps the epoch under this lock: once it has replied, nothing more is
            // served.
            if sh.pause_epoch.load(Ordering::Acquire) != epoch {
                break "replication paused".to_string();
            }
            // A link accepted just before its peer was removed ends here.
            if !r.peers().contains_key(&peer) {
                break "the peer was removed from the database".to_string();
            }
            r.serve(&mut e, &mut link, BATCH_BYTES, wall_ms())
        };
        if !msgs.is_empty() {
            frame.clear();
            for m in &msgs {
                m.encode(version, compress, &mut frame);
            }
            let limit = sh.hot().output_limits.replica.stalled();
            if crate::output::flush(&mut wr, &frame, &limit, &mut watch)
                .await
                .is_err()
            {
                break "write failed or stalled past the replica output limit".to_string();
            }
            lock(&sh.repl).count_bytes(peer, 0, frame.len() as u64);
            if frame.capacity() > 4 << 20 {
                frame = Vec::new();
            }
            // A link with more to send at once (a full sync) would keep this thread to
            // itself: the other tasks on it get their turn.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = &mut notified => {}
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => break "peer closed the link".to_string(),
                Ok(n) => lock(&sh.repl).count_bytes(peer, n as u64, 0),
            },
            p = publishes.recv() => match p {
                Ok((channel, message)) => {
                    frame.clear();
                    Msg::Publish { channel, message }.encode(version, compress, &mut frame);
                    let limit = sh.hot().output_limits.replica.stalled();
                    if crate::output::flush(&mut wr, &frame, &limit, &mut watch)
                        .await
                        .is_err()
                    {
                        break "write failed or stalled past the replica output limit".to_string();
                    }
                }
                // Best effort: a slow link skips publishes rather than holding them.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break "shutting down".to_string(),
            },
            _ = guard.replaced.notified() => break "replaced by a newer link from the same peer".to_string(),
            _ = tokio::time::sleep(PERIOD) => {}
        }
    };
    // A snapshot stream this link started must not go on saving keys for nobody.
    if link.streams().next().is_some() {
        let _turn = sh.script.task_turn().await;
        let mut e = lock(&sh.engine);
        for id in link.streams() {
            e.stream_cancel(id);
        }
    }
    tracing::info!("peer {peer} unlinked (serving): {why}");
}

/// The wait after the first failed attempt; it doubles with each failure after it.
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// The longest wait before the random part is added.
const RETRY_BASE_MAX: Duration = Duration::from_millis(800);
/// How long a link must have worked for its end to start the waits over.
const LINK_LASTED: Duration = Duration::from_secs(1);

/// The wait before the next attempt: `backoff` plus up to a quarter of it at random, so
/// that instances cut off together do not retry in step. At most one second.
fn retry_wait(backoff: Duration) -> Duration {
    let quarter = u64::try_from(backoff.as_millis() / 4).unwrap_or(0);
    backoff + Duration::from_millis(rand::random_range(0..=quarter))
}

/// A peer's next attempt noted for INFO while the wait lasts (also when the link's task
/// is stopped during it: the peer was removed).
/// The entry carries a ticket: a link task that replaced this one (its peer's address
/// changed) may have noted its own attempt already, and that one stays.
struct Due<'a>(&'a Shared, ReplicaId, u64);

impl<'a> Due<'a> {
    fn note(sh: &'a Shared, peer: ReplicaId, at_ms: u64) -> Due<'a> {
        static TICKETS: AtomicU64 = AtomicU64::new(0);
        let ticket = TICKETS.fetch_add(1, Ordering::Relaxed);
        lock(&sh.next_attempt).insert(peer, (at_ms, ticket));
        Due(sh, peer, ticket)
    }
}

impl Drop for Due<'_> {
    fn drop(&mut self) {
        let mut due = lock(&self.0.next_attempt);
        if due.get(&self.1).is_some_and(|&(_, t)| t == self.2) {
            due.remove(&self.1);
        }
    }
}

/// Keeps the outbound link to one peer up: connect, handshake, pull, apply what arrives;
/// on failure, wait ([`retry_wait`]: 50 ms doubling to about 1 s) and try again, or at
/// once when something says the link can work again ([`Shared::link_wake`]). Runs until
/// shutdown.
pub(crate) async fn outbound(sh: Arc<Shared>, peer: crate::sync::PeerAddr) {
    let mut backoff = RETRY_FIRST;
    let mut last_error = String::new();
    let mut ask = sh.cfg.peer_protocol;
    loop {
        // Armed before the attempt, so a wake while it runs cuts the wait after it short.
        let woken = sh.link_wake.notified();
        let mut woken = std::pin::pin!(woken);
        woken.as_mut().enable();
        let arrived = sh.peer_arrived.notified();
        let mut arrived = std::pin::pin!(arrived);
        arrived.as_mut().enable();
        if sh.paused.load(Ordering::Acquire) {
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(PERIOD) => {}
            }
            continue;
        }
        let began = tokio::time::Instant::now();
        let mut attempt = Attempt {
            linked: false,
            ask,
            older: None,
        };
        let result = link_once(&sh, &peer, &mut attempt).await;
        let linked = attempt.linked;
        if let Some(older) = attempt.older {
            // The peer runs an older release (a rolling upgrade): ask for the version it
            // speaks, at once. Not a failure: the peer was reached and is not marked
            // unreachable (which would let a restarted instance take writes before it
            // caught up with it). Versions only go down, so this ends.
            assert!(older >= PROTO_MIN && older < ask);
            ask = older;
            continue;
        }
        {
            let mut r = lock(&sh.repl);
            r.link_down(peer.id);
            if let Err(e) = &result {
                r.link_failed(peer.id, e);
            }
        }
        // A link that ended may come back at a newer version (the peer was upgraded).
        ask = sh.cfg.peer_protocol;
        if linked && began.elapsed() >= LINK_LASTED {
            // A link that worked for a while and ended starts the waits over; one that
            // fails soon after each handshake keeps backing off.
            backoff = RETRY_FIRST;
        }
        match result {
            Ok(()) => {
                // Ended by CRDT.SYNC PAUSE, not a failure: no wait; the loop waits for
                // RESUME (or links at once if it came already).
                last_error.clear();
                backoff = RETRY_FIRST;
                continue;
            }
            Err(e) => {
                // Log a failure once, not on every retry.
                if e != last_error {
                    tracing::warn!("link to peer {} at {}: {e}", peer.id, peer.addr);
                    last_error = e;
                }
            }
        }
        let wait = retry_wait(backoff);
        let due = sh
            .uptime_ms()
            .saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        let _due = Due::note(&sh, peer.id, due);
        if linked {
            // The peer was reached: its own link arriving (likely made in answer to this
            // one) must not skip the wait, or two instances whose links fail after the
            // handshake would relink each other without pause. RESUME still does.
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(wait) => {}
            }
        } else {
            tokio::select! {
                _ = woken => {}
                _ = arrived => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        backoff = (backoff * 2).min(RETRY_BASE_MAX);
    }
}

async fn read_line<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> Result<String, String> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).to_string();
            buf.advance(i + 2);
            return Ok(line);
        }
        if buf.len() > 64 * 1024 {
            return Err("handshake reply too long".into());
        }
        match rd.read_buf(buf).await {
            Ok(0) => return Err("peer closed the connection during the handshake".into()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One outbound connection attempt: what it asks for and what came of it.
struct Attempt {
    /// The handshake passed.
    linked: bool,
    /// The protocol version asked for: the newest this instance speaks, or an older one
    /// the peer said it speaks.
    ask: u16,
    /// The peer refused `ask` and speaks this older version.
    older: Option<u16>,
}

/// One connection's life: returns Ok when it ended for a normal reason (pause, shutdown).
async fn link_once(sh: &Arc<Shared>, peer: &PeerAddr, attempt: &mut Attempt) -> Result<(), String> {
    let sock = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(&peer.addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect failed: {e}"))?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let Some(tls) = sh.tls.connector() else {
        let (rd, wr) = sock.into_split();
        return run_link(sh, peer, rd, wr, attempt).await;
    };
    let name = peer.sni.clone().unwrap_or_else(|| peer.host().to_string());
    let server_name = rustls_pki_types::ServerName::try_from(name.clone())
        .map_err(|e| format!("TLS name '{name}': {e}"))?;
    let stream = tokio::time::timeout(Duration::from_secs(5), tls.connect(server_name, sock))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let (rd, wr) = tokio::io::split(stream);
    run_link(sh, peer, rd, wr, attempt).await
}

/// Handshake, pull and apply over an open connection to a peer.
async fn run_link<R, W>(
    sh: &Arc<Shared>,
    peer: &PeerAddr,
    mut rd: R,
    mut wr: W,
    attempt: &mut Attempt,
) -> Result<(), String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let me = sh.cfg.replica_id.to_string();
    let to = peer.id.to_string();
    let proto = attempt.ask.to_string();
    let mut hello = Vec::new();
    // The peer password, or else this instance's own password (which may have changed).
    let password = sh.cfg.peer_password.clone().or_else(|| {
        sh.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .requirepass
            .clone()
    });
    if let Some(pw) = &password {
        hello.extend(command(&[
            b"AUTH",
            sh.cfg.peer_user.as_bytes(),
            pw.as_bytes(),
        ]));
    }
    hello.extend(command(&[
        b"CRDT.LINK",
        proto.as_bytes(),
        sh.cfg.db_name.as_bytes(),
        me.as_bytes(),
        to.as_bytes(),
    ]));
    let handshake = async {
        wr.write_all(&hello).await.map_err(|e| e.to_string())?;
        wr.flush().await.map_err(|e| e.to_string())?;
        if password.is_some() {
            let l = read_line(&mut rd, &mut buf).await?;
            if !l.starts_with('+') {
                return Err(format!(
                    "authentication refused: {}",
                    l.trim_start_matches('-')
                ));
            }
        }
        let l = read_line(&mut rd, &mut buf).await?;
        agreed(&l, attempt)
    };
    let version = tokio::time::timeout(Duration::from_secs(5), handshake)
        .await
        .map_err(|_| "handshake timed out".to_string())??;
    attempt.linked = true;
    let compress = sh.cfg.repl_compression;
    let mut frame = Vec::new();
    let (mut pulled_epoch, pull) = {
        let _turn = sh.script.task_turn().await;
        let e = lock(&sh.engine);
        let mut r = lock(&sh.repl);
        (r.epoch(), r.pull(&e, peer.id, version))
    };
    pull.encode(version, compress, &mut frame);
    wr.write_all(&frame).await.map_err(|e| e.to_string())?;
    wr.flush().await.map_err(|e| e.to_string())?;
    tracing::info!(
        "linked to peer {} at {} (protocol {version})",
        peer.id,
        peer.addr
    );
    let pause_epoch = sh.pause_epoch.load(Ordering::Acquire);
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = rd.read_buf(&mut buf) => {
                let n = match r {
                    Ok(0) => return Err("peer closed the link".into()),
                    Ok(n) => n,
                    Err(e) => return Err(e.to_string()),
                };
                // Decoding (snapshot chunks included) happens outside the locks.
                let msgs = take_frames(&mut buf, version).map_err(|e| format!("dropping link: {e}"))?;
                if msgs.is_empty() {
                    lock(&sh.repl).count_bytes(peer.id, n as u64, 0);
                    continue;
                }
                let mut publishes = Vec::new();
                {
                    let _turn = sh.script.task_turn().await;
                    let mut e = lock(&sh.engine);
                    let mut r = lock(&sh.repl);
                    // PAUSE bumps the epoch under this lock: once it has replied, nothing
                    // more is applied (what is in flight is pulled again after RESUME).
                    if sh.pause_epoch.load(Ordering::Acquire) != pause_epoch {
                        return Ok(());
                    }
                    r.count_bytes(peer.id, n as u64, 0);
                    let now = wall_ms();
                    e.set_time(now);
                    let before = e.log().appended();
                    let mut failed = None;
                    for m in msgs {
                        match r.receive(&mut e, peer.id, m, now) {
                            Ok(got) => publishes.extend(got.publish),
                            Err(err) => {
                                failed = Some(format!("dropping link: {err}"));
                                break;
                            }
                        }
                    }
                    drop(r);
                    // What was applied before a bad message stays: a push from a peer wakes
                    // the clients blocked on its key, and a merge adopted goes on.
                    crate::effects::after_write(sh, &mut e, before);
                    if e.merging() {
                        drive_merge(sh);
                    }
                    if let Some(why) = failed {
                        return Err(why);
                    }
                }
                if !publishes.is_empty() {
                    let mut ps = lock(&sh.pubsub);
                    for (c, m) in publishes {
                        ps.publish(&bytes::Bytes::from(c.to_vec()), &bytes::Bytes::from(m.to_vec()));
                    }
                }
                // A link that always has bytes waiting would keep this thread to itself
                // (a full sync): the other tasks on it get their turn.
                tokio::task::yield_now().await;
            }
            _ = tick.tick() => {
                if sh.pause_epoch.load(Ordering::Acquire) != pause_epoch {
                    return Ok(());
                }
                frame.clear();
                {
                    let _turn = sh.script.task_turn().await;
                    let e = lock(&sh.engine);
                    let mut r = lock(&sh.repl);
                    if r.needs_pull(peer.id, pulled_epoch) {
                        pulled_epoch = r.epoch();
                        r.repull(&e, peer.id).encode(version, compress, &mut frame);
                    }
                    r.report(&e).encode(version, compress, &mut frame);
                }
                wr.write_all(&frame).await.map_err(|e| e.to_string())?;
                // TLS keeps records until flushed.
                wr.flush().await.map_err(|e| e.to_string())?;
                lock(&sh.repl).count_bytes(peer.id, 0, frame.len() as u64);
            }
        }
    }
}

/// The link's protocol version from the peer's answer to CRDT.LINK: `+OK` is the version
/// asked for, `+OK <v>` an older one the peer chose. A refusal naming an older version the
/// peer speaks (an instance of an earlier release) sets `attempt.older`.
fn agreed(reply: &str, attempt: &mut Attempt) -> Result<u16, String> {
    if let Some(err) = reply.strip_prefix('-') {
        // "... not supported (this instance speaks 1)" or "(... speaks 1 to 2)".
        let speaks = err
            .rsplit_once("speaks ")
            .and_then(|(_, v)| v.trim_end_matches(')').rsplit(' ').next())
            .and_then(|v| v.parse::<u16>().ok());
        if err.contains("protocol version")
            && let Some(v) = speaks.filter(|v| (PROTO_MIN..attempt.ask).contains(v))
        {
            attempt.older = Some(v);
        }
        return Err(format!("link refused: {err}"));
    }
    match reply.strip_prefix("+OK") {
        Some("") => Ok(attempt.ask),
        Some(v) => match v.trim().parse::<u16>() {
            Ok(v) if (PROTO_MIN..=attempt.ask).contains(&v) => Ok(v),
            _ => Err(format!(
                "the peer chose protocol version '{}', asked for {}",
                v.trim(),
                attempt.ask
            )),
        },
        None => Err(format!("unexpected answer to CRDT.LINK: {reply}")),
    }
}

/// Replication upkeep, ten times a second: relay decisions and stability compaction.
pub(crate) async fn upkeep(sh: Arc<Shared>) {
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tick.tick().await;
        {
            // A script may hold the engine: wait for the turn, not on the lock.
            let _turn = sh.script.task_turn().await;
            let mut e = lock(&sh.engine);
            let now = wall_ms();
            e.set_time(now);
            let before = e.log().appended();
            lock(&sh.repl).tick(&e, now);
            crate::effects::after_write(&sh, &mut e, before);
        }
        // Stability compaction, in slices: after a burst of writes it has many keys to
        // fold, and one long pass would stall every client.
        in_slices(&sh, COMPACT_SLICES, |sh, e| {
            lock(&sh.repl).compact(e, COMPACT_STEP_KEYS)
        })
        .await;
    }
}

/// Keys a merge step looks at between checks of the time a slice took.
const MERGE_STEP_KEYS: usize = 256;
/// Keys a stability compaction step looks at between checks of the time.
const COMPACT_STEP_KEYS: usize = 1024;
/// Slices of stability compaction per upkeep period at most (about a quarter of it).
const COMPACT_SLICES: usize = 8;
/// How long one slice of background work holds the engine.
const SLICE: Duration = Duration::from_millis(3);
/// The pause between slices: clients waiting for the engine get it (a lock released and
/// taken again at once would keep it from them).
const SLICE_PAUSE: Duration = Duration::from_millis(1);

/// Runs background work on the engine in slices of about [`SLICE`] with [`SLICE_PAUSE`]
/// between them, so clients are served meanwhile: `step` does a little of it and says
/// whether more is left. Stops after `max_slices`; returns whether work is left.
async fn in_slices(
    sh: &Arc<Shared>,
    max_slices: usize,
    mut step: impl FnMut(&Shared, &mut concord_engine::Engine) -> bool,
) -> bool {
    for n in 1..=max_slices {
        let (more, garbage) = {
            // A script may hold the engine: wait for the turn, not on the lock.
            let _turn = sh.script.task_turn().await;
            let mut e = lock(&sh.engine);
            let start = std::time::Instant::now();
            let before = e.log().appended();
            let mut more = true;
            while more && start.elapsed() < SLICE {
                more = step(sh, &mut e);
            }
            crate::effects::after_write(sh, &mut e, before);
            (more, e.take_merged())
        };
        // A finished merge's staging is freed here, not under the lock.
        drop(garbage);
        if !more {
            return false;
        }
        if n < max_slices {
            tokio::time::sleep(SLICE_PAUSE).await;
        }
    }
    true
}

/// Starts the task that carries out a full sync's merge, unless one runs.
pub(crate) fn drive_merge(sh: &Arc<Shared>) {
    if !sh.merge_driven.swap(true, Ordering::AcqRel) {
        tokio::spawn(merge_slices(Arc::clone(sh)));
    }
}

/// Carries the merge a full sync adopted out in slices, so the instance keeps serving
/// while it runs.
async fn merge_slices(sh: Arc<Shared>) {
    loop {
        // Merged keys wake their blocked clients and WATCHers (the slices' after-write).
        in_slices(&sh, usize::MAX, |_, e| e.merge_step(MERGE_STEP_KEYS)).await;
        sh.merge_driven.store(false, Ordering::Release);
        // A merge adopted after the last slice, while this task still held the flag.
        let again = {
            let _turn = sh.script.task_turn().await;
            lock(&sh.engine).merging()
        };
        if !again || sh.merge_driven.swap(true, Ordering::AcqRel) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Attempt, agreed};

    fn asking(ask: u16) -> Attempt {
        Attempt {
            linked: false,
            ask,
            older: None,
        }
    }

    #[test]
    fn the_answer_to_crdt_link_sets_the_links_version() {
        let mut a = asking(2);
        assert_eq!(agreed("+OK", &mut a), Ok(2));
        assert_eq!(agreed("+OK 1", &mut a), Ok(1));
        assert!(agreed("+OK 3", &mut a).is_err(), "newer than asked");
        assert!(agreed("+OK 0", &mut a).is_err(), "older than any spoken");
        assert!(agreed("+PONG", &mut a).is_err());
        assert_eq!(a.older, None);
    }

    /// The release before negotiation refuses any version but its own, naming it: the
    /// dialer asks again for that one.
    #[test]
    fn a_refusal_naming_an_older_version_asks_again_with_it() {
        let mut a = asking(2);
        let old = "-ERR link refused: protocol version 2 not supported (this instance speaks 1)";
        assert!(agreed(old, &mut a).is_err());
        assert_eq!(a.older, Some(1));
        let mut a = asking(2);
        let new =
            "-ERR link refused: protocol version 0 not supported (this instance speaks 1 to 2)";
        assert!(agreed(new, &mut a).is_err());
        assert_eq!(a.older, None, "not older than asked");
        let mut a = asking(1);
        assert!(agreed(old, &mut a).is_err());
        assert_eq!(a.older, None, "versions only go down");
        let mut a = asking(2);
        assert!(agreed("-ERR link refused: wrong database (speaks 1)", &mut a).is_err());
        assert_eq!(a.older, None, "not a version refusal");
    }
}
