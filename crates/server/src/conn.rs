//! One client connection: read, parse every complete request, execute the batch under one
//! engine lock, write all replies at once.

use crate::pubsub::Msg;
use crate::{ClientInfo, Shared, wall_ms};
use bytes::{Buf, Bytes, BytesMut};
use concord_engine::{
    COMMANDS, CommandSpec, Engine, Flags, check_subcommand, command_id, glob_match,
};
use concord_resp::{Batch, Limits, Out, RequestParser};
use smallvec::SmallVec;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Largest query buffer before the client is dropped (Redis's client-query-buffer-limit).
const MAX_QUERY_BUFFER: usize = 1024 * 1024 * 1024;

/// The state of one connection.
pub(crate) struct Session {
    id: u64,
    authed: bool,
    resp3: bool,
    name: Vec<u8>,
    multi: Option<Vec<Vec<Bytes>>>,
    multi_error: bool,
    watching: bool,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
    tx: mpsc::Sender<Msg>,
    closing: bool,
    /// Set by a successful CRDT.LINK: the connection becomes a replication link.
    link: Option<concord_crdt::ReplicaId>,
    /// Blocked on keys: the reply to send on timeout and when the timeout falls (`None`:
    /// never).
    blocked: Option<(Bytes, Option<tokio::time::Instant>)>,
    /// Requests that arrived behind a blocking command, run once it is served.
    queued: Vec<Vec<Bytes>>,
    /// When the current batch started.
    clock: Instant,
    /// When the last command ended (or the current batch started), on `Shared::timer`:
    /// command times are measured from it.
    tick: u64,
    /// The last command name seen (exact bytes, up to 16), its length and its id.
    last_name: ([u8; 16], u8, usize),
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    sock: TcpStream,
    addr: SocketAddr,
) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let laddr = sock.local_addr()?;
    let id = shared.next_client.fetch_add(1, Ordering::Relaxed);
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Msg>(16 * 1024);
    let now = Instant::now();
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
                sub: 0,
                psub: 0,
                multi: -1,
                lib_name: Vec::new(),
                lib_ver: Vec::new(),
                tx: tx.clone(),
            },
        );
    let mut sess = Session {
        id,
        authed: shared.cfg.requirepass.is_none(),
        resp3: false,
        name: Vec::new(),
        multi: None,
        multi_error: false,
        watching: false,
        channels: BTreeSet::new(),
        patterns: BTreeSet::new(),
        tx,
        closing: false,
        link: None,
        blocked: None,
        queued: Vec::new(),
        clock: now,
        tick: shared.timer.raw(),
        last_name: ([0; 16], u8::MAX, 0),
    };
    let (mut rd, mut wr) = sock.into_split();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::new(Limits::default());
    parser.set_unauthenticated(!sess.authed);
    let mut out = Out::new();
    let mut batch = Batch::default();
    let result = loop {
        tokio::select! {
            r = rd.read_buf(&mut buf) => {
                match r {
                    Ok(0) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
                let mut proto_err = parser.parse(&buf, &mut batch).err();
                if sess.blocked.is_some() {
                    // Behind a blocking command: run in order once it is served.
                    for i in 0..batch.len() {
                        sess.queued.push(batch.args(i, &buf).map(Bytes::copy_from_slice).collect());
                    }
                    buf.advance(parser.advance(&mut batch));
                    if proto_err.is_some() || buf.len() > MAX_QUERY_BUFFER {
                        break Ok(());
                    }
                    continue;
                }
                let mut failed = None;
                loop {
                    let parsed = Parsed { batch: &batch, buf: &buf };
                    if let Err(e) = sess.run_requests(&shared, &parsed, &mut out).await {
                        failed = Some(e);
                        break;
                    }
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
                if let Some(e) = failed {
                    break Err(e);
                }
                if let Some(e) = proto_err {
                    out.error(&format!("ERR {e}"));
                    sess.closing = true;
                }
                if buf.len() > MAX_QUERY_BUFFER {
                    sess.closing = true;
                }
                if !out.is_empty() {
                    if let Err(e) = wr.write_all(&out.buf).await {
                        break Err(e);
                    }
                    out.buf.clear();
                }
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
                    let mut e = shared.engine.lock().unwrap_or_else(|p| p.into_inner());
                    let mut b = shared.blocked.lock().unwrap_or_else(|p| p.into_inner());
                    b.remove(&mut e, sess.id).is_some()
                };
                if timed_out {
                    if let Some((reply, _)) = sess.blocked.take() {
                        out.raw(&reply);
                    }
                    if let Err(e) = sess.resume(&shared, &mut out, &mut wr).await {
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
                match m {
                    None | Some(Msg::Kill) => break Ok(()),
                    Some(Msg::Reply(reply, seq)) => {
                        sess.blocked = None;
                        if seq > 0 && shared.persist.acks_wait() {
                            shared.persist.wait_durable(seq).await;
                        }
                        out.raw(&reply);
                        if let Err(e) = sess.resume(&shared, &mut out, &mut wr).await {
                            break Err(e);
                        }
                        if sess.closing {
                            break Ok(());
                        }
                    }
                    Some(m) => {
                        sess.encode_msg(m, &mut out);
                        // Drain what else is queued so one write carries it all.
                        while let Ok(m) = rx.try_recv() {
                            match m {
                                Msg::Kill => {
                                    sess.closing = true;
                                    break;
                                }
                                Msg::Reply(..) => {
                                    unreachable!("replies only reach blocked clients")
                                }
                                m => sess.encode_msg(m, &mut out),
                            }
                        }
                        if let Err(e) = wr.write_all(&out.buf).await {
                            break Err(e);
                        }
                        out.buf.clear();
                        if sess.closing {
                            break Ok(());
                        }
                    }
                }
            }
        }
    };
    sess.cleanup(&shared);
    if let (Some(peer), Ok(())) = (sess.link, &result) {
        crate::sync::serve_link(shared, rd, wr, buf, peer).await;
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

/// Requests to run: those parsed from a read, or those kept while the client was blocked.
trait Requests {
    /// How many.
    fn count(&self) -> usize;
    /// The arguments of request `i`.
    fn view(&self, i: usize) -> SmallVec<[&[u8]; 8]>;
}

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

impl Requests for Vec<Vec<Bytes>> {
    fn count(&self) -> usize {
        self.len()
    }

    fn view(&self, i: usize) -> SmallVec<[&[u8]; 8]> {
        self[i].iter().map(|a| &a[..]).collect()
    }
}

/// An owned copy of a request, to keep past the read buffer it points into.
fn owned(args: &[&[u8]]) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Redis's reply for an unknown command.
fn unknown_command(args: &[&[u8]]) -> String {
    let mut s = format!(
        "ERR unknown command '{}', with args beginning with: ",
        lossy(&args[0][..args[0].len().min(128)])
    );
    for a in &args[1..] {
        if s.len() >= 256 {
            break;
        }
        s.push_str(&format!("'{}' ", lossy(&a[..a.len().min(128)])));
    }
    s
}

fn help_err(sub: &[u8], cmd: &str) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        lossy(sub),
        cmd
    )
}

impl Session {
    /// Runs requests and waits, with `appendfsync always`, until their writes are durable.
    async fn run_requests(
        &mut self,
        sh: &Shared,
        reqs: &impl Requests,
        out: &mut Out,
    ) -> std::io::Result<()> {
        if reqs.count() == 0 {
            return Ok(());
        }
        if !sh.caught_up.load(Ordering::Acquire) && (0..reqs.count()).any(|i| writes(&reqs.view(i)))
        {
            crate::wait_caught_up(sh).await;
        }
        let seq = self.run_batch(sh, reqs, out);
        // appendfsync always: acknowledge only what is on disk.
        if seq > 0 && sh.persist.acks_wait() {
            sh.persist.wait_durable(seq).await;
        }
        Ok(())
    }

    /// After a blocking command ended: sends its reply and runs what queued behind it,
    /// until the queue is empty or a command blocks again.
    async fn resume(
        &mut self,
        sh: &Shared,
        out: &mut Out,
        wr: &mut tokio::net::tcp::OwnedWriteHalf,
    ) -> std::io::Result<()> {
        loop {
            let reqs = std::mem::take(&mut self.queued);
            self.run_requests(sh, &reqs, out).await?;
            if !out.is_empty() {
                wr.write_all(&out.buf).await?;
                out.buf.clear();
            }
            if self.closing || self.blocked.is_some() || self.queued.is_empty() {
                return Ok(());
            }
        }
    }

    /// Runs a pipeline of requests; returns the append-only file batch holding their
    /// writes (0 when they wrote nothing). Stops at a command that blocks and keeps the
    /// rest for when it is served.
    fn run_batch(&mut self, sh: &Shared, reqs: &impl Requests, out: &mut Out) -> u64 {
        let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
        e.set_time(wall_ms());
        self.clock = Instant::now();
        self.tick = sh.timer.raw();
        let logged = e.log().appended();
        let mut last = None;
        let mut calls = 0;
        let mut ran = 0;
        for i in 0..reqs.count() {
            ran += 1;
            let view = reqs.view(i);
            if view.is_empty() {
                continue;
            }
            calls += 1;
            last = self.call(sh, &mut e, &view, out).or(last);
            if self.closing || self.link.is_some() || self.blocked.is_some() {
                break;
            }
        }
        sh.commands.fetch_add(calls, Ordering::Relaxed);
        if self.blocked.is_some() {
            for i in ran..reqs.count() {
                self.queued.push(owned(&reqs.view(i)));
            }
        }
        let seq = crate::blocking::wake(sh, &mut e);
        let grew = e.log().appended() != logged;
        drop(e);
        if grew && !sh.cfg.peers.is_empty() {
            sh.log_notify.notify_waiters();
        }
        if let Some(c) = sh
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&self.id)
        {
            c.last = self.clock;
            if last.is_some() {
                c.last_cmd = last;
            }
            c.multi = self.multi.as_ref().map_or(-1, |q| q.len() as i64);
        }
        seq
    }

    /// Runs one request: checks, MULTI queueing, then the command itself. Returns the
    /// command's id when it names one.
    fn call(
        &mut self,
        sh: &Shared,
        e: &mut Engine,
        args: &[&[u8]],
        out: &mut Out,
    ) -> Option<usize> {
        let Some(id) = self.command_id(args[0]) else {
            if self.multi.is_some() {
                self.multi_error = true;
            }
            out.error(&unknown_command(args));
            return None;
        };
        let spec = &COMMANDS[id];
        if !spec.arity_ok(args.len()) {
            if self.multi.is_some() {
                self.multi_error = true;
            }
            e.cmdstats[id].rejected += 1;
            out.error(&format!(
                "ERR wrong number of arguments for '{}' command",
                spec.name
            ));
            return Some(id);
        }
        if let Err(msg) = check_subcommand(id, args) {
            if self.multi.is_some() {
                self.multi_error = true;
            }
            e.cmdstats[id].rejected += 1;
            out.error(&msg);
            return Some(id);
        }
        if !self.authed && !spec.flags.has(Flags::NO_AUTH) {
            e.cmdstats[id].rejected += 1;
            out.error("NOAUTH Authentication required.");
            return Some(id);
        }
        if (spec.flags.has(Flags::WRITE) || spec.name == "exec")
            && sh.persist.closed.load(Ordering::Acquire)
        {
            e.cmdstats[id].rejected += 1;
            out.error("ERR the server is shutting down");
            return Some(id);
        }
        if (spec.flags.has(Flags::WRITE) || spec.name == "exec")
            && let Some(why) = sh.persist.write_error()
        {
            if self.multi.is_some() {
                self.multi_error = true;
            }
            e.cmdstats[id].rejected += 1;
            out.error(&format!("MISCONF Errors writing to the AOF file: {why}"));
            return Some(id);
        }
        if !self.resp3
            && (!self.channels.is_empty() || !self.patterns.is_empty())
            && !matches!(
                spec.name,
                "subscribe"
                    | "unsubscribe"
                    | "psubscribe"
                    | "punsubscribe"
                    | "ping"
                    | "quit"
                    | "reset"
            )
        {
            out.error(&format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            ));
            return Some(id);
        }
        if let Some(queue) = &mut self.multi {
            match spec.name {
                "exec" | "discard" | "multi" | "watch" | "quit" | "reset" => {}
                _ => {
                    queue.push(owned(args));
                    out.simple("QUEUED");
                    return Some(id);
                }
            }
        }
        let before = out.len();
        self.run(sh, e, id, args, out);
        e.commit();
        if let Some(block) = e.take_block() {
            // Nothing to pop: keep the timeout reply aside and wait for a push.
            let reply = Bytes::copy_from_slice(&out.buf[before..]);
            out.buf.truncate(before);
            let deadline = (block.timeout_ms > 0).then(|| {
                tokio::time::Instant::now() + std::time::Duration::from_millis(block.timeout_ms)
            });
            let waiter = crate::blocking::Waiter {
                args: block.retry.unwrap_or_else(|| owned(args)),
                keys: block.keys,
                resp3: self.resp3,
                tx: self.tx.clone(),
            };
            sh.blocked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .add(e, self.id, waiter);
            self.blocked = Some((reply, deadline));
        }
        Some(id)
    }

    /// The command's id; a pipeline of one command looks its name up once.
    fn command_id(&mut self, name: &[u8]) -> Option<usize> {
        let (buf, len, id) = &mut self.last_name;
        // `len` starts out of range: nothing cached yet.
        if name.len() == *len as usize && name.len() <= buf.len() && name == &buf[..name.len()] {
            return Some(*id);
        }
        let found = command_id(name)?;
        if name.len() <= buf.len() {
            buf[..name.len()].copy_from_slice(name);
            *len = name.len() as u8;
            *id = found;
        }
        Some(found)
    }

    /// Whether the connection is in RESP2 subscriber mode.
    fn subscribed_resp2(&self) -> bool {
        !self.resp3 && (!self.channels.is_empty() || !self.patterns.is_empty())
    }

    /// Executes a command that passed the checks, counting it for INFO commandstats.
    fn run(&mut self, sh: &Shared, e: &mut Engine, id: usize, args: &[&[u8]], out: &mut Out) {
        let spec = &COMMANDS[id];
        let before = out.len();
        if !e.execute_checked(spec, args, out) {
            self.connection_command(sh, e, spec, args, out);
        }
        let failed = out.buf.get(before) == Some(&b'-');
        // One clock read per command: its time runs from the end of the one before
        // (or the start of the batch).
        let end = sh.timer.raw();
        let s = &mut e.cmdstats[id];
        s.calls += 1;
        s.nanos += sh.timer.delta_as_nanos(self.tick, end);
        self.tick = end;
        if failed {
            s.failed += 1;
        }
    }

    /// Commands that act on the connection or the server rather than on data.
    fn connection_command(
        &mut self,
        sh: &Shared,
        e: &mut Engine,
        spec: &'static CommandSpec,
        a: &[&[u8]],
        out: &mut Out,
    ) {
        match spec.name {
            "ping" => match a.len() {
                1 if self.subscribed_resp2() => {
                    out.array(2);
                    out.bulk(b"pong");
                    out.bulk(b"");
                }
                1 => out.simple("PONG"),
                2 if self.subscribed_resp2() => {
                    out.array(2);
                    out.bulk(b"pong");
                    out.bulk(a[1]);
                }
                2 => out.bulk(a[1]),
                _ => out.error("ERR wrong number of arguments for 'ping' command"),
            },
            "echo" => out.bulk(a[1]),
            "quit" => {
                out.ok();
                self.closing = true;
            }
            "select" => match concord_crdt::num::parse_i64(a[1]) {
                Some(0) => out.ok(),
                Some(_) => out.error("ERR DB index is out of range"),
                None => out.error("ERR value is not an integer or out of range"),
            },
            "auth" => self.auth(sh, a, out),
            "hello" => self.hello(sh, a, out),
            "reset" => {
                self.reset(sh, e);
                out.simple("RESET");
            }
            "time" => {
                let us = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_micros())
                    .unwrap_or(0);
                out.array(2);
                out.bulk((us / 1_000_000).to_string().as_bytes());
                out.bulk((us % 1_000_000).to_string().as_bytes());
            }
            "multi" => {
                if self.multi.is_some() {
                    out.error("ERR MULTI calls can not be nested");
                } else {
                    self.multi = Some(Vec::new());
                    self.multi_error = false;
                    out.ok();
                }
            }
            "discard" => {
                if self.multi.take().is_some() {
                    self.unwatch(e);
                    out.ok();
                } else {
                    out.error("ERR DISCARD without MULTI");
                }
            }
            "exec" => self.exec(sh, e, out),
            "watch" => {
                if self.multi.is_some() {
                    out.error("ERR WATCH inside MULTI is not allowed");
                } else {
                    for k in &a[1..] {
                        e.watch(self.id, k);
                    }
                    self.watching = true;
                    out.ok();
                }
            }
            "unwatch" => {
                self.unwatch(e);
                out.ok();
            }
            "subscribe" | "psubscribe" => {
                self.subscribe(sh, spec.name == "psubscribe", &a[1..], out)
            }
            "unsubscribe" | "punsubscribe" => {
                self.unsubscribe(sh, spec.name == "punsubscribe", &a[1..], out)
            }
            "publish" => {
                let n = sh
                    .pubsub
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .publish(&Bytes::copy_from_slice(a[1]), &Bytes::copy_from_slice(a[2]));
                if !sh.cfg.peers.is_empty() {
                    // Best effort to peers; no receiver (no link up) is fine.
                    let _ = sh
                        .publishes
                        .send((a[1].to_vec().into(), a[2].to_vec().into()));
                }
                out.int(n as i64);
            }
            "crdt.link" => self.crdt_link(sh, a, out),
            "crdt.sync" => crdt_sync(sh, e, a[1], out),
            "pubsub" => self.pubsub_cmd(sh, a, out),
            "client" => self.client(sh, e, a, out),
            "info" => {
                let text = crate::info::render(sh, e, &a[1..]);
                out.verbatim(text.as_bytes());
            }
            "config" => self.config(sh, e, a, out),
            "save" => match sh.persist.save(e) {
                Ok(()) => out.ok(),
                Err(x) => out.error(&x),
            },
            "bgsave" => {
                let schedule = match a.get(1) {
                    None => false,
                    Some(x) if x.eq_ignore_ascii_case(b"schedule") && a.len() == 2 => true,
                    Some(_) => return out.error("ERR syntax error"),
                };
                let p = &sh.persist;
                if schedule && p.running().is_some() {
                    p.scheduled.store(true, Ordering::Relaxed);
                    return out.simple("Background saving scheduled");
                }
                match p.start_background(crate::persist::BgKind::Save, e) {
                    Ok(()) => out.simple("Background saving started"),
                    Err(x) => out.error(&x),
                }
            }
            "bgrewriteaof" => {
                let p = &sh.persist;
                if p.running().is_some() {
                    p.scheduled.store(true, Ordering::Relaxed);
                    return out.simple("Background append only file rewriting scheduled");
                }
                match p.start_background(crate::persist::BgKind::Rewrite, e) {
                    Ok(()) => out.simple("Background append only file rewriting started"),
                    Err(x) => out.error(&x),
                }
            }
            "lastsave" => out.int(sh.persist.lastsave.load(Ordering::Relaxed) as i64),
            "shutdown" => self.shutdown(sh, e, a, out),
            "function" => {
                if a.len() >= 2 && a[1].eq_ignore_ascii_case(b"flush") {
                    out.ok();
                } else {
                    out.error(&help_err(a[1], "FUNCTION"));
                }
            }
            _ => out.error(&unknown_command(a)),
        }
    }

    fn auth(&mut self, sh: &Shared, a: &[&[u8]], out: &mut Out) {
        if a.len() > 3 {
            out.error("ERR syntax error");
            return;
        }
        let (user, pass) = if a.len() == 3 {
            (a[1], a[2])
        } else {
            (&b"default"[..], a[1])
        };
        match &sh.cfg.requirepass {
            None if a.len() == 2 => out.error(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ),
            _ if self.check_password(sh, user, pass) => {
                self.authed = true;
                out.ok();
            }
            _ => out.error("WRONGPASS invalid username-password pair or user is disabled."),
        }
    }

    fn check_password(&self, sh: &Shared, user: &[u8], pass: &[u8]) -> bool {
        if user != b"default" {
            return false;
        }
        let cfg = sh.config.lock().unwrap_or_else(|p| p.into_inner());
        match cfg.get("requirepass").map(String::as_str) {
            None | Some("") => true,
            Some(pw) => pw.as_bytes() == pass,
        }
    }

    fn hello(&mut self, sh: &Shared, a: &[&[u8]], out: &mut Out) {
        let mut proto = if self.resp3 { 3 } else { 2 };
        let mut i = 1;
        if a.len() >= 2 {
            match concord_crdt::num::parse_i64(a[1]) {
                Some(v @ (2 | 3)) => proto = v,
                Some(_) => {
                    out.error("NOPROTO unsupported protocol version");
                    return;
                }
                None => {
                    out.error("ERR Protocol version is not an integer or out of range");
                    return;
                }
            }
            i = 2;
        }
        let mut name = None;
        while i < a.len() {
            if a[i].eq_ignore_ascii_case(b"auth") && i + 2 < a.len() {
                if !self.check_password(sh, a[i + 1], a[i + 2]) {
                    out.error("WRONGPASS invalid username-password pair or user is disabled.");
                    return;
                }
                self.authed = true;
                i += 3;
            } else if a[i].eq_ignore_ascii_case(b"setname") && i + 1 < a.len() {
                if !valid_name(a[i + 1]) {
                    out.error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    );
                    return;
                }
                name = Some(a[i + 1].to_vec());
                i += 2;
            } else {
                out.error(&format!(
                    "ERR Syntax error in HELLO option '{}'",
                    lossy(a[i])
                ));
                return;
            }
        }
        if !self.authed {
            out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }
        if let Some(n) = name {
            self.set_name(sh, n);
        }
        self.resp3 = proto == 3;
        out.resp3 = self.resp3;
        if let Some(c) = sh
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&self.id)
        {
            c.resp = proto as u8;
        }
        out.map(7);
        out.bulk(b"server");
        out.bulk(b"redis");
        out.bulk(b"version");
        out.bulk(crate::info::REDIS_VERSION.as_bytes());
        out.bulk(b"proto");
        out.int(proto);
        out.bulk(b"id");
        out.int(self.id as i64);
        out.bulk(b"mode");
        out.bulk(b"standalone");
        out.bulk(b"role");
        out.bulk(b"master");
        out.bulk(b"modules");
        out.array(0);
    }

    fn set_name(&mut self, sh: &Shared, name: Vec<u8>) {
        self.name = name.clone();
        if let Some(c) = sh
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&self.id)
        {
            c.name = name;
        }
    }

    fn reset(&mut self, sh: &Shared, e: &mut Engine) {
        self.multi = None;
        self.multi_error = false;
        self.unwatch(e);
        self.drop_subscriptions(sh);
        self.resp3 = false;
        self.set_name(sh, Vec::new());
        self.authed = sh.cfg.requirepass.is_none();
        if let Some(c) = sh
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&self.id)
        {
            c.resp = 2;
        }
    }

    fn unwatch(&mut self, e: &mut Engine) {
        if self.watching {
            e.unwatch(self.id);
            self.watching = false;
        }
    }

    fn exec(&mut self, sh: &Shared, e: &mut Engine, out: &mut Out) {
        let Some(queue) = self.multi.take() else {
            out.error("ERR EXEC without MULTI");
            return;
        };
        if self.multi_error {
            self.multi_error = false;
            self.unwatch(e);
            out.error("EXECABORT Transaction discarded because of previous errors.");
            return;
        }
        if self.watching && e.is_dirty(self.id) {
            self.unwatch(e);
            out.null_array();
            return;
        }
        self.unwatch(e);
        out.array(queue.len());
        // Every op of the transaction stays in one group: commit happens after EXEC.
        for args in queue {
            if let Some(id) = command_id(&args[0]) {
                let view: SmallVec<[&[u8]; 8]> = args.iter().map(|a| &a[..]).collect();
                self.run(sh, e, id, &view, out);
                // Inside a transaction a blocking command answers at once.
                e.take_block();
            }
        }
    }

    fn subscribe(&mut self, sh: &Shared, pattern: bool, names: &[&[u8]], out: &mut Out) {
        let mut ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
        for &n in names {
            let n = Bytes::copy_from_slice(n);
            if ps.subscribe(pattern, &n, self.id, &self.tx) {
                if pattern {
                    self.patterns.insert(n.clone());
                } else {
                    self.channels.insert(n.clone());
                }
            }
            out.push(3);
            out.bulk(if pattern { b"psubscribe" } else { b"subscribe" });
            out.bulk(&n);
            out.int((self.channels.len() + self.patterns.len()) as i64);
        }
        drop(ps);
        self.update_sub_counts(sh);
    }

    fn unsubscribe(&mut self, sh: &Shared, pattern: bool, names: &[&[u8]], out: &mut Out) {
        let kind: &[u8] = if pattern {
            b"punsubscribe"
        } else {
            b"unsubscribe"
        };
        let targets: Vec<Bytes> = if names.is_empty() {
            if pattern {
                self.patterns.iter().cloned().collect()
            } else {
                self.channels.iter().cloned().collect()
            }
        } else {
            names.iter().map(|n| Bytes::copy_from_slice(n)).collect()
        };
        let mut ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
        if targets.is_empty() {
            out.push(3);
            out.bulk(kind);
            out.null();
            out.int((self.channels.len() + self.patterns.len()) as i64);
        }
        for n in targets {
            ps.unsubscribe(pattern, &n, self.id);
            if pattern {
                self.patterns.remove(&n);
            } else {
                self.channels.remove(&n);
            }
            out.push(3);
            out.bulk(kind);
            out.bulk(&n);
            out.int((self.channels.len() + self.patterns.len()) as i64);
        }
        drop(ps);
        self.update_sub_counts(sh);
    }

    fn update_sub_counts(&self, sh: &Shared) {
        if let Some(c) = sh
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&self.id)
        {
            c.sub = self.channels.len();
            c.psub = self.patterns.len();
        }
    }

    fn drop_subscriptions(&mut self, sh: &Shared) {
        let mut ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
        for c in std::mem::take(&mut self.channels) {
            ps.unsubscribe(false, &c, self.id);
        }
        for p in std::mem::take(&mut self.patterns) {
            ps.unsubscribe(true, &p, self.id);
        }
    }

    fn pubsub_cmd(&self, sh: &Shared, a: &[&[u8]], out: &mut Out) {
        let ps = sh.pubsub.lock().unwrap_or_else(|p| p.into_inner());
        let sub = lossy(a[1]).to_ascii_uppercase();
        match (sub.as_str(), a.len()) {
            ("CHANNELS", 2 | 3) => {
                let ch = ps.channels(a.get(2).map(|p| &p[..]));
                out.array(ch.len());
                for c in ch {
                    out.bulk(&c);
                }
            }
            ("NUMSUB", _) => {
                out.map(a.len() - 2);
                for c in &a[2..] {
                    out.bulk(c);
                    out.int(ps.numsub(c) as i64);
                }
            }
            ("NUMPAT", 2) => out.int(ps.numpat() as i64),
            ("SHARDCHANNELS", 2 | 3) => out.array(0),
            ("SHARDNUMSUB", _) => {
                out.map(a.len() - 2);
                for c in &a[2..] {
                    out.bulk(c);
                    out.int(0);
                }
            }
            _ => out.error(&help_err(a[1], "PUBSUB")),
        }
    }

    fn encode_msg(&self, m: Msg, out: &mut Out) {
        match m {
            Msg::Message { channel, payload } => {
                out.push(3);
                out.bulk(b"message");
                out.bulk(&channel);
                out.bulk(&payload);
            }
            Msg::PMessage {
                pattern,
                channel,
                payload,
            } => {
                out.push(4);
                out.bulk(b"pmessage");
                out.bulk(&pattern);
                out.bulk(&channel);
                out.bulk(&payload);
            }
            Msg::Kill | Msg::Reply(..) => {}
        }
    }

    fn client(&mut self, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
        let sub = lossy(a[1]).to_ascii_uppercase();
        match (sub.as_str(), a.len()) {
            ("ID", 2) => out.int(self.id as i64),
            ("UNBLOCK", 3 | 4) => {
                let Some(id) = std::str::from_utf8(a[2])
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                else {
                    out.error("ERR value is not an integer or out of range");
                    return;
                };
                let error = match a.get(3).map(|m| lossy(m).to_ascii_uppercase()) {
                    None => false,
                    Some(m) if m == "TIMEOUT" => false,
                    Some(m) if m == "ERROR" => true,
                    Some(_) => {
                        out.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                        return;
                    }
                };
                let w = sh
                    .blocked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(e, id);
                match w {
                    None => out.int(0),
                    Some(w) => {
                        // The waiter's own timeout reply, or the error Redis sends.
                        let reply = if error {
                            Bytes::from_static(
                                b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
                            )
                        } else {
                            let mut o = Out::new();
                            o.resp3 = w.resp3;
                            if matches!(&w.args[0][..], b if b.eq_ignore_ascii_case(b"blmove") || b.eq_ignore_ascii_case(b"brpoplpush"))
                            {
                                o.null();
                            } else {
                                o.null_array();
                            }
                            o.buf.freeze()
                        };
                        let _ = w.tx.try_send(Msg::Reply(reply, 0));
                        out.int(1);
                    }
                }
            }
            ("GETNAME", 2) => {
                if self.name.is_empty() {
                    out.null();
                } else {
                    out.bulk(&self.name);
                }
            }
            ("SETNAME", 3) => {
                if !valid_name(a[2]) {
                    out.error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    );
                } else {
                    self.set_name(sh, a[2].to_vec());
                    out.ok();
                }
            }
            ("SETINFO", 4) => {
                let attr = lossy(a[2]).to_ascii_uppercase();
                if attr != "LIB-NAME" && attr != "LIB-VER" {
                    out.error(&format!("ERR Unrecognized option '{}'", lossy(a[2])));
                    return;
                }
                if !valid_name(a[3]) {
                    out.error(&format!(
                        "ERR {} cannot contain spaces, newlines or special characters.",
                        attr
                    ));
                    return;
                }
                if let Some(c) = sh
                    .clients
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(&self.id)
                {
                    if attr == "LIB-NAME" {
                        c.lib_name = a[3].to_vec();
                    } else {
                        c.lib_ver = a[3].to_vec();
                    }
                }
                out.ok();
            }
            ("LIST", _) => {
                let clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
                let mut ids: Vec<u64> = clients.keys().copied().collect();
                ids.sort_unstable();
                if a.len() >= 4 && a[2].eq_ignore_ascii_case(b"id") {
                    let want: Vec<u64> = a[3..]
                        .iter()
                        .filter_map(|x| lossy(x).parse().ok())
                        .collect();
                    ids.retain(|i| want.contains(i));
                } else if a.len() == 4 && a[2].eq_ignore_ascii_case(b"type") {
                    let t = lossy(a[3]).to_ascii_lowercase();
                    match t.as_str() {
                        "normal" | "pubsub" => {}
                        "master" | "replica" | "slave" => ids.clear(),
                        _ => {
                            out.error(&format!("ERR Unknown client type '{}'", lossy(a[3])));
                            return;
                        }
                    }
                } else if a.len() != 2 {
                    out.error("ERR syntax error");
                    return;
                }
                let mut s = String::new();
                for id in ids {
                    if let Some(c) = clients.get(&id) {
                        s.push_str(&client_line(id, c));
                        s.push('\n');
                    }
                }
                out.verbatim(s.as_bytes());
            }
            ("INFO", 2) => {
                let clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
                let line = clients
                    .get(&self.id)
                    .map(|c| client_line(self.id, c))
                    .unwrap_or_default();
                out.verbatim(format!("{line}\n").as_bytes());
            }
            ("KILL", _) if a.len() >= 3 => self.client_kill(sh, a, out),
            ("NO-EVICT" | "NO-TOUCH", 3) => out.ok(),
            ("REPLY", 3) => out.ok(),
            ("HELP", 2) => {
                let lines = [
                    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "GETNAME",
                    "ID",
                    "INFO",
                    "KILL <ip:port>",
                    "KILL <option> <value> [<option> <value> [...]]",
                    "LIST [options ...]",
                    "SETNAME <name>",
                    "SETINFO <option> <value>",
                    "HELP",
                ];
                out.array(lines.len());
                for l in lines {
                    out.simple(l);
                }
            }
            _ => out.error(&help_err(a[1], "CLIENT")),
        }
    }

    fn client_kill(&mut self, sh: &Shared, a: &[&[u8]], out: &mut Out) {
        let clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
        if a.len() == 3 {
            // Old form: CLIENT KILL addr:port
            let addr = lossy(a[2]);
            match clients.iter().find(|(_, c)| c.addr.to_string() == addr) {
                Some((id, c)) => {
                    let _ = c.tx.try_send(Msg::Kill);
                    if *id == self.id {
                        self.closing = true;
                    }
                    out.ok();
                }
                None => out.error("ERR No such client"),
            }
            return;
        }
        if !a.len().is_multiple_of(2) {
            out.error("ERR syntax error");
            return;
        }
        let mut skipme = true;
        let mut filters: Vec<(String, String)> = Vec::new();
        for p in a[2..].chunks(2) {
            let k = lossy(p[0]).to_ascii_lowercase();
            let v = lossy(p[1]);
            match k.as_str() {
                "id" if v.parse::<u64>().is_err() => {
                    out.error("ERR client-id should be greater than 0");
                    return;
                }
                "skipme" => match v.to_ascii_lowercase().as_str() {
                    "yes" => skipme = true,
                    "no" => skipme = false,
                    _ => {
                        out.error("ERR syntax error");
                        return;
                    }
                },
                "id" | "addr" | "laddr" | "type" | "user" | "maxage" => filters.push((k, v)),
                _ => {
                    out.error("ERR syntax error");
                    return;
                }
            }
        }
        let mut n = 0;
        for (id, c) in clients.iter() {
            if skipme && *id == self.id {
                continue;
            }
            let hit = filters.iter().all(|(k, v)| match k.as_str() {
                "id" => id.to_string() == *v,
                "addr" => c.addr.to_string() == *v,
                "laddr" => c.laddr.to_string() == *v,
                "type" => v == "normal" || (v == "pubsub" && c.sub + c.psub > 0),
                "user" => v == "default",
                "maxage" => v
                    .parse::<u64>()
                    .is_ok_and(|m| c.created.elapsed().as_secs() >= m),
                _ => false,
            });
            if hit {
                let _ = c.tx.try_send(Msg::Kill);
                if *id == self.id {
                    self.closing = true;
                }
                n += 1;
            }
        }
        out.int(n);
    }

    fn config(&mut self, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
        let sub = lossy(a[1]).to_ascii_uppercase();
        match sub.as_str() {
            "GET" if a.len() >= 3 => {
                let cfg = sh.config.lock().unwrap_or_else(|p| p.into_inner());
                let mut hits: Vec<(&String, &String)> = Vec::new();
                for (k, v) in cfg.iter() {
                    if a[2..]
                        .iter()
                        .any(|p| glob_match(&p.to_ascii_lowercase(), k.as_bytes(), true))
                    {
                        hits.push((k, v));
                    }
                }
                out.map(hits.len());
                for (k, v) in hits {
                    out.bulk(k.as_bytes());
                    out.bulk(v.as_bytes());
                }
            }
            "SET" if a.len() >= 4 && a.len().is_multiple_of(2) => {
                let mut cfg = sh.config.lock().unwrap_or_else(|p| p.into_inner());
                let mut updates = Vec::new();
                for p in a[2..].chunks(2) {
                    let k = lossy(p[0]).to_ascii_lowercase();
                    let v = lossy(p[1]);
                    let ok = match k.as_str() {
                        "maxmemory"
                        | "timeout"
                        | "hz"
                        | "maxclients"
                        | "slowlog-log-slower-than"
                        | "slowlog-max-len"
                        | "lua-time-limit"
                        | "busy-reply-threshold"
                        | "tcp-keepalive"
                        | "hash-max-listpack-entries"
                        | "hash-max-listpack-value"
                        | "set-max-intset-entries"
                        | "set-max-listpack-entries"
                        | "set-max-listpack-value"
                        | "zset-max-listpack-entries"
                        | "zset-max-listpack-value"
                        | "list-max-listpack-size"
                        | "proto-max-bulk-len"
                        | "client-query-buffer-limit" => v
                            .trim_end_matches(['k', 'm', 'g', 'b', 'K', 'M', 'G', 'B'])
                            .parse::<i64>()
                            .is_ok(),
                        "maxmemory-policy" => matches!(
                            v.to_ascii_lowercase().as_str(),
                            "noeviction"
                                | "allkeys-lru"
                                | "volatile-lru"
                                | "allkeys-lfu"
                                | "volatile-lfu"
                                | "allkeys-random"
                                | "volatile-random"
                                | "volatile-ttl"
                        ),
                        "appendfsync" => matches!(v.as_str(), "always" | "everysec" | "no"),
                        "appendonly" => {
                            let now = if sh.persist.writer.appendonly() {
                                "yes"
                            } else {
                                "no"
                            };
                            if v != now {
                                out.error("ERR CONFIG SET failed - appendonly is set at start (restart with --appendonly)");
                                return;
                            }
                            true
                        }
                        "auto-aof-rewrite-percentage" | "auto-aof-rewrite-min-size" => v
                            .trim_end_matches(['k', 'm', 'g', 'b', 'K', 'M', 'G', 'B'])
                            .parse::<u64>()
                            .is_ok(),
                        "requirepass"
                        | "notify-keyspace-events"
                        | "save"
                        | "loglevel"
                        | "latency-tracking" => true,
                        _ => {
                            out.error(&format!(
                                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                                lossy(p[0])
                            ));
                            return;
                        }
                    };
                    if !ok {
                        out.error(&format!(
                            "ERR CONFIG SET failed (possibly related to argument '{}') - argument couldn't be parsed into an integer",
                            lossy(p[0])
                        ));
                        return;
                    }
                    updates.push((k, v));
                }
                for (k, v) in updates {
                    let st = sh.persist.writer.state();
                    match k.as_str() {
                        "appendfsync" => {
                            if let Ok(f) = v.parse() {
                                st.set_fsync(f);
                            }
                        }
                        "auto-aof-rewrite-percentage" => {
                            st.rewrite_percentage
                                .store(v.parse().unwrap_or(100), Ordering::Relaxed);
                        }
                        "auto-aof-rewrite-min-size" => {
                            st.rewrite_min_size.store(parse_size(&v), Ordering::Relaxed);
                        }
                        _ => {}
                    }
                    cfg.insert(k, v);
                }
                out.ok();
            }
            "RESETSTAT" if a.len() == 2 => {
                e.cmdstats.iter_mut().for_each(|c| *c = Default::default());
                e.stats = Default::default();
                sh.commands.store(0, Ordering::Relaxed);
                sh.connections.store(0, Ordering::Relaxed);
                out.ok();
            }
            "REWRITE" if a.len() == 2 => {
                out.error("ERR The server is running without a config file")
            }
            _ => out.error(&help_err(a[1], "CONFIG")),
        }
    }

    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: a clean stop (the append-only file is
    /// synced either way); SAVE also writes a snapshot first. No reply on success: the
    /// connection closes, as with Redis.
    fn shutdown(&mut self, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
        let (mut save, mut nosave, mut abort) = (false, false, false);
        for x in &a[1..] {
            match x.to_ascii_uppercase().as_slice() {
                b"SAVE" => save = true,
                b"NOSAVE" => nosave = true,
                b"NOW" | b"FORCE" => {}
                b"ABORT" => abort = true,
                _ => return out.error("ERR syntax error"),
            }
        }
        if save && nosave || abort && a.len() > 2 {
            return out.error("ERR syntax error");
        }
        if abort {
            return out.error("ERR No shutdown in progress.");
        }
        if save && let Err(x) = sh.persist.save(e) {
            return out.error(&format!("ERR Errors trying to SHUTDOWN. Check logs. ({x})"));
        }
        sh.shutdown.notify_one();
        self.closing = true;
    }

    /// CRDT.LINK proto db from to: a peer asks to turn this connection into a link.
    fn crdt_link(&mut self, sh: &Shared, a: &[&[u8]], out: &mut Out) {
        if self.multi.is_some() {
            out.error("ERR CRDT.LINK inside MULTI is not allowed");
            return;
        }
        if sh.paused.load(Ordering::Acquire) {
            out.error("ERR replication is paused on this instance");
            return;
        }
        let checked = sh
            .repl
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check_hello(a[1], a[2], a[3], a[4]);
        match checked {
            Ok(peer) => {
                out.ok();
                self.link = Some(peer);
            }
            Err(why) => {
                tracing::warn!("refused a peer link: {why}");
                out.error(&format!("ERR link refused: {why}"));
                self.closing = true;
            }
        }
    }

    fn cleanup(&mut self, sh: &Shared) {
        self.drop_subscriptions(sh);
        if self.watching || self.blocked.is_some() {
            let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
            e.unwatch(self.id);
            sh.blocked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&mut e, self.id);
        }
        sh.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// CRDT.SYNC PAUSE|RESUME|STATUS.
fn crdt_sync(sh: &Shared, e: &mut Engine, sub: &[u8], out: &mut Out) {
    let mut r = sh.repl.lock().unwrap_or_else(|p| p.into_inner());
    match sub.to_ascii_lowercase().as_slice() {
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
            let mut s = format!(
                "state:{}\r\n",
                if r.paused() { "paused" } else { "running" }
            );
            let now = wall_ms();
            for (id, p) in r.peers() {
                let (ops, ms) = r.lag(e, *id, now);
                s += &format!(
                    "peer{id}:state={},lag_ops={ops},lag_ms={ms}\r\n",
                    p.state.name()
                );
            }
            out.bulk(s.as_bytes());
        }
        _ => out.error(&format!(
            "ERR unknown subcommand '{}'. Try CRDT.SYNC PAUSE|RESUME|STATUS.",
            String::from_utf8_lossy(sub)
        )),
    }
}

/// Whether a request may write (EXEC runs queued writes).
fn writes(args: &[impl AsRef<[u8]>]) -> bool {
    args.first()
        .and_then(|n| command_id(n.as_ref()))
        .is_some_and(|id| COMMANDS[id].flags.has(Flags::WRITE) || COMMANDS[id].name == "exec")
}

/// A size with an optional k/m/g(b) suffix, as Redis's configuration takes it.
fn parse_size(v: &str) -> u64 {
    let l = v.to_ascii_lowercase();
    let t = l.trim_end_matches('b');
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1024),
        Some('m') => (&t[..t.len() - 1], 1024 * 1024),
        Some('g') => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    num.parse::<u64>().unwrap_or(0).saturating_mul(mul)
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn client_line(id: u64, c: &ClientInfo) -> String {
    let flags = if c.sub + c.psub > 0 {
        "P"
    } else if c.multi >= 0 {
        "x"
    } else {
        "N"
    };
    format!(
        "id={id} addr={} laddr={} fd=8 name={} age={} idle={} flags={flags} db=0 sub={} psub={} ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        c.addr,
        c.laddr,
        lossy(&c.name),
        c.created.elapsed().as_secs(),
        c.last.elapsed().as_secs(),
        c.sub,
        c.psub,
        c.multi,
        c.last_cmd.map_or("NULL", |i| COMMANDS[i].name),
        c.resp,
        lossy(&c.lib_name),
        lossy(&c.lib_ver),
    )
}
