//! Values between the server and Lua, both ways, by Redis's rules: a reply becomes a
//! Lua value for `redis.call`, and what a script returns becomes the caller's reply.

use concord_resp::Out;
use concord_resp::reply::Reply;
use mlua::{Lua, Table, Value};

/// How deeply a returned table may nest before the reply is refused (a table that holds
/// itself would otherwise never end).
const MAX_DEPTH: usize = 256;

/// A reply as the script sees it: RESP2's null bulk and null array are `false`, a status
/// is `{ok=...}`, an error `{err=...}`; RESP3's types become the tables Redis gives them.
pub(crate) fn to_lua(lua: &Lua, r: &Reply<'_>) -> mlua::Result<Value> {
    Ok(match r {
        Reply::Status(s) => one(lua, "ok", Value::String(lua.create_string(s)?))?,
        Reply::Error(e) => error_table(lua, e)?,
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(Some(b)) => Value::String(lua.create_string(b)?),
        Reply::Bulk(None) | Reply::Array(None) => Value::Boolean(false),
        Reply::Array(Some(v)) => {
            let t = lua.create_table_with_capacity(v.len(), 0)?;
            for (i, x) in v.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, x)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(v) => {
            let m = lua.create_table_with_capacity(0, v.len())?;
            for (k, x) in v {
                m.raw_set(to_lua(lua, k)?, to_lua(lua, x)?)?;
            }
            one(lua, "map", Value::Table(m))?
        }
        Reply::Set(v) => {
            let s = lua.create_table_with_capacity(0, v.len())?;
            for x in v {
                s.raw_set(to_lua(lua, x)?, true)?;
            }
            one(lua, "set", Value::Table(s))?
        }
        Reply::Null => Value::Nil,
        Reply::Bool(b) => Value::Boolean(*b),
        Reply::Double(d) => one(lua, "double", Value::Number(*d))?,
        Reply::BigNumber(b) => one(lua, "big_number", Value::String(lua.create_string(b)?))?,
        Reply::Verbatim(f, s) => {
            let t = lua.create_table()?;
            t.raw_set("format", lua.create_string(f)?)?;
            t.raw_set("string", lua.create_string(s)?)?;
            one(lua, "verbatim_string", Value::Table(t))?
        }
    })
}

/// `{name = v}`.
fn one(lua: &Lua, name: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, v)?;
    Ok(Value::Table(t))
}

/// An error reply's table: `{err = "CODE message"}` (a message without a code gets ERR;
/// trailing newlines go).
pub(crate) fn error_table(lua: &Lua, e: &[u8]) -> mlua::Result<Value> {
    let text = String::from_utf8_lossy(e);
    let text = text.trim_end_matches(['\r', '\n']);
    let text = match text.strip_prefix('-') {
        Some(t) if t.contains(' ') => t.to_string(),
        Some(t) => format!("ERR {t}"),
        None => text.to_string(),
    };
    one(lua, "err", Value::String(lua.create_string(&text)?))
}

/// Writes what a script returned as the caller's reply. `script_resp3`: the script
/// switched to RESP3 with `redis.setresp(3)` (booleans are then RESP booleans).
pub(crate) fn to_reply(v: &Value, script_resp3: bool, out: &mut Out) {
    write(v, script_resp3, out, 0);
}

fn write(v: &Value, script_resp3: bool, out: &mut Out, depth: usize) {
    // Past the limit nothing more is sent: stop walking too (tables that share parts can
    // describe replies far larger than memory).
    if out.over_limit() {
        return;
    }
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) if script_resp3 => out.boolean(*b),
        Value::Boolean(true) => out.int(1),
        Value::Boolean(false) => out.null(),
        // Redis truncates toward zero (a C cast); past i64 the cast saturates here.
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(*n as i64),
        Value::Table(t) => table(t, script_resp3, out, depth),
        _ => out.null(),
    }
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get(name).unwrap_or(Value::Nil)
}

/// Text for a status or error line: newlines would break framing.
fn line_text(s: &mlua::LuaString) -> String {
    String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ")
}

fn table(t: &Table, script_resp3: bool, out: &mut Out, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        // The code is the message's first word; one without becomes a generic error.
        out.error(&line_text(&e));
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        out.simple(&line_text(&s));
        return;
    }
    match field(t, "double") {
        Value::Number(d) => return out.double(d),
        Value::Integer(d) => return out.double(d as f64),
        _ => {}
    }
    if let Value::String(b) = field(t, "big_number") {
        let text = line_text(&b);
        if out.resp3 {
            out.raw(format!("({text}\r\n").as_bytes());
        } else {
            out.bulk(text.as_bytes());
        }
        return;
    }
    if let Value::Table(vs) = field(t, "verbatim_string")
        && let (Value::String(f), Value::String(s)) = (field(&vs, "format"), field(&vs, "string"))
    {
        let (f, s) = (f.as_bytes(), s.as_bytes());
        if out.resp3 && f.len() == 3 {
            out.raw(format!("={}\r\n", s.len() + 4).as_bytes());
            out.raw(&f);
            out.raw(b":");
            out.raw(&s);
            out.raw(b"\r\n");
        } else {
            out.bulk(&s);
        }
        return;
    }
    if let Value::Table(m) = field(t, "map") {
        // Counted first, then written one pair at a time: holding them all would take a
        // reference each, and references run out near 8,000.
        let Some(n) = count(m.pairs::<Value, Value>()) else {
            return out.error("ERR a map the script returned could not be read");
        };
        out.map(n);
        for (k, v) in m.pairs::<Value, Value>().flatten().take(n) {
            write(&k, script_resp3, out, depth + 1);
            write(&v, script_resp3, out, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let Some(n) = count(s.pairs::<Value, Value>()) else {
            return out.error("ERR a set the script returned could not be read");
        };
        out.set(n);
        for (k, _) in s.pairs::<Value, Value>().flatten().take(n) {
            write(&k, script_resp3, out, depth + 1);
        }
        return;
    }
    // An array: its elements up to the first nil, counted first (as above).
    let mut n = 0;
    loop {
        match t.raw_get::<Value>(n + 1) {
            Ok(Value::Nil) => break,
            Ok(_) => n += 1,
            Err(_) => return out.error("ERR an array the script returned could not be read"),
        }
    }
    out.array(n);
    for i in 1..=n {
        let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
        write(&v, script_resp3, out, depth + 1);
        if out.over_limit() {
            return;
        }
    }
}

/// How many items an iteration yields; `None` if one could not be read.
fn count(items: impl Iterator<Item = mlua::Result<(Value, Value)>>) -> Option<usize> {
    let mut n = 0;
    for item in items {
        item.ok()?;
        n += 1;
    }
    Some(n)
}
