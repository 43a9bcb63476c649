//! `concord crdb migrate`: copies a running Redis database into an active-active
//! database (Replica Of). Every instance is flushed first, then one instance follows the
//! source; this shows the transfer's progress, then the lag, and `--stop` ends it.

use crate::crdb::{GuidArgs, Output, connect, print, target_ref, wait};
use anyhow::{Result, bail};
use clap::Args;
use concord_manager::remote::Remote;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

/// How long the link may stay down, with an error, before the command gives up watching
/// (the instance keeps trying).
const DOWN_GIVE_UP: Duration = Duration::from_secs(30);
/// How often the status is read.
const POLL: Duration = Duration::from_millis(250);

/// `concord crdb migrate`.
#[derive(Args)]
pub struct MigrateArgs {
    /// The source: `redis://[user:password@]host:port` (`rediss://` for TLS).
    #[arg(long, required_unless_present = "stop")]
    source: Option<String>,
    /// TLS for a `redis://` source too.
    #[arg(long)]
    tls: bool,
    /// Stop following the source (what was copied stays).
    #[arg(long, conflicts_with = "source")]
    stop: bool,
    /// Do not ask before flushing every instance.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    db: GuidArgs,
}

/// Runs `concord crdb migrate`.
pub fn run(a: MigrateArgs) -> Result<()> {
    let target = &a.db.target;
    let api = connect(&target_ref(target)?)?;
    let path = format!("/v1/crdbs/{}/migrate", a.db.crdb_guid);
    if a.stop {
        let v = api.delete(&path).map_err(anyhow::Error::msg)?;
        if target.output == Output::Text {
            println!("Stopped following the source; the data stays.");
        }
        print(target.output, &v);
        return Ok(());
    }
    let source = a.source.clone().unwrap_or_default();
    if !a.yes {
        confirm(&a.db.crdb_guid)?;
    }
    let task = api
        .put(&path, &json!({"source": source, "tls": a.tls}))
        .map_err(anyhow::Error::msg)?;
    if a.db.no_wait {
        print(target.output, &task);
        return Ok(());
    }
    wait(&api, &task, target.output)?;
    let status = watch(&api, &path, target.output == Output::Text)?;
    print(target.output, &status);
    Ok(())
}

/// Runs `concord crdb migrate-status`.
pub fn status(g: GuidArgs) -> Result<()> {
    let api = connect(&target_ref(&g.target)?)?;
    let v = api
        .get(&format!("/v1/crdbs/{}/migrate", g.crdb_guid))
        .map_err(anyhow::Error::msg)?;
    print(g.target.output, &v);
    Ok(())
}

/// Asks before every instance is flushed.
fn confirm(guid: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("migrating flushes every instance of database {guid} first: pass --yes");
    }
    eprint!("Migrating flushes every instance of database {guid} first. Continue? [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not migrated");
    }
    Ok(())
}

/// Shows the transfer, then the loading, until the copy follows the stream; its status
/// then (with the lag once known).
fn watch(api: &Remote, path: &str, show: bool) -> Result<Value> {
    let bar = if show {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    let mut down_since: Option<Instant> = None;
    loop {
        let v = api.get(path).map_err(anyhow::Error::msg)?;
        if v["following"] != true {
            bar.finish_and_clear();
            bail!("the instance follows no source (stopped, or REPLICAOF NO ONE)");
        }
        let up = v["link_status"] == "up";
        let syncing = v["sync_in_progress"] == true;
        if syncing {
            down_since = None;
            let read = v["sync_read_bytes"].as_u64().unwrap_or(0);
            let keys = v["loaded_keys"].as_u64().unwrap_or(0);
            match v["sync_total_bytes"].as_u64() {
                Some(total) if keys == 0 => {
                    bar.set_style(style("{bar:40} {bytes}/{total_bytes} received {msg}"));
                    bar.set_length(total);
                    bar.set_position(read);
                }
                _ if keys == 0 => {
                    bar.set_style(style("{spinner} {msg}"));
                    bar.set_message(format!("{read} bytes received (diskless transfer)"));
                    bar.tick();
                }
                _ => {
                    bar.set_style(style("{spinner} {msg}"));
                    bar.set_message(format!("{keys} keys loaded"));
                    bar.tick();
                }
            }
        } else if up {
            if let Some(lag) = v["lag_bytes"].as_i64() {
                bar.finish_and_clear();
                if show {
                    println!(
                        "Following {}: {} keys copied, lag {lag} bytes",
                        v["source"].as_str().unwrap_or_default(),
                        v["loaded_keys"].as_u64().unwrap_or(0)
                    );
                }
                return Ok(v);
            }
        } else {
            let since = *down_since.get_or_insert_with(Instant::now);
            let error = v["last_error"].as_str().unwrap_or_default();
            bar.set_style(style("{spinner} {msg}"));
            bar.set_message(format!("connecting to the source… {error}"));
            bar.tick();
            if !error.is_empty() && since.elapsed() > DOWN_GIVE_UP {
                bar.finish_and_clear();
                bail!(
                    "the link to the source is down: {error} (the instance keeps trying; \
                     see `concord crdb migrate-status`)"
                );
            }
        }
        std::thread::sleep(POLL);
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}
