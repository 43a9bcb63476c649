//! Calling a script or library function through Lua's C API: one protected call of a
//! kept C function that builds KEYS and ARGV and calls the script. mlua's own protected
//! call around that (a new C closure per call, its arguments and results moved through
//! its handles) cost more than a short script itself.

use mlua::{Function, Lua, Table, Value, ffi};
use std::os::raw::{c_int, c_void};

/// What the entry function gets through its light userdata argument.
struct Call<'a> {
    keys: &'a [&'a [u8]],
    args: &'a [&'a [u8]],
    /// A library function gets KEYS and ARGV as arguments; an EVAL script as globals.
    as_arguments: bool,
}

/// The C function [`run`] calls protected: `(f, globals, call)` → f's one result.
///
/// Lua errors leave it by longjmp, so it holds nothing that needs dropping.
unsafe extern "C-unwind" fn entry(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: `run` pushed f, the globals table and a pointer to a live `Call`, and made
    // room on the stack; every allocation here may raise, which the protected call
    // catches.
    unsafe {
        let call = &*(ffi::lua_touserdata(state, 3) as *const Call<'_>);
        ffi::lua_settop(state, 2);
        push_array(state, call.keys);
        push_array(state, call.args);
        // f, globals, keys, args
        if call.as_arguments {
            ffi::lua_remove(state, 2);
            ffi::lua_call(state, 2, 1);
        } else {
            for (name, at) in [(c"KEYS", 3), (c"ARGV", 4)] {
                ffi::lua_pushstring(state, name.as_ptr());
                ffi::lua_pushvalue(state, at);
                ffi::lua_rawset(state, 2);
            }
            ffi::lua_settop(state, 1);
            ffi::lua_call(state, 0, 1);
        }
        1
    }
}

/// Pushes a new table holding `items` as strings, from 1 (within a protected call: it
/// allocates).
unsafe fn push_array(state: *mut ffi::lua_State, items: &[&[u8]]) {
    // SAFETY: the caller runs this in a protected call with room for two more values.
    unsafe {
        ffi::lua_createtable(state, c_int::try_from(items.len()).unwrap_or(0), 0);
        for (i, x) in items.iter().enumerate() {
            ffi::lua_pushlstring(state, x.as_ptr().cast(), x.len());
            // Clamped to Lua's int indexes (a request has far fewer arguments).
            let at = (i + 1).min(c_int::MAX as usize) as ffi::lua_Integer;
            ffi::lua_rawseti(state, -2, at);
        }
    }
}

/// The kept entry function [`run`] needs.
pub(crate) fn make(lua: &Lua) -> mlua::Result<Function> {
    // SAFETY: `entry` follows the protocol of a Lua C function.
    unsafe { lua.create_c_function(entry) }
}

/// Runs `f` with KEYS and ARGV (as globals, or as arguments when `as_arguments`), under
/// `handler`: `Ok` with its result, `Err` with the handler's error value; the outer
/// error when the Lua stack has no room.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    lua: &Lua,
    entry_fn: &Function,
    handler: &Function,
    globals: &Table,
    f: &Function,
    keys: &[&[u8]],
    args: &[&[u8]],
    as_arguments: bool,
) -> mlua::Result<Result<Value, Value>> {
    let call = Call {
        keys,
        args,
        as_arguments,
    };
    lua.exec_raw_lua(|raw| {
        let state = raw.state();
        // SAFETY: the stack is put back to `top` before returning; pushing the handles
        // and the light userdata allocates nothing, so nothing raises outside the
        // protected call; `call` outlives it.
        unsafe {
            let top = ffi::lua_gettop(state);
            // handler, entry, f, globals, call; then the tables, the names and the
            // script's own first frame.
            if ffi::lua_checkstack(state, 12) == 0 {
                return Err(mlua::Error::StackError);
            }
            let pushed = raw.push(handler).and_then(|()| raw.push(entry_fn));
            let pushed = pushed.and_then(|()| raw.push(f));
            if let Err(e) = pushed.and_then(|()| raw.push(globals)) {
                ffi::lua_settop(state, top);
                return Err(e);
            }
            ffi::lua_pushlightuserdata(state, (&raw const call).cast_mut().cast::<c_void>());
            let status = ffi::lua_pcall(state, 3, 1, top + 1);
            let v = raw.pop::<Value>();
            ffi::lua_settop(state, top);
            let v = v?;
            Ok(if status == 0 { Ok(v) } else { Err(v) })
        }
    })
}
