//! Introspection: CLIENT REPLY and CLIENT LIST's own line, SLOWLOG, LATENCY.

use crate::support::{Conn, Reply, b, concord, redis, text};

/// The `field=value` of a CLIENT LIST line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// A command that takes well over a millisecond on any machine: the union of two sets
/// of 200,000 members each.
fn slow_command(c: &mut Conn) -> Vec<&'static str> {
    for set in ["s1", "s2"] {
        for chunk in 0..20 {
            let mut args = vec![b("SADD"), b(set)];
            args.extend((0..10_000).map(|i| format!("{set}-{chunk}-{i}").into_bytes()));
            assert_eq!(c.call(&args), Reply::Int(10_000));
        }
    }
    vec!["SUNIONSTORE", "dst", "s1", "s2"]
}

#[test]
fn client_list_shows_the_running_command_and_its_query_buffer_as_redis() {
    let r = redis();
    let s = concord(&[]);
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        let line = text(c.cmd(&["CLIENT", "LIST"]));
        assert_eq!(field(&line, "cmd"), "client|list", "{line}");
        assert_eq!(field(&line, "qbuf"), "26", "{line}");
        assert_eq!(field(&line, "argv-mem"), "10", "{line}");
        let line = text(c.cmd(&["CLIENT", "INFO"]));
        assert_eq!(field(&line, "cmd"), "client|info", "{line}");
        // Another client sees this one's last command, and an empty query buffer.
        c.cmd(&["PING"]);
        let mut other = Conn::open(port);
        let list = text(other.cmd(&["CLIENT", "LIST"]));
        let mine = list
            .lines()
            .find(|l| field(l, "cmd") == "ping")
            .unwrap_or_else(|| panic!("{list}"));
        assert_eq!(field(mine, "qbuf"), "0", "{mine}");
        assert_eq!(field(mine, "argv-mem"), "0", "{mine}");
    }
}

#[test]
fn client_reply_off_silences_replies_and_messages() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    c.cmd(&["HELLO", "3"]);
    c.cmd(&["SUBSCRIBE", "ch"]);
    c.send_raw(&Conn::encode(&[b("CLIENT"), b("REPLY"), b("OFF")]));
    c.send_raw(&Conn::encode(&[b("SET"), b("k"), b("v")]));
    let mut p = Conn::open(s.port);
    // The subscriber got the message (PUBLISH counts it) but sends nothing on.
    assert_eq!(p.cmd(&["PUBLISH", "ch", "hidden"]), Reply::Int(1));
    assert_eq!(p.cmd(&["GET", "k"]), Reply::Bulk(b("v")));
    c.send_raw(&Conn::encode(&[b("CLIENT"), b("REPLY"), b("ON")]));
    assert_eq!(c.read(), Reply::Status("OK".into()));
    assert_eq!(p.cmd(&["PUBLISH", "ch", "shown"]), Reply::Int(1));
    match c.read() {
        Reply::Other(b'>', v, _) => assert_eq!(v[2], Reply::Bulk(b("shown"))),
        other => panic!("expected the message, got {other}"),
    }
}

/// SLOWLOG GET's entries, each as its fields.
fn entries(c: &mut Conn, args: &[&str]) -> Vec<Vec<Reply>> {
    match c.cmd(args) {
        Reply::Array(v) => v
            .into_iter()
            .map(|e| match e {
                Reply::Array(f) => f,
                other => panic!("entry {other}"),
            })
            .collect(),
        other => panic!("SLOWLOG GET: {other}"),
    }
}

#[test]
fn slowlog_keeps_entries_as_redis_does() {
    let r = redis();
    let s = concord(&[]);
    let long = "x".repeat(200);
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut seen = Vec::new();
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        assert_eq!(c.cmd(&["SLOWLOG", "RESET"]), Reply::Status("OK".into()));
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        c.cmd(&["CLIENT", "SETNAME", "tester"]);
        c.cmd(&["SET", "k", &long]);
        let mut rpush = vec!["RPUSH", "l"];
        rpush.extend(many.iter().map(|s| s.as_str()));
        c.cmd(&rpush);
        c.cmd(&["AUTH", "secret"]);
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
        let got = entries(&mut c, &["SLOWLOG", "GET", "-1"]);
        let mine = c.cmd(&["CLIENT", "INFO"]);
        let addr = field(&text(mine), "addr").to_string();
        // Newest first: CONFIG SET (it was logged before turning the log off), AUTH,
        // RPUSH, SET, CLIENT SETNAME, CONFIG SET, and (Redis) SLOWLOG RESET.
        let args: Vec<Reply> = got.iter().take(5).map(|e| e[3].clone()).collect();
        for e in &got {
            assert_eq!(e.len(), 6);
            assert!(matches!(e[2], Reply::Int(n) if n >= 0));
            assert_eq!(e[4], Reply::Bulk(b(&addr)));
        }
        assert_eq!(got[0][5], Reply::Bulk(b("tester")));
        let ids: Vec<Reply> = got.iter().map(|e| e[0].clone()).collect();
        seen.push((args, ids.len()));
        assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), Reply::Int(got.len() as i64));
        assert_eq!(entries(&mut c, &["SLOWLOG", "GET", "1"]).len(), 1);
        assert_eq!(
            entries(&mut c, &["SLOWLOG", "GET"]).len(),
            got.len().min(10)
        );
        for (args, want) in [
            (
                vec!["SLOWLOG", "GET", "-2"],
                "ERR count should be greater than or equal to -1",
            ),
            (
                vec!["SLOWLOG", "GET", "x"],
                "ERR count should be greater than or equal to -1",
            ),
            (
                vec!["SLOWLOG", "GET", "1", "2"],
                "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.",
            ),
            (
                vec!["SLOWLOG", "NOPE"],
                "ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.",
            ),
            (
                vec!["CONFIG", "SET", "slowlog-log-slower-than", "-2"],
                "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive",
            ),
        ] {
            assert_eq!(c.cmd(&args), Reply::Error(want.into()), "{args:?}");
        }
        assert_eq!(c.cmd(&["SLOWLOG", "RESET"]), Reply::Status("OK".into()));
        assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), Reply::Int(0));
        let mut help = c.cmd(&["SLOWLOG", "HELP"]);
        if let Reply::Array(lines) = &mut help {
            lines.pop();
        }
        seen.push((vec![help], 0));
    }
    assert_eq!(seen[0].0, seen[2].0, "entries' arguments");
    assert_eq!(seen[1].0, seen[3].0, "SLOWLOG HELP");
}

#[test]
fn slowlog_max_len_keeps_the_newest() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    c.cmd(&["CONFIG", "SET", "slowlog-max-len", "3"]);
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    for i in 0..10 {
        c.cmd(&["SET", "k", &i.to_string()]);
    }
    let got = entries(&mut c, &["SLOWLOG", "GET", "-1"]);
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0][3],
        Reply::Array(vec![
            Reply::Bulk(b("SET")),
            Reply::Bulk(b("k")),
            Reply::Bulk(b("9"))
        ])
    );
    assert!(matches!((&got[0][0], &got[2][0]), (Reply::Int(a), Reply::Int(b)) if a - b == 2));
    // The default threshold (10 ms) keeps a fast command out, and a slow one in.
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "1000"]);
    let slow = slow_command(&mut c);
    c.cmd(&["SLOWLOG", "RESET"]);
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), Reply::Int(0));
    c.cmd(&slow);
    let got = entries(&mut c, &["SLOWLOG", "GET"]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(got[0][2], Reply::Int(n) if n >= 1000));
}

#[test]
fn latency_monitor_records_slow_commands() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    assert_eq!(c.cmd(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
    assert!(text(c.cmd(&["LATENCY", "DOCTOR"])).contains("disabled"));
    let slow = slow_command(&mut c);
    c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    c.cmd(&slow);
    let latest = c.cmd(&["LATENCY", "LATEST"]);
    let Reply::Array(events) = latest else {
        panic!("{latest}")
    };
    assert_eq!(events.len(), 1, "{events:?}");
    let Reply::Array(ev) = &events[0] else {
        panic!()
    };
    assert_eq!(ev[0], Reply::Bulk(b("command")));
    assert!(matches!((&ev[2], &ev[3]), (Reply::Int(l), Reply::Int(m)) if *l >= 1 && m >= l));
    let Reply::Array(history) = c.cmd(&["LATENCY", "HISTORY", "command"]) else {
        panic!()
    };
    assert_eq!(history.len(), 1);
    assert_eq!(c.cmd(&["LATENCY", "HISTORY", "nope"]), Reply::Array(vec![]));
    let graph = text(c.cmd(&["LATENCY", "GRAPH", "command"]));
    assert!(graph.starts_with("command - high "), "{graph}");
    assert_eq!(
        c.cmd(&["LATENCY", "GRAPH", "nope"]),
        Reply::Error("ERR No samples available for event 'nope'".into())
    );
    assert!(text(c.cmd(&["LATENCY", "DOCTOR"])).contains("1. command: 1 latency spikes"));
    assert_eq!(c.cmd(&["LATENCY", "RESET", "nope"]), Reply::Int(0));
    assert_eq!(c.cmd(&["LATENCY", "RESET"]), Reply::Int(1));
    assert_eq!(c.cmd(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
}

#[test]
fn latency_histogram_and_help_match_redis_shape() {
    let r = redis();
    let s = concord(&[]);
    let mut shapes = Vec::new();
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        c.cmd(&["CONFIG", "RESETSTAT"]);
        for _ in 0..5 {
            c.cmd(&["SET", "k", "v"]);
        }
        c.cmd(&["CONFIG", "GET", "hz"]);
        // Calls per command (bucket bounds depend on timing).
        let h = c.cmd(&["LATENCY", "HISTOGRAM", "set", "config", "nosuch", "get"]);
        let Reply::Array(v) = h else { panic!("{h}") };
        // Name and calls of each; Redis lists subcommands in its own order.
        let mut calls: Vec<(Reply, Reply)> = v
            .chunks(2)
            .map(|p| match &p[1] {
                Reply::Array(f) => (p[0].clone(), f[1].clone()),
                other => panic!("{other}"),
            })
            .collect();
        calls.sort();
        // Redis 7.0 words HELP's own line differently from 7.2.
        let mut help = c.cmd(&["LATENCY", "HELP"]);
        if let Reply::Array(lines) = &mut help {
            lines.pop();
        }
        shapes.push((calls, help));
        assert_eq!(
            c.cmd(&["LATENCY", "NOPE"]),
            Reply::Error("ERR unknown subcommand 'NOPE'. Try LATENCY HELP.".into())
        );
        assert_eq!(
            c.cmd(&["LATENCY", "HISTORY"]),
            Reply::Error("ERR wrong number of arguments for 'latency|history' command".into())
        );
    }
    assert_eq!(shapes[0], shapes[1]);
    // Turned off, nothing more is counted.
    let mut c = Conn::open(s.port);
    c.cmd(&["CONFIG", "SET", "latency-tracking", "no"]);
    c.cmd(&["SET", "k", "v"]);
    let Reply::Array(v) = c.cmd(&["LATENCY", "HISTOGRAM", "set"]) else {
        panic!()
    };
    let Reply::Array(f) = &v[1] else { panic!() };
    assert_eq!(f[1], Reply::Int(5));
}

/// A MONITOR line without its time and client address: `"cmd" "arg" ...` after the
/// `[0 who]` part, with `who` kept when it is `lua`.
fn monitored(line: &str) -> String {
    let (_, rest) = line.split_once(" [0 ").unwrap_or_else(|| panic!("{line}"));
    let (who, args) = rest.split_once("] ").unwrap_or_else(|| panic!("{line}"));
    if who == "lua" {
        format!("lua {args}")
    } else {
        args.to_string()
    }
}

#[test]
fn monitor_lines_match_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut seen = Vec::new();
    for (port, resp3) in [
        (r.port, false),
        (s.port, false),
        (r.port, true),
        (s.port, true),
    ] {
        let mut m = Conn::open(port);
        if resp3 {
            m.cmd(&["HELLO", "3"]);
        }
        assert_eq!(m.cmd(&["MONITOR"]), Reply::Status("OK".into()));
        let mut c = Conn::open(port);
        c.cmd(&["SET", "k", "a \"quoted\"\n\x01value"]);
        c.cmd(&["AUTH", "user", "secret"]);
        c.cmd(&["CONFIG", "GET", "hz"]);
        c.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", "k"]);
        c.cmd(&["MULTI"]);
        c.cmd(&["INCR", "n"]);
        c.cmd(&["EXEC"]);
        c.cmd(&["PING", "end"]);
        let mut lines = Vec::new();
        loop {
            let Reply::Status(l) = m.read() else {
                panic!("not a status line")
            };
            let at = l.split_once(' ').map(|(t, _)| t).unwrap_or_default();
            let (secs, micros) = at.split_once('.').expect("time");
            assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{l}");
            if !l.contains("lua") {
                let addr = field(&text(c.cmd(&["CLIENT", "INFO"])), "addr").to_string();
                assert!(l.contains(&format!("[0 {addr}] ")), "{l}");
            }
            let shown = monitored(&l);
            let end = shown == "\"PING\" \"end\"";
            // Redis also shows EVAL itself; Concord's scripts run elsewhere.
            if !shown.starts_with("\"EVAL\"") && !shown.starts_with("\"CLIENT\"") {
                lines.push(shown);
            }
            if end {
                break;
            }
        }
        seen.push(lines);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[2], seen[3]);
    assert!(
        seen[0].contains(&"lua \"get\" \"k\"".to_string()),
        "{:?}",
        seen[0]
    );
}

#[test]
fn a_monitor_that_stops_reading_is_disconnected() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    c.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 1mb 0 0",
    ]);
    let mut m = Conn::open(s.port);
    m.cmd(&["CLIENT", "SETNAME", "watcher"]);
    assert_eq!(m.cmd(&["MONITOR"]), Reply::Status("OK".into()));
    let big = "v".repeat(100_000);
    let gone = |c: &mut Conn| !text(c.cmd(&["CLIENT", "LIST"])).contains("name=watcher");
    let mut sent = 0;
    while !gone(&mut c) {
        assert!(sent < 2000, "the monitor was never disconnected");
        for _ in 0..20 {
            c.cmd(&["SET", "k", &big]);
        }
        sent += 20;
    }
    // The instance is fine, and a new monitor works.
    let mut m2 = Conn::open(s.port);
    assert_eq!(m2.cmd(&["MONITOR"]), Reply::Status("OK".into()));
    c.cmd(&["PING"]);
    let Reply::Status(l) = m2.read() else {
        panic!()
    };
    assert!(l.ends_with("\"PING\""), "{l}");
    drop(m);
}

#[test]
fn reset_leaves_monitor_mode_and_exec_refuses_it() {
    let s = concord(&[]);
    let mut m = Conn::open(s.port);
    assert_eq!(m.cmd(&["MONITOR"]), Reply::Status("OK".into()));
    assert_eq!(m.cmd(&["RESET"]), Reply::Status("RESET".into()));
    let mut c = Conn::open(s.port);
    c.cmd(&["SET", "x", "1"]);
    assert_eq!(m.cmd(&["PING"]), Reply::Status("PONG".into()));
    m.cmd(&["MULTI"]);
    m.cmd(&["MONITOR"]);
    assert_eq!(
        m.cmd(&["EXEC"]),
        Reply::Array(vec![Reply::Error(
            "ERR MONITOR isn't allowed for DENY BLOCKING client".into()
        )])
    );
}

/// Reads whatever replies arrive until a PING's answer (`PONG` or RESP3's push-free
/// `+PONG`), which marks the end.
fn until_pong(c: &mut Conn) -> Vec<Reply> {
    let mut got = Vec::new();
    loop {
        let r = c.read();
        let end = r == Reply::Status("PONG".into())
            || r == Reply::Array(vec![Reply::Bulk(b("pong")), Reply::Bulk(Vec::new())]);
        got.push(r);
        if end {
            return got;
        }
    }
}

#[test]
fn sharded_pubsub_matches_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut seen = Vec::new();
    for resp3 in [false, true] {
        for port in [r.port, s.port] {
            let mut sub = Conn::open(port);
            let mut p = Conn::open(port);
            if resp3 {
                sub.cmd(&["HELLO", "3"]);
            }
            let mut log = Vec::new();
            sub.send_raw(&Conn::encode(&[b("SSUBSCRIBE"), b("a"), b("b"), b("a")]));
            sub.send_raw(&Conn::encode(&[b("SUBSCRIBE"), b("a")]));
            sub.send_raw(&Conn::encode(&[b("PING")]));
            log.extend(until_pong(&mut sub));
            log.push(p.cmd(&["SPUBLISH", "a", "to-shard"]));
            log.push(p.cmd(&["PUBLISH", "a", "to-channel"]));
            log.push(p.cmd(&["SPUBLISH", "nobody", "x"]));
            log.push(p.cmd(&["PUBSUB", "SHARDNUMSUB", "a", "b", "c"]));
            log.push(p.cmd(&["PUBSUB", "NUMSUB", "a", "b"]));
            let mut chans = p.cmd(&["PUBSUB", "SHARDCHANNELS"]);
            if let Reply::Array(v) = &mut chans {
                v.sort();
            }
            log.push(chans);
            log.push(p.cmd(&["PUBSUB", "SHARDCHANNELS", "b*"]));
            let mut list = text(p.cmd(&["CLIENT", "LIST"]));
            list.retain(|c| c != '\r');
            let line = list
                .lines()
                .find(|l| field(l, "ssub") != "0")
                .unwrap_or_else(|| panic!("{list}"))
                .to_string();
            log.push(Reply::Bulk(b(&format!(
                "sub={} psub={} ssub={} flags={}",
                field(&line, "sub"),
                field(&line, "psub"),
                field(&line, "ssub"),
                field(&line, "flags")
            ))));
            sub.send_raw(&Conn::encode(&[b("SUNSUBSCRIBE"), b("a"), b("zz")]));
            sub.send_raw(&Conn::encode(&[b("SUNSUBSCRIBE")]));
            sub.send_raw(&Conn::encode(&[b("SUNSUBSCRIBE")]));
            sub.send_raw(&Conn::encode(&[b("UNSUBSCRIBE")]));
            sub.send_raw(&Conn::encode(&[b("PING")]));
            log.extend(until_pong(&mut sub));
            log.push(p.cmd(&["PUBSUB", "SHARDCHANNELS"]));
            log.push(p.cmd(&["SSUBSCRIBE"]));
            log.push(p.cmd(&["SPUBLISH", "a"]));
            seen.push(log);
        }
    }
    assert_eq!(seen[0], seen[1], "RESP2");
    assert_eq!(seen[2], seen[3], "RESP3");
}

#[test]
fn role_and_wait_alone_match_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut seen = Vec::new();
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        let mut log = vec![
            c.cmd(&["ROLE"]),
            c.cmd(&["WAIT", "0", "0"]),
            c.cmd(&["WAIT", "x", "0"]),
            c.cmd(&["WAIT", "1", "-1"]),
            c.cmd(&["WAIT", "1", "x"]),
            c.cmd(&["WAIT", "1"]),
        ];
        // Nobody acknowledges: the timeout ends the wait, and what follows runs after.
        let start = std::time::Instant::now();
        c.send_raw(&Conn::encode(&[b("WAIT"), b("1"), b("100")]));
        c.send_raw(&Conn::encode(&[b("PING")]));
        log.push(c.read());
        log.push(c.read());
        assert!(start.elapsed() >= std::time::Duration::from_millis(100));
        c.cmd(&["MULTI"]);
        c.cmd(&["WAIT", "1", "0"]);
        log.push(c.cmd(&["EXEC"]));
        seen.push(log);
    }
    assert_eq!(seen[0], seen[1]);
    // 7.2 lets a script call WAIT (7.0 refused it): it answers at once.
    let mut c = Conn::open(s.port);
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('wait', 1, 0)", "0"]),
        Reply::Int(0)
    );
    assert_eq!(
        seen[1][0],
        Reply::Array(vec![
            Reply::Bulk(b("master")),
            Reply::Int(0),
            Reply::Array(vec![])
        ])
    );
}

#[test]
fn wait_counts_the_peers_that_applied_this_instances_writes() {
    let c = crate::cluster::Cluster::start(3, &[]);
    let mut k = c.conn(0);
    k.cmd(&["SET", "k", "v"]);
    assert_eq!(k.cmd(&["WAIT", "2", "0"]), Reply::Int(2));
    let Reply::Array(role) = k.cmd(&["ROLE"]) else {
        panic!()
    };
    assert_eq!(role[0], Reply::Bulk(b("master")));
    let Reply::Int(offset) = role[1] else {
        panic!()
    };
    assert!(offset >= 1);
    let Reply::Array(peers) = &role[2] else {
        panic!()
    };
    assert_eq!(peers.len(), 2);
    for p in peers {
        let Reply::Array(f) = p else { panic!() };
        assert_eq!(f[0], Reply::Bulk(b("127.0.0.1")));
        assert_eq!(f[2], Reply::Bulk(b(&offset.to_string())), "{p}");
    }
    // Cut off, nobody acknowledges: the timeout answers.
    c.isolate(0);
    k.cmd(&["SET", "k", "w"]);
    assert_eq!(k.cmd(&["WAIT", "1", "200"]), Reply::Int(0));
    // Without a timeout it waits until the links are back and the peers applied it.
    k.send_raw(&Conn::encode(&[b("WAIT"), b("2"), b("0")]));
    k.send_raw(&Conn::encode(&[b("GET"), b("k")]));
    k.set_timeout(Some(std::time::Duration::from_millis(300)));
    let mut buf = [0u8; 16];
    assert_eq!(k.read_some(&mut buf), None, "WAIT answered while cut off");
    assert!(k.timed_out());
    k.set_timeout(Some(std::time::Duration::from_secs(30)));
    // CLIENT UNBLOCK ends a WAIT as its timeout would, or with an error.
    let mut w = c.conn(0);
    let Reply::Int(wid) = w.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    w.send_raw(&Conn::encode(&[b("WAIT"), b("1"), b("0")]));
    let mut admin = c.conn(0);
    let unblock = |admin: &mut Conn, how: &str| {
        let mut n = Reply::Int(0);
        // The WAIT may not have started yet: ask until it has.
        crate::support::wait_for(10, "WAIT to start", || {
            n = admin.cmd(&["CLIENT", "UNBLOCK", &wid.to_string(), how]);
            n == Reply::Int(1)
        });
    };
    unblock(&mut admin, "TIMEOUT");
    assert_eq!(w.read(), Reply::Int(0));
    w.send_raw(&Conn::encode(&[b("WAIT"), b("1"), b("0")]));
    unblock(&mut admin, "ERROR");
    assert_eq!(
        w.read(),
        Reply::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())
    );
    c.rejoin(0);
    assert_eq!(k.read(), Reply::Int(2));
    assert_eq!(k.read(), Reply::Bulk(b("w")));
}

/// Debian's redis-server with DEBUG allowed.
fn redis_with_debug() -> crate::support::Proc {
    crate::support::start("redis-server", |port, dir| {
        let mut c = std::process::Command::new("redis-server");
        c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
            ])
            .arg("--dir")
            .arg(dir);
        c
    })
}

#[test]
fn debug_is_refused_unless_enabled_as_in_redis() {
    let r = redis();
    let s = concord(&[]);
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        assert_eq!(
            c.cmd(&["DEBUG", "SLEEP", "0"]),
            Reply::Error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".into())
        );
        assert!(matches!(
            c.cmd(&["CONFIG", "SET", "enable-debug-command", "yes"]),
            Reply::Error(_)
        ));
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "enable-debug-command"]),
            Reply::Array(vec![
                Reply::Bulk(b("enable-debug-command")),
                Reply::Bulk(b("no"))
            ])
        );
    }
    let local = concord(&["--enable-debug-command", "local"]);
    let mut c = Conn::open(local.port);
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0"]), Reply::Status("OK".into()));
}

#[test]
fn debug_subcommands_match_redis() {
    let r = redis_with_debug();
    let s = concord(&["--enable-debug-command", "yes"]);
    let kinds = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false", "nope",
    ];
    let mut seen = Vec::new();
    for resp3 in [false, true] {
        for port in [r.port, s.port] {
            let mut c = Conn::open(port);
            if resp3 {
                c.cmd(&["HELLO", "3"]);
            }
            let mut log = Vec::new();
            for k in kinds {
                log.push(c.cmd(&["DEBUG", "PROTOCOL", k]));
                if (k == "push" || k == "attrib") && resp3 {
                    // The push (or attribute) comes first, then the real reply.
                    log.push(c.read());
                }
            }
            log.push(c.cmd(&["DEBUG", "OBJECT", "nokey"]));
            log.push(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]));
            log.push(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]));
            log.push(c.cmd(&["DEBUG", "CHANGE-REPL-ID"]));
            log.push(c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1"]));
            log.push(c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1kb"]));
            log.push(c.cmd(&["DEBUG", "SLEEP", "0"]));
            log.push(c.cmd(&["DEBUG", "ERROR", "LOADING fake\nmessage"]));
            log.push(c.cmd(&["DEBUG", "LOG", "from a test"]));
            let start = std::time::Instant::now();
            log.push(c.cmd(&["DEBUG", "SLEEP", "0.05"]));
            assert!(start.elapsed() >= std::time::Duration::from_millis(50));
            c.cmd(&["SET", "k", "hello"]);
            let Reply::Status(obj) = c.cmd(&["DEBUG", "OBJECT", "k"]) else {
                panic!()
            };
            assert!(obj.contains(" encoding:embstr "), "{obj}");
            seen.push(log);
        }
    }
    assert_eq!(seen[0], seen[1], "RESP2");
    assert_eq!(seen[2], seen[3], "RESP3");
}

#[test]
fn memory_commands_answer_as_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut seen = Vec::new();
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        c.cmd(&["SET", "k", "v"]);
        let mut log = vec![
            c.cmd(&["MEMORY", "USAGE", "nokey"]),
            c.cmd(&["MEMORY", "USAGE", "k", "SAMPLES", "-1"]),
            c.cmd(&["MEMORY", "USAGE", "k", "SAMPLES", "x"]),
            c.cmd(&["MEMORY", "USAGE", "k", "FOO"]),
            c.cmd(&["MEMORY", "USAGE", "k", "SAMPLES"]),
            c.cmd(&["MEMORY", "PURGE"]),
            c.cmd(&["MEMORY", "NOPE"]),
        ];
        let Reply::Int(small) = c.cmd(&["MEMORY", "USAGE", "k", "SAMPLES", "0"]) else {
            panic!()
        };
        let mut args = vec![b("SADD"), b("big")];
        args.extend((0..1000).map(|i| format!("member-{i:06}").into_bytes()));
        c.call(&args);
        let Reply::Int(big) = c.cmd(&["MEMORY", "USAGE", "big"]) else {
            panic!()
        };
        assert!(big > small * 100, "{big} vs {small}");
        let Reply::Array(stats) = c.cmd(&["MEMORY", "STATS"]) else {
            panic!()
        };
        let names: Vec<Reply> = stats.iter().step_by(2).cloned().collect();
        log.push(Reply::Array(names));
        let mut help = c.cmd(&["MEMORY", "HELP"]);
        if let Reply::Array(lines) = &mut help {
            lines.pop();
        }
        log.push(help);
        assert!(!text(c.cmd(&["MEMORY", "DOCTOR"])).is_empty());
        seen.push(log);
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn lolwut_ends_with_the_version_line() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    for args in [
        vec!["LOLWUT"],
        vec!["LOLWUT", "VERSION", "5", "1", "1", "1"],
        vec!["LOLWUT", "VERSION", "6", "100000", "100000", "100000"],
        vec!["LOLWUT", "5", "6", "7", "8"],
    ] {
        let t = text(c.cmd(&args));
        assert!(t.ends_with(" Redis ver. 7.2.0\n"), "{args:?}: {t}");
        assert!(t.len() < 1_000_000);
    }
    assert_eq!(
        c.cmd(&["LOLWUT", "VERSION", "x"]),
        Reply::Error("ERR value is not an integer or out of range".into())
    );
}

/// An INFO memory field as a number.
fn memory_field(c: &mut Conn, name: &str) -> f64 {
    let info = text(c.cmd(&["INFO", "memory"]));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn memory_figures_are_jemalloc_s_as_in_redis() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    let info = text(c.cmd(&["INFO", "memory"]));
    assert!(info.contains("mem_allocator:jemalloc-5."), "{info}");
    let before = memory_field(&mut c, "used_memory");
    // 20,000 values of 100 bytes: jemalloc's 112-byte class for each value alone.
    for chunk in 0..20 {
        let mut args = vec![b("MSET")];
        for i in 0..1000 {
            args.push(format!("key:{chunk}:{i}").into_bytes());
            args.push(vec![b'v'; 100]);
        }
        c.call(&args);
    }
    let grown = memory_field(&mut c, "used_memory") - before;
    assert!(grown > 20_000.0 * 112.0, "used_memory grew {grown}");
    // What the counting allocator reports is what jemalloc holds (other threads' last
    // 64 KiB aside), and jemalloc's pages hold at least that.
    let (used, allocated, active, resident) = (
        memory_field(&mut c, "used_memory"),
        memory_field(&mut c, "allocator_allocated"),
        memory_field(&mut c, "allocator_active"),
        memory_field(&mut c, "allocator_resident"),
    );
    assert!(
        (used - allocated).abs() < allocated * 0.1,
        "{used} vs {allocated}"
    );
    assert!(
        active >= allocated && resident >= active,
        "{allocated} {active} {resident}"
    );
    assert!(memory_field(&mut c, "mem_fragmentation_ratio") > 0.5);
    let report = text(c.cmd(&["MEMORY", "MALLOC-STATS"]));
    assert!(
        report.contains("jemalloc"),
        "{}",
        &report[..report.len().min(300)]
    );
    assert_eq!(c.cmd(&["MEMORY", "PURGE"]), Reply::Status("OK".into()));
}
