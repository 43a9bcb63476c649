//! ACL against Debian's redis-server (7.0): the same ACL commands, rule lists (fixed and
//! random) and permission checks go to both, and the answers must agree.
//!
//! Concord follows Redis 7.2 where 7.0 differs, and the comparison allows for it:
//! - 7.2 describes command rules as they were given (compacted), 7.0 recomputes them from
//!   the bitmap, so the `commands` text is compared by what it allows (DRYRUN of probe
//!   commands on both) rather than letter by letter;
//! - 7.2 reworded NOPERM errors and DRYRUN replies (the reason, command, key or channel
//!   named must agree, not the wording);
//! - 7.2 creates users (the default one too) with the `sanitize-payload` flag, 7.0 only
//!   after `reset` or the rule itself: the flag is left out of the comparison.

use crate::support::{
    Conn, Reply, Rng, TempDir, concord, concord_on, free_port, redis, seed, wait_for,
};

/// Commands every user is tried with (DRYRUN has no side effects).
const PROBES: &[&[&str]] = &[
    &["GET", "k1"],
    &["GET", "r1"],
    &["GET", "w1"],
    &["GET", "x1"],
    &["SET", "k1", "v"],
    &["SET", "w1", "v"],
    &["SET", "r1", "v"],
    &["SET", "w1", "v", "GET"],
    &["HSET", "k1", "f", "v"],
    &["HGET", "r1", "f"],
    &["LPUSH", "w1", "a"],
    &["LMOVE", "r1", "w1", "LEFT", "RIGHT"],
    &["MGET", "k1", "r1", "x1"],
    &["MSET", "k1", "v", "w1", "v"],
    &["COPY", "r1", "w1"],
    &["EXISTS", "x1"],
    &["DEL", "w1"],
    &["PUBLISH", "ch1", "m"],
    &["PUBLISH", "other", "m"],
    &["SUBSCRIBE", "ch1", "other"],
    &["PSUBSCRIBE", "ch*"],
    &["PSUBSCRIBE", "ch1"],
    &["CONFIG", "GET", "maxmemory"],
    &["CONFIG", "SET", "maxclients", "10"],
    &["CLIENT", "ID"],
    &["CLIENT", "KILL", "ID", "1"],
    &["SELECT", "0"],
    &["SELECT", "1"],
    &["FLUSHALL"],
    &["KEYS", "*"],
    &["PING"],
    &["INFO"],
    &["ACL", "WHOAMI"],
    &["ACL", "SETUSER", "x"],
    &["ZUNIONSTORE", "w1", "2", "r1", "k1"],
    &["XREAD", "STREAMS", "r1", "0"],
    &["BLPOP", "r1", "0"],
];

/// Rules random users are made of.
const RULES: &[&str] = &[
    "on",
    "off",
    "nopass",
    ">p1",
    ">p2",
    "<p1",
    "resetpass",
    "~*",
    "~k*",
    "%R~r*",
    "%W~w*",
    "%RW~x*",
    "allkeys",
    "resetkeys",
    "&*",
    "&ch*",
    "allchannels",
    "resetchannels",
    "+@all",
    "-@all",
    "+@read",
    "-@read",
    "+@write",
    "-@write",
    "+@string",
    "-@string",
    "+@hash",
    "+@pubsub",
    "-@dangerous",
    "+@admin",
    "+@connection",
    "+get",
    "-get",
    "+set",
    "-set",
    "+config|get",
    "-config",
    "+config",
    "+client|id",
    "-client",
    "+select|0",
    "+acl|whoami",
    "allcommands",
    "nocommands",
    "(~x* +get)",
    "(%R~k* +@read -mget)",
    "clearselectors",
    "reset",
];

/// A reply with the wording 7.0 and 7.2 legitimately differ on reduced to what they must
/// agree on.
fn normalize(r: Reply) -> Reply {
    match r {
        Reply::Error(e) if e.starts_with("NOPERM") => Reply::Error("NOPERM".into()),
        Reply::Bulk(b) => {
            let s = String::from_utf8_lossy(&b).into_owned();
            // DRYRUN: "This user has no..." (7.0) / "User u has no..." (7.2).
            if let Some(i) = s.find("has no permissions to ") {
                return Reply::Bulk(s.as_bytes()[i..].to_vec());
            }
            if s.starts_with("user ") {
                return Reply::Bulk(s.replace(" sanitize-payload", "").into_bytes());
            }
            Reply::Bulk(b)
        }
        Reply::Array(v) => Reply::Array(
            v.into_iter()
                .filter(|r| *r != Reply::Bulk(b"sanitize-payload".to_vec()))
                .map(normalize)
                .collect(),
        ),
        other => other,
    }
}

fn cmd(c: &mut Conn, args: &[&str]) -> Reply {
    normalize(c.cmd(args))
}

/// Sends the same command to both and requires equal (normalized) replies.
fn same(r: &mut Conn, c: &mut Conn, args: &[&str]) -> Reply {
    let (want, got) = (cmd(r, args), cmd(c, args));
    assert_eq!(got, want, "{args:?}");
    got
}

/// The fields of ACL GETUSER but `commands` (compared by what it allows).
fn getuser_fields(c: &mut Conn, user: &str) -> Reply {
    match normalize(c.cmd(&["ACL", "GETUSER", user])) {
        Reply::Array(v) => {
            let mut kept = Vec::new();
            for pair in v.chunks(2) {
                match &pair[0] {
                    Reply::Bulk(k) if k == b"commands" => {}
                    Reply::Bulk(k) if k == b"selectors" => {
                        // Each selector: drop its `commands` too.
                        let sels = match &pair[1] {
                            Reply::Array(s) => s
                                .iter()
                                .map(|sel| match sel {
                                    Reply::Array(f) => Reply::Array(
                                        f.chunks(2)
                                            .filter(|p| p[0] != Reply::Bulk(b"commands".to_vec()))
                                            .flat_map(|p| p.to_vec())
                                            .collect(),
                                    ),
                                    other => other.clone(),
                                })
                                .collect(),
                            other => vec![other.clone()],
                        };
                        kept.push(pair[0].clone());
                        kept.push(Reply::Array(sels));
                    }
                    _ => kept.extend(pair.iter().cloned()),
                }
            }
            Reply::Array(kept)
        }
        other => other,
    }
}

/// What `user` may do, probed with DRYRUN on both; and its other GETUSER fields.
fn compare_user(r: &mut Conn, c: &mut Conn, user: &str, context: &str) {
    assert_eq!(
        getuser_fields(c, user),
        getuser_fields(r, user),
        "GETUSER {user} after {context}"
    );
    for p in PROBES {
        let mut args = vec!["ACL", "DRYRUN", user];
        args.extend_from_slice(p);
        let (want, got) = (cmd(r, &args), cmd(c, &args));
        assert_eq!(got, want, "DRYRUN {user} {p:?} after {context}");
    }
}

#[test]
fn acl_commands_match_redis() {
    let rs = redis();
    let cs = concord(&[]);
    let (mut r, mut c) = (Conn::open(rs.port), Conn::open(cs.port));
    let fixed: &[&[&str]] = &[
        &["ACL", "WHOAMI"],
        &["ACL", "USERS"],
        &["ACL", "LIST"],
        &["ACL", "CAT"],
        &["ACL", "CAT", "nosuch"],
        &["ACL", "GETUSER", "nosuch"],
        &["ACL", "DELUSER", "default"],
        &["ACL", "DELUSER", "nosuch"],
        &["ACL", "SETUSER", "bad name"],
        &["ACL", "SETUSER", "u", "+nosuchcmd"],
        &["ACL", "SETUSER", "u", "+@nosuchcat"],
        &["ACL", "SETUSER", "u", "#abc"],
        &["ACL", "SETUSER", "u", "<nopass"],
        &["ACL", "SETUSER", "u", "bogus"],
        &["ACL", "SETUSER", "u", "+config|nope"],
        &["ACL", "SETUSER", "u", "-config|get"],
        &["ACL", "SETUSER", "u", "+get|x"],
        &["ACL", "SETUSER", "u", "(~a"],
        &["ACL", "SETUSER", "u", "~a", "allkeys", "%R~b"],
        &["ACL", "SETUSER", "u", "on", ">pw", "~*", "+@all"],
        &["ACL", "USERS"],
        &["ACL", "GENPASS", "0"],
        &["ACL", "GENPASS", "4097"],
        &["ACL", "GENPASS", "x"],
        &["ACL", "LOG", "x"],
        &["ACL", "LOAD"],
        &["ACL", "SAVE"],
        &["ACL", "DRYRUN", "nosuch", "get", "k"],
        &["ACL", "DRYRUN", "u", "nosuchcmd"],
        &["ACL", "DRYRUN", "u", "get"],
        &["ACL", "NOPE"],
        &["AUTH", "u", "wrong"],
        &["AUTH", "nosuch", "pw"],
        &["AUTH", "a", "b", "c"],
        &["ACL", "DELUSER", "u", "u"],
        &["ACL", "USERS"],
    ];
    for f in fixed {
        same(&mut r, &mut c, f);
    }
    // Category contents, as sets (Redis lists them in hash order): a command both
    // servers know is in the same categories on both.
    for cat in [
        "string",
        "keyspace",
        "pubsub",
        "dangerous",
        "connection",
        "read",
        "slow",
    ] {
        let list = |x: &mut Conn| match x.cmd(&["ACL", "CAT", cat]) {
            Reply::Array(v) => v
                .into_iter()
                .filter_map(|r| match r {
                    Reply::Bulk(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    _ => None,
                })
                .collect::<std::collections::BTreeSet<_>>(),
            other => panic!("ACL CAT {cat}: {other}"),
        };
        let (want, got) = (list(&mut r), list(&mut c));
        let knows = |x: &mut Conn, name: &str| matches!(x.cmd(&["COMMAND", "INFO", name]), Reply::Array(v) if v.first() != Some(&Reply::Nil));
        for n in got.difference(&want) {
            assert!(!knows(&mut r, n), "ACL CAT {cat}: only Concord lists {n}");
        }
        for n in want.difference(&got) {
            assert!(!knows(&mut c, n), "ACL CAT {cat}: only Redis lists {n}");
        }
    }
    // GENPASS lengths.
    for bits in ["1", "5", "128", "4096"] {
        let len = |x: &mut Conn| match x.cmd(&["ACL", "GENPASS", bits]) {
            Reply::Bulk(b) => b.len(),
            other => panic!("{other}"),
        };
        assert_eq!(len(&mut c), len(&mut r), "GENPASS {bits}");
    }
}

#[test]
fn random_rules_give_the_same_permissions_as_redis() {
    let rs = redis();
    let cs = concord(&[]);
    let (mut r, mut c) = (Conn::open(rs.port), Conn::open(cs.port));
    let s = seed();
    let mut rng = Rng::new(s);
    for round in 0..60 {
        let user = format!("u{}", round % 5);
        let n = 1 + rng.below(6);
        let mut args = vec!["ACL".to_string(), "SETUSER".into(), user.clone()];
        for _ in 0..n {
            args.push(rng.pick(RULES).to_string());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let context = format!("seed {s} round {round}: {refs:?}");
        let (want, got) = (cmd(&mut r, &refs), cmd(&mut c, &refs));
        assert_eq!(got, want, "{context}");
        compare_user(&mut r, &mut c, &user, &context);
        // The described rules read back as the same user.
        if let Reply::Array(lines) = c.cmd(&["ACL", "LIST"]) {
            for l in lines {
                let Reply::Bulk(line) = l else { continue };
                let line = String::from_utf8_lossy(&line).into_owned();
                let words: Vec<&str> = line.split(' ').collect();
                if words.get(1) != Some(&user.as_str()) {
                    continue;
                }
                let mut again = vec!["ACL", "SETUSER", "copy", "reset"];
                again.extend_from_slice(&words[2..]);
                assert_eq!(c.cmd(&again), Reply::Status("OK".into()), "{line}");
                for p in PROBES {
                    let dry = |u: &str, x: &mut Conn| {
                        let mut a = vec!["ACL", "DRYRUN", u];
                        a.extend_from_slice(p);
                        x.cmd(&a) == Reply::Status("OK".into())
                    };
                    assert_eq!(dry("copy", &mut c), dry(&user, &mut c), "{line} {p:?}");
                }
            }
        }
    }
}

#[test]
fn users_are_enforced_like_redis() {
    let rs = redis();
    let cs = concord(&[]);
    let (mut ar, mut ac) = (Conn::open(rs.port), Conn::open(cs.port));
    let setup: &[&[&str]] = &[
        &[
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">pw",
            "~k*",
            "%R~r*",
            "%W~w*",
            "&ch*",
            "+@all",
            "-@dangerous",
        ],
        &["ACL", "SETUSER", "ro", "on", ">pw", "~*", "+@read", "-keys"],
        &["ACL", "SETUSER", "off", "off", ">pw", "+@all"],
        &["SET", "r1", "v"],
    ];
    for s in setup {
        same(&mut ar, &mut ac, s);
    }
    let (mut r, mut c) = (Conn::open(rs.port), Conn::open(cs.port));
    let script: &[&[&str]] = &[
        &["GET", "k1"],
        &["AUTH", "off", "pw"],
        &["AUTH", "app", "nope"],
        &["AUTH", "app", "pw"],
        &["ACL", "WHOAMI"],
        &["SET", "k1", "v"],
        &["GET", "k1"],
        &["GET", "r1"],
        &["SET", "r1", "x"],
        &["SET", "w1", "x"],
        &["GET", "w1"],
        &["APPEND", "w1", "y"],
        &["MGET", "k1", "w1"],
        &["FLUSHALL"],
        &["KEYS", "*"],
        &["PUBLISH", "ch1", "m"],
        &["PUBLISH", "zz", "m"],
        &["MULTI"],
        &["GET", "k1"],
        &["GET", "zz"],
        &["EXEC"],
        &["MULTI"],
        &["GET", "k1"],
        &["EXEC"],
        &["HELLO", "2", "AUTH", "ro", "pw"],
        &["ACL", "WHOAMI"],
        &["GET", "k1"],
        &["SET", "k1", "v"],
        &["KEYS", "*"],
        &["AUTH", "default", "anything"],
        &["ACL", "WHOAMI"],
    ];
    for s in script {
        if s[0] == "HELLO" {
            // A successful reply holds the version and the client id: compare success only.
            match (c.cmd(s), r.cmd(s)) {
                (Reply::Array(_), Reply::Array(_)) => {}
                (ours, theirs) => assert_eq!(ours, theirs, "{s:?}"),
            }
        } else {
            same(&mut r, &mut c, s);
        }
    }
    // The log: the same denials in the same order, with the same reasons and objects.
    let fields = |x: &mut Conn| match x.cmd(&["ACL", "LOG"]) {
        Reply::Array(entries) => entries
            .into_iter()
            .map(|e| match e {
                Reply::Array(f) => f
                    .chunks(2)
                    .filter(|p| {
                        matches!(&p[0], Reply::Bulk(k) if
                            [&b"count"[..], b"reason", b"context", b"object", b"username"]
                                .contains(&k.as_slice()))
                    })
                    .flat_map(|p| p.to_vec())
                    .collect::<Vec<_>>(),
                other => vec![other],
            })
            .collect::<Vec<_>>(),
        other => panic!("{other}"),
    };
    assert_eq!(fields(&mut ac), fields(&mut ar));
    // As in Redis 7.2 (the oracle here is 7.0, which authenticates first): HELLO checks
    // its options before the credentials, so a refused HELLO makes no attempt to log.
    let before = fields(&mut ac);
    assert_eq!(
        c.cmd(&["HELLO", "2", "AUTH", "app", "nope", "SETNAME", "a b"]),
        Reply::Error(
            "ERR Client names cannot contain spaces, newlines or special characters.".into()
        )
    );
    assert_eq!(fields(&mut ac), before);
    // Deleting a user closes its connections; CLIENT KILL USER closes them too.
    same(&mut ar, &mut ac, &["CLIENT", "KILL", "USER", "nosuch"]);
    let mut app_r = Conn::open(rs.port);
    let mut app_c = Conn::open(cs.port);
    same(&mut app_r, &mut app_c, &["AUTH", "app", "pw"]);
    same(&mut ar, &mut ac, &["CLIENT", "KILL", "USER", "app"]);
    assert_eq!(app_c.try_read(), None);
    let mut app_c = Conn::open(cs.port);
    assert_eq!(
        app_c.cmd(&["AUTH", "app", "pw"]),
        Reply::Status("OK".into())
    );
    assert_eq!(ac.cmd(&["ACL", "DELUSER", "app"]), Reply::Int(1));
    assert_eq!(app_c.try_read(), None);
}

/// SORT's BY and GET patterns read keys no argument names: Redis refuses them unless a
/// selector that allows the request may read every key, in the order of the options.
#[test]
fn sort_patterns_need_every_key_like_redis() {
    let rs = redis();
    let cs = concord(&[]);
    let (mut ar, mut ac) = (Conn::open(rs.port), Conn::open(cs.port));
    let setup: &[&[&str]] = &[
        &["ACL", "SETUSER", "lim", "on", ">pw", "~s*", "+@all"],
        &[
            "ACL", "SETUSER", "rall", "on", ">pw", "~s*", "%R~*", "+@all",
        ],
        &[
            "ACL", "SETUSER", "wall", "on", ">pw", "~s*", "%W~*", "+@all",
        ],
        &[
            "ACL",
            "SETUSER",
            "sel",
            "on",
            ">pw",
            "~s*",
            "+@all",
            "(~* +sort_ro)",
        ],
        &["RPUSH", "sl", "2", "1", "3"],
        &["MSET", "w_1", "30", "w_2", "20", "w_3", "10"],
    ];
    for s in setup {
        same(&mut ar, &mut ac, s);
    }
    let requests: &[&[&str]] = &[
        &["SORT", "sl"],
        &["SORT", "sl", "BY", "w_*"],
        &["SORT", "sl", "GET", "#"],
        &["SORT", "sl", "BY", "nosort", "GET", "w_*"],
        &["SORT", "sl", "BY", "nosort", "DESC"],
        &["SORT", "sl", "BOGUS", "BY", "w_*"],
        &["SORT", "sl", "LIMIT", "x", "1", "GET", "#"],
        &["SORT", "sl", "LIMIT", "0", "2", "BY", "w_*", "BOGUS"],
        &["SORT_RO", "sl", "BY", "w_*", "GET", "#"],
        &["SORT", "sl", "BY", "w_*", "STORE", "sdst"],
        &["SORT", "sl", "BY", "w_*", "STORE", "other"],
        &["LRANGE", "sdst", "0", "-1"],
    ];
    for user in ["lim", "rall", "wall", "sel"] {
        let (mut r, mut c) = (Conn::open(rs.port), Conn::open(cs.port));
        same(&mut r, &mut c, &["AUTH", user, "pw"]);
        for req in requests {
            let (want, got) = (cmd(&mut r, req), cmd(&mut c, req));
            assert_eq!(got, want, "{user}: {req:?}");
        }
    }
}

/// A client blocked before its user lost a key is checked again when the key is served:
/// it gets NOPERM and the pushed value stays for a client allowed to take it.
#[test]
fn a_blocked_client_is_checked_again_when_served() {
    let s = concord(&[]);
    let mut admin = Conn::open(s.port);
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "w", "on", ">pw", "~q*", "+@all"]),
        ok()
    );
    let mut waiter = Conn::open(s.port);
    assert_eq!(waiter.cmd(&["AUTH", "w", "pw"]), ok());
    waiter.send_raw(&Conn::encode(&[
        b"BLPOP".to_vec(),
        b"q1".to_vec(),
        b"0".to_vec(),
    ]));
    wait_for(10, "the client blocks", || {
        format!("{}", admin.cmd(&["INFO", "clients"])).contains("blocked_clients:1")
    });
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "w", "resetkeys", "~other"]),
        ok()
    );
    assert_eq!(admin.cmd(&["LPUSH", "q1", "job"]), Reply::Int(1));
    match waiter.read() {
        Reply::Error(e) => assert!(e.starts_with("NOPERM"), "{e}"),
        other => panic!("{other}"),
    }
    assert_eq!(
        admin.cmd(&["LRANGE", "q1", "0", "-1"]),
        Reply::Array(vec![Reply::Bulk(b"job".to_vec())])
    );
}

/// The ACL file at start, ACL SAVE and ACL LOAD (all or nothing), and `user` lines of a
/// config file.
#[test]
fn acl_files_and_config_file_users() {
    let dir = TempDir::new("aclfile");
    let file = dir.0.join("users.acl");
    std::fs::write(
        &file,
        "user default on >dpw ~* &* +@all\nuser alice on >pw ~a* +@all\n",
    )
    .expect("write");
    let path = file.display().to_string();
    // As in Redis, the ACL file decides the default user's password: requirepass is ignored.
    let s = concord(&["--aclfile", &path, "--requirepass", "ignored"]);
    let mut admin = Conn::open(s.port);
    assert!(
        matches!(admin.cmd(&["AUTH", "ignored"]), Reply::Error(e) if e.starts_with("WRONGPASS"))
    );
    assert_eq!(admin.cmd(&["AUTH", "dpw"]), ok());
    let mut alice = Conn::open(s.port);
    assert_eq!(alice.cmd(&["AUTH", "alice", "pw"]), ok());
    assert_eq!(alice.cmd(&["SET", "a1", "v"]), ok());
    assert!(matches!(alice.cmd(&["SET", "b1", "v"]), Reply::Error(e) if e.starts_with("NOPERM")));
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "bob", "on", ">b", "~*", "+get"]),
        ok()
    );
    assert_eq!(admin.cmd(&["ACL", "SAVE"]), ok());
    let saved = std::fs::read_to_string(&file).expect("read");
    assert!(saved.contains("user bob on"), "{saved}");
    assert!(saved.contains("user alice on"), "{saved}");
    // A broken file changes nothing and says where it is broken.
    std::fs::write(&file, format!("{saved}garbage line\n")).expect("write");
    match admin.cmd(&["ACL", "LOAD"]) {
        Reply::Error(e) => assert!(e.contains(&format!("{path}:")), "{e}"),
        other => panic!("{other}"),
    }
    assert_eq!(alice.cmd(&["GET", "a1"]), Reply::Bulk(b"v".to_vec()));
    // A good one replaces the users and closes the clients of the old ones.
    std::fs::write(&file, format!("{saved}user carol on nopass ~* +@all\n")).expect("write");
    assert_eq!(admin.cmd(&["ACL", "LOAD"]), ok());
    assert_eq!(alice.try_read(), None, "alice's connection was closed");
    let mut carol = Conn::open(s.port);
    assert_eq!(carol.cmd(&["AUTH", "carol", "anything"]), ok());
    assert_eq!(carol.cmd(&["GET", "a1"]), Reply::Bulk(b"v".to_vec()));
    drop(s);
    // `user` lines in a config file; CONFIG GET does not show them.
    let conf = dir.0.join("concord.conf");
    std::fs::write(
        &conf,
        "user dave on >d ~* +@all\nuser erin on \">e e\" ~e* +get\nmaxclients \"77\"\n",
    )
    .expect("write");
    let s = concord(&["--config", &conf.display().to_string()]);
    let mut c = Conn::open(s.port);
    // Quotes in config lines keep blanks, as Redis reads them.
    assert_eq!(c.cmd(&["AUTH", "erin", "e e"]), ok());
    assert_eq!(c.cmd(&["AUTH", "dave", "d"]), ok());
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]),
        Reply::Array(vec![
            Reply::Bulk(b"maxclients".to_vec()),
            Reply::Bulk(b"77".to_vec())
        ])
    );
    assert_eq!(c.cmd(&["AUTH", "dave", "d"]), ok());
    assert_eq!(
        c.cmd(&["ACL", "USERS"]),
        Reply::Array(vec![
            Reply::Bulk(b"dave".to_vec()),
            Reply::Bulk(b"default".to_vec()),
            Reply::Bulk(b"erin".to_vec()),
        ])
    );
    assert_eq!(c.cmd(&["CONFIG", "GET", "user"]), Reply::Array(vec![]));
    drop(s);
    // Both at once is refused at start, as in Redis.
    let out = std::process::Command::new(crate::support::concord_bin())
        .args(["server", "--port", &free_port().to_string(), "--config"])
        .arg(&conf)
        .args(["--aclfile", &path])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("aclfile"));
}

/// Peers link as a user allowed to run CRDT.LINK on every key and channel; a user
/// without that permission is refused, and the dialing side says why. Deleting the user
/// closes the links it holds.
#[test]
fn peer_links_authenticate_as_a_user_allowed_to_link() {
    for (user_rules, refusal) in [
        ("~* &* -@all +crdt.link", None),
        (
            "~* &* -@all +get",
            Some("no permissions to run the 'crdt.link'"),
        ),
        ("-@all +crdt.link", Some("not on every key and channel")),
    ] {
        let dir = TempDir::new("peeruser");
        let conf = dir.0.join("users.conf");
        std::fs::write(&conf, format!("user replicator on >rp {user_rules}\n")).expect("w");
        let ports = [free_port(), free_port()];
        let mut nodes = Vec::new();
        for i in 0..2usize {
            let d = dir.0.join(format!("n{i}"));
            std::fs::create_dir_all(&d).expect("dir");
            let args: Vec<String> = [
                "--config",
                &conf.display().to_string(),
                "--requirepass",
                "admin",
                "--replica-id",
                &(i + 1).to_string(),
                "--peer",
                &format!("{}=127.0.0.1:{}", 2 - i, ports[1 - i]),
                "--peer-user",
                "replicator",
                "--peer-password",
                "rp",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            nodes.push(concord_on(ports[i], &d, &args).expect("start"));
        }
        let mut a = Conn::open(ports[0]);
        let mut b = Conn::open(ports[1]);
        assert_eq!(a.cmd(&["AUTH", "admin"]), ok());
        assert_eq!(b.cmd(&["AUTH", "admin"]), ok());
        let peer_line = |c: &mut Conn, id: u16| {
            let info = match c.cmd(&["INFO", "crdt"]) {
                Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                other => panic!("INFO: {other}"),
            };
            info.lines()
                .find(|l| l.starts_with(&format!("crdt_peer{id}:")))
                .unwrap_or_default()
                .to_string()
        };
        match refusal {
            None => {
                assert_eq!(a.cmd(&["SET", "k", "v"]), ok());
                wait_for(20, "the write to replicate", || {
                    b.cmd(&["GET", "k"]) == Reply::Bulk(b"v".to_vec())
                });
                wait_for(20, "a to serve b's link", || {
                    peer_line(&mut a, 2).contains("served=1")
                });
                // The user goes: the link it holds closes, and b cannot link again.
                assert_eq!(a.cmd(&["ACL", "DELUSER", "replicator"]), Reply::Int(1));
                wait_for(20, "the link to close and stay closed", || {
                    peer_line(&mut a, 2).contains("served=0")
                        && peer_line(&mut b, 1).contains("WRONGPASS")
                });
            }
            Some(why) => {
                wait_for(20, "the refusal to show", || {
                    peer_line(&mut b, 1).contains(why)
                });
            }
        }
        drop(nodes);
    }
}

fn ok() -> Reply {
    Reply::Status("OK".into())
}
