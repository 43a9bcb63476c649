//! Script jobs run on the network thread, each on a stack of its own (a fiber), so that a
//! long script can step aside: every [`concord_script::HOOK_EVERY`] Lua instructions its
//! hook hands the thread back to the runtime, which serves the other clients (BUSY past
//! `busy-reply-threshold`, SCRIPT KILL) and the instance's tasks before resuming it. Redis
//! serves clients from inside its script hook in the same way (and, as in Redis, one long
//! command called from a script, or long work in a C function such as `string.rep`, holds
//! the thread until it returns). A short script costs two stack switches; no thread
//! hand-off.
//!
//! Nothing may unwind through the VM's C frames, so a fiber whose task is dropped runs to
//! its end first. Fibers are made only on a current-thread runtime (see [`available`]), so
//! a suspended stack never changes threads.

use crate::Shared;
use crate::lock;
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

/// How the running fiber steps aside.
type Pause = Yielder<(), ()>;

/// What the fibers of one instance share: the stack (one job runs at a time, so one stack
/// is kept between jobs) and the running fiber's way back to the runtime.
#[derive(Default)]
pub(crate) struct Fibers {
    stack: std::sync::Mutex<Option<DefaultStack>>,
    /// Set by a fiber while it runs its job (suspended or not); null otherwise.
    pause: AtomicPtr<Pause>,
}

/// Whether jobs can run here: on a current-thread runtime. A multi-thread runtime's
/// tasks move between its workers, and their stacks are too small for scripts.
pub(crate) fn available() -> bool {
    use tokio::runtime::{Handle, RuntimeFlavor};
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread)
}

/// Runs `job` to its end, letting the runtime serve others whenever it steps aside (see
/// [`step_aside`]); what it returned, or `None` when no stack could be made (logged).
/// The caller holds the engine's turn and checked [`available`]. The job may borrow
/// what the caller holds: it ends before this returns, or before this future is dropped.
pub(crate) async fn run<'j, R: Send + 'j>(
    sh: &Arc<Shared>,
    job: impl FnOnce(&Shared) -> R + Send + 'j,
) -> Option<R> {
    let mut fiber = Fiber::start(sh, job)?;
    loop {
        match fiber.resume() {
            Step::Aside => tokio::task::yield_now().await,
            Step::Done(r) => return r,
        }
    }
}

/// What a fiber's turn on the thread ended with.
enum Step<R> {
    /// Its job stepped aside.
    Aside,
    /// Its job ended, with what it returned (`None` when it had already ended).
    Done(Option<R>),
}

/// From a running script's hook: hands the thread back to the runtime until the fiber is
/// resumed. Outside a fiber (on the script thread) it does nothing.
pub(crate) fn step_aside(sh: &Shared) {
    let pause = sh.script.fibers.pause.load(Ordering::Acquire);
    // SAFETY: the pointer is set only while a fiber runs its job, by that fiber, and one
    // job runs at a time (it holds the engine's turn); scripts run only inside jobs, so
    // this hook runs on that fiber, whose yielder lives as long as its job.
    if let Some(pause) = unsafe { pause.as_ref() } {
        pause.suspend(());
    }
}

/// A job on its stack.
struct Fiber<'a, R> {
    sh: &'a Shared,
    co: Option<Coroutine<(), (), R, DefaultStack>>,
}

// SAFETY: fibers are made only on a current-thread runtime, whose tasks never leave its
// thread: the task holding one is `Send` for `tokio::spawn`'s sake, never sent.
unsafe impl<R: Send> Send for Fiber<'_, R> {}

/// Clears the fiber's way back when its job ends, however it ends.
struct Unset<'a>(&'a AtomicPtr<Pause>);

impl Drop for Unset<'_> {
    fn drop(&mut self) {
        self.0.store(std::ptr::null_mut(), Ordering::Release);
    }
}

impl<'a, R> Fiber<'a, R> {
    /// The job on the kept stack (or a new one); `None` when no stack could be made
    /// (logged; the job is dropped, so its caller is answered with an error).
    fn start<'j>(sh: &'a Arc<Shared>, job: impl FnOnce(&Shared) -> R + Send + 'j) -> Option<Self>
    where
        'j: 'a,
    {
        let kept = lock(&sh.script.fibers.stack).take();
        let stack = match kept {
            Some(stack) => stack,
            None => match DefaultStack::new(concord_script::STACK_SIZE) {
                Ok(stack) => stack,
                Err(e) => {
                    tracing::error!("no stack for a script: {e}");
                    return None;
                }
            },
        };
        let me = Arc::clone(sh);
        let body = move |pause: &Pause, ()| {
            let fibers = &me.script.fibers;
            let _unset = Unset(&fibers.pause);
            fibers
                .pause
                .store(std::ptr::from_ref(pause).cast_mut(), Ordering::Release);
            job(&me)
        };
        // SAFETY: what the job borrows lives for 'j, which outlasts this fiber ('a), and
        // the fiber's drop runs the job to its end: the job never runs after a borrow
        // ends. (A leaked fiber is never resumed again.)
        let co = unsafe { Coroutine::with_stack_unchecked(stack, body) };
        Some(Fiber { sh, co: Some(co) })
    }

    /// Runs the job until it steps aside or ends (then its stack is kept).
    fn resume(&mut self) -> Step<R> {
        let Some(co) = self.co.as_mut().filter(|co| !co.done()) else {
            return Step::Done(None);
        };
        let r = match co.resume(()) {
            CoroutineResult::Yield(()) => return Step::Aside,
            CoroutineResult::Return(r) => r,
        };
        if let Some(co) = self.co.take() {
            *lock(&self.sh.script.fibers.stack) = Some(co.into_stack());
        }
        Step::Done(Some(r))
    }
}

impl<R> Drop for Fiber<'_, R> {
    fn drop(&mut self) {
        if self
            .co
            .as_ref()
            .is_some_and(|co| co.started() && !co.done())
        {
            // Its task was dropped mid-script (the instance is stopping): the script is
            // stopped if SCRIPT KILL could stop it, and otherwise runs to its end.
            let gate = &self.sh.script;
            let _ = gate.kill(gate.function.load(Ordering::Acquire));
            while let Some(co) = self.co.as_mut().filter(|co| !co.done()) {
                let _ = co.resume(());
            }
        }
    }
}
