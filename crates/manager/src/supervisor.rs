//! Runs the `concord server` instances of this cluster's local databases: starts the
//! ones the state lists, restarts one that exits (after a pause that grows while it keeps
//! failing), stops the ones the state no longer lists.

use crate::model::Bdb;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The instance's `appendfsync` for a database's `aof_policy`.
pub fn fsync_of(c: &crate::model::DbConfig) -> &'static str {
    if c.aof_policy == "appendfsync-always" {
        "always"
    } else {
        "everysec"
    }
}

/// The instance's settings file, for what must not show on a command line.
const CONFIG_FILE: &str = "concord.conf";

/// The directory of an instance's TLS files.
const TLS_DIR: &str = "tls";

/// Writes the instance's password (for clients, and for its links to its peers, which
/// share it) to its settings file, and its TLS certificate and key, readable by the
/// cluster's user only.
fn secrets(dir: &Path, b: &Bdb) -> std::io::Result<()> {
    let path = dir.join(CONFIG_FILE);
    if b.config.password.is_empty() {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    } else {
        // Quoted: the instance splits its config lines as Redis does.
        let pw = concord_resp::quote_arg(&b.config.password);
        private_file(
            &path,
            format!("requirepass {pw}\npeer-password {pw}\n").as_bytes(),
        )?;
    }
    if let Some(tls) = &b.tls {
        let d = dir.join(TLS_DIR);
        std::fs::create_dir_all(&d)?;
        private_file(&d.join("ca.pem"), tls.ca.as_bytes())?;
        private_file(&d.join("cert.pem"), tls.cert.as_bytes())?;
        private_file(&d.join("key.pem"), tls.key.as_bytes())?;
    }
    Ok(())
}

/// Writes `bytes` to `path` whole (a temporary file renamed), readable by its owner only.
fn private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// How often exited instances are looked for.
pub const CHECK_EVERY: Duration = Duration::from_millis(200);
/// The longest pause before restarting an instance that keeps exiting.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

struct Running {
    bdb: Bdb,
    child: Option<Child>,
    started: Instant,
    backoff: Duration,
    restarts: u64,
}

/// An instance told to stop (SIGTERM, so it syncs its files); killed if it takes longer
/// than [`STOP_GRACE`], and its directory removed once it is gone when it was deleted.
struct Stopping {
    uid: u64,
    child: Child,
    since: Instant,
    delete: bool,
}

/// How long a stopping instance has before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Asks a child to stop cleanly.
fn terminate(c: &Child) {
    if let Some(pid) = c.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// The instances of the local databases.
pub struct Supervisor {
    exe: PathBuf,
    dir: PathBuf,
    bind: String,
    running: Mutex<HashMap<u64, Running>>,
    stopping: Mutex<Vec<Stopping>>,
}

impl Supervisor {
    /// A supervisor starting `exe` (the `concord` binary) with data under `dir/dbs/`,
    /// its instances listening on `bind`.
    pub fn new(exe: PathBuf, dir: &Path, bind: &str) -> Self {
        Supervisor {
            exe,
            dir: dir.join("dbs"),
            bind: bind.to_string(),
            stopping: Mutex::new(Vec::new()),
            running: Mutex::new(HashMap::new()),
        }
    }

    fn command(&self, b: &Bdb) -> Command {
        let dir = self.dir.join(b.uid.to_string());
        let mut c = Command::new(&self.exe);
        c.arg("server")
            .args(["--port", &b.port.to_string()])
            .args(["--bind", &self.bind])
            .arg("--dir")
            .arg(&dir)
            .args(["--replica-id", &b.replica_id.to_string()])
            .args(["--db-name", &b.crdb_guid]);
        let persist = b.config.data_persistence == "aof";
        c.args(["--appendonly", if persist { "yes" } else { "no" }]);
        if persist {
            c.args(["--appendfsync", fsync_of(&b.config)]);
        }
        if b.config.memory_size > 0 {
            c.args(["--maxmemory", &b.config.memory_size.to_string()]);
        }
        c.args([
            "--repl-compression",
            if b.compression > 0 { "yes" } else { "no" },
        ]);
        for (id, host, port) in &b.peers {
            c.arg("--peer").arg(format!("{id}={host}:{port}"));
        }
        for (id, cut) in &b.removed {
            c.arg("--removed-peer").arg(format!("{id}:{cut}"));
        }
        if !b.config.password.is_empty() {
            // From a file only the cluster's user reads, never on the command line.
            c.arg("--config").arg(dir.join(CONFIG_FILE));
        }
        if let (Some(_), Some(port)) = (&b.tls, b.tls_port) {
            // Peers link over TLS, both sides showing a certificate of the database's
            // authority; clients keep the plain port.
            let tls = dir.join(TLS_DIR);
            c.args(["--tls-port", &port.to_string(), "--tls-replication", "yes"])
                .arg("--tls-cert-file")
                .arg(tls.join("cert.pem"))
                .arg("--tls-key-file")
                .arg(tls.join("key.pem"))
                .arg("--tls-ca-cert-file")
                .arg(tls.join("ca.pem"));
        }
        c.stdin(std::process::Stdio::null());
        // Each instance logs to a file beside its data, not to the manager's output.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"));
        match log.and_then(|f| Ok((f.try_clone()?, f))) {
            Ok((out, err)) => {
                c.stdout(out).stderr(err);
            }
            Err(e) => tracing::warn!(
                db = b.uid,
                "opening {}: {e}",
                dir.join("server.log").display()
            ),
        }
        // If the manager dies, its instances are told to stop (SIGTERM: a clean stop),
        // rather than running on unsupervised and holding their ports.
        // SAFETY: prctl is async-signal-safe and touches only the child's own state.
        unsafe {
            c.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c
    }

    fn spawn(&self, b: &Bdb) -> Option<Child> {
        let dir = self.dir.join(b.uid.to_string());
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| secrets(&dir, b)) {
            tracing::warn!(db = b.uid, "preparing {}: {e}", dir.display());
            return None;
        }
        match self.command(b).spawn() {
            Ok(c) => {
                tracing::info!(db = b.uid, name = %b.name, port = b.port, "instance started");
                Some(c)
            }
            Err(e) => {
                tracing::warn!(db = b.uid, "starting the instance: {e}");
                None
            }
        }
    }

    /// Makes the running instances those `store` lists: starts new ones, stops removed
    /// ones, and restarts one whose settings changed (membership changes reach a running
    /// instance through its protocol; only its next start takes them from here). The
    /// list is read under the lock, so two syncs never act on lists older than each
    /// other's.
    pub fn sync(&self, store: &crate::Store) -> Result<(), crate::StoreError> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let bdbs = store.bdbs()?;
        let bdbs = bdbs.as_slice();
        let mut stopping = self.stopping.lock().unwrap_or_else(|p| p.into_inner());
        running.retain(|uid, r| {
            let now = bdbs.iter().find(|b| b.uid == *uid);
            let keep = now.is_some_and(|b| !b.restart_needed(&r.bdb));
            if let Some(b) = now.filter(|_| keep) {
                r.bdb = b.clone();
            }
            if !keep {
                let delete = now.is_none();
                match r.child.take() {
                    Some(child) => {
                        terminate(&child);
                        stopping.push(Stopping {
                            uid: *uid,
                            child,
                            since: Instant::now(),
                            delete,
                        });
                    }
                    None if delete => self.remove_dir(*uid),
                    None => {}
                }
                tracing::info!(db = uid, "instance stopping");
            }
            keep
        });
        for b in bdbs {
            // One whose old process is still stopping starts once it is gone (check).
            let busy = stopping.iter().any(|x| x.uid == b.uid);
            running.entry(b.uid).or_insert_with(|| Running {
                bdb: b.clone(),
                child: if busy { None } else { self.spawn(b) },
                started: Instant::now(),
                backoff: Duration::from_millis(100),
                restarts: 0,
            });
        }
        Ok(())
    }

    /// Removes a deleted database's directory: its data goes with it.
    fn remove_dir(&self, uid: u64) {
        let dir = self.dir.join(uid.to_string());
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(db = uid, "removing {}: {e}", dir.display());
        }
    }

    /// Reaps stopping instances: kills one past its grace, removes a deleted one's data
    /// once it is gone.
    fn reap(&self) {
        let mut stopping = self.stopping.lock().unwrap_or_else(|p| p.into_inner());
        stopping.retain_mut(|x| {
            if !matches!(x.child.try_wait(), Ok(None)) {
                if x.delete {
                    self.remove_dir(x.uid);
                }
                return false;
            }
            if x.since.elapsed() > STOP_GRACE {
                let _ = x.child.start_kill();
            }
            true
        });
    }

    /// Stops every instance cleanly (SIGTERM, then up to `grace` for it to exit; SIGKILL
    /// after that).
    pub async fn stop_all(&self, grace: Duration) {
        let mut children: Vec<Child> = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running.drain().filter_map(|(_, r)| r.child).collect()
        };
        for c in &children {
            terminate(c);
        }
        children.extend(
            self.stopping
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..)
                .map(|x| x.child),
        );
        // All at once: a stop takes `grace` at most, however many instances there are.
        futures_util::future::join_all(children.into_iter().map(|mut c| async move {
            if tokio::time::timeout(grace, c.wait()).await.is_err() {
                let _ = c.kill().await;
            }
        }))
        .await;
    }

    /// Restarts instances that exited, each after its backoff.
    pub fn check(&self) {
        self.reap();
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let stopping: Vec<u64> = self
            .stopping
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|x| x.uid)
            .collect();
        for r in running.values_mut() {
            if r.child.is_none() && stopping.contains(&r.bdb.uid) {
                continue;
            }
            let exited = match &mut r.child {
                Some(c) => !matches!(c.try_wait(), Ok(None)),
                None => true,
            };
            if !exited || r.started.elapsed() < r.backoff {
                continue;
            }
            // One that ran for a while is restarted at once; one that keeps failing
            // waits longer each time.
            r.backoff = if r.started.elapsed() > MAX_BACKOFF * 3 {
                Duration::from_millis(100)
            } else {
                (r.backoff * 2).min(MAX_BACKOFF)
            };
            r.restarts += 1;
            tracing::warn!(
                db = r.bdb.uid,
                restarts = r.restarts,
                "instance exited; restarting"
            );
            r.child = self.spawn(&r.bdb);
            r.started = Instant::now();
        }
    }

    /// How many times each local database's instance was restarted.
    pub fn restarts(&self) -> HashMap<u64, u64> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.iter().map(|(k, r)| (*k, r.restarts)).collect()
    }
}
