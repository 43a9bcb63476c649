//! Unit tests of the command table: ids, resolution, key finding on hostile arguments,
//! legacy ranges and implicit categories, checked against what Redis 7.2 does.

use super::*;
use concord_acl::Category;

fn id(name: &str) -> CommandId {
    lookup_full_name(name.as_bytes()).unwrap_or_else(|| panic!("no command {name}"))
}

fn args(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

fn view(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(|a| &a[..]).collect()
}

/// The keys of a request, with their flag names.
fn found(words: &[&str]) -> Vec<(String, Vec<&'static str>)> {
    let owned = args(words);
    let a = view(&owned);
    let Ok(c) = resolve(&a) else {
        panic!("{words:?} does not resolve");
    };
    keys(c, &a)
        .iter()
        .map(|k| (words[k.pos].to_string(), k.flags.names()))
        .collect()
}

/// The key names only.
fn names(words: &[&str]) -> Vec<String> {
    found(words).into_iter().map(|(k, _)| k).collect()
}

fn reject(words: &[&str]) -> String {
    let owned = args(words);
    match resolve(&view(&owned)) {
        Ok(c) => panic!("{words:?} resolved to {}", full_name(c)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn ids_are_dense_and_top_level_first() {
    let n = COMMANDS.len();
    assert!(command_count() > n);
    for (i, c) in COMMANDS.iter().enumerate() {
        assert!(std::ptr::eq(spec(i), c));
        assert_eq!(full_name(i), c.name);
        assert_eq!(parent(i), None);
        assert_eq!(command_id(c.name.to_uppercase().as_bytes()), Some(i));
        assert_eq!(subcommand_ids(i).len(), c.subcommands.len());
    }
    for sub in n..command_count() {
        let p = parent(sub).expect("a subcommand has a container");
        assert!(p < n);
        assert!(subcommand_ids(p).contains(&sub));
        assert_eq!(
            full_name(sub),
            format!("{}|{}", spec(p).name, spec(sub).name)
        );
        assert_eq!(lookup_full_name(full_name(sub).as_bytes()), Some(sub));
        assert_eq!(
            find_subcommand(p, spec(sub).name.to_uppercase().as_bytes()),
            Some(sub)
        );
    }
    assert_eq!(lookup_full_name(b"CONFIG|Get"), Some(id("config|get")));
    for bad in ["", "get|x", "config|", "|get", "config|get|x", "nosuch"] {
        assert_eq!(lookup_full_name(bad.as_bytes()), None, "{bad}");
    }
}

#[test]
fn containers_keep_exactly_their_subcommands() {
    let subs = |c: &str| -> Vec<&str> {
        subcommand_ids(id(c))
            .iter()
            .map(|&s| spec(s).name)
            .collect()
    };
    assert_eq!(
        subs("object"),
        ["encoding", "freq", "idletime", "refcount", "help"]
    );
    assert_eq!(
        subs("command"),
        [
            "count",
            "info",
            "docs",
            "list",
            "getkeys",
            "getkeysandflags",
            "help"
        ]
    );
    assert_eq!(
        subs("config"),
        ["get", "set", "resetstat", "rewrite", "help"]
    );
    assert_eq!(
        subs("function"),
        [
            "delete", "dump", "flush", "help", "kill", "list", "load", "restore", "stats"
        ]
    );
    assert_eq!(
        subs("script"),
        ["debug", "exists", "flush", "help", "kill", "load"]
    );
    assert_eq!(
        subs("acl"),
        [
            "cat", "deluser", "dryrun", "genpass", "getuser", "help", "list", "load", "log",
            "save", "setuser", "users", "whoami"
        ]
    );
    assert_eq!(subs("xinfo"), ["stream", "groups", "consumers", "help"]);
    let with: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| !c.subcommands.is_empty())
        .map(|c| c.name)
        .collect();
    assert_eq!(
        with,
        [
            "client", "pubsub", "command", "config", "acl", "slowlog", "memory", "latency",
            "function", "script", "object", "xinfo", "xgroup"
        ]
    );
    assert_eq!(subs("slowlog"), ["get", "len", "reset", "help"]);
    assert_eq!(
        subs("latency"),
        [
            "latest",
            "history",
            "reset",
            "doctor",
            "graph",
            "histogram",
            "help"
        ]
    );
}

#[test]
fn resolve_finds_commands_and_checks_arity() {
    let ok = |w: &[&str]| {
        let owned = args(w);
        resolve(&view(&owned)).map(full_name)
    };
    assert_eq!(ok(&["GET", "k"]), Ok("get"));
    assert_eq!(ok(&["config", "GET", "x"]), Ok("config|get"));
    assert_eq!(ok(&["command"]), Ok("command"));
    assert_eq!(ok(&["Command", "info"]), Ok("command|info"));
    assert_eq!(
        reject(&["get"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        reject(&["config", "get"]),
        "ERR wrong number of arguments for 'config|get' command"
    );
    // A container named alone is the container, with its own arity.
    assert_eq!(
        reject(&["CONFIG"]),
        "ERR wrong number of arguments for 'config' command"
    );
    assert_eq!(
        reject(&["config", "x"]),
        "ERR unknown subcommand 'x'. Try CONFIG HELP."
    );
    assert_eq!(
        reject(&["xGroup", "nope", "a"]),
        "ERR unknown subcommand 'nope'. Try XGROUP HELP."
    );
    assert_eq!(
        reject(&["command", "getkeys"]),
        "ERR wrong number of arguments for 'command|getkeys' command"
    );
    // The same texts through the server's check.
    let owned = args(&["config", "x"]);
    assert_eq!(
        check_subcommand(id("config"), &view(&owned)),
        Err("ERR unknown subcommand 'x'. Try CONFIG HELP.".to_string())
    );
    let owned = args(&["command"]);
    assert_eq!(check_subcommand(id("command"), &view(&owned)), Ok(()));
    let owned = args(&["get", "k", "x"]);
    assert_eq!(check_subcommand(id("get"), &view(&owned)), Ok(()));
}

#[test]
fn unknown_command_texts_are_redis_s() {
    assert_eq!(
        reject(&["nosuch", "a", "b"]),
        "ERR unknown command 'nosuch', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        reject(&["nosuch"]),
        "ERR unknown command 'nosuch', with args beginning with: "
    );
    // Line breaks become spaces; a NUL ends the text as in C.
    assert_eq!(
        reject(&["no\r\nsuch", "a\0b"]),
        "ERR unknown command 'no  such', with args beginning with: 'a' "
    );
    // The quoted arguments stop once they reach 128 bytes, the last one cut to fit.
    let long = "x".repeat(200);
    let got = reject(&["nosuch", "ab", &long, "c"]);
    let want = format!(
        "ERR unknown command 'nosuch', with args beginning with: 'ab' '{}' ",
        "x".repeat(128 - 5)
    );
    assert_eq!(got, want);
    let got = reject(&[&"n".repeat(300)]);
    assert!(got.contains(&format!("'{}'", "n".repeat(128))));
    assert_eq!(
        reject(&["config", &"s".repeat(300)]),
        format!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            "s".repeat(128)
        )
    );
    let none: [&[u8]; 0] = [];
    assert!(matches!(
        resolve(&none),
        Err(Rejection::UnknownCommand { .. })
    ));
}

#[test]
fn keys_from_range_specs() {
    assert_eq!(found(&["get", "k"]), [("k".into(), vec!["RO", "access"])]);
    assert_eq!(names(&["mset", "a", "1", "b", "2"]), ["a", "b"]);
    // MSET's arity is -3: an odd count still takes every second argument.
    assert_eq!(names(&["mset", "a", "1", "b"]), ["a", "b"]);
    assert_eq!(names(&["del", "a", "b", "c"]), ["a", "b", "c"]);
    assert_eq!(names(&["blpop", "a", "b", "0"]), ["a", "b"]);
    assert_eq!(
        found(&["bitop", "and", "d", "s1", "s2"]),
        [
            ("d".into(), vec!["OW", "update"]),
            ("s1".into(), vec!["RO", "access"]),
            ("s2".into(), vec!["RO", "access"])
        ]
    );
    assert_eq!(names(&["lcs", "a", "b", "len"]), ["a", "b"]);
    assert_eq!(names(&["object", "encoding", "k"]), ["k"]);
    assert_eq!(
        found(&["xgroup", "create", "s", "g", "$"]),
        [("s".into(), vec!["RW", "insert"])]
    );
    assert_eq!(names(&["ping"]), Vec::<String>::new());
}

#[test]
fn keys_with_variable_flags() {
    assert_eq!(
        found(&["set", "k", "v"]),
        [("k".into(), vec!["OW", "update"])]
    );
    let rw = vec!["RW", "access", "update"];
    assert_eq!(
        found(&["set", "k", "v", "nx", "GeT"]),
        [("k".into(), rw.clone())]
    );
    // GET in the value's place is the value.
    assert_eq!(
        found(&["set", "k", "get"]),
        [("k".into(), vec!["OW", "update"])]
    );
    // Redis compares C strings: a NUL ends the word.
    assert_eq!(
        found(&["set", "k", "v", "get\0x"]),
        [("k".into(), rw.clone())]
    );
    let ro = vec!["RO", "access"];
    assert_eq!(found(&["bitfield", "k"]), [("k".into(), ro.clone())]);
    assert_eq!(
        found(&[
            "bitfield", "k", "get", "u8", "0", "overflow", "wrap", "GET", "i4", "1"
        ]),
        [("k".into(), ro.clone())]
    );
    assert_eq!(
        found(&["bitfield", "k", "get", "u8", "0", "set", "u8", "0", "1"]),
        [("k".into(), rw.clone())]
    );
    // A malformed operation counts as a write.
    assert_eq!(
        found(&["bitfield", "k", "get", "u8"]),
        [("k".into(), rw.clone())]
    );
    assert_eq!(
        found(&["bitfield_ro", "k", "get", "u8", "0"]),
        [("k".into(), ro)]
    );
}

#[test]
fn keys_with_counts() {
    assert_eq!(
        names(&["zunionstore", "d", "2", "a", "b", "weights", "1", "2"]),
        ["d", "a", "b"]
    );
    assert_eq!(names(&["zunion", "2", "a", "b", "withscores"]), ["a", "b"]);
    assert_eq!(names(&["zintercard", "1", "a", "limit", "3"]), ["a"]);
    assert_eq!(names(&["sintercard", "2", "a", "b"]), ["a", "b"]);
    assert_eq!(names(&["lmpop", "2", "a", "b", "left"]), ["a", "b"]);
    assert_eq!(
        names(&["blmpop", "0", "1", "a", "left", "count", "2"]),
        ["a"]
    );
    assert_eq!(names(&["zdiffstore", "d", "1", "a"]), ["d", "a"]);
    let none = Vec::<String>::new();
    // Hostile counts: past the end, zero, negative, not numbers, huge.
    for n in [
        "3",
        "0",
        "-1",
        "abc",
        "",
        "99999999999",
        "9223372036854775807",
        "-9223372036854775808",
    ] {
        assert_eq!(names(&["zunion", n, "a", "b"]), none, "numkeys {n:?}");
        assert_eq!(
            names(&["zunionstore", "d", n, "a", "b"]),
            none,
            "numkeys {n:?}"
        );
        assert_eq!(names(&["lmpop", n, "a", "left"]), none, "numkeys {n:?}");
        assert_eq!(
            names(&["blmpop", "0", n, "a", "left"]),
            none,
            "numkeys {n:?}"
        );
    }
    // Redis keeps the count in a C int: 2^32 + 1 is 1 there.
    assert_eq!(names(&["zunion", "4294967297", "a"]), ["a"]);
    assert_eq!(names(&["zunionstore", "d", "4294967297", "a"]), ["d", "a"]);
    // A count string2ll refuses falls back to atoi, whose keys carry no flags and put the
    // destination last.
    assert_eq!(
        found(&["zunionstore", "d", " 1", "a"]),
        [("a".into(), vec![]), ("d".into(), vec![])]
    );
    assert_eq!(names(&["zunion", "1abc", "a"]), ["a"]);
    assert_eq!(names(&["zunion", "+1", "a"]), ["a"]);
    assert_eq!(names(&["lmpop", "01", "a", "left"]), ["a"]);
}

#[test]
fn keys_after_keywords() {
    assert_eq!(
        found(&["xread", "count", "2", "streams", "a", "b", "0", "0"]),
        [
            ("a".into(), vec!["RO", "access"]),
            ("b".into(), vec!["RO", "access"])
        ]
    );
    // Half of what follows STREAMS, rounded down, as Redis's spec counts.
    assert_eq!(names(&["xread", "streams", "a", "b", "0"]), ["a"]);
    assert_eq!(
        names(&["xread", "streams", "a", "b", "c", "d", "e"]),
        ["a", "b"]
    );
    // The first STREAMS wins, even as an option's value.
    assert_eq!(
        names(&["xread", "count", "streams", "streams", "a", "0"]),
        ["streams"]
    );
    assert_eq!(
        names(&["xread", "count", "1", "block", "0", "x"]),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&[
            "xreadgroup",
            "group",
            "g",
            "c",
            "streams",
            "a",
            "b",
            "0",
            ">"
        ]),
        ["a", "b"]
    );
    assert_eq!(
        names(&[
            "georadius",
            "k",
            "0",
            "0",
            "1",
            "km",
            "store",
            "a",
            "storedist",
            "b"
        ]),
        ["k", "a", "b"]
    );
    assert_eq!(
        found(&["georadiusbymember", "k", "m", "1", "km", "STORE", "d"]),
        [
            ("k".into(), vec!["RO", "access"]),
            ("d".into(), vec!["OW", "update"])
        ]
    );
    // A keyword in last place has no key after it.
    assert_eq!(
        names(&["georadius", "k", "0", "0", "1", "km", "store"]),
        ["k"]
    );
}

#[test]
fn fallback_finders_match_redis() {
    let k = |f: GetKeysFn, w: &[&str]| -> Vec<usize> {
        let owned = args(w);
        f(&view(&owned)).iter().map(|k| k.pos).collect()
    };
    use super::getkeys as g;
    assert_eq!(
        k(g::xread, &["xread", "block", "0", "streams", "a", "0"]),
        [4]
    );
    assert_eq!(
        k(g::xread, &["xread", "streams", "a", "b", "0"]),
        Vec::<usize>::new()
    );
    assert_eq!(k(g::xread, &["xread", "noack", "streams", "a", "0"]), [3]);
    assert_eq!(
        k(g::xread, &["xread", "group", "g", "c", "streams", "a", "0"]),
        [5]
    );
    assert_eq!(k(g::xread, &["xread", "streams"]), Vec::<usize>::new());
    // GEORADIUS's own finder keeps only the last destination.
    assert_eq!(
        k(
            g::georadius,
            &[
                "georadius",
                "k",
                "0",
                "0",
                "1",
                "km",
                "store",
                "a",
                "storedist",
                "b"
            ]
        ),
        [1, 9]
    );
    for f in [
        g::set,
        g::bitfield,
        g::georadius,
        g::xread,
        g::zunion_inter_diff,
        g::zunion_inter_diff_store,
        g::blmpop,
    ] {
        assert_eq!(k(f, &[]), Vec::<usize>::new());
        assert_eq!(k(f, &["x"]), Vec::<usize>::new());
    }
}

/// A small deterministic generator, for hostile argument lists.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn no_request_panics_or_reaches_past_its_arguments() {
    let words: &[&[u8]] = &[
        b"0",
        b"1",
        b"-1",
        b"2",
        b"3",
        b"99999999999",
        b"4294967297",
        b"-2147483648",
        b"abc",
        b"",
        b"streams",
        b"STORE",
        b"storedist",
        b"get",
        b"set",
        b"incrby",
        b"overflow",
        b"group",
        b"block",
        b"count",
        b"noack",
        b"\0",
        b"get\0",
        b" 7",
        b"k",
    ];
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for id in 0..command_count() {
        let s = spec(id);
        let prefix: Vec<&[u8]> = match parent(id) {
            Some(p) => vec![spec(p).name.as_bytes(), s.name.as_bytes()],
            None => vec![s.name.as_bytes()],
        };
        for _ in 0..300 {
            let mut a = prefix.clone();
            for _ in 0..r.next() % 9 {
                a.push(words[(r.next() % words.len() as u64) as usize]);
            }
            for k in keys(id, &a) {
                assert!(
                    k.pos < a.len() && k.pos >= prefix.len(),
                    "{}: {a:?}",
                    full_name(id)
                );
            }
            for c in channels(id, &a) {
                assert!(c.pos < a.len() && c.pos >= 1);
            }
        }
    }
}

#[test]
fn channels_by_role() {
    let ch = |w: &[&str]| -> Vec<(usize, bool, ChannelRole)> {
        let owned = args(w);
        let a = view(&owned);
        channels(command_id(a[0]).expect("command"), &a)
            .iter()
            .map(|c| (c.pos, c.pattern, c.role))
            .collect()
    };
    assert_eq!(
        ch(&["publish", "c", "m"]),
        [(1, false, ChannelRole::Publish)]
    );
    assert_eq!(ch(&["publish"]), []);
    assert_eq!(
        ch(&["subscribe", "a", "b"]),
        [
            (1, false, ChannelRole::Subscribe),
            (2, false, ChannelRole::Subscribe)
        ]
    );
    assert_eq!(
        ch(&["psubscribe", "a*"]),
        [(1, true, ChannelRole::Subscribe)]
    );
    assert_eq!(ch(&["unsubscribe"]), []);
    assert_eq!(
        ch(&["punsubscribe", "a*"]),
        [(1, true, ChannelRole::Unsubscribe)]
    );
    assert_eq!(
        ch(&["unsubscribe", "a"]),
        [(1, false, ChannelRole::Unsubscribe)]
    );
    assert_eq!(ch(&["get", "k"]), []);
}

#[test]
fn legacy_ranges_and_movable_keys() {
    let r = |n: &str| (legacy_range(id(n)), movable_keys(id(n)));
    assert_eq!(r("get"), ((1, 1, 1), false));
    assert_eq!(r("set"), ((1, 1, 1), false));
    assert_eq!(r("mset"), ((1, -1, 2), false));
    assert_eq!(r("del"), ((1, -1, 1), false));
    assert_eq!(r("blpop"), ((1, -2, 1), false));
    assert_eq!(r("lcs"), ((1, 2, 1), false));
    assert_eq!(r("rename"), ((1, 2, 1), false));
    assert_eq!(r("bitop"), ((2, -1, 1), false));
    assert_eq!(r("sinterstore"), ((1, -1, 1), false));
    assert_eq!(r("geosearchstore"), ((1, 2, 1), false));
    assert_eq!(r("zunionstore"), ((1, 1, 1), true));
    assert_eq!(r("georadius"), ((1, 1, 1), true));
    assert_eq!(r("zunion"), ((0, 0, 0), true));
    assert_eq!(r("xread"), ((0, 0, 0), true));
    assert_eq!(r("blmpop"), ((0, 0, 0), true));
    assert_eq!(r("zmpop"), ((0, 0, 0), true));
    assert_eq!(r("bzpopmin"), ((1, -2, 1), false));
    assert_eq!(r("sort"), ((1, 1, 1), true));
    assert_eq!(r("sort_ro"), ((1, 1, 1), true));
    assert_eq!(r("ping"), ((0, 0, 0), false));
    assert_eq!(r("config"), ((0, 0, 0), false));
    assert_eq!(r("object|encoding"), ((2, 2, 1), false));
}

#[test]
fn implicit_categories_follow_the_flags() {
    let cats =
        |n: &str| -> Vec<&str> { acl_categories(id(n)).iter().map(Category::name).collect() };
    assert_eq!(cats("get"), ["read", "string", "fast"]);
    assert_eq!(cats("set"), ["write", "string", "slow"]);
    assert_eq!(cats("blpop"), ["write", "list", "slow", "blocking"]);
    assert_eq!(cats("config|get"), ["admin", "slow", "dangerous"]);
    assert_eq!(cats("config"), ["slow"]);
    assert_eq!(cats("subscribe"), ["pubsub", "slow"]);
    assert_eq!(cats("publish"), ["pubsub", "fast"]);
    assert_eq!(cats("info"), ["slow", "dangerous"]);
    assert_eq!(cats("lastsave"), ["admin", "fast", "dangerous"]);
    assert_eq!(cats("flushall"), ["keyspace", "write", "slow", "dangerous"]);
    assert_eq!(cats("keys"), ["keyspace", "read", "slow", "dangerous"]);
    assert_eq!(cats("function|flush"), ["write", "slow", "scripting"]);
    assert_eq!(
        cats("client|kill"),
        ["admin", "slow", "dangerous", "connection"]
    );
    for n in [
        "crdt.link",
        "crdt.sync",
        "crdt.digest",
        "crdt.member",
        "crdt.writes",
        "crdt.flush",
    ] {
        let c = acl_categories(id(n));
        assert!(c.has(Category::Admin) && c.has(Category::Dangerous), "{n}");
        assert!(!has_keys(id(n)), "{n}");
    }
}

#[test]
fn flags_concord_reads() {
    let with = |f: Flags| -> Vec<&str> {
        let mut v: Vec<&str> = COMMANDS
            .iter()
            .filter(|c| c.flags.has(f))
            .map(|c| c.name)
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        with(Flags::NOT_QUEUED),
        ["discard", "exec", "multi", "quit", "reset", "watch"]
    );
    assert_eq!(
        with(Flags::SUBSCRIBED_OK),
        [
            "ping",
            "psubscribe",
            "punsubscribe",
            "quit",
            "reset",
            "ssubscribe",
            "subscribe",
            "sunsubscribe",
            "unsubscribe"
        ]
    );
    assert_eq!(with(Flags::NO_AUTH), ["auth", "hello", "quit", "reset"]);
    // Concord's flags and the hidden ones never show.
    let all = Flags(u64::MAX);
    assert_eq!(
        all.names(),
        [
            "write",
            "readonly",
            "denyoom",
            "module",
            "admin",
            "pubsub",
            "noscript",
            "blocking",
            "loading",
            "stale",
            "skip_monitor",
            "skip_slowlog",
            "asking",
            "fast",
            "no_auth",
            "no_mandatory_keys",
            "no_async_loading",
            "no_multi",
            "movablekeys",
            "allow_busy"
        ]
    );
    assert_eq!(
        KeyFlags(u16::MAX).names(),
        [
            "RO",
            "RW",
            "OW",
            "RM",
            "access",
            "update",
            "insert",
            "delete",
            "not_key",
            "incomplete",
            "variable_flags"
        ]
    );
    assert_eq!((Flags::WRITE | Flags::FAST).names(), ["write", "fast"]);
}

#[test]
fn command_replies_through_the_engine() {
    let mut e = crate::Engine::new(Default::default());
    let mut run = |w: &[&str]| -> String {
        let owned = args(w);
        let mut out = concord_resp::Out::new();
        assert!(e.execute(&view(&owned), &mut out));
        String::from_utf8_lossy(&out.buf).into_owned()
    };
    assert_eq!(
        run(&["command", "count"]),
        format!(":{}\r\n", COMMANDS.len())
    );
    assert_eq!(
        run(&["command", "info", "get"]),
        "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
         *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n\
         +access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n\
         *2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n\
         $4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n\
         *0\r\n"
    );
    assert_eq!(run(&["command", "info", "nosuch"]), "*1\r\n$-1\r\n");
    assert_eq!(
        run(&["command", "getkeys", "get", "k"]),
        "*1\r\n$1\r\nk\r\n"
    );
    assert_eq!(
        run(&["command", "getkeysandflags", "set", "k", "v"]),
        "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"
    );
    assert_eq!(
        run(&["command", "getkeys", "nosuch", "k"]),
        "-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        run(&["command", "getkeys", "ping", "k"]),
        "-ERR The command has no key arguments\r\n"
    );
    assert_eq!(
        run(&["command", "getkeys", "get", "k", "x"]),
        "-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(
        run(&["command", "getkeys", "zunion", "5", "a"]),
        "-ERR Invalid arguments specified for command\r\n"
    );
    assert_eq!(
        run(&["command", "list", "filterby", "pattern", "config|*"]),
        "*5\r\n$10\r\nconfig|get\r\n$10\r\nconfig|set\r\n$16\r\nconfig|resetstat\r\n\
         $14\r\nconfig|rewrite\r\n$11\r\nconfig|help\r\n"
    );
    assert_eq!(
        run(&["command", "list", "filterby", "aclcat", "nosuch"]),
        "*0\r\n"
    );
    assert_eq!(
        run(&["command", "list", "filterby", "module", "x"]),
        "*0\r\n"
    );
    assert_eq!(
        run(&["command", "list", "filterby"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        run(&["command", "nosuch"]),
        "-ERR unknown subcommand 'nosuch'. Try COMMAND HELP.\r\n"
    );
    let list = run(&["command", "list"]);
    assert!(list.starts_with(&format!("*{}\r\n", command_count())));
    assert!(
        run(&["command", "docs", "config", "nosuch"])
            .starts_with("*2\r\n$6\r\nconfig\r\n*10\r\n$7\r\nsummary\r\n")
    );
    assert!(run(&["command", "help"]).starts_with("*19\r\n+COMMAND <subcommand>"));
}

#[test]
fn sort_finds_its_key_and_the_last_store_destination() {
    assert_eq!(
        found(&[
            "sort", "k", "limit", "0", "1", "store", "d", "get", "x", "STORE", "e"
        ]),
        [
            ("k".to_string(), vec!["RO", "access"]),
            ("e".to_string(), vec!["OW", "update"])
        ]
    );
    // Option arguments are skipped: a STORE there is not the keyword.
    assert_eq!(names(&["sort", "k", "get", "store", "x"]), ["k"]);
    assert_eq!(names(&["sort", "k", "limit", "store", "d", "x"]), ["k"]);
    assert_eq!(names(&["sort", "k", "store"]), ["k"]);
    assert_eq!(names(&["sort", "k", "store", "store", "x"]), ["k", "x"]);
    assert_eq!(names(&["sort_ro", "k", "store", "d"]), ["k"]);
    assert_eq!(names(&["zmpop", "2", "a", "b", "min"]), ["a", "b"]);
    assert_eq!(names(&["bzmpop", "0", "1", "a", "max"]), ["a"]);
    assert_eq!(names(&["bzpopmax", "a", "b", "0"]), ["a", "b"]);
}

/// Every command and subcommand of Redis's has its COMMAND DOCS data, found by full name.
#[test]
fn docs_cover_the_table() {
    for id in 0..command_count() {
        let name = full_name(id);
        if name.starts_with("crdt.") {
            continue;
        }
        assert!(
            crate::table::docs_types::doc(name).is_some(),
            "no docs for {name}"
        );
    }
}
