//! The RDB reader against files Debian's redis-server (7.0) writes: every collection in
//! each encoding it picks (listpacks for small ones, hash tables, skip lists, intsets,
//! quicklists of several nodes, LZF-compressed strings), read back as redis-server shows
//! them.

use crate::support::{Conn, Reply, bulks, redis};
use concord_rdb::{Value, read_all};
use std::collections::BTreeMap;

#[test]
fn a_redis_dump_reads_back_as_redis_shows_it() {
    let r = redis();
    let mut c = Conn::open(r.port);
    let big = |n: usize, tag: &str| (0..n).map(|i| format!("{tag}{i}")).collect::<Vec<_>>();
    let mut run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        c.cmd(&a)
    };
    run(vec!["SET".into(), "s".into(), "plain".into()]);
    run(vec!["SET".into(), "n".into(), "-123456".into()]);
    run(vec!["SET".into(), "z".into(), "ab".repeat(2000)]);
    run(vec![
        "SET".into(),
        "ttl".into(),
        "v".into(),
        "PX".into(),
        "99999999".into(),
    ]);
    for (key, n) in [("small", 5), ("large", 3000)] {
        let mut l = vec!["RPUSH".to_string(), format!("l:{key}")];
        l.extend(big(n, "e"));
        run(l);
        let mut s = vec!["SADD".to_string(), format!("s:{key}")];
        s.extend(big(n, "m"));
        run(s);
        let mut i = vec!["SADD".to_string(), format!("si:{key}")];
        i.extend((0..n).map(|x| (x as i64 * 7919 - 1_000_000).to_string()));
        run(i);
        let mut h = vec!["HSET".to_string(), format!("h:{key}")];
        for f in big(n, "f") {
            h.push(f.clone());
            h.push(format!("{f}-value"));
        }
        run(h);
        let mut z = vec!["ZADD".to_string(), format!("z:{key}")];
        for (i, m) in big(n, "m").into_iter().enumerate() {
            z.push(format!("{}", i as f64 * 1.5 - 7.25));
            z.push(m);
        }
        run(z);
    }
    // A big list element (a plain quicklist node) and a long field (a hash table).
    run(vec![
        "RPUSH".into(),
        "l:plain".into(),
        "x".repeat(70_000),
        "y".into(),
    ]);
    run(vec![
        "HSET".into(),
        "h:long".into(),
        "f".into(),
        "v".repeat(100),
    ]);
    assert_eq!(c.cmd(&["SAVE"]), Reply::Status("OK".into()));
    let file = std::fs::read(r.dir().expect("a directory").join("dump.rdb")).expect("dump");
    let (h, keys) = read_all(&file).expect("reads");
    assert_eq!(h.version, 10);
    let keys: BTreeMap<Vec<u8>, _> = keys.into_iter().map(|e| (e.key.clone(), e)).collect();
    let names = bulks(c.cmd(&["KEYS", "*"]));
    assert_eq!(keys.len(), names.len());
    for name in names {
        let key = String::from_utf8(name.clone()).expect("text");
        let e = &keys[&name];
        let got = match &e.value {
            Value::String(v) => vec![v.clone()],
            Value::List(v) => v.clone(),
            Value::Set(_) | Value::Hash(_) | Value::ZSet(_) | Value::Stream(_) => Vec::new(),
        };
        match c.cmd(&["TYPE", &key]) {
            Reply::Status(t) if t == "string" => {
                assert_eq!(
                    got,
                    bulks(Reply::Array(vec![c.cmd(&["GET", &key])])),
                    "{key}"
                );
            }
            Reply::Status(t) if t == "list" => {
                assert_eq!(got, bulks(c.cmd(&["LRANGE", &key, "0", "-1"])), "{key}");
            }
            Reply::Status(t) if t == "set" => {
                let Value::Set(v) = &e.value else {
                    panic!("{key} not a set")
                };
                let mut want = bulks(c.cmd(&["SMEMBERS", &key]));
                let mut v = v.clone();
                want.sort();
                v.sort();
                assert_eq!(v, want, "{key}");
            }
            Reply::Status(t) if t == "hash" => {
                let Value::Hash(v) = &e.value else {
                    panic!("{key} not a hash")
                };
                let flat = bulks(c.cmd(&["HGETALL", &key]));
                let want: BTreeMap<_, _> = flat
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                let got: BTreeMap<_, _> = v.iter().cloned().collect();
                assert_eq!(got, want, "{key}");
            }
            Reply::Status(t) if t == "zset" => {
                let Value::ZSet(v) = &e.value else {
                    panic!("{key} not a zset")
                };
                let flat = bulks(c.cmd(&["ZRANGE", &key, "0", "-1", "WITHSCORES"]));
                let want: BTreeMap<Vec<u8>, String> = flat
                    .chunks(2)
                    .map(|p| (p[0].clone(), String::from_utf8(p[1].clone()).expect("text")))
                    .collect();
                assert_eq!(v.len(), want.len(), "{key}");
                for (m, s) in v {
                    let w: f64 = want[m].parse().expect("a score");
                    assert_eq!(*s, w, "{key}");
                }
            }
            other => panic!("{key}: type {other}"),
        }
        let pttl = match c.cmd(&["PEXPIRETIME", &key]) {
            Reply::Int(t) if t > 0 => Some(t as u64),
            _ => None,
        };
        assert_eq!(e.expire_ms, pttl, "{key}");
    }
}

/// A key as a client sees it: its type, its contents in a canonical order, its expiry.
fn view(c: &mut Conn, key: &str) -> (String, Vec<Vec<u8>>, Reply) {
    let t = match c.cmd(&["TYPE", key]) {
        Reply::Status(t) => t,
        other => panic!("TYPE {key}: {other}"),
    };
    let mut items = match t.as_str() {
        "string" => bulks(Reply::Array(vec![c.cmd(&["GET", key])])),
        "list" => bulks(c.cmd(&["LRANGE", key, "0", "-1"])),
        "set" => bulks(c.cmd(&["SMEMBERS", key])),
        "hash" => bulks(c.cmd(&["HGETALL", key]))
            .chunks(2)
            .map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat())
            .collect(),
        "zset" => bulks(c.cmd(&["ZRANGE", key, "0", "-1", "WITHSCORES"]))
            .chunks(2)
            .map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat())
            .collect(),
        other => panic!("{key}: type {other}"),
    };
    if t == "set" || t == "hash" {
        items.sort();
    }
    (t, items, c.cmd(&["PEXPIRETIME", key]))
}

#[test]
fn concord_import_loads_a_redis_dump_key_for_key() {
    let r = redis();
    let mut src = Conn::open(r.port);
    let many: Vec<String> = (0..2000).map(|i| format!("m{i}")).collect();
    let mut cmds: Vec<Vec<String>> = vec![
        vec!["SET".into(), "s".into(), "plain".into()],
        vec!["SET".into(), "n".into(), "42".into()],
        vec![
            "SET".into(),
            "t".into(),
            "v".into(),
            "PX".into(),
            "99999999".into(),
        ],
        vec![
            "RPUSH".into(),
            "l".into(),
            "a".into(),
            "b".into(),
            "a".into(),
        ],
        vec![
            "HSET".into(),
            "h".into(),
            "f".into(),
            "v".into(),
            "g".into(),
            "w".into(),
        ],
        vec![
            "ZADD".into(),
            "z".into(),
            "1.5".into(),
            "a".into(),
            "-inf".into(),
            "b".into(),
        ],
        vec![
            "SADD".into(),
            "si".into(),
            "1".into(),
            "2".into(),
            "-3".into(),
        ],
        vec!["PEXPIRE".into(), "h".into(), "88888888".into()],
    ];
    let mut big_set = vec!["SADD".to_string(), "sbig".into()];
    big_set.extend(many.iter().cloned());
    let mut big_list = vec!["RPUSH".to_string(), "lbig".into()];
    big_list.extend(many.iter().cloned());
    cmds.push(big_set);
    cmds.push(big_list);
    for cmd in &cmds {
        let a: Vec<&str> = cmd.iter().map(String::as_str).collect();
        assert!(!matches!(src.cmd(&a), Reply::Error(_)), "{cmd:?}");
    }
    assert_eq!(src.cmd(&["SAVE"]), Reply::Status("OK".into()));
    let file = r.dir().expect("a directory").join("dump.rdb");
    let c = crate::support::concord(&[]);
    let out = std::process::Command::new(crate::support::concord_bin())
        .args(["import", "--port", &c.port.to_string()])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 9 keys"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut dst = Conn::open(c.port);
    for name in bulks(src.cmd(&["KEYS", "*"])) {
        let key = String::from_utf8(name).expect("text");
        assert_eq!(view(&mut dst, &key), view(&mut src, &key), "{key}");
    }
    assert_eq!(dst.cmd(&["DBSIZE"]), Reply::Int(9));
    // A file of another database is refused unless one is chosen.
    assert_eq!(src.cmd(&["SELECT", "3"]), Reply::Status("OK".into()));
    src.cmd(&["SET", "elsewhere", "x"]);
    assert_eq!(src.cmd(&["SAVE"]), Reply::Status("OK".into()));
    let out = std::process::Command::new(crate::support::concord_bin())
        .args(["import", "--port", &c.port.to_string()])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is in database 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
