//! Raising a library function's error as Redis does: from a C function, so the error
//! handler still finds the script's own line (a Lua wrapper called as `return f()` would
//! be a tail call, and the script's frame would be gone).

use mlua::{Function, Lua, ffi};
use std::os::raw::c_int;

/// Calls its upvalue with its arguments; that returns `ok, ...`. When `ok` is true the
/// values after it are returned (all of them: `true, a, b` gives `a, b`). Otherwise
/// `false, message [, how]` is raised: `how` a number n words it as `luaL_argerror` does
/// (`bad argument #n to 'name' (message)`, the name being how the script called this
/// very function), `how` true as `luaL_error` does (the caller's `source:line: ` first);
/// without `how` the message is raised as it is.
unsafe extern "C-unwind" fn raise_failure(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: a Lua C function on its own stack; one upvalue was set when it was made.
    unsafe {
        let n = ffi::lua_gettop(l);
        ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
        ffi::lua_insert(l, 1);
        ffi::lua_call(l, n, ffi::LUA_MULTRET);
        let results = ffi::lua_gettop(l);
        if results > 0 && ffi::lua_toboolean(l, 1) != 0 {
            return results - 1;
        }
        ffi::lua_settop(l, 3);
        let text = ffi::lua_type(l, 2) == ffi::LUA_TSTRING;
        match ffi::lua_type(l, 3) {
            ffi::LUA_TNUMBER if text => {
                let narg = ffi::lua_tointeger(l, 3) as c_int;
                ffi::luaL_argerror(l, narg, ffi::lua_tostring(l, 2))
            }
            ffi::LUA_TBOOLEAN if text && ffi::lua_toboolean(l, 3) != 0 => {
                ffi::lua_settop(l, 2);
                // Level 1 is whoever called this function: the script's line, or nothing
                // when that is a C function such as pcall (as with luaL_error).
                ffi::luaL_where(l, 1);
                ffi::lua_insert(l, 2);
                ffi::lua_concat(l, 2);
                ffi::lua_error(l)
            }
            _ => {
                ffi::lua_settop(l, 2);
                ffi::lua_error(l)
            }
        }
    }
}

/// A C function that calls `inner` and raises its failures.
pub(crate) fn raising(lua: &Lua, inner: Function) -> mlua::Result<Function> {
    // SAFETY: `inner` is on the stack; it becomes the closure's only upvalue.
    unsafe {
        lua.exec_raw(inner, |state| {
            ffi::lua_pushcclosure(state, raise_failure, 1);
        })
    }
}
