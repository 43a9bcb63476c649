//! The libraries scripts have besides Lua's own: `redis`, `bit`, `cjson`.

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod redis;

use mlua::{Lua, Table};

/// Adds the libraries to the globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("bit", bit::table(lua)?)?;
    globals.raw_set("cjson", cjson::table(lua)?)?;
    let math: Table = globals.raw_get("math")?;
    redis::replace_random(lua, &math)?;
    Ok(())
}
