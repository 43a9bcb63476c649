//! Configuration as Redis users write it: redis.conf files (quotes, `include`, `save`
//! lines, Redis's option names and aliases), CONFIG SET of several settings at once
//! compared with redis-server, CONFIG REWRITE, and the log settings.

use crate::support::{Conn, Reply, Rng, TempDir, concord, concord_bin, redis, seed, wait_for};
use std::process::Command;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

/// The value CONFIG GET shows for `name`.
fn get(c: &mut Conn, name: &str) -> Reply {
    match c.cmd(&["CONFIG", "GET", name]) {
        Reply::Array(v) if v.len() == 2 => v[1].clone(),
        other => panic!("CONFIG GET {name}: {other}"),
    }
}

/// Every name CONFIG GET * lists.
fn all_names(c: &mut Conn) -> Vec<String> {
    let Reply::Array(v) = c.cmd(&["CONFIG", "GET", "*"]) else {
        panic!("CONFIG GET *");
    };
    v.chunks(2)
        .map(|p| match &p[0] {
            Reply::Bulk(n) => String::from_utf8_lossy(n).into_owned(),
            other => panic!("a name: {other}"),
        })
        .collect()
}

#[test]
fn a_redis_conf_with_save_maxmemory_and_include_starts() {
    let conf = TempDir::new("conf");
    std::fs::write(
        conf.0.join("part.conf"),
        "# included\nmaxclients 77\nlua-time-limit 1500\n",
    )
    .unwrap();
    std::fs::write(
        conf.0.join("redis.conf"),
        "# Redis configuration file example.\n\
         \n\
         save 900 1\n\
         save 300 10\n\
         maxmemory 100mb\n\
         maxmemory-clients 0\n\
         requirepass \"se cret\"\n\
         hash-max-ziplist-entries 512\n\
         list-max-ziplist-size -2\n\
         list-compress-depth 0\n\
         stream-node-max-entries 100\n\
         slave-read-only yes\n\
         appendonly no\n\
         \ttimeout 'ten'\n",
    )
    .unwrap();
    // A bad value stops the start with Redis's message, naming the line.
    let out = Command::new(concord_bin())
        .current_dir(&conf.0)
        .args(["server", "redis.conf", "--port", "0"])
        .output()
        .expect("run concord");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains("at line 14"), "{err}");
    assert!(err.contains(">>> 'timeout 'ten''"), "{err}");
    assert!(
        err.contains("argument couldn't be parsed into an integer"),
        "{err}"
    );

    // Fixed, and with an include (relative to the working directory, as in Redis).
    let text = std::fs::read_to_string(conf.0.join("redis.conf")).unwrap();
    let text = text.replace("\ttimeout 'ten'", "\ttimeout '10'\ninclude part.conf");
    std::fs::write(conf.0.join("redis.conf"), text).unwrap();
    let path = conf.0.join("redis.conf");
    let s = crate::support::start("conf", |port, dir| {
        let mut c = Command::new(concord_bin());
        c.current_dir(&conf.0)
            .arg("server")
            .arg("redis.conf")
            .args(["--port", &port.to_string(), "--dir"])
            .arg(dir);
        c
    });
    let mut c = Conn::open(s.port);
    assert_eq!(c.cmd(&["AUTH", "se cret"]), Reply::Status("OK".into()));
    assert_eq!(get(&mut c, "save"), bulk("900 1 300 10"));
    assert_eq!(get(&mut c, "maxmemory"), bulk("104857600"));
    assert_eq!(get(&mut c, "timeout"), bulk("10"));
    assert_eq!(get(&mut c, "maxclients"), bulk("77"));
    assert_eq!(get(&mut c, "busy-reply-threshold"), bulk("1500"));
    assert_eq!(get(&mut c, "hash-max-ziplist-entries"), bulk("512"));
    let Reply::Bulk(info) = c.cmd(&["INFO", "server"]) else {
        panic!("INFO");
    };
    let info = String::from_utf8_lossy(&info);
    assert!(
        info.contains(&format!("config_file:{}", path.display())),
        "{info}"
    );
}

#[test]
fn config_file_errors_are_redis_s() {
    let conf = TempDir::new("conf-errors");
    for (text, line, why) in [
        (
            "port 7000\nnosuch-option 1\n",
            2,
            "Bad directive or wrong number of arguments",
        ),
        ("maxclients 1 2\n", 1, "wrong number of arguments"),
        (
            "requirepass \"open\n",
            1,
            "Unbalanced quotes in configuration line",
        ),
        (
            "rename-command CONFIG \"\"\n",
            1,
            "rename-command is not supported",
        ),
        ("maxmemory 1.5gb\n", 1, "argument must be a memory value"),
        ("save 900\n", 1, "Invalid save parameters"),
    ] {
        let path = conf.0.join("bad.conf");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(concord_bin())
            .args(["server", "--config"])
            .arg(&path)
            .args(["--port", "0"])
            .output()
            .expect("run concord");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(err.contains(&format!("at line {line}")), "{text}: {err}");
        assert!(err.contains(why), "{text}: {err}");
    }
    // A file that includes itself is refused, not followed forever.
    let path = conf.0.join("loop.conf");
    std::fs::write(&path, format!("include {}\n", path.display())).unwrap();
    let out = Command::new(concord_bin())
        .args(["server", "--config"])
        .arg(&path)
        .output()
        .expect("run concord");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("include loop"), "{err}");
}

/// Random CONFIG SET commands of one to three pairs, drawn from values on which Concord
/// and Redis agree, get the same replies from both, and leave the same settings.
#[test]
fn config_set_matches_redis() {
    const POOL: &[(&str, &[&str])] = &[
        ("timeout", &["0", "5", "abc"]),
        ("tcp-keepalive", &["300", "60", "x"]),
        ("maxclients", &["10000", "100", "abc"]),
        ("busy-reply-threshold", &["5000", "100", "abc"]),
        ("lua-time-limit", &["5000", "200", "1k"]),
        ("maxmemory", &["0", "1gb", "1GB", "1.5gb", "-1", "10mb"]),
        ("maxmemory-clients", &["0", "0%", "101%", "abc"]),
        ("save", &["", "900 1", "900 1 300 10", "900", "a b"]),
        ("hash-max-ziplist-entries", &["512", "x"]),
        ("list-max-ziplist-size", &["-2", "x"]),
        ("list-compress-depth", &["0", "x"]),
        ("stream-node-max-entries", &["100", "x"]),
        ("slave-read-only", &["yes", "maybe"]),
        ("loglevel", &["notice", "warning", "verbose"]),
        ("logfile", &["x"]),
        ("daemonize", &["no"]),
        ("nosuch", &["1"]),
        ("MAXCLIENTS", &["10000"]),
    ];
    const SHOWN: &[&str] = &[
        "timeout",
        "tcp-keepalive",
        "maxclients",
        "busy-reply-threshold",
        "lua-time-limit",
        "maxmemory",
        "maxmemory-clients",
        "save",
        "loglevel",
    ];
    let (ours, theirs) = (concord(&[]), redis());
    let (mut a, mut b) = (Conn::open(ours.port), Conn::open(theirs.port));
    let seed = seed();
    let mut rng = Rng::new(seed);
    let mut fixed: Vec<Vec<&str>> = vec![
        vec!["CONFIG", "SET", "maxclients", "abc", "nosuch", "1"],
        vec!["CONFIG", "SET", "maxclients", "100", "maxclients", "200"],
        vec!["CONFIG", "SET", "MAXCLIENTS", "100", "maxclients", "200"],
        vec!["CONFIG", "SET", "daemonize", "yes", "nosuch", "1"],
        vec!["CONFIG", "SET", "timeout", "5", "maxclients", "abc"],
        vec![
            "CONFIG",
            "SET",
            "lua-time-limit",
            "100",
            "busy-reply-threshold",
            "200",
        ],
        vec!["CONFIG", "SET", "maxclients"],
        vec!["CONFIG", "SET", "maxclients", "1", "2"],
        vec!["CONFIG", "SET", "save", "900 1 300 10", "timeout", "x"],
    ];
    for _ in 0..300 {
        let mut cmd = vec!["CONFIG", "SET"];
        for _ in 0..=rng.below(3) {
            let (name, values) = rng.pick(POOL);
            cmd.push(name);
            cmd.push(rng.pick(values));
        }
        fixed.push(cmd);
    }
    for cmd in &fixed {
        let (x, y) = (a.cmd(cmd), b.cmd(cmd));
        assert_eq!(x, y, "seed {seed}: {cmd:?}");
        for name in SHOWN {
            assert_eq!(
                get(&mut a, name),
                get(&mut b, name),
                "seed {seed}: {name} after {cmd:?}"
            );
        }
    }
}

/// Every setting redis-server 7.0 lists is one of Concord's, or the README says why not.
#[test]
fn every_redis_setting_is_known_or_documented() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README");
    let missing_section = readme
        .split("## Not implemented, and why")
        .nth(1)
        .expect("a \"Not implemented, and why\" section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let (ours, theirs) = (concord(&[]), redis());
    let known = all_names(&mut Conn::open(ours.port));
    let mut undocumented = Vec::new();
    for name in all_names(&mut Conn::open(theirs.port)) {
        if !known.contains(&name) && !missing_section.contains(&format!("`{name}`")) {
            undocumented.push(name);
        }
    }
    assert!(
        undocumented.is_empty(),
        "neither settings nor in the README's list: {undocumented:?}"
    );
}

#[test]
fn config_rewrite_round_trip() {
    // Without a config file both refuse alike.
    let theirs = redis();
    let ours = concord(&[]);
    assert_eq!(
        Conn::open(ours.port).cmd(&["CONFIG", "REWRITE"]),
        Conn::open(theirs.port).cmd(&["CONFIG", "REWRITE"])
    );
    drop(ours);

    let conf = TempDir::new("rewrite");
    let path = conf.0.join("concord.conf");
    std::fs::write(
        &path,
        "# my settings\nmaxclients 50\n\n# keep me\nsave 900 1\nsave 300 10\n",
    )
    .unwrap();
    let path_s = path.display().to_string();
    let mut s = concord(&["--config", &path_s]);
    let mut c = Conn::open(s.port);
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "maxclients",
            "60",
            "timeout",
            "30",
            "save",
            "60 5",
            "requirepass",
            "two words"
        ]),
        Reply::Status("OK".into())
    );
    assert_eq!(c.cmd(&["AUTH", "two words"]), Reply::Status("OK".into()));
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), Reply::Status("OK".into()));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(
            "# my settings\nmaxclients 60\n\n# keep me\nsave 60 5\n# Generated by CONFIG REWRITE\n"
        ),
        "{text}"
    );
    assert!(text.contains("\ntimeout 30\n"), "{text}");
    assert!(text.contains("\nrequirepass \"two words\"\n"), "{text}");
    let leftovers = std::fs::read_dir(&conf.0).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left");

    // The same file after a restart gives the same settings.
    s.stop();
    let s = concord(&["--config", &path_s]);
    let mut c = Conn::open(s.port);
    assert_eq!(c.cmd(&["AUTH", "two words"]), Reply::Status("OK".into()));
    assert_eq!(get(&mut c, "maxclients"), bulk("60"));
    assert_eq!(get(&mut c, "timeout"), bulk("30"));
    assert_eq!(get(&mut c, "save"), bulk("60 5"));
}

#[test]
fn save_points_take_snapshots() {
    let s = concord(&["--save", "1", "1"]);
    let mut c = Conn::open(s.port);
    assert_eq!(get(&mut c, "save"), bulk("1 1"));
    let Reply::Int(before) = c.cmd(&["LASTSAVE"]) else {
        panic!("LASTSAVE");
    };
    assert_eq!(c.cmd(&["SET", "k", "v"]), Reply::Status("OK".into()));
    wait_for(
        15,
        "a snapshot by the save point",
        || matches!(c.cmd(&["LASTSAVE"]), Reply::Int(t) if t > before),
    );
    // Without writes no further snapshot is taken.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "save", ""]),
        Reply::Status("OK".into())
    );
    assert_eq!(get(&mut c, "save"), bulk(""));
}

#[test]
fn the_log_goes_where_logfile_says_without_colours() {
    let dir = TempDir::new("logfile");
    let log = dir.0.join("concord.log");
    let log_s = log.display().to_string();
    let mut s = concord(&["--logfile", &log_s, "--loglevel", "notice"]);
    let mut c = Conn::open(s.port);
    wait_for(10, "the ready line in the log file", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("ready to accept connections"))
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\x1b'), "no colour codes in a file: {text}");
    assert_eq!(get(&mut c, "logfile"), bulk(&log_s));
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "loglevel", "warning"]),
        Reply::Status("OK".into())
    );
    assert_eq!(get(&mut c, "loglevel"), bulk("warning"));
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "logfile", "/tmp/x"]),
        Reply::Error(
            "ERR CONFIG SET failed (possibly related to argument 'logfile') - can't set immutable config"
                .into()
        )
    );
    // From now on notices are left out (SHUTDOWN logs one).
    // It closes the connection without a reply.
    c.send_raw(&Conn::encode(&[b"SHUTDOWN".to_vec(), b"NOSAVE".to_vec()]));
    wait_for(20, "the instance to stop", || s.exited());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("SHUTDOWN"), "{text}");
}

/// Every setting both list has Redis's default, but for the few Concord chooses
/// differently on purpose.
#[test]
fn defaults_match_redis() {
    // Concord's own choices: loopback only, one database, a backlog sized for peers.
    const OWN: &[&str] = &[
        "bind",
        "databases",
        "port",
        "dir",
        "repl-backlog-size",
        "latency-tracking",
    ];
    let (ours, theirs) = (concord(&[]), redis());
    let (mut a, mut b) = (Conn::open(ours.port), Conn::open(theirs.port));
    let ours_names = all_names(&mut a);
    for name in all_names(&mut b) {
        if ours_names.contains(&name) && !OWN.contains(&name.as_str()) {
            assert_eq!(get(&mut a, &name), get(&mut b, &name), "{name}");
        }
    }
}
