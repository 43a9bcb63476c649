//! The append-only file writer: a thread that encodes what the engine applied, appends it,
//! syncs by policy (group commit: one sync covers every batch that arrived meanwhile),
//! rotates files when a snapshot starts and installs the snapshot when it is written.

use crate::dir::{self, Dir, File};
use crate::entry;
use crate::frame::{self, FileKind, RECORD_HEADER};
use crate::manifest::{self, MANIFEST, Manifest};
use concord_engine::Journal;
use std::io;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// When appended bytes are synced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Before the write is acknowledged.
    Always,
    /// Once a second, in the background.
    EverySec,
    /// When the operating system decides.
    No,
}

impl Fsync {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }
    fn from_u8(v: u8) -> Fsync {
        match v {
            0 => Fsync::Always,
            1 => Fsync::EverySec,
            _ => Fsync::No,
        }
    }
    fn to_u8(self) -> u8 {
        match self {
            Fsync::Always => 0,
            Fsync::EverySec => 1,
            Fsync::No => 2,
        }
    }
}

impl FromStr for Fsync {
    type Err = String;
    fn from_str(s: &str) -> Result<Fsync, String> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(Fsync::Always),
            "everysec" => Ok(Fsync::EverySec),
            "no" => Ok(Fsync::No),
            _ => Err(format!(
                "appendfsync takes always, everysec or no, not {s:?}"
            )),
        }
    }
}

/// How the writer is set up.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Whether ops are appended at all (snapshots work either way).
    pub appendonly: bool,
    /// Sync policy.
    pub fsync: Fsync,
    /// This instance's replica id, written in file headers.
    pub replica: u16,
    /// Ask for a rewrite when the files after the snapshot grew by this percentage of it.
    pub rewrite_percentage: u64,
    /// ... and are at least this large.
    pub rewrite_min_size: u64,
}

/// What the writer shares with the server (for INFO and for waiting on syncs).
#[derive(Debug, Default)]
pub struct WriterState {
    submitted: AtomicU64,
    durable: AtomicU64,
    next_gen: AtomicU64,
    /// Bytes of append-only files after the snapshot.
    pub aof_size: AtomicU64,
    /// Size of the append-only files (or the snapshot) when the last rewrite finished.
    pub base_size: AtomicU64,
    /// Bytes submitted but not yet taken by the writer thread.
    pub pending: AtomicU64,
    /// Whether the last write or sync succeeded.
    pub write_ok: AtomicBool,
    /// Whether the files grew enough to want a rewrite.
    pub rewrite_wanted: AtomicBool,
    /// Syncs that took longer than two seconds.
    pub delayed_fsync: AtomicU64,
    fsync: AtomicU8,
    /// Rewrite when the files after the snapshot grew by this percentage (0: never).
    pub rewrite_percentage: AtomicU64,
    /// ... and are at least this large.
    pub rewrite_min_size: AtomicU64,
    /// The last write error.
    pub last_error: Mutex<Option<String>>,
}

impl WriterState {
    /// The sequence number of the last batch submitted.
    pub fn submitted(&self) -> u64 {
        self.submitted.load(Ordering::Acquire)
    }
    /// The sequence number up to which batches are durable (by the policy in force).
    pub fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }
    /// The sync policy in force.
    pub fn fsync(&self) -> Fsync {
        Fsync::from_u8(self.fsync.load(Ordering::Relaxed))
    }
    /// Changes the sync policy.
    pub fn set_fsync(&self, f: Fsync) {
        self.fsync.store(f.to_u8(), Ordering::Relaxed);
    }
}

enum Cmd {
    Rotate(u64),
    Install {
        generation: u64,
        tmp: String,
        size: u64,
        done: mpsc::Sender<io::Result<()>>,
    },
    Flush(mpsc::Sender<io::Result<()>>),
    Stop(mpsc::Sender<io::Result<()>>),
}

/// What the engine side hands over: encoded records, and commands, each command carrying
/// the records that came before it (so order holds across rotations).
#[derive(Default)]
struct Queue {
    /// Records after the last command.
    bytes: Vec<u8>,
    /// The batch sequence number of the last records appended.
    seq: u64,
    cmds: Vec<(Vec<u8>, u64, Cmd)>,
    /// The writer thread waits for work (a submit must wake it).
    idle: bool,
    /// The writer thread is gone.
    gone: bool,
}

struct Shared {
    q: Mutex<Queue>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The handle to the writer thread.
pub struct Writer {
    shared: Arc<Shared>,
    state: Arc<WriterState>,
    appendonly: bool,
}

/// Called with a batch sequence number once it is durable.
pub type OnDurable = Box<dyn Fn(u64) + Send>;

impl Writer {
    /// Starts the writer after recovery. `manifest` is what recovery loaded, `aof_bytes`
    /// the sizes of its append-only files. With `appendonly` and no file to append to, a
    /// new one is created and the manifest updated before this returns.
    pub fn start(
        dir: Arc<dyn Dir>,
        cfg: WriterConfig,
        mut manifest: Manifest,
        aof_bytes: &[u64],
        on_durable: OnDurable,
    ) -> io::Result<Writer> {
        let state = Arc::new(WriterState {
            write_ok: AtomicBool::new(true),
            ..WriterState::default()
        });
        state.set_fsync(cfg.fsync);
        state
            .rewrite_percentage
            .store(cfg.rewrite_percentage, Ordering::Relaxed);
        state
            .rewrite_min_size
            .store(cfg.rewrite_min_size, Ordering::Relaxed);
        let mut generation = manifest.generation();
        let mut file = None;
        let mut sizes: Vec<u64> = aof_bytes.to_vec();
        if cfg.appendonly {
            match manifest.aofs.last() {
                Some(last) => file = Some((last.clone(), dir.append(last)?)),
                None => {
                    generation += 1;
                    let name = manifest::aof_name(generation);
                    let f = new_aof(&*dir, &name, cfg.replica)?;
                    manifest.aofs.push(name.clone());
                    sizes.push(frame::FILE_HEADER as u64);
                    dir::replace(&*dir, MANIFEST, manifest.encode().as_bytes())?;
                    file = Some((name, f));
                }
            }
        }
        // Files the manifest does not name are leftovers of a crash.
        for n in dir.list()? {
            let ours = n.starts_with("concord.")
                && (n.ends_with(".tmp") || manifest::generation_of(&n).is_some());
            let listed = manifest.snapshot.as_deref() == Some(&n) || manifest.aofs.contains(&n);
            if ours && !listed && n != MANIFEST {
                dir.remove(&n)?;
            }
        }
        state.next_gen.store(generation, Ordering::Release);
        let total: u64 = sizes.iter().sum();
        state.aof_size.store(total, Ordering::Relaxed);
        let base = match &manifest.snapshot {
            Some(s) => dir.size(s)?.unwrap_or(0),
            None => 0,
        };
        state.base_size.store(base, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            q: Mutex::new(Queue::default()),
            cv: Condvar::new(),
        });
        let mut w = Worker {
            dir,
            cfg: cfg.clone(),
            manifest,
            file,
            sizes,
            buf: Vec::with_capacity(1 << 16),
            spare: Vec::with_capacity(1 << 16),
            last_seq: 0,
            last_sync: Instant::now(),
            unsynced: false,
            state: Arc::clone(&state),
            on_durable,
        };
        let sh = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("concord-aof".into())
            .spawn(move || {
                w.run(&sh);
                let mut q = sh.lock();
                q.gone = true;
                // Whoever still waits for a reply gets an error from the dropped sender.
                q.cmds.clear();
            })?;
        Ok(Writer {
            shared,
            state,
            appendonly: cfg.appendonly,
        })
    }

    /// Shared counters.
    pub fn state(&self) -> &Arc<WriterState> {
        &self.state
    }

    /// Whether ops are appended.
    pub fn appendonly(&self) -> bool {
        self.appendonly
    }

    /// Hands over changes in apply order (call with the engine locked, so batches keep
    /// that order): they are encoded here and written by the writer thread. Returns the
    /// batch's sequence number.
    pub fn submit(&self, entries: impl IntoIterator<Item = Journal>) -> u64 {
        let seq = self.state.submitted.fetch_add(1, Ordering::AcqRel) + 1;
        let mut q = self.shared.lock();
        if self.appendonly {
            let before = q.bytes.len();
            for e in entries {
                encode(&mut q.bytes, std::slice::from_ref(&e));
            }
            let added = (q.bytes.len() - before) as u64;
            self.state.pending.fetch_add(added, Ordering::Relaxed);
        }
        q.seq = seq;
        if q.idle {
            q.idle = false;
            self.shared.cv.notify_one();
        }
        seq
    }

    fn command(&self, c: Cmd) {
        let mut q = self.shared.lock();
        if q.gone {
            return;
        }
        let bytes = std::mem::take(&mut q.bytes);
        let seq = q.seq;
        q.cmds.push((bytes, seq, c));
        q.idle = false;
        self.shared.cv.notify_one();
    }

    fn ask(&self, c: impl FnOnce(mpsc::Sender<io::Result<()>>) -> Cmd) -> io::Result<()> {
        let (done, rx) = mpsc::channel();
        self.command(c(done));
        rx.recv()
            .unwrap_or_else(|_| Err(io::Error::other("the writer stopped")))
    }

    /// Starts a new append-only file at this point of the apply order (call with the
    /// engine locked, right before taking the snapshot of generation it returns).
    pub fn rotate(&self) -> u64 {
        let generation = self.state.next_gen.fetch_add(1, Ordering::AcqRel) + 1;
        self.command(Cmd::Rotate(generation));
        generation
    }

    /// Installs the snapshot written to `tmp` as generation `generation` and drops the
    /// files it replaces. Waits until the manifest names it.
    pub fn install(&self, generation: u64, tmp: &str, size: u64) -> io::Result<()> {
        self.ask(|done| Cmd::Install {
            generation,
            tmp: tmp.into(),
            size,
            done,
        })
    }

    /// Writes and syncs everything submitted so far; waits for it.
    pub fn flush(&self) -> io::Result<()> {
        self.ask(Cmd::Flush)
    }

    /// Flushes, syncs and stops the thread.
    pub fn stop(&self) -> io::Result<()> {
        self.ask(Cmd::Stop)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The thread ends once it wrote what it has (no sync: that is `stop`).
        let mut q = self.shared.lock();
        q.gone = true;
        self.shared.cv.notify_one();
    }
}

fn new_aof(dir: &dyn Dir, name: &str, replica: u16) -> io::Result<Box<dyn File>> {
    let mut f = dir.create(name)?;
    f.write_all(&frame::file_header(FileKind::Aof, replica))?;
    f.sync()?;
    dir.sync_dir()?;
    Ok(f)
}

struct Worker {
    dir: Arc<dyn Dir>,
    cfg: WriterConfig,
    manifest: Manifest,
    file: Option<(String, Box<dyn File>)>,
    /// Sizes of the manifest's append-only files (the last one is being appended to).
    sizes: Vec<u64>,
    buf: Vec<u8>,
    /// An empty buffer to swap with the queue's.
    spare: Vec<u8>,
    last_seq: u64,
    last_sync: Instant,
    unsynced: bool,
    state: Arc<WriterState>,
    on_durable: OnDurable,
}

impl Worker {
    fn run(&mut self, sh: &Shared) {
        loop {
            let (cmds, stopping, seq) = {
                let mut q = sh.lock();
                loop {
                    if !q.cmds.is_empty() || !q.bytes.is_empty() || q.gone {
                        break;
                    }
                    let wait = if !self.buf.is_empty() {
                        // A write failed: try again in a second.
                        Some(Duration::from_secs(1))
                    } else if self.unsynced && self.state.fsync() == Fsync::EverySec {
                        Some(Duration::from_secs(1).saturating_sub(self.last_sync.elapsed()))
                    } else {
                        None
                    };
                    q.idle = true;
                    match wait {
                        // Time to sync (or retry).
                        Some(d) if d.is_zero() => break,
                        Some(d) => {
                            let (g, t) =
                                sh.cv.wait_timeout(q, d).unwrap_or_else(|p| p.into_inner());
                            q = g;
                            if t.timed_out() {
                                break;
                            }
                        }
                        None => q = sh.cv.wait(q).unwrap_or_else(|p| p.into_inner()),
                    }
                }
                q.idle = false;
                let cmds = std::mem::take(&mut q.cmds);
                std::mem::swap(&mut q.bytes, &mut self.spare);
                let seq = q.seq;
                let stopping = q.gone && q.cmds.is_empty();
                (cmds, stopping, seq)
            };
            for (before, seq, c) in cmds {
                self.append(&before, seq);
                match c {
                    Cmd::Rotate(generation) => {
                        let r = self.rotate(generation);
                        self.note(&r);
                    }
                    Cmd::Install {
                        generation,
                        tmp,
                        size,
                        done,
                    } => {
                        let r = self
                            .write_out()
                            .and_then(|_| self.install(generation, &tmp, size));
                        let _ = done.send(r);
                    }
                    Cmd::Flush(done) => {
                        let r = self.write_out().and_then(|_| self.sync());
                        self.note(&r);
                        let _ = done.send(r);
                    }
                    Cmd::Stop(done) => {
                        let r = self.write_out().and_then(|_| self.sync());
                        let _ = done.send(r);
                        return;
                    }
                }
            }
            // The records that came after every command taken, in order behind them.
            self.take_spare(seq);
            let r = self.write_out();
            self.note(&r);
            if stopping {
                return;
            }
            if r.is_err() {
                continue;
            }
            let r = match self.state.fsync() {
                Fsync::Always => self.sync(),
                Fsync::EverySec
                    if self.unsynced && self.last_sync.elapsed() >= Duration::from_secs(1) =>
                {
                    self.sync()
                }
                _ => {
                    self.publish();
                    Ok(())
                }
            };
            self.note(&r);
            self.check_rewrite();
        }
    }

    /// Moves the records taken from the queue (in `spare`) behind the buffered ones.
    fn take_spare(&mut self, seq: u64) {
        if self.spare.is_empty() {
            self.last_seq = self.last_seq.max(seq);
            return;
        }
        let n = self.spare.len() as u64;
        self.state.pending.fetch_sub(n, Ordering::Relaxed);
        if self.buf.is_empty() {
            std::mem::swap(&mut self.buf, &mut self.spare);
        } else {
            self.buf.extend_from_slice(&self.spare);
            self.spare.clear();
        }
        self.last_seq = self.last_seq.max(seq);
    }

    /// Appends records that came before a command.
    fn append(&mut self, before: &[u8], seq: u64) {
        if !before.is_empty() {
            let n = before.len() as u64;
            self.state.pending.fetch_sub(n, Ordering::Relaxed);
            self.buf.extend_from_slice(before);
        }
        self.last_seq = self.last_seq.max(seq);
    }

    fn note(&self, r: &io::Result<()>) {
        match r {
            Ok(()) => self.state.write_ok.store(true, Ordering::Release),
            Err(e) => {
                if self.state.write_ok.swap(false, Ordering::AcqRel) {
                    tracing::error!(
                        "writing the append-only file failed: {e}; retrying every second"
                    );
                }
                *self
                    .state
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
        }
    }

    fn publish(&self) {
        self.state.durable.store(self.last_seq, Ordering::Release);
        (self.on_durable)(self.last_seq);
    }

    /// Appends the buffered records. On failure the file is cut back to its last good
    /// length and the records stay buffered for the next try.
    fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some((name, f)) = &mut self.file else {
            self.buf.clear();
            return Ok(());
        };
        match f.write_all(&self.buf) {
            Ok(()) => {
                let n = self.buf.len() as u64;
                if let Some(s) = self.sizes.last_mut() {
                    *s += n;
                }
                self.state.aof_size.fetch_add(n, Ordering::Relaxed);
                self.unsynced = true;
                self.buf.clear();
                if self.buf.capacity() > 64 << 20 {
                    self.buf = Vec::with_capacity(1 << 16);
                }
                Ok(())
            }
            Err(e) => {
                let good = self.sizes.last().copied().unwrap_or(0);
                let _ = self.dir.truncate(name, good);
                if let Ok(f2) = self.dir.append(name) {
                    *f = f2;
                }
                Err(e)
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        if let Some((_, f)) = &mut self.file
            && self.unsynced
        {
            let t = Instant::now();
            f.sync()?;
            if t.elapsed() > Duration::from_secs(2) {
                self.state.delayed_fsync.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.unsynced = false;
        self.last_sync = Instant::now();
        self.publish();
        Ok(())
    }

    fn rotate(&mut self, generation: u64) -> io::Result<()> {
        if !self.cfg.appendonly {
            return Ok(());
        }
        self.write_out()?;
        self.sync()?;
        let name = manifest::aof_name(generation);
        let f = new_aof(&*self.dir, &name, self.cfg.replica)?;
        let mut m = self.manifest.clone();
        m.aofs.push(name.clone());
        dir::replace(&*self.dir, MANIFEST, m.encode().as_bytes())?;
        self.manifest = m;
        self.file = Some((name, f));
        self.sizes.push(frame::FILE_HEADER as u64);
        self.state
            .aof_size
            .fetch_add(frame::FILE_HEADER as u64, Ordering::Relaxed);
        Ok(())
    }

    fn install(&mut self, generation: u64, tmp: &str, size: u64) -> io::Result<()> {
        if self.cfg.appendonly
            && !self
                .manifest
                .aofs
                .iter()
                .any(|a| manifest::generation_of(a) == Some(generation))
        {
            // The rotation failed, so what followed the snapshot went to an older file,
            // which installing would drop.
            let _ = self.dir.remove(tmp);
            return Err(io::Error::other(
                "the append-only file of this snapshot was never started; keeping the old files",
            ));
        }
        let snap = manifest::snapshot_name(generation);
        self.dir.rename(tmp, &snap)?;
        self.dir.sync_dir()?;
        let keep: Vec<usize> = (0..self.manifest.aofs.len())
            .filter(|&i| {
                manifest::generation_of(&self.manifest.aofs[i]).is_some_and(|g| g >= generation)
            })
            .collect();
        let m = Manifest {
            snapshot: Some(snap),
            aofs: keep
                .iter()
                .map(|&i| self.manifest.aofs[i].clone())
                .collect(),
        };
        dir::replace(&*self.dir, MANIFEST, m.encode().as_bytes())?;
        let old = std::mem::replace(&mut self.manifest, m);
        self.sizes = keep
            .iter()
            .map(|&i| self.sizes.get(i).copied().unwrap_or(0))
            .collect();
        for f in old.snapshot.iter().chain(&old.aofs) {
            if self.manifest.snapshot.as_ref() != Some(f) && !self.manifest.aofs.contains(f) {
                self.dir.remove(f)?;
            }
        }
        self.dir.sync_dir()?;
        let total: u64 = self.sizes.iter().sum();
        self.state.aof_size.store(total, Ordering::Relaxed);
        self.state
            .base_size
            .store(size.max(total), Ordering::Relaxed);
        self.state.rewrite_wanted.store(false, Ordering::Relaxed);
        Ok(())
    }

    fn check_rewrite(&self) {
        let pct = self.state.rewrite_percentage.load(Ordering::Relaxed);
        if !self.cfg.appendonly || pct == 0 {
            return;
        }
        let size = self.state.aof_size.load(Ordering::Relaxed);
        let base = self.state.base_size.load(Ordering::Relaxed);
        if size >= self.state.rewrite_min_size.load(Ordering::Relaxed)
            && size.saturating_mul(100) >= base.saturating_mul(100 + pct)
        {
            self.state.rewrite_wanted.store(true, Ordering::Relaxed);
        }
    }
}

/// Encodes changes as records.
pub fn encode(buf: &mut Vec<u8>, es: &[Journal]) {
    for e in es {
        match e {
            Journal::Group(g) => {
                let start = buf.len();
                buf.extend_from_slice(&[0u8; RECORD_HEADER]);
                entry::put_group(buf, g);
                frame::seal_record(buf, start);
            }
            Journal::Merge {
                vv,
                hlc,
                keys,
                chunks,
            } => {
                let mut body = Vec::new();
                entry::put_state_begin(&mut body, vv, *hlc, *keys);
                frame::put_record(buf, &body);
                for c in chunks {
                    let start = buf.len();
                    buf.extend_from_slice(&[0u8; RECORD_HEADER]);
                    entry::put_state_chunk(buf, c);
                    frame::seal_record(buf, start);
                }
                body.clear();
                entry::put_state_end(&mut body, *keys);
                frame::put_record(buf, &body);
            }
        }
    }
}
