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
    &["error('boom')", "0"],
    &["\n\nreturn redis.call('nosuch')", "0"],
    &["return (", "0"],
    &["return print", "0"],
    &["return redis.sha1hex('abc')", "0"],
    &["return cjson.encode({a = {1, 2, 'x/y'}})", "0"],
    &["return cjson.decode('[1, {\"b\": 2}]')[2].b", "0"],
    &["return bit.bxor(5, 3)", "0"],
    &["return bit.tohex(65535, -4)", "0"],
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
}

#[test]
fn a_busy_script_gets_busy_replies_and_is_killed() {
    let s = concord(&[]);
    let mut runner = Conn::open(s.port);
    runner.send_raw(&Conn::encode(&[
        b"EVAL".to_vec(),
        b"while true do end".to_vec(),
        b"0".to_vec(),
    ]));
    let mut other = Conn::open(s.port);
    // Others wait for the script, then past the threshold (5 s) get BUSY.
    wait_for(
        30,
        "BUSY",
        || matches!(other.cmd(&["PING"]), Reply::Error(e) if e.starts_with("BUSY")),
    );
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), Reply::Status("OK".into()));
    assert!(
        matches!(runner.read(), Reply::Error(e) if e.contains("Script killed by user with SCRIPT KILL"))
    );
    assert_eq!(other.cmd(&["PING"]), Reply::Status("PONG".into()));
    // One that wrote cannot be killed; it ends by itself here.
    let body = "redis.call('set', 'w', 1) local t = tonumber(redis.call('time')[1]) \
                while tonumber(redis.call('time')[1]) < t + 7 do end return 'done'";
    runner.send_raw(&Conn::encode(&[
        b"EVAL".to_vec(),
        body.as_bytes().to_vec(),
        b"0".to_vec(),
    ]));
    wait_for(
        30,
        "BUSY",
        || matches!(other.cmd(&["GET", "w"]), Reply::Error(e) if e.starts_with("BUSY")),
    );
    assert!(
        matches!(other.cmd(&["SCRIPT", "KILL"]), Reply::Error(e) if e.starts_with("UNKILLABLE"))
    );
    assert_eq!(runner.read(), Reply::Bulk(b"done".to_vec()));
    assert_eq!(other.cmd(&["GET", "w"]), Reply::Bulk(b"1".to_vec()));
}
