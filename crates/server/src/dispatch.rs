//! The one door every request goes through: find the command by id, check it (arity,
//! authentication, transaction and subscriber state, refusals while the files or memory
//! cannot take writes), then run it by id: the engine's handler for data commands, the
//! server's (`crate::cmd`) for the others. A batch ends on the after-write path.

use crate::session::{Replies, Session};
use crate::{Shared, wall_ms};
use bytes::Bytes;
use concord_acl::LogContext;
use concord_engine::{
    COMMANDS, CommandId, Engine, Flags, Rejection, command_id, full_name, parent, resolve_from,
    spec,
};
use concord_resp::Out;
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Requests to run: those parsed from a read, or those kept while the client was blocked.
pub(crate) trait Requests {
    /// How many.
    fn count(&self) -> usize;
    /// The arguments of request `i`.
    fn view(&self, i: usize) -> SmallVec<[&[u8]; 8]>;
    /// Request `i`, to keep past these requests.
    fn owned(&self, i: usize) -> Vec<Bytes> {
        owned(&self.view(i))
    }
}

impl Requests for Vec<Vec<Bytes>> {
    fn count(&self) -> usize {
        self.len()
    }

    fn view(&self, i: usize) -> SmallVec<[&[u8]; 8]> {
        self[i].iter().map(|a| &a[..]).collect()
    }

    fn owned(&self, i: usize) -> Vec<Bytes> {
        self[i].clone()
    }
}

impl Requests for VecDeque<Vec<Bytes>> {
    fn count(&self) -> usize {
        self.len()
    }

    fn view(&self, i: usize) -> SmallVec<[&[u8]; 8]> {
        self[i].iter().map(|a| &a[..]).collect()
    }

    fn owned(&self, i: usize) -> Vec<Bytes> {
        self[i].clone()
    }
}

/// The first `end` of other requests (the part of a pipeline a pause lets run).
struct Part<'a, R> {
    reqs: &'a R,
    end: usize,
}

impl<R: Requests> Requests for Part<'_, R> {
    fn count(&self) -> usize {
        self.end
    }

    fn view(&self, i: usize) -> SmallVec<[&[u8]; 8]> {
        self.reqs.view(i)
    }
}

/// The bytes a kept request counts for against `client-query-buffer-limit`.
pub(crate) fn kept_bytes(req: &[Bytes]) -> usize {
    req.iter().map(|a| a.len() + 16).sum()
}

/// An owned copy of a request, to keep past the read buffer it points into: one buffer
/// that its arguments share, so that copying or cloning them allocates nothing more.
pub(crate) fn owned(args: &[&[u8]]) -> Vec<Bytes> {
    let mut all = bytes::BytesMut::with_capacity(args.iter().map(|a| a.len()).sum());
    for a in args {
        all.extend_from_slice(a);
    }
    let all = all.freeze();
    let mut at = 0;
    args.iter()
        .map(|a| {
            at += a.len();
            all.slice(at - a.len()..at)
        })
        .collect()
}

/// Bytes as text for messages and names (invalid UTF-8 replaced).
pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Redis's reply for a bad subcommand of a server command.
pub(crate) fn help_err(sub: &[u8], cmd: &str) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        lossy(sub),
        cmd
    )
}

/// How a batch starts (see [`Session::script_first`]).
enum First<'r> {
    /// With a command the batch runs.
    Batch,
    /// With a script command, kept to run as a job before the rest.
    Deferred,
    /// With a script command (`id`) and nothing else: it runs straight from the request.
    Alone(CommandId, SmallVec<[&'r [u8]; 8]>),
}

/// How many EVALs and FCALLs of one pipeline make one script job.
const MAX_SCRIPTS_SENT: usize = 64;

/// How many requests of a pipeline have their keys prefetched at once.
const PREFETCH_BATCH: usize = 64;

impl Session {
    /// Runs requests and waits, with `appendfsync always`, until their writes are durable.
    /// A script command among them runs as a script job, then the rest follow.
    pub async fn run_requests(&mut self, sh: &Shared, reqs: &impl Requests, out: &mut Out) {
        let ran = self.run_some(sh, reqs, out).await;
        self.keep_rest(reqs, ran);
        while let Some(args) = self.deferred.take() {
            if crate::cmd::multi::is_exec_request(&args) {
                crate::cmd::scripting::run_exec(self, sh, &args, out).await;
            } else if crate::cmd::scripting::is_call(&args) {
                // The EVALs and FCALLs that follow it make one job with it,
                // their answers awaited in order.
                let mut group = vec![args];
                let follow = self
                    .queued
                    .iter()
                    .take_while(|r| {
                        let view: Vec<&[u8]> = r.iter().map(|a| &a[..]).collect();
                        // One held by CLIENT PAUSE waits in the queue, as any command does.
                        self.plain() && crate::cmd::scripting::is_call(r) && !self.held(sh, &view)
                    })
                    .count()
                    .min(MAX_SCRIPTS_SENT - 1);
                for r in self.queued.drain(..follow) {
                    self.queued_bytes = self.queued_bytes.saturating_sub(kept_bytes(&r));
                    group.push(r);
                }
                crate::cmd::scripting::run_calls(self, sh, &group, out).await;
            } else if crate::cmd::migrate::is_request(&args) {
                crate::cmd::migrate::run(self, sh, &args, out).await;
            } else {
                crate::cmd::scripting::run_deferred(self, sh, &args, out).await;
            }
            if self.closing || self.blocked.is_some() || self.queued.is_empty() {
                return;
            }
            // A held request next: the replies so far go out before the wait.
            if sh.pause.active()
                && self.queued.front().is_some_and(|r| {
                    let view: Vec<&[u8]> = r.iter().map(|a| &a[..]).collect();
                    self.held(sh, &view)
                })
            {
                self.held_rest = true;
                return;
            }
            // What follows runs from the queue itself: requests are copied once, however
            // many scripts a pipeline interleaves.
            let mut rest = std::mem::take(&mut self.queued);
            let ran = self.run_some(sh, &rest, out).await;
            assert!(self.queued.is_empty(), "run_some keeps nothing itself");
            for r in rest.drain(..ran) {
                self.queued_bytes = self.queued_bytes.saturating_sub(kept_bytes(&r));
            }
            if self.blocked.is_some() || self.deferred.is_some() || self.held_rest {
                self.queued = rest;
            } else {
                self.queued_bytes = 0;
            }
        }
    }

    /// Keeps the requests from `ran` on, behind a command that blocked or runs as a
    /// script job.
    fn keep_rest(&mut self, reqs: &impl Requests, ran: usize) {
        if self.blocked.is_none() && self.deferred.is_none() && !self.held_rest {
            return;
        }
        for i in ran..reqs.count() {
            let req = owned(&reqs.view(i));
            self.queued_bytes += kept_bytes(&req);
            self.queued.push_back(req);
        }
    }

    /// Runs requests until one blocks or must run as a script job; how many it
    /// consumed (the rest are the caller's to keep). While CLIENT PAUSE holds the first
    /// request, it waits; when it holds a later one, those before it run and the rest is
    /// kept (`held_rest`), so that their replies go out before the wait.
    pub(crate) async fn run_some(
        &mut self,
        sh: &Shared,
        reqs: &impl Requests,
        out: &mut Out,
    ) -> usize {
        self.held_rest = false;
        if !sh.pause.active() {
            return self.run_unpaused(sh, reqs, out).await;
        }
        let count = reqs.count();
        loop {
            match (0..count).find(|&i| self.held(sh, &reqs.view(i))) {
                None => return self.run_unpaused(sh, reqs, out).await,
                Some(0) => {
                    tokio::select! {
                        _ = sh.pause.changed() => {}
                        _ = self.mailbox.kill.wait() => {
                            // Killed while waiting: nothing more runs.
                            self.closing = true;
                            return count;
                        }
                    }
                }
                Some(end) => {
                    let ran = self.run_unpaused(sh, &Part { reqs, end }, out).await;
                    self.held_rest = ran == end;
                    return ran;
                }
            }
        }
    }

    /// Whether CLIENT PAUSE holds a request now: every one under ALL; under WRITE, those
    /// that may write (EXEC by what it queued; EVAL unless its shebang says `no-writes`),
    /// as Redis decides before running or queueing a command. Unknown commands, wrong
    /// arities and commands that need authentication first are refused at once instead.
    fn held(&self, sh: &Shared, args: &[&[u8]]) -> bool {
        let Some(id) = args
            .first()
            .and_then(|n| command_id(n))
            .and_then(|top| resolve_from(top, args).ok())
        else {
            return false;
        };
        if !self.authed && !spec(id).flags.has(Flags::NO_AUTH) {
            return false;
        }
        let flags = self.invocation_flags(id);
        let may_write = (flags.has(Flags::WRITE) || flags.has(Flags::MAY_REPLICATE))
            && !crate::cmd::scripting::declares_no_writes(id, args);
        sh.pause.holds(may_write)
    }

    /// [`Session::run_some`] once no pause holds the requests.
    async fn run_unpaused(&mut self, sh: &Shared, reqs: &impl Requests, out: &mut Out) -> usize {
        if reqs.count() == 0 {
            return 0;
        }
        if !sh.caught_up.load(Ordering::Acquire) && self.may_write(reqs) {
            crate::wait_caught_up(sh).await;
        }
        if crate::cmd::member::writes_held(sh) && self.may_write(reqs) {
            crate::cmd::member::wait_writes_open(sh).await;
        }
        match self.script_first(sh, reqs) {
            First::Batch => {}
            First::Deferred => return 1,
            First::Alone(id, req) => {
                crate::cmd::scripting::run_lone(self, sh, Some(id), &req, out).await;
                return 1;
            }
        }
        // The batch takes its turn at the engine, after any script before it; past the
        // busy threshold of a running script it is answered BUSY (SCRIPT KILL aside).
        let Some(turn) = sh.script.acquire(sh).await else {
            for i in 0..reqs.count() {
                crate::cmd::scripting::while_busy(self, sh, &reqs.view(i), out);
            }
            return reqs.count();
        };
        let (seq, ran) = self.run_batch(sh, reqs, out);
        drop(turn);
        // appendfsync always: acknowledge only what is on disk.
        if seq > 0 && sh.persist.acks_wait() {
            sh.persist.wait_durable(seq).await;
        }
        ran
    }

    /// Warms the cache for the first key of each request of a pipeline chunk (see
    /// [`Engine::prefetch`]); returns the slot hint of each request (`None`: no key, or
    /// not found).
    fn prefetch_keys(
        &mut self,
        e: &Engine,
        views: &[SmallVec<[&[u8]; 8]>],
    ) -> SmallVec<[Option<u32>; 32]> {
        let mut at: SmallVec<[usize; 32]> = SmallVec::new();
        let mut keys: SmallVec<[&[u8]; 32]> = SmallVec::new();
        for (i, v) in views.iter().enumerate() {
            if v.len() > 1
                && self
                    .command_id(v[0])
                    .is_some_and(|id| concord_engine::legacy_range(id).0 == 1)
            {
                at.push(i);
                keys.push(v[1]);
            }
        }
        let mut hints: SmallVec<[Option<u32>; 32]> = SmallVec::from_elem(None, views.len());
        for (i, slot) in at.into_iter().zip(e.prefetch(&keys)) {
            hints[i] = slot;
        }
        hints
    }

    /// Whether this client's script commands need none of the checks a batch makes
    /// (authenticated, no ACL restriction, no transaction or subscriptions).
    fn plain(&self) -> bool {
        self.authed && self.rules.unrestricted && self.multi.is_none() && !self.subscribed_resp2()
    }

    /// A batch that starts with a script command a plain client may run becomes a
    /// script job at once (the rest waits behind it), without taking a turn at the
    /// engine only to find that out.
    fn script_first<'r>(&mut self, sh: &Shared, reqs: &'r impl Requests) -> First<'r> {
        let first = reqs.view(0);
        // Every batch comes here: a name test first, the lookups only for scripts.
        if !first
            .first()
            .is_some_and(|n| crate::cmd::scripting::may_run_there(n))
        {
            return First::Batch;
        }
        self.refresh(sh);
        let plain = self.plain() && self.deferred.is_none();
        let Some(id) = plain
            .then(|| first.first().and_then(|n| command_id(n)))
            .flatten()
            .and_then(|top| resolve_from(top, &first).ok())
        else {
            return First::Batch;
        };
        // FUNCTION LOAD and the other writes take the full path: the checks of writes.
        let flags = spec(id).flags;
        if !crate::cmd::scripting::runs_as_job(id)
            || flags.has(Flags::WRITE)
            || flags.has(Flags::DENYOOM)
        {
            return First::Batch;
        }
        self.skipping = self.replies == Replies::SkipNext;
        if self.skipping {
            self.replies = Replies::On;
        }
        sh.commands.fetch_add(1, Ordering::Relaxed);
        if reqs.count() == 1 && crate::cmd::scripting::is_call(&first) {
            return First::Alone(id, first);
        }
        self.deferred = Some(owned(&first));
        First::Deferred
    }

    /// Whether any of the requests may write (EXEC writes what its transaction queued; a
    /// script may write).
    fn may_write(&self, reqs: &impl Requests) -> bool {
        (0..reqs.count()).any(|i| {
            let args = reqs.view(i);
            args.first()
                .and_then(|n| command_id(n))
                .and_then(|top| resolve_from(top, &args).ok())
                .is_some_and(|id| {
                    let flags = self.invocation_flags(id);
                    flags.has(Flags::WRITE) || flags.has(Flags::MAY_REPLICATE)
                })
        })
    }

    /// The flags a command runs with here: EXEC has those of the commands it runs.
    fn invocation_flags(&self, id: CommandId) -> Flags {
        let flags = spec(id).flags;
        match &self.multi {
            Some(m) if crate::cmd::multi::is_exec(id) => flags | m.flags,
            _ => flags,
        }
    }

    /// Runs a pipeline of requests; returns the append-only file batch holding their
    /// writes (0 when they wrote nothing) and how many requests it consumed. Stops at a
    /// command that blocks or runs as a script job, and at a reply past the output
    /// limit.
    fn run_batch(&mut self, sh: &Shared, reqs: &impl Requests, out: &mut Out) -> (u64, usize) {
        let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
        e.set_time(wall_ms());
        // While writes are paused, neither expiry nor eviction deletes, as in Redis.
        let writes_held = sh.pause.active() && sh.pause.holds(true);
        e.hold_expiry(writes_held);
        self.writes_held = writes_held;
        self.clock = Instant::now();
        self.tick = sh.timer.raw();
        let before = e.log().appended();
        let mut last = None;
        let mut calls = 0;
        let mut ran = 0;
        // In chunks: the keys of a chunk are prefetched together, then its requests run.
        'batch: for start in (0..reqs.count()).step_by(PREFETCH_BATCH) {
            let end = (start + PREFETCH_BATCH).min(reqs.count());
            let views: SmallVec<[SmallVec<[&[u8]; 8]>; 16]> =
                (start..end).map(|i| reqs.view(i)).collect();
            let hints = if views.len() > 1 {
                self.prefetch_keys(&e, &views)
            } else {
                SmallVec::new()
            };
            for (j, view) in views.iter().enumerate() {
                ran += 1;
                if view.is_empty() {
                    continue;
                }
                if let Some(Some(slot)) = hints.get(j) {
                    e.hint_key(*slot);
                }
                calls += 1;
                let mark = out.len();
                self.skipping = self.replies == Replies::SkipNext;
                if self.skipping {
                    self.replies = Replies::On;
                }
                last = self.call(sh, &mut e, view, out).or(last);
                if self.muted() {
                    // CLIENT REPLY OFF or SKIP: the command ran, its reply is dropped.
                    out.buf.truncate(mark);
                }
                if out.over_limit() {
                    // Redis closes such a client as soon as it can, running nothing more.
                    self.closing = true;
                }
                if self.closing
                    || self.link.is_some()
                    || self.blocked.is_some()
                    || self.deferred.is_some()
                {
                    break 'batch;
                }
            }
        }
        sh.commands.fetch_add(calls, Ordering::Relaxed);
        let seq = crate::effects::after_client_write(sh, &mut e, before, self.actor);
        drop(e);
        let multi = self.multi.as_ref().map_or(-1, |m| m.queue.len() as i64);
        let clock = self.clock;
        self.update_info(sh, |c| {
            c.last = clock;
            if last.is_some() {
                c.last_cmd = last;
            }
            c.multi = multi;
        });
        (seq, ran)
    }

    /// Refuses a request (it counts as rejected, and aborts a transaction being queued).
    fn refuse(
        &mut self,
        sh: &Shared,
        e: &mut Engine,
        id: CommandId,
        msg: &str,
        out: &mut Out,
    ) -> Option<CommandId> {
        if let Some(m) = &mut self.multi {
            m.error = true;
        }
        e.cmdstats[id].rejected += 1;
        sh.errors.send(out, msg);
        Some(id)
    }

    /// Runs one request: checks, MULTI queueing, then the command itself. Returns the
    /// command's id when it names one.
    pub fn call(
        &mut self,
        sh: &Shared,
        e: &mut Engine,
        args: &[&[u8]],
        out: &mut Out,
    ) -> Option<CommandId> {
        // Rules and settings may have changed since the last request, even within this
        // pipeline (ACL SETUSER, CONFIG SET): two atomic loads when they did not.
        self.refresh(sh);
        let Some(top) = self.command_id(args[0]) else {
            if let Some(m) = &mut self.multi {
                m.error = true;
            }
            sh.errors
                .send(out, &Rejection::unknown_command(args).to_string());
            return None;
        };
        // CLIENT CACHING covers one command, or one transaction, past CLIENT commands.
        if self.caching && self.multi.is_none() && self.prev_top != crate::cmd::id_of("client") {
            self.caching = false;
        }
        self.prev_top = top;
        let id = match resolve_from(top, args) {
            Ok(id) => id,
            Err(why) => return self.refuse(sh, e, top, &why.to_string(), out),
        };
        let spec = spec(id);
        if !self.authed && !spec.flags.has(Flags::NO_AUTH) {
            return self.refuse(sh, e, id, "NOAUTH Authentication required.", out);
        }
        if !self.rules.unrestricted
            && let Err(d) = crate::access::check(&self.user, self.rules, id, args)
        {
            let context = if self.multi.is_some() {
                LogContext::Multi
            } else {
                LogContext::Toplevel
            };
            let msg = crate::cmd::acl::denied(sh, self, id, args, &d, context);
            return self.refuse(sh, e, id, &format!("NOPERM {msg}"), out);
        }
        if self.multi.is_some()
            && spec.flags.has(Flags::NO_MULTI)
            && !spec.flags.has(Flags::NOT_QUEUED)
        {
            return self.refuse(
                sh,
                e,
                id,
                "ERR Command not allowed inside a transaction",
                out,
            );
        }
        let flags = self.invocation_flags(id);
        if flags.has(Flags::WRITE) {
            if sh.persist.closed.load(Ordering::Acquire) {
                return self.refuse(sh, e, id, "ERR the server is shutting down", out);
            }
            if let Some(why) = sh.persist.write_error() {
                let msg = format!("MISCONF Errors writing to the AOF file: {why}");
                return self.refuse(sh, e, id, &msg, out);
            }
            if let Some(why) = crate::cmd::member::write_refusal(sh) {
                return self.refuse(sh, e, id, why, out);
            }
        }
        // Past maxmemory, keys are evicted before any command, as in Redis; writes that
        // may grow memory are refused when nothing could be evicted. A leaving instance
        // issues no ops of its own: it evicts nothing.
        if self.hot.maxmemory > 0
            && !self.writes_held
            && !sh.leaving.load(std::sync::atomic::Ordering::Acquire)
            && crate::mem::make_room(e, self.hot.maxmemory, self.hot.evict_budget)
                == crate::mem::Room::Full
            && flags.has(Flags::DENYOOM)
        {
            return self.refuse(
                sh,
                e,
                id,
                "OOM command not allowed when used memory > 'maxmemory'.",
                out,
            );
        }
        if self.subscribed_resp2() && !spec.flags.has(Flags::SUBSCRIBED_OK) {
            let msg = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                full_name(id)
            );
            return self.refuse(sh, e, id, &msg, out);
        }
        if let Some(m) = &mut self.multi
            && !spec.flags.has(Flags::NOT_QUEUED)
        {
            m.bytes += args.iter().map(|a| a.len() + 16).sum::<usize>();
            if m.bytes > self.hot.query_buffer_limit {
                // A transaction holds its requests as the query buffer would: the same
                // bound applies, and the client is closed past it, as Redis closes one.
                self.closing = true;
                return self.refuse(
                    sh,
                    e,
                    id,
                    "ERR the transaction passed client-query-buffer-limit",
                    out,
                );
            }
            m.queue.push(owned(args));
            m.flags = m.flags | spec.flags;
            m.scripts |= crate::cmd::scripting::needs_job(args);
            out.simple("QUEUED");
            return Some(id);
        }
        if crate::cmd::scripting::runs_as_job(id)
            || (crate::cmd::migrate::is(id) && !self.script)
            || (crate::cmd::multi::is_exec(id) && self.multi.as_ref().is_some_and(|m| m.scripts))
        {
            // Run once this batch is done, without holding the engine meanwhile.
            self.deferred = Some(owned(args));
            return Some(id);
        }
        let before = out.len();
        self.run(sh, e, id, args, out);
        e.commit();
        if let Some(block) = e.take_block() {
            // Nothing to pop: keep the timeout reply aside and wait for a push.
            let reply = Bytes::copy_from_slice(&out.buf[before..]);
            out.buf.truncate(before);
            // A deadline past what the clock can hold (Redis takes up to 2^63 ms) is never
            // reached: no deadline.
            let deadline = (block.timeout_ms > 0)
                .then(|| {
                    tokio::time::Instant::now()
                        .checked_add(std::time::Duration::from_millis(block.timeout_ms))
                })
                .flatten();
            let waiter = crate::blocking::Waiter {
                args: block.retry.unwrap_or_else(|| owned(args)),
                keys: block.keys,
                resp3: self.resp3,
                timeout_reply: reply.clone(),
                tx: self.mailbox.tx.clone(),
                user: self.user.name().to_vec(),
            };
            sh.blocked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .add(e, self.id, waiter);
            self.blocked = Some((reply, deadline));
        }
        Some(id)
    }

    /// The top-level command's id; a pipeline of one command looks its name up once.
    fn command_id(&mut self, name: &[u8]) -> Option<CommandId> {
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

    /// Executes a command (or subcommand) that passed the checks, counting it for INFO
    /// commandstats: the engine's handler for data commands, the server's for the others
    /// (a container command's handler runs its subcommands).
    pub fn run(
        &mut self,
        sh: &Shared,
        e: &mut Engine,
        id: CommandId,
        args: &[&[u8]],
        out: &mut Out,
    ) {
        let top = parent(id).unwrap_or(id);
        let before = out.len();
        // A followed primary's writes keep their stream ids; every other session's follow
        // stream-id-mode (set per command: scripts and transactions run here too).
        e.set_ids_as_given(self.internal);
        if let Some(why) = crate::access::sort_refusal(&self.user, self.rules, id, args) {
            out.error(&why);
        } else if !e.execute_checked(&COMMANDS[top], args, out) {
            match crate::cmd::handler(top) {
                Some(h) => h(self, sh, e, args, out),
                None => out.error(&Rejection::unknown_command(args).to_string()),
            }
        }
        let failed = out.buf.get(before) == Some(&b'-');
        // A script's commands are not counted: the script's own reply is.
        if failed && !self.script {
            sh.errors.reply(&out.buf[before..]);
        }
        if let Some(reader) = self.reader()
            && spec(id).flags.has(Flags::READONLY)
            && !spec(id).flags.has(Flags::PUBSUB)
            && !crate::cmd::scripting::runs_as_job(id)
        {
            crate::tracking::remember(sh, e, reader, self.actor, id, args);
        }
        // One clock read per command: its time runs from the end of the one before
        // (or the start of the batch).
        let end = sh.timer.raw();
        let nanos = sh.timer.delta_as_nanos(self.tick, end);
        let s = &mut e.cmdstats[id];
        s.calls += 1;
        s.nanos += nanos;
        self.tick = end;
        if failed {
            s.failed += 1;
        }
        crate::observe::command(self, sh, s, id, args, nanos);
    }
}
