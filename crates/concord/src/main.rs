//! The `concord` binary: runs an instance (`concord server`).

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
    Server(ServerArgs),
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
    /// Peers as ID=HOST:PORT (replication arrives in a later version).
    #[arg(long = "peer")]
    peers: Vec<String>,
    /// Directory for the instance's files.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Append-only file: yes or no.
    #[arg(long)]
    appendonly: Option<String>,
    /// fsync policy: always, everysec or no.
    #[arg(long)]
    appendfsync: Option<String>,
    /// Password of the default user.
    #[arg(long)]
    requirepass: Option<String>,
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
        "peer" => {}
        _ => bail!("unknown setting {name:?}"),
    }
    Ok(())
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
    let flags: [(&str, Option<String>); 8] = [
        ("threads", args.threads.map(|p| p.to_string())),
        ("port", args.port.map(|p| p.to_string())),
        ("bind", args.bind),
        ("replica-id", args.replica_id.map(|p| p.to_string())),
        ("dir", args.dir.map(|p| p.display().to_string())),
        ("appendonly", args.appendonly),
        ("appendfsync", args.appendfsync),
        ("requirepass", args.requirepass),
    ];
    for (k, v) in flags {
        if let Some(v) = v {
            apply(&mut cfg, k, &v)?;
        }
    }
    if !args.peers.is_empty() {
        tracing::warn!("--peer is accepted but replication is not implemented yet");
    }
    Ok(cfg)
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Server(args) => {
            let cfg = load(args)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let server = Server::bind(cfg.clone())
                    .await
                    .with_context(|| format!("listening on {}:{}", cfg.bind, cfg.port))?;
                let addr = server.local_addr()?;
                tracing::info!(%addr, replica_id = cfg.replica_id, "Concord ready to accept connections");
                println!("Concord {} listening on {addr}", env!("CARGO_PKG_VERSION"));
                server
                    .run(async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await;
                tracing::info!("shutting down");
                Ok(())
            })
        }
    }
}
