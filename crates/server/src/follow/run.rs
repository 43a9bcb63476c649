//! The following task: connect, PSYNC, take the snapshot in or continue, then apply the
//! command stream; after a drop, connect again and ask to continue where it stopped.

use super::local::Local;
use super::primary::{Primary, Psync, handshake, receive_snapshot, touch};
use super::{Phase, Status};
use crate::Shared;
use crate::dispatch::Requests;
use bytes::{Buf, Bytes};
use concord_resp::{Batch, Limits, RequestParser};
use rand::Rng;
use smallvec::SmallVec;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The snapshot's file while it is received and loaded, in the instance's directory
/// (`replicaof-transfer-<pid>-<attempt>.rdb`).
const TRANSFER_PREFIX: &str = "replicaof-transfer-";
/// How an error about the snapshot's content starts (it is asked for again later).
const SNAPSHOT_REFUSED: &str = "the primary's snapshot";
/// How long after a refused snapshot the next is asked for.
const SNAPSHOT_RETRY: Duration = Duration::from_secs(60);
/// How often this replica reports its offset (Redis's replicas: every second).
const ACK_EVERY: Duration = Duration::from_secs(1);
/// How long the probe of the primary's offset may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Commands of the snapshot run together.
const LOAD_BATCH: usize = 512;
/// The first wait before connecting again; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between attempts (Redis's replicas try every second).
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Follows the primary `status` names until the task is aborted (REPLICAOF NO ONE or
/// another primary).
pub(super) async fn follow(sh: Arc<Shared>, status: Arc<Mutex<Status>>) {
    // Ends with this task (its handle aborts the probe when dropped).
    let _probe = Probe(tokio::spawn(probe(Arc::clone(&sh), Arc::clone(&status))));
    remove_old_transfers(&sh.cfg.dir);
    let mut backoff = BACKOFF_MIN;
    let mut refused = 0;
    loop {
        // A session per link: a transaction the dropped link left open is discarded (the
        // primary sends it again, from the offset before it).
        let mut local = Local::new(&sh, refused);
        let result = once(&sh, &status, &mut local).await;
        refused = local.refused;
        let reached = {
            let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
            let reached = s.phase == Phase::Connected;
            s.phase = Phase::Connect;
            s.down_since.get_or_insert_with(Instant::now);
            s.refused = refused;
            if let Err(e) = &result {
                tracing::warn!("REPLICAOF {}:{}: {e}", s.host, s.port);
                s.last_error.clone_from(e);
            }
            reached
        };
        if reached {
            backoff = BACKOFF_MIN;
        }
        // A snapshot refused here would be refused again: ask for the next one later, not
        // every second (each costs the primary a fork and a file).
        let wait = match &result {
            Err(e) if e.starts_with(SNAPSHOT_REFUSED) => SNAPSHOT_RETRY,
            _ => backoff.mul_f64(rand::rng().random_range(0.5..1.0)),
        };
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// A snapshot file of this instance's directory, removed when dropped (also when the
/// task is aborted mid-transfer).
struct Transfer(std::path::PathBuf);

impl Drop for Transfer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A new transfer file's name: one per attempt, so that an aborted task's file (still
/// mapped, maybe) is never truncated under it.
fn transfer_file(dir: &Path) -> Transfer {
    static ATTEMPT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = ATTEMPT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Transfer(dir.join(format!("{TRANSFER_PREFIX}{}-{n}.rdb", std::process::id())))
}

/// Removes transfer files a killed process left.
fn remove_old_transfers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mine = format!("{TRANSFER_PREFIX}{}-", std::process::id());
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(TRANSFER_PREFIX) && !name.starts_with(&mine) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The probe of the primary's offset, stopped with the following task.
struct Probe(tokio::task::JoinHandle<()>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Asks the primary for its offset every second (INFO replication, on a connection of
/// its own), while the link is up: the lag in bytes is that less the offset applied.
async fn probe(sh: Arc<Shared>, status: Arc<Mutex<Status>>) {
    let mut ticks = tokio::time::interval(ACK_EVERY);
    loop {
        ticks.tick().await;
        let (host, port, up) = {
            let s = status.lock().unwrap_or_else(|p| p.into_inner());
            (s.host.clone(), s.port, s.phase == Phase::Connected)
        };
        if !up {
            continue;
        }
        let (user, password) = {
            let c = sh.config.read().unwrap_or_else(|p| p.into_inner());
            (c.masteruser.clone(), c.masterauth.clone())
        };
        let asked = async {
            let mut p = Primary::connect(&sh, &host, port, PROBE_TIMEOUT).await?;
            super::primary::source_offset(&mut p, &user, &password).await
        };
        match tokio::time::timeout(PROBE_TIMEOUT, asked).await {
            Ok(Ok(off)) => {
                status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .source_offset = Some(off);
            }
            Ok(Err(e)) => tracing::debug!("REPLICAOF {host}:{port}: the offset probe: {e}"),
            Err(_) => tracing::debug!("REPLICAOF {host}:{port}: the offset probe timed out"),
        }
    }
}

/// One connection's life; returns only with why it ended.
async fn once(sh: &Arc<Shared>, status: &Mutex<Status>, local: &mut Local) -> Result<(), String> {
    let (host, port, resume) = {
        let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
        s.phase = Phase::Connecting;
        let resume = (!s.replid.is_empty() && s.offset >= 0).then(|| (s.replid.clone(), s.offset));
        (s.host.clone(), s.port, resume)
    };
    let (user, password, timeout) = {
        let c = sh.config.read().unwrap_or_else(|p| p.into_inner());
        (
            c.masteruser.clone(),
            c.masterauth.clone(),
            Duration::from_secs(c.repl_timeout.max(1)),
        )
    };
    let mut p = Primary::connect(sh, &host, port, timeout).await?;
    let resume_ref = resume.as_ref().map(|(id, off)| (id.as_str(), *off));
    match handshake(&mut p, &user, &password, sh.port, resume_ref).await? {
        Psync::Full { replid, offset } => {
            touch(status, |s| {
                s.phase = Phase::Sync;
                // Until the snapshot is in, there is nothing to continue from.
                s.replid.clear();
                s.offset = -1;
                s.read_offset = -1;
                s.sync_total = None;
                s.sync_read = 0;
                s.sync_keys = 0;
            });
            let file = transfer_file(&sh.cfg.dir);
            let size = receive_snapshot(&mut p, &file.0, status).await?;
            tracing::info!("REPLICAOF {host}:{port}: received a snapshot of {size} bytes");
            load(sh, &mut p, local, &file.0, status).await?;
            drop(file);
            touch(status, |s| {
                s.full_syncs += 1;
                s.replid = replid;
                s.offset = offset;
                s.read_offset = offset;
            });
        }
        Psync::Continue { replid } => {
            tracing::info!("REPLICAOF {host}:{port}: continuing the stream");
            touch(status, |s| {
                if let Some(id) = replid {
                    s.replid = id;
                }
                s.partial_syncs += 1;
            });
        }
    }
    touch(status, |s| {
        s.phase = Phase::Connected;
        s.down_since = None;
        s.last_error.clear();
    });
    stream(sh, &mut p, local, status).await
}

/// Loads the snapshot in `path`: the database is flushed (everywhere, by the normal
/// replication), then every key of database 0 is written.
async fn load(
    sh: &Shared,
    p: &mut Primary,
    local: &mut Local,
    path: &Path,
    status: &Mutex<Status>,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: the file is this task's own (its name is this attempt's), in the instance's
    // directory; nothing else writes it while it is mapped, and it is removed only after
    // the map is dropped.
    let map =
        unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("{}: {e}", path.display()))?;
    // The whole snapshot is checked before the flush (its checksum, then every key read
    // without writing anything), off the network threads: a snapshot refused here
    // leaves the data as it was.
    let map = tokio::task::spawn_blocking(move || check(&map).map(|()| map))
        .await
        .map_err(|e| format!("checking the snapshot: {e}"))??;
    let mut reader =
        concord_rdb::Reader::new(&map).map_err(|e| format!("{SNAPSHOT_REFUSED}: {e}"))?;
    local
        .run(sh, &vec![vec![Bytes::from_static(b"FLUSHALL")]])
        .await?;
    let mut batch: Vec<Vec<Bytes>> = Vec::with_capacity(LOAD_BATCH);
    let (mut keys, mut skipped) = (0u64, 0u64);
    let mut keepalive = Instant::now();
    let mut passed = 0usize;
    while let Some(e) = reader
        .next_entry()
        .map_err(|e| format!("{SNAPSHOT_REFUSED}: {e}"))?
    {
        passed += 1;
        if e.db != 0 {
            skipped += 1;
        } else {
            for c in concord_rdb::commands(e) {
                batch.push(c.into_iter().map(Bytes::from).collect());
            }
            keys += 1;
        }
        if batch.len() >= LOAD_BATCH || passed.is_multiple_of(LOAD_BATCH) {
            local.run(sh, &batch).await?;
            batch.clear();
            touch(status, |s| s.sync_keys = keys);
            // A Redis replica sends newlines while it loads, so that the primary does
            // not time it out. Once the flush is done the load goes on whatever the link
            // does: a failed write shows again when the stream is read.
            if keepalive.elapsed() >= ACK_EVERY {
                let _ = p.write(b"\n").await;
                keepalive = Instant::now();
            }
            tokio::task::yield_now().await;
        }
    }
    // The primary's function libraries replace this instance's, as on a Redis replica.
    batch.push(vec![
        Bytes::from_static(b"FUNCTION"),
        Bytes::from_static(b"FLUSH"),
    ]);
    for code in &reader.header().functions {
        batch.push(
            [&b"FUNCTION"[..], b"LOAD", b"REPLACE", code]
                .iter()
                .map(|a| Bytes::copy_from_slice(a))
                .collect(),
        );
    }
    local.run(sh, &batch).await?;
    touch(status, |s| {
        s.sync_keys = keys;
        s.skipped += skipped;
        s.refused = local.refused;
    });
    if skipped > 0 {
        tracing::warn!(
            "REPLICAOF: {skipped} keys of databases other than 0 were skipped (Concord has one database)"
        );
    }
    tracing::info!("REPLICAOF: loaded {keys} keys");
    Ok(())
}

/// A snapshot checked whole: its checksum, then every key read (nothing written).
fn check(map: &[u8]) -> Result<(), String> {
    let refused = |e: concord_rdb::RdbError| format!("{SNAPSHOT_REFUSED}: {e}");
    concord_rdb::verify(map).map_err(refused)?;
    let mut r = concord_rdb::Reader::new(map).map_err(refused)?;
    while r.next_entry().map_err(refused)?.is_some() {}
    Ok(())
}

/// The requests of a batch that run here, by index.
struct Picked<'a> {
    batch: &'a Batch,
    buf: &'a [u8],
    at: Vec<usize>,
}

impl Requests for Picked<'_> {
    fn count(&self) -> usize {
        self.at.len()
    }

    fn view(&self, i: usize) -> SmallVec<[&[u8]; 8]> {
        self.batch.args(self.at[i], self.buf).collect()
    }
}

/// What a batch of the stream holds besides the writes to run.
#[derive(Default)]
struct Sorted {
    at: Vec<usize>,
    /// The primary asked for this replica's offset (REPLCONF GETACK).
    getack: bool,
    /// Writes to another database than 0.
    skipped: u64,
    /// Bytes of the batch up to the end of its last request outside a transaction: what
    /// may be acknowledged, and continued from after a drop (a transaction cut by a
    /// drop is sent again whole, as Redis's replicas count it).
    settled: usize,
}

/// Where a batch's transactions stand, carried from one batch to the next.
#[derive(Default)]
struct Cursor {
    /// The database the stream names (Redis's stream names one before it needs one).
    db: i64,
    /// Inside MULTI ... EXEC.
    in_multi: bool,
}

/// A request's size on the wire, as the primary sends it (a multibulk).
fn wire_len<'a>(args: impl Iterator<Item = &'a [u8]>) -> usize {
    let (mut n, mut bytes) = (0usize, 0usize);
    for a in args {
        n += 1;
        bytes += 1 + digits(a.len()) + 2 + a.len() + 2;
    }
    bytes + 1 + digits(n) + 2
}

fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Sorts a batch's requests: the primary's own (SELECT, PING, REPLCONF) are taken here,
/// writes to database 0 run, writes to others are skipped.
fn sort(batch: &Batch, buf: &[u8], cur: &mut Cursor) -> Sorted {
    let mut out = Sorted::default();
    let mut at = 0;
    for i in 0..batch.len() {
        at += wire_len(batch.args(i, buf));
        let mut args = batch.args(i, buf);
        let name = args.next().unwrap_or_default();
        let is = |w: &str| name.eq_ignore_ascii_case(w.as_bytes());
        if is("select") {
            if let Some(n) = args
                .next()
                .and_then(|a| std::str::from_utf8(a).ok())
                .and_then(|a| a.parse().ok())
            {
                cur.db = n;
            }
        } else if is("ping") {
        } else if is("replconf") {
            out.getack |= args
                .next()
                .is_some_and(|a| a.eq_ignore_ascii_case(b"getack"));
        } else if cur.db == 0 {
            out.at.push(i);
        } else {
            out.skipped += 1;
        }
        if is("multi") {
            cur.in_multi = true;
        } else if is("exec") || is("discard") {
            cur.in_multi = false;
        }
        if !cur.in_multi {
            out.settled = at;
        }
    }
    out
}

/// Applies the command stream until the link fails.
async fn stream(
    sh: &Shared,
    p: &mut Primary,
    local: &mut Local,
    status: &Mutex<Status>,
) -> Result<(), String> {
    let mut parser = RequestParser::new(Limits::default());
    let mut batch = Batch::default();
    let mut cur = Cursor::default();
    // `read`: every byte parsed; `settled`: the end of the last request outside a
    // transaction, which is what is acknowledged.
    let mut settled = status.lock().unwrap_or_else(|p| p.into_inner()).offset;
    let mut read = settled;
    // A diskless primary starts the stream once the replica acknowledges.
    ack(p, settled).await?;
    let mut ticks = tokio::time::interval(ACK_EVERY);
    let mut last_io = Instant::now();
    loop {
        parser
            .parse(&p.buf, &mut batch)
            .map_err(|e| format!("the primary's stream: {e}"))?;
        let sorted = sort(&batch, &p.buf, &mut cur);
        let picked = Picked {
            batch: &batch,
            buf: &p.buf,
            at: sorted.at,
        };
        let ran = local.run(sh, &picked).await;
        let used = parser.advance(&mut batch);
        p.buf.advance(used);
        if sorted.settled > 0 || !cur.in_multi {
            // What the parser took is whole requests; an inline one (never sent by Redis)
            // would make the sizes disagree: then settle at the batch's end.
            settled = read + if cur.in_multi { sorted.settled } else { used } as i64;
        }
        read += used as i64;
        touch(status, |s| {
            s.offset = settled;
            s.read_offset = read + p.buf.len() as i64;
            s.skipped += sorted.skipped;
            s.refused = local.refused;
            s.last_io = last_io;
        });
        ran?;
        if sorted.getack {
            ack(p, settled).await?;
        }
        if batch.need() > p.buf.len() {
            p.buf.reserve(batch.need() - p.buf.len());
        }
        tokio::task::yield_now().await;
        loop {
            tokio::select! {
                r = p.read_some() => {
                    r?;
                    last_io = Instant::now();
                    break;
                }
                _ = ticks.tick() => {
                    if last_io.elapsed() > p.timeout {
                        return Err(format!(
                            "no data from the primary for {} s (repl-timeout)",
                            p.timeout.as_secs()
                        ));
                    }
                    ack(p, settled).await?;
                }
            }
        }
    }
}

/// Reports the offset applied (REPLCONF ACK).
async fn ack(p: &mut Primary, offset: i64) -> Result<(), String> {
    let off = offset.to_string();
    p.send(&[b"REPLCONF", b"ACK", off.as_bytes()]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(wire: &[u8]) -> Batch {
        let mut b = Batch::default();
        RequestParser::new(Limits::default())
            .parse(wire, &mut b)
            .unwrap();
        b
    }

    #[test]
    fn the_primarys_own_requests_are_taken_out() {
        let wire = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*1\r\n$4\r\nPING\r\n*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n*2\r\n$6\r\nselect\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n";
        let b = batch_of(wire);
        let mut cur = Cursor::default();
        let s = sort(&b, wire, &mut cur);
        assert_eq!(s.at, vec![1, 7]);
        assert!(s.getack);
        assert_eq!(s.skipped, 1);
        assert_eq!(cur.db, 0);
        assert_eq!(s.settled, wire.len(), "every request's size adds up");
    }

    #[test]
    fn a_transaction_open_at_the_end_of_a_batch_is_not_settled() {
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n".to_vec();
        let multi = b"*1\r\n$5\r\nMULTI\r\n".to_vec();
        let exec = b"*1\r\n$4\r\nEXEC\r\n".to_vec();
        let first = [set.clone(), multi, set.clone()].concat();
        let mut cur = Cursor::default();
        let s = sort(&batch_of(&first), &first, &mut cur);
        assert_eq!(s.settled, set.len());
        assert!(cur.in_multi);
        let second = [set.clone(), exec].concat();
        let s = sort(&batch_of(&second), &second, &mut cur);
        assert_eq!(s.settled, second.len());
        assert!(!cur.in_multi);
    }
}
