//! Every setting of an instance, in one table: the command line, the config file and
//! CONFIG GET/SET all go through it, with one parser per kind of value (sizes take Redis's
//! suffixes everywhere), so a name means the same thing wherever it is used.

use crate::sync::{PeerAddr, RemovedMember};
use crate::{Shared, limits::OutputLimits};
use concord_engine::Policy;
use concord_engine::{Engine, StreamIdMode};
use concord_storage::Fsync;
use std::path::PathBuf;

mod apply;
pub mod file;
mod names;
pub mod rewrite;
pub use apply::LOG_LEVEL_HOOK;
use apply::{
    apply_eviction, apply_jemalloc_bg_thread, apply_loglevel, apply_stream_ids, evict_budget,
};
pub(crate) use apply::{apply_output_limits, eviction};
mod value;
pub use names::{ALIASES, DEPRECATED, NOT_IMPLEMENTED, find, find_named, names};
pub use value::{
    Bytes, LogLevel, MemoryOrPercent, Protected, SavePoint, SavePoints, Value, parse_bytes,
    parse_int,
};

/// How one instance is configured. Built from flags and a config file at start; the
/// running instance keeps the live copy that CONFIG SET changes.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// TCP port (0 picks a free one).
    pub port: u16,
    /// Address to listen on.
    pub bind: String,
    /// This instance's id in its database (1..N).
    pub replica_id: u16,
    /// Where the instance keeps its files.
    pub dir: PathBuf,
    /// Password of the default user, if any.
    pub requirepass: Option<String>,
    /// Whether the append-only file is on.
    pub appendonly: bool,
    /// fsync policy of the append-only file.
    pub appendfsync: Fsync,
    /// The config file this came from, for INFO.
    pub config_file: Option<PathBuf>,
    /// Worker threads of the network runtime (the binary builds the runtime).
    pub threads: usize,
    /// The other instances of this database.
    pub peers: Vec<PeerAddr>,
    /// Instances removed from this database, with their cuts.
    pub removed: Vec<RemovedMember>,
    /// The database's name; links between databases of different names are refused.
    pub db_name: String,
    /// Password this instance uses on its links to peers (default: `requirepass`).
    pub peer_password: Option<String>,
    /// Byte budget of the replication backlog.
    pub backlog_bytes: Bytes,
    /// Whether replication batches are lz4-compressed.
    pub repl_compression: bool,
    /// The newest peer protocol version links use: held at the older release's during a
    /// rolling upgrade.
    pub peer_protocol: u16,
    /// Rewrite the append-only file when it grew by this percentage since the last one
    /// (0: never automatically).
    pub auto_aof_rewrite_percentage: u64,
    /// ... and is at least this many bytes.
    pub auto_aof_rewrite_min_size: Bytes,
    /// How XADD chooses stream ids.
    pub stream_id_mode: StreamIdMode,
    /// Most clients connected at once; more are refused with Redis's error.
    pub maxclients: u64,
    /// Seconds a client may stay idle before it is closed (0: never).
    pub timeout: u64,
    /// Seconds between TCP keepalive probes on client connections (0: off).
    pub tcp_keepalive: u64,
    /// Output buffer limits per class of client.
    pub output_limits: OutputLimits,
    /// Largest query buffer of one client.
    pub query_buffer_limit: Bytes,
    /// Largest bulk string a client may send.
    pub proto_max_bulk_len: Bytes,
    /// Background tasks' frequency, as Redis's `hz`.
    pub hz: u64,
    /// Milliseconds a script runs before other clients get BUSY and it may be killed
    /// (`busy-reply-threshold`, alias `lua-time-limit`; 0: never).
    pub busy_reply_threshold: u64,
    /// Past this many bytes in use, keys are evicted as `maxmemory_policy` says and
    /// writes that may grow memory are refused when none can be (0: no limit).
    pub maxmemory: Bytes,
    /// Which keys are evicted past `maxmemory`.
    pub maxmemory_policy: Policy,
    /// Keys sampled per eviction choice.
    pub maxmemory_samples: u64,
    /// How much eviction work one command may do (0–100; 100: no bound but the keys).
    pub maxmemory_eviction_tenacity: u64,
    /// How slowly a key's LFU counter grows.
    pub lfu_log_factor: u64,
    /// Minutes per decrement of an unused key's LFU counter.
    pub lfu_decay_time: u64,
    /// Serve only loopback clients while bound to every address with no password set.
    pub protected_mode: bool,
    /// Port of the TLS listener (0: none).
    pub tls_port: u16,
    /// This instance's certificate (PEM), shown to clients and, without a client
    /// certificate of its own, to peers.
    pub tls_cert_file: String,
    /// Its private key (PEM).
    pub tls_key_file: String,
    /// The certificate shown to peers when dialing them (default: `tls_cert_file`).
    pub tls_client_cert_file: String,
    /// Its private key.
    pub tls_client_key_file: String,
    /// Certificate authorities that sign clients' and peers' certificates (PEM).
    pub tls_ca_cert_file: String,
    /// A directory of such authorities (`*.pem`, `*.crt`).
    pub tls_ca_cert_dir: String,
    /// Whether TLS clients must show a certificate.
    pub tls_auth_clients: TlsAuthClients,
    /// Protocol versions allowed (`TLSv1.2 TLSv1.3`; empty: both).
    pub tls_protocols: String,
    /// TLS 1.3 suites allowed, colon-separated (empty: all rustls offers).
    pub tls_ciphersuites: String,
    /// TLS 1.2 suites allowed, colon-separated (empty: all rustls offers).
    pub tls_ciphers: String,
    /// Whether the server's suite order wins over the client's.
    pub tls_prefer_server_ciphers: bool,
    /// Whether TLS sessions are cached for resumption.
    pub tls_session_caching: bool,
    /// How many sessions the cache holds.
    pub tls_session_cache_size: u64,
    /// Whether links to peers use TLS, with mutual authentication against the CA.
    pub tls_replication: bool,
    /// Whether the link to a Redis primary this instance follows (REPLICAOF) uses TLS,
    /// verified against the CA, showing the instance's client certificate.
    pub replicaof_tls: bool,
    /// The password given to a Redis primary this instance follows (REPLICAOF).
    pub masterauth: String,
    /// The user it authenticates as there (empty: Redis's `default`).
    pub masteruser: String,
    /// Seconds without a byte from the followed primary before the link is dropped and
    /// made again.
    pub repl_timeout: u64,
    /// The ACL file (`ACL LOAD`/`SAVE`); empty: none.
    pub aclfile: String,
    /// `user` lines of the config file, each a name and its rules.
    pub users: Vec<String>,
    /// Entries ACL LOG keeps.
    pub acllog_max_len: usize,
    /// Whether new users may use every channel.
    pub acl_pubsub_default: concord_acl::PubsubDefault,
    /// The user this instance authenticates as on its links to peers.
    pub peer_user: String,
    /// Automatic snapshots (`save`): after so many seconds if so many writes.
    pub save: SavePoints,
    /// How much the log says.
    pub loglevel: LogLevel,
    /// Where the log goes (empty: standard output).
    pub logfile: String,
    /// A file the process writes its id to while it runs (empty: none).
    pub pidfile: String,
    /// Connections the kernel keeps waiting to be accepted, per listener.
    pub tcp_backlog: u32,
    /// Whether transparent huge pages are turned off for the process at start.
    pub disable_thp: bool,
    /// Whether jemalloc returns freed pages to the system from threads of its own.
    pub jemalloc_bg_thread: bool,
    /// Whether background tasks run more often while many clients are connected.
    pub dynamic_hz: bool,
    /// `maxmemory-clients`, as given (only "no limit" is accepted).
    pub maxmemory_clients: MemoryOrPercent,
    /// Which keyspace events are published (`notify-keyspace-events`).
    pub notify_keyspace_events: concord_engine::NotifyFlags,
    /// Commands that run at least this many microseconds enter the slow log (-1: none).
    pub slowlog_log_slower_than: i64,
    /// Entries the slow log keeps.
    pub slowlog_max_len: u64,
    /// Commands of at least this many milliseconds are latency events (0: none).
    pub latency_monitor_threshold: u64,
    /// Whether each command's latency histogram is kept (LATENCY HISTOGRAM).
    pub latency_tracking: bool,
    /// Who may run DEBUG.
    pub enable_debug_command: Protected,
    /// Keys the client-side caching table tracks at most (0: no limit).
    pub tracking_table_max_keys: u64,
}

/// `tls-auth-clients`: whether TLS clients must show a certificate the CA signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsAuthClients {
    /// They must.
    Yes,
    /// They need not, and one shown is not checked.
    No,
    /// They need not, but one shown must be valid.
    Optional,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            port: 6379,
            bind: "127.0.0.1".into(),
            replica_id: 1,
            dir: PathBuf::from("."),
            requirepass: None,
            appendonly: false,
            appendfsync: Fsync::EverySec,
            config_file: None,
            threads: 1,
            peers: Vec::new(),
            removed: Vec::new(),
            db_name: "concord".into(),
            peer_password: None,
            backlog_bytes: Bytes(128 * 1024 * 1024),
            repl_compression: true,
            peer_protocol: concord_replication::PROTO_VERSION,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: Bytes(64 * 1024 * 1024),
            stream_id_mode: StreamIdMode::default(),
            maxclients: 10_000,
            timeout: 0,
            tcp_keepalive: 300,
            output_limits: OutputLimits::default(),
            query_buffer_limit: Bytes(1024 * 1024 * 1024),
            proto_max_bulk_len: Bytes(512 * 1024 * 1024),
            hz: 10,
            busy_reply_threshold: 5000,
            maxmemory: Bytes(0),
            maxmemory_policy: Policy::NoEviction,
            maxmemory_samples: 5,
            maxmemory_eviction_tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            protected_mode: true,
            tls_port: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_client_cert_file: String::new(),
            tls_client_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            tls_ca_cert_dir: String::new(),
            tls_auth_clients: TlsAuthClients::Yes,
            tls_protocols: String::new(),
            tls_ciphersuites: String::new(),
            tls_ciphers: String::new(),
            tls_prefer_server_ciphers: false,
            tls_session_caching: true,
            tls_session_cache_size: 20 * 1024,
            tls_replication: false,
            replicaof_tls: false,
            masterauth: String::new(),
            masteruser: String::new(),
            repl_timeout: 60,
            aclfile: String::new(),
            users: Vec::new(),
            acllog_max_len: concord_acl::DEFAULT_LOG_MAX_LEN,
            acl_pubsub_default: concord_acl::PubsubDefault::ResetChannels,
            peer_user: "default".into(),
            save: SavePoints::default(),
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            pidfile: String::new(),
            tcp_backlog: 511,
            maxmemory_clients: MemoryOrPercent::Bytes(0),
            disable_thp: true,
            jemalloc_bg_thread: true,
            dynamic_hz: true,
            notify_keyspace_events: concord_engine::NotifyFlags::default(),
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            enable_debug_command: Protected::No,
            tracking_table_max_keys: crate::tracking::DEFAULT_MAX_KEYS,
        }
    }
}

/// The settings the request path reads all the time, copied out of the live config so a
/// connection reads them without a lock (it refreshes its copy when the config changes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hot {
    /// `maxmemory` (0: none).
    pub maxmemory: u64,
    /// Keys one command may evict (from `maxmemory-eviction-tenacity`).
    pub evict_budget: usize,
    /// `maxclients`.
    pub maxclients: u64,
    /// `timeout` in seconds (0: none).
    pub timeout: u64,
    /// `tcp-keepalive` in seconds (0: off).
    pub tcp_keepalive: u64,
    /// `hz`.
    pub hz: u64,
    /// `dynamic-hz`.
    pub dynamic_hz: bool,
    /// `client-query-buffer-limit`.
    pub query_buffer_limit: usize,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: usize,
    /// `client-output-buffer-limit`.
    pub output_limits: OutputLimits,
    /// `protected-mode`.
    pub protected_mode: bool,
    /// `slowlog-log-slower-than`, in microseconds (negative: off).
    pub slowlog_slower_than: i64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: u64,
    /// `latency-monitor-threshold`, in milliseconds (0: off).
    pub latency_threshold: u64,
    /// `latency-tracking`.
    pub latency_tracking: bool,
}

impl ServerConfig {
    /// The hot settings of this config.
    pub(crate) fn hot(&self) -> Hot {
        Hot {
            maxmemory: self.maxmemory.0,
            evict_budget: evict_budget(self.maxmemory_eviction_tenacity),
            maxclients: self.maxclients,
            timeout: self.timeout,
            tcp_keepalive: self.tcp_keepalive,
            hz: self.hz,
            dynamic_hz: self.dynamic_hz,
            query_buffer_limit: usize::try_from(self.query_buffer_limit.0).unwrap_or(usize::MAX),
            proto_max_bulk_len: usize::try_from(self.proto_max_bulk_len.0).unwrap_or(usize::MAX),
            output_limits: self.output_limits,
            protected_mode: self.protected_mode,
            slowlog_slower_than: self.slowlog_log_slower_than,
            slowlog_max_len: self.slowlog_max_len,
            latency_threshold: self.latency_monitor_threshold,
            latency_tracking: self.latency_tracking,
        }
    }
}

/// When a setting may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Only at start (CONFIG SET refuses it, as Redis refuses immutable settings).
    Start,
    /// At start and with CONFIG SET.
    Runtime,
}

/// A runtime change's effect on the running instance, given the engine CONFIG SET runs
/// under (locked: never lock it again); an error undoes the whole CONFIG SET.
pub(crate) type Apply = fn(&Shared, &mut Engine, &ServerConfig) -> Result<(), String>;

/// One setting.
pub struct Setting {
    /// Its name, as flags (`--name`), config files and CONFIG use it.
    pub name: &'static str,
    /// When it may change.
    pub when: When,
    /// Whether CONFIG GET shows it (`user` lines hold passwords and are not settings
    /// Redis shows either).
    pub shown: bool,
    set: fn(&mut ServerConfig, &str) -> Result<(), String>,
    get: fn(&ServerConfig) -> String,
    apply: Option<Apply>,
}

/// The fewest and most times a second background tasks run (Redis's CONFIG_MIN_HZ and
/// CONFIG_MAX_HZ): `hz` outside is brought to the nearer one.
const MIN_HZ: u64 = 1;
/// See [`MIN_HZ`].
const MAX_HZ: u64 = 500;

/// Checks a number against an inclusive range, with Redis's message.
fn in_range(v: Option<i128>, lo: i128, hi: i128) -> Result<(), String> {
    match v {
        Some(n) if n < lo || n > hi => {
            Err(format!("argument must be between {lo} and {hi} inclusive"))
        }
        _ => Ok(()),
    }
}

macro_rules! setting {
    ($name:literal, $field:ident, $when:ident $(, range = $lo:expr, $hi:expr)? $(, clamp = $clo:expr, $chi:expr)? $(, apply = $apply:expr)?) => {
        Setting {
            name: $name,
            when: When::$when,
            shown: true,
            set: |c, v| {
                let mut x = c.$field.clone();
                x.set_from(v)?;
                $(in_range(x.number(), $lo, $hi)?;)?
                c.$field = x $(.clamp($clo, $chi))?;
                Ok(())
            },
            get: |c| c.$field.show(),
            apply: setting!(@apply $($apply)?),
        }
    };
    (@apply) => { None };
    (@apply $apply:expr) => { Some($apply) };
}

/// A setting shown for clients that read it, whose only accepted value is `$value`.
macro_rules! fixed {
    ($name:literal, $value:literal) => {
        Setting {
            name: $name,
            when: When::Runtime,
            shown: true,
            set: |_, v| {
                if v.eq_ignore_ascii_case($value) {
                    Ok(())
                } else {
                    Err(format!(
                        concat!("Concord supports only ", $value, " (got '{}')"),
                        v
                    ))
                }
            },
            get: |_| $value.to_string(),
            apply: None,
        }
    };
}

/// A setting of Redis's that Concord keeps at one value (`$value`, Redis's default): a
/// malformed value gets Redis's error for its kind, another one Concord's reason.
macro_rules! only {
    ($name:literal, $when:ident, [$($names:literal),*], $value:literal) => {
        Setting {
            name: $name,
            when: When::$when,
            shown: true,
            set: |_, v| value::only_name(v, &[$($names),*], $value),
            get: |_| $value.to_string(),
            apply: None,
        }
    };
    ($name:literal, $when:ident, $kind:ty, $value:literal) => {
        Setting {
            name: $name,
            when: When::$when,
            shown: true,
            set: |_, v| value::only::<$kind>(v, $value),
            get: |_| $value.to_string(),
            apply: None,
        }
    };
}

/// Every setting, in the order CONFIG GET lists them.
pub static SETTINGS: &[Setting] = &[
    setting!("port", port, Start),
    setting!("bind", bind, Start),
    setting!("replica-id", replica_id, Start, range = 1, 65535),
    setting!("dir", dir, Start),
    setting!(
        "requirepass",
        requirepass,
        Runtime,
        apply = crate::cmd::auth::apply_requirepass
    ),
    setting!("appendonly", appendonly, Start),
    setting!(
        "appendfsync",
        appendfsync,
        Runtime,
        apply = crate::persist::apply_settings
    ),
    setting!("threads", threads, Start, range = 1, 64),
    setting!("peer", peers, Start),
    setting!("removed-peer", removed, Start),
    setting!("db-name", db_name, Start),
    setting!("peer-password", peer_password, Start),
    setting!(
        "backlog-size",
        backlog_bytes,
        Start,
        range = 64 * 1024,
        i64::MAX as i128
    ),
    setting!("repl-compression", repl_compression, Start),
    setting!(
        "peer-protocol",
        peer_protocol,
        Start,
        range = concord_replication::PROTO_MIN as i128,
        concord_replication::PROTO_VERSION as i128
    ),
    setting!(
        "auto-aof-rewrite-percentage",
        auto_aof_rewrite_percentage,
        Runtime,
        range = 0,
        i64::MAX as i128,
        apply = crate::persist::apply_settings
    ),
    setting!(
        "auto-aof-rewrite-min-size",
        auto_aof_rewrite_min_size,
        Runtime,
        apply = crate::persist::apply_settings
    ),
    setting!(
        "stream-id-mode",
        stream_id_mode,
        Runtime,
        apply = apply_stream_ids
    ),
    setting!("maxclients", maxclients, Runtime, range = 1, 1_000_000),
    setting!("timeout", timeout, Runtime, range = 0, i32::MAX as i128),
    setting!(
        "tcp-keepalive",
        tcp_keepalive,
        Runtime,
        range = 0,
        i32::MAX as i128
    ),
    setting!(
        "client-output-buffer-limit",
        output_limits,
        Runtime,
        apply = apply_output_limits
    ),
    setting!(
        "client-query-buffer-limit",
        query_buffer_limit,
        Runtime,
        range = 1024 * 1024,
        i64::MAX as i128
    ),
    setting!(
        "proto-max-bulk-len",
        proto_max_bulk_len,
        Runtime,
        range = 1024 * 1024,
        i64::MAX as i128
    ),
    only!("databases", Start, i64, "1"),
    // Redis takes any hz from 0 up and runs between 1 and 500 times a second: the value
    // kept (and shown) is the one it runs at.
    setting!(
        "hz",
        hz,
        Runtime,
        range = 0,
        i128::from(i32::MAX),
        clamp = MIN_HZ,
        MAX_HZ
    ),
    setting!("maxmemory", maxmemory, Runtime),
    setting!(
        "maxmemory-policy",
        maxmemory_policy,
        Runtime,
        apply = apply_eviction
    ),
    // Sampling more keys per choice would let one command take unbounded time.
    setting!(
        "maxmemory-samples",
        maxmemory_samples,
        Runtime,
        range = 1,
        64,
        apply = apply_eviction
    ),
    setting!(
        "maxmemory-eviction-tenacity",
        maxmemory_eviction_tenacity,
        Runtime,
        range = 0,
        100
    ),
    setting!(
        "lfu-log-factor",
        lfu_log_factor,
        Runtime,
        range = 0,
        i32::MAX as i128,
        apply = apply_eviction
    ),
    setting!(
        "lfu-decay-time",
        lfu_decay_time,
        Runtime,
        range = 0,
        i32::MAX as i128,
        apply = apply_eviction
    ),
    setting!("protected-mode", protected_mode, Runtime),
    setting!("tls-port", tls_port, Start),
    setting!(
        "tls-cert-file",
        tls_cert_file,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-key-file",
        tls_key_file,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-client-cert-file",
        tls_client_cert_file,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-client-key-file",
        tls_client_key_file,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-ca-cert-file",
        tls_ca_cert_file,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-ca-cert-dir",
        tls_ca_cert_dir,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-auth-clients",
        tls_auth_clients,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-protocols",
        tls_protocols,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-ciphersuites",
        tls_ciphersuites,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-ciphers",
        tls_ciphers,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-prefer-server-ciphers",
        tls_prefer_server_ciphers,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-session-caching",
        tls_session_caching,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!(
        "tls-session-cache-size",
        tls_session_cache_size,
        Runtime,
        range = 1,
        i32::MAX as i128,
        apply = crate::tls::apply
    ),
    setting!("tls-replication", tls_replication, Start),
    setting!(
        "replicaof-tls",
        replicaof_tls,
        Runtime,
        apply = crate::tls::apply
    ),
    setting!("aclfile", aclfile, Start),
    Setting {
        name: "user",
        when: When::Start,
        shown: false,
        set: |c, v| c.users.set_from(v),
        get: |c| c.users.show(),
        apply: None,
    },
    setting!(
        "acllog-max-len",
        acllog_max_len,
        Runtime,
        range = 0,
        i32::MAX as i128,
        apply = crate::access::apply
    ),
    setting!(
        "acl-pubsub-default",
        acl_pubsub_default,
        Runtime,
        apply = crate::access::apply
    ),
    setting!("peer-user", peer_user, Start),
    fixed!("appendfilename", "appendonly.aof"),
    fixed!("dbfilename", "dump.rdb"),
    setting!("save", save, Runtime),
    setting!(
        "notify-keyspace-events",
        notify_keyspace_events,
        Runtime,
        apply = crate::notify::apply
    ),
    setting!("loglevel", loglevel, Runtime, apply = apply_loglevel),
    setting!("latency-tracking", latency_tracking, Runtime),
    setting!(
        "tracking-table-max-keys",
        tracking_table_max_keys,
        Runtime,
        range = 0,
        i64::MAX as i128,
        apply = crate::tracking::apply
    ),
    setting!("enable-debug-command", enable_debug_command, Start),
    setting!(
        "slowlog-log-slower-than",
        slowlog_log_slower_than,
        Runtime,
        range = -1,
        i64::MAX as i128
    ),
    setting!(
        "slowlog-max-len",
        slowlog_max_len,
        Runtime,
        range = 0,
        i64::MAX as i128
    ),
    setting!(
        "latency-monitor-threshold",
        latency_monitor_threshold,
        Runtime,
        range = 0,
        i64::MAX as i128
    ),
    setting!(
        "busy-reply-threshold",
        busy_reply_threshold,
        Runtime,
        range = 0,
        i64::MAX as i128,
        apply = crate::script::apply_busy_threshold
    ),
    only!("list-max-listpack-size", Runtime, i64, "-2"),
    only!("hash-max-listpack-entries", Runtime, i64, "512"),
    only!("hash-max-listpack-value", Runtime, Bytes, "64"),
    only!("set-max-intset-entries", Runtime, i64, "512"),
    only!("set-max-listpack-entries", Runtime, i64, "128"),
    only!("set-max-listpack-value", Runtime, i64, "64"),
    only!("zset-max-listpack-entries", Runtime, i64, "128"),
    only!("zset-max-listpack-value", Runtime, Bytes, "64"),
    setting!("logfile", logfile, Start),
    Setting {
        name: "maxmemory-clients",
        when: When::Runtime,
        shown: true,
        set: |c, v| {
            value::no_client_limit(v)?;
            c.maxmemory_clients.set_from(v)
        },
        get: |c| c.maxmemory_clients.show(),
        apply: None,
    },
    only!("activedefrag", Runtime, bool, "no"),
    only!("active-defrag-cycle-max", Runtime, i64, "25"),
    only!("active-defrag-cycle-min", Runtime, i64, "1"),
    only!("active-defrag-ignore-bytes", Runtime, Bytes, "104857600"),
    only!("active-defrag-max-scan-fields", Runtime, i64, "1000"),
    only!("active-defrag-threshold-lower", Runtime, i64, "10"),
    only!("active-defrag-threshold-upper", Runtime, i64, "100"),
    only!("active-expire-effort", Runtime, i64, "1"),
    only!("activerehashing", Runtime, bool, "yes"),
    only!("always-show-logo", Start, bool, "no"),
    only!("aof-disable-auto-gc", Runtime, bool, "no"),
    only!("aof-load-truncated", Runtime, bool, "yes"),
    only!("aof-rewrite-incremental-fsync", Runtime, bool, "yes"),
    only!("aof-timestamp-enabled", Runtime, bool, "no"),
    only!("aof-use-rdb-preamble", Runtime, bool, "yes"),
    only!("appenddirname", Start, String, "appendonlydir"),
    only!("aof_rewrite_cpulist", Start, String, ""),
    only!("bgsave_cpulist", Start, String, ""),
    only!("bio_cpulist", Start, String, ""),
    only!("server_cpulist", Start, String, ""),
    only!("bind-source-addr", Runtime, String, ""),
    only!("cluster-enabled", Start, bool, "no"),
    only!("daemonize", Start, bool, "no"),
    only!("enable-module-command", Start, ["no", "yes", "local"], "no"),
    only!(
        "enable-protected-configs",
        Start,
        ["no", "yes", "local"],
        "no"
    ),
    only!("hll-sparse-max-bytes", Runtime, Bytes, "3000"),
    only!("ignore-warnings", Runtime, String, ""),
    only!("io-threads", Start, i64, "1"),
    only!("io-threads-do-reads", Start, bool, "no"),
    only!("lazyfree-lazy-eviction", Runtime, bool, "no"),
    only!("lazyfree-lazy-expire", Runtime, bool, "no"),
    only!("lazyfree-lazy-server-del", Runtime, bool, "no"),
    only!("lazyfree-lazy-user-del", Runtime, bool, "no"),
    only!("lazyfree-lazy-user-flush", Runtime, bool, "no"),
    only!("list-compress-depth", Runtime, i64, "0"),
    setting!("masterauth", masterauth, Runtime),
    setting!("masteruser", masteruser, Runtime),
    only!("min-replicas-max-lag", Runtime, i64, "10"),
    only!("min-replicas-to-write", Runtime, i64, "0"),
    only!("no-appendfsync-on-rewrite", Runtime, bool, "no"),
    only!(
        "oom-score-adj",
        Runtime,
        ["no", "yes", "relative", "absolute"],
        "no"
    ),
    setting!("pidfile", pidfile, Start),
    setting!("disable-thp", disable_thp, Start),
    setting!(
        "jemalloc-bg-thread",
        jemalloc_bg_thread,
        Runtime,
        apply = apply_jemalloc_bg_thread
    ),
    setting!("dynamic-hz", dynamic_hz, Runtime),
    setting!(
        "tcp-backlog",
        tcp_backlog,
        Start,
        range = 0,
        i32::MAX as i128
    ),
    only!("oom-score-adj-values", Runtime, String, "0 200 800"),
    only!(
        "propagation-error-behavior",
        Runtime,
        ["ignore", "panic", "panic-on-replicas"],
        "ignore"
    ),
    only!("rdb-del-sync-files", Runtime, bool, "no"),
    only!("rdbchecksum", Start, bool, "yes"),
    only!("repl-backlog-ttl", Runtime, i64, "3600"),
    only!("repl-disable-tcp-nodelay", Runtime, bool, "no"),
    only!(
        "repl-diskless-load",
        Runtime,
        ["disabled", "on-empty-db", "swapdb"],
        "disabled"
    ),
    only!("repl-diskless-sync", Runtime, bool, "yes"),
    only!("repl-diskless-sync-delay", Runtime, i64, "5"),
    only!("repl-diskless-sync-max-replicas", Runtime, i64, "0"),
    only!("repl-ping-replica-period", Runtime, i64, "10"),
    setting!(
        "repl-timeout",
        repl_timeout,
        Runtime,
        range = 1,
        i32::MAX as i128
    ),
    only!("replica-announce-ip", Runtime, String, ""),
    only!("replica-announce-port", Runtime, i64, "0"),
    only!("replica-announced", Runtime, bool, "yes"),
    only!("replica-ignore-disk-write-errors", Runtime, bool, "no"),
    only!("replica-ignore-maxmemory", Runtime, bool, "yes"),
    only!("replica-lazy-flush", Runtime, bool, "no"),
    only!("replica-priority", Runtime, i64, "100"),
    only!("replica-read-only", Runtime, bool, "yes"),
    only!("replica-serve-stale-data", Runtime, bool, "yes"),
    Setting {
        name: "replicaof",
        when: When::Start,
        shown: true,
        set: |_, v| value::no_primary(v),
        get: |_| String::new(),
        apply: None,
    },
    only!(
        "sanitize-dump-payload",
        Runtime,
        ["no", "yes", "clients"],
        "no"
    ),
    only!("shutdown-timeout", Runtime, i64, "10"),
    only!("socket-mark-id", Start, i64, "0"),
    only!("stop-writes-on-bgsave-error", Runtime, bool, "yes"),
    only!("stream-node-max-bytes", Runtime, Bytes, "4096"),
    only!("stream-node-max-entries", Runtime, i64, "100"),
    only!("syslog-enabled", Start, bool, "no"),
    only!("syslog-ident", Start, String, "redis"),
    only!(
        "syslog-facility",
        Start,
        [
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"
        ],
        "local0"
    ),
    only!("tls-client-key-file-pass", Runtime, String, ""),
    only!("tls-key-file-pass", Runtime, String, ""),
    only!("tls-cluster", Runtime, bool, "no"),
    only!("tls-dh-params-file", Runtime, String, ""),
    only!("unixsocket", Start, String, ""),
    only!("unixsocketperm", Start, i64, "0"),
];

/// Why a setting could not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingError {
    /// No setting has that name.
    #[error("unknown setting '{0}'")]
    Unknown(String),
    /// The value does not fit the setting.
    #[error("{name}: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
}

impl ServerConfig {
    /// Sets one setting from its text, as a flag or a config file line gives it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SettingError> {
        let s = find(name).ok_or_else(|| SettingError::Unknown(name.to_string()))?;
        (s.set)(self, value).map_err(|reason| SettingError::Invalid {
            name: s.name,
            reason,
        })
    }

    /// The text CONFIG GET shows for a setting.
    pub fn get(&self, name: &str) -> Option<String> {
        find(name).map(|s| (s.get)(self))
    }
}

impl Setting {
    /// The value as CONFIG GET shows it.
    pub fn show(&self, c: &ServerConfig) -> String {
        (self.get)(c)
    }

    /// Parses `value` into `c`.
    pub fn parse_into(&self, c: &mut ServerConfig, value: &str) -> Result<(), String> {
        (self.set)(c, value)
    }

    /// Applies a changed value to the running instance.
    pub(crate) fn apply(
        &self,
        sh: &Shared,
        e: &mut Engine,
        c: &ServerConfig,
    ) -> Result<(), String> {
        self.apply.map_or(Ok(()), |f| f(sh, e, c))
    }
}

#[cfg(test)]
mod tests;
