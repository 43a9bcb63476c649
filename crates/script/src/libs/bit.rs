//! The `bit` library (Lua BitOp): 32-bit operations on Lua numbers.

use mlua::{Lua, Table, Variadic};

/// A number as BitOp sees it: rounded, then taken modulo 2^32 as a signed 32-bit value.
fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    // Rounds to nearest even, as BitOp's 2^52+2^51 addition does.
    let r = n.round_ties_even();
    (r.rem_euclid(4_294_967_296.0) as u64 as u32) as i32
}

fn fold(args: &Variadic<f64>, f: fn(i32, i32) -> i32) -> mlua::Result<f64> {
    let mut it = args.iter();
    let first = it.next().ok_or_else(|| {
        mlua::Error::RuntimeError("bad argument #1 (number expected, got no value)".into())
    })?;
    Ok(f64::from(it.fold(tobit(*first), |a, b| f(a, tobit(*b)))))
}

/// The `bit` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, n: f64| Ok(f64::from(tobit(n))))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, n: f64| Ok(f64::from(!tobit(n))))?,
    )?;
    t.raw_set(
        "band",
        lua.create_function(|_, a: Variadic<f64>| fold(&a, |x, y| x & y))?,
    )?;
    t.raw_set(
        "bor",
        lua.create_function(|_, a: Variadic<f64>| fold(&a, |x, y| x | y))?,
    )?;
    t.raw_set(
        "bxor",
        lua.create_function(|_, a: Variadic<f64>| fold(&a, |x, y| x ^ y))?,
    )?;
    let shift = |f: fn(u32, u32) -> u32| {
        move |_: &Lua, (x, n): (f64, f64)| {
            Ok(f64::from(f(tobit(x) as u32, tobit(n) as u32 & 31) as i32))
        }
    };
    t.raw_set("lshift", lua.create_function(shift(|x, n| x << n))?)?;
    t.raw_set("rshift", lua.create_function(shift(|x, n| x >> n))?)?;
    t.raw_set(
        "arshift",
        lua.create_function(shift(|x, n| ((x as i32) >> n) as u32))?,
    )?;
    t.raw_set("rol", lua.create_function(shift(|x, n| x.rotate_left(n)))?)?;
    t.raw_set("ror", lua.create_function(shift(|x, n| x.rotate_right(n)))?)?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x).swap_bytes())))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let mut n = n.map_or(8, tobit);
            let upper = n < 0;
            if upper {
                n = n.saturating_neg();
            }
            let n = n.clamp(1, 8) as u32;
            let v = (tobit(x) as u32) & if n == 8 { u32::MAX } else { (1 << (4 * n)) - 1 };
            Ok(if upper {
                format!("{v:0w$X}", w = n as usize)
            } else {
                format!("{v:0w$x}", w = n as usize)
            })
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn numbers_wrap_to_signed_32_bits() {
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(3.5), 4);
        assert_eq!(tobit(f64::NAN), 0);
    }
}
