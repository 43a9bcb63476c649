//! Crash images: recovery from every prefix of the files, from torn and damaged records,
//! and from crashes in the middle of a snapshot.

use super::*;
use crate::frame::{FileKind, RecordReader};
use concord_crdt::Origin;
use concord_engine::{Engine, EngineConfig};
use concord_resp::Out;
use std::sync::Arc;

const REPLICA: u16 = 3;

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig {
        origin: Origin::new(REPLICA, 7),
        ..EngineConfig::default()
    });
    e.set_time(1_700_000_000_000);
    e
}

fn run(e: &mut Engine, cmd: &str) {
    let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
    let mut out = Out::new();
    assert!(e.execute(&args, &mut out), "{cmd}");
    e.commit();
}

/// A mixed workload over every type; the i-th command is deterministic.
fn command(i: usize) -> String {
    let k = i % 7;
    match i % 9 {
        0 => format!("SET s{k} v{i}"),
        1 => format!("INCRBY c{k} {i}"),
        2 => format!("SADD set{k} m{i} m{}", i / 2),
        3 => format!("HSET h{k} f{} {i}", i % 4),
        4 => format!("ZADD z{k} {i} m{}", i % 5),
        5 => format!("SREM set{k} m{}", i / 3),
        6 => format!("APPEND s{k} x"),
        7 => format!("PEXPIRE h{k} 100000{i}"),
        _ => format!("DEL c{}", (k + 1) % 7),
    }
}

fn writer(dir: &MemDir, fsync: Fsync) -> Writer {
    let rec = recover(dir, REPLICA, &mut engine(), &mut |_| {}).expect("recover");
    Writer::start(
        Arc::new(dir.clone()),
        WriterConfig {
            appendonly: true,
            fsync,
            replica: REPLICA,
            rewrite_percentage: 100,
            rewrite_min_size: 1 << 30,
        },
        rec.manifest,
        &rec.aof_bytes,
        Box::new(|_| {}),
    )
    .expect("writer")
}

/// Runs commands through a journaling engine into `w`; returns the digest after each
/// prefix of the groups logged (index k: after k groups).
fn workload(e: &mut Engine, w: &Writer, range: std::ops::Range<usize>) -> Vec<u64> {
    e.enable_journal();
    let mut digests = vec![e.digest()];
    for i in range {
        run(e, &command(i));
        let j = e.take_journal();
        // Commands that change nothing (SREM of a missing member) log nothing.
        if !j.is_empty() {
            w.submit(j);
            digests.push(e.digest());
        }
    }
    digests
}

fn recovered(dir: &MemDir) -> Result<(Engine, Recovery), RecoverError> {
    let mut e = engine();
    let r = recover(dir, REPLICA, &mut e, &mut |_| {})?;
    Ok((e, r))
}

/// Offsets where records end in a file.
fn record_ends(bytes: &[u8], kind: FileKind) -> Vec<u64> {
    let mut r = RecordReader::new(Box::new(std::io::Cursor::new(bytes.to_vec())), kind, 0).unwrap();
    let mut ends = Vec::new();
    while r.next().unwrap().is_some() {
        ends.push(r.offset());
    }
    ends
}

/// A fresh directory whose first append-only file holds `n` commands, flushed.
struct Written {
    dir: MemDir,
    /// Digest after each prefix of the groups.
    digests: Vec<u64>,
    /// The file's bytes and where its records end.
    full: Vec<u8>,
    ends: Vec<u64>,
}

fn written(fsync: Fsync, n: usize) -> Written {
    let dir = MemDir::new();
    let w = writer(&dir, fsync);
    let digests = workload(&mut engine(), &w, 0..n);
    w.flush().unwrap();
    let full = dir.bytes(&aof_name(1)).unwrap();
    let ends = record_ends(&full, FileKind::Aof);
    Written {
        dir,
        digests,
        full,
        ends,
    }
}

#[test]
fn every_prefix_of_unsynced_bytes_recovers_the_durable_prefix() {
    let Written {
        dir,
        digests,
        full,
        ends,
    } = written(Fsync::No, 60);
    let name = aof_name(1);
    assert_eq!(ends.len(), digests.len() - 1);
    // Flush synced everything; make it unsynced again by rebuilding the file unsynced.
    let base = dir.crash(|_, _| 0);
    base.set_bytes(&name, full[..frame::FILE_HEADER].to_vec());
    let mut f = base.append(&name).unwrap();
    f.write_all(&full[frame::FILE_HEADER..]).unwrap();
    drop(f);
    for keep in 0..=(full.len() - frame::FILE_HEADER) {
        let img = base.crash(|_, _| keep);
        let len = (frame::FILE_HEADER + keep) as u64;
        let k = ends.iter().filter(|&&x| x <= len).count();
        let (mut got, rec) = recovered(&img).unwrap_or_else(|x| panic!("keep {keep}: {x}"));
        assert_eq!(
            got.digest(),
            digests[k],
            "keep {keep} bytes: expected {k} groups"
        );
        assert_eq!(rec.groups, k as u64);
        let torn = !ends.contains(&len) && len != frame::FILE_HEADER as u64;
        assert_eq!(rec.truncated.is_some(), torn, "keep {keep}");
        // After the cut, the file holds exactly the good records and appends work.
        let cut = img.bytes(&name).unwrap();
        assert_eq!(record_ends(&cut, FileKind::Aof).len(), k);
    }
}

#[test]
fn always_syncs_every_batch_and_a_crash_loses_nothing_submitted() {
    let dir = MemDir::new();
    let w = writer(&dir, Fsync::Always);
    let mut e = engine();
    let digests = workload(&mut e, &w, 0..40);
    // Wait for the writer to catch up (durable reaches the last batch).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while w.state().durable() < w.state().submitted() {
        assert!(
            std::time::Instant::now() < deadline,
            "writer never caught up"
        );
        std::thread::yield_now();
    }
    let img = dir.crash(|_, _| 0);
    let (mut got, _) = recovered(&img).unwrap();
    assert_eq!(got.digest(), *digests.last().unwrap());
    assert_eq!(got.vv(), e.vv());
}

#[test]
fn damage_in_the_middle_stops_with_the_offset_and_check_fixes_it() {
    let Written {
        dir,
        digests,
        full,
        ends,
    } = written(Fsync::Always, 30);
    let name = aof_name(1);
    let n = ends.len();
    for victim in [0usize, n / 2, n - 2] {
        let start = if victim == 0 {
            frame::FILE_HEADER as u64
        } else {
            ends[victim - 1]
        };
        // A flip in the header and one in the body.
        for delta in [1u64, 20] {
            let img = dir.crash(|_, _| 0);
            let mut b = full.clone();
            let pos = (start + delta) as usize;
            b[pos] ^= 0x10;
            img.set_bytes(&name, b);
            match recovered(&img) {
                Err(RecoverError::Corrupt { file, offset, .. }) => {
                    assert_eq!(offset, start);
                    assert!(file.contains(&name));
                }
                Err(x) => panic!("unexpected {x}"),
                Ok(_) => panic!("damage at record {victim} went unnoticed"),
            }
            let found = check(&img, false).unwrap();
            assert_eq!(found[0].bad.as_ref().map(|b| b.0), Some(start));
            let fixed = check(&img, true).unwrap();
            assert!(fixed[0].fixed);
            let (mut got, _) = recovered(&img).unwrap();
            assert_eq!(got.digest(), digests[victim]);
        }
    }
    // The last record damaged looks like a torn write: cut, start.
    let img = dir.crash(|_, _| 0);
    let mut b = full.clone();
    let pos = b.len() - 2;
    b[pos] ^= 1;
    img.set_bytes(&name, b);
    let (mut got, rec) = recovered(&img).unwrap();
    assert!(rec.truncated.is_some());
    assert_eq!(got.digest(), digests[n - 1]);
    // Zeros after the last record (a file extended by a crash) are a torn tail too.
    let img = dir.crash(|_, _| 0);
    let mut b = full.clone();
    b.extend_from_slice(&[0u8; 100]);
    img.set_bytes(&name, b);
    let (mut got, rec) = recovered(&img).unwrap();
    assert_eq!(rec.truncated.map(|t| t.lost), Some(100));
    assert_eq!(got.digest(), digests[n]);
}

/// Takes a snapshot the way the server does: rotate, write the engine, install.
fn snapshot(e: &Engine, dir: &MemDir, w: &Writer) -> u64 {
    let generation = w.rotate();
    let tmp = format!("{}.tmp", snapshot_name(generation));
    let size = snapshot::write_engine(dir, &tmp, REPLICA, e).unwrap();
    w.install(generation, &tmp, size).unwrap();
    generation
}

#[test]
fn snapshot_then_tail_recovers_and_old_files_go() {
    let dir = MemDir::new();
    let w = writer(&dir, Fsync::Always);
    let mut e = engine();
    workload(&mut e, &w, 0..50);
    let generation = snapshot(&e, &dir, &w);
    let digests = workload(&mut e, &w, 50..80);
    w.flush().unwrap();
    let m = read_manifest(&dir).unwrap().unwrap();
    assert_eq!(m.snapshot, Some(snapshot_name(generation)));
    assert_eq!(m.aofs, vec![aof_name(generation)]);
    assert!(
        dir.bytes(&aof_name(1)).is_none(),
        "the old file was removed"
    );
    let (mut got, rec) = recovered(&dir.crash(|_, _| 0)).unwrap();
    assert_eq!(got.digest(), *digests.last().unwrap());
    assert_eq!(got.vv(), e.vv());
    assert_eq!(rec.groups as usize, digests.len() - 1);
    assert!(rec.snapshot_keys > 0);
}

#[test]
fn a_crash_during_a_snapshot_keeps_the_old_files() {
    let dir = MemDir::new();
    let w = writer(&dir, Fsync::Always);
    let mut e = engine();
    workload(&mut e, &w, 0..50);
    // Rotated and written, never installed: the crash comes first.
    let generation = w.rotate();
    let tmp = format!("{}.tmp", snapshot_name(generation));
    snapshot::write_engine(&dir, &tmp, REPLICA, &e).unwrap();
    let digests = workload(&mut e, &w, 50..60);
    w.flush().unwrap();
    let img = dir.crash(|_, _| 0);
    let (mut got, rec) = recovered(&img).unwrap();
    assert_eq!(got.digest(), *digests.last().unwrap());
    assert_eq!(rec.manifest.aofs, vec![aof_name(1), aof_name(generation)]);
    // A new writer removes the leftover and keeps appending to the last file.
    let w2 = writer(&img, Fsync::Always);
    assert!(img.bytes(&tmp).is_none());
    let mut e2 = got;
    let more = workload(&mut e2, &w2, 60..70);
    w2.flush().unwrap();
    let (mut again, _) = recovered(&img.crash(|_, _| 0)).unwrap();
    assert_eq!(again.digest(), *more.last().unwrap());
}

#[test]
fn a_damaged_snapshot_is_an_error_naming_it() {
    let dir = MemDir::new();
    let w = writer(&dir, Fsync::Always);
    let mut e = engine();
    workload(&mut e, &w, 0..50);
    let generation = snapshot(&e, &dir, &w);
    let name = snapshot_name(generation);
    let mut b = dir.bytes(&name).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 4;
    dir.set_bytes(&name, b);
    match recovered(&dir) {
        Err(RecoverError::Corrupt { file, .. }) => assert!(file.contains(&name)),
        Err(x) => panic!("unexpected {x}"),
        Ok(_) => panic!("damage went unnoticed"),
    }
}

#[test]
fn files_of_another_replica_are_refused() {
    let dir = MemDir::new();
    let w = writer(&dir, Fsync::Always);
    workload(&mut engine(), &w, 0..5);
    w.flush().unwrap();
    let mut e = Engine::new(EngineConfig::default());
    match recover(&dir, REPLICA + 1, &mut e, &mut |_| {}) {
        Err(RecoverError::Header { .. }) => {}
        other => panic!("expected a header error, got {other:?}"),
    }
}

#[test]
fn a_merged_full_sync_is_replayed_and_a_torn_one_dropped() {
    let dir = MemDir::new();
    let w = writer(&dir, Fsync::Always);
    let mut e = engine();
    let first = *workload(&mut e, &w, 0..10).last().unwrap();
    // Another instance's state, merged as a full sync would.
    let mut other = Engine::new(EngineConfig {
        origin: Origin::new(9, 1),
        ..EngineConfig::default()
    });
    other.set_peers(1);
    other.set_time(1_700_000_000_000);
    for i in 100..140 {
        run(&mut other, &command(i));
    }
    let snap = other.snapshot(8, concord_crdt::codec::STATE_FORMAT_VERSION);
    let states = snap
        .chunks
        .iter()
        .flat_map(|c| concord_crdt::codec::decode_states(c).unwrap())
        .collect();
    w.flush().unwrap();
    let before = dir.bytes(&aof_name(1)).unwrap().len();
    e.merge_snapshot(&snap.vv, snap.hlc, states).unwrap();
    w.submit(e.take_journal());
    let digests = workload(&mut e, &w, 10..20);
    w.flush().unwrap();
    let (mut got, rec) = recovered(&dir.crash(|_, _| 0)).unwrap();
    assert_eq!(rec.merges, 1);
    assert_eq!(got.digest(), *digests.last().unwrap());
    assert_eq!(got.vv(), e.vv());
    // Torn inside the merged state: it and what follows are dropped.
    let full = dir.bytes(&aof_name(1)).unwrap();
    let img = dir.crash(|_, _| 0);
    img.set_bytes(&aof_name(1), full[..before + 60].to_vec());
    let (mut got, rec) = recovered(&img).unwrap();
    assert_eq!(rec.merges, 0);
    assert_eq!(
        rec.truncated.as_ref().map(|t| t.offset),
        Some(before as u64)
    );
    assert_eq!(got.digest(), first);
}

#[test]
fn garbage_files_never_panic() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    let dir = MemDir::new();
    let w = writer(&dir, Fsync::Always);
    workload(&mut engine(), &w, 0..20);
    w.flush().unwrap();
    let full = dir.bytes(&aof_name(1)).unwrap();
    runner
        .run(
            &(
                any::<usize>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..64),
            ),
            |(pos, x, tail)| {
                let img = dir.crash(|_, _| 0);
                let mut b = full.clone();
                let p = pos % b.len();
                b[p] ^= x | 1;
                b.extend_from_slice(&tail);
                img.set_bytes(&aof_name(1), b);
                let _ = recovered(&img);
                let _ = check(&img, true);
                Ok(())
            },
        )
        .unwrap();
}

/// A directory whose file writes fail while `fail` is set (a full disk), and take
/// `slow` milliseconds each (a slow disk).
#[derive(Clone, Default)]
struct FullDisk {
    inner: MemDir,
    fail: Arc<std::sync::atomic::AtomicBool>,
    slow: Arc<std::sync::atomic::AtomicU64>,
}

struct FullFile {
    inner: Box<dyn File>,
    fail: Arc<std::sync::atomic::AtomicBool>,
    slow: Arc<std::sync::atomic::AtomicU64>,
}

impl File for FullFile {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let ms = self.slow.load(std::sync::atomic::Ordering::SeqCst);
        if ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            // Half of it lands before the error, as a real short write would.
            let _ = self.inner.write_all(&buf[..buf.len() / 2]);
            return Err(std::io::Error::other("No space left on device"));
        }
        self.inner.write_all(buf)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()
    }
}

impl Dir for FullDisk {
    fn open(&self, name: &str) -> std::io::Result<Option<Box<dyn std::io::Read + Send>>> {
        self.inner.open(name)
    }
    fn create(&self, name: &str) -> std::io::Result<Box<dyn File>> {
        Ok(Box::new(FullFile {
            inner: self.inner.create(name)?,
            fail: self.fail.clone(),
            slow: self.slow.clone(),
        }))
    }
    fn append(&self, name: &str) -> std::io::Result<Box<dyn File>> {
        Ok(Box::new(FullFile {
            inner: self.inner.append(name)?,
            fail: self.fail.clone(),
            slow: self.slow.clone(),
        }))
    }
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        self.inner.remove(name)
    }
    fn truncate(&self, name: &str, len: u64) -> std::io::Result<()> {
        self.inner.truncate(name, len)
    }
    fn sync_dir(&self) -> std::io::Result<()> {
        self.inner.sync_dir()
    }
    fn size(&self, name: &str) -> std::io::Result<Option<u64>> {
        self.inner.size(name)
    }
    fn list(&self) -> std::io::Result<Vec<String>> {
        self.inner.list()
    }
    fn describe(&self, name: &str) -> String {
        self.inner.describe(name)
    }
}

/// A writer on an empty directory.
fn fresh_writer(dir: &FullDisk, fsync: Fsync) -> Writer {
    Writer::start(
        Arc::new(dir.clone()),
        WriterConfig {
            appendonly: true,
            fsync,
            replica: REPLICA,
            rewrite_percentage: 0,
            rewrite_min_size: 0,
        },
        Manifest::default(),
        &[],
        Box::new(|_| {}),
    )
    .unwrap()
}

#[test]
fn a_full_disk_reports_the_error_loses_nothing_and_recovers() {
    use std::sync::atomic::Ordering::SeqCst;
    let disk = FullDisk::default();
    let mem = disk.inner.clone();
    let w = fresh_writer(&disk, Fsync::Always);
    let mut e = engine();
    workload(&mut e, &w, 0..10);
    w.flush().unwrap();
    disk.fail.store(true, SeqCst);
    let digests = workload(&mut e, &w, 10..20);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while w.state().write_ok.load(SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the error was never reported"
        );
        std::thread::yield_now();
    }
    assert!(
        w.state().durable() < w.state().submitted(),
        "nothing is durable meanwhile"
    );
    // A crash now leaves the good prefix, never the half-written batch.
    let (_, rec) = recovered(&mem.crash(|_, _| 0)).unwrap();
    assert!(rec.truncated.is_none());
    // Space again: the retry writes everything, in order.
    disk.fail.store(false, SeqCst);
    w.flush().unwrap();
    assert!(w.state().write_ok.load(SeqCst));
    let (mut got, _) = recovered(&mem.crash(|_, _| 0)).unwrap();
    assert_eq!(got.digest(), *digests.last().unwrap());
}

#[test]
fn records_submitted_right_after_a_rotation_land_in_the_new_file_in_order() {
    let disk = FullDisk::default();
    let mem = disk.inner.clone();
    let w = fresh_writer(&disk, Fsync::No);
    let mut e = engine();
    e.enable_journal();
    // A slow disk keeps the writer thread busy, so a rotation and the records after it
    // are taken together.
    disk.slow.store(20, std::sync::atomic::Ordering::SeqCst);
    for round in 0..10 {
        workload(&mut e, &w, round * 20..round * 20 + 10);
        // The state at the rotation point (nothing changes between these two steps).
        let tmp = "snap.tmp";
        let size = snapshot::write_engine(&mem, tmp, REPLICA, &e).unwrap();
        let generation = w.rotate();
        workload(&mut e, &w, round * 20 + 10..round * 20 + 20);
        let named = format!("{}.tmp", snapshot_name(generation));
        mem.rename(tmp, &named).unwrap();
        if round % 3 != 0 {
            // Once the writer took the rotation and the records after it together,
            // install the snapshot: those records must be in the file it keeps.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while w.state().pending.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "writer never took the records"
                );
                std::thread::yield_now();
            }
            w.install(generation, &named, size).unwrap();
        }
    }
    w.flush().unwrap();
    let (mut got, _) = recovered(&mem.crash(|_, _| 0)).unwrap();
    assert_eq!(got.digest(), e.digest());
    assert_eq!(got.vv(), e.vv());
}

#[test]
fn a_snapshot_whose_rotation_failed_is_not_installed() {
    use std::sync::atomic::Ordering::SeqCst;
    let disk = FullDisk::default();
    let mem = disk.inner.clone();
    let w = fresh_writer(&disk, Fsync::Always);
    let mut e = engine();
    workload(&mut e, &w, 0..10);
    w.flush().unwrap();
    // The new file cannot be started; what follows stays in the old one.
    disk.fail.store(true, SeqCst);
    let generation = w.rotate();
    // The writer has tried the rotation once this returns.
    let _ = w.flush();
    let tmp = format!("{}.tmp", snapshot_name(generation));
    let size = snapshot::write_engine(&mem, &tmp, REPLICA, &e).unwrap();
    disk.fail.store(false, SeqCst);
    let digests = workload(&mut e, &w, 10..20);
    assert!(w.install(generation, &tmp, size).is_err());
    w.flush().unwrap();
    let (mut got, rec) = recovered(&mem.crash(|_, _| 0)).unwrap();
    assert!(rec.manifest.snapshot.is_none());
    assert_eq!(got.digest(), *digests.last().unwrap());
}
