//! Libraries of functions (FUNCTION LOAD, FCALL) as Redis 7.2 keeps them: a library is
//! Lua code whose first line names it (`#!lua name=mylib`); loading it runs the code once,
//! in an environment that holds only `redis.register_function` and `redis.log`, and the
//! functions it registers are called by name (any case) with `(keys, args)`.

use crate::flags::ScriptFlags;
use crate::{Host, Invocation, Mode, Scripts, dump, raise};
use concord_resp::Out;
use mlua::{Function, HookTriggers, Table, Value, Variadic, VmState};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How long loading a library may run (its top level only registers functions).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One registered function.
struct Func {
    name: String,
    callback: Function,
    flags: ScriptFlags,
    description: Option<String>,
}

/// One library: its code as given and its functions.
struct Library {
    code: Vec<u8>,
    functions: Vec<Func>,
}

/// Every library, by name (case-sensitive), and where each function is (by lower-case
/// name: function names are case-insensitive).
#[derive(Default)]
pub(crate) struct Libraries {
    libs: BTreeMap<String, Library>,
    by_fn: HashMap<String, (String, usize)>,
}

impl Libraries {
    fn index(&mut self) {
        self.by_fn.clear();
        for (lib, l) in &self.libs {
            for (i, f) in l.functions.iter().enumerate() {
                self.by_fn
                    .insert(f.name.to_ascii_lowercase(), (lib.clone(), i));
            }
        }
    }

    fn find(&self, name: &str) -> Option<&Func> {
        let (lib, i) = self.by_fn.get(&name.to_ascii_lowercase())?;
        self.libs.get(lib).map(|l| &l.functions[*i])
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The library name from the code's first line, and where the code after it starts.
fn metadata(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = concord_resp::split_args(&code[..end])
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "ERR Invalid library metadata".to_string())?;
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let mut name = None;
    for p in &parts[1..] {
        let text = String::from_utf8_lossy(p);
        match text.split_once('=') {
            Some((k, v)) if k.eq_ignore_ascii_case("name") => {
                if name.is_some() {
                    return Err(
                        "ERR Invalid metadata value, name argument was given multiple times".into(),
                    );
                }
                name = Some(v.to_string());
            }
            _ => return Err(format!("ERR Invalid metadata value given: {text}")),
        }
    }
    let name = name.ok_or_else(|| "ERR Library name was not given".to_string())?;
    if !valid_name(&name) {
        return Err(format!("ERR {BAD_NAME}"));
    }
    Ok((name, end))
}

/// A function's flags from the table `register_function` was given.
fn flags_of(t: &Table) -> Result<ScriptFlags, String> {
    let mut flags = ScriptFlags::DECLARED;
    for v in t.sequence_values::<Value>() {
        let Ok(Value::String(s)) = v else {
            return Err("unknown flag given".into());
        };
        let name = s.to_string_lossy().to_ascii_lowercase();
        flags = flags.with(ScriptFlags::by_name(name.as_bytes()).ok_or("unknown flag given")?);
    }
    Ok(flags)
}

/// `redis.register_function`'s arguments: positional or one table of named ones.
fn registration(a: &[Value]) -> Result<Func, String> {
    let (name, callback, flags, description) = match a {
        [Value::Table(t)] => {
            let (mut name, mut cb, mut flags, mut desc) = (None, None, ScriptFlags::DECLARED, None);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|e| e.to_string())?;
                let Value::String(k) = k else {
                    return Err(
                        "named argument key given to redis.register_function is not a string"
                            .into(),
                    );
                };
                match k.to_string_lossy().to_ascii_lowercase().as_str() {
                    "function_name" => match v {
                        Value::String(s) => name = Some(s.to_string_lossy()),
                        _ => return Err("function_name argument given to redis.register_function must be a string".into()),
                    },
                    "description" => match v {
                        Value::String(s) => desc = Some(s.to_string_lossy()),
                        _ => return Err("description argument given to redis.register_function must be a string".into()),
                    },
                    "callback" => match v {
                        Value::Function(f) => cb = Some(f),
                        _ => return Err("callback argument given to redis.register_function must be a function".into()),
                    },
                    "flags" => match v {
                        Value::Table(f) => flags = flags_of(&f)?,
                        _ => return Err("flags argument to redis.register_function must be a table representing function flags".into()),
                    },
                    _ => return Err("unknown argument given to redis.register_function".into()),
                }
            }
            let name = name.ok_or("redis.register_function must get a function name argument")?;
            let cb = cb.ok_or("redis.register_function must get a callback argument")?;
            (name, cb, flags, desc)
        }
        [_] => {
            return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into());
        }
        [Value::String(n), Value::Function(f)] => {
            (n.to_string_lossy(), f.clone(), ScriptFlags::DECLARED, None)
        }
        [Value::String(_), _] => {
            return Err("second argument to redis.register_function must be a function".into());
        }
        [_, _] => return Err("first argument to redis.register_function must be a string".into()),
        _ => return Err("wrong number of arguments to redis.register_function".into()),
    };
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    Ok(Func {
        name,
        callback,
        flags,
        description,
    })
}

impl Scripts {
    /// FUNCTION LOAD: compiles and runs a library's code and keeps the functions it
    /// registered; its name, or the error reply.
    pub fn function_load(
        &mut self,
        code: &[u8],
        replace: bool,
        host: &mut dyn Host,
    ) -> Result<String, String> {
        let (name, skip) = metadata(code)?;
        if !replace && self.library.libs.contains_key(&name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let functions = self.run_library(&code[skip..], host)?;
        let taken = functions.iter().find(|f| {
            self.library
                .by_fn
                .get(&f.name.to_ascii_lowercase())
                .is_some_and(|(lib, _)| *lib != name)
        });
        if let Some(f) = taken {
            return Err(format!("ERR Function {} already exists", f.name));
        }
        self.library.libs.insert(
            name.clone(),
            Library {
                code: code.to_vec(),
                functions,
            },
        );
        self.library.index();
        Ok(name)
    }

    /// Runs a library's top level in the loading environment; the functions it registered.
    fn run_library(&mut self, body: &[u8], host: &mut dyn Host) -> Result<Vec<Func>, String> {
        let lua = &self.lua;
        let fail = |e: mlua::Error| format!("ERR {e}");
        // What the top level sees: `redis` with register_function, log and constants only;
        // once loaded, the functions see every global (read only).
        let api = lua.create_table().map_err(fail)?;
        let visible = lua.create_table().map_err(fail)?;
        visible.raw_set("redis", api.clone()).map_err(fail)?;
        let redis: Table = self.globals.raw_get("redis").map_err(fail)?;
        for k in [
            "LOG_DEBUG",
            "LOG_VERBOSE",
            "LOG_NOTICE",
            "LOG_WARNING",
            "REDIS_VERSION",
            "REDIS_VERSION_NUM",
            "log",
        ] {
            api.raw_set(k, redis.get::<Value>(k).map_err(fail)?)
                .map_err(fail)?;
        }
        let missing: Function = self.internal.raw_get("missing").map_err(fail)?;
        let deny: Function = self.internal.raw_get("deny").map_err(fail)?;
        let guard = |t: &Table| -> mlua::Result<()> {
            let m = lua.create_table()?;
            m.raw_set("__index", missing.clone())?;
            m.raw_set("__newindex", deny.clone())?;
            t.set_metatable(Some(m))?;
            Ok(())
        };
        guard(&api).map_err(fail)?;
        guard(&visible).map_err(fail)?;
        let env = lua.create_table().map_err(fail)?;
        let env_meta = lua.create_table().map_err(fail)?;
        env_meta.raw_set("__index", visible).map_err(fail)?;
        env_meta.raw_set("__newindex", deny.clone()).map_err(fail)?;
        env_meta
            .raw_set("__metatable", lua.create_table().map_err(fail)?)
            .map_err(fail)?;
        env.set_metatable(Some(env_meta.clone())).map_err(fail)?;
        let chunk = lua
            .load(body)
            .set_name("@user_function")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(env)
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", crate::compile_text(&e)))?;
        let registered: RefCell<Vec<Func>> = RefCell::new(Vec::new());
        let _lent = self.lent.lend(host, crate::CallCtx::default());
        let started = Instant::now();
        let _ = lua.set_hook(
            HookTriggers::new().every_nth_instruction(10_000),
            move |_, _| {
                if started.elapsed() > LOAD_TIMEOUT {
                    return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()));
                }
                Ok(VmState::Continue)
            },
        );
        let ran = lua.scope(|scope| {
            let register =
                scope.create_function(|lua, a: Variadic<Value>| match registration(&a) {
                    Ok(f) => {
                        let mut r = registered.borrow_mut();
                        if r.iter().any(|x| x.name.eq_ignore_ascii_case(&f.name)) {
                            return crate::libs::redis::fail(
                                lua,
                                "ERR Function already exists in the library",
                            );
                        }
                        r.push(f);
                        Ok((true, Value::Nil))
                    }
                    Err(e) => crate::libs::redis::fail(lua, &format!("ERR {e}")),
                })?;
            api.raw_set("register_function", raise::raising(lua, register)?)?;
            let pcall: Function = self.internal.raw_get("pcall")?;
            pcall.call::<(bool, Value)>(chunk)
        });
        lua.remove_hook();
        self.hook_gone.set(true);
        // Once loaded, the callbacks see all the (read-only) globals.
        let _ = env_meta.raw_set("__index", self.env.clone());
        let why = match ran {
            Ok((true, _)) => None,
            _ if started.elapsed() > LOAD_TIMEOUT => Some("ERR FUNCTION LOAD timeout".to_string()),
            Ok((false, Value::Table(t))) => Some(match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.to_string_lossy(),
                _ => "ERR unknown error".into(),
            }),
            Ok((false, Value::String(s))) => Some(format!("ERR {}", s.to_string_lossy())),
            Ok((false, v)) => Some(format!("ERR {}", v.to_string().unwrap_or_default())),
            Err(e) => Some(format!("ERR {e}")),
        };
        if let Some(why) = why {
            return Err(format!("ERR Error registering functions: {why}"));
        }
        let functions = registered.into_inner();
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(functions)
    }

    /// FCALL and FCALL_RO: the function's flags, `None` when it does not exist.
    pub fn function_flags(&self, name: &str) -> Option<ScriptFlags> {
        self.library.find(name).map(|f| f.flags)
    }

    /// Runs function `name` and writes its reply.
    pub fn fcall(&mut self, name: &str, inv: &Invocation<'_>, host: &mut dyn Host, out: &mut Out) {
        let Some(f) = self.library.find(name) else {
            return out.error("ERR Function not found");
        };
        let (callback, flags, name) = (f.callback.clone(), f.flags, f.name.clone());
        self.invoke(&callback, flags, Mode::Function, &name, inv, host, out);
    }

    /// FUNCTION DELETE.
    pub fn function_delete(&mut self, name: &str) -> Result<(), String> {
        self.library
            .libs
            .remove(name)
            .ok_or_else(|| "ERR Library not found".to_string())?;
        self.library.index();
        Ok(())
    }

    /// FUNCTION FLUSH.
    pub fn function_flush(&mut self) {
        self.library = Libraries::default();
        let _ = self.lua.gc_collect();
    }

    /// How many libraries and functions there are (FUNCTION STATS).
    pub fn function_counts(&self) -> (usize, usize) {
        (self.library.libs.len(), self.library.by_fn.len())
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
    pub fn function_list(&self, pattern: Option<&[u8]>, with_code: bool, out: &mut Out) {
        let libs: Vec<(&String, &Library)> = self
            .library
            .libs
            .iter()
            .filter(|(n, _)| {
                pattern.is_none_or(|p| concord_glob::glob_match(p, n.as_bytes(), true))
            })
            .collect();
        out.array(libs.len());
        for (name, lib) in libs {
            out.map(if with_code { 4 } else { 3 });
            out.bulk(b"library_name");
            out.bulk(name.as_bytes());
            out.bulk(b"engine");
            out.bulk(b"LUA");
            out.bulk(b"functions");
            out.array(lib.functions.len());
            for f in &lib.functions {
                out.map(3);
                out.bulk(b"name");
                out.bulk(f.name.as_bytes());
                out.bulk(b"description");
                match &f.description {
                    Some(d) => out.bulk(d.as_bytes()),
                    None => out.null(),
                }
                out.bulk(b"flags");
                let names = f.flags.names();
                out.set(names.len());
                for n in names {
                    out.simple(n);
                }
            }
            if with_code {
                out.bulk(b"library_code");
                out.bulk(&lib.code);
            }
        }
    }

    /// FUNCTION DUMP's payload.
    pub fn function_dump(&self) -> Vec<u8> {
        dump::dump(self.library.libs.values().map(|l| l.code.as_slice()))
    }

    /// FUNCTION RESTORE with policy FLUSH, APPEND or REPLACE (upper-case); all or nothing.
    pub fn function_restore(
        &mut self,
        payload: &[u8],
        policy: &str,
        host: &mut dyn Host,
    ) -> Result<(), String> {
        let codes = dump::restore(payload).map_err(|e| format!("ERR {e}"))?;
        let before = std::mem::take(&mut self.library);
        if policy != "FLUSH" {
            self.library.libs = before
                .libs
                .iter()
                .map(|(k, l)| {
                    (
                        k.clone(),
                        Library {
                            code: l.code.clone(),
                            functions: l
                                .functions
                                .iter()
                                .map(|f| Func {
                                    name: f.name.clone(),
                                    callback: f.callback.clone(),
                                    flags: f.flags,
                                    description: f.description.clone(),
                                })
                                .collect(),
                        },
                    )
                })
                .collect();
            self.library.index();
        }
        for code in codes {
            let result = match metadata(&code) {
                Ok((name, _)) if policy == "APPEND" && self.library.libs.contains_key(&name) => {
                    Err(format!("ERR Library {name} already exists"))
                }
                Ok(_) => self.function_load(&code, true, host).map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                self.library = before;
                return Err(e);
            }
        }
        Ok(())
    }
}
