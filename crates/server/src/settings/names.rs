//! Names: Redis's other names for settings (aliases), the names Redis still reads but
//! ignores, the ones Concord does not implement, and the lookup of a name.

use super::{SETTINGS, Setting};

/// Other names of settings, as Redis 7.2 has them: (alias, setting). CONFIG GET lists
/// both names, as Redis does.
pub static ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("repl-backlog-size", "backlog-size"),
    ("slaveof", "replicaof"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-priority", "replica-priority"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
];

/// Redis's settings Concord does not accept at all (the README says why): a config
/// file naming one gets that reason rather than "Bad directive".
pub const NOT_IMPLEMENTED: &[&str] = &[
    "cluster-allow-pubsubshard-when-down",
    "cluster-allow-reads-when-down",
    "cluster-allow-replica-migration",
    "cluster-announce-bus-port",
    "cluster-announce-hostname",
    "cluster-announce-human-nodename",
    "cluster-announce-ip",
    "cluster-announce-port",
    "cluster-announce-tls-port",
    "cluster-config-file",
    "cluster-link-sendbuf-limit",
    "cluster-migration-barrier",
    "cluster-node-timeout",
    "cluster-port",
    "cluster-preferred-endpoint-type",
    "cluster-replica-no-failover",
    "cluster-replica-validity-factor",
    "cluster-require-full-coverage",
    "cluster-slave-no-failover",
    "cluster-slave-validity-factor",
    "crash-log-enabled",
    "crash-memcheck-enabled",
    "latency-tracking-info-percentiles",
    "locale-collate",
    "proc-title-template",
    "rdb-save-incremental-fsync",
    "rdbcompression",
    "set-proc-title",
    "shutdown-on-sigint",
    "shutdown-on-sigterm",
    "supervised",
    "tls-session-cache-timeout",
];

/// Names Redis 7.2 still reads in config files but ignores, each with how many words
/// its line has.
pub const DEPRECATED: &[(&str, usize)] = &[
    ("list-max-ziplist-entries", 2),
    ("list-max-ziplist-value", 2),
    ("lua-replicate-commands", 2),
];

/// The setting of a name or alias, ignoring case.
pub fn find(name: &str) -> Option<&'static Setting> {
    find_named(name).map(|(_, s)| s)
}

/// The setting of a name or alias, ignoring case, with the name (or alias) it was found
/// by, as Redis's errors call it.
pub fn find_named(name: &str) -> Option<(&'static str, &'static Setting)> {
    if let Some(s) = SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
        return Some((s.name, s));
    }
    let (alias, target) = ALIASES.iter().find(|(a, _)| a.eq_ignore_ascii_case(name))?;
    SETTINGS
        .iter()
        .find(|s| s.name == *target)
        .map(|s| (*alias, s))
}

/// Every name CONFIG GET can show, settings then aliases, with its setting.
pub fn names() -> impl Iterator<Item = (&'static str, &'static Setting)> {
    SETTINGS
        .iter()
        .map(|s| (s.name, s))
        .chain(ALIASES.iter().filter_map(|(a, _)| find_named(a)))
}
