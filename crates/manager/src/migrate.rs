//! Replica Of into an active-active database: this cluster's instance follows the source
//! Redis (REPLICAOF). Its first full transfer, once read whole and found good, flushes the
//! database (a FLUSHALL every instance applies) and loads the snapshot; what it takes in
//! reaches the other instances by the normal replication. Nothing is flushed before the
//! source answered and sent a good snapshot. Stopping it (REPLICAOF NO ONE) keeps the
//! data.

use crate::api::AppState;
use crate::coordinate::{finish, save};
use crate::membership::start;
use crate::model::{Bdb, Crdb, Task, TaskStatus};
use crate::tasks::Claim;
use serde_json::{Value, json};
use std::sync::Arc;

/// The Redis database to copy from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The user to authenticate as (empty: `default`).
    pub user: String,
    /// The password (empty: none).
    pub password: String,
    /// Whether the link uses TLS (`rediss://`, or asked for).
    pub tls: bool,
}

impl Source {
    /// Reads `redis://[user:password@]host:port` (or `rediss://` for TLS; `tls` asks for
    /// TLS too). An IPv6 host is written in brackets.
    pub fn parse(url: &str, tls: bool) -> Result<Source, String> {
        let bad = |why: &str| format!("source '{}': {why}", redacted(url));
        let (rest, secure) = if let Some(r) = url.strip_prefix("redis://") {
            (r, false)
        } else if let Some(r) = url.strip_prefix("rediss://") {
            (r, true)
        } else {
            return Err(bad("it must start with redis:// or rediss://"));
        };
        let rest = rest.trim_end_matches('/');
        let (cred, addr) = match rest.rsplit_once('@') {
            Some((c, a)) => (Some(c), a),
            None => (None, rest),
        };
        let (user, password) = match cred {
            None => (String::new(), String::new()),
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (u.to_string(), p.to_string()),
                None => (String::new(), c.to_string()),
            },
        };
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad("it names no port (host:port)"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(bad("its host is empty or malformed"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| bad("its port is not 1 to 65535"))?;
        Ok(Source {
            host: host.to_string(),
            port,
            user,
            password,
            tls: tls || secure,
        })
    }
}

/// `url` with its password replaced by `***` (for messages and the task's record).
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.split_once(':') {
                Some((u, _)) => format!("{}{u}:***{}", &url[..s + 3], &url[at..]),
                None => format!("{}***{}", &url[..s + 3], &url[at..]),
            }
        }
        _ => url.to_string(),
    }
}

/// This cluster's instance of database `guid`.
pub fn local_bdb(s: &AppState, guid: &str) -> Result<Bdb, String> {
    s.store
        .bdbs()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|b| b.crdb_guid == guid)
        .ok_or_else(|| format!("this cluster has no instance of database {guid}"))
}

/// How long the first snapshot may make no progress (no byte received, no key loaded)
/// before the task gives up on the source.
const STALLED: std::time::Duration = std::time::Duration::from_secs(120);

/// The migration task: this cluster's instance follows `src` (a new full transfer even
/// if it followed it already); the task ends once the first snapshot is loaded, or fails
/// with the link's error (the instance then stops following, nothing flushed).
pub async fn run(s: Arc<AppState>, _claim: Claim, crdb: Crdb, src: Source, mut task: Task) {
    start(&s, &mut task);
    let result = async {
        let bdb = local_bdb(&s, &crdb.guid)?;
        follow(&bdb, &src).await?;
        task.progress.push(format!(
            "instance {} follows {}:{}; the first transfer flushes every instance",
            bdb.uid, src.host, src.port
        ));
        save(&s, &task);
        let loaded = first_sync(&bdb).await;
        if loaded.is_err() {
            let _ = stop(&bdb).await;
        }
        let keys = loaded?;
        task.progress.push(format!(
            "the source's snapshot is loaded ({keys} keys); following its writes"
        ));
        save(&s, &task);
        Ok::<(), String>(())
    }
    .await;
    if let Err(e) = result {
        task.errors.push(e);
    }
    if task.status != TaskStatus::Canceled {
        finish(&s, &mut task);
    }
}

/// Waits until the instance loaded its first snapshot (the keys it loaded), or its link
/// failed (the error), or the transfer made no progress for [`STALLED`]: a large
/// snapshot takes as long as it needs while it moves.
async fn first_sync(bdb: &Bdb) -> Result<i64, String> {
    let mut last = (0, 0);
    let mut moved = tokio::time::Instant::now();
    loop {
        let v = status(bdb).await?;
        if v["full_syncs"].as_i64().unwrap_or(0) > 0 {
            return Ok(v["loaded_keys"].as_i64().unwrap_or(0));
        }
        let error = v["last_error"].as_str().unwrap_or_default();
        if !error.is_empty() {
            return Err(format!("the source: {error}"));
        }
        let now = (
            v["sync_read_bytes"].as_i64().unwrap_or(0),
            v["loaded_keys"].as_i64().unwrap_or(0),
        );
        if now != last {
            last = now;
            moved = tokio::time::Instant::now();
        } else if moved.elapsed() > STALLED {
            return Err(format!(
                "the source's first snapshot made no progress for {} s",
                STALLED.as_secs()
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Points the instance at `src`: its credentials, then REPLICAOF (after REPLICAOF NO
/// ONE, so that following the same source again starts a new full transfer).
async fn follow(bdb: &Bdb, src: &Source) -> Result<(), String> {
    crate::command::call(bdb, &["REPLICAOF", "NO", "ONE"]).await?;
    let tls = if src.tls { "yes" } else { "no" };
    crate::command::call(bdb, &["CONFIG", "SET", "replicaof-tls", tls])
        .await
        .map_err(|e| format!("TLS to the source: {e}"))?;
    crate::command::call(bdb, &["CONFIG", "SET", "masteruser", &src.user]).await?;
    crate::command::call(bdb, &["CONFIG", "SET", "masterauth", &src.password]).await?;
    let port = src.port.to_string();
    crate::command::call(bdb, &["REPLICAOF", &src.host, &port]).await?;
    Ok(())
}

/// Stops following (the data stays) and forgets the source's password.
pub async fn stop(bdb: &Bdb) -> Result<(), String> {
    crate::command::call(bdb, &["REPLICAOF", "NO", "ONE"]).await?;
    crate::command::call(bdb, &["CONFIG", "SET", "masterauth", ""]).await?;
    Ok(())
}

/// Where the instance's copy stands, from its INFO replication.
pub async fn status(bdb: &Bdb) -> Result<Value, String> {
    let info = crate::command::call(bdb, &["INFO", "replication"]).await?;
    Ok(status_of(&info))
}

/// The migration's status as JSON, from INFO replication's text.
pub fn status_of(info: &str) -> Value {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let int = |name: &str| field(name).and_then(|v| v.parse::<i64>().ok());
    let following = field("role") == Some("slave");
    if !following {
        return json!({"following": false});
    }
    json!({
        "following": true,
        "source": format!("{}:{}", field("master_host").unwrap_or_default(),
            field("master_port").unwrap_or_default()),
        "link_status": field("master_link_status"),
        "sync_in_progress": field("master_sync_in_progress") == Some("1"),
        "sync_total_bytes": int("master_sync_total_bytes").filter(|&n| n >= 0),
        "sync_read_bytes": int("master_sync_read_bytes"),
        "loaded_keys": int("master_sync_loaded_keys"),
        "offset": int("slave_repl_offset"),
        "source_offset": int("master_source_offset"),
        "lag_bytes": int("master_lag_bytes"),
        "last_io_seconds_ago": int("master_last_io_seconds_ago"),
        "full_syncs": int("master_full_syncs"),
        "partial_syncs": int("master_partial_syncs"),
        "skipped_other_db": int("master_skipped_other_db"),
        "refused_writes": int("master_refused_writes"),
        "last_error": field("master_last_error").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        let s = Source::parse("redis://app:p@ss:w@10.0.0.5:6380", false).unwrap();
        assert_eq!(
            s,
            Source {
                host: "10.0.0.5".into(),
                port: 6380,
                user: "app".into(),
                password: "p@ss:w".into(),
                tls: false
            }
        );
        let s = Source::parse("rediss://:secret@[::1]:6379/", false).unwrap();
        assert_eq!((s.host.as_str(), s.user.as_str(), s.tls), ("::1", "", true));
        assert_eq!(s.password, "secret");
        assert!(Source::parse("redis://host", false).is_err());
        assert!(Source::parse("http://host:1", false).is_err());
        assert!(Source::parse("redis://host:0", false).is_err());
        assert!(Source::parse("redis://:70000", false).is_err());
        assert_eq!(
            redacted("redis://app:secret@h:1"),
            "redis://app:***@h:1".to_string()
        );
        assert_eq!(redacted("redis://secret@h:1"), "redis://***@h:1");
        assert_eq!(redacted("redis://h:1"), "redis://h:1");
    }

    #[test]
    fn status_from_info() {
        let info = "# Replication\r\nrole:slave\r\nmaster_host:h\r\nmaster_port:7\r\nmaster_link_status:up\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:90\r\nmaster_source_offset:100\r\nmaster_lag_bytes:10\r\nmaster_last_error:\r\n";
        let v = status_of(info);
        assert_eq!(v["source"], "h:7");
        assert_eq!(v["lag_bytes"], 10);
        assert_eq!(v["sync_in_progress"], false);
        assert_eq!(status_of("role:master\r\n"), json!({"following": false}));
    }
}
