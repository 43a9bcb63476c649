//! Concord's network server: connections, pipelining, authentication, transactions,
//! pub/sub and introspection, in front of one [`concord_engine::Engine`].

mod access;
mod blocking;
mod cmd;
mod conn;
mod dispatch;
mod effects;
mod errorstats;
mod fiber;
mod follow;
mod info;
pub mod jemalloc;
mod kill;
mod latency;
pub mod limits;
mod measure;
pub mod mem;
mod monitor;
mod notify;
mod observe;
mod output;
mod pause;
mod persist;
mod pubsub;
mod redact;
mod script;
mod session;
pub mod settings;
mod slowlog;
pub mod sync;
mod tls;
mod tracking;

use concord_crdt::{Hlc, Origin};
use concord_engine::{Engine, EngineConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

pub use pubsub::Msg;
pub use settings::{Bytes, ServerConfig, SettingError};
pub use sync::PeerAddr;

use concord_crdt::{Blob, ReplicaId};
use concord_replication::Replication;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use tokio::sync::{Notify, broadcast};

/// What CLIENT LIST shows of a connection.
#[derive(Clone)]
pub(crate) struct ClientInfo {
    /// The client's address.
    pub addr: SocketAddr,
    /// The address it connected to.
    pub laddr: SocketAddr,
    /// CLIENT SETNAME's name.
    pub name: Vec<u8>,
    /// When it connected.
    pub created: Instant,
    /// When its last command ran.
    pub last: Instant,
    /// Its last command's id.
    pub last_cmd: Option<usize>,
    /// The protocol it speaks (2 or 3).
    pub resp: u8,
    /// Subscribed channels and patterns (ACL changes recheck them).
    pub channels: std::collections::BTreeSet<bytes::Bytes>,
    /// Subscribed patterns.
    pub patterns: std::collections::BTreeSet<bytes::Bytes>,
    /// Subscribed shard channels.
    pub shard_channels: std::collections::BTreeSet<bytes::Bytes>,
    /// Commands queued in MULTI (-1 outside one).
    pub multi: i64,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Vec<u8>,
    /// The user it is authenticated as.
    pub user: Vec<u8>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Vec<u8>,
    /// Closes the connection.
    pub kill: Arc<crate::kill::Kill>,
    /// The connection's queue (CONFIG SET tells idle connections to look again).
    pub mailbox_tx: pubsub::Tx,
    /// Its mailbox, held to the pub/sub limits (tracking redirects to it).
    pub mailbox: pubsub::Mailbox,
    /// Its CLIENT TRACKING (CLIENT LIST flags `t` and `B`, `redir`).
    pub tracking: Option<tracking::Track>,
    /// Its query buffer, as its connection last saw it.
    pub query: Arc<QueryBuf>,
    /// Reply bytes its socket has not taken yet (a slow reader's).
    pub unsent: Arc<AtomicUsize>,
}

impl ClientInfo {
    /// Its output waiting to be sent: replies the socket has not taken and pub/sub
    /// messages queued for it (CLIENT LIST's `omem`).
    pub fn output_bytes(&self) -> usize {
        self.unsent.load(Ordering::Relaxed) + self.mailbox.waiting.load(Ordering::Relaxed)
    }

    /// The subscriptions of one namespace.
    pub fn subscriptions_mut(
        &mut self,
        space: pubsub::Space,
    ) -> &mut std::collections::BTreeSet<bytes::Bytes> {
        match space {
            pubsub::Space::Channel => &mut self.channels,
            pubsub::Space::Pattern => &mut self.patterns,
            pubsub::Space::Shard => &mut self.shard_channels,
        }
    }

    /// Whether the client subscribes to anything.
    pub fn subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard_channels.is_empty()
    }
}

/// The size of a connection's query buffer (CLIENT LIST `qbuf`, `qbuf-free`), stored by
/// the connection after each read and each batch, read by any other.
#[derive(Debug, Default)]
pub(crate) struct QueryBuf {
    len: AtomicUsize,
    free: AtomicUsize,
}

impl QueryBuf {
    /// Notes the buffer's bytes held and its room left.
    pub fn set(&self, len: usize, capacity: usize) {
        self.len.store(len, Ordering::Relaxed);
        self.free
            .store(capacity.saturating_sub(len), Ordering::Relaxed);
    }

    /// The bytes held and the room left.
    pub fn get(&self) -> (usize, usize) {
        (
            self.len.load(Ordering::Relaxed),
            self.free.load(Ordering::Relaxed),
        )
    }
}

/// State shared by all connections of one instance.
pub(crate) struct Shared {
    /// The keyspace; lock it first when several locks are needed.
    pub engine: Mutex<Engine>,
    /// The connected clients, by id.
    pub clients: Mutex<HashMap<u64, ClientInfo>>,
    /// Channel and pattern subscriptions.
    pub pubsub: Mutex<pubsub::PubSub>,
    /// The live settings (CONFIG GET/SET); start-only ones are also in `cfg`.
    pub config: RwLock<ServerConfig>,
    /// Bumped by every CONFIG SET, so connections refresh their copy of hot settings.
    pub config_epoch: AtomicU64,
    /// The next client id.
    pub next_client: AtomicU64,
    /// Connections accepted since start (INFO total_connections_received).
    pub connections: AtomicU64,
    /// Commands run since start.
    pub commands: AtomicU64,
    /// The recent rate of `commands` (INFO instantaneous_ops_per_sec).
    pub(crate) ops_rate: measure::Rate,
    /// Connections refused (maxclients, protected mode).
    pub rejected_conns: AtomicU64,
    /// Error replies sent, by code (INFO errorstats).
    pub(crate) errors: errorstats::ErrorStats,
    /// When the instance started.
    pub started: Instant,
    /// A cheap clock (the CPU's counter where it is reliable) to time each command.
    pub timer: quanta::Clock,
    /// The settings the instance started with: read start-only settings here (runtime
    /// ones from `config`).
    pub cfg: ServerConfig,
    /// The client port it listens on.
    pub port: u16,
    /// A random id of this run (INFO run_id).
    pub run_id: String,
    /// Replication state; lock after `engine` when both are needed.
    pub repl: Mutex<Replication>,
    /// Woken whenever the op log grows: served links send what is new.
    pub log_notify: Notify,
    /// The links this instance serves, one per peer.
    pub served: Mutex<sync::Served>,
    /// Local publishes, forwarded to peers.
    pub publishes: broadcast::Sender<(Blob, Blob)>,
    /// CRDT.SYNC PAUSE in effect.
    pub paused: AtomicBool,
    /// Cuts short the outbound links' waits between attempts after CRDT.SYNC RESUME.
    pub link_wake: Notify,
    /// Cuts short the waits of links whose peer could not be reached, when a peer's own
    /// link arrives (the way back likely works too).
    pub peer_arrived: Notify,
    /// A task carries a full sync's merge out (one at a time).
    pub merge_driven: AtomicBool,
    /// When each peer's next link attempt is due (uptime ms), while its link waits.
    pub next_attempt: Mutex<BTreeMap<ReplicaId, (u64, u64)>>,
    /// Bumped by PAUSE: every link started before it closes.
    pub pause_epoch: AtomicU64,
    /// Whether this instance caught up with its peers after starting (writes wait).
    pub caught_up: AtomicBool,
    /// Where each peer listens, by replica id (CRDT.MEMBER changes it).
    pub peer_addrs: Mutex<BTreeMap<ReplicaId, sync::PeerAddr>>,
    /// The outbound link task of each peer.
    pub link_tasks: Mutex<HashMap<ReplicaId, tokio::task::AbortHandle>>,
    /// Other members: served links are woken on writes only when there are some.
    pub peer_count: AtomicUsize,
    /// Until when (ms since `started`) client writes are held for an admin flush; 0: not
    /// held.
    pub hold_until: AtomicU64,
    /// Set by CRDT.MEMBER LEAVE: this instance is being removed and refuses client writes.
    pub leaving: AtomicBool,
    /// The script jobs' turns, the Lua VM and the script running.
    pub script: script::Gate,
    /// This value's own `Arc`, for work it starts in the background (a new peer's link).
    pub me: std::sync::Weak<Shared>,
    /// Append-only file and snapshots.
    pub persist: Arc<persist::Persist>,
    /// SHUTDOWN asks the server to stop.
    pub shutdown: Notify,
    /// Clients blocked on keys; lock after `engine`.
    pub blocked: Mutex<blocking::Blocked>,
    /// TLS for clients and peer links.
    pub tls: tls::Tls,
    /// Users and the ACL LOG.
    pub access: Mutex<access::AccessState>,
    /// Bumped whenever users change, so connections refresh their user's rules.
    pub acl_epoch: AtomicU64,
    /// Connections open (from their accept, TLS handshakes included): `maxclients`.
    pub open: AtomicU64,
    /// SLOWLOG's entries.
    pub slowlog: Mutex<slowlog::SlowLog>,
    /// LATENCY's events.
    pub latency: Mutex<latency::Monitor>,
    /// MONITOR's clients.
    pub monitors: monitor::Monitors,
    /// Bytes allocated once the instance had loaded its files (MEMORY STATS).
    pub startup_memory: u64,
    /// Whether expired keys are looked for in the background (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire: AtomicBool,
    /// Clients waiting in WAIT.
    pub waits: cmd::role::Waits,
    /// CLIENT PAUSE in effect.
    pub pause: pause::Pause,
    /// Client-side caching: who tracks which keys; lock after `engine`.
    pub tracking: Mutex<tracking::Tracking>,
    /// The Redis primary this instance follows (REPLICAOF), if any.
    pub follow: follow::Follow,
}

/// Milliseconds since the Unix epoch, from the wall clock.
pub(crate) fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Shared {
    /// Milliseconds since the instance started: a clock a step of the wall clock cannot
    /// move (write holds, script run times).
    pub fn uptime_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The hot settings, from the live config.
    pub(crate) fn hot(&self) -> settings::Hot {
        self.config.read().unwrap_or_else(|p| p.into_inner()).hot()
    }
}

/// A bound, not yet running, instance.
pub struct Server {
    /// The plain TCP listeners (`port` on each `bind` address; none when it is 0).
    plain: Vec<TcpListener>,
    /// The TLS listeners (`tls-port`; none when it is 0).
    secure: Vec<TcpListener>,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the listening socket and builds the engine.
    pub async fn bind(cfg: ServerConfig) -> std::io::Result<Server> {
        let mut members: BTreeSet<ReplicaId> = [cfg.replica_id].into();
        let removed_ids = cfg.removed.iter().map(|r| r.id);
        for id in cfg.peers.iter().map(|p| p.id).chain(removed_ids) {
            if !members.insert(id) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "replica id {id} appears twice among this instance, its peers and its removed peers"
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
        if cfg.port == 0 && cfg.tls_port == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "port and tls-port are both 0: nothing to listen on",
            ));
        }
        let tls = tls::Tls::new(&cfg)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let access = access::initial(&cfg)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let plain = listen(&cfg.bind, cfg.port, cfg.tcp_backlog).await?;
        let secure = listen(&cfg.bind, cfg.tls_port, cfg.tcp_backlog).await?;
        let port = match plain.first() {
            Some(l) => l.local_addr()?.port(),
            None => 0,
        };
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
                usize::try_from(cfg.backlog_bytes.0).unwrap_or(usize::MAX)
            },
        });
        engine.set_peers(cfg.peers.len());
        engine.set_stream_id_mode(cfg.stream_id_mode);
        engine.set_eviction(settings::eviction(&cfg));
        engine.set_time(wall_ms());
        // Random replies (SPOP, RANDOMKEY, ...) must not repeat after every restart.
        engine.seed(rand::random());
        let persist = persist::Persist::open(
            &cfg.dir,
            persist::Settings {
                appendonly: cfg.appendonly,
                fsync: cfg.appendfsync,
                replica: cfg.replica_id,
                rewrite_percentage: cfg.auto_aof_rewrite_percentage,
                rewrite_min_size: cfg.auto_aof_rewrite_min_size.0,
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
        // After recovery: loading the files announces nothing.
        engine.set_notify(cfg.notify_keyspace_events);
        for r in &cfg.removed {
            members.remove(&r.id);
        }
        let mut repl_cfg = concord_replication::Config::new(cfg.replica_id, members, &cfg.db_name);
        repl_cfg.removed = cfg.removed.iter().map(|r| (r.id, r.cut.clone())).collect();
        repl_cfg.protocol = cfg.peer_protocol;
        let repl = Replication::new(repl_cfg);
        let peer_addrs = cfg.peers.iter().map(|p| (p.id, p.clone())).collect();
        let peer_count = AtomicUsize::new(cfg.peers.len());
        let busy_ms = cfg.busy_reply_threshold;
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            tls,
            access: Mutex::new(access),
            acl_epoch: AtomicU64::new(0),
            open: AtomicU64::new(0),
            slowlog: Mutex::default(),
            latency: Mutex::default(),
            monitors: monitor::Monitors::default(),
            startup_memory: mem::used() as u64,
            active_expire: AtomicBool::new(true),
            waits: cmd::role::Waits::default(),
            pause: pause::Pause::default(),
            tracking: Mutex::new(tracking::Tracking::new(
                cfg.tracking_table_max_keys,
                cfg.output_limits.pubsub,
            )),
            follow: follow::Follow::default(),
            engine: Mutex::new(engine),
            clients: Mutex::new(HashMap::new()),
            pubsub: Mutex::new(pubsub::PubSub::with_limit(cfg.output_limits.pubsub)),
            config: RwLock::new(ServerConfig {
                port,
                ..cfg.clone()
            }),
            config_epoch: AtomicU64::new(0),
            next_client: AtomicU64::new(1),
            connections: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            ops_rate: measure::Rate::default(),
            rejected_conns: AtomicU64::new(0),
            errors: errorstats::ErrorStats::default(),
            started: Instant::now(),
            timer: quanta::Clock::new(),
            run_id: (0..20)
                .map(|_| format!("{:02x}", rand::random::<u8>()))
                .collect(),
            cfg,
            port,
            repl: Mutex::new(repl),
            log_notify: Notify::new(),
            served: Mutex::default(),
            blocked: Mutex::new(blocking::Blocked::default()),
            publishes: broadcast::channel(4096).0,
            paused: AtomicBool::new(false),
            link_wake: Notify::new(),
            peer_arrived: Notify::new(),
            merge_driven: AtomicBool::new(false),
            next_attempt: Mutex::new(BTreeMap::new()),
            pause_epoch: AtomicU64::new(0),
            caught_up: AtomicBool::new(cfg_has_no_peers),
            peer_addrs: Mutex::new(peer_addrs),
            link_tasks: Mutex::default(),
            peer_count,
            hold_until: AtomicU64::new(0),
            leaving: AtomicBool::new(false),
            script: script::Gate::start(me.clone(), info::REDIS_VERSION, busy_ms),
            persist: Arc::new(persist),
            shutdown: Notify::new(),
        });
        Ok(Server {
            plain,
            secure,
            shared,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self.plain.first().or(self.secure.first()) {
            Some(l) => l.local_addr(),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// The address the TLS listener listens on, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.secure.first().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let shared = Arc::clone(&self.shared);
        let mut tasks = vec![
            tokio::spawn(active_expiry(Arc::clone(&shared))),
            tokio::spawn(persistence(Arc::clone(&shared))),
        ];
        // Upkeep runs even alone: a member may be added at any time.
        tasks.push(tokio::spawn(sync::upkeep(Arc::clone(&shared))));
        for p in shared.cfg.peers.clone() {
            sync::start_link(&shared, p);
        }
        for (listeners, how) in [
            (self.plain, Transport::Plain),
            (self.secure, Transport::Tls),
        ] {
            for l in listeners {
                tasks.push(tokio::spawn(accept(Arc::clone(&shared), l, how)));
            }
        }
        tokio::select! {
            _ = shutdown => {}
            _ = shared.shutdown.notified() => tracing::info!("SHUTDOWN asked by a client"),
        }
        for t in tasks {
            t.abort();
        }
        for (_, t) in shared
            .link_tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            t.abort();
        }
        // A running script that has not written is stopped (nothing of it is lost); one
        // that wrote ends first. In the turn: a script holds the engine until it ends.
        shared.script.stop();
        let _turn = shared.script.task_turn().await;
        shutdown_files(&shared);
    }
}

/// How clients reach a listener.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Plain,
    Tls,
}

/// The addresses of a `bind` setting (Redis's form: several, `*` for every IPv4
/// address, `::*` for every IPv6 one, a leading `-` for one that may be missing).
fn bind_addrs(bind: &str) -> impl Iterator<Item = (String, bool)> + '_ {
    bind.split_whitespace().map(|a| {
        let (a, optional) = match a.strip_prefix('-') {
            Some(rest) => (rest, true),
            None => (a, false),
        };
        let a = match a {
            "*" => "0.0.0.0",
            "::*" => "::",
            other => other,
        };
        (a.to_string(), optional)
    })
}

/// Whether `bind` listens on every address (protected mode then applies).
pub(crate) fn binds_everywhere(bind: &str) -> bool {
    bind_addrs(bind).any(|(a, _)| a == "0.0.0.0" || a == "::")
}

/// Listeners on every `bind` address for `port` (none for port 0).
async fn listen(bind: &str, port: u16, backlog: u32) -> std::io::Result<Vec<TcpListener>> {
    let mut v = Vec::new();
    if port == 0 {
        return Ok(v);
    }
    for (addr, optional) in bind_addrs(bind) {
        match listen_one(&addr, port, backlog).await {
            Ok(l) => v.push(l),
            Err(e) if optional => tracing::warn!("not listening on {addr}:{port}: {e}"),
            Err(e) => {
                return Err(std::io::Error::new(e.kind(), format!("{addr}:{port}: {e}")));
            }
        }
    }
    if v.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("no address of bind '{bind}' could be listened on"),
        ));
    }
    Ok(v)
}

/// A listener on the first address `host` resolves to, with `tcp-backlog` pending
/// connections at most.
async fn listen_one(host: &str, port: u16, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(backlog)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address")))
}

/// Accepts clients on `listener`, forever.
async fn accept(shared: Arc<Shared>, listener: TcpListener, how: Transport) {
    loop {
        let (sock, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and similar: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                shared.rejected_conns.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let hot = shared.hot();
        let refusal = admit(&shared, &sock, addr, &hot);
        if refusal.is_some() {
            shared.rejected_conns.fetch_add(1, Ordering::Relaxed);
            if how == Transport::Plain {
                // Best effort, without waiting on a client that does not read.
                let _ = sock.try_write(refusal.unwrap_or_default().as_bytes());
                continue;
            }
        }
        // Counted from the accept on (a TLS handshake in progress counts), until the
        // connection's task ends.
        let open = Open::new(&shared);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _open = open;
            let r = match (how, refusal) {
                (Transport::Plain, _) => conn::serve_tcp(shared, sock, addr).await,
                (Transport::Tls, None) => conn::serve_tls(shared, sock, addr).await,
                // The refusal goes over TLS, so the client can read it.
                (Transport::Tls, Some(why)) => conn::refuse_tls(&shared, sock, why).await,
            };
            if let Err(e) = r {
                tracing::debug!("connection {addr}: {e}");
            }
        });
    }
}

/// What a client from another host is told when protected mode turns it away.
const PROTECTED: &str = "-DENIED Concord is running in protected mode because protected mode is enabled, it listens on every address and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Concord you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Concord from the same host the server is running, however MAKE SURE Concord is not publicly accessible from internet if you do so. 2) Alternatively you can just disable the protected mode by editing the configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user, or bind to specific addresses only. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// A connection being served: counted in `Shared::open` until dropped.
struct Open(Arc<Shared>);

impl Open {
    fn new(sh: &Arc<Shared>) -> Open {
        sh.open.fetch_add(1, Ordering::AcqRel);
        Open(Arc::clone(sh))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Checks a new connection against protected mode and `maxclients`, and sets its
/// keepalive; the error it gets when refused (Redis's texts).
fn admit(
    sh: &Shared,
    sock: &tokio::net::TcpStream,
    addr: SocketAddr,
    hot: &settings::Hot,
) -> Option<&'static str> {
    if hot.protected_mode
        && !addr.ip().is_loopback()
        && binds_everywhere(&sh.cfg.bind)
        && sh.default_nopass()
    {
        return Some(PROTECTED);
    }
    if sh.open.load(Ordering::Acquire) >= hot.maxclients {
        return Some("-ERR max number of clients reached\r\n");
    }
    if hot.tcp_keepalive > 0 {
        let ka = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(hot.tcp_keepalive))
            .with_interval(Duration::from_secs((hot.tcp_keepalive / 3).max(1)));
        if let Err(e) = socket2::SockRef::from(sock).set_tcp_keepalive(&ka) {
            tracing::debug!("keepalive: {e}");
        }
    }
    None
}

/// Locks `m`; a panic while it was held does not make its contents wrong here (each
/// holder leaves them whole between its steps).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
    // When the `save` points last started a snapshot: after a failed one the next waits
    // a little, as in Redis.
    let mut tried_at: Option<Instant> = None;
    loop {
        tick.tick().await;
        let p = &sh.persist;
        let want = p.writer.state().rewrite_wanted.load(Ordering::Relaxed);
        let mut scheduled = p.scheduled.load(Ordering::Relaxed);
        sh.ops_rate
            .sample(Instant::now(), sh.commands.load(Ordering::Relaxed));
        // A script may hold the engine: wait for the turn, not on the lock.
        let _turn = sh.script.task_turn().await;
        let mut e = sh.engine.lock().unwrap_or_else(|x| x.into_inner());
        let before = e.log().appended();
        effects::after_write(&sh, &mut e, before);
        if !scheduled && p.running().is_none() {
            let points = sh
                .config
                .read()
                .unwrap_or_else(|x| x.into_inner())
                .save
                .clone();
            let changes = (e.stats.local_ops + e.stats.remote_ops)
                .saturating_sub(p.ops_at_save.load(Ordering::Relaxed));
            let since = (wall_ms() / 1000).saturating_sub(p.lastsave.load(Ordering::Relaxed));
            let may_retry = p.last_bgsave_ok.load(Ordering::Relaxed)
                || tried_at.is_none_or(|t| t.elapsed() > persist::SAVE_RETRY_DELAY);
            if may_retry && persist::save_due(&points.0, changes, since) {
                tracing::info!("{changes} changes in {since} seconds. Saving...");
                scheduled = true;
                tried_at = Some(Instant::now());
            }
        }
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

/// Clients one background tick may look after before `dynamic-hz` doubles the rate.
const CLIENTS_PER_TICK: usize = 200;

/// The largest `hz`.
const MAX_HZ: u64 = 500;

/// How often background tasks run: `hz`, doubled while there are more than
/// [`CLIENTS_PER_TICK`] clients per tick when `dynamic-hz` is on (as Redis does), at most
/// [`MAX_HZ`].
fn effective_hz(hz: u64, dynamic: bool, clients: usize) -> u64 {
    let mut hz = hz.clamp(1, MAX_HZ);
    while dynamic && clients / hz as usize > CLIENTS_PER_TICK && hz < MAX_HZ {
        hz = (hz * 2).min(MAX_HZ);
    }
    hz
}

/// Active expiry, `hz` times a second: sample keys with an expiry and delete expired
/// ones, repeating while a quarter of a sample was expired, within a small time budget.
/// Eviction goes on here too while memory is past `maxmemory` and no command comes.
async fn active_expiry(shared: Arc<Shared>) {
    loop {
        let hot = shared.hot();
        let clients = shared
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        let hz = effective_hz(hot.hz, hot.dynamic_hz, clients);
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        if hot.maxmemory > 0 {
            let _turn = shared.script.task_turn().await;
            // The limit as it is now: CONFIG SET may have changed it during the sleep.
            let hot = shared.hot();
            let mut e = shared.engine.lock().unwrap_or_else(|p| p.into_inner());
            // Nothing is evicted while writes are paused, as in Redis.
            if hot.maxmemory > 0
                && !shared.leaving.load(Ordering::Acquire)
                && !shared.pause.holds(true)
            {
                e.set_time(wall_ms());
                let before = e.log().appended();
                mem::make_room(&mut e, hot.maxmemory, hot.evict_budget);
                effects::after_write(&shared, &mut e, before);
            }
        }
        let start = Instant::now();
        loop {
            let deleted = {
                // A script may hold the engine: wait for the turn, not on the lock.
                let _turn = shared.script.task_turn().await;
                let mut e = shared.engine.lock().unwrap_or_else(|p| p.into_inner());
                e.set_time(wall_ms());
                // A leaving instance issues no more ops of its own: the others delete
                // what expires.
                if e.expiring_count() == 0
                    || shared.pause.holds(true)
                    || shared.leaving.load(Ordering::Acquire)
                    || !shared.active_expire.load(Ordering::Relaxed)
                {
                    0
                } else {
                    let before = e.log().appended();
                    let n = e.active_expire(20);
                    effects::after_write(&shared, &mut e, before);
                    n
                }
            };
            // At most a quarter of each tick, as Redis's expire cycle.
            if deleted < 5 || start.elapsed() > Duration::from_micros(250_000 / hz) {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod hz_tests {
    use super::effective_hz;

    #[test]
    fn dynamic_hz_doubles_with_clients_as_redis_does() {
        assert_eq!(effective_hz(10, true, 0), 10);
        assert_eq!(effective_hz(10, true, 2000), 10);
        assert_eq!(effective_hz(10, true, 2010), 20);
        assert_eq!(effective_hz(10, true, 10_000), 80);
        assert_eq!(effective_hz(10, false, 10_000), 10);
        assert_eq!(effective_hz(10, true, usize::MAX), 500);
        assert_eq!(effective_hz(0, true, 0), 1);
    }
}
