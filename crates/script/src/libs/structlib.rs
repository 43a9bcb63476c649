//! The `struct` library as Redis bundles it (Roberto Ierusalimschy's struct.c 1.7 with
//! Redis's bounds): `pack`, `unpack` and `size` over formats of `> < = ! x b B h H l L T
//! i I f d s c` and spaces, sized as on x86-64 (`long`, `size_t` and `double` take 8
//! bytes, `int` 4, integers at most 32), little-endian unless told otherwise. Odd corners
//! (sizes past 8 bytes, out-of-range numbers) give the bytes Redis's build gives.

use super::lauxlib::{self, Fail, MAX_C_STACK, MAX_RESULTS, Res};
use mlua::{Lua, Table, Value, Variadic};

/// The widest integer a format may ask for.
const MAX_INT_SIZE: usize = 32;

/// `!` alone: the alignment of a `double` after a `char` on x86-64.
const MAX_ALIGN: usize = 8;

/// The `struct` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, a: Variadic<Value>| lauxlib::reply(lua, pack(lua, &a)))?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, a: Variadic<Value>| lauxlib::reply_many(lua, unpack(lua, &a)))?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|lua, a: Variadic<Value>| lauxlib::reply(lua, size(lua, &a)))?,
    )?;
    Ok(t)
}

/// Byte order and largest alignment, as the format has set them so far.
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A format being read: the C library reads it as a C string, so it ends at a NUL.
struct Format<'a> {
    f: &'a [u8],
    at: usize,
}

impl<'a> Format<'a> {
    fn new(f: &'a [u8]) -> Self {
        let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
        Format {
            f: &f[..end],
            at: 0,
        }
    }

    fn next_option(&mut self) -> Option<u8> {
        let c = *self.f.get(self.at)?;
        self.at += 1;
        Some(c)
    }

    /// The number written after an option, or `default` when there is none.
    fn num(&mut self, default: usize) -> Res<usize> {
        if !self.f.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(&c) = self.f.get(self.at).filter(|c| c.is_ascii_digit()) {
            let d = i32::from(c - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(Fail::at("integral size overflow"));
            }
            a = a * 10 + d;
            self.at += 1;
        }
        Ok(a as usize)
    }

    /// The size an option takes (0 for those that take none or have none fixed).
    fn size(&mut self, opt: u8) -> Res<usize> {
        Ok(match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.num(1)?,
            b'i' | b'I' => {
                let n = self.num(4)?;
                if n > MAX_INT_SIZE {
                    return Err(Fail::at(format!(
                        "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                n
            }
            _ => 0,
        })
    }

    /// Applies an option that is not a value (`> < ! space`); anything else is refused.
    fn control(&mut self, opt: u8, h: &mut Header) -> Res<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.num(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(Fail::at(format!("alignment {a} is not a power of 2")));
                }
                h.align = a;
            }
            _ => {
                let mut m = b"invalid format option '".to_vec();
                m.push(opt);
                m.push(b'\'');
                return Err(Fail::Arg(1, m));
            }
        }
        Ok(())
    }
}

/// Padding before an item of `size` at offset `len`. The arithmetic is the C library's,
/// odd results for sizes that are not powers of two included.
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

fn is_integer(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, a: &[Value]) -> Res<Value> {
    let fmt = lauxlib::check_string(lua, a.first(), 1)?;
    let fmt = fmt.as_bytes();
    let mut f = Format::new(&fmt);
    // The C function pushes a nil just past its arguments, which a missing argument
    // then reads as.
    let nil = Value::Nil;
    let arg_at = |i: usize| match i.checked_sub(1).and_then(|i| a.get(i)) {
        Some(v) => Some(v),
        None if i == a.len() + 1 => Some(&nil),
        None => None,
    };
    let mut h = Header::default();
    let mut out = Vec::new();
    let mut arg = 2;
    while let Some(opt) = f.next_option() {
        let mut size = f.size(opt)?;
        let pad = padding(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            _ if is_integer(opt) => {
                let n = lauxlib::check_number(lua, arg_at(arg), arg)?;
                arg += 1;
                // Negative numbers go through the signed conversion, others the unsigned.
                let mut v = if n < 0.0 {
                    lauxlib::c_i64(n) as u64
                } else {
                    lauxlib::c_u64(n)
                };
                let mut b = [0u8; MAX_INT_SIZE];
                for i in 0..size {
                    b[if h.little { i } else { size - 1 - i }] = v as u8;
                    v >>= 8;
                }
                out.extend_from_slice(&b[..size]);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = lauxlib::check_number(lua, arg_at(arg), arg)? as f32;
                arg += 1;
                let b = if h.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'd' => {
                let n = lauxlib::check_number(lua, arg_at(arg), arg)?;
                arg += 1;
                let b = if h.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = lauxlib::check_string(lua, arg_at(arg), arg)?;
                arg += 1;
                let s = s.as_bytes();
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C library names the argument after this one.
                    return Err(Fail::Arg(arg as i32, b"string too short".to_vec()));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => f.control(opt, &mut h)?,
        }
    }
    Ok(Value::String(lua.create_string(&out)?))
}

/// The integer in `b` (its last 8 bytes in reading order are what counts, as in a C
/// `long`), sign-extended from the top bit for signed options. The sign mask is shifted
/// as x86-64 shifts (count mod 64), which is what sizes past 8 get.
fn get_integer(b: &[u8], little: bool, signed: bool) -> f64 {
    let fold = |l: u64, &x: &u8| (l << 8) | u64::from(x);
    let l = if little {
        b.iter().rev().fold(0, fold)
    } else {
        b.iter().fold(0, fold)
    };
    if !signed {
        return l as f64;
    }
    let mask = u64::MAX.wrapping_shl((b.len() * 8).wrapping_sub(1) as u32);
    let l = if l & mask != 0 { l | mask } else { l };
    l as i64 as f64
}

/// `struct.unpack(fmt, s [, pos])`: the values, then the position after them.
fn unpack(lua: &Lua, a: &[Value]) -> Res<(Table, usize)> {
    let fmt = lauxlib::check_string(lua, a.first(), 1)?;
    let fmt = fmt.as_bytes();
    let data = lauxlib::check_string(lua, a.get(1), 2)?;
    let data = data.as_bytes();
    let ld = data.len();
    // A negative position wraps as C's size_t does: too far for any item, but returned
    // as given when the format is empty.
    let start = lauxlib::opt_integer(lua, a.get(2), 3, 1)? as u64 as usize;
    if start == 0 {
        return Err(Fail::Arg(3, b"offset must be 1 or greater".to_vec()));
    }
    let mut pos = start - 1;
    let mut f = Format::new(&fmt);
    let mut h = Header::default();
    let out = lua.create_table()?;
    let mut n = 0usize;
    let too_short = || Fail::Arg(2, b"data string too short".to_vec());
    while let Some(opt) = f.next_option() {
        let mut size = f.size(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        // Room for one more value and the position (Redis counts its arguments too).
        if a.len() + n + 2 > MAX_C_STACK || n + 2 > MAX_RESULTS {
            return Err(Fail::at("stack overflow (too many results)"));
        }
        let item = &data[pos..pos + size];
        let v = match opt {
            _ if is_integer(opt) => Some(Value::Number(get_integer(
                item,
                h.little,
                opt.is_ascii_lowercase(),
            ))),
            b'x' => None,
            b'f' => {
                let b = [item[0], item[1], item[2], item[3]];
                let x = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                Some(Value::Number(f64::from(x)))
            }
            b'd' => {
                let mut b = [0; 8];
                b.copy_from_slice(item);
                let x = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                Some(Value::Number(x))
            }
            b'c' => {
                if size == 0 {
                    // The length is the value just read, which `c0` takes the place of.
                    let prev = if n == 0 {
                        None
                    } else {
                        lauxlib::to_number(lua, Some(&out.raw_get::<Value>(n)?))?
                    };
                    let Some(len) = prev else {
                        return Err(Fail::at("format 'c0' needs a previous size"));
                    };
                    size = lauxlib::c_u64(len) as usize;
                    out.raw_set(n, Value::Nil)?;
                    n -= 1;
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                Some(Value::String(lua.create_string(&data[pos..pos + size])?))
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(Fail::at("unfinished string in data"));
                };
                size = end + 1;
                Some(Value::String(lua.create_string(&data[pos..pos + end])?))
            }
            _ => {
                f.control(opt, &mut h)?;
                None
            }
        };
        if let Some(v) = v {
            n += 1;
            out.raw_set(n, v)?;
        }
        pos = pos.wrapping_add(size);
    }
    out.raw_set(n + 1, pos.wrapping_add(1) as i64 as f64)?;
    Ok((out, n + 1))
}

/// `struct.size(fmt)`: the bytes a format packs to.
fn size(lua: &Lua, a: &[Value]) -> Res<Value> {
    let fmt = lauxlib::check_string(lua, a.first(), 1)?;
    let fmt = fmt.as_bytes();
    let mut f = Format::new(&fmt);
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = f.next_option() {
        let size = f.size(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(Fail::Arg(1, b"option 's' has no fixed size".to_vec()));
        }
        if opt == b'c' && size == 0 {
            return Err(Fail::Arg(1, b"option 'c0' has no fixed size".to_vec()));
        }
        // Unknown letters and digits pass unnoticed here, as in the C library.
        if !opt.is_ascii_alphanumeric() {
            f.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(Value::Number(pos as i64 as f64))
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

    fn packed(lua: &Lua, code: &str) -> Res<String> {
        match pack(lua, &values(lua, code))? {
            Value::String(s) => Ok(hex(&s.as_bytes())),
            other => panic!("{code}: {other:?}"),
        }
    }

    /// `struct.unpack(<code>)` shown as Lua would print each value.
    fn unpacked(lua: &Lua, code: &str) -> Res<Vec<String>> {
        let (t, n) = unpack(lua, &values(lua, code))?;
        Ok((1..=n)
            .map(|i| match t.raw_get::<Value>(i).unwrap() {
                Value::String(s) => s.to_string_lossy(),
                Value::Number(x) => crate::number::g14(x),
                Value::Integer(x) => crate::number::g14(x as f64),
                other => panic!("{other:?}"),
            })
            .collect())
    }

    fn text<T: std::fmt::Debug>(r: Res<T>) -> (i32, String) {
        match r {
            Err(Fail::Arg(n, m)) => (n, String::from_utf8_lossy(&m).into_owned()),
            Err(Fail::At(m)) => (-1, String::from_utf8_lossy(&m).into_owned()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn packs_the_bytes_redis_does() {
        let lua = Lua::new();
        // Each expected string is what Redis's lua_struct.c gives on x86-64.
        for (code, want) in [
            ("'>i', -2", "fffffffe"),
            ("'<i9', -2", "feffffffffffffff00"),
            ("'<I16', 2^64", "00000000000000000000000000000000"),
            ("'<L', 2^64", "0000000000000000"),
            ("'<l', -2^64", "0000000000000080"),
            ("'<L', 0/0", "0000000000000080"),
            ("'<L', 1/0", "0000000000000000"),
            ("'<l', -1/0", "0000000000000080"),
            ("'<L', 2^63 + 2^11", "0008000000000080"),
            ("'<L', -0.5", "0000000000000000"),
            ("'!<bd', 1, 1.5", "0100000000000000000000000000f83f"),
            ("'!4<bd', 1, 1.5", "01000000000000000000f83f"),
            ("'!<bi3', 1, 2", "010000020000"),
            ("'!<bbi3', 1, 1, 2", "0101020000"),
            ("'!<bbbi3', 1, 1, 1, 2", "010101020000"),
            ("'>fd', 1.5, 0.1", "3fc000003fb999999999999a"),
            ("'c0sc3', 'ab', 'cd', 'efgh'", "6162636400656667"),
            ("'i0x', 5", "00"),
            ("'b', 300", "2c"),
            ("'i', '0x10'", "10000000"),
            ("'>h H', -2, 65535", "fffeffff"),
            ("'I\\0garbage', 1", "01000000"),
        ] {
            assert_eq!(packed(&lua, code).unwrap(), want, "{code}");
        }
    }

    #[test]
    fn pack_fails_as_redis_does() {
        let lua = Lua::new();
        for (code, want) in [
            ("'c5', 'ab'", (3, "string too short")),
            (
                "'i33', 1",
                (-1, "integral size 33 is larger than limit of 32"),
            ),
            ("'!3', 1", (-1, "alignment 3 is not a power of 2")),
            ("'c99999999999', 1", (-1, "integral size overflow")),
            ("'i', 'x'", (2, "number expected, got string")),
            ("'i'", (2, "number expected, got nil")),
            ("'ii', 1", (3, "number expected, got nil")),
            ("'s'", (2, "string expected, got nil")),
            ("'b', {}", (2, "number expected, got table")),
            ("nil", (1, "string expected, got nil")),
            ("'=i', 1", (1, "invalid format option '='")),
        ] {
            assert_eq!(text(packed(&lua, code)), (want.0, want.1.into()), "{code}");
        }
    }

    #[test]
    fn unpacks_as_redis_does() {
        let lua = Lua::new();
        for (code, want) in [
            ("'<i9', string.rep('\\255', 9)", &["-1", "10"][..]),
            ("'<i9', '\\128\\0\\0\\0\\0\\0\\0\\0\\0'", &["-128", "10"]),
            ("'<i9', '\\0\\0\\0\\0\\0\\0\\0\\0\\1'", &["0", "10"]),
            (
                "'<i16', '\\1' .. string.rep('\\0', 14) .. '\\128'",
                &["1", "17"],
            ),
            ("'<i0', 'a'", &["0", "1"]),
            ("'<I9', '\\1\\0\\0\\0\\0\\0\\0\\0\\1'", &["1", "10"]),
            ("'<i3', '\\255\\255\\127'", &["8388607", "4"]),
            ("'<i3', '\\255\\255\\128'", &["-8323073", "4"]),
            ("'c1c0', '3abcd'", &["abc", "5"]),
            ("'bc0', '\\3abcd'", &["abc", "5"]),
            ("'sb', 'ab\\0\\5'", &["ab", "5", "5"]),
            ("'', 'ab', -5", &["-5"]),
            ("'', 'ab', 10", &["10"]),
            ("'!4bi', 'a\\0\\0\\0\\1\\0\\0\\0'", &["97", "1", "9"]),
            ("'b', 'abcd', 2.9", &["98", "3"]),
            ("'bx', 'ab'", &["97", "3"]),
            (
                "'>fd', '\\63\\192\\0\\0\\63\\185\\153\\153\\153\\153\\153\\154'",
                &["1.5", "0.1", "13"],
            ),
        ] {
            assert_eq!(unpacked(&lua, code).unwrap(), want, "{code}");
        }
        for (code, want) in [
            ("'c0', '3abcd'", (-1, "format 'c0' needs a previous size")),
            ("'bc0', '\\9abcd'", (2, "data string too short")),
            ("'bc0', '\\255abcd'", (2, "data string too short")),
            ("'s', 'ab'", (-1, "unfinished string in data")),
            ("'b', 'ab', 0", (3, "offset must be 1 or greater")),
            ("'b', 'ab', -5", (2, "data string too short")),
            ("'<', 'ab', 10", (2, "data string too short")),
            ("'z', 'ab'", (1, "invalid format option 'z'")),
            ("'i', 'abcd', 2", (2, "data string too short")),
            ("'b', 'a', 'x'", (3, "number expected, got string")),
            ("'b'", (2, "string expected, got no value")),
        ] {
            assert_eq!(
                text(unpacked(&lua, code)),
                (want.0, want.1.into()),
                "{code}"
            );
        }
    }

    #[test]
    fn unpack_results_are_bounded() {
        let lua = Lua::new();
        let n = MAX_RESULTS - 1;
        let code = format!("string.rep('b', {n}), string.rep('a', {n})");
        assert_eq!(unpacked(&lua, &code).unwrap().len(), n + 1);
        let code = format!("string.rep('b', {}), string.rep('a', {})", n + 1, n + 1);
        assert_eq!(
            text(unpacked(&lua, &code)),
            (-1, "stack overflow (too many results)".into())
        );
    }

    #[test]
    fn sizes_as_redis_does() {
        let lua = Lua::new();
        let size_of = |code: &str| size(&lua, &values(&lua, code));
        assert!(matches!(size_of("'!4bi'"), Ok(Value::Number(n)) if n == 8.0));
        assert!(matches!(size_of("'z5 c3'"), Ok(Value::Number(n)) if n == 3.0));
        assert!(matches!(size_of("'<!2bhi7d'"), Ok(Value::Number(n)) if n == 20.0));
        assert_eq!(
            text(size_of("'s'")),
            (1, "option 's' has no fixed size".into())
        );
        assert_eq!(
            text(size_of("'c0'")),
            (1, "option 'c0' has no fixed size".into())
        );
        assert_eq!(
            text(size_of("'i33'")),
            (-1, "integral size 33 is larger than limit of 32".into())
        );
        match size_of("'\\200'") {
            Err(Fail::Arg(1, m)) => assert_eq!(m, b"invalid format option '\xc8'"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_round_trip() {
        let lua = Lua::new();
        let fmt = "'<!4 b B h H l L T i I i3 I7 f d s c5 x'";
        let args = "-5, 200, -300, 60000, -2^40, 2^52, 12345, -7, 4000000000, -8000000, 2^50, 0.5, 1e100, 'zero', 'fiver'";
        // Redis 7's bytes for this.
        let want = "fbc8d4fe60ea00000000000000ffffff00000000000010003930000000000000f9ffffff00286bee000000ee8500000000000000000004000000003f7dc39425ad49b2547a65726f00666976657200";
        assert_eq!(packed(&lua, &format!("{fmt}, {args}")).unwrap(), want);
        let bytes: String = (0..want.len())
            .step_by(2)
            .map(|i| format!("\\{}", u8::from_str_radix(&want[i..i + 2], 16).unwrap()))
            .collect();
        let got = unpacked(&lua, &format!("{fmt}, '{bytes}'")).unwrap();
        let want = [
            "-5",
            "200",
            "-300",
            "60000",
            "-1099511627776",
            "4.5035996273705e+15",
            "12345",
            "-7",
            "4000000000",
            "-8000000",
            "1.1258999068426e+15",
            "0.5",
            "1e+100",
            "zero",
            "fiver",
            "80",
        ];
        assert_eq!(got, want);
    }
}
