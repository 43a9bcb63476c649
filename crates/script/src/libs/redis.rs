//! The `redis` library: commands (through the host), replies, logging, and the helpers
//! Redis gives scripts. Functions that fail return `(false, {err=...})`; the sandbox's
//! wrappers raise those, as Redis raises its error tables.

use crate::convert::{error_table, to_lua};
use crate::{CallCtx, Host, MEMORY_LIMIT};
use concord_resp::Out;
use concord_resp::reply::parse;
use mlua::{IntoLuaMulti, Lua, Table, Value, Variadic};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `(false, {err = msg})`.
pub(crate) fn fail(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    Ok((false, error_table(lua, msg.as_bytes())?))
}

/// The `redis` table's own functions and constants (`call`, `pcall`, `log` and
/// `acl_check_cmd` are added by the sandbox, as they reach the host).
pub(crate) fn table(lua: &Lua, version: &str, resp3: Arc<AtomicBool>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|lua, a: Variadic<Value>| match a.as_slice() {
            [Value::String(s)] => Ok((
                true,
                Value::String(lua.create_string(crate::sha1_hex(&s.as_bytes()))?),
            )),
            [v @ (Value::Number(_) | Value::Integer(_))] => {
                let text = lua
                    .coerce_string(v.clone())?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default();
                Ok((
                    true,
                    Value::String(lua.create_string(crate::sha1_hex(&text))?),
                ))
            }
            _ => fail(lua, "ERR wrong number of arguments"),
        })?,
    )?;
    t.raw_set(
        "error_reply",
        lua.create_function(|lua, a: Variadic<Value>| match a.as_slice() {
            [Value::String(s)] => {
                let text = s.as_bytes();
                let text = text.strip_prefix(b"-").unwrap_or(&text);
                let e = lua.create_table()?;
                e.raw_set("err", lua.create_string(text)?)?;
                Ok(Value::Table(e))
            }
            _ => error_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    t.raw_set(
        "status_reply",
        lua.create_function(|lua, a: Variadic<Value>| match a.as_slice() {
            [Value::String(s)] => {
                let e = lua.create_table()?;
                e.raw_set("ok", s.clone())?;
                Ok(Value::Table(e))
            }
            _ => error_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    t.raw_set(
        "setresp",
        lua.create_function(move |lua, a: Variadic<Value>| {
            let n = match a.as_slice() {
                [Value::Number(n)] => *n,
                [Value::Integer(n)] => *n as f64,
                [_] => -1.0,
                _ => return fail(lua, "ERR redis.setresp() requires one argument."),
            };
            if n != 2.0 && n != 3.0 {
                return fail(lua, "ERR RESP version must be 2 or 3.");
            }
            resp3.store(n == 3.0, Ordering::Release);
            Ok((true, Value::Nil))
        })?,
    )?;
    t.raw_set(
        "set_repl",
        lua.create_function(|lua, a: Variadic<Value>| {
            match a.as_slice() {
                [Value::Number(n)] if *n == f64::from(REPL_ALL) => Ok((true, Value::Nil)),
                [Value::Number(n)] if (0.0..=3.0).contains(n) => fail(
                    lua,
                    "ERR Concord replicates every write of a script to every instance: only REPL_ALL is accepted",
                ),
                [_] => fail(
                    lua,
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ),
                _ => fail(lua, "ERR redis.set_repl() requires one argument."),
            }
        })?,
    )?;
    t.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    // No debugger: a breakpoint is never taken and debug output goes nowhere, as outside
    // a Redis debugging session.
    t.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    t.raw_set(
        "debug",
        lua.create_function(|_, _: Variadic<Value>| Ok(()))?,
    )?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", REPL_ALL),
    ] {
        t.raw_set(name, v)?;
    }
    t.raw_set("REDIS_VERSION", version)?;
    t.raw_set("REDIS_VERSION_NUM", version_num(version))?;
    Ok(t)
}

/// Effects go to the append-only file and to every other instance.
const REPL_ALL: i32 = 3;

/// `7.2.0` as `0x00070200`.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .map(|p| p.parse::<i64>().unwrap_or(0) & 0xff)
        .fold(0, |acc, p| (acc << 8) | p)
}

/// One command argument from Lua: strings as they are, numbers as Lua prints them.
fn arg(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => Some(crate::number::g14(*n).into_bytes()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// The arguments of `redis.call` and friends, or the error Redis gives.
pub(crate) fn args(lua: &Lua, a: &[Value]) -> Result<Vec<Vec<u8>>, mlua::Result<(bool, Value)>> {
    if a.is_empty() {
        return Err(fail(
            lua,
            "ERR Please specify at least one argument for this redis lib call",
        ));
    }
    a.iter()
        .map(arg)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            fail(
                lua,
                "ERR Lua redis lib command arguments must be strings or integers",
            )
        })
}

/// `redis.call` / `redis.pcall`: runs the command through the host and returns its reply
/// as a Lua value; an error reply comes back as `(false, {err=...})`.
pub(crate) fn call(
    lua: &Lua,
    host: &mut dyn Host,
    ctx: &CallCtx,
    a: &[Value],
) -> mlua::Result<(bool, Value)> {
    let argv = match args(lua, a) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let views: Vec<&[u8]> = argv.iter().map(|v| v.as_slice()).collect();
    let mut out = Out::new();
    out.resp3 = ctx.resp3;
    out.limit = MEMORY_LIMIT;
    host.call(&views, ctx, &mut out);
    if out.over_limit() {
        return fail(lua, TOO_LARGE);
    }
    reply_value(lua, &out.buf)
}

/// The error when a command's reply passes the script's room.
pub(crate) const TOO_LARGE: &str = "ERR the reply is too large for a script";

/// A command's reply (its RESP bytes) as `redis.call` gives it: `(true, value)`, or
/// `(false, {err=...})` for an error reply.
pub(crate) fn reply_value(lua: &Lua, resp: &[u8]) -> mlua::Result<(bool, Value)> {
    let reply = match parse(resp) {
        Ok((r, _)) => r,
        Err(e) => return fail(lua, &format!("ERR {e}")),
    };
    let is_err = matches!(reply, concord_resp::reply::Reply::Error(_));
    let value = crate::small_unguarded(lua, resp.len(), || to_lua(lua, &reply))?;
    Ok((!is_err, value))
}

/// `redis.log(level, msg, ...)`.
pub(crate) fn log(lua: &Lua, host: &mut dyn Host, a: &[Value]) -> mlua::Result<(bool, Value)> {
    if a.len() < 2 {
        return fail(lua, "ERR redis.log() requires two arguments or more.");
    }
    let level = match &a[0] {
        Value::Number(n) if (0.0..=3.0).contains(n) && n.fract() == 0.0 => *n as u8,
        Value::Integer(n) if (0..=3).contains(n) => *n as u8,
        Value::Number(_) | Value::Integer(_) => return fail(lua, "ERR Invalid debug level."),
        _ => return fail(lua, "ERR First argument must be a number (log level)."),
    };
    let mut msg = String::new();
    for (i, v) in a[1..].iter().enumerate() {
        if i > 0 {
            msg.push(' ');
        }
        match arg(v) {
            Some(b) => msg.push_str(&String::from_utf8_lossy(&b)),
            None => msg.push_str(&format!("{v:?}")),
        }
    }
    host.log(level, &msg);
    Ok((true, Value::Nil))
}

/// `redis.acl_check_cmd(cmd, ...)`.
pub(crate) fn acl_check(
    lua: &Lua,
    host: &mut dyn Host,
    a: &[Value],
) -> mlua::Result<(bool, Value)> {
    let argv = match args(lua, a) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let views: Vec<&[u8]> = argv.iter().map(|v| v.as_slice()).collect();
    match host.acl_check(&views) {
        Some(ok) => Ok((true, Value::Boolean(ok))),
        None => fail(lua, "ERR Invalid command passed to redis.acl_check_cmd()"),
    }
}

/// The 48-bit generator Redis's `math.random` uses (the same sequence on every machine).
struct Rand48(Cell<u64>);

impl Rand48 {
    const A: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn seed(&self, s: i32) {
        let s = s as u32 as u64;
        self.0.set(((s & 0xffff_ffff) << 16 | 0x330E) & Self::MASK);
    }

    /// The next value, 0 to 2^31-1.
    fn next(&self) -> u32 {
        let x = (Self::A.wrapping_mul(self.0.get()).wrapping_add(0xB)) & Self::MASK;
        self.0.set(x);
        (x >> 17) as u32
    }
}

/// math.random's message for bounds with nothing between them.
const EMPTY: &str = "interval is empty";

/// Replaces `math.random` and `math.randomseed` with Redis's.
pub(crate) fn replace_random(lua: &Lua, math: &Table) -> mlua::Result<()> {
    let state = Rc::new(Rand48(Cell::new(0x1234_ABCD_330E)));
    let st = Rc::clone(&state);
    math.raw_set(
        "random",
        // Raised from a C function, so the message names the script's line as Lua's own
        // argument errors do: (true, value) or (false, message, argument number).
        crate::raise::raising(
            lua,
            lua.create_function(move |lua, a: Variadic<f64>| {
                let ok = |v: f64| (true, Value::Number(v)).into_lua_multi(lua);
                let fail = |msg: &str, how: Value| (false, msg, how).into_lua_multi(lua);
                const MAX: f64 = i32::MAX as f64;
                let r = f64::from(st.next() % i32::MAX as u32) / MAX;
                // Lua 5.1 reads its bounds as C ints through a 64-bit integer: x86 turns a
                // double out of that range into its minimum, the int keeps the low 32 bits,
                // and the interval's size wraps as Redis's build does.
                let check = |v: f64| -> i32 {
                    const WIDE: f64 = 9.223_372_036_854_776e18;
                    let wide = if v.is_nan() || !(-WIDE..WIDE).contains(&v) {
                        i64::MIN
                    } else {
                        v as i64
                    };
                    wide as i32
                };
                match a.as_slice() {
                    [] => ok(r),
                    [u] => {
                        let u = check(*u);
                        if u < 1 {
                            return fail(EMPTY, Value::Integer(1));
                        }
                        ok((r * f64::from(u)).floor() + 1.0)
                    }
                    [l, u] => {
                        let (l, u) = (check(*l), check(*u));
                        if l > u {
                            return fail(EMPTY, Value::Integer(2));
                        }
                        let size = f64::from(u.wrapping_sub(l).wrapping_add(1));
                        ok((r * size).floor() + f64::from(l))
                    }
                    _ => fail("wrong number of arguments", Value::Boolean(true)),
                }
            })?,
        )?,
    )?;
    math.raw_set(
        "randomseed",
        lua.create_function(move |_, s: f64| {
            state.seed(s as i64 as i32);
            Ok(())
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_follows_redis() {
        // Redis's first three math.random(100) values after start: 40, 85 (and its
        // third, math.random(), 0.35333609737146).
        let r = Rand48(Cell::new(0x1234_ABCD_330E));
        let f = |v: u32| f64::from(v % i32::MAX as u32) / i32::MAX as f64;
        assert_eq!((f(r.next()) * 100.0).floor() + 1.0, 40.0);
        assert_eq!((f(r.next()) * 100.0).floor() + 1.0, 85.0);
        assert_eq!(crate::number::g14(f(r.next())), "0.35333609737146");
        assert_eq!(version_num("7.2.0"), 0x070200);
    }
}
