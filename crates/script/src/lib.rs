//! Lua scripts as Redis 7.2 runs them: EVAL's script cache, the `redis` library, the
//! sandbox (read-only globals and libraries), the conversions between replies and Lua
//! values, and the time hook that lets SCRIPT KILL stop a script.
//!
//! The crate runs no command itself: a script's `redis.call` goes to a [`Host`] (the
//! server), which checks and runs the command and writes its reply as RESP. One
//! [`Scripts`] is one Lua VM; it is used from one thread.

mod cache;
mod convert;
mod dump;
mod entry;
mod fast;
mod flags;
mod functions;
mod libs;
mod number;
mod raise;

pub use dump::DumpError;
pub use flags::{ScriptFlags, declares_no_writes};

use cache::Cache;
use concord_resp::Out;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};
use std::cell::Cell;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The Lua VM's memory is bounded: an allocation past it fails the script with an error.
pub const MEMORY_LIMIT: usize = 1 << 30;

/// The stack scripts run on needs: JSON nests 1,000 deep and each level
/// recurses (only touched pages take memory).
pub const STACK_SIZE: usize = 256 << 20;

/// Instructions between two looks at the kill flag (Redis's count hook runs as often).
pub const HOOK_EVERY: u32 = 100_000;

/// The error a killed script ends with.
pub const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// What a script's `redis.call` reaches.
pub trait Host {
    /// Checks and runs one command for the script, writing its reply (or the refusal) to
    /// `out` as RESP: RESP3 when `ctx.resp3`.
    fn call(&mut self, args: &[&[u8]], ctx: &CallCtx, out: &mut Out);
    /// `redis.log`: `level` is 0 (debug) to 3 (warning).
    fn log(&mut self, level: u8, msg: &str);
    /// `redis.acl_check_cmd`: whether the caller's user may run `args`; `None` when no
    /// such command exists.
    fn acl_check(&mut self, args: &[&[u8]]) -> Option<bool>;
    /// The script has run another [`HOOK_EVERY`] instructions: the host may serve others
    /// before it goes on (Redis serves them from its script hook too).
    fn tick(&mut self) {}
}

/// How a script's commands run.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallCtx {
    /// Writes are refused (EVAL_RO, or the `no-writes` flag).
    pub read_only: bool,
    /// The script asked for RESP3 replies (`redis.setresp(3)`).
    pub resp3: bool,
    /// The script may write past `maxmemory` (`allow-oom`).
    pub allow_oom: bool,
}

/// One call of a script.
#[derive(Clone, Copy, Debug)]
pub struct Invocation<'a> {
    /// KEYS.
    pub keys: &'a [&'a [u8]],
    /// ARGV.
    pub args: &'a [&'a [u8]],
    /// Run as EVAL_RO / EVALSHA_RO.
    pub read_only: bool,
}

/// Why a script could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The shebang line is wrong; the text is Redis's.
    #[error("{0}")]
    Shebang(String),
    /// Lua did not compile it.
    #[error("Error compiling script (new function): {0}")]
    Compile(String),
}

/// How a Lua function is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// An EVAL script: KEYS and ARGV are globals.
    Eval,
    /// A library function: `callback(keys, args)`.
    Function,
}

/// Lua scripts of one instance: the VM, the script cache and what the running script
/// may touch.
pub struct Scripts {
    lua: Lua,
    /// The real globals (KEYS and ARGV are set on them).
    globals: Table,
    /// The environment scripts see (a read-only view of the globals).
    env: Table,
    /// Internal functions the sandbox set up (`handler`, `raw`).
    internal: Table,
    /// How a script is called, with the kept KEYS and ARGV (see [`entry`]).
    entry: entry::Entry,
    /// The scripts run last and their compiled functions, most recent first: looking one
    /// up by its SHA1 in the table of compiled scripts made a Lua string of the SHA1 each
    /// time, under mlua's guard for allocating calls.
    hot: Vec<(String, Function)>,
    cache: Cache,
    /// The libraries FUNCTION LOAD made.
    library: functions::Libraries,
    /// Set by SCRIPT KILL for the running script.
    kill: Arc<AtomicBool>,
    /// The running script switched to RESP3 replies.
    resp3: Arc<AtomicBool>,
    /// The host lent to the library functions during a run.
    lent: Rc<Lent>,
    /// What the fast `redis.call` and `redis.pcall` reach (their upvalue points here).
    fast: Rc<fast::FastCall>,
    /// The kill hook was replaced (by a kill, or a library load's own): put it back
    /// before the next run.
    hook_gone: Rc<Cell<bool>>,
}

/// The hook that lets the host tick and then looks at the kill flag every [`HOOK_EVERY`]
/// instructions; once killed it fires at every line instead, so a pcall cannot swallow
/// the kill for long.
fn install_hook(lua: &Lua, kill: &Arc<AtomicBool>, gone: &Rc<Cell<bool>>, lent: &Rc<Lent>) {
    let (kill, gone2, lent) = (Arc::clone(kill), Rc::clone(gone), Rc::clone(lent));
    let _ = lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |lua, _| {
            lent.tick();
            if !kill.load(Ordering::Acquire) {
                return Ok(VmState::Continue);
            }
            gone2.set(true);
            let _ = lua.set_hook(HookTriggers::new().every_line(), |_, _| {
                Err(mlua::Error::RuntimeError(KILLED.into()))
            });
            Err(mlua::Error::RuntimeError(KILLED.into()))
        },
    );
    gone.set(false);
}

/// The host a run lends to `redis.call` and friends (functions made once, not per run:
/// making them per run cost more than a short script).
#[derive(Default)]
struct Lent {
    host: Cell<Option<NonNull<dyn Host + 'static>>>,
    ctx: Cell<CallCtx>,
}

/// Takes the lent host back when the run ends, however it ends.
struct Lending<'a>(&'a Lent);

impl Drop for Lending<'_> {
    fn drop(&mut self) {
        self.0.host.set(None);
    }
}

impl Lent {
    /// Lends `host` until the returned guard drops.
    fn lend<'a>(&'a self, host: &mut dyn Host, ctx: CallCtx) -> Lending<'a> {
        let ptr: NonNull<dyn Host + '_> = NonNull::from(host);
        // SAFETY: only the lifetime is erased. The pointer is used only while the guard
        // lives, during which the caller's exclusive borrow of `host` is not used
        // otherwise (Lua runs on this thread, and a host never calls back into Lua).
        let ptr: NonNull<dyn Host + 'static> = unsafe { std::mem::transmute(ptr) };
        self.host.set(Some(ptr));
        self.ctx.set(ctx);
        Lending(self)
    }

    /// Runs `f` with the lent host; an error reply when no run lends one.
    fn with(
        &self,
        lua: &Lua,
        f: impl FnOnce(&mut dyn Host, CallCtx) -> mlua::Result<(bool, Value)>,
    ) -> mlua::Result<(bool, Value)> {
        let Some(mut ptr) = self.host.take() else {
            return libs::redis::fail(lua, "ERR no script is running");
        };
        // Taken out while in use, so a nested use finds none instead of aliasing it.
        // SAFETY: see `lend`.
        let r = f(unsafe { ptr.as_mut() }, self.ctx.get());
        self.host.set(Some(ptr));
        r
    }

    /// Lets the lent host tick (from the hook; nothing when no run lends one).
    fn tick(&self) {
        if let Some(mut ptr) = self.host.take() {
            // SAFETY: see `lend`; taken out while in use, as in `with`.
            unsafe { ptr.as_mut() }.tick();
            self.host.set(Some(ptr));
        }
    }
}

/// How many recently run scripts keep their compiled function at hand (each holds one of
/// mlua's value handles, of which Lua 5.1 has a few thousand).
const HOT: usize = 8;

/// The SHA1 of a script body, as 40 lowercase hex digits.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// The most bytes of arguments or reply that [`small_unguarded`] builds without mlua's
/// guard: a reply past it may expand into several times its size in Lua values.
pub(crate) const UNGUARDED_MAX: usize = 64 * 1024;

/// Set once a script made a value that may have a finalizer (`newproxy`): from then on a
/// collection step may run script code, which must not happen outside a protected call.
struct Finalizers(std::cell::Cell<bool>);

/// Runs `f`, which builds Lua values from about `bytes` bytes of arguments or reply: with
/// the VM's memory limit lifted when they are few, as it is. While a limit is set, mlua
/// guards each API call that may allocate with a protected call (a C closure pushed, then
/// collected), which doubled the cost of a small script. Unguarded calls may run a
/// collection step, so they are used only while no script has made a value with a
/// finalizer (`newproxy`: a `__gc` raising an error there would have no handler). Lua
/// code never runs unlimited.
pub(crate) fn small_unguarded<R>(lua: &Lua, bytes: usize, f: impl FnOnce() -> R) -> R {
    /// Puts the limit back however `f` ends (a panic in a callback becomes a Lua error
    /// and the VM lives on: it must not live on unlimited).
    struct Restore<'a>(&'a Lua);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            assert!(self.0.set_memory_limit(MEMORY_LIMIT).is_ok());
        }
    }
    let finalizers = lua.app_data_ref::<Finalizers>().is_none_or(|f| f.0.get());
    if bytes > UNGUARDED_MAX || finalizers {
        return f();
    }
    assert!(lua.set_memory_limit(0).is_ok(), "the VM has memory control");
    let _restore = Restore(lua);
    f()
}

impl Scripts {
    /// A new VM: the libraries, the `redis` table and the sandbox. `version` is the Redis
    /// version scripts see (`redis.REDIS_VERSION`).
    pub fn new(version: &str) -> mlua::Result<Scripts> {
        // SAFETY: the debug library is needed while the sandbox is set up (its error
        // handler keeps debug.getinfo); the sandbox then removes it from the globals.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let globals = lua.globals();
        let internal = lua.create_table()?;
        let resp3 = Arc::new(AtomicBool::new(false));
        let redis = libs::redis::table(&lua, version, Arc::clone(&resp3))?;
        globals.raw_set("redis", redis.clone())?;
        libs::install(&lua, &globals)?;
        lua.set_app_data(Finalizers(std::cell::Cell::new(false)));
        if let Ok(proxy) = globals.raw_get::<Function>("newproxy") {
            let wrapped = lua.create_function(move |lua, a: Variadic<Value>| {
                if let Some(f) = lua.app_data_ref::<Finalizers>() {
                    f.0.set(true);
                }
                proxy.call::<Value>(a)
            })?;
            globals.raw_set("newproxy", wrapped)?;
        }
        // redis.call, redis.log and redis.acl_check_cmd reach the host a run lends.
        let lent = Rc::new(Lent::default());
        let (l, r3) = (Rc::clone(&lent), Arc::clone(&resp3));
        internal.raw_set(
            "raw",
            lua.create_function(move |lua, a: Variadic<Value>| {
                l.with(lua, |host, ctx| {
                    let ctx = CallCtx {
                        resp3: r3.load(Ordering::Acquire),
                        ..ctx
                    };
                    libs::redis::call(lua, host, &ctx, &a)
                })
            })?,
        )?;
        let l = Rc::clone(&lent);
        internal.raw_set(
            "log",
            lua.create_function(move |lua, a: Variadic<Value>| {
                l.with(lua, |host, _| libs::redis::log(lua, host, &a))
            })?,
        )?;
        let l = Rc::clone(&lent);
        internal.raw_set(
            "acl",
            lua.create_function(move |lua, a: Variadic<Value>| {
                l.with(lua, |host, _| libs::redis::acl_check(lua, host, &a))
            })?,
        )?;
        internal.raw_set("scripts", lua.create_table()?)?;
        internal.raw_set(
            "raising",
            lua.create_function(|lua, f: Function| raise::raising(lua, f))?,
        )?;
        let env: Table = lua
            .load(include_str!("sandbox.lua"))
            .set_name("=concord")
            .call((globals.clone(), internal.clone()))?;
        let fast = Rc::new(fast::FastCall::new(Rc::clone(&lent), Arc::clone(&resp3)));
        let convert = lua.create_function(|lua, resp: mlua::LuaString| {
            libs::redis::reply_value(lua, &resp.as_bytes())
        })?;
        fast::install(&lua, &redis, &fast, convert)?;
        let kill = Arc::new(AtomicBool::new(false));
        let handler: Function = internal.raw_get("handler")?;
        let entry = entry::Entry::new(&lua, &handler, &globals)?;
        Ok(Scripts {
            lua,
            globals,
            env,
            entry,
            internal,
            hot: Vec::with_capacity(HOT),
            cache: Cache::default(),
            library: functions::Libraries::default(),
            kill,
            resp3,
            lent,
            fast,
            hook_gone: Rc::new(Cell::new(true)),
        })
    }

    /// The flag SCRIPT KILL sets to stop the running script.
    pub fn kill_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.kill)
    }

    /// Uses `flag` as the kill flag (one the caller made before the VM existed).
    pub fn set_kill_flag(&mut self, flag: Arc<AtomicBool>) {
        self.kill = flag;
        self.hook_gone.set(true);
    }

    /// Compiles and caches a script (SCRIPT LOAD, or EVAL's first sight of it); returns
    /// its SHA1 and flags.
    pub fn load(
        &mut self,
        body: &[u8],
        from_eval: bool,
    ) -> Result<(String, ScriptFlags), LoadError> {
        let sha = sha1_hex(body);
        if let Some(flags) = self.cache.touch(&sha, from_eval) {
            return Ok((sha, flags));
        }
        let (flags, skip) = flags::shebang(body).map_err(LoadError::Shebang)?;
        // The shebang line goes but its line feed stays, so line numbers still match.
        let f = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| LoadError::Compile(compile_text(&e)))?;
        let compiled = self
            .compiled()
            .map_err(|e| LoadError::Compile(e.to_string()))?;
        compiled
            .raw_set(sha.as_str(), f)
            .map_err(|e| LoadError::Compile(e.to_string()))?;
        if let Some(old) = self.cache.insert(sha.clone(), flags, from_eval) {
            self.hot.retain(|(s, _)| *s != old);
            let _ = compiled.raw_set(old, Value::Nil);
        }
        Ok((sha, flags))
    }

    /// The flags of a cached script.
    pub fn flags(&self, sha: &str) -> Option<ScriptFlags> {
        self.cache.flags(sha)
    }

    /// Whether a script is cached (SCRIPT EXISTS).
    pub fn exists(&self, sha: &str) -> bool {
        self.cache.flags(sha).is_some()
    }

    /// The table of compiled scripts, by SHA1.
    fn compiled(&self) -> mlua::Result<Table> {
        self.internal.raw_get("scripts")
    }

    /// Forgets every cached script (SCRIPT FLUSH).
    pub fn flush(&mut self) {
        self.cache.clear();
        self.hot.clear();
        if let Ok(t) = self.lua.create_table() {
            let _ = self.internal.raw_set("scripts", t);
        }
        // What the dropped functions held goes now, not at the next cycle.
        let _ = self.lua.gc_collect();
    }

    /// How many scripts are cached, and the bytes the VM uses (INFO memory).
    pub fn stats(&self) -> (usize, usize) {
        (self.cache.len(), self.lua.used_memory())
    }

    /// Runs cached script `sha` (its flags already checked by the caller) and writes its
    /// reply. `allow_oom` and `read_only` come from the flags and the command used.
    pub fn run(&mut self, sha: &str, inv: &Invocation<'_>, host: &mut dyn Host, out: &mut Out) {
        let found = self.cache.get(sha).and_then(|flags| {
            let f = match self.hot.iter().position(|(s, _)| s == sha) {
                Some(i) => {
                    self.hot[..=i].rotate_right(1);
                    self.hot[0].1.clone()
                }
                None => {
                    let f: Function = self.compiled().ok()?.raw_get(sha).ok()?;
                    self.hot.truncate(HOT - 1);
                    self.hot.insert(0, (sha.to_string(), f.clone()));
                    f
                }
            };
            Some((f, flags))
        });
        let Some((f, flags)) = found else {
            out.error("NOSCRIPT No matching script. Please use EVAL.");
            return;
        };
        self.invoke(&f, flags, Mode::Eval, sha, inv, host, out);
    }

    /// Runs `f` (a script, or a function's callback) and writes its reply; errors name
    /// `name`.
    #[allow(clippy::too_many_arguments)]
    fn invoke(
        &mut self,
        f: &Function,
        flags: ScriptFlags,
        mode: Mode,
        name: &str,
        inv: &Invocation<'_>,
        host: &mut dyn Host,
        out: &mut Out,
    ) {
        let ctx = CallCtx {
            read_only: inv.read_only || flags.has(ScriptFlags::NO_WRITES),
            resp3: false,
            allow_oom: flags.has(ScriptFlags::ALLOW_OOM),
        };
        self.kill.store(false, Ordering::Release);
        self.resp3.store(false, Ordering::Release);
        match self.call(f, mode, inv, ctx, host) {
            Ok(v) => convert::to_reply(&v, self.resp3.load(Ordering::Acquire), out),
            Err(e) => self.reply_error(e, name, out),
        }
        self.fast.trim();
    }

    fn call(
        &mut self,
        f: &Function,
        mode: Mode,
        inv: &Invocation<'_>,
        ctx: CallCtx,
        host: &mut dyn Host,
    ) -> Result<Value, Value> {
        if self.hook_gone.get() {
            install_hook(&self.lua, &self.kill, &self.hook_gone, &self.lent);
        }
        let _lent = self.lent.lend(host, ctx);
        let fmode = mode == Mode::Function;
        let ran = self.entry.run(&self.lua, f, inv.keys, inv.args, fmode);
        match ran {
            Ok(done) => done,
            Err(e) => Err(Value::String(
                self.lua
                    .create_string(format!("Error running script: {e}"))
                    .map_err(|_| Value::Nil)?,
            )),
        }
    }

    /// A failed run's reply: `-<err> script: <name>, on <source>:<line>.` as Redis words it.
    fn reply_error(&self, e: Value, name: &str, out: &mut Out) {
        let (mut msg, place) = match &e {
            Value::Table(t) => {
                let msg = match t.raw_get::<Value>("err") {
                    Ok(Value::String(s)) => s.to_string_lossy(),
                    _ => "ERR unknown error".to_string(),
                };
                let source: Option<String> = t.raw_get("source").ok();
                let line: Option<i64> = t.raw_get("line").ok();
                (msg, source.zip(line))
            }
            Value::String(s) => (format!("ERR {}", s.to_string_lossy()), None),
            other => (format!("ERR {other:?}"), None),
        };
        if self.kill.load(Ordering::Acquire) {
            msg = KILLED.to_string();
        }
        match place {
            Some((source, line)) => {
                out.error(&format!("{msg} script: {name}, on {source}:{line}."))
            }
            None => out.error(&msg),
        }
    }
}

/// Lua's compile error without mlua's decoration.
fn compile_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
