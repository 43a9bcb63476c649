//! Scripts run on a thread of their own (one Lua VM per instance), so that while a long
//! script holds the keyspace the network threads stay free: past `busy-reply-threshold`
//! other clients get BUSY and SCRIPT KILL can stop it, as in Redis.
//!
//! A client's EVAL is sent to the script thread as a job and its answer awaited without
//! blocking the client's thread. The engine is used in turns, first come first served: a
//! client's batch of other commands takes one, and the script thread takes one whenever
//! jobs are queued, running up to [`MAX_TURN`] of them back to back. Each script locks
//! the engine, runs (its `redis.call`s go through [`ScriptHost`], with Redis's checks for
//! scripts), closes its ops as one group and runs the after-write path.

use crate::session::Session;
use crate::{Shared, wall_ms};
use bytes::Bytes;
use concord_acl::{LogContext, User};
use concord_engine::{CommandId, Engine, Flags, Rejection, command_id, resolve_from, spec};
use concord_resp::Out;
use concord_script::{CallCtx, Host, Invocation, Scripts};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak, mpsc};
use std::time::Duration;

/// The largest reply a script may give (its caller's output limit may be smaller).
const MAX_REPLY: usize = 512 << 20;

/// The reply other clients get while a script is past `busy-reply-threshold`.
pub(crate) const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// What the script thread is asked to do.
pub(crate) enum Job {
    /// EVAL or EVALSHA from a client.
    Run {
        call: Box<ScriptCall>,
        /// The reply and the append-only batch holding the script's writes.
        reply: tokio::sync::oneshot::Sender<(Bytes, u64)>,
    },
    /// A script inside EXEC: the caller holds the engine lock and waits, blocked, for
    /// the answer, so the engine it lends stays valid and unshared until then.
    Inline {
        call: Box<ScriptCall>,
        engine: EnginePtr,
        reply: mpsc::SyncSender<Bytes>,
    },
    /// FUNCTION's subcommands: the closure writes the reply; libraries it changed are
    /// saved when it says so.
    Functions(FunctionJob, tokio::sync::oneshot::Sender<Bytes>),
    /// SCRIPT LOAD: the SHA1, or the error reply.
    Load(Bytes, tokio::sync::oneshot::Sender<Result<String, String>>),
    /// SCRIPT EXISTS.
    Exists(Vec<Bytes>, tokio::sync::oneshot::Sender<Vec<bool>>),
    /// SCRIPT FLUSH.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// CONFIG SET busy-reply-threshold / lua-time-limit.
pub(crate) fn apply_busy_threshold(
    sh: &Shared,
    _: &mut Engine,
    cfg: &crate::settings::ServerConfig,
) -> Result<(), String> {
    sh.script
        .busy_ms
        .store(cfg.busy_reply_threshold, Ordering::Release);
    Ok(())
}

/// What a FUNCTION subcommand does on the script thread: it writes the reply and says
/// whether the libraries changed.
pub(crate) type FunctionJob = Box<dyn FnOnce(&mut Scripts, &mut dyn Host, &mut Out) -> bool + Send>;

/// What a script call runs.
pub(crate) enum Target {
    /// EVAL's body.
    Body(Bytes),
    /// EVALSHA's SHA1.
    Sha(Bytes),
    /// FCALL's function name.
    Function(Bytes),
}

/// A script to run and whom for.
pub(crate) struct ScriptCall {
    /// What runs.
    pub target: Target,
    /// KEYS.
    pub keys: Vec<Bytes>,
    /// ARGV.
    pub args: Vec<Bytes>,
    /// EVAL_RO / EVALSHA_RO.
    pub read_only: bool,
    /// The caller's user (its ACL rules apply to the script's commands).
    pub user: Arc<User>,
    /// The caller speaks RESP3.
    pub resp3: bool,
    /// The caller's output limit.
    pub limit: usize,
}

/// The engine an EXEC lends the script thread while it waits.
pub(crate) struct EnginePtr(pub *mut Engine);

// SAFETY: the lender holds the engine's lock and blocks until the script thread answers,
// so the pointer is valid and used by one thread at a time.
unsafe impl Send for EnginePtr {}

/// The running script, as the network threads see it.
pub(crate) struct Gate {
    /// A script runs now.
    pub running: AtomicBool,
    /// When it started, in ms since the instance started.
    pub since: AtomicU64,
    /// It issued writes (SCRIPT KILL then refuses: they cannot be undone).
    pub wrote: AtomicBool,
    /// Set by SCRIPT KILL.
    pub kill: Arc<AtomicBool>,
    /// `busy-reply-threshold` in ms (0: never busy).
    pub busy_ms: AtomicU64,
    /// Woken when a script ends (for the instance's own tasks).
    pub done: tokio::sync::Notify,
    /// One permit: the right to use the engine for a script or a client's batch, handed
    /// out in arrival order (one waiter woken at a time).
    turn: tokio::sync::Semaphore,
    /// The running script is a function (FCALL): FUNCTION KILL, not SCRIPT KILL, stops it.
    pub function: AtomicBool,
    /// Libraries and functions loaded (FUNCTION STATS, which answers while busy).
    pub libraries: AtomicUsize,
    /// See `libraries`.
    pub functions: AtomicUsize,
    jobs: std::sync::Mutex<mpsc::Sender<(Option<CommandId>, Job)>>,
    /// The script thread, woken when an EXEC lends it the engine while it waits for its
    /// turn.
    thread: std::sync::OnceLock<std::thread::Thread>,
}

impl Gate {
    /// Starts the script thread; `me` is the instance it serves.
    pub fn start(me: Weak<Shared>, version: &'static str, busy_ms: u64) -> Gate {
        let kill = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let flag = Arc::clone(&kill);
        // The VM is made on its thread and never leaves it.
        std::thread::Builder::new()
            .name("concord-script".into())
            .stack_size(concord_script::STACK_SIZE)
            .spawn(move || match Scripts::new(version) {
                Ok(mut scripts) => {
                    scripts.set_kill_flag(flag);
                    serve(me, rx, scripts);
                }
                Err(e) => tracing::error!("scripts are unavailable: the Lua VM did not start: {e}"),
            })
            .expect("the script thread starts");
        Gate {
            running: AtomicBool::new(false),
            since: AtomicU64::new(0),
            wrote: AtomicBool::new(false),
            kill,
            busy_ms: AtomicU64::new(busy_ms),
            done: tokio::sync::Notify::new(),
            turn: tokio::sync::Semaphore::new(1),
            function: AtomicBool::new(false),
            libraries: AtomicUsize::new(0),
            functions: AtomicUsize::new(0),
            jobs: std::sync::Mutex::new(tx),
            thread: std::sync::OnceLock::new(),
        }
    }

    /// Sends a job for command `id` (counted in INFO commandstats once it ran; `None`:
    /// counted by the transaction that runs it); false when the script thread is gone.
    pub fn send(&self, id: Option<CommandId>, job: Job) -> bool {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((id, job))
            .is_ok()
    }

    /// Whether the running script is past the busy threshold.
    pub fn busy(&self, sh: &Shared) -> bool {
        let limit = self.busy_ms.load(Ordering::Acquire);
        self.running.load(Ordering::Acquire)
            && limit > 0
            && sh
                .uptime_ms()
                .saturating_sub(self.since.load(Ordering::Acquire))
                >= limit
    }

    /// Waits for the turn (first come, first served: a script, or a batch of other
    /// commands), unless the script running meanwhile passes the busy threshold (then
    /// `None`: the caller answers BUSY).
    pub async fn acquire(&self, sh: &Shared) -> Option<tokio::sync::SemaphorePermit<'_>> {
        if let Ok(p) = self.turn.try_acquire() {
            return Some(p);
        }
        loop {
            // Look again when the running script (if it is one) passes the threshold.
            let limit = match self.busy_ms.load(Ordering::Acquire) {
                0 => u64::MAX / 2,
                ms => ms,
            };
            let ran = sh
                .uptime_ms()
                .saturating_sub(self.since.load(Ordering::Acquire));
            let left = if self.running.load(Ordering::Acquire) {
                limit.saturating_sub(ran).max(1)
            } else {
                limit
            };
            match tokio::time::timeout(Duration::from_millis(left), self.turn.acquire()).await {
                Ok(Ok(permit)) => return Some(permit),
                Ok(Err(_)) => return None,
                Err(_) if self.busy(sh) => return None,
                Err(_) => {}
            }
        }
    }

    /// A script starts (on the script thread, in its turn, or inside an EXEC that
    /// holds the turn).
    pub fn started(&self, sh: &Shared, function: bool) {
        self.since.store(sh.uptime_ms(), Ordering::Release);
        self.wrote.store(false, Ordering::Release);
        self.kill.store(false, Ordering::Release);
        self.function.store(function, Ordering::Release);
        self.running.store(true, Ordering::Release);
    }

    /// The script ended.
    pub fn finished(&self) {
        self.running.store(false, Ordering::Release);
        self.done.notify_waiters();
    }

    /// Wakes the script thread (it may be waiting for its turn while an EXEC that holds
    /// the turn lends it the engine).
    pub fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// Waits until no script runs (for the instance's own tasks, which must not block
    /// their thread on the engine a script holds).
    pub async fn idle(&self) {
        loop {
            let ended = self.done.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if !self.running.load(Ordering::Acquire) {
                return;
            }
            ended.await;
        }
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL (true).
    pub fn kill(&self, function: bool) -> Result<(), &'static str> {
        if !self.running.load(Ordering::Acquire) {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        match (function, self.function.load(Ordering::Acquire)) {
            (false, true) => {
                return Err(
                    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
                );
            }
            (true, false) => return Err(BUSY),
            _ => {}
        }
        if self.wrote.load(Ordering::Acquire) {
            return Err(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        self.kill.store(true, Ordering::Release);
        Ok(())
    }
}

/// How long the script thread looks for the next job before it sleeps: under a steady
/// stream of scripts, sleeping and being woken for each costs more than the script.
const SPIN: Duration = Duration::from_micros(50);

/// The next job: looked for briefly, then waited for.
fn next_job(
    rx: &mpsc::Receiver<(Option<CommandId>, Job)>,
) -> Result<(Option<CommandId>, Job), mpsc::RecvError> {
    let until = std::time::Instant::now() + SPIN;
    loop {
        match rx.try_recv() {
            Ok(job) => return Ok(job),
            Err(mpsc::TryRecvError::Disconnected) => return Err(mpsc::RecvError),
            Err(mpsc::TryRecvError::Empty) if std::time::Instant::now() < until => {
                std::hint::spin_loop();
            }
            Err(mpsc::TryRecvError::Empty) => return rx.recv(),
        }
    }
}

/// Scripts run back to back in one turn at most; then clients' batches get theirs.
const MAX_TURN: usize = 64;

/// A waker that unparks the thread that made it (to wait for a future on a plain thread).
struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The script thread: takes the engine's turn when jobs are queued, runs up to
/// [`MAX_TURN`] of them back to back (one hand-off for many clients' scripts), then gives
/// the turn back; until the instance is gone.
fn serve(me: Weak<Shared>, rx: mpsc::Receiver<(Option<CommandId>, Job)>, mut scripts: Scripts) {
    let mut session: Option<Session> = None;
    let mut loaded = false;
    let mut pending: std::collections::VecDeque<(Option<CommandId>, Job)> =
        std::collections::VecDeque::new();
    loop {
        if pending.is_empty() {
            match next_job(&rx) {
                Ok(job) => pending.push_back(job),
                Err(_) => return,
            }
        }
        let Some(sh) = me.upgrade() else {
            return;
        };
        let _ = sh.script.thread.set(std::thread::current());
        if !loaded {
            load_functions(&sh, &mut scripts);
            loaded = true;
        }
        let sess = session.get_or_insert_with(|| script_session(&sh));
        // Waiting for the turn: an EXEC that holds it may lend its engine meanwhile.
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut acquire = std::pin::pin!(sh.script.turn.acquire());
        let permit = loop {
            if let std::task::Poll::Ready(p) = acquire.as_mut().poll(&mut cx) {
                break p;
            }
            while let Ok(job) = rx.try_recv() {
                pending.push_back(job);
            }
            while let Some(i) = pending
                .iter()
                .position(|(_, j)| matches!(j, Job::Inline { .. }))
            {
                let (id, job) = pending.remove(i).expect("found");
                let failed = process(&sh, sess, &mut scripts, job);
                count(&sh, id, failed);
            }
            // Woken by the turn, by a lent engine, or in time anyway.
            std::thread::park_timeout(Duration::from_millis(10));
        };
        let Ok(permit) = permit else {
            return;
        };
        permit.forget();
        for _ in 0..MAX_TURN {
            let Some((id, job)) = pending.pop_front().or_else(|| rx.try_recv().ok()) else {
                break;
            };
            let failed = process(&sh, sess, &mut scripts, job);
            count(&sh, id, failed);
        }
        sh.script.turn.add_permits(1);
    }
}

/// Counts a script command for INFO commandstats (on this thread: the engine may be held
/// by a script for long, and a network thread must never wait for it).
fn count(sh: &Shared, id: Option<CommandId>, failed: bool) {
    if let Some(id) = id {
        let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut e.cmdstats[id];
        st.calls += 1;
        st.failed += u64::from(failed);
    }
}

/// Runs one job and answers it; whether its reply is an error. A panic (a bug) fails this
/// job only: its caller gets an error.
fn process(sh: &Shared, sess: &mut Session, scripts: &mut Scripts, job: Job) -> bool {
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
        Job::Run { call, reply } => {
            let mut out = Out::new();
            let function = matches!(call.target, Target::Function(_));
            let seq = match prepare(sh, sess, scripts, &call, &mut out) {
                Some(sha) => {
                    let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
                    e.set_time(wall_ms());
                    let before = e.log().appended();
                    sh.script.started(sh, function);
                    run(sh, sess, scripts, &sha, &call, &mut e, &mut out);
                    // The script's ops are one group: peers and the file get them
                    // together or not at all.
                    e.commit();
                    sh.script.finished();
                    crate::effects::after_write(sh, &mut e, before)
                }
                None => 0,
            };
            let failed = out.buf.first() == Some(&b'-');
            let _ = reply.send((out.buf.freeze(), seq));
            failed
        }
        Job::Inline {
            call,
            engine,
            reply,
        } => {
            let mut out = Out::new();
            if let Some(sha) = prepare(sh, sess, scripts, &call, &mut out) {
                // SAFETY: see EnginePtr; the lender waits on `reply`.
                let e = unsafe { &mut *engine.0 };
                run(sh, sess, scripts, &sha, &call, e, &mut out);
            }
            sh.script.finished();
            let _ = reply.send(out.buf.freeze());
            false
        }
        Job::Load(body, reply) => {
            let r = scripts
                .load(&body, false)
                .map(|(sha, _)| sha)
                .map_err(|e| format!("ERR {e}"));
            let failed = r.is_err();
            let _ = reply.send(r);
            failed
        }
        Job::Exists(shas, reply) => {
            let r = shas
                .iter()
                .map(|s| scripts.exists(&String::from_utf8_lossy(s).to_ascii_lowercase()))
                .collect();
            let _ = reply.send(r);
            false
        }
        Job::Flush(reply) => {
            scripts.flush();
            let _ = reply.send(());
            false
        }
        Job::Functions(f, reply) => {
            let mut out = Out::new();
            if f(scripts, &mut LogHost, &mut out) {
                save_functions(sh, scripts);
            }
            let (libs, funcs) = scripts.function_counts();
            sh.script.libraries.store(libs, Ordering::Release);
            sh.script.functions.store(funcs, Ordering::Release);
            let failed = out.buf.first() == Some(&b'-');
            let _ = reply.send(out.buf.freeze());
            failed
        }
    }));
    ran.unwrap_or_else(|_| {
        sh.script.finished();
        true
    })
}

/// The host of a library being loaded: it may only log.
struct LogHost;

impl Host for LogHost {
    fn call(&mut self, _: &[&[u8]], _: &CallCtx, out: &mut Out) {
        out.error("ERR no commands while a library loads");
    }

    fn log(&mut self, level: u8, msg: &str) {
        log_line(level, msg);
    }

    fn acl_check(&mut self, _: &[&[u8]]) -> Option<bool> {
        None
    }
}

/// `redis.log` goes to the instance's log.
fn log_line(level: u8, msg: &str) {
    match level {
        0 | 1 => tracing::debug!(target: "concord::script", "{msg}"),
        2 => tracing::info!(target: "concord::script", "{msg}"),
        _ => tracing::warn!(target: "concord::script", "{msg}"),
    }
}

/// Where an instance keeps its function libraries (FUNCTION DUMP's format): they are the
/// instance's own, not replicated, and outlive restarts.
const FUNCTIONS_FILE: &str = "functions.dump";

/// Saves the libraries (temporary file, sync, rename), logging a failure.
fn save_functions(sh: &Shared, scripts: &Scripts) {
    let dir = std::path::Path::new(&sh.cfg.dir);
    let write = || -> std::io::Result<()> {
        let tmp = dir.join(format!("{FUNCTIONS_FILE}.tmp"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&scripts.function_dump())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, dir.join(FUNCTIONS_FILE))?;
        std::fs::File::open(dir)?.sync_all()
    };
    if let Err(e) = write() {
        tracing::error!("saving the function libraries in {}: {e}", dir.display());
    }
}

/// Loads the libraries saved by an earlier run, if any.
fn load_functions(sh: &Shared, scripts: &mut Scripts) {
    let path = std::path::Path::new(&sh.cfg.dir).join(FUNCTIONS_FILE);
    match std::fs::read(&path) {
        Ok(payload) => {
            if let Err(e) = scripts.function_restore(&payload, "FLUSH", &mut LogHost) {
                tracing::error!(
                    "{}: the function libraries were not loaded: {e}",
                    path.display()
                );
            }
            let (libs, funcs) = scripts.function_counts();
            sh.script.libraries.store(libs, Ordering::Release);
            sh.script.functions.store(funcs, Ordering::Release);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::error!("{}: {e}", path.display()),
    }
}

/// The session scripts' commands run in (Redis's script client).
fn script_session(sh: &Shared) -> Session {
    let (tx, _) = tokio::sync::mpsc::channel(1);
    let id = sh.next_client.fetch_add(1, Ordering::Relaxed);
    let mut s = Session::new(
        sh,
        id,
        crate::pubsub::Mailbox::new(tx),
        std::time::Instant::now(),
    );
    s.authed = true;
    s.script = true;
    s
}

/// Sets the script session up for `call` and finds its script (compiling an EVAL body);
/// its SHA1, or `None` with the error written.
fn prepare(
    sh: &Shared,
    sess: &mut Session,
    scripts: &mut Scripts,
    call: &ScriptCall,
    out: &mut Out,
) -> Option<String> {
    out.resp3 = call.resp3;
    out.limit = call.limit.min(MAX_REPLY);
    sess.set_user(sh, Arc::clone(&call.user));
    sess.resp3 = call.resp3;
    sess.refresh(sh);
    let (name, flags) = match &call.target {
        Target::Sha(sha) => {
            let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
            (sha.clone(), scripts.flags(&sha))
        }
        Target::Body(body) => match scripts.load(body, true) {
            Ok((sha, flags)) => (sha, Some(flags)),
            Err(e) => {
                out.error(&format!("ERR {e}"));
                return None;
            }
        },
        Target::Function(f) => {
            let f = String::from_utf8_lossy(f).into_owned();
            let Some(flags) = scripts.function_flags(&f) else {
                out.error("ERR Function not found");
                return None;
            };
            (f, Some(flags))
        }
    };
    let Some(flags) = flags else {
        out.error("NOSCRIPT No matching script. Please use EVAL.");
        return None;
    };
    use concord_script::ScriptFlags as F;
    if call.read_only && flags.has(F::DECLARED) && !flags.has(F::NO_WRITES) {
        out.error("ERR Can not execute a script with write flag using *_ro command.");
        return None;
    }
    if flags.has(F::DECLARED)
        && !flags.has(F::NO_WRITES)
        && !flags.has(F::ALLOW_OOM)
        && sess.hot.maxmemory > 0
        && crate::mem::used() as u64 > sess.hot.maxmemory
    {
        out.error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'");
        return None;
    }
    Some(name)
}

/// Runs the script or function `name` (as [`prepare`] found it) against the engine.
fn run(
    sh: &Shared,
    sess: &mut Session,
    scripts: &mut Scripts,
    name: &str,
    call: &ScriptCall,
    e: &mut Engine,
    out: &mut Out,
) {
    let keys: Vec<&[u8]> = call.keys.iter().map(|k| &k[..]).collect();
    let args: Vec<&[u8]> = call.args.iter().map(|a| &a[..]).collect();
    let inv = Invocation {
        keys: &keys,
        args: &args,
        read_only: call.read_only,
    };
    let mut host = ScriptHost { sh, sess, e };
    match call.target {
        Target::Function(_) => scripts.fcall(name, &inv, &mut host, out),
        _ => scripts.run(name, &inv, &mut host, out),
    }
    if out.over_limit() {
        // Cut short: an error instead of a reply that would break the protocol.
        out.buf.clear();
        out.error("ERR the script's reply is larger than the client's output limit allows");
    }
}

/// What a script's `redis.call` reaches: the command table and the engine, with the
/// checks Redis makes of commands called from scripts.
struct ScriptHost<'a> {
    sh: &'a Shared,
    sess: &'a mut Session,
    e: &'a mut Engine,
}

impl ScriptHost<'_> {
    /// The refusal of a command called from a script, if any.
    fn refusal(&mut self, args: &[&[u8]], ctx: &CallCtx) -> Result<CommandId, String> {
        let Some(top) = command_id(args[0]) else {
            return Err("ERR Unknown Redis command called from script".into());
        };
        let id = match resolve_from(top, args) {
            Ok(id) => id,
            Err(Rejection::Arity(_)) => {
                return Err("ERR Wrong number of args calling Redis command from script".into());
            }
            Err(why) => return Err(why.to_string()),
        };
        let flags = spec(id).flags;
        if flags.has(Flags::NOSCRIPT) {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        if !self.sess.rules.unrestricted
            && let Err(d) = crate::access::check(&self.sess.user, self.sess.rules, id, args)
        {
            let msg = crate::cmd::acl::denied(self.sh, self.sess, id, args, &d, LogContext::Lua);
            return Err(format!("ERR ACL failure in script: {msg}"));
        }
        if (flags.has(Flags::WRITE) || flags.has(Flags::MAY_REPLICATE)) && ctx.read_only {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        if flags.has(Flags::WRITE) {
            if let Some(why) = self.sh.persist.write_error() {
                return Err(format!("MISCONF Errors writing to the AOF file: {why}"));
            }
            if let Some(why) = crate::cmd::member::write_refusal(self.sh) {
                return Err(why.to_string());
            }
        }
        if flags.has(Flags::DENYOOM)
            && !ctx.allow_oom
            && self.sess.hot.maxmemory > 0
            && crate::mem::used() as u64 > self.sess.hot.maxmemory
        {
            return Err("OOM command not allowed when used memory > 'maxmemory'.".into());
        }
        Ok(id)
    }
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, args: &[&[u8]], ctx: &CallCtx, out: &mut Out) {
        let id = match self.refusal(args, ctx) {
            Ok(id) => id,
            Err(why) => return out.error(&why),
        };
        self.sess.resp3 = ctx.resp3;
        let appended = self.e.pending_ops();
        self.sess.run(self.sh, self.e, id, args, out);
        // A blocking command does not block in a script: its empty reply stands.
        let _ = self.e.take_block();
        if self.e.pending_ops() != appended {
            self.sh.script.wrote.store(true, Ordering::Release);
        }
    }

    fn log(&mut self, level: u8, msg: &str) {
        log_line(level, msg);
    }

    fn acl_check(&mut self, args: &[&[u8]]) -> Option<bool> {
        let top = command_id(args[0])?;
        let id = resolve_from(top, args).ok()?;
        Some(
            self.sess.rules.unrestricted
                || crate::access::check(&self.sess.user, self.sess.rules, id, args).is_ok(),
        )
    }
}
