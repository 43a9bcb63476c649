//! Arguments and failures as Lua 5.1's auxiliary library treats them in the C libraries
//! Redis bundles (`cmsgpack`, `struct`): numbers and strings stand in for each other, and
//! each failure says how the sandbox's `raising` wrapper (raise.rs) words it, so the
//! texts, the argument numbers, the function's name and the script's line come out as
//! Redis's do.

use mlua::{Lua, LuaString, MultiValue, Table, Value};

/// The most values a C function's stack holds (Lua 5.1's `LUAI_MAXCSTACK`).
pub(crate) const MAX_C_STACK: usize = 8000;

/// The most values a library function hands back: the sandbox spreads them with Lua's
/// `unpack`, whose three arguments share the same stack.
pub(crate) const MAX_RESULTS: usize = MAX_C_STACK - 3;

/// Why a library function failed, as the C library would have raised it.
#[derive(Debug)]
pub(crate) enum Fail {
    /// `luaL_argerror`: `bad argument #n to 'name' (text)`, after the caller's position.
    Arg(i32, Vec<u8>),
    /// `luaL_error`: the text after the caller's position (`user_script:1: `).
    At(Vec<u8>),
    /// An error the Lua core raises from inside a C function: the text alone.
    Plain(Vec<u8>),
    /// A failure of the VM itself (memory), raised as mlua raises it.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        Fail::Lua(e)
    }
}

impl Fail {
    /// A `luaL_error` with this text.
    pub(crate) fn at(text: impl Into<Vec<u8>>) -> Fail {
        Fail::At(text.into())
    }
}

/// A library function's outcome.
pub(crate) type Res<T> = Result<T, Fail>;

/// What the `raising` wrapper gets for a failure: `false, text` and how to word it (an
/// argument number, or `true` for the caller's position).
fn failure(lua: &Lua, f: Fail) -> mlua::Result<MultiValue> {
    let mut out = MultiValue::new();
    out.push_back(Value::Boolean(false));
    let how = match f {
        Fail::Arg(n, text) => {
            out.push_back(Value::String(lua.create_string(text)?));
            Value::Number(f64::from(n))
        }
        Fail::At(text) => {
            out.push_back(Value::String(lua.create_string(text)?));
            Value::Boolean(true)
        }
        Fail::Plain(text) => {
            out.push_back(Value::String(lua.create_string(text)?));
            return Ok(out);
        }
        Fail::Lua(e) => return Err(e),
    };
    out.push_back(how);
    Ok(out)
}

/// One value: `true, value`, or the failure.
pub(crate) fn reply(lua: &Lua, r: Res<Value>) -> mlua::Result<MultiValue> {
    match r {
        Ok(v) => Ok(MultiValue::from_vec(vec![Value::Boolean(true), v])),
        Err(f) => failure(lua, f),
    }
}

/// Many values: `true, table, count` (the sandbox spreads `table[1..count]`; values held
/// in a Lua table need no mlua handle each, and mlua has only a few thousand), or the
/// failure.
pub(crate) fn reply_many(lua: &Lua, r: Res<(Table, usize)>) -> mlua::Result<MultiValue> {
    match r {
        Ok((t, n)) => Ok(MultiValue::from_vec(vec![
            Value::Boolean(true),
            Value::Table(t),
            Value::Number(n as f64),
        ])),
        Err(f) => failure(lua, f),
    }
}

/// The type's name as `luaL_typename` gives it (`no value` for a missing argument).
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

fn type_error(v: Option<&Value>, narg: usize, expected: &str) -> Fail {
    Fail::Arg(
        narg as i32,
        format!("{expected} expected, got {}", type_name(v)).into_bytes(),
    )
}

/// `lua_tonumber`: a number, or a string Lua reads as one.
pub(crate) fn to_number(lua: &Lua, v: Option<&Value>) -> Res<Option<f64>> {
    Ok(match v {
        Some(Value::Number(n)) => Some(*n),
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(s @ Value::String(_)) => lua.coerce_number(s.clone())?,
        _ => None,
    })
}

/// `luaL_checklstring`: a string, or a number written as Lua writes it (`%.14g`).
pub(crate) fn check_string(lua: &Lua, v: Option<&Value>, narg: usize) -> Res<LuaString> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(n @ (Value::Number(_) | Value::Integer(_))) => lua
            .coerce_string(n.clone())?
            .ok_or_else(|| type_error(v, narg, "string")),
        _ => Err(type_error(v, narg, "string")),
    }
}

/// `luaL_checknumber`.
pub(crate) fn check_number(lua: &Lua, v: Option<&Value>, narg: usize) -> Res<f64> {
    to_number(lua, v)?.ok_or_else(|| type_error(v, narg, "number"))
}

/// `luaL_checkinteger`: the number cut toward zero as x86-64 converts it.
pub(crate) fn check_integer(lua: &Lua, v: Option<&Value>, narg: usize) -> Res<i64> {
    check_number(lua, v, narg).map(c_i64)
}

/// `luaL_optinteger`: `default` when the argument is missing or nil.
pub(crate) fn opt_integer(lua: &Lua, v: Option<&Value>, narg: usize, default: i64) -> Res<i64> {
    match v {
        None | Some(Value::Nil) => Ok(default),
        _ => check_integer(lua, v, narg),
    }
}

/// 2^63, where int64 ends.
pub(crate) const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// C's `(int64_t)n` on x86-64: cut toward zero; NaN and what does not fit give the
/// "integer indefinite" value, `i64::MIN` (Rust's `as` would saturate instead).
pub(crate) fn c_i64(n: f64) -> i64 {
    if n.is_nan() || !(-TWO_63..TWO_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// C's `(uint64_t)n` as GCC compiles it for x86-64: below 2^63 through a signed
/// conversion, else through one of `n - 2^63` with the top bit flipped back.
pub(crate) fn c_u64(n: f64) -> u64 {
    if n >= TWO_63 {
        (c_i64(n - TWO_63) as u64) ^ (1 << 63)
    } else {
        c_i64(n) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_follow_x86_64() {
        assert_eq!(c_i64(-2.7), -2);
        assert_eq!(c_i64(f64::NAN), i64::MIN);
        assert_eq!(c_i64(1e300), i64::MIN);
        assert_eq!(c_i64(-TWO_63), i64::MIN);
        assert_eq!(c_u64(TWO_63 + 2048.0), (1 << 63) + 2048);
        assert_eq!(c_u64(TWO_63 * 2.0), 0);
        assert_eq!(c_u64(f64::INFINITY), 0);
        assert_eq!(c_u64(f64::NAN), 1 << 63);
        assert_eq!(c_u64(-1.0), u64::MAX);
    }

    #[test]
    fn arguments_convert_as_lua_does() {
        let lua = Lua::new();
        let s = Value::String(lua.create_string(" 0x10 ").unwrap());
        assert_eq!(check_number(&lua, Some(&s), 2).unwrap(), 16.0);
        let n = Value::Number(0.1);
        assert_eq!(
            &*check_string(&lua, Some(&n), 1).unwrap().as_bytes(),
            b"0.1"
        );
        match check_number(&lua, None, 3) {
            Err(Fail::Arg(3, m)) => assert_eq!(m, b"number expected, got no value"),
            other => panic!("{other:?}"),
        }
        match check_string(&lua, Some(&Value::Boolean(true)), 1) {
            Err(Fail::Arg(1, m)) => assert_eq!(m, b"string expected, got boolean"),
            other => panic!("{other:?}"),
        }
        assert_eq!(opt_integer(&lua, Some(&Value::Nil), 3, 7).unwrap(), 7);
        assert_eq!(
            opt_integer(&lua, Some(&Value::Number(-2.9)), 3, 7).unwrap(),
            -2
        );
    }
}
