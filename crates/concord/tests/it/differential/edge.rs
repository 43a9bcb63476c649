//! Fixed cases compared with Redis: arity, unknown commands, overflow, huge and binary
//! values, and CLIENT REPLY.

use super::show;
use super::values::cmd;
use crate::support::{Conn, Reply, b, concord, redis};

/// Fixed edge cases: arity, unknown commands, overflow, huge and binary values.
#[test]
fn edge_cases_match_redis() {
    let redis = redis();
    let concord = concord(&[]);
    let mut rc = Conn::open(redis.port);
    let mut cc = Conn::open(concord.port);
    let big = vec![b'z'; 1 << 20];
    let cases: Vec<Vec<Vec<u8>>> = vec![
        cmd(&["GET"]),
        cmd(&["GET", "a", "b"]),
        cmd(&["NOSUCHCOMMAND", "x", "y"]),
        cmd(&["SET", "n", "9223372036854775807"]),
        cmd(&["INCR", "n"]),
        cmd(&["INCRBY", "n", "-1"]),
        cmd(&["DECRBY", "n", "-9223372036854775808"]),
        cmd(&["SET", "m", "-9223372036854775808"]),
        cmd(&["DECR", "m"]),
        // Redis computes in long double, so 1e400 is finite there; Concord uses f64.
        cmd(&["INCRBYFLOAT", "m", "1e300"]),
        cmd(&["SET", "f", "10.50"]),
        cmd(&["INCRBYFLOAT", "f", "0.1"]),
        cmd(&["INCRBYFLOAT", "f", "-5"]),
        cmd(&["SET", "f", "5.0e3"]),
        cmd(&["INCRBYFLOAT", "f", "2.0e2"]),
        cmd(&["INCRBYFLOAT", "g", "0.1"]),
        cmd(&["INCRBYFLOAT", "g", "0.1"]),
        cmd(&["INCRBYFLOAT", "g", "0.1"]),
        cmd(&["SET", "g2", "12345.678"]),
        cmd(&["INCRBYFLOAT", "g2", "0.001"]),
        cmd(&["INCRBYFLOAT", "g2", "0.001"]),
        cmd(&["INCR", "g2"]),
        cmd(&["SET", "g3", "1"]),
        cmd(&["INCRBYFLOAT", "g3", "1.5"]),
        cmd(&["INCR", "g3"]),
        cmd(&["INCRBYFLOAT", "g3", "-0.5"]),
        cmd(&["INCR", "g3"]),
        cmd(&["GET", "g3"]),
        vec![b("SET"), b("big"), big.clone()],
        cmd(&["STRLEN", "big"]),
        cmd(&["GETRANGE", "big", "-3", "-1"]),
        cmd(&["SETRANGE", "big", "536870911", "x"]),
        cmd(&["SETRANGE", "big", "536870912", "x"]),
        cmd(&["SETRANGE", "nk", "-1", "x"]),
        cmd(&["SETRANGE", "nk", "5", ""]),
        vec![b("SET"), vec![0, 1, 2], vec![255, 0, 254]],
        vec![b("GET"), vec![0, 1, 2]],
        cmd(&["SET", "k", "v", "EX", "9223372036854775807"]),
        cmd(&["SET", "k", "v", "PX", "9223372036854775807"]),
        cmd(&["SET", "k", "v", "NX", "XX"]),
        cmd(&["SET", "k", "v", "EX", "10", "PX", "10"]),
        cmd(&["SET", "k", "v", "KEEPTTL", "EX", "10"]),
        cmd(&["EXPIRE", "k", "9223372036854775807"]),
        cmd(&["EXPIRE", "k", "100", "NX", "XX"]),
        cmd(&["EXPIRE", "k", "100", "GT", "LT"]),
        cmd(&["HINCRBY", "h", "f", "9223372036854775807"]),
        cmd(&["HINCRBY", "h", "f", "1"]),
        cmd(&["HSET", "h", "g", "x"]),
        cmd(&["HINCRBY", "h", "g", "1"]),
        cmd(&["HINCRBYFLOAT", "h", "g", "1"]),
        cmd(&["HSET", "h"]),
        cmd(&["HSET", "h", "a"]),
        cmd(&["SELECT", "0"]),
        cmd(&["SELECT", "x"]),
        cmd(&["RENAME", "nosuch", "x"]),
        cmd(&["SCAN", "abc"]),
        cmd(&["SCAN", "0", "COUNT", "0"]),
        cmd(&["OBJECT", "ENCODING", "n"]),
        cmd(&["OBJECT", "ENCODING", "big"]),
        cmd(&["OBJECT", "NOPE", "n"]),
        cmd(&["ECHO", "hello"]),
        cmd(&["PING"]),
        cmd(&["PING", "x"]),
        cmd(&["PING", "x", "y"]),
        cmd(&["EXEC"]),
        cmd(&["DISCARD"]),
        cmd(&["AUTH", "x"]),
        cmd(&["HELLO", "4"]),
        cmd(&["CLIENT", "SETNAME", "a b"]),
        cmd(&["CLIENT", "GETNAME"]),
        cmd(&["CLIENT", "NOPE"]),
        cmd(&["CONFIG", "SET", "nope", "1"]),
        cmd(&["CONFIG", "GET", "maxmemory"]),
        cmd(&["SPOP", "k", "-1"]),
        cmd(&["SRANDMEMBER", "nok", "-5"]),
        cmd(&["HRANDFIELD", "nok", "3", "WITHVALUES"]),
        cmd(&["FUNCTION", "FLUSH"]),
        cmd(&["FLUSHALL", "BOGUS"]),
        cmd(&["MSET", "a"]),
        cmd(&["LCS", "k", "h"]),
        // Transactions.
        cmd(&["MULTI"]),
        cmd(&["SET", "t", "1"]),
        cmd(&["INCR", "t"]),
        cmd(&["HSET", "t", "f", "v"]),
        cmd(&["GET", "t"]),
        cmd(&["EXEC"]),
        cmd(&["MULTI"]),
        cmd(&["MULTI"]),
        cmd(&["WATCH", "t"]),
        cmd(&["GET"]),
        cmd(&["EXEC"]),
        cmd(&["MULTI"]),
        cmd(&["NOSUCH"]),
        cmd(&["DISCARD"]),
        cmd(&["WATCH", "t"]),
        cmd(&["MULTI"]),
        cmd(&["INCR", "t"]),
        cmd(&["EXEC"]),
        cmd(&["UNWATCH"]),
        // Pub/sub on a connection that subscribes nothing.
        cmd(&["PUBLISH", "ch", "hello"]),
        cmd(&["PUBSUB", "NUMSUB", "ch", "other"]),
        cmd(&["PUBSUB", "NUMPAT"]),
        cmd(&["PUBSUB", "CHANNELS"]),
        cmd(&["UNSUBSCRIBE"]),
        cmd(&["PUNSUBSCRIBE"]),
        // Server commands.
        cmd(&["DBSIZE"]),
        cmd(&["TYPE", "t"]),
        cmd(&["FLUSHDB"]),
        cmd(&["DBSIZE"]),
        cmd(&["COMMAND", "COUNTX"]),
        cmd(&["COMMAND", "INFO", "nosuchcommand"]),
        cmd(&["CONFIG", "GET", "nosuchparam"]),
        cmd(&["CLIENT", "SETNAME", "conn-1"]),
        cmd(&["CLIENT", "GETNAME"]),
        cmd(&["HELLO", "2", "SETNAME", "bad name"]),
        cmd(&["CONFIG", "SET", "maxclients", "10", "timeout"]),
        cmd(&["ACL", "LOG", "1", "2"]),
        cmd(&["CLIENT", "LIST", "TYPE", "bogus"]),
        cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]),
        cmd(&["CLIENT", "LIST", "TYPE", "master"]),
        cmd(&["CLIENT", "LIST", "ID", "abc"]),
        cmd(&["CLIENT", "KILL", "TYPE", "bogus"]),
        cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]),
        cmd(&["CLIENT", "KILL", "ID", "0"]),
        cmd(&["CLIENT", "NO-EVICT", "maybe"]),
        cmd(&["CLIENT", "NO-EVICT", "on"]),
        cmd(&["CLIENT", "REPLY", "maybe"]),
        cmd(&["FUNCTION", "FLUSH", "bogus"]),
        cmd(&["FUNCTION", "FLUSH", "ASYNC"]),
        cmd(&["RESET"]),
    ];
    for c in cases {
        let want = rc.call(&c);
        let got = cc.call(&c);
        assert_eq!(got, want, "command {}", show(&c));
    }
}

/// Commands naming tens of thousands of members, each several times: the counts and
/// the last value written win as in Redis (and each command takes time linear in its
/// arguments: these ran quadratic once).
#[test]
fn long_commands_naming_members_again_match_redis() {
    let redis = redis();
    let concord = concord(&[]);
    let mut rc = Conn::open(redis.port);
    let mut cc = Conn::open(concord.port);
    const NAMED: usize = 60_000;
    const DISTINCT: usize = 20_000;
    let name = |i: usize| format!("m{}", i % DISTINCT).into_bytes();
    let with_pairs = |head: &[&str], value: &dyn Fn(usize) -> Vec<u8>| {
        let mut c: Vec<Vec<u8>> = head.iter().map(|w| b(w)).collect();
        for i in 0..NAMED {
            c.push(value(i));
            c.push(name(i));
        }
        c
    };
    let with_names = |head: &[&str]| {
        let mut c: Vec<Vec<u8>> = head.iter().map(|w| b(w)).collect();
        c.extend((0..NAMED).map(name));
        c
    };
    let mut hset: Vec<Vec<u8>> = vec![b("HSET"), b("h")];
    for i in 0..NAMED {
        hset.push(name(i));
        hset.push(format!("v{i}").into_bytes());
    }
    let cases: Vec<Vec<Vec<u8>>> = vec![
        cmd(&["HSET", "h", "m1", "before"]),
        hset,
        cmd(&["HLEN", "h"]),
        cmd(&["HGET", "h", "m1"]),
        cmd(&["HGET", "h", "m19999"]),
        with_names(&["HDEL", "h"]),
        cmd(&["HLEN", "h"]),
        cmd(&["ZADD", "z", "5", "m7"]),
        with_pairs(&["ZADD", "z", "CH"], &|i| i.to_string().into_bytes()),
        cmd(&["ZCARD", "z"]),
        cmd(&["ZSCORE", "z", "m7"]),
        cmd(&["ZRANGE", "z", "0", "2", "WITHSCORES"]),
        with_pairs(&["ZADD", "z", "GT", "CH"], &|i| {
            (NAMED - i).to_string().into_bytes()
        }),
        cmd(&["ZSCORE", "z", "m3"]),
        with_names(&["ZREM", "z"]),
        cmd(&["ZCARD", "z"]),
        with_names(&["SADD", "s"]),
        with_names(&["SREM", "s"]),
        with_names(&["PFADD", "p"]),
        cmd(&["PFCOUNT", "p"]),
        with_names(&["PFADD", "p"]),
    ];
    for c in cases {
        let want = rc.call(&c);
        let got = cc.call(&c);
        assert_eq!(got, want, "command {}", show(&c[..c.len().min(4)]));
    }
}

/// CLIENT REPLY OFF, SKIP and ON: the commands run, their replies are dropped, as in
/// Redis (compared over one pipeline, ended by an ECHO both answer).
#[test]
fn client_reply_off_and_skip_match_redis() {
    let (rs, cs) = (redis(), concord(&[]));
    let script: &[&[&str]] = &[
        &["CLIENT", "REPLY", "SKIP"],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "OFF"],
        &["INCR", "a"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "SKIP"],
        &["INCR", "a"],
        &["GET", "a"],
        &["ECHO", "end"],
    ];
    let mut wire = Vec::new();
    for args in script {
        let args: Vec<Vec<u8>> = args.iter().map(|a| b(a)).collect();
        wire.extend(Conn::encode(&args));
    }
    let replies = |port: u16| {
        let mut c = Conn::open(port);
        c.send_raw(&wire);
        let mut got = Vec::new();
        for _ in 0..script.len() {
            let r = c.read();
            let end = r == Reply::Bulk(b"end".to_vec());
            got.push(r);
            if end {
                break;
            }
        }
        got
    };
    let want = replies(rs.port);
    assert!(
        want.len() < script.len(),
        "some replies were dropped: {want:?}"
    );
    assert_eq!(replies(cs.port), want);
}
