//! `concord crdb migrate`: copies a running Redis database into an active-active
//! database (Replica Of). One instance follows the source; its first snapshot replaces
//! the data of every instance. This shows the transfer's progress, then the lag, and
//! `--stop` ends it.

use crate::crdb::{GuidArgs, Output, connect, print, target_ref, wait};
use anyhow::{Result, bail};
use clap::Args;
use concord_manager::remote::Remote;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

/// How long the lag is waited for once the copy follows the stream.
const LAG_WAIT: Duration = Duration::from_secs(10);
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
    /// Do not ask before the data of every instance is replaced.
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
    let id = task["id"].as_str().unwrap_or_default().to_string();
    watch(&api, &path, &id, target.output == Output::Text)?;
    wait(&api, &task, target.output)?;
    let status = lag(&api, &path, target.output == Output::Text)?;
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
        bail!(
            "migrating replaces the data of every instance of database {guid} with the source's: pass --yes"
        );
    }
    eprint!(
        "Migrating replaces the data of every instance of database {guid} with the source's. Continue? [y/N] "
    );
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not migrated");
    }
    Ok(())
}

/// Shows the transfer, then the loading, until the first snapshot is loaded; fails with
/// the task's errors when it fails.
fn watch(api: &Remote, path: &str, task: &str, show: bool) -> Result<()> {
    let bar = if show {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    loop {
        let t = api
            .get(&format!("/v1/crdb_tasks/{task}"))
            .map_err(anyhow::Error::msg)?;
        if matches!(t["status"].as_str(), Some("failed" | "canceled")) {
            bar.finish_and_clear();
            bail!("task {task} {}: {}", t["status"], t["errors"]);
        }
        let v = api.get(path).map_err(anyhow::Error::msg)?;
        if v["full_syncs"].as_i64().unwrap_or(0) > 0 {
            bar.finish_and_clear();
            return Ok(());
        }
        let read = v["sync_read_bytes"].as_u64().unwrap_or(0);
        let keys = v["loaded_keys"].as_u64().unwrap_or(0);
        if v["sync_in_progress"] == true && keys == 0 {
            match v["sync_total_bytes"].as_u64() {
                Some(total) => {
                    bar.set_style(style("{bar:40} {bytes}/{total_bytes} received"));
                    bar.set_length(total);
                    bar.set_position(read);
                }
                None => {
                    bar.set_style(style("{spinner} {msg}"));
                    bar.set_message(format!("{read} bytes received (diskless transfer)"));
                    bar.tick();
                }
            }
        } else if v["sync_in_progress"] == true {
            bar.set_style(style("{spinner} {msg}"));
            bar.set_message(format!("{keys} keys loaded"));
            bar.tick();
        } else {
            bar.set_style(style("{spinner} {msg}"));
            bar.set_message("connecting to the source…");
            bar.tick();
        }
        std::thread::sleep(POLL);
    }
}

/// The status once the lag is known (the source is asked its offset every second; a
/// source that refuses INFO to the migration's user leaves it unknown).
fn lag(api: &Remote, path: &str, show: bool) -> Result<Value> {
    let deadline = Instant::now() + LAG_WAIT;
    loop {
        let v = api.get(path).map_err(anyhow::Error::msg)?;
        let lag = v["lag_bytes"].as_i64();
        if lag.is_some() || Instant::now() > deadline {
            if show {
                let lag = lag.map_or("not known (the source does not answer INFO)".into(), |l| {
                    format!("{l} bytes")
                });
                println!(
                    "Following {}: {} keys copied, lag {lag}",
                    v["source"].as_str().unwrap_or_default(),
                    v["loaded_keys"].as_u64().unwrap_or(0)
                );
            }
            return Ok(v);
        }
        std::thread::sleep(POLL);
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}
