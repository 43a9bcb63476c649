//! The VM against a fake host: the sandbox, conversions and errors as Redis has them.

use super::*;

/// Answers every command with its arguments as an array, `GET` with a bulk, `ERR` with
/// an error, and records log lines.
#[derive(Default)]
struct Fake {
    calls: Vec<Vec<Vec<u8>>>,
    logs: Vec<(u8, String)>,
}

impl Host for Fake {
    fn call(&mut self, args: &[&[u8]], ctx: &CallCtx, out: &mut Out) {
        self.calls.push(args.iter().map(|a| a.to_vec()).collect());
        match args[0] {
            b"get" => out.bulk(b"v"),
            b"boom" => panic!("a command's bug"),
            b"nil" => out.null(),
            b"err" => out.error("ERR bad thing"),
            b"ro" => out.int(i64::from(ctx.read_only)),
            b"hgetall" => {
                out.map(1);
                out.bulk(b"f");
                out.bulk(b"v");
            }
            _ => {
                out.array(args.len());
                for a in args {
                    out.bulk(a);
                }
            }
        }
    }

    fn log(&mut self, level: u8, msg: &str) {
        self.logs.push((level, msg.to_string()));
    }

    fn acl_check(&mut self, args: &[&[u8]]) -> Option<bool> {
        (args[0] != b"nosuch").then_some(args[0] == b"get")
    }
}

fn eval(s: &mut Scripts, body: &str, keys: &[&[u8]], args: &[&[u8]], host: &mut Fake) -> String {
    let mut out = Out::new();
    match s.load(body.as_bytes(), true) {
        Ok((sha, _)) => {
            let inv = Invocation {
                keys,
                args,
                read_only: false,
            };
            s.run(&sha, &inv, host, &mut out);
        }
        Err(e) => out.error(&format!("ERR {e}")),
    }
    String::from_utf8(out.buf.to_vec()).unwrap()
}

fn vm() -> Scripts {
    Scripts::new("7.2.0").expect("a VM")
}

#[test]
fn values_come_back_as_redis_converts_them() {
    let mut s = vm();
    let h = &mut Fake::default();
    assert_eq!(eval(&mut s, "return 1", &[], &[], h), ":1\r\n");
    assert_eq!(eval(&mut s, "return 3.99", &[], &[], h), ":3\r\n");
    assert_eq!(eval(&mut s, "return 'x'", &[], &[], h), "$1\r\nx\r\n");
    assert_eq!(eval(&mut s, "return true", &[], &[], h), ":1\r\n");
    assert_eq!(eval(&mut s, "return false", &[], &[], h), "$-1\r\n");
    assert_eq!(
        eval(&mut s, "return {1,2,nil,4}", &[], &[], h),
        "*2\r\n:1\r\n:2\r\n"
    );
    assert_eq!(eval(&mut s, "return {ok='FINE'}", &[], &[], h), "+FINE\r\n");
    assert_eq!(
        eval(&mut s, "return redis.error_reply('-E x')", &[], &[], h),
        "-E x\r\n"
    );
    assert_eq!(
        eval(
            &mut s,
            "return {KEYS[1], ARGV[2]}",
            &[b"k"],
            &[b"a", b"b"],
            h
        ),
        "*2\r\n$1\r\nk\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        eval(&mut s, "return redis.call('get', 'a')", &[], &[], h),
        "$1\r\nv\r\n"
    );
    assert_eq!(
        eval(&mut s, "return redis.call('nil') == false", &[], &[], h),
        ":1\r\n"
    );
    assert_eq!(
        eval(&mut s, "return redis.call('x', 1, 2.5)", &[], &[], h),
        "*3\r\n$1\r\nx\r\n$1\r\n1\r\n$3\r\n2.5\r\n"
    );
    assert_eq!(
        eval(
            &mut s,
            "redis.setresp(3); return redis.call('hgetall')['map']['f']",
            &[],
            &[],
            h
        ),
        "$1\r\nv\r\n"
    );
    assert_eq!(
        eval(&mut s, "return redis.sha1hex('')", &[], &[], h),
        "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"
    );
}

#[test]
fn errors_name_the_script_and_line_as_redis_does() {
    let mut s = vm();
    let h = &mut Fake::default();
    let sha = |b: &str| sha1_hex(b.as_bytes());
    let body = "return a";
    assert_eq!(
        eval(&mut s, body, &[], &[], h),
        format!(
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: {}, on @user_script:1.\r\n",
            sha(body)
        )
    );
    let body = "a=1";
    assert_eq!(
        eval(&mut s, body, &[], &[], h),
        format!(
            "-ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.\r\n",
            sha(body)
        )
    );
    let body = "rawset(_G,'a',1)";
    assert_eq!(
        eval(&mut s, body, &[], &[], h),
        format!(
            "-ERR Attempt to modify a readonly table script: {}, on @user_script:1.\r\n",
            sha(body)
        )
    );
    let body = "\n\nreturn redis.call('err')";
    assert_eq!(
        eval(&mut s, body, &[], &[], h),
        format!(
            "-ERR bad thing script: {}, on @user_script:3.\r\n",
            sha(body)
        )
    );
    assert_eq!(
        eval(&mut s, "return redis.pcall('err')", &[], &[], h),
        "-ERR bad thing\r\n"
    );
    let body = "error('boom')";
    assert_eq!(
        eval(&mut s, body, &[], &[], h),
        format!(
            "-ERR user_script:1: boom script: {}, on @user_script:1.\r\n",
            sha(body)
        )
    );
    let body = "return redis.call()";
    assert!(
        eval(&mut s, body, &[], &[], h).starts_with(
            "-ERR Please specify at least one argument for this redis lib call script:"
        )
    );
    let body = "return redis.call({})";
    assert!(
        eval(&mut s, body, &[], &[], h).starts_with(
            "-ERR Lua redis lib command arguments must be strings or integers script:"
        )
    );
    assert_eq!(
        eval(&mut s, "return (", &[], &[], h),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"
    );
    for body in [
        "string.x = 1",
        "setmetatable(_G, nil)",
        "getfenv(0).x = 1",
        "loadstring('y = 1')()",
    ] {
        assert!(
            eval(&mut s, body, &[], &[], h).contains("Attempt to modify a readonly table"),
            "{body}"
        );
    }
    for global in [
        "print", "os", "io", "debug", "dofile", "loadfile", "require",
    ] {
        let out = eval(&mut s, &format!("return {global}"), &[], &[], h);
        assert!(
            out.contains("nonexistent global variable"),
            "{global}: {out}"
        );
    }
}

/// Runs `f` with the stack the server gives scripts (deep JSON recurses).
fn with_script_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(crate::STACK_SIZE)
        .spawn(f)
        .expect("a thread")
        .join()
        .expect("no panic");
}

#[test]
fn logs_acl_checks_and_libraries() {
    with_script_stack(libraries);
}

fn libraries() {
    let mut s = vm();
    let h = &mut Fake::default();
    assert_eq!(
        eval(&mut s, "redis.log(redis.LOG_WARNING, 'a', 1)", &[], &[], h),
        "$-1\r\n"
    );
    assert_eq!(h.logs, vec![(3, "a 1".to_string())]);
    assert!(
        eval(&mut s, "redis.log(99, 'x')", &[], &[], h).starts_with("-ERR Invalid debug level.")
    );
    assert_eq!(
        eval(
            &mut s,
            "return redis.acl_check_cmd('get', 'x')",
            &[],
            &[],
            h
        ),
        ":1\r\n"
    );
    assert!(
        eval(&mut s, "return redis.acl_check_cmd('nosuch')", &[], &[], h)
            .starts_with("-ERR Invalid command passed to redis.acl_check_cmd()")
    );
    assert_eq!(
        eval(&mut s, "return bit.band(0xff, 0x0f)", &[], &[], h),
        ":15\r\n"
    );
    assert_eq!(
        eval(&mut s, "return bit.tohex(255, -4)", &[], &[], h),
        "$4\r\n00FF\r\n"
    );
    assert_eq!(
        eval(&mut s, "return cjson.encode({a={1,2,'x/y'}})", &[], &[], h),
        "$18\r\n{\"a\":[1,2,\"x\\/y\"]}\r\n"
    );
    assert_eq!(
        eval(
            &mut s,
            "return cjson.decode('[1,{\"b\":null}]')[2].b == cjson.null",
            &[],
            &[],
            h
        ),
        ":1\r\n"
    );
    assert!(
        eval(&mut s, "return cjson.decode('[1,')", &[], &[], h)
            .contains("Expected value but found T_END at character 4")
    );
    assert_eq!(
        eval(&mut s, "return cjson.encode({})", &[], &[], h),
        "$2\r\n{}\r\n"
    );
    assert!(
        eval(
            &mut s,
            "local t = {} t[1] = t return cjson.encode(t)",
            &[],
            &[],
            h
        )
        .contains("excessive nesting")
    );
}

#[test]
fn cmsgpack_and_struct_as_redis_has_them() {
    let mut s = vm();
    let h = &mut Fake::default();
    let sha = |b: &str| sha1_hex(b.as_bytes());
    let bulk = |v: &str| format!("${}\r\n{v}\r\n", v.len());
    let hex = "local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end ";
    // Redis 7's bytes for these values.
    let body =
        format!("{hex}return hex(cmsgpack.pack(1.5, 'a', true, nil, {{}}, {{1,2}}, {{a=1}}, 0.1))");
    assert_eq!(
        eval(&mut s, &body, &[], &[], h),
        bulk("ca3fc00000a161c3c09092010281a16101cb3fb999999999999a")
    );
    let body = format!("{hex}return hex(struct.pack('>i!4bd', -2, 1, 1.5))");
    assert_eq!(
        eval(&mut s, &body, &[], &[], h),
        bulk("fffffffe010000003ff8000000000000")
    );
    for (body, want) in [
        (
            "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2)}",
            "*2\r\n:-1\r\n:3\r\n",
        ),
        ("return {cmsgpack.unpack_one('\\1\\2', 2)}", "*1\r\n:-1\r\n"),
        ("return select('#', cmsgpack.unpack(''))", ":0\r\n"),
        (
            "return {cmsgpack.unpack(cmsgpack.pack('x', {5}, 7))}",
            "*3\r\n$1\r\nx\r\n*1\r\n:5\r\n:7\r\n",
        ),
        (
            "return select('#', cmsgpack.unpack(string.rep('\\1', 7997)))",
            ":7997\r\n",
        ),
        (
            "return {struct.unpack('>I2c0', struct.pack('>I2c0', 3, 'abc'))}",
            "*2\r\n$3\r\nabc\r\n:6\r\n",
        ),
        ("return struct.size('!4bi')", ":8\r\n"),
        ("return cmsgpack._VERSION", "$18\r\nlua-cmsgpack 0.4.0\r\n"),
        (
            "local ok, e = pcall(struct.pack, 'z') return e",
            "$50\r\nbad argument #1 to '?' (invalid format option 'z')\r\n",
        ),
        (
            "local ok, e = pcall(cmsgpack.unpack, '\\193') return e",
            "$25\r\nBad data format in input.\r\n",
        ),
    ] {
        assert_eq!(eval(&mut s, body, &[], &[], h), want, "{body}");
    }
    // Failures name the script's line, and the function as the script called it.
    for (body, want) in [
        (
            "return cmsgpack.unpack('\\193')",
            "ERR user_script:1: Bad data format in input.",
        ),
        (
            "return cmsgpack.unpack('\\129\\192\\1')",
            "ERR table index is nil",
        ),
        (
            "\n\nreturn struct.pack('z')",
            "ERR user_script:3: bad argument #1 to 'pack' (invalid format option 'z')",
        ),
        (
            "return cmsgpack.pack()",
            "ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)",
        ),
        (
            "local f = cmsgpack.unpack_limit; return f('a', 'x')",
            "ERR user_script:1: bad argument #2 to 'f' (number expected, got string)",
        ),
        (
            "return select('#', cmsgpack.unpack(string.rep('\\1', 8000)))",
            "ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
        ),
        (
            "return struct.unpack('i', 'abc')",
            "ERR user_script:1: bad argument #2 to 'unpack' (data string too short)",
        ),
        (
            "cmsgpack.pack = nil",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "struct.x = 1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
    ] {
        let line = if body.starts_with('\n') { 3 } else { 1 };
        assert_eq!(
            eval(&mut s, body, &[], &[], h),
            format!("-{want} script: {}, on @user_script:{line}.\r\n", sha(body)),
            "{body}"
        );
    }
}

#[test]
fn a_killed_script_stops_even_inside_pcall() {
    let mut s = vm();
    let h = &mut Fake::default();
    let kill = s.kill_flag();
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&done);
    let stopper = std::thread::spawn(move || {
        // Kills until the script below has ended (bounded, should it never end).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !stop.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
            kill.store(true, Ordering::Release);
            std::thread::yield_now();
        }
    });
    let out = eval(
        &mut s,
        "while true do pcall(function() while true do end end) end",
        &[],
        &[],
        h,
    );
    assert!(
        out.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{out}"
    );
    done.store(true, Ordering::Release);
    stopper.join().expect("the stopper ends");
}

#[test]
fn eval_scripts_are_bounded_and_loaded_ones_stay() {
    let mut s = vm();
    let (kept, _) = s.load(b"return 0", false).unwrap();
    for i in 0..cache::MAX_EVAL_SCRIPTS + 10 {
        s.load(format!("return {i}").as_bytes(), true).unwrap();
    }
    assert!(s.exists(&kept));
    assert_eq!(s.stats().0, cache::MAX_EVAL_SCRIPTS + 1);
    assert!(!s.exists(&sha1_hex(b"return 1")));
    s.flush();
    assert_eq!(s.stats().0, 0);
}

#[test]
fn ten_thousand_loaded_scripts_stay_runnable() {
    let mut s = vm();
    let h = &mut Fake::default();
    let mut shas = Vec::new();
    for i in 0..10_000 {
        shas.push(s.load(format!("return {i}").as_bytes(), false).unwrap().0);
    }
    for i in [0, 5_000, 9_999] {
        let mut out = Out::new();
        let inv = Invocation {
            keys: &[],
            args: &[],
            read_only: false,
        };
        s.run(&shas[i], &inv, h, &mut out);
        assert_eq!(out.buf.to_vec(), format!(":{i}\r\n").into_bytes());
    }
}

/// Not a test: the cost of one run, to profile (`cargo test --release -p concord-script
/// cost_of_a_run -- --ignored --nocapture`).
#[test]
#[ignore]
fn cost_of_a_run() {
    let mut s = vm();
    let h = &mut Fake::default();
    let (sha, _) = s
        .load(b"return redis.call('incr', KEYS[1])", false)
        .unwrap();
    let inv = Invocation {
        keys: &[b"k"],
        args: &[],
        read_only: false,
    };
    let n = 100_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let mut out = Out::new();
        s.run(&sha, &inv, h, &mut out);
        h.calls.clear();
    }
    eprintln!("{:?} per run", t.elapsed() / n);
}

#[test]
fn bytecode_is_refused_everywhere() {
    let mut s = vm();
    let h = &mut Fake::default();
    let binary = "\x1bLua\x51\x00";
    let out = eval(&mut s, binary, &[], &[], h);
    assert!(out.starts_with("-ERR Error compiling script"), "{out}");
    let out = eval(
        &mut s,
        "local f, e = loadstring(ARGV[1]) return e",
        &[],
        &[binary.as_bytes()],
        h,
    );
    assert!(out.contains("binary chunks are not allowed"), "{out}");
    let body = "local done = false local f, e = load(function() if done then return nil end done = true return ARGV[1] end) return e";
    let out = eval(&mut s, body, &[], &[binary.as_bytes()], h);
    assert!(out.contains("binary chunks are not allowed"), "{out}");
    let out = eval(&mut s, "return loadstring('return 7')()", &[], &[], h);
    assert_eq!(out, ":7\r\n");
}

#[test]
fn large_and_shared_tables_come_back_whole_or_bounded() {
    let mut s = vm();
    let h = &mut Fake::default();
    let out = eval(
        &mut s,
        "local t = {} for i = 1, 10000 do t[i] = i end return t",
        &[],
        &[],
        h,
    );
    assert!(
        out.starts_with("*10000\r\n:1\r\n") && out.ends_with(":10000\r\n"),
        "{}",
        &out[..40]
    );
    let body =
        "redis.setresp(3) local m = {} for i = 1, 10000 do m['k' .. i] = i end return {map = m}";
    let mut o = Out::new();
    o.resp3 = true;
    let (sha, _) = s.load(body.as_bytes(), true).unwrap();
    let inv = Invocation {
        keys: &[],
        args: &[],
        read_only: false,
    };
    s.run(&sha, &inv, h, &mut o);
    assert!(o.buf.starts_with(b"%10000\r\n"));
    // A table that shares its parts describes 2^60 elements: the walk stops at the limit.
    let mut o = Out::new();
    o.limit = 1 << 20;
    let (sha, _) = s
        .load(
            b"local x = {} for i = 1, 60 do x = {x, x} end return x",
            true,
        )
        .unwrap();
    s.run(&sha, &inv, h, &mut o);
    assert!(o.over_limit() && o.buf.len() < 2 << 20);
}

#[test]
fn the_vm_memory_limit_holds_after_redis_call_lifted_it() {
    let mut s = vm();
    let mut host = Fake::default();
    // redis.call turns its reply into Lua values with the limit lifted; the script's
    // own allocations after it must still meet the limit.
    let body = "redis.call('get', 'k') \
                local t, s = {}, string.rep('x', 1024 * 1024) \
                for i = 1, 2048 do t[i] = s .. i end \
                return #t";
    let r = eval(&mut s, body, &[], &[], &mut host);
    assert!(r.starts_with('-') && r.contains("not enough memory"), "{r}");
    assert_eq!(eval(&mut s, "return 1", &[], &[], &mut host), ":1\r\n");
}

#[test]
fn a_finalizer_that_raises_leaves_the_vm_working() {
    let mut s = vm();
    let mut host = Fake::default();
    // A finalizer may run in any collection step, also where nothing would catch its
    // error (which would end the process): none can be set, by any route.
    for body in [
        "local u = newproxy(true) getmetatable(u).__gc = function() error('x') end return 1",
        "local u = newproxy(true) rawset(getmetatable(u), '__gc', error) return 1",
        "local u = newproxy(newproxy(true)) getmetatable(u).__gc = error return 1",
        "local m = getmetatable(newproxy(true)) setmetatable(m, nil) return 1",
    ] {
        let r = eval(&mut s, body, &[], &[], &mut host);
        assert!(r.starts_with('-'), "{body}: {r}");
    }
    assert!(
        eval(
            &mut s,
            "getmetatable(newproxy(true)).__gc = 1",
            &[],
            &[],
            &mut host
        )
        .contains("finalizers (__gc) are not allowed in scripts")
    );
    // Other fields still work, and proxies are still made.
    let body = "local u = newproxy(true) getmetatable(u).__index = function() return 7 end \
                u = nil collectgarbage() return type(newproxy())";
    assert_eq!(
        eval(&mut s, body, &[], &[], &mut host),
        "$8\r\nuserdata\r\n"
    );
    for i in 0..200 {
        let r = eval(
            &mut s,
            "return redis.call('get', KEYS[1])",
            &[b"k"],
            &[],
            &mut host,
        );
        assert_eq!(r, "$1\r\nv\r\n", "{i}");
    }
    assert_eq!(eval(&mut s, "return 1", &[], &[], &mut host), ":1\r\n");
}

#[test]
fn the_fast_and_the_general_call_agree() {
    let mut s = vm();
    let h = &mut Fake::default();
    // String arguments take the fast way; a number argument the general one.
    for cmd in ["get", "nil", "err", "ro", "hgetall", "echo"] {
        for f in ["call", "pcall"] {
            let fast = format!("return redis.{f}('{cmd}', 'x')");
            let general = format!("return redis.{f}('{cmd}', 1)");
            let (a, b) = (
                eval(&mut s, &fast, &[], &[], h),
                eval(&mut s, &general, &[], &[], h),
            );
            let b = b
                .replace(&concord_sha(&general), &concord_sha(&fast))
                .replace("$1\r\n1\r\n", "$1\r\nx\r\n");
            assert_eq!(a, b, "{f} {cmd}");
        }
    }
    assert_eq!(
        eval(&mut s, "return redis.call('err', 'x')", &[], &[], h),
        "-ERR bad thing script: 0-sha, on @user_script:1.\r\n"
            .replace("0-sha", &concord_sha("return redis.call('err', 'x')"))
    );
    assert_eq!(
        eval(
            &mut s,
            "local e = redis.pcall('err', 'x') return e.err",
            &[],
            &[],
            h
        ),
        "$13\r\nERR bad thing\r\n"
    );
    assert_eq!(
        eval(&mut s, "return type(redis.call('nil', 'x'))", &[], &[], h),
        "$7\r\nboolean\r\n"
    );
    // No arguments, or ones of the wrong type, get Redis's errors either way.
    assert!(eval(&mut s, "return redis.call()", &[], &[], h).contains("at least one argument"));
    assert!(
        eval(&mut s, "return redis.call('get', {})", &[], &[], h)
            .contains("must be strings or integers")
    );
}

fn concord_sha(body: &str) -> String {
    crate::sha1_hex(body.as_bytes())
}

#[test]
fn after_a_command_panics_the_script_reaches_no_command() {
    let mut s = vm();
    let h = &mut Fake::default();
    let body = "local e = redis.pcall('boom', 'x') local r = redis.pcall('get', 'x') \
                return {e.err, r.err}";
    let out = eval(&mut s, body, &[], &[], h);
    assert!(
        out.contains("ERR the command failed (a bug; please report it)"),
        "{out}"
    );
    assert!(out.contains("ERR no script is running"), "{out}");
    assert_eq!(
        h.calls.len(),
        1,
        "only the panicking command reached the host"
    );
    // The next run has its host again.
    assert_eq!(
        eval(&mut s, "return redis.call('get', 'x')", &[], &[], h),
        "$1\r\nv\r\n"
    );
}

/// KEYS and ARGV are kept between runs (see `entry`): whatever a script did to them, the
/// next run sees exactly its own, as with new tables.
#[test]
fn each_run_sees_only_its_own_keys_and_args() {
    let mut s = vm();
    let h = &mut Fake::default();
    let look = "return {#KEYS, #ARGV, tostring(KEYS[1]), tostring(KEYS[3]), tostring(KEYS.x), \
                tostring(ARGV[2]), tostring(getmetatable(KEYS)), tostring(rawget(ARGV, 'n'))}";
    let fresh = |k: &str, a: &str| {
        format!(
            "*8\r\n:{}\r\n:{}\r\n${}\r\n{k}\r\n$3\r\nnil\r\n$3\r\nnil\r\n${}\r\n{a}\r\n$3\r\nnil\r\n$3\r\nnil\r\n",
            1,
            2,
            k.len(),
            a.len()
        )
    };
    let changes = [
        "KEYS[3] = 'k3' KEYS.x = 1 table.insert(ARGV, 'z') return 1",
        "setmetatable(KEYS, {__index = function() return 'm' end}) return 1",
        "KEYS[1] = nil ARGV[1] = nil ARGV.n = 5 error('after changes')",
        "for i = 1, 100 do KEYS[i] = i end KEYS[1.5] = 1 return 1",
        "KEYS[2] = nil KEYS.y = 1 return 1",
        "return 1",
    ];
    for (i, change) in changes.iter().enumerate() {
        // Three keys and arguments first, then fewer: what is left over is cleared too.
        eval(&mut s, change, &[b"a", b"b", b"c"], &[b"1", b"2", b"3"], h);
        let k = format!("k{i}");
        let a = format!("a{i}");
        assert_eq!(
            eval(&mut s, look, &[k.as_bytes()], &[b"x", a.as_bytes()], h),
            fresh(&k, &a),
            "after {change:?}"
        );
    }
    // A returned KEYS table is the run's own.
    assert_eq!(
        eval(&mut s, "return KEYS", &[b"p", b"q"], &[], h),
        "*2\r\n$1\r\np\r\n$1\r\nq\r\n"
    );
    assert_eq!(eval(&mut s, "return KEYS", &[], &[], h), "*0\r\n");
}

/// A library function has no KEYS or ARGV globals (as in Redis), so it can neither read
/// the last EVAL's nor change the kept tables; the next EVAL gets clean ones. A huge
/// run's tables are not kept.
#[test]
fn library_functions_and_huge_runs_leave_no_trace_in_keys_and_args() {
    let mut s = vm();
    let h = &mut Fake::default();
    let lib = "#!lua name=tamper\nredis.register_function('tamper', function() \
               KEYS[50] = 'x' setmetatable(ARGV, {__index = function() return 'made up' end}) \
               return 1 end)";
    s.function_load(lib.as_bytes(), false, h).expect("loads");
    let look = "return {#KEYS, tostring(KEYS[50]), tostring(ARGV[7])}";
    let fresh = "*3\r\n:1\r\n$3\r\nnil\r\n$3\r\nnil\r\n";
    assert_eq!(eval(&mut s, look, &[b"a"], &[], h), fresh);
    let mut out = Out::new();
    let inv = Invocation {
        keys: &[],
        args: &[],
        read_only: false,
    };
    s.fcall("tamper", &inv, h, &mut out);
    let tampered = String::from_utf8(out.buf.to_vec()).unwrap();
    assert!(
        tampered.starts_with(
            "-ERR user_function:2: Script attempted to access nonexistent global variable 'KEYS'"
        ),
        "{tampered}"
    );
    assert_eq!(eval(&mut s, look, &[b"a"], &[], h), fresh);
    // Ten thousand arguments once, then a short run: correct, and the tables went.
    let many: Vec<Vec<u8>> = (0..10_000).map(|i| i.to_string().into_bytes()).collect();
    let many: Vec<&[u8]> = many.iter().map(|a| &a[..]).collect();
    assert_eq!(eval(&mut s, "return #ARGV", &[], &many, h), ":10000\r\n");
    assert_eq!(eval(&mut s, look, &[b"a"], &[], h), fresh);
}
