//! The `cmsgpack` library as Redis bundles it (lua-cmsgpack 0.4.0): `pack`, `unpack`,
//! `unpack_one` and `unpack_limit`, with lua-cmsgpack's choice of encodings (numbers as
//! the smallest integer form when integral, else float32 when exact, else float64; a
//! table whose keys are exactly 1..n is an array) and its texts. Tables nest 16 deep
//! when packing (deeper ones pack as nil); unpacking is bounded as Redis's C stack bounds
//! it, and never allocates for a length the input does not hold.

use super::lauxlib::{self, Fail, MAX_C_STACK, MAX_RESULTS, Res};
use mlua::{Lua, Table, Value, Variadic};

/// How deeply `pack` follows tables; one deeper packs as nil (lua-cmsgpack's limit).
const MAX_NESTING: usize = 16;

/// The longest string `pack` builds (Redis's largest bulk string): the buffer is outside
/// the VM's memory limit, and a table packed many times over could grow it without end.
const MAX_OUTPUT: usize = 512 << 20;

/// The most arguments `pack` takes: it asks for as many stack slots again.
const MAX_PACK_ARGS: usize = MAX_C_STACK / 2;

/// Redis's error when the values would overflow its C stack.
const TOO_MANY: &str =
    "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";

/// The `cmsgpack` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, a: Variadic<Value>| lauxlib::reply(lua, pack(lua, &a)))?,
    )?;
    for (name, mode) in [
        ("unpack", Mode::All),
        ("unpack_one", Mode::One),
        ("unpack_limit", Mode::Limit),
    ] {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| {
                lauxlib::reply_many(lua, unpack(lua, &a, mode))
            })?,
        )?;
    }
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

/// `cmsgpack.pack(...)`: each argument's encoding, one after the other.
fn pack(lua: &Lua, args: &[Value]) -> Res<Value> {
    if args.is_empty() {
        return Err(Fail::Arg(0, b"MessagePack pack needs input.".to_vec()));
    }
    if args.len() > MAX_PACK_ARGS {
        return Err(Fail::Arg(
            0,
            b"Too many arguments for MessagePack pack.".to_vec(),
        ));
    }
    let mut p = Packer {
        out: Vec::new(),
        limit: MAX_OUTPUT,
    };
    for a in args {
        p.value(a, 0)?;
    }
    Ok(Value::String(lua.create_string(&p.out)?))
}

/// The encoder: its output so far.
struct Packer {
    out: Vec<u8>,
    /// The output's bound (`MAX_OUTPUT`; smaller in tests).
    limit: usize,
}

impl Packer {
    fn put(&mut self, b: &[u8]) -> Res<()> {
        if self.out.len() + b.len() > self.limit {
            return Err(Fail::Plain(b"not enough memory".to_vec()));
        }
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn value(&mut self, v: &Value, level: usize) -> Res<()> {
        match v {
            Value::String(s) => self.bytes(&s.as_bytes()),
            Value::Boolean(b) => self.put(&[if *b { 0xc3 } else { 0xc2 }]),
            Value::Integer(i) => self.number(*i as f64),
            Value::Number(n) => self.number(*n),
            Value::Table(t) if level < MAX_NESTING => self.table(t, level),
            // nil, functions, userdata (cjson.null too), and tables nested too deeply.
            _ => self.put(&[0xc0]),
        }
    }

    fn number(&mut self, n: f64) -> Res<()> {
        // An integer when int64 holds it exactly (NaN, infinities and 2^63 do not).
        if (-lauxlib::TWO_63..lauxlib::TWO_63).contains(&n) && n.trunc() == n {
            return self.int(n as i64);
        }
        let f = n as f32;
        if f64::from(f) == n {
            let b = f.to_be_bytes();
            self.put(&[0xca, b[0], b[1], b[2], b[3]])
        } else {
            let mut b = [0xcb; 9];
            b[1..].copy_from_slice(&n.to_be_bytes());
            self.put(&b)
        }
    }

    fn int(&mut self, n: i64) -> Res<()> {
        let with = |tag: u8, b: &[u8]| {
            let mut v = Vec::with_capacity(9);
            v.push(tag);
            v.extend_from_slice(b);
            v
        };
        let enc = if n >= 0 {
            match n {
                0..=127 => vec![n as u8],
                128..=0xff => vec![0xcc, n as u8],
                0x100..=0xffff => with(0xcd, &(n as u16).to_be_bytes()),
                0x1_0000..=0xffff_ffff => with(0xce, &(n as u32).to_be_bytes()),
                _ => with(0xcf, &n.to_be_bytes()),
            }
        } else {
            match n {
                -32..=-1 => vec![n as i8 as u8],
                -128..=-33 => vec![0xd0, n as i8 as u8],
                -32768..=-129 => with(0xd1, &(n as i16).to_be_bytes()),
                -2_147_483_648..=-32769 => with(0xd2, &(n as i32).to_be_bytes()),
                _ => with(0xd3, &n.to_be_bytes()),
            }
        };
        self.put(&enc)
    }

    fn bytes(&mut self, s: &[u8]) -> Res<()> {
        let n = s.len();
        if n < 32 {
            self.put(&[0xa0 | n as u8])?;
        } else if n <= 0xff {
            self.put(&[0xd9, n as u8])?;
        } else if n <= 0xffff {
            self.put(&[0xda, (n >> 8) as u8, n as u8])?;
        } else {
            let b = (n as u32).to_be_bytes();
            self.put(&[0xdb, b[0], b[1], b[2], b[3]])?;
        }
        self.put(s)
    }

    /// The header of an array (`base` 0x90) or a map (`base` 0x80) of `n` items.
    fn header(&mut self, base: u8, n: usize) -> Res<()> {
        // 0xdc/0xdd are array16/32, 0xde/0xdf map16/32.
        let wide = if base == 0x90 { 0xdc } else { 0xde };
        if n <= 15 {
            self.put(&[base | n as u8])
        } else if n <= 0xffff {
            self.put(&[wide, (n >> 8) as u8, n as u8])
        } else {
            let b = (n as u32).to_be_bytes();
            self.put(&[wide + 1, b[0], b[1], b[2], b[3]])
        }
    }

    fn table(&mut self, t: &Table, level: usize) -> Res<()> {
        if let Some(n) = array_len(t)? {
            self.header(0x90, n)?;
            for i in 1..=n {
                let v: Value = t.raw_get(i)?;
                self.value(&v, level + 1)?;
            }
            return Ok(());
        }
        // Walked twice rather than collected: each value held in Rust takes one of
        // mlua's few handles.
        let mut n = 0;
        for pair in t.pairs::<Value, Value>() {
            pair?;
            n += 1;
        }
        self.header(0x80, n)?;
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            self.value(&k, level + 1)?;
            self.value(&v, level + 1)?;
        }
        Ok(())
    }
}

/// The length of a table whose keys are exactly 1..n (an empty table is an array);
/// `None` for a map. Keys must be integral numbers that fit a C `int`.
fn array_len(t: &Table) -> Res<Option<usize>> {
    let (mut max, mut count) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let n = match pair?.0 {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if !(n > 0.0 && n <= f64::from(i32::MAX) && n.trunc() == n) {
            return Ok(None);
        }
        max = max.max(n as usize);
        count += 1;
    }
    Ok((max == count).then_some(count))
}

/// Which unpacking function was called.
#[derive(Clone, Copy)]
enum Mode {
    /// `unpack(s)`: every value.
    All,
    /// `unpack_one(s [, offset])`: the next offset, then one value.
    One,
    /// `unpack_limit(s, limit [, offset])`: the next offset, then `limit` values.
    Limit,
}

/// The unpacking functions: the values in a table, and how many there are.
fn unpack(lua: &Lua, a: &[Value], mode: Mode) -> Res<(Table, usize)> {
    let (limit, offset) = match mode {
        Mode::All => (0, 0),
        Mode::One => (1, lauxlib::opt_integer(lua, a.get(1), 2, 0)?),
        Mode::Limit => {
            let limit = lauxlib::check_integer(lua, a.get(1), 2)?;
            (limit, lauxlib::opt_integer(lua, a.get(2), 3, 0)?)
        }
    };
    let s = lauxlib::check_string(lua, a.first(), 1)?;
    let s = s.as_bytes();
    let len = s.len();
    if offset < 0 || limit < 0 {
        // lua-cmsgpack prints the input's length where the limit would be.
        return Err(Fail::at(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Fail::at(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    // unpack_limit(s, 0, 0) decodes everything too, and returns no offset.
    let all = limit == 0 && offset == 0;
    let limit = if all { i64::from(i32::MAX) } else { limit };
    // Values on the C stack besides the results: unpack keeps its arguments, the others
    // keep only the string.
    let base = if matches!(mode, Mode::All) {
        a.len()
    } else {
        1
    };
    let first = usize::from(!all);
    let out = lua.create_table()?;
    let mut d = Decoder {
        lua,
        s: &s,
        at: offset as usize,
        frames: None,
    };
    let mut count = 0usize;
    while d.at < len && (count as i64) < limit {
        if first + count + 1 > MAX_RESULTS {
            return Err(Fail::at(TOO_MANY));
        }
        let v = d.value(base + count)?;
        out.raw_set(first + count + 1, v)?;
        count += 1;
    }
    if !all {
        if base + count + 1 > MAX_C_STACK {
            return Err(Fail::at("stack overflow (in function mp_unpack_full)"));
        }
        let next = if d.at == len { -1.0 } else { d.at as f64 };
        out.raw_set(1, next)?;
    }
    Ok((out, first + count))
}

/// A table being filled. The tables themselves wait in a Lua table (`Decoder::frames`):
/// thousands of open ones held in Rust would each take one of mlua's few handles.
enum Open {
    Array { left: usize, next: i64 },
    Map { left: usize, key: Key },
}

/// A map's key waiting for its value.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    None,
    /// nil cannot wait in a table; it fails once the value is read, as Lua's settable does.
    Nil,
    Held,
}

/// What one encoded item starts.
enum Head {
    Done(Value),
    Array(usize),
    Map(usize),
}

/// The input ended inside an item.
const MISSING: &str = "Missing bytes in input.";
/// A tag lua-cmsgpack does not read (bin, ext, fixext, 0xc1).
const BAD: &str = "Bad data format in input.";

/// The reader of one input.
struct Decoder<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    at: usize,
    /// The open tables at odd indexes, each one's waiting key after it.
    frames: Option<Table>,
}

impl<'a> Decoder<'a> {
    /// The next `n` bytes, consumed.
    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        if self.s.len() - self.at < n {
            return Err(Fail::at(MISSING));
        }
        let s = self.s;
        let b = &s[self.at..self.at + n];
        self.at += n;
        Ok(b)
    }

    /// The `n`-byte big-endian length after a one-byte tag (not consumed on failure).
    fn len_after_tag(&mut self, n: usize) -> Res<usize> {
        let b = self.take(1 + n)?;
        Ok(b[1..]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x)))
    }

    fn string(&mut self, skip: usize, n: usize) -> Res<Head> {
        let b = self.take(skip + n)?;
        Ok(Head::Done(Value::String(
            self.lua.create_string(&b[skip..])?,
        )))
    }

    /// Reads one item's head; `slots` is how many values Redis would have on its C stack.
    fn head(&mut self, slots: usize) -> Res<Head> {
        let Some(&tag) = self.s.get(self.at) else {
            return Err(Fail::at(MISSING));
        };
        if slots + 1 > MAX_C_STACK {
            return Err(Fail::at(TOO_MANY));
        }
        let num = |n: f64| -> Res<Head> { Ok(Head::Done(Value::Number(n))) };
        let word = |b: &[u8]| b[1..].iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
        match tag {
            0xc0 | 0xc2 | 0xc3 => {
                self.at += 1;
                Ok(Head::Done(match tag {
                    0xc0 => Value::Nil,
                    t => Value::Boolean(t == 0xc3),
                }))
            }
            0xcc => num(f64::from(self.take(2)?[1])),
            0xd0 => num(f64::from(self.take(2)?[1] as i8)),
            0xcd => num(word(self.take(3)?) as f64),
            0xd1 => num(f64::from(word(self.take(3)?) as u16 as i16)),
            0xce => num(word(self.take(5)?) as f64),
            0xd2 => num(f64::from(word(self.take(5)?) as u32 as i32)),
            // uint64 goes through Lua's signed integer, so the top half wraps negative.
            0xcf | 0xd3 => num(word(self.take(9)?) as i64 as f64),
            0xca => {
                let b = self.take(5)?;
                num(f64::from(f32::from_be_bytes([b[1], b[2], b[3], b[4]])))
            }
            0xcb => {
                let b = self.take(9)?;
                let mut d = [0; 8];
                d.copy_from_slice(&b[1..]);
                num(f64::from_be_bytes(d))
            }
            0xd9 => {
                let n = self.len_after_tag(1)?;
                self.string(0, n)
            }
            0xda => {
                let n = self.len_after_tag(2)?;
                self.string(0, n)
            }
            0xdb => {
                let n = self.len_after_tag(4)?;
                self.string(0, n)
            }
            0xdc => Ok(Head::Array(self.len_after_tag(2)?)),
            0xdd => Ok(Head::Array(self.len_after_tag(4)?)),
            0xde => Ok(Head::Map(self.len_after_tag(2)?)),
            0xdf => Ok(Head::Map(self.len_after_tag(4)?)),
            0x00..=0x7f => {
                self.at += 1;
                num(f64::from(tag))
            }
            0xe0..=0xff => {
                self.at += 1;
                num(f64::from(tag as i8))
            }
            0xa0..=0xbf => self.string(1, usize::from(tag & 0x1f)),
            0x90..=0x9f => {
                self.at += 1;
                Ok(Head::Array(usize::from(tag & 0xf)))
            }
            0x80..=0x8f => {
                self.at += 1;
                Ok(Head::Map(usize::from(tag & 0xf)))
            }
            _ => Err(Fail::at(BAD)),
        }
    }

    fn frames(&mut self) -> Res<Table> {
        if let Some(f) = &self.frames {
            return Ok(f.clone());
        }
        let f = self.lua.create_table()?;
        self.frames = Some(f.clone());
        Ok(f)
    }

    /// One whole value, `base` values being on Redis's C stack already. Iterative: the
    /// input can nest thousands deep.
    fn value(&mut self, base: usize) -> Res<Value> {
        let mut open: Vec<Open> = Vec::new();
        // What Redis would hold on its C stack: an open array its table and the next
        // index, an open map its table and, once read, the waiting key.
        let mut slots = base;
        loop {
            let mut v = match self.head(slots)? {
                Head::Done(v) => v,
                Head::Array(n) => {
                    let t = self.lua.create_table()?;
                    if slots + 2 > MAX_C_STACK {
                        return Err(Fail::at(
                            "stack overflow (in function mp_decode_to_lua_array)",
                        ));
                    }
                    if n == 0 {
                        Value::Table(t)
                    } else {
                        self.frames()?.raw_set(2 * open.len() + 1, t)?;
                        open.push(Open::Array { left: n, next: 1 });
                        slots += 2;
                        continue;
                    }
                }
                Head::Map(n) => {
                    let t = self.lua.create_table()?;
                    if n == 0 {
                        Value::Table(t)
                    } else {
                        self.frames()?.raw_set(2 * open.len() + 1, t)?;
                        open.push(Open::Map {
                            left: n,
                            key: Key::None,
                        });
                        slots += 1;
                        continue;
                    }
                }
            };
            // Put the finished value in its table; a table it fills up is finished too.
            loop {
                let depth = open.len();
                let Some(top) = open.last_mut() else {
                    return Ok(v);
                };
                let frames = self.frames()?;
                let at = 2 * depth - 1;
                match top {
                    Open::Array { left, next } => {
                        let t: Table = frames.raw_get(at)?;
                        t.raw_set(*next, v)?;
                        *next += 1;
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        v = Value::Table(t);
                        slots -= 2;
                    }
                    Open::Map { left, key } => {
                        if *key == Key::None {
                            *key = if v.is_nil() {
                                Key::Nil
                            } else {
                                frames.raw_set(at + 1, v)?;
                                Key::Held
                            };
                            slots += 1;
                            break;
                        }
                        if *key == Key::Nil {
                            return Err(Fail::Plain(b"table index is nil".to_vec()));
                        }
                        let k: Value = frames.raw_get(at + 1)?;
                        if matches!(k, Value::Number(n) if n.is_nan()) {
                            return Err(Fail::Plain(b"table index is NaN".to_vec()));
                        }
                        let t: Table = frames.raw_get(at)?;
                        t.raw_set(k, v)?;
                        frames.raw_set(at + 1, Value::Nil)?;
                        *key = Key::None;
                        slots -= 1;
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        v = Value::Table(t);
                        slots -= 1;
                    }
                }
                frames.raw_set(at, Value::Nil)?;
                open.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::MultiValue;

    fn values(lua: &Lua, code: &str) -> Vec<Value> {
        let v: MultiValue = lua.load(format!("return {code}")).eval().expect("values");
        v.into_iter().collect()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// `cmsgpack.pack(<code>)` in hex.
    fn packed(lua: &Lua, code: &str) -> String {
        match pack(lua, &values(lua, code)) {
            Ok(Value::String(s)) => hex(&s.as_bytes()),
            other => panic!("{code}: {other:?}"),
        }
    }

    fn unpacked(lua: &Lua, data: &[u8], mode: Mode, more: &[f64]) -> Res<Vec<Value>> {
        let mut a = vec![Value::String(lua.create_string(data).unwrap())];
        a.extend(more.iter().map(|&n| Value::Number(n)));
        let (t, n) = unpack(lua, &a, mode)?;
        Ok((1..=n).map(|i| t.raw_get(i).unwrap()).collect())
    }

    fn at_text(r: Res<Vec<Value>>) -> String {
        match r {
            Err(Fail::At(m)) => String::from_utf8(m).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn packs_the_bytes_redis_does() {
        let lua = Lua::new();
        // Each expected encoding is what Redis's lua_cmsgpack.c gives.
        for (code, want) in [
            ("0.1", "cb3fb999999999999a"),
            ("-1099511627776", "d3ffffff0000000000"),
            ("2^63", "ca5f000000"),
            ("-2^63", "d38000000000000000"),
            ("2^64", "ca5f800000"),
            ("0/0", "cbfff8000000000000"),
            ("1/0", "ca7f800000"),
            ("-0.0", "00"),
            (
                "1.5, 'a', true, false, nil, {}, {1,2}, {a=1}",
                "ca3fc00000a161c3c2c09092010281a16101",
            ),
            (
                "255, 256, 65535, 65536, 2^32-1, 2^32, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1",
                "ccffcd0100cdffffce00010000ceffffffffcf0000000100000000e0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffff",
            ),
            ("{1,nil,3}", "8201010303"),
            ("{[1.5]=1}", "81ca3fc0000001"),
            ("{[2^31]=1}", "81ce8000000001"),
            ("{[0]=1}", "810001"),
            ("print", "c0"),
        ] {
            assert_eq!(packed(&lua, code), want, "{code}");
        }
        assert!(packed(&lua, "string.rep('x', 32)").starts_with("d920"));
        assert!(packed(&lua, "string.rep('x', 256)").starts_with("da0100"));
        assert!(packed(&lua, "string.rep('x', 65536)").starts_with("db00010000"));
        assert!(packed(&lua, "{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}").starts_with("dc0010"));
        // Tables nest 16 deep; the 17th packs as nil, which also ends a cycle.
        let deep = "(function() local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return t end)()";
        assert_eq!(packed(&lua, deep), format!("{}c0", "91".repeat(16)));
        let cycle = "(function() local t = {} t[1] = t return t end)()";
        assert_eq!(packed(&lua, cycle), format!("{}c0", "91".repeat(16)));
    }

    #[test]
    fn pack_refuses_no_input_and_too_much() {
        let lua = Lua::new();
        assert!(
            matches!(pack(&lua, &[]), Err(Fail::Arg(0, m)) if m == b"MessagePack pack needs input.")
        );
        let many = vec![Value::Nil; MAX_PACK_ARGS + 1];
        assert!(
            matches!(pack(&lua, &many), Err(Fail::Arg(0, m)) if m == b"Too many arguments for MessagePack pack.")
        );
        assert!(pack(&lua, &many[1..]).is_ok());
        // A table packed over and over stops at the output bound instead of growing.
        let wide = "(function() local t = {} for i = 1, 8 do t[i] = t end t[9] = string.rep('x', 100) return t end)()";
        let mut p = Packer {
            out: Vec::new(),
            limit: 1 << 20,
        };
        let r = p.value(&values(&lua, wide)[0], 0);
        assert!(matches!(r, Err(Fail::Plain(m)) if m == b"not enough memory"));
        assert!(p.out.len() <= 1 << 20);
    }

    #[test]
    fn values_round_trip() {
        let lua = Lua::new();
        lua.globals().set("cmsgpack", table(&lua).unwrap()).unwrap();
        let ok: bool = lua
            .load(
                r##"
                local function P(...) local ok, s = cmsgpack.pack(...) assert(ok) return s end
                local function U(s) local ok, t, n = cmsgpack.unpack(s) assert(ok, t) return unpack(t, 1, n) end
                local function same(a, b)
                  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
                  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
                  for k in pairs(b) do if a[k] == nil then return false end end
                  return true
                end
                local v = { 1, -1, 0.5, 1e300, -2^53, "", string.rep("z", 70000), true, false,
                  { a = { b = { 1, 2, { c = "d" } } }, [10] = 3, [-1] = 0.25 }, {} }
                for _, x in ipairs(v) do assert(same(U(P(x)), x), tostring(x)) end
                local a, b, c = U(P(1, "two", {3}))
                assert(a == 1 and b == "two" and c[1] == 3)
                local u64 = U("\207\255\255\255\255\255\255\255\255")
                assert(u64 == -1, u64)
                assert(select("#", U("")) == 0)
                local t = U("\146\192\2")
                assert(t[1] == nil and t[2] == 2)
                return true
                "##,
            )
            .eval()
            .unwrap();
        assert!(ok);
    }

    #[test]
    fn unpack_one_and_limit_return_the_next_offset() {
        let lua = Lua::new();
        let n = |v: &Value| match v {
            Value::Number(n) => *n,
            Value::Integer(i) => *i as f64,
            other => panic!("{other:?}"),
        };
        let nums = |r: Res<Vec<Value>>| r.unwrap().iter().map(n).collect::<Vec<_>>();
        let s = [1u8, 2, 3];
        assert_eq!(nums(unpacked(&lua, &s, Mode::One, &[])), [1.0, 1.0]);
        assert_eq!(nums(unpacked(&lua, &s, Mode::One, &[2.0])), [-1.0, 3.0]);
        assert_eq!(nums(unpacked(&lua, &s, Mode::One, &[3.0])), [-1.0]);
        assert_eq!(nums(unpacked(&lua, &s, Mode::One, &[1.9])), [2.0, 2.0]);
        assert_eq!(
            nums(unpacked(&lua, &s, Mode::Limit, &[2.0])),
            [2.0, 1.0, 2.0]
        );
        // limit 0 with offset 0 decodes everything and gives no offset.
        assert_eq!(
            nums(unpacked(&lua, &s, Mode::Limit, &[0.0, 0.0])),
            [1.0, 2.0, 3.0]
        );
        assert_eq!(
            at_text(unpacked(&lua, &s, Mode::One, &[4.0])),
            "Start offset 4 greater than input length 3."
        );
        assert_eq!(
            at_text(unpacked(&lua, &s, Mode::One, &[-1.0])),
            "Invalid request to unpack with offset of -1 and limit of 3."
        );
        match unpacked(&lua, &s, Mode::Limit, &[]) {
            Err(Fail::Arg(2, m)) => assert_eq!(m, b"number expected, got no value"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_input_fails_with_redis_texts() {
        let lua = Lua::new();
        let all = |s: &[u8]| unpacked(&lua, s, Mode::All, &[]);
        for s in [
            &b"\xcd\x01"[..],
            b"\xa3ab",
            b"\xd9\x05abc",
            b"\xdb\xff\xff\xff\xff",
            b"\xdd\xff\xff\xff\xff",
            b"\xdf\xff\xff\xff\xff\x01",
            b"\x92\x01",
        ] {
            assert_eq!(at_text(all(s)), "Missing bytes in input.", "{s:?}");
        }
        for s in [&b"\xc1"[..], b"\xc4\x00", b"\x91\xd4\x00\x00"] {
            assert_eq!(at_text(all(s)), "Bad data format in input.", "{s:?}");
        }
        assert!(matches!(all(b"\x81\xc0\x01"), Err(Fail::Plain(m)) if m == b"table index is nil"));
        assert!(
            matches!(all(b"\x81\xca\x7f\xc0\x00\x00\x01"), Err(Fail::Plain(m)) if m == b"table index is NaN")
        );
    }

    #[test]
    fn unpacking_is_bounded_as_redis_c_stack() {
        let lua = Lua::new();
        let all = |s: &[u8]| unpacked(&lua, s, Mode::All, &[]);
        assert_eq!(all(&[1; MAX_RESULTS]).unwrap().len(), MAX_RESULTS);
        assert_eq!(at_text(all(&[1; MAX_RESULTS + 1])), TOO_MANY);
        // Arrays take two stack slots a level: 3999 nest, 4000 do not.
        let nest = |n: usize| [vec![0x91; n], vec![1]].concat();
        assert!(all(&nest(3999)).is_ok());
        assert_eq!(
            at_text(all(&nest(4000))),
            "stack overflow (in function mp_decode_to_lua_array)"
        );
        // A map being a key takes one slot a level.
        let keys = |n: usize| [vec![0x81; n], vec![1]].concat();
        assert_eq!(at_text(all(&keys(7998))), "Missing bytes in input.");
        assert_eq!(at_text(all(&keys(7999))), TOO_MANY);
        let limited = unpacked(&lua, &[1; 8000], Mode::Limit, &[7999.0]);
        assert_eq!(at_text(limited), TOO_MANY);
    }
}
