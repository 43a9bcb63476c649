//! Persistence in the server: recovery at start, handing applied changes to the
//! append-only file writer, snapshots (SAVE in place, BGSAVE and rewrites in a forked
//! child so serving never stops), and the incarnation record that says whether the last
//! run ended cleanly.

use concord_engine::{Engine, Journal};
use concord_storage::{Dir, Fsync, RealDir, Recovery, Writer, WriterConfig, snapshot_name};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// What a background snapshot is for (only changes the wording of replies and INFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BgKind {
    /// BGSAVE.
    Save,
    /// BGREWRITEAOF or an automatic rewrite.
    Rewrite,
}

#[derive(Debug, Default)]
struct Bg {
    running: Option<(BgKind, Instant)>,
}

/// Persistence state shared by connections and background tasks.
pub(crate) struct Persist {
    pub dir: Arc<RealDir>,
    pub writer: Writer,
    pub replica: u16,
    /// The last durable batch, for `appendfsync always` waits.
    pub durable: watch::Sender<u64>,
    bg: Mutex<Bg>,
    /// Unix seconds of the last successful snapshot.
    pub lastsave: AtomicU64,
    pub last_bgsave_ok: AtomicBool,
    pub last_rewrite_ok: AtomicBool,
    /// How long the last snapshot took, in seconds (-1: none yet, as Redis shows it).
    pub last_save_secs: AtomicI64,
    /// How long the last append-only rewrite took, in seconds (-1: none yet).
    pub last_rewrite_secs: AtomicI64,
    pub saves: AtomicU64,
    pub rewrites: AtomicU64,
    pub forks: AtomicU64,
    pub latest_fork_usec: AtomicU64,
    /// Ops applied when the last snapshot was taken (for rdb_changes_since_last_save).
    pub ops_at_save: AtomicU64,
    /// A BGSAVE SCHEDULE waiting for the running one.
    pub scheduled: AtomicBool,
    /// The files were closed for a clean stop: no write may be taken any more (it could
    /// not reach the file, and the next start keeps the incarnation).
    pub closed: AtomicBool,
    /// What recovery found.
    pub loaded: Recovery,
    pub load_ms: u64,
}

/// The file that remembers the last incarnation of the instance using a directory.
const INCARNATION_FILE: &str = "concord-incarnation";

/// The incarnation to run as. A new one unless the last run ended cleanly with every op
/// it issued on disk (`keep_if_clean`): a start that may have lost state must never
/// reissue dots peers hold. Recorded as not clean before any write is taken.
pub(crate) fn incarnation(dir: &Path, keep_if_clean: bool, now_secs: u64) -> u32 {
    let path = dir.join(INCARNATION_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut words = text.split_whitespace();
    let stored = words
        .next()
        .and_then(|w| w.parse::<u32>().ok())
        .unwrap_or(0);
    let clean = words.next() == Some("clean");
    let secs = u32::try_from(now_secs).unwrap_or(u32::MAX - 1);
    let inc = if keep_if_clean && clean && stored > 0 {
        stored
    } else {
        // Larger than any recorded and than the clock's seconds, so a lost directory
        // does not bring old numbers back.
        stored.saturating_add(1).max(secs)
    };
    if let Err(e) = record_incarnation(dir, inc, false) {
        tracing::warn!(
            "could not record the incarnation in {}: {e}; two restarts within one second could reuse it",
            path.display()
        );
    }
    inc
}

/// Records the incarnation, and whether the run ended cleanly, durably.
pub(crate) fn record_incarnation(dir: &Path, inc: u32, clean: bool) -> std::io::Result<()> {
    let d = RealDir::new(dir)?;
    let text = if clean {
        format!("{inc} clean\n")
    } else {
        format!("{inc}\n")
    };
    concord_storage::replace(&d, INCARNATION_FILE, text.as_bytes())
}

/// CONFIG SET of appendfsync or the automatic rewrite thresholds: the writer takes them
/// at once.
pub(crate) fn apply_settings(
    sh: &crate::Shared,
    _: &mut Engine,
    c: &crate::settings::ServerConfig,
) -> Result<(), String> {
    let st = sh.persist.writer.state();
    st.set_fsync(c.appendfsync);
    st.rewrite_percentage
        .store(c.auto_aof_rewrite_percentage, Ordering::Relaxed);
    st.rewrite_min_size
        .store(c.auto_aof_rewrite_min_size.0, Ordering::Relaxed);
    Ok(())
}

/// How long after a failed automatic snapshot the `save` points may start another.
pub(crate) const SAVE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a `save` point is reached: at least its changes, and more than its seconds
/// since the last snapshot.
pub(crate) fn save_due(
    points: &[crate::settings::SavePoint],
    changes: u64,
    since_secs: u64,
) -> bool {
    points
        .iter()
        .any(|p| changes >= p.changes && since_secs > p.secs)
}

/// Settings for [`Persist::open`].
pub(crate) struct Settings {
    pub appendonly: bool,
    pub fsync: Fsync,
    pub replica: u16,
    pub rewrite_percentage: u64,
    pub rewrite_min_size: u64,
}

impl Persist {
    /// Loads the durable state of `dir` into `e` and starts the writer.
    pub fn open(dir: &Path, s: Settings, e: &mut Engine) -> Result<Persist, String> {
        let real = RealDir::new(dir).map_err(|x| format!("{}: {x}", dir.display()))?;
        let started = Instant::now();
        let mut last_log = Instant::now();
        let rec = concord_storage::recover(&real, s.replica, e, &mut |p| {
            if last_log.elapsed().as_secs() >= 2 {
                last_log = Instant::now();
                tracing::info!(
                    "loading: {} keys from the snapshot, {} records replayed",
                    p.keys,
                    p.records
                );
            }
        })
        .map_err(|x| x.to_string())?;
        let load_ms = started.elapsed().as_millis() as u64;
        if !rec.fresh() {
            tracing::info!(
                "loaded {} keys from the snapshot and {} op groups ({} merged full syncs) from the append-only files in {load_ms} ms",
                rec.snapshot_keys,
                rec.groups,
                rec.merges
            );
        }
        let (durable, _) = watch::channel(0u64);
        let tx = durable.clone();
        let writer = Writer::start(
            Arc::new(real.clone()),
            WriterConfig {
                appendonly: s.appendonly,
                fsync: s.fsync,
                replica: s.replica,
                rewrite_percentage: s.rewrite_percentage,
                rewrite_min_size: s.rewrite_min_size,
            },
            rec.manifest.clone(),
            &rec.aof_bytes,
            Box::new(move |seq| {
                tx.send_replace(seq);
            }),
        )
        .map_err(|x| format!("{}: starting the append-only file: {x}", dir.display()))?;
        if s.appendonly {
            e.enable_journal();
        }
        let ops = e.stats.local_ops + e.stats.remote_ops;
        Ok(Persist {
            dir: Arc::new(real),
            writer,
            replica: s.replica,
            durable,
            bg: Mutex::new(Bg::default()),
            lastsave: AtomicU64::new(crate::wall_ms() / 1000),
            last_bgsave_ok: AtomicBool::new(true),
            last_rewrite_ok: AtomicBool::new(true),
            last_save_secs: AtomicI64::new(-1),
            last_rewrite_secs: AtomicI64::new(-1),
            saves: AtomicU64::new(0),
            rewrites: AtomicU64::new(0),
            forks: AtomicU64::new(0),
            latest_fork_usec: AtomicU64::new(0),
            ops_at_save: AtomicU64::new(ops),
            scheduled: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            loaded: rec,
            load_ms,
        })
    }

    /// Hands what the engine applied since the last call to the writer (call with the
    /// engine locked). Returns the batch's sequence number, 0 when there was nothing.
    pub fn drain(&self, e: &mut Engine) -> u64 {
        if !e.journal_pending() {
            return 0;
        }
        let mut merged = false;
        let seq = self.writer.submit(e.drain_journal().inspect(|x| {
            merged |= matches!(x, Journal::Merge { .. });
        }));
        if merged {
            // A full sync wrote the whole state into the file: fold it into a snapshot.
            self.writer
                .state()
                .rewrite_wanted
                .store(true, Ordering::Relaxed);
        }
        seq
    }

    /// Whether a write must wait for its batch to be on disk before it is acknowledged.
    pub fn acks_wait(&self) -> bool {
        self.writer.appendonly() && self.writer.state().fsync() == Fsync::Always
    }

    /// Waits until batch `seq` is durable.
    pub async fn wait_durable(&self, seq: u64) {
        let mut rx = self.durable.subscribe();
        let _ = rx.wait_for(|d| *d >= seq).await;
    }

    /// Whether writes must be refused because the append-only file cannot be written.
    pub fn write_error(&self) -> Option<String> {
        let st = self.writer.state();
        if st.write_ok.load(Ordering::Acquire) {
            return None;
        }
        Some(
            st.last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_default(),
        )
    }

    /// The running background snapshot, if any, and for how long it has run.
    pub fn running(&self) -> Option<(BgKind, Instant)> {
        self.bg.lock().unwrap_or_else(|p| p.into_inner()).running
    }

    /// SAVE: a snapshot written in place (the engine stays locked, as Redis blocks).
    pub fn save(&self, e: &mut Engine) -> Result<(), String> {
        if self.running().is_some() {
            return Err("ERR Background save already in progress".into());
        }
        // The snapshot reads every key: a full sync's merge is carried out first.
        e.finish_merge();
        self.drain(e);
        let generation = self.writer.rotate();
        let tmp = format!("{}.tmp", snapshot_name(generation));
        let started = Instant::now();
        let r = concord_storage::snapshot::write_engine(&*self.dir, &tmp, self.replica, e)
            .and_then(|size| self.writer.install(generation, &tmp, size));
        match r {
            Ok(()) => {
                self.finished(
                    BgKind::Save,
                    true,
                    started,
                    e.stats.local_ops + e.stats.remote_ops,
                );
                Ok(())
            }
            Err(x) => {
                let _ = self.dir.remove(&tmp);
                tracing::error!("SAVE failed: {x}");
                self.finished(BgKind::Save, false, started, 0);
                Err(format!("ERR {x}"))
            }
        }
    }

    fn finished(&self, kind: BgKind, ok: bool, started: Instant, ops: u64) {
        let secs = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
        match kind {
            BgKind::Save => {
                self.last_save_secs.store(secs, Ordering::Relaxed);
                self.last_bgsave_ok.store(ok, Ordering::Relaxed);
            }
            BgKind::Rewrite => {
                self.last_rewrite_secs.store(secs, Ordering::Relaxed);
                self.last_rewrite_ok.store(ok, Ordering::Relaxed);
            }
        }
        if ok {
            self.lastsave
                .store(crate::wall_ms() / 1000, Ordering::Relaxed);
            self.ops_at_save.store(ops, Ordering::Relaxed);
            match kind {
                BgKind::Save => self.saves.fetch_add(1, Ordering::Relaxed),
                BgKind::Rewrite => self.rewrites.fetch_add(1, Ordering::Relaxed),
            };
        }
    }

    /// Starts a background snapshot (call with the engine locked): the append-only file
    /// is rotated at this point, a child process gets a copy-on-write image of the state
    /// and writes it while this process keeps serving. Errors are Redis-style replies.
    pub fn start_background(self: &Arc<Self>, kind: BgKind, e: &mut Engine) -> Result<(), String> {
        let mut bg = self.bg.lock().unwrap_or_else(|p| p.into_inner());
        if bg.running.is_some() {
            return Err(match kind {
                BgKind::Save => "ERR Background save already in progress".into(),
                BgKind::Rewrite => {
                    "ERR Background append only file rewriting already in progress".into()
                }
            });
        }
        let started = Instant::now();
        // The child reads every key: a full sync's merge is carried out first.
        e.finish_merge();
        self.drain(e);
        let generation = self.writer.rotate();
        let tmp = format!("{}.tmp", snapshot_name(generation));
        let ops = e.stats.local_ops + e.stats.remote_ops;
        let pid = fork_writer(&self.dir, &tmp, self.replica, e)?;
        self.latest_fork_usec
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.forks.fetch_add(1, Ordering::Relaxed);
        bg.running = Some((kind, started));
        drop(bg);
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("concord-bgsave".into())
            .spawn(move || {
                let ok = wait_child(pid);
                let r = if ok {
                    me.dir
                        .size(&tmp)
                        .and_then(|s| me.writer.install(generation, &tmp, s.unwrap_or(0)))
                } else {
                    Err(std::io::Error::other("the snapshot child failed"))
                };
                if let Err(x) = &r {
                    let _ = me.dir.remove(&tmp);
                    tracing::error!("background snapshot failed: {x}");
                }
                me.finished(kind, r.is_ok(), started, ops);
                me.bg.lock().unwrap_or_else(|p| p.into_inner()).running = None;
            });
        if let Err(x) = spawned {
            // Without a waiter the child is reaped by nobody; record the failure.
            self.bg.lock().unwrap_or_else(|p| p.into_inner()).running = None;
            return Err(format!("ERR {x}"));
        }
        Ok(())
    }
}

/// Forks a child that writes the snapshot of `e` to `tmp` and exits. The engine is locked
/// by the caller, so the child's copy is exactly the state at the rotation point.
#[cfg(unix)]
fn fork_writer(dir: &RealDir, tmp: &str, replica: u16, e: &Engine) -> Result<i32, String> {
    // SAFETY: the child only reads memory it owns a copy of, allocates (jemalloc's fork
    // handlers leave its locks usable in the child) and makes plain system calls, then leaves with
    // `_exit`, running no destructors and touching no lock another thread could hold.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!(
            "ERR fork failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid > 0 {
        return Ok(pid);
    }
    // The child: let go of the parent's sockets (a restarted parent must be able to bind
    // its port while this still writes), then write.
    // SAFETY: close_range only closes descriptors of this (child) process.
    let closed = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if closed != 0 {
        for fd in 3..4096 {
            // SAFETY: as above.
            unsafe { libc::close(fd) };
        }
    }
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        concord_storage::snapshot::write_engine(dir, tmp, replica, e).is_ok()
    }))
    .unwrap_or(false);
    // SAFETY: ends the child without unwinding into the parent's runtime.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

#[cfg(not(unix))]
fn fork_writer(_: &RealDir, _: &str, _: u16, _: &Engine) -> Result<i32, String> {
    Err("ERR background snapshots need fork (use SAVE)".into())
}

/// Waits for the snapshot child; true when it succeeded.
#[cfg(unix)]
fn wait_child(pid: i32) -> bool {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

#[cfg(not(unix))]
fn wait_child(_: i32) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::SavePoint;

    #[test]
    fn save_points_need_both_time_and_changes() {
        let points = [
            SavePoint {
                secs: 900,
                changes: 1,
            },
            SavePoint {
                secs: 60,
                changes: 100,
            },
        ];
        assert!(!save_due(&points, 0, 10_000), "no change, no snapshot");
        assert!(!save_due(&points, 1, 900), "more than 900 seconds");
        assert!(save_due(&points, 1, 901));
        assert!(save_due(&points, 100, 61));
        assert!(!save_due(&points, 99, 61));
        assert!(!save_due(&[], 1_000_000, 1_000_000));
    }
}
