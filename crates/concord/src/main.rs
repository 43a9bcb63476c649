//! The `concord` binary: runs an instance (`concord server`) or a local active-active
//! database of several instances (`concord demo`).

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use concord_server::{Server, ServerConfig, mem::CountingAlloc};
use std::path::PathBuf;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Concord: an active-active, geo-replicated database that speaks the Redis protocol.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one instance.
    Server(Box<ServerArgs>),
    /// Run a local active-active database of several instances, for trying Concord out.
    Demo(DemoArgs),
    /// Check the snapshot and append-only files of a data directory; --fix cuts an
    /// append-only file at its first bad record (what follows it is lost).
    CheckAof(CheckArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// Cut each damaged append-only file at its first bad record.
    #[arg(long)]
    fix: bool,
    /// The instance's data directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

#[derive(Args)]
struct DemoArgs {
    /// How many instances.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    instances: u16,
    /// Port of the first instance; the others follow two apart (12000, 12002, ...).
    #[arg(long, default_value_t = 12000)]
    base_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
}

#[derive(Args, Default)]
struct ServerArgs {
    /// TCP port to listen on (0 picks a free port).
    #[arg(long)]
    port: Option<u16>,
    /// Address to listen on.
    #[arg(long)]
    bind: Option<String>,
    /// This instance's id within its database (1..=65535).
    #[arg(long)]
    replica_id: Option<u16>,
    /// Another instance of this database, as ID=HOST:PORT (repeat for each peer).
    #[arg(long = "peer")]
    peers: Vec<String>,
    /// The database's name: instances of differently named databases refuse to link.
    #[arg(long)]
    db_name: Option<String>,
    /// Password for links to peers (default: the requirepass value).
    #[arg(long)]
    peer_password: Option<String>,
    /// Byte budget of the replication backlog (e.g. 134217728, 128mb, 1gb).
    #[arg(long)]
    backlog_size: Option<String>,
    /// lz4 compression of replication batches: yes or no.
    #[arg(long)]
    repl_compression: Option<String>,
    /// Directory for the instance's files.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Append-only file: yes or no.
    #[arg(long)]
    appendonly: Option<String>,
    /// fsync policy: always, everysec or no.
    #[arg(long)]
    appendfsync: Option<String>,
    /// Rewrite the append-only file when it grew by this percentage (0: never).
    #[arg(long)]
    auto_aof_rewrite_percentage: Option<u64>,
    /// ... and is at least this large (e.g. 64mb).
    #[arg(long)]
    auto_aof_rewrite_min_size: Option<String>,
    /// Password of the default user.
    #[arg(long)]
    requirepass: Option<String>,
    /// How XADD chooses stream ids: strict (default), semi-strict or liberal.
    #[arg(long)]
    stream_id_mode: Option<String>,
    /// Worker threads for connections (default 1: the engine is single-threaded anyway,
    /// and on small machines one thread avoids lock hand-offs).
    #[arg(long)]
    threads: Option<usize>,
    /// A config file of `name value` lines (the same names as the flags).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Applies one `name value` setting, from the command line or a config file.
fn apply(cfg: &mut ServerConfig, name: &str, value: &str) -> Result<()> {
    match name {
        "port" => {
            cfg.port = value
                .parse()
                .with_context(|| format!("bad port {value:?}"))?
        }
        "bind" => {
            cfg.bind = value
                .split_whitespace()
                .next()
                .unwrap_or("127.0.0.1")
                .to_string()
        }
        "replica-id" => {
            cfg.replica_id = value
                .parse()
                .with_context(|| format!("bad replica id {value:?}"))?;
            if cfg.replica_id == 0 {
                bail!("replica id must be at least 1");
            }
        }
        "dir" => cfg.dir = PathBuf::from(value),
        "requirepass" => cfg.requirepass = (!value.is_empty()).then(|| value.to_string()),
        "appendonly" => {
            cfg.appendonly = match value {
                "yes" => true,
                "no" => false,
                _ => bail!("appendonly takes yes or no, not {value:?}"),
            }
        }
        "appendfsync" => {
            if !matches!(value, "always" | "everysec" | "no") {
                bail!("appendfsync takes always, everysec or no, not {value:?}");
            }
            cfg.appendfsync = value.to_string();
        }
        "threads" => {
            cfg.threads = value
                .parse()
                .with_context(|| format!("bad thread count {value:?}"))?;
            if cfg.threads == 0 || cfg.threads > 64 {
                bail!("threads must be between 1 and 64");
            }
        }
        "peer" => {
            let p: concord_server::PeerAddr = value.parse().map_err(anyhow::Error::msg)?;
            cfg.peers.push(p);
        }
        "db-name" => {
            if value.is_empty() || value.len() > 200 || value.contains(char::is_whitespace) {
                bail!("db-name must be 1..200 characters without spaces");
            }
            cfg.db_name = value.to_string();
        }
        "peer-password" => cfg.peer_password = (!value.is_empty()).then(|| value.to_string()),
        "backlog-size" => {
            cfg.backlog_bytes = parse_size(value)?;
            if cfg.backlog_bytes < 64 * 1024 {
                bail!("backlog-size must be at least 64kb");
            }
        }
        "auto-aof-rewrite-percentage" => {
            cfg.auto_aof_rewrite_percentage = value
                .parse()
                .with_context(|| format!("bad percentage {value:?}"))?
        }
        "auto-aof-rewrite-min-size" => cfg.auto_aof_rewrite_min_size = parse_size(value)? as u64,
        "stream-id-mode" => {
            cfg.stream_id_mode = concord_engine::StreamIdMode::parse(value).with_context(|| {
                format!("stream-id-mode takes strict, semi-strict or liberal, not {value:?}")
            })?
        }
        "repl-compression" => {
            cfg.repl_compression = match value {
                "yes" => true,
                "no" => false,
                _ => bail!("repl-compression takes yes or no, not {value:?}"),
            }
        }
        _ => bail!("unknown setting {name:?}"),
    }
    Ok(())
}

/// Parses a byte size: a number with an optional kb/mb/gb suffix (powers of 1024).
fn parse_size(v: &str) -> Result<usize> {
    let lower = v.to_ascii_lowercase();
    let (num, mult) = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("b", 1)]
        .iter()
        .find_map(|(suf, m)| lower.strip_suffix(suf).map(|n| (n.to_string(), *m)))
        .unwrap_or((lower.clone(), 1usize));
    let n: usize = num
        .trim()
        .parse()
        .with_context(|| format!("bad size {v:?}"))?;
    n.checked_mul(mult)
        .with_context(|| format!("size {v:?} is too large"))
}

fn load(args: ServerArgs) -> Result<ServerConfig> {
    let mut cfg = ServerConfig::default();
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let v = v.trim().trim_matches('"');
            apply(&mut cfg, &k.to_ascii_lowercase(), v)
                .with_context(|| format!("{}:{}", path.display(), n + 1))?;
        }
        cfg.config_file = Some(path.clone());
    }
    let flags: [(&str, Option<String>); 15] = [
        (
            "auto-aof-rewrite-percentage",
            args.auto_aof_rewrite_percentage.map(|p| p.to_string()),
        ),
        ("auto-aof-rewrite-min-size", args.auto_aof_rewrite_min_size),
        ("db-name", args.db_name),
        ("peer-password", args.peer_password),
        ("backlog-size", args.backlog_size),
        ("repl-compression", args.repl_compression),
        ("threads", args.threads.map(|p| p.to_string())),
        ("port", args.port.map(|p| p.to_string())),
        ("bind", args.bind),
        ("replica-id", args.replica_id.map(|p| p.to_string())),
        ("dir", args.dir.map(|p| p.display().to_string())),
        ("appendonly", args.appendonly),
        ("appendfsync", args.appendfsync),
        ("requirepass", args.requirepass),
        ("stream-id-mode", args.stream_id_mode),
    ];
    for (k, v) in flags {
        if let Some(v) = v {
            apply(&mut cfg, k, &v)?;
        }
    }
    for p in &args.peers {
        apply(&mut cfg, "peer", p)?;
    }
    Ok(cfg)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // The demo prints how to connect; its log stays quiet unless RUST_LOG asks.
    let default_level = if matches!(cli.cmd, Cmd::Demo(_)) {
        "warn"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .init();
    match cli.cmd {
        Cmd::Demo(args) => demo(args),
        Cmd::CheckAof(args) => check_aof(args),
        Cmd::Server(args) => {
            let cfg = load(*args)?;
            let rt = runtime(cfg.threads)?;
            rt.block_on(async move {
                let server = Server::bind(cfg.clone())
                    .await
                    .with_context(|| format!("listening on {}:{}", cfg.bind, cfg.port))?;
                let addr = server.local_addr()?;
                tracing::info!(%addr, replica_id = cfg.replica_id, "Concord ready to accept connections");
                println!("Concord {} listening on {addr}", env!("CARGO_PKG_VERSION"));
                server
                    .run(stop_signal())
                    .await;
                tracing::info!("shutting down");
                Ok(())
            })
        }
    }
}

/// The network runtime. One worker runs everything on the thread that drives it: the
/// engine is single-threaded, so more workers only add cross-thread wake-ups.
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// Resolves on Ctrl-C or SIGTERM: both stop the instance cleanly.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `concord check-aof [--fix] [--dir D]`.
fn check_aof(args: CheckArgs) -> Result<()> {
    let dir = concord_storage::RealDir::new(&args.dir)
        .with_context(|| format!("opening {}", args.dir.display()))?;
    let files = concord_storage::check(&dir, args.fix)?;
    if files.is_empty() {
        println!("no Concord files in {}", args.dir.display());
        return Ok(());
    }
    let mut bad = false;
    for f in &files {
        match &f.bad {
            None => println!("{}: ok, {} records, {} bytes", f.file, f.records, f.size),
            Some((offset, why)) => {
                let lost = f.size.saturating_sub(*offset);
                if f.fixed {
                    println!(
                        "{}: {why} at offset {offset}; cut there ({} good records kept, {lost} bytes removed)",
                        f.file, f.records
                    );
                } else {
                    bad = true;
                    println!(
                        "{}: {why} at offset {offset} ({} good records before it, {lost} bytes from there on)",
                        f.file, f.records
                    );
                }
            }
        }
    }
    if bad {
        bail!(
            "damaged files found; run `concord check-aof --fix --dir {}` to cut them at the damage",
            args.dir.display()
        );
    }
    Ok(())
}

/// `concord demo`: N instances of one database in this process, ports two apart.
fn demo(args: DemoArgs) -> Result<()> {
    let n = args.instances;
    let port = |i: u16| -> Result<u16> {
        args.base_port
            .checked_add(2 * (i - 1))
            .context("base port too high for that many instances")
    };
    let mut cfgs = Vec::new();
    // Each instance keeps its files apart; the demo's state goes when it stops.
    let root = std::env::temp_dir().join(format!("concord-demo-{}", std::process::id()));
    for i in 1..=n {
        let mut cfg = ServerConfig {
            port: port(i)?,
            bind: args.bind.clone(),
            replica_id: i,
            db_name: "demo".into(),
            dir: root.join(i.to_string()),
            ..ServerConfig::default()
        };
        for j in (1..=n).filter(|&j| j != i) {
            cfg.peers.push(concord_server::PeerAddr {
                id: j,
                addr: format!("{}:{}", args.bind, port(j)?),
            });
        }
        cfgs.push(cfg);
    }
    // Several instances share this runtime: one worker per core.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut servers = Vec::new();
        for cfg in cfgs {
            let server = Server::bind(cfg.clone())
                .await
                .with_context(|| format!("listening on {}:{}", cfg.bind, cfg.port))?;
            let mut rx = stop_rx.clone();
            servers.push(tokio::spawn(server.run(async move {
                let _ = rx.changed().await;
            })));
        }
        println!("Concord demo: an active-active database of {n} instances.");
        for i in 1..=n {
            println!("  instance {i}: redis-cli -p {}", port(i)?);
        }
        if n >= 2 {
            println!(
                "Try: redis-cli -p {} set key1 123 && redis-cli -p {} get key1",
                port(1)?,
                port(2)?
            );
        }
        println!("Press Ctrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
        for s in servers {
            let _ = s.await;
        }
        let _ = std::fs::remove_dir_all(&root);
        println!("Concord demo stopped.");
        Ok(())
    })
}
