//! Concord's network server: connections, pipelining, authentication, transactions,
//! pub/sub and introspection, in front of one [`concord_engine::Engine`].

mod blocking;
mod conn;
mod info;
pub mod mem;
mod persist;
mod pubsub;
pub mod sync;

use concord_crdt::{Hlc, Origin};
use concord_engine::{Engine, EngineConfig};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

pub use pubsub::Msg;
pub use sync::PeerAddr;

use concord_crdt::{Blob, ReplicaId};
use concord_replication::Replication;
use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use tokio::sync::{Notify, broadcast};

/// How one instance is started.
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
    pub appendfsync: String,
    /// The config file this came from, for INFO.
    pub config_file: Option<PathBuf>,
    /// Worker threads of the network runtime (the binary builds the runtime).
    pub threads: usize,
    /// The other instances of this database.
    pub peers: Vec<PeerAddr>,
    /// The database's name; links between databases of different names are refused.
    pub db_name: String,
    /// Password this instance uses on its links to peers (default: `requirepass`).
    pub peer_password: Option<String>,
    /// Byte budget of the replication backlog.
    pub backlog_bytes: usize,
    /// Whether replication batches are lz4-compressed.
    pub repl_compression: bool,
    /// Rewrite the append-only file when it grew by this percentage since the last one
    /// (0: never automatically).
    pub auto_aof_rewrite_percentage: u64,
    /// ... and is at least this many bytes.
    pub auto_aof_rewrite_min_size: u64,
    /// How XADD chooses stream ids.
    pub stream_id_mode: concord_engine::StreamIdMode,
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
            appendfsync: "everysec".into(),
            config_file: None,
            threads: 1,
            peers: Vec::new(),
            db_name: "concord".into(),
            peer_password: None,
            backlog_bytes: 128 * 1024 * 1024,
            repl_compression: true,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            stream_id_mode: Default::default(),
        }
    }
}

/// What CLIENT LIST shows of a connection.
#[derive(Clone)]
pub(crate) struct ClientInfo {
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub name: Vec<u8>,
    pub created: Instant,
    pub last: Instant,
    pub last_cmd: Option<usize>,
    pub resp: u8,
    pub sub: usize,
    pub psub: usize,
    pub multi: i64,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub tx: pubsub::Tx,
}

/// State shared by all connections of one instance.
pub(crate) struct Shared {
    pub engine: Mutex<Engine>,
    pub clients: Mutex<HashMap<u64, ClientInfo>>,
    pub pubsub: Mutex<pubsub::PubSub>,
    pub config: Mutex<BTreeMap<String, String>>,
    pub next_client: AtomicU64,
    pub connections: AtomicU64,
    pub commands: AtomicU64,
    pub rejected_conns: AtomicU64,
    pub started: Instant,
    /// A cheap clock (the CPU's counter where it is reliable) to time each command.
    pub timer: quanta::Clock,
    pub cfg: ServerConfig,
    pub port: u16,
    pub run_id: String,
    /// Replication state; lock after `engine` when both are needed.
    pub repl: Mutex<Replication>,
    /// Woken whenever the op log grows: served links send what is new.
    pub log_notify: Notify,
    /// Local publishes, forwarded to peers.
    pub publishes: broadcast::Sender<(Blob, Blob)>,
    /// CRDT.SYNC PAUSE in effect.
    pub paused: AtomicBool,
    /// Bumped by PAUSE: every link started before it closes.
    pub pause_epoch: AtomicU64,
    /// Whether this instance caught up with its peers after starting (writes wait).
    pub caught_up: AtomicBool,
    /// Append-only file and snapshots.
    pub persist: Arc<persist::Persist>,
    /// SHUTDOWN asks the server to stop.
    pub shutdown: Notify,
    /// Clients blocked on keys; lock after `engine`.
    pub blocked: Mutex<blocking::Blocked>,
}

/// Milliseconds since the Unix epoch, from the wall clock.
pub(crate) fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The configuration parameters CONFIG GET knows, with their starting values.
fn initial_params(cfg: &ServerConfig, port: u16) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        p.insert(k.to_string(), v);
    };
    set("port", port.to_string());
    set("bind", cfg.bind.clone());
    set("dir", cfg.dir.display().to_string());
    set("requirepass", cfg.requirepass.clone().unwrap_or_default());
    set(
        "appendonly",
        if cfg.appendonly { "yes" } else { "no" }.into(),
    );
    set("appendfsync", cfg.appendfsync.clone());
    set("stream-id-mode", cfg.stream_id_mode.name().to_string());
    set("databases", "1".into());
    set("maxmemory", "0".into());
    set("maxmemory-policy", "noeviction".into());
    set("maxclients", "10000".into());
    set("timeout", "0".into());
    set("tcp-keepalive", "300".into());
    set("hz", "10".into());
    set("save", String::new());
    set(
        "auto-aof-rewrite-percentage",
        cfg.auto_aof_rewrite_percentage.to_string(),
    );
    set(
        "auto-aof-rewrite-min-size",
        cfg.auto_aof_rewrite_min_size.to_string(),
    );
    set("proto-max-bulk-len", (512 * 1024 * 1024).to_string());
    set(
        "client-query-buffer-limit",
        (1024 * 1024 * 1024).to_string(),
    );
    set("notify-keyspace-events", String::new());
    set("lua-time-limit", "5000".into());
    set("busy-reply-threshold", "5000".into());
    set("slowlog-log-slower-than", "10000".into());
    set("slowlog-max-len", "128".into());
    set("latency-tracking", "no".into());
    set("list-max-listpack-size", "-2".into());
    set("hash-max-listpack-entries", "128".into());
    set("hash-max-listpack-value", "64".into());
    set("set-max-intset-entries", "512".into());
    set("set-max-listpack-entries", "128".into());
    set("set-max-listpack-value", "64".into());
    set("zset-max-listpack-entries", "128".into());
    set("zset-max-listpack-value", "64".into());
    set("appendfilename", "appendonly.aof".into());
    set("dbfilename", "dump.rdb".into());
    set("protected-mode", "no".into());
    set("loglevel", "notice".into());
    set("crdt-replica-id", cfg.replica_id.to_string());
    p
}

/// A bound, not yet running, instance.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the listening socket and builds the engine.
    pub async fn bind(cfg: ServerConfig) -> std::io::Result<Server> {
        let mut members: BTreeSet<ReplicaId> = [cfg.replica_id].into();
        for p in &cfg.peers {
            if !members.insert(p.id) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "replica id {} appears twice among this instance and its peers",
                        p.id
                    ),
                ));
            }
        }
        if cfg.replica_id == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "replica id must be 1..65535",
            ));
        }
        let listener = TcpListener::bind((cfg.bind.as_str(), cfg.port)).await?;
        let port = listener.local_addr()?.port();
        let fsync: concord_storage::Fsync =
            cfg.appendfsync.parse().map_err(std::io::Error::other)?;
        let cfg_has_no_peers = cfg.peers.is_empty();
        // The incarnation is decided after recovery, before any op is issued.
        let mut engine = Engine::new(EngineConfig {
            origin: Origin::new(cfg.replica_id, 0),
            hlc_floor: Hlc::new(wall_ms(), 0),
            // Without peers nothing ever reads the backlog (links come only from
            // configured members), so keep none, as Redis keeps none without replicas.
            backlog_bytes: if cfg_has_no_peers {
                0
            } else {
                cfg.backlog_bytes
            },
        });
        engine.set_peers(cfg.peers.len());
        engine.set_stream_id_mode(cfg.stream_id_mode);
        engine.set_time(wall_ms());
        // Random replies (SPOP, RANDOMKEY, ...) must not repeat after every restart.
        engine.seed(rand::random());
        let persist = persist::Persist::open(
            &cfg.dir,
            persist::Settings {
                appendonly: cfg.appendonly,
                fsync,
                replica: cfg.replica_id,
                rewrite_percentage: cfg.auto_aof_rewrite_percentage,
                rewrite_min_size: cfg.auto_aof_rewrite_min_size,
            },
            &mut engine,
        )
        .map_err(std::io::Error::other)?;
        // A start that may have lost state takes a fresh incarnation, so dots are never
        // reused; only a clean stop with the append-only file on, and files read whole,
        // keeps it.
        let whole = persist.loaded.truncated.is_none();
        let incarnation = persist::incarnation(&cfg.dir, cfg.appendonly && whole, wall_ms() / 1000);
        engine.set_origin(Origin::new(cfg.replica_id, incarnation));
        let repl = Replication::new(concord_replication::Config::new(
            cfg.replica_id,
            members,
            &cfg.db_name,
        ));
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            clients: Mutex::new(HashMap::new()),
            pubsub: Mutex::new(pubsub::PubSub::default()),
            config: Mutex::new(initial_params(&cfg, port)),
            next_client: AtomicU64::new(1),
            connections: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            rejected_conns: AtomicU64::new(0),
            started: Instant::now(),
            timer: quanta::Clock::new(),
            run_id: (0..20)
                .map(|_| format!("{:02x}", rand::random::<u8>()))
                .collect(),
            cfg,
            port,
            repl: Mutex::new(repl),
            log_notify: Notify::new(),
            blocked: Mutex::new(blocking::Blocked::default()),
            publishes: broadcast::channel(4096).0,
            paused: AtomicBool::new(false),
            pause_epoch: AtomicU64::new(0),
            caught_up: AtomicBool::new(cfg_has_no_peers),
            persist: Arc::new(persist),
            shutdown: Notify::new(),
        });
        Ok(Server { listener, shared })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let shared = Arc::clone(&self.shared);
        let mut tasks = vec![
            tokio::spawn(active_expiry(Arc::clone(&shared))),
            tokio::spawn(persistence(Arc::clone(&shared))),
        ];
        if !shared.cfg.peers.is_empty() {
            tasks.push(tokio::spawn(sync::upkeep(Arc::clone(&shared))));
            for p in shared.cfg.peers.clone() {
                tasks.push(tokio::spawn(sync::outbound(Arc::clone(&shared), p)));
            }
        }
        let accept = async {
            loop {
                match self.listener.accept().await {
                    Ok((sock, addr)) => {
                        let shared = Arc::clone(&shared);
                        tokio::spawn(async move {
                            if let Err(e) = conn::serve(shared, sock, addr).await {
                                tracing::debug!("connection {addr}: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        // Out of descriptors and similar: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        shared.rejected_conns.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        };
        tokio::select! {
            _ = accept => {}
            _ = shutdown => {}
            _ = shared.shutdown.notified() => tracing::info!("SHUTDOWN asked by a client"),
        }
        for t in tasks {
            t.abort();
        }
        shutdown_files(&shared);
    }
}

/// A clean stop: everything applied goes to disk, and the incarnation is marked clean
/// so the next start may keep it (no op of this run can be missing from the files).
fn shutdown_files(sh: &Shared) {
    let p = &sh.persist;
    let mut e = sh.engine.lock().unwrap_or_else(|x| x.into_inner());
    p.drain(&mut e);
    // Connections still open get an error for writes from here on.
    p.closed.store(true, Ordering::Release);
    e.freeze();
    let inc = e.origin().incarnation;
    drop(e);
    match p.writer.stop() {
        Ok(()) if p.writer.appendonly() => {
            if let Err(e) = persist::record_incarnation(&sh.cfg.dir, inc, true) {
                tracing::warn!("could not record the clean stop: {e}");
            }
        }
        Ok(()) => {}
        Err(e) => tracing::error!("the append-only file could not be synced at stop: {e}"),
    }
}

/// Hands stragglers to the append-only file writer and starts automatic rewrites.
async fn persistence(sh: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let p = &sh.persist;
        let want = p.writer.state().rewrite_wanted.load(Ordering::Relaxed);
        let scheduled = p.scheduled.load(Ordering::Relaxed);
        let mut e = sh.engine.lock().unwrap_or_else(|x| x.into_inner());
        p.drain(&mut e);
        if (want || scheduled) && p.running().is_none() {
            let kind = if scheduled {
                persist::BgKind::Save
            } else {
                persist::BgKind::Rewrite
            };
            p.scheduled.store(false, Ordering::Relaxed);
            // Cleared by a successful install; a failure retries on a later tick.
            p.writer
                .state()
                .rewrite_wanted
                .store(false, Ordering::Relaxed);
            if let Err(x) = p.start_background(kind, &mut e) {
                tracing::warn!("automatic snapshot: {x}");
            }
        }
    }
}

/// Waits (at most 10 s) until a starting instance has caught up with its peers, so a
/// restarted instance takes writes only then; reads never wait.
pub(crate) async fn wait_caught_up(sh: &Shared) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sh.caught_up.load(Ordering::Acquire) {
        let done = sh
            .repl
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .caught_up();
        if done || Instant::now() >= deadline {
            if !done {
                tracing::warn!("taking writes before catching up with every peer (10 s passed)");
            }
            sh.caught_up.store(true, Ordering::Release);
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Active expiry, ten times a second: sample keys with an expiry and delete expired ones,
/// repeating while a quarter of a sample was expired, within a small time budget.
async fn active_expiry(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let start = Instant::now();
        loop {
            let deleted = {
                let mut e = shared.engine.lock().unwrap_or_else(|p| p.into_inner());
                e.set_time(wall_ms());
                if e.expiring_count() == 0 {
                    0
                } else {
                    let before = e.log().appended();
                    let n = e.active_expire(20);
                    e.commit();
                    shared.persist.drain(&mut e);
                    if e.log().appended() != before {
                        shared.log_notify.notify_waiters();
                    }
                    n
                }
            };
            if deleted < 5 || start.elapsed() > Duration::from_millis(25) {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
