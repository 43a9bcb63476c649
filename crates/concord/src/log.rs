//! The process's log, set up in one place: where it goes (`logfile`, empty: standard
//! output), how much it says (`loglevel`, changed at runtime by CONFIG SET), and colour
//! only when a person is watching a terminal.

use anyhow::{Context, Result};
use concord_server::settings::{LOG_LEVEL_HOOK, LogLevel};
use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, prelude::*, reload};

/// The filter of a level; `RUST_LOG`, when set, wins at start.
fn filter(level: LogLevel) -> EnvFilter {
    EnvFilter::new(match level {
        LogLevel::Debug => "debug",
        LogLevel::Verbose | LogLevel::Notice => "info",
        LogLevel::Warning => "warn",
        LogLevel::Nothing => "off",
    })
}

/// The log of a tool (demo, manager, CLI): standard error, at `default` unless
/// `RUST_LOG` says otherwise.
pub fn tool(default: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into()))
        .init();
}

/// The log of an instance, as its settings say; CONFIG SET loglevel reloads the filter.
pub fn server(level: LogLevel, logfile: &str) -> Result<()> {
    let start = EnvFilter::try_from_default_env().unwrap_or_else(|_| filter(level));
    let (filter_layer, handle) = reload::Layer::new(start);
    let hook = move |l: LogLevel| {
        if let Err(e) = handle.reload(filter(l)) {
            eprintln!("changing the log level: {e}");
        }
    };
    let _ = LOG_LEVEL_HOOK.set(Box::new(hook));
    let registry = tracing_subscriber::registry().with(filter_layer);
    if logfile.is_empty() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stdout)
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)
            .with_context(|| format!("Can't open the log file {logfile}"))?;
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::sync::Mutex::new(file))
                    .with_ansi(false),
            )
            .init();
    }
    Ok(())
}
