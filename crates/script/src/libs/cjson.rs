//! The `cjson` library as Redis bundles it (lua-cjson's defaults): `encode`, `decode`
//! and `null`. Encoding escapes `/`, writes numbers as `%.14g`, an empty table as `{}`
//! and refuses excessively sparse arrays; both directions nest at most 1000 deep.
//! `encode` and `decode` return `(ok, value or message)`; the sandbox raises failures.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

/// The largest text `encode` builds (it lives outside the Lua VM's memory bound).
const MAX_OUTPUT: usize = 512 << 20;

/// How deeply values may nest either way (lua-cjson's default).
const MAX_DEPTH: usize = 1000;

/// `cjson.null`: a light userdata holding NULL, as lua-cjson's.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// `true, v`.
fn ok(v: Value) -> MultiValue {
    MultiValue::from_iter([Value::Boolean(true), v])
}

/// `false, message, true`: raised with the script's position first, as lua-cjson's
/// `luaL_error` does.
fn failed(msg: Value) -> MultiValue {
    MultiValue::from_iter([Value::Boolean(false), msg, Value::Boolean(true)])
}

/// The `cjson` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut s = Vec::new();
            Ok(match encode(&v, &mut s, 1) {
                Ok(()) => ok(Value::String(lua.create_string(&s)?)),
                Err(e) => failed(Value::String(lua.create_string(e)?)),
            })
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let mut p = Decoder {
                s: &bytes,
                at: 0,
                lua,
            };
            let r = p.ws().and_then(|()| p.value(1)).and_then(|v| {
                p.ws()?;
                if p.at < p.s.len() {
                    return Err(p.err("the end of the string"));
                }
                Ok(v)
            });
            Ok(match r {
                Ok(v) => ok(v),
                Err(DecodeError::Lua(e)) => return Err(e),
                Err(DecodeError::Text(e)) => failed(Value::String(lua.create_string(e)?)),
            })
        })?,
    )?;
    t.raw_set("null", null())?;
    Ok(t)
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => number(*n, out)?,
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            if out.len() > MAX_OUTPUT {
                // Tables that share parts can describe text far larger than memory.
                return Err("not enough memory".into());
            }
            if depth > MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            table_json(t, out, depth)?
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

fn number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !n.is_finite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    out.extend_from_slice(crate::number::g14(n).as_bytes());
    Ok(())
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// The length of a table that is an array (keys 1..n, not too sparse); `None` for an
/// object.
fn array_len(t: &Table) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let n = match k {
            Value::Integer(n) if n >= 1 => n as f64,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n,
            _ => return Ok(None),
        };
        max = max.max(n as usize);
        items += 1;
    }
    if max > 10 && max > items * 2 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok((max > 0).then_some(max))
}

fn table_json(t: &Table, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    if let Some(n) = array_len(t)? {
        out.push(b'[');
        for i in 1..=n {
            if i > 1 {
                out.push(b',');
            }
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            encode(&v, out, depth + 1)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    let mut first = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        if !first {
            out.push(b',');
        }
        first = false;
        match &k {
            Value::String(s) => string(&s.as_bytes(), out),
            Value::Number(n) => {
                out.push(b'"');
                number(*n, out)?;
                out.push(b'"');
            }
            Value::Integer(n) => out.extend_from_slice(format!("\"{n}\"").as_bytes()),
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        }
        out.push(b':');
        encode(&v, out, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

enum DecodeError {
    Text(String),
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(e)
    }
}

struct Decoder<'a> {
    s: &'a [u8],
    at: usize,
    lua: &'a Lua,
}

impl Decoder<'_> {
    /// lua-cjson's error: what was expected, and the token found where it was (its
    /// type's name, or why it is not a token).
    fn err(&self, what: &str) -> DecodeError {
        self.err_at(what, self.found(), self.at)
    }

    fn err_at(&self, what: &str, found: &str, at: usize) -> DecodeError {
        DecodeError::Text(format!(
            "Expected {what} but found {found} at character {}",
            at + 1
        ))
    }

    /// The type of the token at the current position, by lua-cjson's names.
    fn found(&self) -> &'static str {
        let rest = &self.s[self.at.min(self.s.len())..];
        match rest.first() {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b':') => "T_COLON",
            Some(b',') => "T_COMMA",
            Some(b'"') => "T_STRING",
            Some(c) if *c == b'-' || c.is_ascii_digit() => "T_NUMBER",
            _ if rest.starts_with(b"true") || rest.starts_with(b"false") => "T_BOOLEAN",
            _ if rest.starts_with(b"null") => "T_NULL",
            _ => "invalid token",
        }
    }

    fn ws(&mut self) -> Result<(), DecodeError> {
        while self.s.get(self.at).is_some_and(|c| b" \t\r\n".contains(c)) {
            self.at += 1;
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        match self.s.get(self.at) {
            Some(b'{') | Some(b'[') if depth > MAX_DEPTH => Err(DecodeError::Text(format!(
                "Found too many nested data structures ({depth}) at character {}",
                self.at + 1
            ))),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::String(
                self.lua.create_string(self.string("value")?)?,
            )),
            Some(b't') => self.word(b"true", Value::Boolean(true)),
            Some(b'f') => self.word(b"false", Value::Boolean(false)),
            Some(b'n') => self.word(b"null", null()),
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number(),
            _ => Err(self.err("value")),
        }
    }

    fn word(&mut self, w: &[u8], v: Value) -> Result<Value, DecodeError> {
        if self.s[self.at..].starts_with(w) {
            self.at += w.len();
            Ok(v)
        } else {
            Err(self.err("value"))
        }
    }

    fn number(&mut self) -> Result<Value, DecodeError> {
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
        {
            self.at += 1;
        }
        std::str::from_utf8(&self.s[start..self.at])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .map(Value::Number)
            .ok_or_else(|| self.err_at("value", "invalid number", start))
    }

    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let h = self
            .s
            .get(self.at..self.at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("value"))?;
        self.at += 4;
        Ok(h)
    }

    fn string(&mut self, expected: &str) -> Result<Vec<u8>, DecodeError> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.at) else {
                return Err(self.err_at(expected, "unexpected end of string", self.at));
            };
            self.at += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.at) else {
                        return Err(self.err_at(expected, "unexpected end of string", self.at));
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                }
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut b = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        }
                        _ => {
                            return Err(self.err_at(expected, "invalid escape code", self.at - 2));
                        }
                    }
                }
                _ => out.push(c),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, DecodeError> {
        self.at += 1;
        let t = self.lua.create_table()?;
        self.ws()?;
        if self.s.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Value::Table(t));
        }
        let mut i = 1;
        loop {
            self.ws()?;
            let v = self.value(depth + 1)?;
            t.raw_set(i, v)?;
            i += 1;
            self.ws()?;
            match self.s.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.err("comma or array end")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, DecodeError> {
        self.at += 1;
        let t = self.lua.create_table()?;
        self.ws()?;
        if self.s.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.ws()?;
            if self.s.get(self.at) != Some(&b'"') {
                return Err(self.err("object key string"));
            }
            let k = self.string("object key string")?;
            self.ws()?;
            if self.s.get(self.at) != Some(&b':') {
                return Err(self.err("colon"));
            }
            self.at += 1;
            self.ws()?;
            let v = self.value(depth + 1)?;
            t.raw_set(self.lua.create_string(&k)?, v)?;
            self.ws()?;
            match self.s.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.err("comma or object end")),
            }
        }
    }
}
