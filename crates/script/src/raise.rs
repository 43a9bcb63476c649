//! Raising a library function's error as Redis does: from a C function, so the error
//! handler still finds the script's own line (a Lua wrapper called as `return f()` would
//! be a tail call, and the script's frame would be gone).

use mlua::{Function, Lua, ffi};
use std::os::raw::c_int;

/// Calls its upvalue with its arguments; that returns `ok, value`: `value` is returned,
/// or raised as the error when `ok` is false.
unsafe extern "C-unwind" fn raise_failure(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: a Lua C function on its own stack; one upvalue was set when it was made.
    unsafe {
        let n = ffi::lua_gettop(l);
        ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
        ffi::lua_insert(l, 1);
        ffi::lua_call(l, n, 2);
        if ffi::lua_toboolean(l, -2) == 0 {
            ffi::lua_error(l);
        }
        1
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
