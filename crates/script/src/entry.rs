//! Calling a script or library function through Lua's C API: one protected call of a
//! kept C function that fills KEYS and ARGV and calls the script. mlua's own protected
//! call around that (a new C closure per call, its arguments and results moved through
//! its handles) cost more than a short script itself.
//!
//! An EVAL script's KEYS and ARGV tables are kept from one run to the next, refilled:
//! four allocations, their frees and the collector's work on them cost more than the
//! script. What a script could do to them shows in the tables themselves (globals and
//! libraries are read only, so nothing else of a run is left for the next): after every
//! run each table is checked to hold exactly what was put in (keys 1..n, no metatable),
//! and one that was changed, or grew past [`KEPT_MAX`] elements, is replaced before the
//! next run. A library function gets new tables as its arguments (a library may keep
//! them), and the globals KEYS and ARGV are cleared before it runs, as Redis's functions
//! have none; the check runs after it too.

use mlua::{Function, Lua, RegistryKey, Table, Value, ffi};
use std::os::raw::{c_int, c_void};

/// What the entry function gets through its light userdata argument.
struct Call<'a> {
    keys: &'a [&'a [u8]],
    args: &'a [&'a [u8]],
    /// A library function gets KEYS and ARGV as arguments (new tables); an EVAL script
    /// as globals (the kept tables, which held `filled` elements each).
    as_arguments: bool,
    filled: [usize; 2],
    /// The globals KEYS and ARGV must be (re)set to the kept tables.
    set_globals: bool,
    /// The globals KEYS and ARGV must be cleared first: a library function has none (as
    /// in Redis), and must not see the last EVAL's.
    clear_globals: bool,
}

/// The most elements a kept table is kept with: a larger one is replaced (clearing
/// entries never shrinks a Lua table, and the check after each run walks all of it).
const KEPT_MAX: usize = 64;

/// Puts a Lua stack back to its height when dropped, however the code using it ends.
struct Restore(*mut ffi::lua_State, c_int);

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: the state is alive for the guard's scope; setting a lower top never
        // raises.
        unsafe { ffi::lua_settop(self.0, self.1) };
    }
}

/// Stack slots of the entry function's arguments.
const F: c_int = 1;
const GLOBALS: c_int = 2;
const CALL: c_int = 3;
const KEYS: c_int = 4;
const ARGV: c_int = 5;

/// The C function [`Entry::run`] calls protected: `(f, globals, call, keys, argv)` → f's
/// one result.
///
/// Lua errors leave it by longjmp, so it holds nothing that needs dropping.
unsafe extern "C-unwind" fn entry(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: `Entry::run` pushed the five arguments, `CALL` pointing to a live `Call`,
    // and made room on the stack; every allocation here may raise, which the protected
    // call catches.
    unsafe {
        let call = &*(ffi::lua_touserdata(state, CALL) as *const Call<'_>);
        if call.as_arguments {
            if call.clear_globals {
                for name in [c"KEYS", c"ARGV"] {
                    ffi::lua_pushstring(state, name.as_ptr());
                    ffi::lua_pushnil(state);
                    ffi::lua_rawset(state, GLOBALS);
                }
            }
            ffi::lua_settop(state, F);
            push_array(state, call.keys);
            push_array(state, call.args);
            ffi::lua_call(state, 2, 1);
        } else {
            refill(state, KEYS, call.keys, call.filled[0]);
            refill(state, ARGV, call.args, call.filled[1]);
            // Scripts cannot change globals: once set, they stay the kept tables.
            if call.set_globals {
                for (name, at) in [(c"KEYS", KEYS), (c"ARGV", ARGV)] {
                    ffi::lua_pushstring(state, name.as_ptr());
                    ffi::lua_pushvalue(state, at);
                    ffi::lua_rawset(state, GLOBALS);
                }
            }
            ffi::lua_settop(state, F);
            ffi::lua_call(state, 0, 1);
        }
        1
    }
}

/// Lua's int index of element `i` (from 0), clamped (a request has far fewer arguments).
fn index(i: usize) -> ffi::lua_Integer {
    (i + 1).min(c_int::MAX as usize) as ffi::lua_Integer
}

/// Pushes a new table holding `items` as strings, from 1 (within a protected call: it
/// allocates).
unsafe fn push_array(state: *mut ffi::lua_State, items: &[&[u8]]) {
    // SAFETY: the caller runs this in a protected call with room for two more values.
    unsafe {
        ffi::lua_createtable(state, c_int::try_from(items.len()).unwrap_or(0), 0);
        refill(state, ffi::lua_gettop(state), items, 0);
    }
}

/// Puts `items` into the table at stack slot `at` (absolute), which holds keys
/// 1..=`filled` only: those past the items are cleared.
unsafe fn refill(state: *mut ffi::lua_State, at: c_int, items: &[&[u8]], filled: usize) {
    // SAFETY: the caller runs this in a protected call with room for one more value.
    unsafe {
        for (i, x) in items.iter().enumerate() {
            ffi::lua_pushlstring(state, x.as_ptr().cast(), x.len());
            ffi::lua_rawseti(state, at, index(i));
        }
        for i in items.len()..filled {
            ffi::lua_pushnil(state);
            ffi::lua_rawseti(state, at, index(i));
        }
    }
}

/// Whether the table at `at` holds keys 1..=`n` and nothing else, and has no metatable
/// (what [`refill`] needs of it).
unsafe fn holds_only(state: *mut ffi::lua_State, at: c_int, n: usize) -> bool {
    // SAFETY: `at` is a table; `lua_next` gets back only keys it gave, so it cannot
    // raise; the stack has room for two more values.
    unsafe {
        if ffi::lua_getmetatable(state, at) != 0 {
            ffi::lua_pop(state, 1);
            return false;
        }
        let mut count = 0;
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, at) != 0 {
            ffi::lua_pop(state, 1);
            let k = ffi::lua_tonumber(state, -1);
            let integral = ffi::lua_type(state, -1) == ffi::LUA_TNUMBER && k.fract() == 0.0;
            if !integral || k < 1.0 || k > n as f64 {
                ffi::lua_pop(state, 1);
                return false;
            }
            count += 1;
        }
        count == n
    }
}

/// The kept entry function, message handler, globals and KEYS and ARGV tables of one
/// VM, in Lua's registry (pushed by their index: cheaper than through mlua's handles).
pub(crate) struct Entry {
    /// The message handler, the entry function and the globals.
    fixed: [RegistryKey; 3],
    tables: [RegistryKey; 2],
    /// How many elements each kept table holds.
    filled: [usize; 2],
    /// The tables hold what `filled` says (false after a script changed them).
    clean: bool,
    /// The globals KEYS and ARGV are the kept tables.
    globals_set: bool,
}

/// Pushes registry value `key`.
///
/// # Safety
/// The stack has room for one more value.
unsafe fn push_kept(state: *mut ffi::lua_State, key: &RegistryKey) {
    // SAFETY: as the caller promises; reading the registry allocates nothing.
    unsafe { ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, key.id().into()) };
}

impl Entry {
    /// The entry function, `handler` for failing scripts, the `globals` EVAL's KEYS
    /// and ARGV are set on, and two empty tables.
    pub(crate) fn new(lua: &Lua, handler: &Function, globals: &Table) -> mlua::Result<Entry> {
        // SAFETY: `entry` follows the protocol of a Lua C function.
        let entry = unsafe { lua.create_c_function(entry) }?;
        Ok(Entry {
            fixed: [
                lua.create_registry_value(handler)?,
                lua.create_registry_value(entry)?,
                lua.create_registry_value(globals)?,
            ],
            tables: [
                lua.create_registry_value(lua.create_table()?)?,
                lua.create_registry_value(lua.create_table()?)?,
            ],
            filled: [0, 0],
            clean: true,
            globals_set: false,
        })
    }

    /// Runs `f` with KEYS and ARGV (as globals, or as arguments when `as_arguments`),
    /// under the handler: `Ok` with its result, `Err` with the handler's error value;
    /// the outer error when the Lua stack has no room.
    pub(crate) fn run(
        &mut self,
        lua: &Lua,
        f: &Function,
        keys: &[&[u8]],
        args: &[&[u8]],
        as_arguments: bool,
    ) -> mlua::Result<Result<Value, Value>> {
        if !self.clean {
            // Changed by the last script: new ones.
            for t in &mut self.tables {
                lua.replace_registry_value(t, lua.create_table()?)?;
            }
            self.filled = [0, 0];
            self.clean = true;
            self.globals_set = false;
        }
        let call = Call {
            keys,
            args,
            as_arguments,
            filled: self.filled,
            set_globals: !self.globals_set,
            clear_globals: as_arguments && self.globals_set,
        };
        // What the kept tables must hold after the run: this run's KEYS and ARGV, or
        // (FCALL) the last EVAL's.
        let expect = if as_arguments {
            self.filled
        } else {
            [keys.len(), args.len()]
        };
        // Until the run's end is seen, the tables count as changed (an early exit
        // replaces them).
        self.clean = false;
        let ran = lua.exec_raw_lua(|raw| {
            let state = raw.state();
            // SAFETY: the stack is put back to `top` however this ends; pushing the kept
            // values and the light userdata allocates nothing (the stack grows, once, in
            // `lua_checkstack`), so nothing raises outside the protected call; `call`
            // outlives it.
            unsafe {
                let top = ffi::lua_gettop(state);
                // handler, entry and its five arguments; then the names and the
                // script's own first frame.
                if ffi::lua_checkstack(state, 12) == 0 {
                    return Err(mlua::Error::StackError);
                }
                let _restore = Restore(state, top);
                let [handler, entry_fn, globals] = &self.fixed;
                push_kept(state, handler);
                push_kept(state, entry_fn);
                raw.push(f)?;
                push_kept(state, globals);
                ffi::lua_pushlightuserdata(state, (&raw const call).cast_mut().cast::<c_void>());
                for t in &self.tables {
                    push_kept(state, t);
                }
                let status = ffi::lua_pcall(state, 5, 1, top + 1);
                let v = raw.pop::<Value>();
                let mut kept = expect.iter().all(|&n| n <= KEPT_MAX);
                for (t, n) in self.tables.iter().zip(expect) {
                    if kept {
                        ffi::lua_settop(state, top);
                        push_kept(state, t);
                        kept = holds_only(state, top + 1, n);
                    }
                }
                Ok((status, v, kept))
            }
        })?;
        let (status, v, kept) = ran;
        if as_arguments {
            // Cleared (or the run failed before it ran anything): set again by the next EVAL.
            self.globals_set = false;
        } else {
            self.filled = expect;
            // A run that returned got past setting them (one that failed may not have).
            self.globals_set |= status == 0;
        }
        self.clean = kept;
        let v = v?;
        Ok(if status == 0 { Ok(v) } else { Err(v) })
    }
}
