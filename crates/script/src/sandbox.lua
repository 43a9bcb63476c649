-- The environment scripts run in, set up once per VM (chunk name "=concord", which the
-- error handler skips when it looks for the script's own line). Redis's rules: globals
-- and the libraries are read only, reading a global that does not exist is an error,
-- and dofile, loadfile, print and debug are gone.
local G, I = ...
local rawget, rawset, setmetatable, getmetatable = rawget, rawset, setmetatable, getmetatable
local error, type, tostring, xpcall, getfenv = error, type, tostring, xpcall, getfenv
local getinfo = debug.getinfo

local READONLY = "Attempt to modify a readonly table"
-- Proxies that must not change, weakly kept.
local protected = setmetatable({}, { __mode = "k" })

local function deny() error(READONLY, 2) end

-- What getmetatable answers for a protected table: one table that is itself read only
-- (a writable stand-in would be state shared by every script, as Redis has none).
local LOCKED = {}
setmetatable(LOCKED, { __newindex = deny, __metatable = LOCKED })
protected[LOCKED] = true

local function readonly(t)
  local p = setmetatable({}, { __index = t, __newindex = deny, __metatable = LOCKED })
  protected[p] = true
  return p
end

-- Library functions that fail return (false, error); these raise it (from C, so the
-- error names the script's line even after `return f()`).
local raising = I.raising

-- redis.call raises an error reply; redis.pcall returns it.
local redis = rawget(G, "redis")
redis.call = raising(function(...) return I.raw(...) end)
redis.pcall = function(...)
  local _, v = I.raw(...)
  return v
end
redis.log = raising(function(...) return I.log(...) end)
redis.acl_check_cmd = raising(function(...) return I.acl(...) end)
for _, name in ipairs({ "sha1hex", "setresp", "set_repl" }) do
  redis[name] = raising(redis[name])
end
local cjson = rawget(G, "cjson")
cjson.encode, cjson.decode = raising(cjson.encode), raising(cjson.decode)

-- The decoders of cmsgpack and struct hand their values over as (true, table, count):
-- each value held in Rust would take one of mlua's few handles. Spread them here.
local unpack = unpack
local function spread(ok, t, n)
  if ok then return true, unpack(t, 1, n) end
  return ok, t, n
end
local function raising_many(f)
  return raising(function(...) return spread(f(...)) end)
end
local cmsgpack = rawget(G, "cmsgpack")
cmsgpack.pack = raising(cmsgpack.pack)
for _, name in ipairs({ "unpack", "unpack_one", "unpack_limit" }) do
  cmsgpack[name] = raising_many(cmsgpack[name])
end
local struct = rawget(G, "struct")
struct.pack, struct.size = raising(struct.pack), raising(struct.size)
struct.unpack = raising_many(struct.unpack)

-- Reading a global nobody defined is an error.
setmetatable(G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = deny,
  __metatable = LOCKED,
})

G.debug, G.print, G.dofile, G.loadfile = nil, nil, nil, nil
-- table.insert writes past metatables (lua_rawseti): it must refuse protected tables
-- as rawset does. (table.remove and table.sort write only what a table holds, and a
-- protected table holds nothing itself.)
local tbl = rawget(G, "table")
local insert = rawget(tbl, "insert")
rawset(tbl, "insert", function(t, ...)
  if protected[t] then error(READONLY, 0) end
  return insert(t, ...)
end)
for _, name in ipairs({ "string", "math", "table", "redis", "bit", "cjson", "struct", "cmsgpack", "coroutine" }) do
  local lib = rawget(G, name)
  if lib ~= nil then rawset(G, name, readonly(lib)) end
end
-- Strings' metatable shows as Redis's does ({__index = string}), read only.
getmetatable("").__metatable = readonly({ __index = rawget(G, "string") })

-- A finalizer (`__gc`) runs wherever a collection step starts, often outside any protected
-- call, where an error it raised would end the process. The only userdata scripts make
-- are newproxy's: their metatables refuse one.
local NOGC = "finalizers (__gc) are not allowed in scripts"
local nogc = setmetatable({}, { __mode = "k" })
local guard = {
  __newindex = function(t, k, v)
    if k == "__gc" then error(NOGC, 2) end
    rawset(t, k, v)
  end,
  __metatable = false,
}
local newproxy = rawget(G, "newproxy")
if newproxy ~= nil then
  rawset(G, "newproxy", function(...)
    local u = newproxy(...)
    local m = getmetatable(u)
    if type(m) == "table" and not nogc[m] then
      setmetatable(m, guard)
      nogc[m] = true
    end
    return u
  end)
end

local P = readonly(G)
rawset(G, "_G", P)
rawset(G, "rawset", function(t, k, v)
  if protected[t] then error(READONLY, 0) end
  if k == "__gc" and nogc[t] then error(NOGC, 2) end
  return rawset(t, k, v)
end)
rawset(G, "setmetatable", function(t, m)
  if protected[t] then error(READONLY, 0) end
  return setmetatable(t, m)
end)
-- Chunks a script loads run in the same protected environment.
-- Only source text: Lua 5.1's bytecode checks can be bypassed (crafted bytecode corrupts
-- memory), so binary chunks are refused.
local loadstring, load, setfenv, byte = loadstring, load, setfenv, string.byte
local BINARY = "binary chunks are not allowed"
rawset(G, "loadstring", function(s, ...)
  if type(s) == "string" and byte(s, 1) == 27 then return nil, BINARY end
  local f, e = loadstring(s, ...)
  if f then setfenv(f, P) end
  return f, e
end)
rawset(G, "load", function(reader, ...)
  local started = false
  local function text()
    local piece = reader()
    if not started and type(piece) == "string" and piece ~= "" then
      started = true
      if byte(piece, 1) == 27 then error(BINARY, 0) end
    end
    return piece
  end
  local f, e = load(type(reader) == "function" and text or reader, ...)
  if f then setfenv(f, P) end
  return f, e
end)
rawset(G, "getfenv", function(f)
  local e = getfenv(f == nil and 2 or (type(f) == "number" and f > 0 and f + 1) or f)
  if e == G then return P end
  return e
end)

-- The message handler: a table {err=..., source=..., line=...} naming the script's line
-- (not a C function's, nor this file's).
local function handler(err)
  local level = 2
  local i = getinfo(level, "Sl")
  while i and (i.what == "C" or i.source == "=concord") do
    level = level + 1
    i = getinfo(level, "Sl")
  end
  if type(err) ~= "table" then err = { err = "ERR " .. tostring(err) } end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end

-- For libraries being loaded (functions.rs): their restricted view's guards.
I.missing = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
I.deny = deny
I.pcall = pcall

I.handler = handler
I.env = P
return P
