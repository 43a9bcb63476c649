//! COMMAND against Debian's redis-server (7.0): for every command Concord has, COMMAND INFO
//! must agree on arity, flags, key range, ACL categories and key specs, and COMMAND GETKEYS
//! and GETKEYSANDFLAGS must find the same keys in sample requests, hostile ones included.
//!
//! Concord's table follows Redis 7.2; where 7.0 differs, the comparison skips that field and
//! says why.

use crate::support::{Conn, Reply, b, concord, redis};

/// Commands Redis 7.0 does not have: 7.2's additions, and Concord's own.
const NOT_IN_7_0: &[&str] = &[
    // Added in 7.2.
    "client|setinfo",
    "client|no-touch",
    // Concord's replication commands.
    "crdt.digest",
    "crdt.link",
    "crdt.sync",
    "crdt.member",
    "crdt.writes",
    "crdt.flush",
];

/// Fields of COMMAND INFO that legitimately differ, with why.
const DIFFERS: &[(&str, Field, &str)] = &[
    // 7.2 lets blocking commands run in scripts (they do not block there): no `noscript`.
    ("blpop", Field::Flags, "7.2 dropped noscript"),
    ("brpop", Field::Flags, "7.2 dropped noscript"),
    ("blmove", Field::Flags, "7.2 dropped noscript"),
    ("brpoplpush", Field::Flags, "7.2 dropped noscript"),
    ("blmpop", Field::Flags, "7.2 dropped noscript"),
    ("bzpopmin", Field::Flags, "7.2 dropped noscript"),
    ("bzpopmax", Field::Flags, "7.2 dropped noscript"),
    ("bzmpop", Field::Flags, "7.2 dropped noscript"),
    ("wait", Field::Flags, "7.2 dropped noscript"),
    // ZRANK and ZREVRANK took WITHSCORE in 7.2.
    ("zrank", Field::Arity, "7.2 added WITHSCORE"),
    ("zrevrank", Field::Arity, "7.2 added WITHSCORE"),
    // 7.0 declared -4, refusing GETKEYS of a command without arguments; 7.2 takes it.
    (
        "command|getkeys",
        Field::Arity,
        "7.2 allows a command alone",
    ),
    (
        "command|getkeysandflags",
        Field::Arity,
        "7.2 allows a command alone",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Arity,
    Flags,
    Categories,
}

fn differs(name: &str, f: Field) -> bool {
    DIFFERS.iter().any(|(n, g, _)| *n == name && *g == f)
}

/// Every command and subcommand Concord lists.
fn concord_names(c: &mut Conn) -> Vec<String> {
    let Reply::Array(v) = c.cmd(&["COMMAND", "LIST"]) else {
        panic!("COMMAND LIST is not an array");
    };
    v.into_iter()
        .map(|r| match r {
            Reply::Bulk(n) => String::from_utf8(n).expect("names are text"),
            other => panic!("COMMAND LIST entry {other}"),
        })
        .collect()
}

/// The ten fields of a command's COMMAND INFO; `None` when the server has no such command.
fn info(c: &mut Conn, name: &str) -> Option<Vec<Reply>> {
    match c.cmd(&["COMMAND", "INFO", name]) {
        Reply::Array(mut v) if v.len() == 1 => match v.pop() {
            Some(Reply::Array(fields)) if fields.len() == 10 => Some(fields),
            Some(Reply::Nil) => None,
            other => panic!("COMMAND INFO {name}: {other:?}"),
        },
        other => panic!("COMMAND INFO {name}: {other}"),
    }
}

/// Key specs without Redis's `notes` (prose Concord does not carry), in RESP2 (an array of
/// flat maps) or RESP3 (a set of maps).
fn without_notes(specs: &Reply) -> Reply {
    let strip = |kv: &[Reply]| -> Vec<Reply> {
        kv.chunks(2)
            .filter(|p| p[0] != Reply::Bulk(b("notes")))
            .flatten()
            .cloned()
            .collect()
    };
    let spec = |s: &Reply| match s {
        Reply::Array(kv) => Reply::Array(strip(kv)),
        Reply::Other(b'%', kv, t) => Reply::Other(b'%', strip(kv), t.clone()),
        other => panic!("key spec {other}"),
    };
    match specs {
        Reply::Array(v) => Reply::Array(v.iter().map(spec).collect()),
        Reply::Other(b'~', v, t) => Reply::Other(b'~', v.iter().map(spec).collect(), t.clone()),
        other => panic!("key specs {other}"),
    }
}

/// The names of the subcommands in a COMMAND INFO that 7.0 may have.
fn sub_names(subs: &Reply) -> Vec<Reply> {
    let Reply::Array(v) = subs else {
        panic!("subcommands are not an array: {subs}");
    };
    v.iter()
        .map(|s| match s {
            Reply::Array(f) => f[0].clone(),
            other => panic!("subcommand {other}"),
        })
        .filter(|n| match n {
            Reply::Bulk(n) => !NOT_IN_7_0.contains(&String::from_utf8_lossy(n).as_ref()),
            _ => true,
        })
        .collect()
}

#[test]
fn command_info_matches_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut rc = Conn::open(r.port);
    let mut cc = Conn::open(s.port);
    let names = concord_names(&mut cc);
    assert!(names.len() > 200, "COMMAND LIST has subcommands too");
    let mut compared = 0;
    for name in &names {
        let got =
            info(&mut cc, name).unwrap_or_else(|| panic!("Concord lists {name} but has no info"));
        let Some(want) = info(&mut rc, name) else {
            assert!(
                NOT_IN_7_0.contains(&name.as_str()),
                "redis-server has no {name}"
            );
            continue;
        };
        compared += 1;
        assert_eq!(got[0], Reply::Bulk(b(name)), "{name}: name");
        if !differs(name, Field::Arity) {
            assert_eq!(got[1], want[1], "{name}: arity");
        }
        if !differs(name, Field::Flags) {
            assert_eq!(got[2], want[2], "{name}: flags");
        }
        assert_eq!(got[3..6], want[3..6], "{name}: first, last, step");
        if !differs(name, Field::Categories) {
            assert_eq!(got[6], want[6], "{name}: ACL categories");
        }
        assert_eq!(got[8], without_notes(&want[8]), "{name}: key specs");
        // Concord keeps only the subcommands it implements.
        let theirs = sub_names(&want[9]);
        for sub in sub_names(&got[9]) {
            assert!(
                theirs.contains(&sub),
                "{name}: redis-server has no subcommand {sub}"
            );
        }
    }
    assert!(compared > 200, "only {compared} commands compared");
    // Names COMMAND INFO takes, and those it does not (tips aside: Concord has none).
    for name in [
        "CONFIG|GET",
        "Object|Encoding",
        "get|x",
        "config|",
        "config|get|x",
        "nosuch",
        "",
    ] {
        let want = info(&mut rc, name).map(|f| f[0].clone());
        let got = info(&mut cc, name).map(|f| f[0].clone());
        assert_eq!(got, want, "COMMAND INFO {name:?}");
    }
}

/// In RESP3 the replies keep Redis's types: sets for flags, categories and key specs, maps
/// for each key spec.
#[test]
fn command_replies_in_resp3_match_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut rc = Conn::open(r.port);
    let mut cc = Conn::open(s.port);
    for c in [&mut rc, &mut cc] {
        assert!(matches!(c.cmd(&["HELLO", "3"]), Reply::Other(b'%', _, _)));
    }
    for name in [
        "get",
        "set",
        "bitop",
        "zunionstore",
        "xread",
        "georadius",
        "ping",
    ] {
        // Tips aside: Concord has none.
        let mut want = rc.cmd(&["COMMAND", "INFO", name]);
        let mut got = cc.cmd(&["COMMAND", "INFO", name]);
        for r in [&mut want, &mut got] {
            if let Reply::Array(v) = r
                && let Some(Reply::Array(f)) = v.first_mut()
            {
                f[7] = Reply::Nil;
                f[8] = without_notes(&f[8]);
            }
        }
        assert_eq!(got, want, "COMMAND INFO {name}");
    }
    for req in [
        &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "get"][..],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "zunionstore",
            "d",
            "2",
            "a",
            "b",
        ],
        &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"],
        &["COMMAND", "INFO", "nosuch"],
    ] {
        assert_eq!(cc.cmd(req), rc.cmd(req), "{req:?}");
    }
}

/// Argument lists (after the command's name) tried with every command: arity edges, counts
/// of keys that are right, wrong, wrapped by a C int or not numbers, keywords that start
/// keys, options that change key flags.
fn samples() -> Vec<Vec<Vec<u8>>> {
    let words: &[&[&str]] = &[
        &[],
        &["a"],
        &["a", "b"],
        &["a", "b", "c"],
        &["a", "b", "c", "d"],
        &["a", "b", "c", "d", "e"],
        &["a", "b", "c", "d", "e", "f", "g"],
        // Counts of keys first (ZUNION, LMPOP, SINTERCARD, ...).
        &["1", "a", "b"],
        &["2", "a", "b", "left"],
        &["3", "a", "b"],
        &["0", "a"],
        &["-1", "a", "b"],
        &["abc", "a", "b"],
        &["", "a"],
        &["4294967297", "a", "b"],
        &["2147483648", "a", "b"],
        &["9223372036854775807", "a"],
        &["-9223372036854775808", "a"],
        &[" 1", "a", "b"],
        &["+1", "a"],
        &["01", "a", "right"],
        &["1abc", "a"],
        // Counts second (ZUNIONSTORE, BLMPOP, ...).
        &["d", "2", "a", "b", "weights", "1", "2"],
        &["0", "2", "a", "b", "left", "count", "1"],
        &["d", "0", "a"],
        &["d", "-1", "a", "b"],
        &["d", "4294967297", "a"],
        &["d", " 1", "a"],
        &["d", "9223372036854775807", "a"],
        &["d", "3", "a", "b"],
        // Streams.
        &["streams", "a", "b", "0", "0"],
        &["streams", "a", "b", "0"],
        &["count", "1", "block", "0", "streams", "a", "0"],
        &["count", "streams", "streams", "a", "0"],
        &["group", "g", "c", "streams", "a", "b", "0", ">"],
        &["group", "g", "c", "noack", "streams", "a", "0"],
        &["a", "b", "c", "streams"],
        &["create", "s", "g", "$", "mkstream"],
        // Destinations of geo searches.
        &["a", "0", "0", "1", "km", "store", "d"],
        &["a", "0", "0", "1", "km", "store", "d", "storedist", "e"],
        &["a", "m", "1", "km", "STOREDIST", "d"],
        &["a", "0", "0", "1", "km", "withdist", "store"],
        // SET's GET, BITFIELD's operations.
        &["a", "v", "get"],
        &["a", "v", "nx", "GET"],
        &["a", "get"],
        &["a", "get", "u8", "0"],
        &["a", "get", "u8", "0", "set", "u8", "0", "1"],
        &["a", "overflow", "sat", "incrby", "u8", "0", "1"],
        &["a", "overflow", "wrap", "get", "i4", "1"],
        &["a", "get", "u8"],
        // SORT's STORE, found past the options that take arguments (the last one wins).
        &["a", "store", "d"],
        &[
            "a", "limit", "0", "1", "store", "d", "get", "x", "STORE", "e",
        ],
        &["a", "store"],
        &["a", "store", "store", "x"],
        &["a", "by", "store", "d"],
        &["a", "get", "store", "limit", "store", "d"],
        &["a", "limit", "store", "d", "x"],
        // A range with a key per two arguments (MSET) and an odd count.
        &["a", "1", "b", "2"],
        &["a", "1", "b"],
    ];
    let mut v: Vec<Vec<Vec<u8>>> = words
        .iter()
        .map(|w| w.iter().map(|a| b(a)).collect())
        .collect();
    // C compares strings up to a NUL byte.
    v.push(vec![b("a"), b("v"), b"get\0x".to_vec()]);
    v.push(vec![b("streams\0"), b("a"), b("0")]);
    v
}

#[test]
fn command_getkeys_matches_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut rc = Conn::open(r.port);
    let mut cc = Conn::open(s.port);
    let samples = samples();
    let mut compared = 0;
    for name in concord_names(&mut cc) {
        if NOT_IN_7_0.contains(&name.as_str()) {
            continue;
        }
        let prefix: Vec<Vec<u8>> = name.split('|').map(b).collect();
        for sample in &samples {
            // ZRANK k m WITHSCORE: an arity error in 7.0 only.
            if differs(&name, Field::Arity) && prefix.len() + sample.len() > 3 {
                continue;
            }
            // COMMAND GETKEYS with a command alone: an arity error in 7.0 only.
            if prefix.len() + sample.len() < 2 {
                continue;
            }
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let mut req = vec![b("COMMAND"), b(sub)];
                req.extend(prefix.iter().cloned());
                req.extend(sample.iter().cloned());
                let want = rc.call(&req);
                let got = cc.call(&req);
                assert_eq!(got, want, "{}", show(&req));
                compared += 1;
            }
        }
    }
    assert!(compared > 10_000, "only {compared} requests compared");
    // Names GETKEYS does not take.
    let odd: &[&[&str]] = &[
        &["COMMAND", "GETKEYS", "nosuch", "a"],
        &["COMMAND", "GETKEYS", "object", "nosuch", "k"],
        &["COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"],
        &["COMMAND", "GETKEYSANDFLAGS", "xinfo", "stream", "s", "full"],
        &["COMMAND", "GETKEYS", "get|x", "k"],
    ];
    for req in odd {
        let req: Vec<Vec<u8>> = req.iter().map(|a| b(a)).collect();
        assert_eq!(cc.call(&req), rc.call(&req), "{}", show(&req));
    }
}

/// COMMAND LIST's filters pick the same commands as Redis's, among those both have.
#[test]
fn command_list_filters_match_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut rc = Conn::open(r.port);
    let mut cc = Conn::open(s.port);
    let ours = concord_names(&mut cc);
    let filters: &[&[&str]] = &[
        &["ACLCAT", "read"],
        &["ACLCAT", "WRITE"],
        &["ACLCAT", "fast"],
        &["ACLCAT", "slow"],
        &["ACLCAT", "dangerous"],
        &["ACLCAT", "blocking"],
        &["ACLCAT", "connection"],
        &["ACLCAT", "nosuch"],
        &["PATTERN", "z*"],
        &["PATTERN", "CONFIG|*"],
        &["PATTERN", "*|help"],
        &["MODULE", "nosuch"],
    ];
    for f in filters {
        let mut req = vec!["COMMAND", "LIST", "FILTERBY"];
        req.extend_from_slice(f);
        let list = |c: &mut Conn| -> Vec<String> {
            let Reply::Array(v) = c.cmd(&req) else {
                panic!("{req:?} is not an array");
            };
            let mut v: Vec<String> = v
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(n) => String::from_utf8_lossy(&n).into_owned(),
                    other => panic!("{other}"),
                })
                .filter(|n| ours.contains(n) && !NOT_IN_7_0.contains(&n.as_str()))
                .filter(|n| !DIFFERS.iter().any(|(d, f, _)| d == n && *f != Field::Arity))
                .collect();
            v.sort();
            v
        };
        assert_eq!(list(&mut cc), list(&mut rc), "{req:?}");
    }
    for bad in [
        &["COMMAND", "LIST", "FILTERBY"][..],
        &["COMMAND", "LIST", "FILTERBY", "x", "y"],
        &["COMMAND", "LIST", "x"],
    ] {
        assert_eq!(cc.cmd(bad), rc.cmd(bad), "{bad:?}");
    }
}

fn show(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// COMMAND DOCS without what 7.2 reworded or added everywhere (summaries, display
/// texts), in RESP3 so maps show as maps.
fn docs_shape(c: &mut Conn, name: &str) -> Reply {
    fn strip(r: &Reply) -> Reply {
        match r {
            Reply::Other(b'%', kv, t) => {
                let mut v = Vec::new();
                for p in kv.chunks(2) {
                    let k = &p[0];
                    if *k == Reply::Bulk(b("summary")) || *k == Reply::Bulk(b("display_text")) {
                        continue;
                    }
                    v.push(strip(k));
                    v.push(strip(&p[1]));
                }
                Reply::Other(b'%', v, t.clone())
            }
            Reply::Other(p, v, t) => Reply::Other(*p, v.iter().map(strip).collect(), t.clone()),
            Reply::Array(v) => Reply::Array(v.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    strip(&c.cmd(&["COMMAND", "DOCS", name]))
}

/// COMMAND DOCS carries Redis's metadata: versions, groups, complexity, history,
/// arguments with their types, tokens, flags and key specs match redis-server's for the
/// commands whose docs 7.2 did not change (7.0 words its summaries differently).
#[test]
fn command_docs_match_redis() {
    let r = redis();
    let s = concord(&[]);
    let mut rc = Conn::open(r.port);
    let mut cc = Conn::open(s.port);
    rc.cmd(&["HELLO", "3"]);
    cc.cmd(&["HELLO", "3"]);
    let names = concord_names(&mut cc);
    let mut differ = Vec::new();
    for name in &names {
        if docs_shape(&mut cc, name) != docs_shape(&mut rc, name) {
            differ.push(name.clone());
        }
    }
    // 7.2 deprecated some commands, renamed some arguments and reworded complexities;
    // containers list only the subcommands Concord has.
    assert!(
        differ.len() * 10 <= names.len() * 4,
        "{} of {} commands' docs differ: {differ:?}",
        differ.len(),
        names.len()
    );
    for name in [
        "get",
        "set",
        "zcard",
        "zinterstore",
        "lpush",
        "blmpop",
        "hget",
        "expire",
        "sadd",
        "xlen",
        "pfadd",
        "publish",
        "eval",
        "slowlog|get",
        "latency|reset",
    ] {
        assert!(!differ.contains(&name.to_string()), "COMMAND DOCS {name}");
    }
    let Reply::Other(b'%', outer, _) = cc.cmd(&["COMMAND", "DOCS", "get"]) else {
        panic!("COMMAND DOCS get is a map")
    };
    let Reply::Other(b'%', get, _) = &outer[1] else {
        panic!("get's docs are a map")
    };
    assert_eq!(get[0], Reply::Bulk(b("summary")));
    assert_eq!(get[1], Reply::Bulk(b("Returns the string value of a key.")));
}
