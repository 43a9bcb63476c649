//! Lua scripts: replies and errors against Debian's redis-server (7.0, so only what 7.0 and
//! 7.2 share), a script's writes as one group on peers, and BUSY / SCRIPT KILL.

use crate::support::{Conn, Reply, concord, redis, wait_for};

/// Scripts whose replies must match Redis's, each as EVAL arguments.
const SAME: &[&[&str]] = &[
    &["return 1", "0"],
    &["return {1, 'a', {2, false}, true}", "0"],
    &["return {1, 2, nil, 4}", "0"],
    &["return 3.99", "0"],
    &[
        "return redis.call('set', KEYS[1], ARGV[1])",
        "1",
        "s:k",
        "v",
    ],
    &["return redis.call('get', KEYS[1])", "1", "s:k"],
    &["return redis.call('get', 'nokey')", "0"],
    &[
        "return redis.call('incrby', KEYS[1], ARGV[1])",
        "1",
        "s:n",
        "5",
    ],
    &["return redis.pcall('incr', KEYS[1])", "1", "s:k"],
    &["return redis.call('incr', KEYS[1])", "1", "s:k"],
    &["return redis.call('rpush', KEYS[1], 1, 2, 3)", "1", "s:l"],
    &["return redis.call('lrange', KEYS[1], 0, -1)", "1", "s:l"],
    &["return redis.status_reply('FINE')", "0"],
    &["return redis.error_reply('MY error')", "0"],
    &["return {err = 'x y'}", "0"],
    &["return redis.call('nosuch')", "0"],
    &["return redis.pcall('nosuch')", "0"],
    &["return redis.call('set', 'k')", "0"],
    &["return redis.call()", "0"],
    &["return redis.call({})", "0"],
    &["return a", "0"],
    &["a = 1", "0"],
    // Nothing a script can reach keeps state for the next one.
    &["getmetatable('').x = 1", "0"],
    &["rawset(getmetatable(''), 'x', 1)", "0"],
    &["getmetatable(_G).x = 1", "0"],
    &["table.insert(getmetatable(''), 'x')", "0"],
    &["table.insert(string, 1)", "0"],
    &["table.insert(_G, 1)", "0"],
    &["table.sort(getmetatable(''))", "0"],
    &["return table.remove(string)", "0"],
    &[
        "local t = {3, 1, 2} table.sort(t) table.insert(t, 4) table.insert(t, 1, 0) return t",
        "0",
    ],
    &["return getmetatable('').__index == string", "0"],
    &["return ('%d'):format(7)", "0"],
    &["error('boom')", "0"],
    &["\n\nreturn redis.call('nosuch')", "0"],
    &["return (", "0"],
    &["return print", "0"],
    &["return redis.sha1hex('abc')", "0"],
    &["return cjson.encode({a = {1, 2, 'x/y'}})", "0"],
    &["return cjson.decode('[1, {\"b\": 2}]')[2].b", "0"],
    &["return bit.bxor(5, 3)", "0"],
    &["return bit.tohex(65535, -4)", "0"],
    &[
        "return cmsgpack.pack({1, 'a', {b = 2.5}}, true, nil, 300, -70000)",
        "0",
    ],
    &[
        "return {cmsgpack.unpack(cmsgpack.pack({1, 2, 3}, 'x'))}",
        "0",
    ],
    &["return cmsgpack.unpack('\\xd9')", "0"],
    &["return struct.pack('>I2 <i4 s', 258, -2, 'ab')", "0"],
    &["return {struct.unpack('>I2 b', '\\1\\2\\255')}", "0"],
    &["return struct.size('!4 b i4 d')", "0"],
    &["return struct.pack('q', 1)", "0"],
    &["return cjson.decode('[1,')", "0"],
    &["return cjson.decode('{\"a\" 1}')", "0"],
    &["return cjson.decode('\"abc')", "0"],
    &["return cjson.decode('[1 2]')", "0"],
    &["return cjson.decode('tru')", "0"],
    &["return cjson.decode('{1:2}')", "0"],
    &["return cjson.decode('[\"a\\\\q\"]')", "0"],
    &[
        "return cjson.encode({1, 2, nil, nil, nil, nil, nil, nil, nil, nil, nil, 12})",
        "0",
    ],
    &["return cjson.encode(function() end)", "0"],
    &["return redis.setresp(4)", "0"],
    &["return 1", "-1"],
    &["return 1", "2", "a"],
    &["return 1", "x"],
    &[
        "#!lua flags=no-writes\nreturn redis.call('set', 'a', 1)",
        "0",
    ],
    &["#!lua flags=bogus\nreturn 1", "0"],
    &["#!lua", "0"],
    &["return redis.call('flushall', 'bogus')", "0"],
    // Bounds past a C int, as Lua 5.1 reads them.
    &["return math.random(1e10)", "0"],
    &["return math.random(5, -1e10)", "0"],
    &["return math.random(-1e10, 1e10)", "0"],
    &["return math.random(-2147483648, -2147483648)", "0"],
    &["return math.random(1, 2, 3)", "0"],
    &["return math.random(0)", "0"],
    &["return {pcall(math.random, 2, 1)}", "0"],
];

fn eval(c: &mut Conn, a: &[&str]) -> Reply {
    let mut args = vec!["EVAL"];
    args.extend_from_slice(a);
    c.cmd(&args)
}

#[test]
fn scripts_answer_as_redis_does() {
    let (_r, rp) = {
        let r = redis();
        let p = r.port;
        (r, p)
    };
    let s = concord(&[]);
    let (mut theirs, mut ours) = (Conn::open(rp), Conn::open(s.port));
    for a in SAME {
        assert_eq!(eval(&mut ours, a), eval(&mut theirs, a), "EVAL {a:?}");
    }
    // EVALSHA, SCRIPT LOAD / EXISTS / FLUSH and the read-only forms.
    for c in [&mut ours, &mut theirs] {
        let sha = c.cmd(&["SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])"]);
        let Reply::Bulk(sha) = sha else {
            panic!("{sha:?}")
        };
        let sha = String::from_utf8(sha).unwrap();
        assert_eq!(c.cmd(&["EVALSHA", &sha, "1", "s:c"]), Reply::Int(1));
        assert_eq!(
            c.cmd(&["EVALSHA", &sha.to_uppercase(), "1", "s:c"]),
            Reply::Int(2)
        );
        assert_eq!(
            c.cmd(&["SCRIPT", "EXISTS", &sha, "nope"]),
            Reply::Array(vec![Reply::Int(1), Reply::Int(0)])
        );
        assert!(
            matches!(c.cmd(&["EVALSHA_RO", &sha, "1", "s:c"]), Reply::Error(e) if e.contains("Write commands are not allowed from read-only scripts"))
        );
        assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), Reply::Status("OK".into()));
        assert!(
            matches!(c.cmd(&["EVALSHA", &sha, "1", "s:c"]), Reply::Error(e) if e.starts_with("NOSCRIPT"))
        );
        assert!(matches!(c.cmd(&["SCRIPT", "KILL"]), Reply::Error(e) if e.starts_with("NOTBUSY")));
        assert!(matches!(
            c.cmd(&["SCRIPT", "FLUSH", "bogus"]),
            Reply::Error(_)
        ));
        // Inside a transaction.
        assert_eq!(c.cmd(&["MULTI"]), Reply::Status("OK".into()));
        assert_eq!(
            c.cmd(&["EVAL", "return redis.call('incr', 's:m')", "0"]),
            Reply::Status("QUEUED".into())
        );
        assert_eq!(c.cmd(&["EXEC"]), Reply::Array(vec![Reply::Int(1)]));
    }
    // SCRIPT and FUNCTION subcommands queued in a transaction, beside the scripts.
    let lib = "#!lua name=txlib\nredis.register_function('txf', function(k) return redis.call('incr', k[1]) end)";
    let steps: &[&[&str]] = &[
        &["MULTI"],
        &["SCRIPT", "LOAD", "return 'loaded'"],
        &[
            "SCRIPT",
            "EXISTS",
            "0c3e6bd1ea4d4ab4b4ae5d6f3a7a3c1d5e2d8b11",
            "x",
        ],
        &["EVALSHA", "4f2a5d4b3c0ab2ff3f8f0b0c9bd2d6e0f2c1a0aa", "0"],
        &["FUNCTION", "LOAD", lib],
        &["FCALL", "txf", "1", "s:f"],
        &["FUNCTION", "LIST", "LIBRARYNAME", "nomatch"],
        &["SCRIPT", "FLUSH", "bogus"],
        &["FUNCTION", "DELETE", "txlib"],
        &["SET", "s:plain", "1"],
        &["EXEC"],
        &["FUNCTION", "LIST"],
        &["GET", "s:f"],
    ];
    for step in steps {
        assert_eq!(ours.cmd(step), theirs.cmd(step), "{step:?}");
    }
}

#[test]
fn a_busy_script_inside_a_transaction_gets_busy_replies_and_is_killed() {
    let s = concord(&[]);
    let mut runner = Conn::open(s.port);
    let mut other = Conn::open(s.port);
    assert_eq!(
        other.cmd(&["CONFIG", "SET", "busy-reply-threshold", "200"]),
        Reply::Status("OK".into())
    );
    for step in [
        &["MULTI"][..],
        &["SET", "t:a", "1"],
        &["EVAL", "while true do end", "0"],
        &["INCR", "t:a"],
    ] {
        let r = runner.cmd(step);
        assert!(matches!(r, Reply::Status(_)), "{step:?}: {r:?}");
    }
    runner.send_raw(&Conn::encode(&[b"EXEC".to_vec()]));
    // The instance keeps answering: BUSY past the threshold, and SCRIPT KILL stops it.
    wait_for(
        30,
        "BUSY",
        || matches!(other.cmd(&["PING"]), Reply::Error(e) if e.starts_with("BUSY")),
    );
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), Reply::Status("OK".into()));
    let Reply::Array(replies) = runner.read() else {
        panic!("EXEC did not answer with an array")
    };
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0], Reply::Status("OK".into()));
    assert!(
        matches!(&replies[1], Reply::Error(e) if e.contains("Script killed by user with SCRIPT KILL")),
        "{:?}",
        replies[1]
    );
    assert_eq!(replies[2], Reply::Int(2));
    assert_eq!(other.cmd(&["GET", "t:a"]), Reply::Bulk(b"2".to_vec()));
    // The transaction's session came back whole: the client goes on as before.
    assert_eq!(
        runner.cmd(&["CLIENT", "SETNAME", "back"]),
        Reply::Status("OK".into())
    );
    assert_eq!(
        runner.cmd(&["CLIENT", "GETNAME"]),
        Reply::Bulk(b"back".to_vec())
    );
    assert_eq!(
        runner.cmd(&["EXEC"]),
        Reply::Error("ERR EXEC without MULTI".into())
    );
}

#[test]
fn a_busy_script_gets_busy_replies_and_is_killed() {
    busy_script_gets_busy_replies_and_is_killed(&[]);
}

/// On a multi-thread runtime a script runs while the worker's other tasks move to
/// another thread, instead of stepping aside on its own stack.
#[test]
fn a_busy_script_gets_busy_replies_and_is_killed_on_several_threads() {
    busy_script_gets_busy_replies_and_is_killed(&["--threads", "2"]);
}

/// Lua's pattern matcher recurses once per pattern item: scripts get a stack deep enough
/// for that, whether they run on the network thread or on the script thread.
#[test]
fn a_deeply_recursing_script_has_the_stack_it_needs() {
    for extra in [&[][..], &["--threads", "2"][..]] {
        let s = concord(extra);
        let mut c = Conn::open(s.port);
        let body = "return string.find(string.rep('a', 50000), string.rep('a?', 50000))";
        assert_eq!(eval(&mut c, &[body, "0"]), Reply::Int(1), "{extra:?}");
        assert_eq!(c.cmd(&["PING"]), Reply::Status("PONG".into()));
    }
}

/// A stopping instance stops a script that has not written (nothing of it is lost)
/// instead of waiting for it forever.
#[test]
fn a_stopping_instance_stops_a_script_that_has_not_written() {
    let mut s = concord(&[]);
    let mut runner = Conn::open(s.port);
    let mut other = Conn::open(s.port);
    let mut next = Conn::open(s.port);
    assert_eq!(
        other.cmd(&["CONFIG", "SET", "busy-reply-threshold", "1000"]),
        Reply::Status("OK".into())
    );
    // Another script is sent before the first is busy, so it waits for its turn behind
    // it: it must not start once the stop began.
    let endless = Conn::encode(&[
        b"EVAL".to_vec(),
        b"while true do end".to_vec(),
        b"0".to_vec(),
    ]);
    runner.send_raw(&endless);
    next.send_raw(&endless);
    wait_for(
        30,
        "BUSY",
        || matches!(other.cmd(&["PING"]), Reply::Error(e) if e.starts_with("BUSY")),
    );
    s.stop();
}

/// Sends `runner` an endless script and waits until `other` gets BUSY.
fn endless_script_is_busy(runner: &mut Conn, other: &mut Conn) {
    runner.send_raw(&Conn::encode(&[
        b"EVAL".to_vec(),
        b"while true do end".to_vec(),
        b"0".to_vec(),
    ]));
    // Others wait for the script, then past the threshold get BUSY.
    wait_for(
        30,
        "BUSY",
        || matches!(other.cmd(&["PING"]), Reply::Error(e) if e.starts_with("BUSY")),
    );
}

fn busy_script_gets_busy_replies_and_is_killed(extra: &[&str]) {
    let s = concord(extra);
    let mut runner = Conn::open(s.port);
    let mut other = Conn::open(s.port);
    // lua-time-limit is busy-reply-threshold's other name.
    assert_eq!(
        other.cmd(&["CONFIG", "SET", "lua-time-limit", "300"]),
        Reply::Status("OK".into())
    );
    assert_eq!(
        other.cmd(&["CONFIG", "GET", "busy-reply-threshold"]),
        Reply::Array(vec![
            Reply::Bulk(b"busy-reply-threshold".to_vec()),
            Reply::Bulk(b"300".to_vec())
        ])
    );
    endless_script_is_busy(&mut runner, &mut other);
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), Reply::Status("OK".into()));
    assert!(
        matches!(runner.read(), Reply::Error(e) if e.contains("Script killed by user with SCRIPT KILL"))
    );
    assert_eq!(other.cmd(&["PING"]), Reply::Status("PONG".into()));
    // One that wrote cannot be killed; it ends by itself here.
    let body = "redis.call('set', 'w', 1) local t = tonumber(redis.call('time')[1]) \
                while tonumber(redis.call('time')[1]) < t + 2 do end return 'done'";
    runner.send_raw(&Conn::encode(&[
        b"EVAL".to_vec(),
        body.as_bytes().to_vec(),
        b"0".to_vec(),
    ]));
    // Its reads wait too: a read that saw the key set would have run beside the script.
    wait_for(30, "BUSY", || match other.cmd(&["GET", "w"]) {
        Reply::Error(e) => e.starts_with("BUSY"),
        r => {
            assert_eq!(r, Reply::Nil, "read while the script ran");
            false
        }
    });
    assert!(
        matches!(other.cmd(&["SCRIPT", "KILL"]), Reply::Error(e) if e.starts_with("UNKILLABLE"))
    );
    assert_eq!(runner.read(), Reply::Bulk(b"done".to_vec()));
    assert_eq!(other.cmd(&["GET", "w"]), Reply::Bulk(b"1".to_vec()));
}

/// FUNCTION and FCALL requests whose replies must match Redis's, in order.
const FUNCTION_STEPS: &[&[&str]] = &[
    &["FUNCTION", "FLUSH"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return redis.call('incr', keys[1]) end)\nredis.register_function{function_name='ro', callback=function(k, a) return a[1] end, flags={'no-writes'}, description='d'}",
    ],
    &["FCALL", "myfunc", "1", "f:k"],
    &["FCALL", "MYFUNC", "1", "f:k"],
    // A function has no KEYS or ARGV globals, whatever an EVAL set before it.
    &["EVAL", "return 1", "1", "secret:key"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=peek\nredis.register_function('peek', function() return tostring(KEYS and KEYS[1]) end)",
    ],
    &["FCALL", "peek", "0"],
    &["EVAL", "return KEYS[1]", "1", "after"],
    &["FCALL", "peek", "0"],
    // (Redis lists libraries in its hash order: one library at a time from here.)
    &["FUNCTION", "DELETE", "peek"],
    &["FCALL_RO", "ro", "0", "hello"],
    &["FCALL_RO", "myfunc", "1", "f:k"],
    &["FCALL", "nosuch", "0"],
    &["FCALL", "myfunc", "x"],
    &["FCALL", "myfunc", "2", "f:k"],
    &["FUNCTION", "LOAD", "#!lua name=mylib\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=bad\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=bad\nmath.x = 1"],
    &["FUNCTION", "LOAD", "#!lua name=bad\nredis.call('ping')"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function('myfunc', function() end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function('a-b', function() end)",
    ],
    &["FUNCTION", "LOAD", "#!lua name=bad\nx = 1"],
    &["FUNCTION", "LOAD", "#!lua\nx"],
    &["FUNCTION", "LOAD", "#!foo name=x\nx"],
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "bogus", "#!lua name=x\nx"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "MY*", "WITHCODE"],
    &["FUNCTION", "LIST", "LIBRARYNAME"],
    &["FUNCTION", "LIST", "bogus"],
    &["FUNCTION", "DELETE", "nolib"],
    &["FUNCTION", "RESTORE", "bogus"],
    &["FUNCTION", "RESTORE", "bogus", "bogus"],
    &["FUNCTION", "FLUSH", "bogus"],
    &["FUNCTION", "KILL"],
    &["FUNCTION", "DELETE", "mylib"],
    &["FCALL", "myfunc", "1", "f:k"],
    &["FUNCTION", "STATS"],
];

/// FUNCTION LIST with each library's functions in name order (Redis lists them in its
/// hash table's order, which a random seed decides).
fn sorted_functions(r: Reply) -> Reply {
    let Reply::Array(libs) = r else {
        return r;
    };
    Reply::Array(
        libs.into_iter()
            .map(|lib| match lib {
                Reply::Array(mut fields) => {
                    for i in 0..fields.len() {
                        if fields[i] == Reply::Bulk(b"functions".to_vec())
                            && let Some(Reply::Array(fs)) = fields.get_mut(i + 1)
                        {
                            fs.sort_by_key(|f| format!("{f:?}"));
                        }
                    }
                    Reply::Array(fields)
                }
                other => other,
            })
            .collect(),
    )
}

#[test]
fn functions_answer_as_redis_does() {
    let r = redis();
    let s = concord(&[]);
    let (mut theirs, mut ours) = (Conn::open(r.port), Conn::open(s.port));
    for step in FUNCTION_STEPS {
        assert_eq!(
            sorted_functions(ours.cmd(step)),
            sorted_functions(theirs.cmd(step)),
            "{step:?}"
        );
    }
    // A dump restores (Concord writes Redis 7.2's format, which Redis 7.0 refuses).
    let code = "#!lua name=keep\nredis.register_function('kept', function() return 'here' end)";
    assert_eq!(
        ours.cmd(&["FUNCTION", "LOAD", code]),
        Reply::Bulk(b"keep".to_vec())
    );
    let Reply::Bulk(dump) = ours.cmd(&["FUNCTION", "DUMP"]) else {
        panic!("no dump")
    };
    assert_eq!(ours.cmd(&["FUNCTION", "FLUSH"]), Reply::Status("OK".into()));
    let restore = ours.call(&[b"FUNCTION".to_vec(), b"RESTORE".to_vec(), dump.clone()]);
    assert_eq!(restore, Reply::Status("OK".into()));
    let again = ours.call(&[b"FUNCTION".to_vec(), b"RESTORE".to_vec(), dump]);
    assert_eq!(
        again,
        Reply::Error("ERR Library keep already exists".into())
    );
    assert_eq!(
        ours.cmd(&["FCALL", "kept", "0"]),
        Reply::Bulk(b"here".to_vec())
    );
}

#[test]
fn function_libraries_are_kept_across_a_restart() {
    let dir = crate::support::TempDir::new("functions");
    let port = crate::support::free_port();
    let mut s = crate::support::concord_on(port, &dir.0, &[]).expect("a first start");
    let code = "#!lua name=keep\nredis.register_function('kept', function() return 'here' end)";
    assert_eq!(
        Conn::open(port).cmd(&["FUNCTION", "LOAD", code]),
        Reply::Bulk(b"keep".to_vec())
    );
    s.stop();
    let s2 = crate::support::concord_on(port, &dir.0, &[]).expect("a second start");
    assert_eq!(
        Conn::open(s2.port).cmd(&["FCALL", "kept", "0"]),
        Reply::Bulk(b"here".to_vec())
    );
}

#[test]
fn a_script_s_writes_reach_peers_as_one_group_of_effects() {
    let c = crate::cluster::Cluster::start(3, &[]);
    let groups = |i: usize| c.field(i, "crdt_backlog_groups").parse::<u64>().unwrap();
    // Each instance's random sequence differs: peers that re-ran the script would
    // store other values; they get its effects instead.
    for i in 0..3 {
        c.conn(i)
            .cmd(&["EVAL", &format!("math.randomseed({i}) return 1"), "0"]);
    }
    let before = groups(0);
    let body = "redis.call('set', KEYS[1], tostring(math.random())) \
                redis.call('sadd', KEYS[2], ARGV[1]) \
                redis.call('rpush', KEYS[3], ARGV[1], ARGV[1]) \
                return redis.call('incrby', KEYS[4], ARGV[2])";
    let r = c
        .conn(0)
        .cmd(&["EVAL", body, "4", "r", "s", "l", "n", "m", "5"]);
    assert_eq!(r, Reply::Int(5));
    assert_eq!(groups(0), before + 1, "one group for the whole script");
    // Scripts on every instance at once, on the same keys: counters add up, sets and
    // lists keep every member.
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let mut k = c.conn(i);
            std::thread::spawn(move || {
                for j in 0..50 {
                    let m = format!("{i}-{j}");
                    let r = k.cmd(&["EVAL", body, "4", "r", "s", "l", "n", &m, "1"]);
                    assert!(matches!(r, Reply::Int(_)), "{r:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a writer");
    }
    c.converged(30);
    for i in 0..3 {
        let mut k = c.conn(i);
        assert_eq!(k.cmd(&["GET", "n"]), Reply::Bulk(b"155".to_vec()));
        assert_eq!(k.cmd(&["SCARD", "s"]), Reply::Int(151));
        assert_eq!(k.cmd(&["LLEN", "l"]), Reply::Int(302));
    }
    let r0 = c.conn(0).cmd(&["GET", "r"]);
    for i in 1..3 {
        assert_eq!(c.conn(i).cmd(&["GET", "r"]), r0);
    }
}

#[test]
fn a_pipeline_interleaving_scripts_and_commands_answers_in_order() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(Conn::encode(&[
            b"EVAL".to_vec(),
            b"return ARGV[1]".to_vec(),
            b"0".to_vec(),
            i.to_string().into_bytes(),
        ]));
        batch.extend(Conn::encode(&[b"INCR".to_vec(), b"p:n".to_vec()]));
    }
    c.send_raw(&batch);
    for i in 0..500 {
        assert_eq!(c.read(), Reply::Bulk(i.to_string().into_bytes()));
        assert_eq!(c.read(), Reply::Int(i + 1));
    }
}

/// A script sent on its own runs straight from the request: CLIENT REPLY OFF and SKIP
/// still drop its reply (and only its), as Redis does, and the script still runs.
#[test]
fn client_reply_drops_a_lone_script_s_reply_as_redis_does() {
    let (r, s) = (redis(), concord(&[]));
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        let mut watch = Conn::open(port);
        let incr = |c: &mut Conn| {
            // Sent once the previous request ran, so that the script is a batch alone.
            c.send_raw(&Conn::encode(&[
                b"EVAL".to_vec(),
                b"return redis.call('incr', KEYS[1])".to_vec(),
                b"1".to_vec(),
                b"r:n".to_vec(),
            ]));
        };
        // CLIENT REPLY OFF and SKIP answer nothing: sent without waiting.
        let mode = |c: &mut Conn, m: &str| {
            c.send_raw(&Conn::encode(&[
                b"CLIENT".to_vec(),
                b"REPLY".to_vec(),
                m.as_bytes().to_vec(),
            ]));
        };
        let ran = |watch: &mut Conn, n: i64| {
            wait_for(10, "the script ran", || {
                watch.cmd(&["GET", "r:n"]) == Reply::Bulk(n.to_string().into_bytes())
            });
        };
        mode(&mut c, "OFF");
        wait_for(10, "CLIENT REPLY OFF ran", || {
            format!("{}", watch.cmd(&["CLIENT", "LIST"])).contains("cmd=client|reply")
        });
        incr(&mut c);
        ran(&mut watch, 1);
        mode(&mut c, "SKIP");
        incr(&mut c);
        ran(&mut watch, 2);
        assert_eq!(
            c.cmd(&["CLIENT", "REPLY", "ON"]),
            Reply::Status("OK".into())
        );
        mode(&mut c, "SKIP");
        incr(&mut c);
        ran(&mut watch, 3);
        incr(&mut c);
        assert_eq!(c.read(), Reply::Int(4), "only the skipped reply is dropped");
    }
}

/// A script's reply past the client's output limit is replaced by an error; the
/// connection and the replies before it stay whole.
#[test]
fn a_script_reply_past_the_output_limit_is_an_error() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0"
        ]),
        Reply::Status("OK".into())
    );
    let big = Conn::encode(&[
        b"EVAL".to_vec(),
        b"return string.rep('x', 2000000)".to_vec(),
        b"0".to_vec(),
    ]);
    // Alone, and behind another reply in one pipeline.
    let mut both = Conn::encode(&[b"PING".to_vec()]);
    both.extend_from_slice(&big);
    for (wire, before) in [(&big, false), (&both, true)] {
        c.send_raw(wire);
        if before {
            assert_eq!(c.read(), Reply::Status("PONG".into()));
        }
        assert!(
            matches!(c.read(), Reply::Error(e) if e.contains("larger than the client's output limit")),
        );
        assert_eq!(c.cmd(&["PING"]), Reply::Status("PONG".into()));
    }
}
