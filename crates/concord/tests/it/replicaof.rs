//! Replica Of against Debian's redis-server: a dataset of every type and encoding copied
//! into a 3-instance database and compared on every instance, writes to the source while
//! it follows, a dropped link that continues, a restarted source that resyncs, a password,
//! and primaries that send damaged or cut-short snapshots.

use crate::cluster::Cluster;
use crate::support::{Conn, Proc, Reply, bulks, concord, info_field, start, wait_for};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

/// A redis-server with `extra` settings.
fn redis_with(extra: &[&str]) -> Proc {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    start("redis-source", move |port, dir| {
        redis_command(port, dir, &extra)
    })
}

fn redis_command(port: u16, dir: &std::path::Path, extra: &[String]) -> Command {
    let mut c = Command::new("redis-server");
    c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(dir)
        .args(extra);
    c
}

fn run(c: &mut Conn, args: Vec<String>) -> Reply {
    let a: Vec<Vec<u8>> = args.into_iter().map(String::into_bytes).collect();
    c.call(&a)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Every type and the encodings Redis 7.0 picks for it: small and large collections,
/// integers, compressible and binary strings, a big list element, a HyperLogLog,
/// expiries, and a key in database 1 (Concord has one database: it is skipped).
pub(crate) fn fill(c: &mut Conn) {
    let many = |n: usize, tag: &str| (0..n).map(|i| format!("{tag}{i}")).collect::<Vec<_>>();
    for cmd in [
        "SET s:plain hello",
        "SET s:int 12345",
        "SET s:neg -7",
        "SET s:ttl v PX 100000000",
        "PFADD hll a b c d e f g",
    ] {
        assert!(!matches!(run(c, words(cmd)), Reply::Error(_)), "{cmd}");
    }
    run(c, vec!["SET".into(), "s:big".into(), "ab".repeat(5000)]);
    c.call(&[b"SET".to_vec(), b"s:bin".to_vec(), vec![0, 255, 13, 10, 7]]);
    for (tag, n) in [("small", 5), ("large", 3000)] {
        let mut l = vec!["RPUSH".to_string(), format!("l:{tag}")];
        l.extend(many(n, "e"));
        run(c, l);
        let mut s = vec!["SADD".to_string(), format!("s:{tag}")];
        s.extend(many(n, "m"));
        run(c, s);
        let mut i = vec!["SADD".to_string(), format!("si:{tag}")];
        i.extend((0..n).map(|x| (x as i64 * 7919 - 1_000_000).to_string()));
        run(c, i);
        let mut h = vec!["HSET".to_string(), format!("h:{tag}")];
        for f in many(n, "f") {
            h.push(f.clone());
            h.push(format!("{f}-value"));
        }
        run(c, h);
        let mut z = vec!["ZADD".to_string(), format!("z:{tag}")];
        for (i, m) in many(n, "m").into_iter().enumerate() {
            z.push(format!("{}", i as f64 * 1.5 - 7.25));
            z.push(m);
        }
        run(c, z);
    }
    run(c, words("ZADD z:small +inf top -inf bottom"));
    // Streams: one plain (with a deleted entry), one with groups, consumers and pending
    // entries, one emptied.
    for i in 0..300 {
        run(c, words(&format!("XADD st:plain {}-1 f {i} g x", i + 1)));
        run(c, words(&format!("XADD st:groups {}-1 n {i}", i + 1)));
    }
    run(c, words("XDEL st:plain 5-1"));
    run(c, words("XGROUP CREATE st:groups g1 0"));
    run(c, words("XGROUP CREATE st:groups g2 $"));
    run(
        c,
        words("XREADGROUP GROUP g1 alice COUNT 3 STREAMS st:groups >"),
    );
    run(
        c,
        words("XREADGROUP GROUP g1 bob COUNT 2 STREAMS st:groups >"),
    );
    run(c, words("XACK st:groups g1 1-1"));
    run(c, words("XGROUP CREATECONSUMER st:groups g2 carol"));
    run(c, words("XADD st:empty 1-1 a b"));
    run(c, words("XDEL st:empty 1-1"));
    run(c, words("EXPIRE l:large 100000"));
    run(
        c,
        vec![
            "RPUSH".into(),
            "l:plain".into(),
            "x".repeat(70_000),
            "y".into(),
        ],
    );
    run(
        c,
        vec!["HSET".into(), "h:long".into(), "f".into(), "v".repeat(100)],
    );
    run(c, words("SELECT 1"));
    run(c, words("SET other-db 1"));
    run(c, words("SELECT 0"));
    let lib = "#!lua name=copied\nredis.register_function('twice', function(keys, args) return args[1] * 2 end)";
    assert_eq!(
        run(c, vec!["FUNCTION".into(), "LOAD".into(), lib.into()]),
        Reply::Bulk(b"copied".to_vec())
    );
}

/// Writes while the copy follows: each kind of change, a transaction and a script.
fn write_more(c: &mut Conn) {
    for cmd in [
        "SET s:plain changed",
        "INCRBY s:int 5",
        "RPUSH l:small tail",
        "LPOP l:large",
        "SREM s:small m1",
        "HDEL h:large f7",
        "ZINCRBY z:small 10 m2",
        "DEL s:neg",
        "EXPIRE h:small 100000",
        "PERSIST s:ttl",
        "PFADD hll z",
        "SETEX s:new 1000 fresh",
        "MULTI",
        "SET tx:a 1",
        "LPUSH tx:l x y",
        "EXEC",
        "EVAL redis.call('set','lua','x');redis.call('sadd','lua:s','1','2') 0",
        "SELECT 2",
        "SET skipped 1",
        "SELECT 0",
    ] {
        assert!(!matches!(run(c, words(cmd)), Reply::Error(_)), "{cmd}");
    }
}

/// A key as text that compares equal on Redis and Concord: its type, its value (sets and
/// hashes sorted), and whether it expires.
pub(crate) fn canon(c: &mut Conn, key: &[u8]) -> String {
    canon_with(c, key, true)
}

/// [`canon`], with a stream group's consumers and pending entries (`local`) or without
/// them: Concord keeps those on the instance that delivered the entries.
fn canon_with(c: &mut Conn, key: &[u8], local: bool) -> String {
    let k = key.to_vec();
    let cmd = |c: &mut Conn, words: &[&str]| {
        let mut a: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        a.insert(1, k.clone());
        c.call(&a)
    };
    let Reply::Status(t) = cmd(c, &["TYPE"]) else {
        panic!("TYPE")
    };
    let value = match t.as_str() {
        "string" => format!("{}", cmd(c, &["GET"])),
        "list" => format!("{}", cmd(c, &["LRANGE", "0", "-1"])),
        "set" => {
            let mut m = bulks(cmd(c, &["SMEMBERS"]));
            m.sort();
            format!("{m:?}")
        }
        "hash" => {
            let flat = bulks(cmd(c, &["HGETALL"]));
            let m: BTreeMap<_, _> = flat
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            format!("{m:?}")
        }
        "zset" => format!("{}", cmd(c, &["ZRANGE", "0", "-1", "WITHSCORES"])),
        "stream" => {
            // Entries, the stream's ids and counters, and each group with its pending
            // entries and consumers (times of delivery and idleness aside).
            let mut v = format!("{}", cmd(c, &["XRANGE", "-", "+"]));
            // XINFO names its subcommand before the key.
            let xinfo = |c: &mut Conn, sub: &str, extra: &[&str]| {
                let mut a = vec![b"XINFO".to_vec(), sub.as_bytes().to_vec(), k.clone()];
                a.extend(extra.iter().map(|x| x.as_bytes().to_vec()));
                c.call(&a)
            };
            let info = xinfo(c, "STREAM", &[]);
            if let Reply::Array(f) = &info {
                for p in f.chunks(2) {
                    if matches!(&p[0], Reply::Bulk(n) if [&b"length"[..], b"last-generated-id", b"max-deleted-entry-id", b"entries-added", b"groups"].contains(&&n[..]))
                    {
                        v += &format!(" {}={}", p[0], p[1]);
                    }
                }
            }
            let Reply::Array(groups) = xinfo(c, "GROUPS", &[]) else {
                panic!("XINFO GROUPS of {}", String::from_utf8_lossy(&k))
            };
            for g in groups {
                let Reply::Array(gf) = g else {
                    panic!("a group")
                };
                let Reply::Bulk(name) = gf[1].clone() else {
                    panic!("a name")
                };
                let name = String::from_utf8(name).expect("text");
                for p in gf.chunks(2) {
                    let shared = !matches!(&p[0], Reply::Bulk(n) if [&b"consumers"[..], b"pending"].contains(&&n[..]));
                    if local || shared {
                        v += &format!(" {}={}", p[0], p[1]);
                    }
                }
                if !local {
                    continue;
                }
                if let Reply::Array(pend) = cmd(c, &["XPENDING", &name, "-", "+", "100"]) {
                    for p in pend {
                        if let Reply::Array(p) = p {
                            v += &format!(" [{} {} count {}]", p[0], p[1], p[3]);
                        }
                    }
                }
                if let Reply::Array(cons) = xinfo(c, "CONSUMERS", &[&name]) {
                    for cn in cons {
                        if let Reply::Array(cf) = cn {
                            v += &format!(" consumer {} pending {}", cf[1], cf[3]);
                        }
                    }
                }
            }
            v
        }
        other => panic!("type {other}"),
    };
    let expires = match cmd(c, &["PTTL"]) {
        Reply::Int(n) => n > 0,
        r => panic!("PTTL {r}"),
    };
    format!("{t} {value} expires={expires}")
}

/// Waits until `follower` applied everything `source` sent.
fn caught_up(source: &mut Conn, follower: &mut Conn) {
    wait_for(30, "the follower to catch up", || {
        let want = info_field(source, "replication", "master_repl_offset");
        info_field(follower, "replication", "master_link_status") == "up"
            && info_field(follower, "replication", "slave_repl_offset") == want
    });
}

/// Every key of the source's database 0 is the same on the instance, and nothing else is
/// (stream groups' consumers and pending entries only on the instance that follows).
fn same_data(source: &mut Conn, inst: &mut Conn, follower: bool) {
    let mut keys = bulks(source.cmd(&["KEYS", "*"]));
    keys.sort();
    let mut theirs = bulks(inst.cmd(&["KEYS", "*"]));
    theirs.sort();
    assert_eq!(
        keys.iter()
            .map(|k| String::from_utf8_lossy(k))
            .collect::<Vec<_>>(),
        theirs
            .iter()
            .map(|k| String::from_utf8_lossy(k))
            .collect::<Vec<_>>()
    );
    for k in &keys {
        assert_eq!(
            canon_with(source, k, follower),
            canon_with(inst, k, follower),
            "{}",
            String::from_utf8_lossy(k)
        );
    }
}

#[test]
fn a_redis_database_is_copied_into_every_instance_and_its_writes_follow() {
    // A transfer through the primary's disk.
    let r = redis_with(&["--repl-diskless-sync", "no"]);
    let mut src = Conn::open(r.port);
    fill(&mut src);
    let c = Cluster::start(3, &[]);
    let mut first = c.conn(0);
    // Something of the database's own, which the copy replaces everywhere.
    assert_eq!(
        first.cmd(&["SET", "before", "1"]),
        Reply::Status("OK".into())
    );
    c.converged(30);
    let port = r.port.to_string();
    assert_eq!(
        first.cmd(&["REPLICAOF", "127.0.0.1", &port]),
        Reply::Status("OK".into())
    );
    assert_eq!(
        first.cmd(&["REPLICAOF", "127.0.0.1", &port]),
        Reply::Status("OK Already connected to specified master".into())
    );
    caught_up(&mut src, &mut first);
    write_more(&mut src);
    caught_up(&mut src, &mut first);
    assert_eq!(info_field(&mut first, "replication", "role"), "slave");
    // The source's function library came with the snapshot.
    assert_eq!(first.cmd(&["FCALL", "twice", "0", "21"]), Reply::Int(42));
    assert_eq!(
        info_field(&mut first, "replication", "master_full_syncs"),
        "1"
    );
    // The keys of databases 1 and 2: one in the snapshot, one in the stream.
    assert_eq!(
        info_field(&mut first, "replication", "master_skipped_other_db"),
        "2"
    );
    assert_eq!(
        info_field(&mut first, "replication", "master_refused_writes"),
        "0"
    );
    assert_eq!(info_field(&mut src, "replication", "connected_slaves"), "1");
    // The lag in bytes, from the primary's own offset (asked every second).
    wait_for(20, "the lag to be known and nil", || {
        let info = match first.cmd(&["INFO", "replication"]) {
            Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            r => panic!("INFO: {r}"),
        };
        info.contains("master_lag_bytes:0\r\n")
    });
    match first.cmd(&["ROLE"]) {
        Reply::Array(v) => {
            assert_eq!(v[0], Reply::Bulk(b"slave".to_vec()));
            assert_eq!(v[3], Reply::Bulk(b"connected".to_vec()));
        }
        r => panic!("ROLE: {r}"),
    }
    c.converged(60);
    for i in 0..3 {
        same_data(&mut src, &mut c.conn(i), i == 0);
    }
    // The instance stays writable, and its writes reach its peers.
    assert_eq!(
        first.cmd(&["SET", "local", "1"]),
        Reply::Status("OK".into())
    );
    assert_eq!(
        first.cmd(&["REPLICAOF", "NO", "ONE"]),
        Reply::Status("OK".into())
    );
    assert_eq!(info_field(&mut first, "replication", "role"), "master");
    src.cmd(&["SET", "after-stop", "1"]);
    c.converged(30);
    assert_eq!(c.conn(2).cmd(&["GET", "local"]), Reply::Bulk(b"1".to_vec()));
    assert_eq!(
        c.conn(2).cmd(&["EXISTS", "after-stop", "before"]),
        Reply::Int(0)
    );
}

#[test]
fn a_dropped_link_continues_and_a_restarted_source_is_copied_again() {
    let extra = ["--requirepass", "s3cret", "--repl-diskless-sync", "yes"];
    let mut r = redis_with(&[&extra[..], &["--repl-diskless-sync-delay", "0"]].concat());
    let mut src = Conn::open(r.port);
    assert_eq!(src.cmd(&["AUTH", "s3cret"]), Reply::Status("OK".into()));
    src.cmd(&["SET", "a", "1"]);
    let inst = concord(&[]);
    let mut me = Conn::open(inst.port);
    let port = r.port.to_string();
    // Without the password the primary refuses, and the status says why.
    me.cmd(&["REPLICAOF", "127.0.0.1", &port]);
    wait_for(20, "the refusal", || {
        info_field(&mut me, "replication", "master_last_error").contains("NOAUTH")
            || info_field(&mut me, "replication", "master_last_error").contains("Authentication")
    });
    assert_eq!(
        me.cmd(&["CONFIG", "SET", "masterauth", "s3cret"]),
        Reply::Status("OK".into())
    );
    caught_up(&mut src, &mut me);
    assert_eq!(me.cmd(&["GET", "a"]), Reply::Bulk(b"1".to_vec()));
    // The primary drops the link: the follower continues from its offset.
    src.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    src.cmd(&["SET", "b", "2"]);
    caught_up(&mut src, &mut me);
    assert_eq!(
        info_field(&mut me, "replication", "master_partial_syncs"),
        "1"
    );
    assert_eq!(info_field(&mut me, "replication", "master_full_syncs"), "1");
    assert_eq!(me.cmd(&["GET", "b"]), Reply::Bulk(b"2".to_vec()));
    // The primary restarts empty (no persistence): a new history, copied again.
    let dir = r.dir().expect("a directory").to_path_buf();
    let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    r.crash_and_replace(redis_command(r.port, &dir, &args));
    let mut src = Conn::open(r.port);
    assert_eq!(src.cmd(&["AUTH", "s3cret"]), Reply::Status("OK".into()));
    src.cmd(&["SET", "c", "3"]);
    wait_for(30, "the second full sync", || {
        info_field(&mut me, "replication", "master_full_syncs") == "2"
    });
    caught_up(&mut src, &mut me);
    assert_eq!(me.cmd(&["EXISTS", "a", "b"]), Reply::Int(0));
    assert_eq!(me.cmd(&["GET", "c"]), Reply::Bulk(b"3".to_vec()));
}

/// A primary played by the test: it answers each handshake command with `+OK`, then
/// sends `payload` after `+FULLRESYNC` and closes; it serves `conns` connections.
fn fake_primary(payload: Vec<u8>, conns: usize) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        for _ in 0..conns {
            let Ok((s, _)) = l.accept() else { return };
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .expect("timeout");
            let mut w = s.try_clone().expect("clone");
            let mut r = BufReader::new(s);
            loop {
                // A command: `*N`, then N times `$len` and the argument.
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let n: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
                let mut name = String::new();
                for i in 0..2 * n {
                    let mut arg = String::new();
                    r.read_line(&mut arg).expect("an argument");
                    if i == 1 {
                        name = arg.trim().to_ascii_uppercase();
                    }
                }
                if name == "PSYNC" {
                    break;
                }
                w.write_all(b"+OK\r\n").expect("reply");
            }
            let id = "f".repeat(40);
            let _ = w.write_all(format!("+FULLRESYNC {id} 0\r\n").as_bytes());
            let _ = w.write_all(&payload);
        }
    });
    (port, t)
}

/// A fake primary sends `file` whole (once: a refused snapshot is asked for again only a
/// minute later); the instance refuses it with `why` and its data stays.
fn refused_unchanged(me: &mut Conn, file: &[u8], why: &str) {
    let mut sized = format!("${}\r\n", file.len()).into_bytes();
    sized.extend_from_slice(file);
    let (port, t) = fake_primary(sized, 1);
    me.cmd(&["REPLICAOF", "127.0.0.1", &port.to_string()]);
    t.join().expect("the fake primary");
    wait_for(20, "the refusal", || {
        info_field(me, "replication", "master_last_error").contains(why)
    });
    assert_eq!(me.cmd(&["GET", "mine"]), Reply::Bulk(b"1".to_vec()));
    assert_eq!(me.cmd(&["EXISTS", "k"]), Reply::Int(0));
}

#[test]
fn a_damaged_or_cut_snapshot_changes_nothing_and_is_tried_again() {
    let inst = concord(&[]);
    let mut me = Conn::open(inst.port);
    assert_eq!(me.cmd(&["SET", "mine", "1"]), Reply::Status("OK".into()));
    // A snapshot announced at 1000 bytes that stops after 10.
    // Two connections: the follower tries again after a cut transfer.
    let (port, t) = fake_primary(b"$1000\r\nREDIS0010\xfa".to_vec(), 2);
    me.cmd(&["REPLICAOF", "127.0.0.1", &port.to_string()]);
    t.join().expect("the fake primary");
    let error = info_field(&mut me, "replication", "master_last_error");
    assert!(error.contains("closed"), "{error}");
    assert_eq!(info_field(&mut me, "replication", "master_full_syncs"), "0");
    assert_eq!(
        info_field(&mut me, "replication", "master_link_status"),
        "down"
    );
    // A whole snapshot whose checksum does not match: refused before any flush.
    let mut file = b"REDIS0010\xfe\x00\x00\x01k\x01v\xff".to_vec();
    file.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    refused_unchanged(&mut me, &file, "checksum");
    // A whole snapshot (no checksum) holding a module type after a good key: every key is
    // read before the flush, so it is refused with nothing changed.
    let mut file = b"REDIS0010\x00\x01k\x01v\x07\x01m\xff".to_vec();
    file.extend_from_slice(&[0; 8]);
    refused_unchanged(&mut me, &file, "value type 7");
    assert_eq!(
        me.cmd(&["REPLICAOF", "NO", "ONE"]),
        Reply::Status("OK".into())
    );
    // Bad arguments.
    for (args, want) in [
        (["REPLICAOF", "h", "port"], "ERR Invalid master port"),
        (["REPLICAOF", "h", "70000"], "ERR Invalid master port"),
        (["REPLICAOF", "h", "-1"], "ERR Invalid master port"),
    ] {
        assert_eq!(me.cmd(&args), Reply::Error(want.into()));
    }
}

/// The management plane's form: `concord crdb migrate` flushes every instance, points one
/// at the source, shows progress and then the lag; the REST API reports the copy;
/// `--stop` ends it and the data stays.
#[test]
fn the_cli_migrates_a_redis_database_into_an_active_active_database() {
    use crate::manager::{ADMIN, Cluster as Managed, cli};
    use serde_json::{Value, json};
    let r = redis_with(&["--requirepass", "pw", "--repl-diskless-sync", "no"]);
    let mut src = Conn::open(r.port);
    assert_eq!(src.cmd(&["AUTH", "pw"]), Reply::Status("OK".into()));
    for i in 0..2000 {
        run(&mut src, words(&format!("SET key:{i} {i}")));
    }
    run(&mut src, words("RPUSH list a b c"));
    let cs = [
        Managed::start("east.example.com", 27000),
        Managed::start("west.example.com", 27100),
    ];
    let two: Vec<Value> = cs
        .iter()
        .map(|c| json!({"cluster": c.reference(ADMIN.1)}))
        .collect();
    let (_, task) = cs[0].api.call(
        "POST",
        "/v1/crdbs",
        ADMIN,
        Some(json!({"name": "shop", "instances": two})),
    );
    let guid = task["crdb_guid"].as_str().expect("guid").to_string();
    assert_eq!(
        cs[0].wait_task(task["id"].as_str().unwrap())["status"],
        "finished"
    );
    let port_of = |c: &Managed| -> u16 {
        let (_, b) = c.api.call("GET", "/v1/bdbs", ADMIN, None);
        b[0]["port"].as_u64().expect("a port") as u16
    };
    let (east, west) = (port_of(&cs[0]), port_of(&cs[1]));
    wait_for(30, "the first write", || {
        Conn::open(east).cmd(&["SET", "old", "1"]) == Reply::Status("OK".into())
    });
    let r0 = cs[0].reference(ADMIN.1);
    let target: Vec<String> = [
        "--crdb-guid",
        &guid,
        "--cluster-url",
        r0["url"].as_str().unwrap(),
        "--username",
        ADMIN.0,
        "--password",
        ADMIN.1,
        "--trust-fingerprint",
        r0["fingerprint"].as_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let source = format!("redis://:pw@127.0.0.1:{}", r.port);
    let migrate = |extra: &[&str]| {
        let mut a = vec!["crdb".to_string(), "migrate".into()];
        a.extend(target.iter().cloned());
        a.extend(extra.iter().map(|s| s.to_string()));
        cli(&a)
    };
    // Flushing every instance is confirmed first; without a terminal, with --yes.
    let (ok, _, err) = migrate(&["--source", &source]);
    assert!(!ok && err.contains("--yes"), "{err}");
    // A source that refuses the password: the task fails and nothing was flushed.
    let wrong = format!("redis://:nope@127.0.0.1:{}", r.port);
    let (ok, out, err) = migrate(&["--source", &wrong, "--yes"]);
    assert!(!ok && err.contains("WRONGPASS"), "{out}\n{err}");
    assert_eq!(
        Conn::open(east).cmd(&["GET", "old"]),
        Reply::Bulk(b"1".to_vec())
    );
    let (ok, out, err) = migrate(&["--source", &source, "--yes"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("-> finished"), "{out}");
    assert!(
        out.contains(&format!("Following 127.0.0.1:{}", r.port)),
        "{out}"
    );
    assert!(out.contains("lag"), "{out}");
    // The copy reaches the other cluster's instance; what was there before is gone.
    src.cmd(&["SET", "during", "1"]);
    wait_for(30, "the copy everywhere", || {
        let mut w = Conn::open(west);
        w.cmd(&["DBSIZE"]) == Reply::Int(2002)
            && w.cmd(&["GET", "during"]) == Reply::Bulk(b"1".to_vec())
    });
    assert_eq!(Conn::open(west).cmd(&["EXISTS", "old"]), Reply::Int(0));
    assert_eq!(
        Conn::open(west).cmd(&["LRANGE", "list", "0", "-1"]),
        Reply::Array(vec![
            Reply::Bulk(b"a".to_vec()),
            Reply::Bulk(b"b".to_vec()),
            Reply::Bulk(b"c".to_vec())
        ])
    );
    let (s, status) = cs[0]
        .api
        .call("GET", &format!("/v1/crdbs/{guid}/migrate"), ADMIN, None);
    assert_eq!(s, 200);
    assert_eq!(status["following"], true, "{status}");
    assert_eq!(status["link_status"], "up", "{status}");
    assert_eq!(status["full_syncs"], 1, "{status}");
    let mut st = vec!["crdb".to_string(), "migrate-status".into()];
    st.extend(target.iter().cloned());
    st.extend(["--output".to_string(), "json".into()]);
    let (ok, out, err) = cli(&st);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["source"], format!("127.0.0.1:{}", r.port));
    // The task's record names the source without its password.
    let (_, tasks) = cs[0].api.call("GET", "/v1/crdb_tasks", ADMIN, None);
    let text = tasks.to_string();
    assert!(
        text.contains("migrate_crdb") && !text.contains(":pw@"),
        "{text}"
    );
    let (ok, out, err) = migrate(&["--stop"]);
    assert!(ok, "{out}\n{err}");
    let (_, status) = cs[0]
        .api
        .call("GET", &format!("/v1/crdbs/{guid}/migrate"), ADMIN, None);
    assert_eq!(status, json!({"following": false}));
    assert_eq!(Conn::open(west).cmd(&["DBSIZE"]), Reply::Int(2002));
    // A malformed source is refused before anything changes.
    let (s, e) = cs[0].api.call(
        "PUT",
        &format!("/v1/crdbs/{guid}/migrate"),
        ADMIN,
        Some(json!({"source": "redis://nowhere"})),
    );
    assert_eq!(s, 400, "{e}");
}

/// A source that takes only TLS with client certificates, and a password: the instance
/// follows it with `replicaof-tls`, its CA and its own certificate.
#[test]
fn a_source_behind_tls_and_a_password_is_followed() {
    use crate::tls::{Pki, tls_conn};
    let pki = Pki::new("replicaof");
    let (server, client) = (pki.issue("source", false), pki.issue("follower", false));
    let s = |p: &std::path::Path| p.display().to_string();
    let (ca, cert, key) = (s(&pki.ca()), s(&server.cert), s(&server.key));
    let r = start("redis-tls-source", move |port, dir| {
        let mut c = Command::new("redis-server");
        c.args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args(["--tls-cert-file", &cert, "--tls-key-file", &key])
        .args(["--tls-ca-cert-file", &ca, "--tls-auth-clients", "yes"])
        .args(["--requirepass", "pw", "--repl-diskless-sync", "no"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(dir);
        c
    });
    let (mut src, _) = tls_conn(r.port, &pki.ca(), Some(&client)).expect("TLS to the source");
    assert_eq!(src.cmd(&["AUTH", "pw"]), Reply::Status("OK".into()));
    src.cmd(&["SET", "secret", "kept"]);
    let (ca, cert, key) = (s(&pki.ca()), s(&client.cert), s(&client.key));
    let inst = concord(&[
        "--tls-ca-cert-file",
        &ca,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
    ]);
    let mut me = Conn::open(inst.port);
    for (k, v) in [("replicaof-tls", "yes"), ("masterauth", "pw")] {
        assert_eq!(me.cmd(&["CONFIG", "SET", k, v]), Reply::Status("OK".into()));
    }
    me.cmd(&["REPLICAOF", "127.0.0.1", &r.port.to_string()]);
    caught_up(&mut src, &mut me);
    src.cmd(&["SET", "later", "1"]);
    caught_up(&mut src, &mut me);
    assert_eq!(
        me.cmd(&["MGET", "secret", "later"]),
        Reply::Array(vec![
            Reply::Bulk(b"kept".to_vec()),
            Reply::Bulk(b"1".to_vec())
        ])
    );
}

/// The source killed in the middle of its transfer and started again (empty, with other
/// data): the half-received snapshot changes nothing, and the copy that follows is the
/// restarted source's.
#[test]
fn a_source_killed_mid_transfer_and_restarted_is_copied_whole() {
    // Saving slowed to a millisecond per key: the transfer takes seconds.
    let extra = [
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ];
    let mut r = redis_with(&extra);
    let mut src = Conn::open(r.port);
    for i in 0..3000 {
        run(&mut src, words(&format!("SET old:{i} {i}")));
    }
    src.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    let inst = concord(&[]);
    let mut me = Conn::open(inst.port);
    assert_eq!(me.cmd(&["SET", "mine", "1"]), Reply::Status("OK".into()));
    me.cmd(&["REPLICAOF", "127.0.0.1", &r.port.to_string()]);
    wait_for(20, "the transfer under way", || {
        info_field(&mut me, "replication", "master_sync_in_progress") == "1"
            && info_field(&mut me, "replication", "master_sync_read_bytes")
                .parse::<u64>()
                .is_ok_and(|n| n > 0)
    });
    r.signal("KILL");
    // Nothing of the cut transfer was applied: the instance's own key is still there.
    wait_for(20, "the link to drop", || {
        info_field(&mut me, "replication", "master_sync_in_progress") == "0"
            && !info_field(&mut me, "replication", "master_last_error").is_empty()
    });
    assert_eq!(me.cmd(&["GET", "mine"]), Reply::Bulk(b"1".to_vec()));
    assert_eq!(info_field(&mut me, "replication", "master_full_syncs"), "0");
    let dir = r.dir().expect("a directory").to_path_buf();
    let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    r.crash_and_replace(redis_command(r.port, &dir, &args));
    let mut src = Conn::open(r.port);
    src.cmd(&["SET", "new", "1"]);
    caught_up(&mut src, &mut me);
    assert_eq!(info_field(&mut me, "replication", "master_full_syncs"), "1");
    assert_eq!(me.cmd(&["DBSIZE"]), Reply::Int(1));
    assert_eq!(me.cmd(&["GET", "new"]), Reply::Bulk(b"1".to_vec()));
}
