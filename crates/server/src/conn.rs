//! One client connection's loop: read, parse every complete request, run the batch under
//! one engine lock (`crate::dispatch`), write all replies at once; deliver pub/sub
//! messages and the replies of blocking commands as they come.

use crate::dispatch::Requests;
use crate::limits::{ClassLimit, ClientClass, SoftWatch};
use crate::pubsub::Msg;
use crate::session::Session;
use crate::{ClientInfo, Shared};
use bytes::{Buf, Bytes, BytesMut};
use concord_resp::{Batch, Limits, Out, RequestParser};
use futures_util::FutureExt;
use smallvec::SmallVec;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The requests of one read, as views of the read buffer.
struct Parsed<'a> {
    batch: &'a Batch,
    buf: &'a [u8],
}

impl Requests for Parsed<'_> {
    fn count(&self) -> usize {
        self.batch.len()
    }

    fn view(&self, i: usize) -> SmallVec<[&[u8]; 8]> {
        self.batch.args(i, self.buf).collect()
    }
}

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// The writing half of a connection, with what its output limits need.
struct Sink<W> {
    wr: W,
    watch: SoftWatch,
    /// The bytes a stalled write still holds, for CLIENT LIST and INFO.
    unsent: Arc<std::sync::atomic::AtomicUsize>,
}

impl<W: AsyncWrite + Unpin> Sink<W> {
    /// Writes what waits in `out` within the limits of the session's class; gives up
    /// when the client is killed meanwhile.
    async fn send(&mut self, sess: &Session, out: &mut Out) -> std::io::Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        let limit = class_limit(sess);
        let mut from = 0;
        if self.watch.within(&limit, out.len()) {
            match crate::output::write_now(&mut self.wr, &out.buf).await? {
                crate::output::Sent::All => {
                    out.buf.clear();
                    return Ok(());
                }
                crate::output::Sent::Part(n) => from = n,
            }
        }
        self.unsent.store(out.len() - from, Ordering::Relaxed);
        let sent = tokio::select! {
            r = crate::output::flush(&mut self.wr, &out.buf[from..], &limit, &mut self.watch) => r,
            _ = sess.mailbox.kill.wait() => Err(std::io::Error::other("client killed")),
        };
        self.unsent.store(0, Ordering::Relaxed);
        sent?;
        out.buf.clear();
        Ok(())
    }
}

/// The output limits that apply to the session now (subscribers have their own class).
fn class_limit(sess: &Session) -> ClassLimit {
    let class = if !sess.subscribed() {
        ClientClass::Normal
    } else {
        ClientClass::PubSub
    };
    sess.hot.output_limits.of(class)
}

/// Resolves when an idle client's `timeout` falls; never when there is none, or the
/// client is blocked or subscribed (Redis exempts those too).
async fn idle_until(sess: &Session, last: Instant) {
    let t = sess.hot.timeout;
    if t == 0 || sess.blocked.is_some() || sess.subscribed() {
        return std::future::pending().await;
    }
    let at = last + std::time::Duration::from_secs(t);
    tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await
}

/// Serves a client of the plain TCP port.
pub(crate) async fn serve_tcp(
    shared: Arc<Shared>,
    sock: TcpStream,
    addr: SocketAddr,
) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let laddr = sock.local_addr()?;
    let (rd, wr) = sock.into_split();
    serve(shared, rd, wr, addr, laddr, Security::Plain).await
}

/// Serves a client of the TLS port, once its handshake (bounded in time) is done.
pub(crate) async fn serve_tls(
    shared: Arc<Shared>,
    sock: TcpStream,
    addr: SocketAddr,
) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let laddr = sock.local_addr()?;
    let Some(acceptor) = shared.tls.acceptor() else {
        return Ok(());
    };
    let stream = match tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(sock)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::info!("TLS handshake with {addr} failed: {e}");
            return Ok(());
        }
        Err(_) => {
            tracing::info!("TLS handshake with {addr} timed out");
            return Ok(());
        }
    };
    // With tls-auth-clients yes or optional, a certificate shown was verified.
    let security = match stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    {
        Some(cert) => Security::TlsCertified(Box::new(cert.clone().into_owned())),
        None => Security::Tls,
    };
    let (rd, wr) = tokio::io::split(stream);
    serve(shared, rd, wr, addr, laddr, security).await
}

/// A TLS client refused at accept (protected mode, `maxclients`): it gets the error over
/// TLS, which it can read, then the connection closes.
pub(crate) async fn refuse_tls(
    shared: &Shared,
    sock: TcpStream,
    why: &'static str,
) -> std::io::Result<()> {
    let Some(acceptor) = shared.tls.acceptor() else {
        return Ok(());
    };
    let Ok(Ok(mut stream)) = tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(sock)).await
    else {
        return Ok(());
    };
    let write = async {
        stream.write_all(why.as_bytes()).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(TLS_HANDSHAKE, write)
        .await
        .unwrap_or(Ok(()))
}

/// How a connection is protected.
#[derive(Clone, Debug)]
pub(crate) enum Security {
    /// Plain TCP.
    Plain,
    /// TLS, the client showed no certificate.
    Tls,
    /// TLS, with a client certificate the CA signed (kept: a peer link checks that it
    /// names the peer it claims to be).
    TlsCertified(Box<rustls_pki_types::CertificateDer<'static>>),
}

/// Serves one client until it leaves (or its connection becomes a peer link).
async fn serve<R, W>(
    shared: Arc<Shared>,
    mut rd: R,
    wr: W,
    addr: SocketAddr,
    laddr: SocketAddr,
    security: Security,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let id = shared.next_client.fetch_add(1, Ordering::Relaxed);
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Msg>(16 * 1024);
    let mailbox = crate::pubsub::Mailbox::new(tx);
    let now = Instant::now();
    let query = Arc::new(crate::QueryBuf::default());
    let unsent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    shared
        .clients
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            id,
            ClientInfo {
                addr,
                laddr,
                name: Vec::new(),
                created: now,
                last: now,
                last_cmd: None,
                resp: 2,
                channels: Default::default(),
                patterns: Default::default(),
                shard_channels: Default::default(),
                multi: -1,
                lib_name: Vec::new(),
                user: b"default".to_vec(),
                lib_ver: Vec::new(),
                kill: Arc::clone(&mailbox.kill),
                mailbox_tx: mailbox.tx.clone(),
                mailbox: mailbox.clone(),
                tracking: None,
                query: Arc::clone(&query),
                unsent: Arc::clone(&unsent),
            },
        );
    let mut sess = Session::new(&shared, id, mailbox, now);
    sess.security = security;
    sess.addr = addr;
    let mut sink = Sink {
        wr,
        watch: SoftWatch::default(),
        unsent,
    };
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::new(Limits {
        max_bulk: sess.hot.proto_max_bulk_len,
        ..Limits::default()
    });
    parser.set_unauthenticated(!sess.authed);
    let mut out = Out::new();
    out.limit = class_limit(&sess).hard_bytes();
    let mut batch = Batch::default();
    let mut last = now;
    // A panic in a command (a bug) closes this client only: its state is cleaned up below
    // as after any other end, so it leaves no ghost in CLIENT LIST, pub/sub or blocking.
    let served = std::panic::AssertUnwindSafe(async {
    loop {
            tokio::select! {
                r = rd.read_buf(&mut buf) => {
                    match r {
                        Ok(0) => break Ok(()),
                        Ok(_) => {}
                        Err(e) => break Err(e),
                    }
                    last = Instant::now();
                    query.set(buf.len(), buf.capacity());
                    sess.refresh(&shared);
                    parser.set_max_bulk(sess.hot.proto_max_bulk_len);
                    out.limit = class_limit(&sess).hard_bytes();
                    let max_query = sess.hot.query_buffer_limit;
                    let mut proto_err = parser.parse(&buf, &mut batch).err();
                    if sess.blocked.is_some() {
                        // Behind a blocking command: run in order once it is served.
                        for i in 0..batch.len() {
                            let req: Vec<Bytes> =
                                batch.args(i, &buf).map(Bytes::copy_from_slice).collect();
                            sess.queued_bytes += crate::dispatch::kept_bytes(&req);
                            sess.queued.push_back(req);
                        }
                        buf.advance(parser.advance(&mut batch));
                            query.set(buf.len(), buf.capacity());
                        if proto_err.is_some() || buf.len() + sess.queued_bytes > max_query {
                            tracing::info!("client {} closed: query buffer past client-query-buffer-limit while blocked", sess.id);
                            break Ok(());
                        }
                        continue;
                    }
                    loop {
                        let parsed = Parsed { batch: &batch, buf: &buf };
                        sess.run_requests(&shared, &parsed, &mut out).await;
                        // The requests ran (or were kept): drop their bytes, keep a partial one.
                        buf.advance(parser.advance(&mut batch));
                        if batch.need() > buf.len() {
                            buf.reserve(batch.need() - buf.len());
                        }
                        // Before authentication the parser hands out one request at a time,
                        // so that an AUTH lifts its tighter limits for the next one.
                        let limited = parser.unauthenticated();
                        parser.set_unauthenticated(!sess.authed);
                        if !limited
                            || proto_err.is_some()
                            || sess.closing
                            || sess.link.is_some()
                            || sess.blocked.is_some()
                        {
                            break;
                        }
                        proto_err = parser.parse(&buf, &mut batch).err();
                        if batch.is_empty() {
                            break;
                        }
                    }
                    query.set(buf.len(), buf.capacity());
                    if let Some(e) = proto_err {
                        shared.errors.send(&mut out, &format!("ERR {e}"));
                        sess.closing = true;
                    }
                    if buf.len() > max_query {
                        sess.closing = true;
                    }
                    if out.over_limit() {
                        // Past the output limit: the reply is not sent, the client is closed.
                        tracing::info!("client {} closed for overcoming its output buffer limit", sess.id);
                        break Ok(());
                    }
                    // As Redis writes replies before it sleeps: the other clients ready
                    // now are served first, so that a client process waiting on several
                    // connections is woken once for many replies, not once for each (a
                    // wake-up costs the sender more than a short command).
                    tokio::task::yield_now().await;
                    if let Err(e) = sink.send(&sess, &mut out).await {
                        break Err(e);
                    }
                    if sess.held_rest
                        && let Err(e) = resume(&mut sess, &shared, &mut out, &mut sink).await
                    {
                        break Err(e);
                    }
                    out.limit = class_limit(&sess).hard_bytes();
                    if sess.closing || sess.link.is_some() {
                        break Ok(());
                    }
                    // Give memory back after a large request or reply.
                    if buf.capacity() > 1024 * 1024 && buf.is_empty() {
                        buf = BytesMut::with_capacity(16 * 1024);
                    }
                    if out.buf.capacity() > 1024 * 1024 {
                        out.buf = BytesMut::new();
                    }
                }
                _ = blocked_until(&sess.blocked) => {
                    // Timed out, unless it was served meanwhile (then its reply is queued).
                    let timed_out = {
                        let _turn = shared.script.task_turn().await;
                        let mut e = shared.engine.lock().unwrap_or_else(|p| p.into_inner());
                        let mut b = shared.blocked.lock().unwrap_or_else(|p| p.into_inner());
                        b.remove(&mut e, sess.id).is_some()
                    };
                    if timed_out {
                        if let Some((reply, _)) = sess.blocked.take()
                            && !sess.muted()
                        {
                            out.raw(&reply);
                        }
                        if let Err(e) = resume(&mut sess, &shared, &mut out, &mut sink).await {
                            break Err(e);
                        }
                        if sess.closing {
                            break Ok(());
                        }
                    } else if let Some(b) = &mut sess.blocked {
                        b.1 = None;
                    }
                }
                m = rx.recv() => {
                    let Some(first) = m else {
                        break Ok(());
                    };
                    // Messages, then (for a blocked client) the reply that ends its wait; a
                    // subscriber in RESP3 may be blocked too. Drain what is queued so one write
                    // carries it all.
                    let mut reply = None;
                    let mut next = Some(first);
                    while let Some(m) = next.take() {
                        match m {
                            Msg::Reply(r, seq) => {
                                // The reply that ends a wait (an error from CLIENT
                                // UNBLOCK or the retried command) counts here.
                                shared.errors.reply(&r);
                                reply = Some((r, seq));
                                break;
                            }
                            Msg::Refresh => sess.refresh(&shared),
                            m => {
                                sess.mailbox.taken(&m);
                                // CLIENT REPLY OFF silences messages too, as in Redis.
                                if sess.replies != crate::session::Replies::Off {
                                    crate::cmd::pubsub::encode(m, sess.subscribed(), &mut out);
                                }
                            }
                        }
                        next = rx.try_recv().ok();
                    }
                    if out.over_limit() {
                        tracing::info!("client {} closed for overcoming its output buffer limit", sess.id);
                        break Ok(());
                    }
                    if let Some((r, seq)) = reply {
                        sess.blocked = None;
                        if seq > 0 && shared.persist.acks_wait() {
                            shared.persist.wait_durable(seq).await;
                        }
                        if !sess.muted() {
                            out.raw(&r);
                        }
                        if let Err(e) = resume(&mut sess, &shared, &mut out, &mut sink).await {
                            break Err(e);
                        }
                    } else if let Err(e) = sink.send(&sess, &mut out).await {
                        break Err(e);
                    }
                    if sess.closing {
                        break Ok(());
                    }
                }
                _ = sess.mailbox.kill.wait() => break Ok(()),
                _ = idle_until(&sess, last) => {
                    tracing::debug!("client {} closed after {} s idle", sess.id, sess.hot.timeout);
                    break Ok(());
                }
            }
        }
    })
    .catch_unwind()
    .await;
    let result = served.unwrap_or_else(|_| {
        tracing::error!(
            "client {} closed: a command panicked (a bug; please report it)",
            sess.id
        );
        sess.link = None;
        Ok(())
    });
    {
        let _turn = shared.script.task_turn().await;
        sess.cleanup(&shared);
    }
    if let (Some((peer, version)), Ok(())) = (sess.link, &result) {
        let user = sess.user.name().to_vec();
        crate::sync::serve_link(shared, rd, sink.wr, buf, peer, version, user).await;
    }
    result
}

/// Resolves when a blocked client's timeout falls; never when it has none or is not
/// blocked.
async fn blocked_until(b: &Option<(Bytes, Option<tokio::time::Instant>)>) {
    match b {
        Some((_, Some(at))) => tokio::time::sleep_until(*at).await,
        _ => std::future::pending().await,
    }
}

/// After a blocking command ended: sends its reply and runs what queued behind it, until
/// the queue is empty or a command blocks again.
async fn resume<W: AsyncWrite + Unpin>(
    sess: &mut Session,
    sh: &Shared,
    out: &mut Out,
    sink: &mut Sink<W>,
) -> std::io::Result<()> {
    loop {
        let reqs = std::mem::take(&mut sess.queued);
        sess.queued_bytes = 0;
        sess.run_requests(sh, &reqs, out).await;
        if out.over_limit() {
            sess.closing = true;
            return Ok(());
        }
        sink.send(sess, out).await?;
        if sess.closing || sess.blocked.is_some() || sess.queued.is_empty() {
            return Ok(());
        }
    }
}
