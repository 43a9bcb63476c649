//! Connection behaviour: pipelining, transactions, pub/sub, auth, protocol errors.

use crate::support::{Conn, Reply, b, concord, info_field};

#[test]
fn pipelined_requests_are_all_answered() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    let mut wire = Vec::new();
    for i in 0..1000 {
        wire.extend(Conn::encode(&[b("INCR"), b("n")]));
        if i % 100 == 0 {
            // Inline commands mix with multibulk ones.
            wire.extend_from_slice(b"PING\r\n");
        }
    }
    c.send_raw(&wire);
    let mut last = 0;
    for i in 0..1000 {
        match c.read() {
            Reply::Int(n) => last = n,
            other => panic!("unexpected {other}"),
        }
        if i % 100 == 0 {
            assert_eq!(c.read(), Reply::Status("PONG".into()));
        }
    }
    assert_eq!(last, 1000);
}

#[test]
fn protocol_errors_close_the_connection_with_redis_s_error() {
    let (r, s) = (crate::support::redis(), concord(&[]));
    // Everything the server sends until it closes the connection (a trailing QUIT closes
    // the ones without an error).
    let exchange = |port: u16, input: &[u8]| -> Vec<u8> {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        c.write_all(input).unwrap();
        let _ = c.write_all(b"*1\r\n$4\r\nQUIT\r\n");
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        got
    };
    for input in [
        &b"*1\r\n$-3\r\n"[..],
        b"*abc\r\n",
        b"*1\r\n:1\r\n",
        b"*2\r\nfoo\r\n",
        b"*2\r\n$x\r\n",
        b"*3000000000\r\n",
        b"*1\r\n$600000000\r\n",
        b"set a \"b\r\n",
        b"*-1\r\nPING\r\n",
        b"*0\r\nPING\r\n",
        b"*1\r\n$\r\n",
        b"*\r\n",
        b"*1\r\n$4\r\nPING\r\n*2\r\n:1\r\n",
    ] {
        assert_eq!(
            String::from_utf8_lossy(&exchange(s.port, input)),
            String::from_utf8_lossy(&exchange(r.port, input)),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    // The server is still fine.
    let mut c = Conn::open(s.port);
    assert_eq!(c.cmd(&["PING"]), Reply::Status("PONG".into()));
}

#[test]
fn garbage_never_kills_the_server() {
    let s = concord(&[]);
    let mut r = crate::support::Rng::new(crate::support::seed());
    for _ in 0..200 {
        let mut c = Conn::open(s.port);
        let n = r.below(300);
        let junk: Vec<u8> = (0..n)
            .map(|_| r.pick(b"*$\r\n0123456789-abc \"'\\x"))
            .collect();
        c.send_raw(&junk);
        c.send_raw(b"\r\n*1\r\n$4\r\nPING\r\n");
        drop(c);
    }
    let mut c = Conn::open(s.port);
    assert_eq!(c.cmd(&["PING"]), Reply::Status("PONG".into()));
}

#[test]
fn multi_exec_and_watch() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    assert_eq!(c.cmd(&["MULTI"]), Reply::Status("OK".into()));
    assert_eq!(c.cmd(&["SET", "a", "1"]), Reply::Status("QUEUED".into()));
    assert_eq!(c.cmd(&["INCR", "a"]), Reply::Status("QUEUED".into()));
    assert_eq!(
        c.cmd(&["EXEC"]),
        Reply::Array(vec![Reply::Status("OK".into()), Reply::Int(2)])
    );
    // A queued error aborts the transaction.
    c.cmd(&["MULTI"]);
    assert!(matches!(c.cmd(&["GET"]), Reply::Error(_)));
    assert_eq!(
        c.cmd(&["EXEC"]),
        Reply::Error("EXECABORT Transaction discarded because of previous errors.".into())
    );
    // WATCH: a write from another client makes EXEC fail.
    let mut other = Conn::open(s.port);
    c.cmd(&["WATCH", "a"]);
    other.cmd(&["SET", "a", "changed"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "mine"]);
    assert_eq!(c.cmd(&["EXEC"]), Reply::Nil);
    assert_eq!(c.cmd(&["GET", "a"]), Reply::Bulk(b("changed")));
    // Without peers nothing can read a backlog: none is kept.
    assert_eq!(crdt_info(&mut c, "crdt_backlog_groups"), 0);
    assert_eq!(crdt_info(&mut c, "crdt_backlog_budget"), 0);
}

fn crdt_info(c: &mut Conn, field: &str) -> i64 {
    let Reply::Bulk(text) = c.cmd(&["INFO", "crdt"]) else {
        panic!("INFO should be a bulk string");
    };
    let text = String::from_utf8(text).expect("utf8");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO crdt"))
}

#[test]
fn pubsub_delivers_to_channels_and_patterns() {
    let s = concord(&[]);
    let mut sub = Conn::open(s.port);
    let r = sub.cmd(&["SUBSCRIBE", "news"]);
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::Bulk(b("subscribe")),
            Reply::Bulk(b("news")),
            Reply::Int(1)
        ])
    );
    let r = sub.cmd(&["PSUBSCRIBE", "n*"]);
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::Bulk(b("psubscribe")),
            Reply::Bulk(b("n*")),
            Reply::Int(2)
        ])
    );
    assert!(matches!(sub.cmd(&["GET", "x"]), Reply::Error(e) if e.contains("only (P|S)SUBSCRIBE")));
    let mut publ = Conn::open(s.port);
    assert_eq!(publ.cmd(&["PUBLISH", "news", "hello"]), Reply::Int(2));
    assert_eq!(
        sub.read(),
        Reply::Array(vec![
            Reply::Bulk(b("message")),
            Reply::Bulk(b("news")),
            Reply::Bulk(b("hello"))
        ])
    );
    assert_eq!(
        sub.read(),
        Reply::Array(vec![
            Reply::Bulk(b("pmessage")),
            Reply::Bulk(b("n*")),
            Reply::Bulk(b("news")),
            Reply::Bulk(b("hello"))
        ])
    );
    assert_eq!(
        publ.cmd(&["PUBSUB", "NUMSUB", "news"]),
        Reply::Array(vec![Reply::Bulk(b("news")), Reply::Int(1)])
    );
    assert_eq!(publ.cmd(&["PUBSUB", "NUMPAT"]), Reply::Int(1));
    // RESP3 subscribers get push messages.
    let mut s3 = Conn::open(s.port);
    assert!(matches!(s3.cmd(&["HELLO", "3"]), Reply::Other(b'%', _, _)));
    assert!(matches!(
        s3.cmd(&["SUBSCRIBE", "c3"]),
        Reply::Other(b'>', _, _)
    ));
    publ.cmd(&["PUBLISH", "c3", "x"]);
    assert_eq!(
        s3.read(),
        Reply::Other(
            b'>',
            vec![
                Reply::Bulk(b("message")),
                Reply::Bulk(b("c3")),
                Reply::Bulk(b("x"))
            ],
            String::new()
        )
    );
}

/// CLIENT LIST and CLIENT KILL see a subscriber's subscriptions as they change, one
/// channel at a time or many at once.
#[test]
fn client_list_follows_subscriptions() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    let mut sub = Conn::open(s.port);
    let names: Vec<String> = (0..2000).map(|i| format!("ch{i}")).collect();
    for n in &names {
        assert!(matches!(sub.cmd(&["SUBSCRIBE", n]), Reply::Array(_)));
    }
    assert!(matches!(sub.cmd(&["PSUBSCRIBE", "p*"]), Reply::Array(_)));
    let listed = |admin: &mut Conn| match admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]) {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{other}"),
    };
    let line = listed(&mut admin);
    assert!(line.contains(" sub=2000 psub=1 "), "{line}");
    let mut unsub = vec!["UNSUBSCRIBE"];
    unsub.extend(names[..500].iter().map(String::as_str));
    sub.send_raw(&Conn::encode(
        &unsub
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect::<Vec<_>>(),
    ));
    for _ in 0..500 {
        assert!(matches!(sub.read(), Reply::Array(_)));
    }
    let line = listed(&mut admin);
    assert!(line.contains(" sub=1500 psub=1 "), "{line}");
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]),
        Reply::Int(1)
    );
    assert_eq!(listed(&mut admin), "");
}

/// Every command with subcommands answers HELP with the list, as Redis words it.
#[test]
fn help_lists_subcommands() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    for cmd in [
        "CONFIG", "PUBSUB", "FUNCTION", "CLIENT", "ACL", "OBJECT", "COMMAND", "XINFO", "XGROUP",
    ] {
        match c.cmd(&[cmd, "HELP"]) {
            Reply::Array(lines) => {
                assert_eq!(
                    lines.first(),
                    Some(&Reply::Status(format!(
                        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
                    )))
                );
                assert_eq!(
                    lines.last(),
                    Some(&Reply::Status("    Print this help.".into()))
                );
                assert!(lines.len() > 3, "{cmd}");
            }
            other => panic!("{cmd} HELP: {other}"),
        }
    }
}

#[test]
fn requirepass_guards_commands() {
    let s = concord(&["--requirepass", "sekret"]);
    let mut c = Conn::open(s.port);
    assert_eq!(
        c.cmd(&["GET", "a"]),
        Reply::Error("NOAUTH Authentication required.".into())
    );
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]),
        Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
    );
    assert_eq!(c.cmd(&["AUTH", "sekret"]), Reply::Status("OK".into()));
    assert_eq!(c.cmd(&["GET", "a"]), Reply::Nil);
    let mut h = Conn::open(s.port);
    assert!(matches!(
        h.cmd(&["HELLO", "3", "AUTH", "default", "sekret"]),
        Reply::Other(b'%', _, _)
    ));
    assert_eq!(h.cmd(&["GET", "a"]), Reply::Nil);
    // Once authenticated, the pre-auth limits (10 arguments, 16 KB bulks) no longer apply,
    // also to a request that follows AUTH in the same packet.
    let mset = [
        "MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6",
    ];
    assert_eq!(c.cmd(&mset), Reply::Status("OK".into()));
    let big = "x".repeat(20_000);
    assert_eq!(c.cmd(&["SET", "big", &big]), Reply::Status("OK".into()));
    let mut p = Conn::open(s.port);
    let mut wire = Conn::encode(&[b"AUTH".to_vec(), b"sekret".to_vec()]);
    let args: Vec<Vec<u8>> = mset.iter().map(|a| a.as_bytes().to_vec()).collect();
    wire.extend(Conn::encode(&args));
    p.send_raw(&wire);
    assert_eq!(p.read(), Reply::Status("OK".into()));
    assert_eq!(p.read(), Reply::Status("OK".into()));
    assert_eq!(p.cmd(&["STRLEN", "big"]), Reply::Int(20_000));
}

#[test]
fn resp3_replies() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    c.cmd(&["HELLO", "3"]);
    c.cmd(&["HSET", "h", "f", "v"]);
    assert_eq!(
        c.cmd(&["HGETALL", "h"]),
        Reply::Other(
            b'%',
            vec![Reply::Bulk(b("f")), Reply::Bulk(b("v"))],
            String::new()
        )
    );
    assert_eq!(c.cmd(&["GET", "missing"]), Reply::Nil);
    c.cmd(&["SADD", "s", "m"]);
    assert_eq!(
        c.cmd(&["SMEMBERS", "s"]),
        Reply::Other(b'~', vec![Reply::Bulk(b("m"))], String::new())
    );
}

#[test]
fn keys_expire_actively_and_lazily() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    for i in 0..50 {
        c.cmd(&["SET", &format!("e{i}"), "v", "PX", "50"]);
    }
    c.cmd(&["SET", "keep", "v"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let Reply::Int(n) = c.cmd(&["DBSIZE"]) else {
            panic!("DBSIZE")
        };
        if n == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "keys did not expire");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Active expiry removed them from memory too, not only from view.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let Reply::Bulk(info) = c.cmd(&["INFO", "stats"]) else {
            panic!("INFO")
        };
        let text = String::from_utf8_lossy(&info).into_owned();
        if text.contains("expired_keys:50") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "active expiry did not run: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The number of clients blocked on the instance, from INFO.
pub(crate) fn blocked_clients(c: &mut Conn) -> usize {
    let Reply::Bulk(info) = c.cmd(&["INFO", "clients"]) else {
        panic!("INFO is a bulk string")
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients field")
}

/// Waits until `n` clients are blocked.
pub(crate) fn wait_blocked(c: &mut Conn, n: usize) {
    crate::support::wait_for(10, &format!("{n} blocked clients"), || {
        blocked_clients(c) == n
    });
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(b(s))
}

#[test]
fn blocking_pops_wait_for_a_push_first_come_first_served() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    let mut w1 = Conn::open(s.port);
    let mut w2 = Conn::open(s.port);
    w1.send_raw(&Conn::encode(&[b("BLPOP"), b("q"), b("other"), b("0")]));
    wait_blocked(&mut admin, 1);
    w2.send_raw(&Conn::encode(&[b("BRPOP"), b("q"), b("0")]));
    // A command pipelined behind a blocking one waits for it.
    w2.send_raw(&Conn::encode(&[b("PING")]));
    wait_blocked(&mut admin, 2);
    assert_eq!(admin.cmd(&["RPUSH", "q", "a", "b", "c"]), Reply::Int(3));
    assert_eq!(w1.read(), Reply::Array(vec![bulk("q"), bulk("a")]));
    assert_eq!(w2.read(), Reply::Array(vec![bulk("q"), bulk("c")]));
    assert_eq!(w2.read(), Reply::Status("PONG".into()));
    assert_eq!(
        admin.cmd(&["LRANGE", "q", "0", "-1"]),
        Reply::Array(vec![bulk("b")])
    );
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn blocking_commands_time_out_and_move_between_lists() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    let mut c = Conn::open(s.port);
    let start = std::time::Instant::now();
    assert_eq!(c.cmd(&["BLPOP", "none", "0.2"]), Reply::Nil);
    assert!(start.elapsed() >= std::time::Duration::from_millis(190));
    assert_eq!(
        c.cmd(&["BLMOVE", "none", "x", "LEFT", "RIGHT", "0.05"]),
        Reply::Nil
    );
    assert_eq!(c.cmd(&["BLMPOP", "0.05", "1", "none", "LEFT"]), Reply::Nil);
    assert_eq!(
        c.cmd(&["BLPOP", "none", "-1"]),
        Reply::Error("ERR timeout is negative".into())
    );
    // A chain: a push to a wakes BLMOVE a->b, whose push wakes BLPOP b.
    let mut mover = Conn::open(s.port);
    mover.send_raw(&Conn::encode(&[
        b("BLMOVE"),
        b("a"),
        b("b"),
        b("LEFT"),
        b("RIGHT"),
        b("0"),
    ]));
    wait_blocked(&mut admin, 1);
    c.send_raw(&Conn::encode(&[b("BLPOP"), b("b"), b("0")]));
    wait_blocked(&mut admin, 2);
    admin.cmd(&["LPUSH", "a", "v"]);
    assert_eq!(mover.read(), bulk("v"));
    assert_eq!(c.read(), Reply::Array(vec![bulk("b"), bulk("v")]));
    // Inside a transaction a blocking pop answers at once.
    c.cmd(&["MULTI"]);
    c.cmd(&["BLPOP", "none", "0"]);
    assert_eq!(c.cmd(&["EXEC"]), Reply::Array(vec![Reply::Nil]));
    // A client that disconnects while blocked leaves nothing behind.
    let mut gone = Conn::open(s.port);
    gone.send_raw(&Conn::encode(&[b("BLPOP"), b("z"), b("0")]));
    wait_blocked(&mut admin, 1);
    drop(gone);
    wait_blocked(&mut admin, 0);
    admin.cmd(&["RPUSH", "z", "kept"]);
    assert_eq!(admin.cmd(&["LLEN", "z"]), Reply::Int(1));
    // CLIENT UNBLOCK ends the wait with a timeout or an error.
    let mut u = Conn::open(s.port);
    let Reply::Int(id) = u.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    u.send_raw(&Conn::encode(&[b("BRPOP"), b("none"), b("0")]));
    wait_blocked(&mut admin, 1);
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]),
        Reply::Int(1)
    );
    assert!(matches!(u.read(), Reply::Error(e) if e.starts_with("UNBLOCKED")));
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id.to_string()]),
        Reply::Int(0)
    );
}

#[test]
fn stream_ids_in_strict_mode_carry_the_instance_and_xread_blocks_for_new_entries() {
    let s = concord(&["--replica-id", "2"]);
    let mut c = Conn::open(s.port);
    assert_eq!(c.cmd(&["XADD", "s", "100", "f", "v"]), bulk("100-2"));
    assert_eq!(c.cmd(&["XADD", "s", "100-*", "f", "v"]), bulk("100-65538"));
    assert!(
        matches!(c.cmd(&["XADD", "s", "200-5", "f", "v"]), Reply::Error(e) if e.contains("strict"))
    );
    assert!(
        matches!(c.cmd(&["XADD", "s", "99", "f", "v"]), Reply::Error(e) if e.contains("smaller"))
    );
    let Reply::Bulk(auto) = c.cmd(&["XADD", "s", "*", "f", "v"]) else {
        panic!()
    };
    let auto = String::from_utf8(auto).unwrap();
    let seq: u64 = auto.split('-').nth(1).unwrap().parse().unwrap();
    assert_eq!(seq & 0xffff, 2, "{auto}");
    assert_eq!(c.cmd(&["XLEN", "s"]), Reply::Int(3));
    // XREAD BLOCK with $ waits for an entry added after the call.
    let mut admin = Conn::open(s.port);
    let mut r = Conn::open(s.port);
    r.send_raw(&Conn::encode(&[
        b("XREAD"),
        b("BLOCK"),
        b("0"),
        b("STREAMS"),
        b("s"),
        b("$"),
    ]));
    wait_blocked(&mut admin, 1);
    let Reply::Bulk(id) = admin.cmd(&["XADD", "s", "*", "k", "new"]) else {
        panic!()
    };
    assert_eq!(
        r.read(),
        Reply::Array(vec![Reply::Array(vec![
            bulk("s"),
            Reply::Array(vec![Reply::Array(vec![
                Reply::Bulk(id),
                Reply::Array(vec![bulk("k"), bulk("new")])
            ])])
        ])])
    );
    // A timeout answers with a null array.
    assert_eq!(
        r.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]),
        Reply::Nil
    );
}

#[test]
fn a_blocked_pop_keeps_waiting_when_its_key_takes_another_type() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    let mut w = Conn::open(s.port);
    w.send_raw(&Conn::encode(&[b("BLPOP"), b("k"), b("0")]));
    wait_blocked(&mut admin, 1);
    admin.cmd(&["SET", "k", "string"]);
    admin.cmd(&["PING"]);
    assert_eq!(blocked_clients(&mut admin), 1);
    admin.cmd(&["DEL", "k"]);
    admin.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(w.read(), Reply::Array(vec![bulk("k"), bulk("v")]));
}

#[test]
fn a_blocked_xreadgroup_is_answered_when_its_key_is_deleted_or_takes_another_type() {
    // As Redis 7.2: the group is gone with the key, so the command runs again and answers
    // what it finds (7.0 answered a fixed UNBLOCKED error instead).
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    let mut w = Conn::open(s.port);
    let read = || {
        Conn::encode(&[
            b("XREADGROUP"),
            b("GROUP"),
            b("g"),
            b("c"),
            b("BLOCK"),
            b("0"),
            b("STREAMS"),
            b("s"),
            b(">"),
        ])
    };
    for (change, answer) in [
        (
            &["DEL", "s"][..],
            "NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option",
        ),
        (
            &["SET", "s", "x"][..],
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
    ] {
        admin.cmd(&["DEL", "s"]);
        admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        w.send_raw(&read());
        wait_blocked(&mut admin, 1);
        admin.cmd(change);
        assert_eq!(w.read(), Reply::Error(answer.into()), "{change:?}");
        assert_eq!(blocked_clients(&mut admin), 0);
    }
}

#[test]
fn setbit_counts_a_change_only_when_something_changed_as_redis_does() {
    let (r, s) = (crate::support::redis(), concord(&[]));
    let changes = |c: &mut Conn| -> i64 {
        let Reply::Bulk(info) = c.cmd(&["INFO", "persistence"]) else {
            panic!("INFO answers a bulk string")
        };
        let info = String::from_utf8(info).unwrap();
        let line = info
            .lines()
            .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
            .expect("rdb_changes_since_last_save");
        line.trim().parse().unwrap()
    };
    let mut deltas = Vec::new();
    for port in [r.port, s.port] {
        let mut c = Conn::open(port);
        let mut seen = Vec::new();
        for step in [
            &["SETBIT", "bk", "3", "0"][..],
            &["SETBIT", "bk", "3", "0"],
            &["SETBIT", "bk", "3", "1"],
            &["SETBIT", "bk", "3", "1"],
            &["SETBIT", "bk", "100", "0"],
            &["BITFIELD", "bk", "SET", "u8", "0", "16"],
            &["BITFIELD", "bk", "SET", "u8", "0", "16"],
        ] {
            let before = changes(&mut c);
            c.cmd(step);
            seen.push(changes(&mut c) - before);
        }
        deltas.push(seen);
    }
    assert_eq!(deltas[0], deltas[1], "Redis, then Concord");
}

#[test]
fn info_reports_measured_figures() {
    let s = concord(&[]);
    let mut c = Conn::open(s.port);
    for i in 0..100 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmd(&["SET", "gone", "v", "PX", "1"]);
    // Commands keep coming until the sampled rate shows them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut batch = Vec::new();
        for _ in 0..200 {
            batch.extend(Conn::encode(&[b("PING")]));
        }
        c.send_raw(&batch);
        for _ in 0..200 {
            c.read();
        }
        if info_field(&mut c, "stats", "instantaneous_ops_per_sec") != "0" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the rate stayed 0");
    }
    let used: u64 = info_field(&mut c, "memory", "used_memory").parse().unwrap();
    let rss: u64 = info_field(&mut c, "memory", "used_memory_rss")
        .parse()
        .unwrap();
    assert!(rss > 0 && rss != used, "rss {rss}, used {used}");
    // CPU time is counted in clock ticks: a fresh instance may not have used one yet.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let cpu: f64 = info_field(&mut c, "cpu", "used_cpu_user").parse().unwrap();
        if cpu > 0.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "used_cpu_user stayed 0"
        );
        for _ in 0..1_000 {
            c.cmd(&["PING"]);
        }
    }
    // The keyspace line agrees with DBSIZE, without walking the keys.
    let Reply::Int(n) = c.cmd(&["DBSIZE"]) else {
        panic!("DBSIZE answers an integer")
    };
    let line = info_field(&mut c, "keyspace", "db0");
    assert!(line.starts_with(&format!("keys={n},")), "{line} vs {n}");
    c.cmd(&["DEL", "k0", "k1"]);
    assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(n - 2));
}
