//! Scripts (one Lua VM per instance) run on the network thread, in the engine's turn:
//! turns go first come, first served, to a client's batch of commands, to a client's
//! script job, or to the instance's own tasks. A job runs on a stack of its own (see
//! [`crate::fiber`]) and a long script steps aside every so often, so that while it holds
//! the keyspace other clients are still served: past `busy-reply-threshold` they get
//! BUSY and SCRIPT KILL can stop it, as in Redis.
//!
//! Each script locks the engine, runs (its `redis.call`s go through [`ScriptHost`], with
//! Redis's checks for scripts), closes its ops as one group and runs the after-write path.

mod call;
mod host;

pub(crate) use call::{CallHead, ScriptCall, SentCall, Target};
use host::{LogHost, ScriptHost};

use crate::session::Session;
use crate::{Shared, wall_ms};
use bytes::Bytes;
use concord_engine::{CommandId, Engine};
use concord_resp::Out;
use concord_script::{Host, Invocation, Scripts};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak, mpsc};
use std::time::Duration;

/// The largest reply a script may give (its caller's output limit may be smaller).
const MAX_REPLY: usize = 512 << 20;

/// The reply other clients get while a script is past `busy-reply-threshold`.
pub(crate) const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// What a client asks of the VM.
pub(crate) enum Job {
    /// The EVALs, EVALSHAs and FCALLs of one client's pipeline, run back to back and
    /// answered at once (one wake-up of the client's thread, not one per script).
    Run {
        /// Each script with its command (counted in INFO commandstats once it ran).
        calls: Vec<(CommandId, SentCall)>,
        /// Each script's reply, in order, and the last append-only batch holding writes.
        reply: tokio::sync::oneshot::Sender<(Vec<Bytes>, u64)>,
    },
    /// EXEC of a transaction that holds a script (or SCRIPT / FUNCTION subcommands): the
    /// client's session comes along and goes back with the reply, so the transaction
    /// runs as a job, in a turn of its own, where BUSY and SCRIPT KILL apply to it.
    Exec {
        /// The client's session, lent for the transaction.
        sess: Box<Session>,
        /// EXEC's id.
        id: CommandId,
        /// The client's output room.
        limit: usize,
        /// The session back, the reply, and the append-only batch holding the writes.
        reply: tokio::sync::oneshot::Sender<(Box<Session>, Bytes, u64)>,
    },
    /// SCRIPT LOAD | EXISTS | FLUSH or a FUNCTION subcommand: its arguments, whether the
    /// caller speaks RESP3, and where the reply goes.
    Admin(Vec<Bytes>, bool, tokio::sync::oneshot::Sender<Bytes>),
}

impl Job {
    /// How many scripts it runs (a turn of the script thread runs at most [`MAX_TURN`]).
    fn scripts(&self) -> usize {
        match self {
            Job::Run { calls, .. } => calls.len().max(1),
            Job::Exec { .. } | Job::Admin(..) => 1,
        }
    }
}

/// The reply of a script call whose run panicked (a bug): the others of its pipeline
/// still get theirs.
const SCRIPT_BUG: &[u8] = b"-ERR the script failed (a bug; please report it)\r\n";

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

/// What a FUNCTION subcommand does with the VM: it writes the reply and says
/// whether the libraries changed.
pub(crate) type FunctionJob = Box<dyn FnOnce(&mut Scripts, &mut dyn Host, &mut Out) -> bool + Send>;

/// The running script, as the network threads see it.
pub(crate) struct Gate {
    /// A script runs now.
    pub running: AtomicBool,
    /// When it started, in ms since the instance started.
    pub since: AtomicU64,
    /// Whether the running script wrote or was killed ([`Fate`]): decided once, so a
    /// kill and a first write never both happen.
    fate: AtomicU8,
    /// Set by SCRIPT KILL.
    pub kill: Arc<AtomicBool>,
    /// The instance is stopping: no script starts, and one that has not written is
    /// stopped at its next hook.
    stopping: AtomicBool,
    /// `busy-reply-threshold` in ms (0: never busy).
    pub busy_ms: AtomicU64,
    /// One permit: the right to use the engine for a script or a client's batch, handed
    /// out in arrival order (one waiter woken at a time).
    turn: tokio::sync::Semaphore,
    /// The running script is a function (FCALL): FUNCTION KILL, not SCRIPT KILL, stops it.
    pub function: AtomicBool,
    /// Libraries and functions loaded (FUNCTION STATS, which answers while busy).
    pub libraries: AtomicUsize,
    /// See `libraries`.
    pub functions: AtomicUsize,
    /// The instance the jobs run for (the gate lives inside it).
    me: Weak<Shared>,
    /// The version `redis.REDIS_VERSION` gives.
    version: &'static str,
    /// The VM and its session, made by the first job that needs them.
    vm: std::sync::Mutex<Option<VmCell>>,
    /// Where jobs run here, and how a long script steps aside.
    pub(crate) fibers: crate::fiber::Fibers,
    /// Jobs for the script thread.
    jobs: std::sync::Mutex<mpsc::Sender<(Option<CommandId>, Job)>>,
}

impl Gate {
    /// The gate of instance `me`, with its script thread (the VM is made when first
    /// needed).
    pub fn start(me: Weak<Shared>, version: &'static str, busy_ms: u64) -> Gate {
        let (tx, rx) = mpsc::channel();
        let serving = me.clone();
        std::thread::Builder::new()
            .name("concord-script".into())
            .stack_size(concord_script::STACK_SIZE)
            .spawn(move || serve(serving, rx))
            .expect("the script thread starts");
        Gate {
            running: AtomicBool::new(false),
            since: AtomicU64::new(0),
            fate: AtomicU8::new(Fate::Open as u8),
            kill: Arc::new(AtomicBool::new(false)),
            stopping: AtomicBool::new(false),
            busy_ms: AtomicU64::new(busy_ms),
            turn: tokio::sync::Semaphore::new(1),
            function: AtomicBool::new(false),
            libraries: AtomicUsize::new(0),
            functions: AtomicUsize::new(0),
            me,
            version,
            vm: std::sync::Mutex::new(None),
            fibers: crate::fiber::Fibers::default(),
            jobs: std::sync::Mutex::new(tx),
        }
    }

    /// Runs a job for command `id` (counted in INFO commandstats once it ran; `None`:
    /// counted by the transaction that runs it) in its turn at the engine, first come
    /// first served; it answers through the job's reply channel (dropped when the
    /// instance is gone). A pipeline of scripts goes to the script thread, which runs
    /// them while this thread serves others; anything else runs here, where it costs no
    /// hand-off between threads (two wake-ups, more than a short script itself), unless
    /// this is a multi-thread runtime (`threads` above 1).
    pub async fn run(&self, id: Option<CommandId>, job: Job) {
        if job.scripts() > 1 || !crate::fiber::available() {
            let _ = self
                .jobs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send((id, job));
            return;
        }
        let Some(sh) = self.me.upgrade() else {
            return;
        };
        let Some(_turn) = self.take_turn().await else {
            return;
        };
        crate::fiber::run(&sh, move |sh| finish(sh, id, job)).await;
    }

    /// Runs one script call of a client (command `id`) in its turn at the engine, its
    /// reply written to `out`: the append-only batch holding its writes; `None` when
    /// the instance is gone. Here it runs on a fiber and answers directly (no job, no
    /// reply channel: they cost more than a short script); on a multi-thread runtime it
    /// is a job for the script thread.
    pub async fn call(&self, id: CommandId, call: ScriptCall<'_>, out: &mut Out) -> Option<u64> {
        if !crate::fiber::available() {
            let sent = SentCall {
                head: call.head.clone(),
                req: crate::dispatch::owned(call.req),
                limit: call.limit,
            };
            let (replies, seq) = self.run_calls(vec![(id, sent)]).await?;
            out.raw(replies.first()?);
            return Some(seq);
        }
        let sh = self.me.upgrade()?;
        let _turn = self.take_turn().await?;
        crate::fiber::run(&sh, move |sh| run_guarded(sh, id, &call, out)).await
    }

    /// Runs the script calls of one client's pipeline as one job: their replies, and
    /// the append-only batch holding their writes; `None` when the instance is gone.
    pub async fn run_calls(&self, calls: Vec<(CommandId, SentCall)>) -> Option<(Vec<Bytes>, u64)> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.run(None, Job::Run { calls, reply: tx }).await;
        rx.await.ok()
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

    /// A script starts (in its job's turn).
    pub fn started(&self, sh: &Shared, function: bool) {
        self.since.store(sh.uptime_ms(), Ordering::Release);
        self.fate.store(Fate::Open as u8, Ordering::Release);
        self.kill.store(false, Ordering::Release);
        self.function.store(function, Ordering::Release);
        self.running.store(true, Ordering::Release);
    }

    /// The script ended.
    pub fn finished(&self) {
        self.running.store(false, Ordering::Release);
    }

    /// The instance is stopping: the running script is stopped if SCRIPT KILL could stop
    /// it (it has not written), and so is any that runs later or waits for its turn.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        let _ = self.kill(self.function.load(Ordering::Acquire));
    }

    /// The turn, for the instance's own tasks (replication, expiry, persistence, client
    /// clean-up): with it they lock the engine without blocking their thread behind a
    /// script. Held only while the engine is locked, never across an await.
    pub async fn task_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.take_turn().await
    }

    /// The turn, taken at once when it is free (no one waits then: a released turn goes
    /// to the first waiter), else waited for in order. Trying first skips building and
    /// polling the wait's future for every short script (a small saving).
    async fn take_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        match self.turn.try_acquire() {
            Ok(p) => Some(p),
            Err(_) => self.turn.acquire().await.ok(),
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
        let settled = self.fate.compare_exchange(
            Fate::Open as u8,
            Fate::Killed as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if settled == Err(Fate::Wrote as u8) {
            return Err(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        self.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// Before the running script's first write: false when SCRIPT KILL came first (the
    /// write must not happen; the script is stopping).
    fn may_write(&self) -> bool {
        let settled = self.fate.compare_exchange(
            Fate::Open as u8,
            Fate::Wrote as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        settled != Err(Fate::Killed as u8)
    }
}

/// What became of the running script: SCRIPT KILL may stop it only while it is `Open`.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// No write yet, not killed.
    Open,
    /// It wrote: it runs to its end.
    Wrote,
    /// SCRIPT KILL stopped it before any write.
    Killed,
}

/// Scripts the script thread runs back to back in one turn at most; then the others get
/// theirs.
const MAX_TURN: usize = 64;

/// The most keys of one job warmed in the cache before its scripts run.
const PREFETCH_KEYS: usize = 64;

/// The Lua VM and the session its scripts' commands run in (Redis's script client).
struct Vm {
    scripts: Scripts,
    session: Session,
}

/// The VM, movable between threads as a whole.
struct VmCell(Vm);

// SAFETY: the Lua state is not `Send` because its handles share it through `Rc`s
// unsynchronised. Every handle to it lives inside this cell (the VM's own values, its
// hook and functions, and `Scripts`'s fields), so they move together, and the gate's
// mutex lets one thread at a time use them. Nothing in the VM is tied to a thread.
unsafe impl Send for VmCell {}

/// Runs `f` with the VM and its session, making them at the first use; `None` when the
/// VM cannot start (logged) or, a bug, while it is already in use.
fn with_vm<R>(sh: &Shared, f: impl FnOnce(&mut Scripts, &mut Session) -> R) -> Option<R> {
    let mut slot = match sh.script.vm.try_lock() {
        Ok(slot) => slot,
        // A panic in a script (a bug) left the VM usable: its run had ended.
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    if slot.is_none() {
        match Scripts::new(sh.script.version) {
            Ok(mut scripts) => {
                scripts.set_kill_flag(Arc::clone(&sh.script.kill));
                load_functions(sh, &mut scripts);
                let session = script_session(sh);
                *slot = Some(VmCell(Vm { scripts, session }));
            }
            Err(e) => {
                tracing::error!("scripts are unavailable: the Lua VM did not start: {e}");
                return None;
            }
        }
    }
    let vm = &mut slot.as_mut()?.0;
    Some(f(&mut vm.scripts, &mut vm.session))
}

/// A waker that unparks the thread that made it (to wait for a future on a plain thread).
struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Gives the turn back when dropped, whatever happened in it.
struct TurnHeld<'a>(&'a Gate);

impl Drop for TurnHeld<'_> {
    fn drop(&mut self) {
        self.0.turn.add_permits(1);
    }
}

/// The script thread: takes the engine's turn when jobs are queued, runs up to
/// [`MAX_TURN`] of them back to back (one hand-off for many clients' scripts), then gives
/// the turn back; until the instance is gone.
fn serve(me: Weak<Shared>, rx: mpsc::Receiver<(Option<CommandId>, Job)>) {
    let mut pending: Option<(Option<CommandId>, Job)> = None;
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    loop {
        let first = match pending.take() {
            Some(job) => job,
            // Waiting spins nothing: on two cores a spinning script thread takes the CPU
            // the network thread needs to send it the next job.
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let Some(sh) = me.upgrade() else {
            return;
        };
        // Wait for the turn (a plain thread: poll, park until woken).
        let mut cx = std::task::Context::from_waker(&waker);
        let mut acquire = std::pin::pin!(sh.script.turn.acquire());
        let permit = loop {
            if let std::task::Poll::Ready(p) = acquire.as_mut().poll(&mut cx) {
                break p;
            }
            std::thread::park();
        };
        let Ok(permit) = permit else {
            return;
        };
        permit.forget();
        let _held = TurnHeld(&sh.script);
        let mut next = Some(first);
        let mut budget = MAX_TURN;
        while budget > 0 {
            let Some((id, job)) = next.take().or_else(|| rx.try_recv().ok()) else {
                break;
            };
            budget = budget.saturating_sub(job.scripts());
            finish(&sh, id, job);
        }
        pending = next;
    }
}

/// Runs a job for command `id` and counts it (where it runs: here or on the script
/// thread).
fn finish(sh: &Shared, id: Option<CommandId>, job: Job) {
    let failed = process(sh, job);
    count(sh, id, failed);
}

/// Counts a script command for INFO commandstats (after its job: the engine may be held
/// by a script for long, and no one else may wait for it).
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
fn process(sh: &Shared, job: Job) -> bool {
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
        Job::Run { calls, reply } => {
            let mut replies = Vec::with_capacity(calls.len());
            let mut seq = 0;
            // The keys of every script in the job are asked for at once, so that their
            // cache misses overlap (as for a pipeline of plain commands).
            if calls.len() > 1 {
                let keys: Vec<&[u8]> = calls
                    .iter()
                    .flat_map(|(_, c)| c.req.iter().skip(3).take(c.head.numkeys))
                    .map(|k| &k[..])
                    .take(PREFETCH_KEYS)
                    .collect();
                let e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
                e.prefetch(&keys);
            }
            // The client's output room is shared by the pipeline's replies.
            let mut room = calls.first().map_or(0, |(_, c)| c.limit);
            for (id, call) in &calls {
                let limit = call.limit.min(room);
                let mut out = Out::new();
                let n = call.with(limit, |call| run_guarded(sh, *id, call, &mut out));
                room = room.saturating_sub(out.len());
                replies.push(out.buf.freeze());
                seq = seq.max(n);
            }
            let _ = reply.send((replies, seq));
            false
        }
        Job::Exec {
            mut sess,
            id,
            limit,
            reply,
        } => {
            let mut out = Out::new();
            out.resp3 = sess.resp3;
            out.limit = limit;
            let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
            e.set_time(wall_ms());
            let before = e.log().appended();
            sess.tick = sh.timer.raw();
            sess.run(sh, &mut e, id, &[b"EXEC"], &mut out);
            e.commit();
            let seq = crate::effects::after_client_write(sh, &mut e, before, sess.actor);
            drop(e);
            let _ = reply.send((sess, out.buf.freeze(), seq));
            false
        }
        Job::Admin(args, resp3, reply) => {
            let view: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
            let mut out = Out::new();
            crate::cmd::scripting::admin(sh, &view, resp3, &mut out);
            let failed = out.buf.first() == Some(&b'-');
            sh.errors.reply(&out.buf);
            let _ = reply.send(out.buf.freeze());
            failed
        }
    }));
    ran.unwrap_or_else(|_| {
        sh.script.finished();
        true
    })
}

/// [`run_call`], where a panic (a bug) fails this call only: its caller gets an error.
/// The reply goes after what `out` holds; `out`'s settings are kept.
fn run_guarded(sh: &Shared, id: CommandId, call: &ScriptCall<'_>, out: &mut Out) -> u64 {
    let (start, resp3, limit) = (out.len(), out.resp3, out.limit);
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_call(sh, id, call, &mut *out)
    }));
    let seq = ran.unwrap_or_else(|_| {
        sh.script.finished();
        sh.errors.reply(SCRIPT_BUG);
        out.buf.truncate(start);
        out.raw(SCRIPT_BUG);
        0
    });
    (out.resp3, out.limit) = (resp3, limit);
    seq
}

/// Runs one script call of a client's pipeline, its reply written after what `out`
/// holds: the append-only batch holding its writes. Counted in INFO commandstats under
/// `id`.
fn run_call(sh: &Shared, id: CommandId, call: &ScriptCall<'_>, out: &mut Out) -> u64 {
    let start = sh.timer.raw();
    let at = out.len();
    let function = call.head.target == Target::Function;
    let seq = with_vm(sh, |scripts, sess| {
        let mut e = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
        e.set_time(wall_ms());
        let before = e.log().appended();
        // Past maxmemory keys are evicted before the script, as before any command.
        sess.refresh(sh);
        // Nothing is evicted while writes are paused (a read-only script may run then).
        let full = sess.hot.maxmemory > 0
            && !sh.pause.holds(true)
            && !sh.leaving.load(Ordering::Acquire)
            && crate::mem::make_room(&mut e, sess.hot.maxmemory, sess.hot.evict_budget)
                == crate::mem::Room::Full;
        if let Some(sha) = prepare(sh, sess, scripts, call, full, out) {
            sh.script.started(sh, function);
            run(sh, sess, scripts, &sha, call, &mut e, out);
            // The script's ops are one group: peers and the file get them together or
            // not at all.
            e.commit();
            sh.script.finished();
        }
        let seq = crate::effects::after_client_write(sh, &mut e, before, call.head.caller);
        // Counted here, under the lock already held (a network thread never waits for
        // the engine a script holds).
        let reply = &out.buf[at..];
        let st = &mut e.cmdstats[id];
        st.calls += 1;
        st.nanos += sh.timer.delta_as_nanos(start, sh.timer.raw());
        st.failed += u64::from(reply.first() == Some(&b'-'));
        sh.errors.reply(reply);
        seq
    });
    seq.unwrap_or_else(|| {
        sh.errors.send(out, NO_VM);
        0
    })
}

/// The error when the VM cannot be reached (it did not start, or a bug).
const NO_VM: &str = "ERR the Lua VM is not reachable here (a bug; please report it)";

/// SCRIPT EXISTS: whether each SHA1 is cached (in a job).
pub(crate) fn exists(sh: &Shared, shas: &[&[u8]]) -> Vec<bool> {
    with_vm(sh, |scripts, _| {
        shas.iter()
            .map(|s| scripts.exists(&String::from_utf8_lossy(s).to_ascii_lowercase()))
            .collect()
    })
    .unwrap_or_else(|| vec![false; shas.len()])
}

/// SCRIPT LOAD (in a job): the SHA1 or the error reply.
pub(crate) fn load(sh: &Shared, body: &[u8]) -> Result<String, String> {
    with_vm(sh, |scripts, _| {
        scripts
            .load(body, false)
            .map(|(sha, _)| sha)
            .map_err(|e| format!("ERR {e}"))
    })
    .unwrap_or_else(|| Err(NO_VM.into()))
}

/// SCRIPT FLUSH (in a job).
pub(crate) fn flush(sh: &Shared) {
    with_vm(sh, |scripts, _| scripts.flush());
}

/// Runs a FUNCTION subcommand (in a job), saving the libraries it changed.
pub(crate) fn functions(sh: &Shared, f: FunctionJob, out: &mut Out) {
    let done = with_vm(sh, |scripts, _| {
        if f(scripts, &mut LogHost, out) {
            save_functions(sh, scripts);
        }
        let (libs, funcs) = scripts.function_counts();
        sh.script.libraries.store(libs, Ordering::Release);
        sh.script.functions.store(funcs, Ordering::Release);
    });
    if done.is_none() {
        out.error(NO_VM);
    }
}

/// A script inside EXEC (which runs as a job): runs it against the engine the
/// transaction holds. False when the VM cannot be reached.
pub(crate) fn run_inline(
    sh: &Shared,
    call: &ScriptCall<'_>,
    e: &mut Engine,
    out: &mut Out,
) -> bool {
    with_vm(sh, |scripts, sess| {
        let mut reply = Out::new();
        let full = sess.hot.maxmemory > 0 && crate::mem::counted(e) as u64 > sess.hot.maxmemory;
        if let Some(name) = prepare(sh, sess, scripts, call, full, &mut reply) {
            sh.script.started(sh, call.head.target == Target::Function);
            run(sh, sess, scripts, &name, call, e, &mut reply);
            sh.script.finished();
        }
        out.raw(&reply.buf);
    })
    .is_some()
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
fn prepare<'c>(
    sh: &Shared,
    sess: &mut Session,
    scripts: &mut Scripts,
    call: &'c ScriptCall<'_>,
    full: bool,
    out: &mut Out,
) -> Option<Cow<'c, str>> {
    let head = call.head;
    out.resp3 = head.resp3;
    out.limit = out.len().saturating_add(call.limit.min(MAX_REPLY));
    if sh.script.stopping.load(Ordering::Acquire) {
        out.error("ERR the server is shutting down");
        return None;
    }
    // The user as it is now: its rules may have changed since the call was sent, and a
    // deleted user's script must not run as someone else. Looked up again only when
    // the users changed or another user calls.
    let epoch = sh.acl_epoch.load(Ordering::Acquire);
    if sess.acl_epoch != epoch || sess.user.name() != head.user.name() {
        let Some(user) = sh.user(head.user.name()) else {
            out.error("NOPERM the user this script runs as was deleted");
            return None;
        };
        sess.set_user(sh, user);
        sess.acl_epoch = epoch;
    }
    sess.resp3 = head.resp3;
    sess.track = head.track;
    sess.caching = head.caching;
    sess.actor = head.caller;
    sess.refresh(sh);
    let script = call.script();
    let (name, flags) = match head.target {
        Target::Sha => {
            // Clients send the SHA1 as SCRIPT LOAD gave it, lowercase as it is kept: looked
            // up as it came first.
            let found = std::str::from_utf8(script)
                .ok()
                .and_then(|s| Some((Cow::Borrowed(s), Some(scripts.flags(s)?))));
            found.unwrap_or_else(|| {
                let sha = String::from_utf8_lossy(script).to_ascii_lowercase();
                let flags = scripts.flags(&sha);
                (Cow::Owned(sha), flags)
            })
        }
        Target::Body => match scripts.load(script, true) {
            Ok((sha, flags)) => (Cow::Owned(sha), Some(flags)),
            Err(e) => {
                out.error(&format!("ERR {e}"));
                return None;
            }
        },
        Target::Function => {
            let f = String::from_utf8_lossy(script);
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
    if head.read_only && flags.has(F::DECLARED) && !flags.has(F::NO_WRITES) {
        out.error("ERR Can not execute a script with write flag using *_ro command.");
        return None;
    }
    if flags.has(F::DECLARED) && !flags.has(F::NO_WRITES) && !flags.has(F::ALLOW_OOM) && full {
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
    call: &ScriptCall<'_>,
    e: &mut Engine,
    out: &mut Out,
) {
    let at = out.len();
    let inv = Invocation {
        keys: call.keys(),
        args: call.args(),
        read_only: call.head.read_only,
    };
    let mut host = ScriptHost { sh, sess, e };
    match call.head.target {
        Target::Function => scripts.fcall(name, &inv, &mut host, out),
        _ => scripts.run(name, &inv, &mut host, out),
    }
    if out.over_limit() {
        // Cut short: an error instead of a reply that would break the protocol.
        out.buf.truncate(at);
        out.error("ERR the script's reply is larger than the client's output limit allows");
    }
}
