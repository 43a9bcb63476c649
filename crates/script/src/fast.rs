//! `redis.call` and `redis.pcall` as Lua C functions, for the common call: string
//! arguments, and an integer, bulk or nil reply. Through mlua, each call copied its
//! arguments into Rust values, held each in one of mlua's handles, parsed the reply into a
//! tree and built the Lua value back under mlua's guard; that was most of a short
//! script's cost. Here the arguments are read in place on the Lua stack and the reply is
//! pushed straight onto it. Anything else (a number argument, too many arguments, a reply
//! of another shape) goes the general way, with the same results and errors.
//!
//! A Lua error here unwinds C frames only: while Lua may raise (a push past the memory
//! limit, a call), no Rust value that needs dropping is alive in this frame.

use crate::{CallCtx, Lent, MEMORY_LIMIT};
use concord_resp::Out;
use concord_resp::reply::{Reply, parse};
use mlua::{Function, Lua, ffi};
use std::cell::RefCell;
use std::os::raw::{c_char, c_int};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The most arguments a call may have to take the fast way.
const MAX_FAST: usize = 16;

/// The largest reply buffer kept from one run to the next.
const KEEP: usize = 64 * 1024;

/// What the C functions reach through their first upvalue.
pub(crate) struct FastCall {
    /// The host a run lends.
    lent: Rc<Lent>,
    /// `redis.setresp(3)` was called in this run.
    resp3: Arc<AtomicBool>,
    /// The reply of the last call (kept, so no call allocates a buffer).
    out: RefCell<Out>,
}

/// A reply, as the fast way pushes it.
enum Shape {
    /// `:n`, pushed as a number.
    Int(i64),
    /// `$n`: the bytes (in [`FastCall::out`]), pushed as a string.
    Bulk(*const u8, usize),
    /// `$-1`, pushed as false.
    Nil,
    /// Another reply: its whole RESP text, converted the general way.
    Other(*const u8, usize),
}

/// The reply of a call whose command panicked (a bug): an error reply; the script's
/// later calls get `no script is running`.
const BUG: &[u8] = b"-ERR the command failed (a bug; please report it)\r\n";

impl FastCall {
    /// The state `redis.call` and `redis.pcall` share.
    pub(crate) fn new(lent: Rc<Lent>, resp3: Arc<AtomicBool>) -> FastCall {
        FastCall {
            lent,
            resp3,
            out: RefCell::new(Out::new()),
        }
    }

    /// Gives back a large reply's buffer once the run that asked for it is over.
    pub(crate) fn trim(&self) {
        if let Ok(mut out) = self.out.try_borrow_mut()
            && out.buf.capacity() > KEEP
        {
            *out = Out::new();
        }
    }

    /// Runs one command through the lent host; its reply's shape, pointing into
    /// `self.out` (valid until the next call).
    fn dispatch(&self, args: &[&[u8]]) -> Shape {
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut out = self.out.borrow_mut();
            out.buf.clear();
            out.resp3 = self.resp3.load(Ordering::Acquire);
            out.limit = MEMORY_LIMIT;
            // Taken out while in use, as `Lent::with` does.
            match self.lent.host.take() {
                None => out.error("ERR no script is running"),
                Some(mut ptr) => {
                    let ctx = CallCtx {
                        resp3: out.resp3,
                        ..self.lent.ctx.get()
                    };
                    // SAFETY: see `Lent::lend`; the pointer is used on this thread only
                    // while the run that lent it lasts.
                    unsafe { ptr.as_mut() }.call(args, &ctx, &mut out);
                    // Given back only when the command returned: after a panic (a bug)
                    // the rest of the run reaches no command, so it writes nothing more
                    // on top of what that command may have left half done.
                    self.lent.host.set(Some(ptr));
                    if out.over_limit() {
                        out.buf.clear();
                        out.error(crate::libs::redis::TOO_LARGE);
                    }
                }
            }
            shape(&out.buf)
        }));
        ran.unwrap_or(Shape::Other(BUG.as_ptr(), BUG.len()))
    }
}

/// How the fast way pushes `resp` (one whole reply).
fn shape(resp: &[u8]) -> Shape {
    let other = Shape::Other(resp.as_ptr(), resp.len());
    // Only integers and bulks are read here: parsing another reply would build what the
    // converter then builds again.
    if !matches!(resp.first(), Some(b':' | b'$')) {
        return other;
    }
    match parse(resp) {
        Ok((Reply::Int(n), used)) if used == resp.len() => Shape::Int(n),
        Ok((Reply::Bulk(None), used)) if used == resp.len() => Shape::Nil,
        Ok((Reply::Bulk(Some(b)), used)) if used == resp.len() => Shape::Bulk(b.as_ptr(), b.len()),
        _ => other,
    }
}

/// `redis.call` (fourth upvalue true) or `redis.pcall` (false). Upvalues: the
/// [`FastCall`], the general function, and the converter `(resp) -> ok, value`.
unsafe extern "C-unwind" fn fast_call(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: a Lua C function on its own stack, made by `install` with four upvalues;
    // the first points to a `FastCall` the VM's owner keeps alive.
    unsafe {
        let n = ffi::lua_gettop(l);
        let count = usize::try_from(n).unwrap_or(0);
        let simple = (1..=MAX_FAST).contains(&count)
            && (1..=n).all(|i| ffi::lua_type(l, i) == ffi::LUA_TSTRING);
        if !simple {
            ffi::lua_pushvalue(l, ffi::lua_upvalueindex(2));
            ffi::lua_insert(l, 1);
            ffi::lua_call(l, n, ffi::LUA_MULTRET);
            return ffi::lua_gettop(l);
        }
        let mut args: [&[u8]; MAX_FAST] = [&[]; MAX_FAST];
        for (i, arg) in args.iter_mut().enumerate().take(count) {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(l, i as c_int + 1, &mut len);
            // The strings stay on the stack, unchanged, until this function returns.
            *arg = std::slice::from_raw_parts(p.cast::<u8>(), len);
        }
        let fc = &*ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)).cast::<FastCall>();
        match fc.dispatch(&args[..count]) {
            Shape::Int(v) => ffi::lua_pushnumber(l, v as ffi::lua_Number),
            Shape::Bulk(p, len) => {
                ffi::lua_pushlstring(l, p.cast::<c_char>(), len);
            }
            Shape::Nil => ffi::lua_pushboolean(l, 0),
            Shape::Other(p, len) => {
                ffi::lua_pushvalue(l, ffi::lua_upvalueindex(3));
                ffi::lua_pushlstring(l, p.cast::<c_char>(), len);
                ffi::lua_call(l, 1, 2);
                let raising = ffi::lua_toboolean(l, ffi::lua_upvalueindex(4)) != 0;
                if raising && ffi::lua_toboolean(l, -2) == 0 {
                    // The error table, raised from C as the general way raises it.
                    ffi::lua_error(l);
                }
            }
        }
        1
    }
}

/// Replaces `redis.call` and `redis.pcall` in `redis` (the real table, not the scripts'
/// read-only view) by the fast functions, each falling back to the one it replaces.
pub(crate) fn install(
    lua: &Lua,
    redis: &mlua::Table,
    fc: &Rc<FastCall>,
    convert: Function,
) -> mlua::Result<()> {
    for (name, raising) in [("call", true), ("pcall", false)] {
        let general: Function = redis.raw_get(name)?;
        // The caller keeps `fc` for as long as the VM lives; only shared access follows.
        let ptr = Rc::as_ptr(fc).cast_mut().cast::<std::ffi::c_void>();
        // SAFETY: `general` and `convert` are on the stack; with the pointer and the flag
        // they become the closure's four upvalues, in `fast_call`'s order.
        let f: Function = unsafe {
            lua.exec_raw((general, convert.clone()), |state| {
                ffi::lua_pushlightuserdata(state, ptr);
                ffi::lua_insert(state, -3);
                ffi::lua_pushboolean(state, c_int::from(raising));
                ffi::lua_pushcclosure(state, fast_call, 4);
            })?
        };
        redis.raw_set(name, f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_read_only_when_whole() {
        assert!(matches!(shape(b":42\r\n"), Shape::Int(42)));
        assert!(matches!(shape(b":-7\r\n"), Shape::Int(-7)));
        assert!(matches!(shape(b"$-1\r\n"), Shape::Nil));
        let b = b"$3\r\nabc\r\n";
        assert!(matches!(shape(b), Shape::Bulk(p, 3) if p == b[4..].as_ptr()));
        assert!(matches!(shape(b"$0\r\n\r\n"), Shape::Bulk(_, 0)));
        for other in [
            &b"+OK\r\n"[..],
            b"-ERR x\r\n",
            b"*1\r\n:1\r\n",
            b":1\r\n:2\r\n",
            b":x\r\n",
            b"$3\r\nab\r\n",
            b"$5\r\nabc\r\n",
            b"$-2\r\n",
            b"_\r\n",
            b"",
            b"\r\n",
            b":1",
        ] {
            assert!(matches!(shape(other), Shape::Other(..)), "{other:?}");
        }
    }
}
