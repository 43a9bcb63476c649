//! The `concord` binary: runs an instance (`concord server`), a local active-active
//! database of several instances (`concord demo`), or the manager of a participating
//! cluster (`concord cluster`); loads an RDB file into a database (`concord import`).

mod cluster;
mod crdb;
mod demo;
mod import;
mod log;
mod migrate;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use concord_server::settings::file::Loader;
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
    Demo(demo::DemoArgs),
    /// Check the snapshot and append-only files of a data directory; --fix cuts an
    /// append-only file at its first bad record (what follows it is lost).
    CheckAof(CheckArgs),
    /// Create or run the manager of a participating cluster.
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// Create, list, show and delete active-active databases through a cluster's API.
    #[command(subcommand)]
    Crdb(crdb::CrdbCmd),
    /// Follow the tasks that change active-active databases.
    #[command(subcommand)]
    Task(crdb::TaskCmd),
    /// Load a Redis RDB file (Redis 6.0 to 7.2) into a running database through one of
    /// its instances.
    Import(import::ImportArgs),
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

#[derive(Args, Default)]
#[command(after_help = settings_help())]
struct ServerArgs {
    /// An optional config file first (redis.conf syntax), then settings as `--name
    /// value` (a setting of several words, as `--save 900 1`, takes them up to the next
    /// `--name`); flags override the file, which may also be given as `--config FILE`.
    /// `--peer` may repeat.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--SETTING VALUE"
    )]
    settings: Vec<String>,
}

/// The list of settings for `concord server --help`.
fn settings_help() -> String {
    let names: Vec<&str> = concord_server::settings::SETTINGS
        .iter()
        .map(|s| s.name)
        .collect();
    format!("Settings: {}", names.join(", "))
}

/// Splits `--name value ...` words into names and their words.
fn flag_pairs(words: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for w in words {
        match w.strip_prefix("--") {
            Some(name) if !name.is_empty() && !name.starts_with('-') => {
                pairs.push((name.to_ascii_lowercase(), Vec::new()))
            }
            _ => match pairs.last_mut() {
                Some((_, v)) => v.push(w.clone()),
                None => bail!("unexpected argument {w:?}: settings are given as --name value"),
            },
        }
    }
    Ok(pairs)
}

/// The settings of `concord server`: Redis's defaults, then the config file (given as
/// `--config FILE` or, as redis-server takes it, first), then the flags.
fn load(args: ServerArgs) -> Result<ServerConfig> {
    let mut cfg = ServerConfig::default();
    let mut words = args.settings.as_slice();
    let mut file = None;
    if let Some(first) = words.first().filter(|w| !w.starts_with("--")) {
        file = Some(PathBuf::from(first));
        words = &words[1..];
    }
    let (files, flags): (Vec<_>, Vec<_>) = flag_pairs(words)?
        .into_iter()
        .partition(|(k, _)| k == "config");
    for (_, path) in files {
        if file.is_some() || path.len() != 1 {
            bail!("give one config file (--config FILE)");
        }
        file = Some(PathBuf::from(&path[0]));
    }
    let mut loader = Loader::new(&mut cfg);
    if let Some(path) = &file {
        loader.file(path)?;
    }
    loader.flags(&flags)?;
    if let Some(path) = file {
        // CONFIG REWRITE writes here, whatever the working directory is by then.
        cfg.config_file = Some(std::fs::canonicalize(&path).unwrap_or(path));
    }
    Ok(cfg)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match &cli.cmd {
        Cmd::Server(_) => {}
        // The demo prints how to connect; its log stays quiet unless RUST_LOG asks.
        Cmd::Demo(_) => log::tool("warn"),
        _ => log::tool("info"),
    }
    match cli.cmd {
        Cmd::Demo(args) => demo::run(args),
        Cmd::CheckAof(args) => check_aof(args),
        Cmd::Import(args) => import::run(args),
        Cmd::Cluster(cmd) => cluster::run(cmd),
        Cmd::Crdb(cmd) => crdb::run_crdb(cmd),
        Cmd::Task(cmd) => crdb::run_task(cmd),
        Cmd::Server(args) => {
            // A bad setting ends the process with Redis's message alone, as redis-server does.
            let cfg = load(*args).unwrap_or_else(|e| {
                eprintln!("{e:#}");
                std::process::exit(1)
            });
            log::server(cfg.loglevel, &cfg.logfile)?;
            let pidfile = PidFile::create(&cfg.pidfile);
            if cfg.disable_thp {
                concord_server::mem::disable_thp();
            }
            if let Err(e) = concord_server::jemalloc::set_background_thread(cfg.jemalloc_bg_thread)
            {
                tracing::warn!("jemalloc-bg-thread: {e}");
            }
            let rt = runtime(cfg.threads)?;
            rt.block_on(async move {
                let server = Server::bind(cfg.clone())
                    .await
                    .with_context(|| format!("listening on {}:{}", cfg.bind, cfg.port))?;
                let addr = server.local_addr()?;
                let stop = stop_signal()?;
                tracing::info!(%addr, replica_id = cfg.replica_id, "Concord ready to accept connections");
                match server.tls_addr() {
                    Some(tls) if cfg.port != 0 => println!(
                        "Concord {} listening on {addr}, TLS on {tls}",
                        env!("CARGO_PKG_VERSION")
                    ),
                    Some(tls) => println!("Concord {} listening with TLS on {tls}", env!("CARGO_PKG_VERSION")),
                    None => println!("Concord {} listening on {addr}", env!("CARGO_PKG_VERSION")),
                }
                server
                    .run(stop)
                    .await;
                tracing::info!("shutting down");
                drop(pidfile);
                Ok(())
            })
        }
    }
}

/// The `pidfile` while the process runs: written at start, removed at a clean stop.
struct PidFile(Option<PathBuf>);

impl PidFile {
    /// Writes the process id to `path` (nothing when empty); a failure is only logged,
    /// as in Redis.
    fn create(path: &str) -> PidFile {
        if path.is_empty() {
            return PidFile(None);
        }
        match std::fs::write(path, format!("{}\n", std::process::id())) {
            Ok(()) => PidFile(Some(PathBuf::from(path))),
            Err(e) => {
                tracing::warn!("Failed to write PID file {path}: {e}");
                PidFile(None)
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
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

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C): both stop cleanly. It registers
/// for both at once, so a signal that arrives before the future is first polled (right
/// after a readiness notice, say) is not lost.
pub(crate) fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
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
