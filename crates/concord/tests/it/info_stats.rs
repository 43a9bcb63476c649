//! INFO's counters of errors and pub/sub against Redis's.

use crate::support::{Conn, Reply, concord, info_field, redis, text, wait_for};

/// INFO's errorstats section and `total_error_replies` count error replies by code as
/// Redis does: refusals, command errors, errors inside a transaction, and a script's
/// error once, whether the script raised it, made it or returned a `redis.pcall` error,
/// and the error that releases a blocked client.
#[test]
fn errorstats_count_error_replies_as_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut seen = Vec::new();
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        c.cmd(&["CONFIG", "RESETSTAT"]);
        c.cmd(&["SET", "str", "x"]);
        c.cmd(&["NOSUCHCOMMAND", "a"]);
        c.cmd(&["GET"]);
        c.cmd(&["LPUSH", "str", "a"]);
        c.cmd(&["INCR", "str"]);
        c.cmd(&["EVAL", "return 1", "x"]);
        c.cmd(&["EVALSHA", "0123456789012345678901234567890123456789", "0"]);
        c.cmd(&[
            "EVAL",
            "return redis.call('LPUSH', KEYS[1], 'a')",
            "1",
            "str",
        ]);
        c.cmd(&["EVAL", "return redis.error_reply('MYCODE custom')", "0"]);
        c.cmd(&[
            "EVAL",
            "return redis.pcall('LPUSH', KEYS[1], 'a')",
            "1",
            "str",
        ]);
        c.cmd(&["MULTI"]);
        c.cmd(&["INCR", "str"]);
        c.cmd(&["GET", "str"]);
        c.cmd(&["EXEC"]);
        c.cmd(&["MULTI"]);
        c.cmd(&["GET"]);
        c.cmd(&["EXEC"]);
        // A blocked client released with an error (Redis's own errorstats test).
        let mut blocked = Conn::open(port);
        let id = match blocked.cmd(&["CLIENT", "ID"]) {
            Reply::Int(id) => id.to_string(),
            other => panic!("CLIENT ID: {other}"),
        };
        blocked.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nnone\r\n$1\r\n0\r\n");
        wait_for(10, "BLPOP to block", || {
            c.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]) == Reply::Int(1)
        });
        blocked.read();
        c.cmd(&["SUBSCRIBE", "ch"]);
        c.cmd(&["GET", "str"]);
        let mut info = Conn::open(port);
        let errors = text(info.cmd(&["INFO", "errorstats"]));
        let total = info_field(&mut info, "stats", "total_error_replies");
        let lines: Vec<String> = errors
            .lines()
            .filter(|l| l.starts_with("errorstat_"))
            .map(String::from)
            .collect();
        seen.push((lines, total));
    }
    assert_eq!(seen[0], seen[1], "redis, then concord");
    assert!(
        seen[1].0.iter().any(|l| l == "errorstat_WRONGTYPE:count=3"),
        "{seen:?}"
    );
}

/// `pubsub_channels` and `pubsub_patterns` count the channels and patterns that have a
/// subscriber, as Redis's INFO stats does (a shard channel is not among them).
#[test]
fn pubsub_counts_match_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut seen = Vec::new();
    for port in [r.port, s.port] {
        let mut conns = [Conn::open(port), Conn::open(port)];
        // Each of these answers once per name: every answer is read, so that each
        // has been applied before INFO runs.
        for (c, args) in [
            (0, &["SUBSCRIBE", "one", "two"][..]),
            (1, &["SUBSCRIBE", "two", "three"]),
            (1, &["PSUBSCRIBE", "p*", "q*"]),
            (0, &["SSUBSCRIBE", "shard"]),
            (1, &["UNSUBSCRIBE", "three"]),
        ] {
            conns[c].cmd(args);
            for _ in 2..args.len() {
                conns[c].read();
            }
        }
        let mut info = Conn::open(port);
        let stats = text(info.cmd(&["INFO", "stats"]));
        let counts: Vec<String> = stats
            .lines()
            .filter(|l| l.starts_with("pubsub_"))
            .map(String::from)
            .collect();
        seen.push(counts);
    }
    assert_eq!(seen[0], seen[1], "redis, then concord");
    assert_eq!(seen[1], ["pubsub_channels:2", "pubsub_patterns:2"]);
}

/// `keyspace_hits` and `keyspace_misses` count the key lookups of commands that read, as
/// Redis's do (a write's lookups are not counted).
#[test]
fn keyspace_hits_and_misses_match_redis() {
    let r = redis();
    let s = concord(&[]);
    let script: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["GET", "s"],
        &["GET", "nope"],
        &["MGET", "s", "nope", "s"],
        &["EXISTS", "s", "nope"],
        &["TYPE", "s"],
        &["STRLEN", "nope"],
        &["INCR", "s"],
        &["APPEND", "s", "2"],
        &["HSET", "h", "f", "v"],
        &["HGET", "h", "f"],
        &["HGETALL", "nope"],
        &["RPUSH", "l", "a", "b"],
        &["LRANGE", "l", "0", "-1"],
        &["LPOP", "l"],
        &["SADD", "set", "m"],
        &["SMEMBERS", "set"],
        &["SISMEMBER", "nope", "m"],
        &["ZADD", "z", "1", "m"],
        &["ZSCORE", "z", "m"],
        &["ZRANGE", "z", "0", "-1"],
        &["TTL", "s"],
        &["PTTL", "nope"],
        &["DEL", "nope"],
        &["SETNX", "s", "x"],
        &["GETSET", "s", "y"],
        &["EXPIRE", "s", "100"],
        &["SUNION", "set", "nope"],
        &["OBJECT", "ENCODING", "s"],
    ];
    let mut seen = Vec::new();
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        c.cmd(&["CONFIG", "RESETSTAT"]);
        let mut counts = Vec::new();
        for args in script {
            c.cmd(args);
            let stats = text(c.cmd(&["INFO", "stats"]));
            let line: Vec<&str> = stats
                .lines()
                .filter(|l| l.starts_with("keyspace_"))
                .collect();
            counts.push(format!("{}: {}", args.join(" "), line.join(" ")));
        }
        seen.push(counts);
    }
    for (redis, concord) in seen[0].iter().zip(&seen[1]) {
        assert_eq!(redis, concord, "redis, then concord");
    }
}

/// Before any snapshot or rewrite their durations read -1, as in Redis; the input buffer
/// of a connected client shows in `client_recent_max_input_buffer` (Redis samples it once
/// a second, so a new one may still show 0).
#[test]
fn durations_and_buffers_are_measured() {
    let r = redis();
    let s = concord(&[]);
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        let mut field = |name: &str| -> i64 {
            info_field(&mut c, "all", name)
                .parse()
                .unwrap_or_else(|_| panic!("{name} on port {port}"))
        };
        assert_eq!(field("rdb_last_bgsave_time_sec"), -1, "port {port}");
        assert_eq!(field("aof_last_rewrite_time_sec"), -1, "port {port}");
        if port == s.port {
            assert!(field("client_recent_max_input_buffer") > 0);
        }
    }
}

/// A script command's time counts in INFO commandstats, as any command's.
#[test]
fn script_commands_are_timed() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    for _ in 0..20 {
        c.cmd(&["EVAL", "for i = 1, 2000 do end return 1", "0"]);
    }
    let stats = text(c.cmd(&["INFO", "commandstats"]));
    let line = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_eval:"))
        .expect("cmdstat_eval");
    assert!(line.starts_with("cmdstat_eval:calls=20,"), "{line}");
    let usec: u64 = line
        .split(',')
        .find_map(|f| f.strip_prefix("usec="))
        .and_then(|v| v.parse().ok())
        .expect("usec");
    assert!(usec > 0, "{line}");
}

/// Output a slow reader has not taken shows in CLIENT LIST's `omem` and INFO's
/// `client_recent_max_output_buffer`, and is gone once it reads.
#[test]
fn output_waiting_for_a_slow_reader_is_shown() {
    let s = concord(&[]);
    let mut sub = Conn::open(s.port);
    sub.cmd(&["SUBSCRIBE", "ch"]);
    let mut c = Conn::open(s.port);
    let payload = "x".repeat(64 * 1024);
    let omem = |c: &mut Conn| -> Vec<u64> {
        let list = text(c.cmd(&["CLIENT", "LIST"]));
        list.lines()
            .filter(|l| l.contains(" sub=1 "))
            .filter_map(|l| {
                l.split(' ')
                    .find_map(|kv| kv.strip_prefix("omem="))
                    .and_then(|v| v.parse().ok())
            })
            .collect()
    };
    // The socket buffers fill first; the rest waits in the server (160 × 64 KiB = 10 MiB,
    // under the pub/sub class's 32 MiB limit).
    let mut sent = 0;
    wait_for(20, "output to wait for the subscriber", || {
        if sent < 160 {
            c.cmd(&["PUBLISH", "ch", &payload]);
            sent += 1;
        }
        omem(&mut c).first().is_some_and(|&m| m > 0)
    });
    let max_out: u64 = info_field(&mut c, "clients", "client_recent_max_output_buffer")
        .parse()
        .expect("client_recent_max_output_buffer");
    assert!(max_out > 0);
    // The subscriber reads what was published: nothing waits any more.
    for _ in 0..sent {
        sub.read();
    }
    wait_for(10, "the output to drain", || omem(&mut c) == [0]);
}
