//! Server and scripting commands (Redis's `server` and `scripting` groups), and Concord's
//! own CRDT.* commands.

use crate::cmd::{introspect, server};
use crate::table::getkeys;
use crate::table::spec::{CommandSpec, Flags, KeySpec, acl, cmd, flags, kf};

pub(super) const COMMANDS: &[CommandSpec] = &[
    cmd("command", -1, "server", "2.8.13")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection])
        .subs(COMMAND)
        .run(introspect::command),
    cmd("info", -1, "server", "1.0.0")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Dangerous]),
    cmd("config", -2, "server", "2.0.0").subs(CONFIG),
    cmd("acl", -2, "server", "6.0.0")
        .flags(flags![SENTINEL])
        .subs(ACL),
    cmd("save", 1, "server", "1.0.0").flags(flags![NO_ASYNC_LOADING, ADMIN, NOSCRIPT, NO_MULTI]),
    cmd("bgsave", -1, "server", "1.0.0").flags(flags![NO_ASYNC_LOADING, ADMIN, NOSCRIPT]),
    cmd("bgrewriteaof", 1, "server", "1.0.0").flags(flags![NO_ASYNC_LOADING, ADMIN, NOSCRIPT]),
    cmd("lastsave", 1, "server", "1.0.0")
        .flags(flags![LOADING, STALE, FAST])
        .acl(acl![Admin, Dangerous]),
    cmd("shutdown", -1, "server", "1.0.0").flags(flags![
        ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI, SENTINEL, ALLOW_BUSY
    ]),
    cmd("time", 1, "server", "2.6.0").flags(flags![LOADING, STALE, FAST]),
    cmd("slowlog", -2, "server", "2.2.12").subs(SLOWLOG),
    cmd("monitor", 1, "server", "1.0.0").flags(flags![ADMIN, NOSCRIPT, LOADING, STALE]),
    cmd("memory", -2, "server", "4.0.0").subs(MEMORY),
    cmd("debug", -2, "server", "1.0.0").flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, PROTECTED]),
    cmd("lolwut", -1, "server", "5.0.0").flags(flags![READONLY, FAST]),
    cmd("role", 1, "server", "2.8.12")
        .flags(flags![NOSCRIPT, LOADING, STALE, FAST, SENTINEL])
        .acl(acl![Admin, Dangerous]),
    cmd("latency", -2, "server", "2.8.13").subs(LATENCY),
    cmd("replicaof", 3, "server", "5.0.0").flags(flags![ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING]),
    cmd("slaveof", 3, "server", "1.0.0").flags(flags![ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING]),
    cmd("function", -2, "scripting", "7.0.0").subs(FUNCTION),
    script_call("eval", "2.6.0", false),
    script_call("evalsha", "2.6.0", false),
    script_call("eval_ro", "7.0.0", true),
    script_call("evalsha_ro", "7.0.0", true),
    script_call("fcall", "7.0.0", false),
    script_call("fcall_ro", "7.0.0", true),
    cmd("script", -2, "scripting", "2.6.0").subs(SCRIPT),
    cmd("dbsize", 1, "server", "1.0.0")
        .flags(flags![READONLY, FAST])
        .acl(acl![Keyspace])
        .run(server::dbsize),
    cmd("flushall", -1, "server", "1.0.0")
        .flags(flags![WRITE])
        .acl(acl![Keyspace, Dangerous])
        .run(server::flushall),
    cmd("flushdb", -1, "server", "1.0.0")
        .flags(flags![WRITE])
        .acl(acl![Keyspace, Dangerous])
        .run(server::flushall),
    // Concord's own commands (replication links, their control, the convergence digest):
    // administrative, keyless, and never allowed before authentication.
    cmd("crdt.digest", 1, "server", "0.1.0")
        .flags(flags![READONLY, ADMIN, NOSCRIPT])
        .run(server::crdt_digest),
    cmd("crdt.link", 5, "server", "0.1.0").flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI]),
    cmd("crdt.sync", 2, "server", "0.1.0").flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI]),
    cmd("crdt.member", -2, "server", "0.1.0")
        .flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI]),
    cmd("crdt.writes", -2, "server", "0.1.0")
        .flags(flags![ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI]),
    cmd("crdt.flush", 1, "server", "0.1.0").flags(flags![ADMIN, NOSCRIPT, NO_MULTI]),
];

const COMMAND: &[CommandSpec] = &[
    cmd("count", 2, "server", "2.8.13")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("info", -2, "server", "2.8.13")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("docs", -2, "server", "7.0.0")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("list", -2, "server", "7.0.0")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("getkeys", -3, "server", "2.8.13")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("getkeysandflags", -3, "server", "7.0.0")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
    cmd("help", 2, "server", "5.0.0")
        .flags(flags![LOADING, STALE, SENTINEL])
        .acl(acl![Connection]),
];

const MEMORY: &[CommandSpec] = &[
    cmd("doctor", 2, "server", "4.0.0"),
    cmd("malloc-stats", 2, "server", "4.0.0"),
    cmd("purge", 2, "server", "4.0.0"),
    cmd("stats", 2, "server", "4.0.0"),
    cmd("usage", -3, "server", "4.0.0")
        .flags(flags![READONLY])
        .keys(&[KeySpec::at(2, kf![RO]).range(0, 1, 0)]),
    cmd("help", 2, "server", "4.0.0").flags(flags![LOADING, STALE]),
];

const SLOWLOG: &[CommandSpec] = &[
    cmd("get", -2, "server", "2.2.12").flags(flags![ADMIN, LOADING, STALE]),
    cmd("len", 2, "server", "2.2.12").flags(flags![ADMIN, LOADING, STALE]),
    cmd("reset", 2, "server", "2.2.12").flags(flags![ADMIN, LOADING, STALE]),
    cmd("help", 2, "server", "6.2.0").flags(flags![LOADING, STALE]),
];

/// The flags of LATENCY's reporting subcommands.
const LATENCY_CMD: Flags = flags![ADMIN, NOSCRIPT, LOADING, STALE];

const LATENCY: &[CommandSpec] = &[
    cmd("latest", 2, "server", "2.8.13").flags(LATENCY_CMD),
    cmd("history", 3, "server", "2.8.13").flags(LATENCY_CMD),
    cmd("reset", -2, "server", "2.8.13").flags(LATENCY_CMD),
    cmd("doctor", 2, "server", "2.8.13").flags(LATENCY_CMD),
    cmd("graph", 3, "server", "2.8.13").flags(LATENCY_CMD),
    cmd("histogram", -2, "server", "7.0.0").flags(LATENCY_CMD),
    cmd("help", 2, "server", "2.8.13").flags(flags![LOADING, STALE]),
];

const ACL: &[CommandSpec] = &[
    cmd("cat", -2, "server", "6.0.0").flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL]),
    cmd("deluser", -3, "server", "6.0.0").flags(ADMIN_CMD),
    cmd("dryrun", -4, "server", "7.0.0").flags(ADMIN_CMD),
    cmd("genpass", -2, "server", "6.0.0").flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL]),
    cmd("getuser", 3, "server", "6.0.0").flags(ADMIN_CMD),
    cmd("help", 2, "server", "6.0.0").flags(flags![LOADING, STALE, SENTINEL]),
    cmd("list", 2, "server", "6.0.0").flags(ADMIN_CMD),
    cmd("load", 2, "server", "6.0.0").flags(ADMIN_CMD),
    cmd("log", -2, "server", "6.0.0").flags(ADMIN_CMD),
    cmd("save", 2, "server", "6.0.0").flags(ADMIN_CMD),
    cmd("setuser", -3, "server", "6.0.0").flags(ADMIN_CMD),
    cmd("users", 2, "server", "6.0.0").flags(ADMIN_CMD),
    cmd("whoami", 2, "server", "6.0.0").flags(flags![NOSCRIPT, LOADING, STALE, SENTINEL]),
];

/// The flags of ACL's administrative subcommands.
const ADMIN_CMD: Flags = flags![ADMIN, NOSCRIPT, LOADING, STALE, SENTINEL];

const CONFIG: &[CommandSpec] = &[
    cmd("get", -3, "server", "2.0.0").flags(flags![ADMIN, NOSCRIPT, LOADING, STALE]),
    cmd("set", -4, "server", "2.0.0").flags(flags![ADMIN, NOSCRIPT, LOADING, STALE]),
    cmd("resetstat", 2, "server", "2.0.0").flags(flags![ADMIN, NOSCRIPT, LOADING, STALE]),
    cmd("rewrite", 2, "server", "2.8.0").flags(flags![ADMIN, NOSCRIPT, LOADING, STALE]),
    cmd("help", 2, "server", "5.0.0").flags(flags![LOADING, STALE]),
];

/// The keys of EVAL, EVALSHA and FCALL: `numkeys` (the second argument) of them follow it.
const SCRIPT_KEYS_RW: &[KeySpec] = &[KeySpec::at(2, kf![RW, ACCESS, UPDATE]).keynum(0, 1, 1)];
/// The same for their read-only forms.
const SCRIPT_KEYS_RO: &[KeySpec] = &[KeySpec::at(2, kf![RO, ACCESS]).keynum(0, 1, 1)];

/// EVAL, EVALSHA, FCALL (`read_only`: their _RO forms): one shape for all six.
const fn script_call(name: &'static str, since: &'static str, read_only: bool) -> CommandSpec {
    let c = cmd(name, -3, "scripting", since).acl(acl![Scripting]);
    let c = if read_only {
        c.flags(flags![
            NOSCRIPT,
            SKIP_MONITOR,
            NO_MANDATORY_KEYS,
            STALE,
            READONLY
        ])
        .keys(SCRIPT_KEYS_RO)
    } else {
        c.flags(flags![
            NOSCRIPT,
            SKIP_MONITOR,
            MAY_REPLICATE,
            NO_MANDATORY_KEYS,
            STALE
        ])
        .keys(SCRIPT_KEYS_RW)
    };
    c.getkeys(getkeys::eval)
}

const SCRIPT: &[CommandSpec] = &[
    cmd("debug", 3, "scripting", "3.2.0")
        .flags(flags![NOSCRIPT])
        .acl(acl![Scripting]),
    cmd("exists", -3, "scripting", "2.6.0")
        .flags(flags![NOSCRIPT])
        .acl(acl![Scripting]),
    cmd("flush", -2, "scripting", "2.6.0")
        .flags(flags![NOSCRIPT])
        .acl(acl![Scripting]),
    cmd("help", 2, "scripting", "5.0.0")
        .flags(flags![LOADING, STALE])
        .acl(acl![Scripting]),
    cmd("kill", 2, "scripting", "2.6.0")
        .flags(flags![NOSCRIPT, ALLOW_BUSY])
        .acl(acl![Scripting]),
    cmd("load", 3, "scripting", "2.6.0")
        .flags(flags![NOSCRIPT, STALE])
        .acl(acl![Scripting]),
];

const FUNCTION: &[CommandSpec] = &[
    cmd("delete", 3, "scripting", "7.0.0")
        .flags(flags![NOSCRIPT, WRITE])
        .acl(acl![Scripting]),
    cmd("dump", 2, "scripting", "7.0.0")
        .flags(flags![NOSCRIPT])
        .acl(acl![Scripting]),
    cmd("flush", -2, "scripting", "7.0.0")
        .flags(flags![NOSCRIPT, WRITE])
        .acl(acl![Scripting]),
    cmd("help", 2, "scripting", "7.0.0")
        .flags(flags![LOADING, STALE])
        .acl(acl![Scripting]),
    cmd("kill", 2, "scripting", "7.0.0")
        .flags(flags![NOSCRIPT, ALLOW_BUSY])
        .acl(acl![Scripting]),
    cmd("list", -2, "scripting", "7.0.0")
        .flags(flags![NOSCRIPT])
        .acl(acl![Scripting]),
    cmd("load", -3, "scripting", "7.0.0")
        .flags(flags![NOSCRIPT, WRITE, DENYOOM])
        .acl(acl![Scripting]),
    cmd("restore", -3, "scripting", "7.0.0")
        .flags(flags![NOSCRIPT, WRITE, DENYOOM])
        .acl(acl![Scripting]),
    cmd("stats", 2, "scripting", "7.0.0")
        .flags(flags![NOSCRIPT, ALLOW_BUSY])
        .acl(acl![Scripting]),
];
