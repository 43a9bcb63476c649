//! The libraries scripts have besides Lua's own: `redis`, `bit`, `cjson`, `cmsgpack`,
//! `struct`.

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub(crate) mod lauxlib;
pub(crate) mod redis;
pub(crate) mod structlib;

use mlua::{Lua, Table};

/// Adds the libraries to the globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("bit", bit::table(lua)?)?;
    globals.raw_set("cjson", cjson::table(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::table(lua)?)?;
    globals.raw_set("struct", structlib::table(lua)?)?;
    let math: Table = globals.raw_get("math")?;
    redis::replace_random(lua, &math)?;
    Ok(())
}
