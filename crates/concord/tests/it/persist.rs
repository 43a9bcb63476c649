//! Durability with real processes: kill -9 under a mixed write load, torn and damaged
//! files, `concord check-aof`, and restarts of a whole database from its files.

use crate::cluster::Cluster;
use crate::support::{Conn, Reply, TempDir, concord_bin, concord_on, free_port, wait_for};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a client saw acknowledged.
#[derive(Default)]
struct Acked {
    /// Indexes i whose write was acknowledged (see [`write`]).
    done: Vec<u64>,
    /// Acknowledged INCRs of `cnt`.
    incrs: u64,
}

/// The i-th write of the load: every type, a transaction now and then.
fn write(k: &mut Conn, i: u64) -> Reply {
    let s = i.to_string();
    match i % 6 {
        0 => k.cmd(&["SET", &format!("k{i}"), &s]),
        1 => k.cmd(&["INCR", "cnt"]),
        2 => k.cmd(&["SADD", "set", &s]),
        3 => k.cmd(&["HSET", "hash", &format!("f{i}"), &s]),
        4 => k.cmd(&["ZADD", "zset", &s, &format!("m{i}")]),
        _ => {
            k.cmd(&["MULTI"]);
            k.cmd(&["SET", &format!("k{i}"), &s]);
            k.cmd(&["SADD", "set", &s]);
            k.cmd(&["EXEC"])
        }
    }
}

/// Whether write i is visible through `k`.
fn present(k: &mut Conn, i: u64) -> bool {
    let s = i.to_string();
    match i % 6 {
        0 | 5 => k.cmd(&["GET", &format!("k{i}")]) == Reply::Bulk(s.into_bytes()),
        1 => true,
        2 => k.cmd(&["SISMEMBER", "set", &s]) == Reply::Int(1),
        3 => k.cmd(&["HEXISTS", "hash", &format!("f{i}")]) == Reply::Int(1),
        _ => k.cmd(&["ZSCORE", "zset", &format!("m{i}")]) != Reply::Nil,
    }
}

/// Writes to `port` until the connection fails or `stop`; records what was acknowledged.
fn load(port: u16, stop: Arc<AtomicBool>, acked: Arc<Mutex<Acked>>, made: Arc<AtomicU64>) {
    let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    drop(stream);
    let mut k = Conn::open(port);
    let mut i = 0u64;
    while !stop.load(Ordering::Acquire) && i < 1_000_000 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(&mut k, i)));
        match r {
            Ok(Reply::Error(e)) => panic!("write {i} failed: {e}"),
            Ok(_) => {
                let mut a = acked.lock().unwrap();
                a.done.push(i);
                if i % 6 == 1 {
                    a.incrs += 1;
                }
                made.fetch_add(1, Ordering::Relaxed);
            }
            // The server was killed under us.
            Err(_) => return,
        }
        i += 1;
    }
}

fn int(r: Reply) -> i64 {
    match r {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).parse().unwrap_or(-1),
        Reply::Nil => 0,
        r => panic!("not a number: {r}"),
    }
}

fn info_field(port: u16, section: &str, name: &str) -> String {
    let info = match Conn::open(port).cmd(&["INFO", section]) {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        r => panic!("INFO: {r}"),
    };
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
        .to_string()
}

/// Runs the load on instance 0 until it made `n` writes, then kills it with SIGKILL (or,
/// without `kill`, stops the load).
fn kill_under_load(c: &mut Cluster, n: u64, rewrite: bool, kill: bool) -> Acked {
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let made = Arc::new(AtomicU64::new(0));
    let port = c.ports[0];
    let t = {
        let (stop, acked, made) = (stop.clone(), acked.clone(), made.clone());
        std::thread::spawn(move || load(port, stop, acked, made))
    };
    wait_for(60, "half of the load", || {
        made.load(Ordering::Relaxed) >= n / 2
    });
    if rewrite {
        // A rewrite in the middle of the load: the files rotate under writers.
        let r = Conn::open(port).cmd(&["BGREWRITEAOF"]);
        assert!(!matches!(r, Reply::Error(_)), "{r}");
    }
    wait_for(60, "the load", || made.load(Ordering::Relaxed) >= n);
    if kill {
        c.kill(0);
    } else {
        stop.store(true, Ordering::Release);
    }
    t.join().expect("load thread");
    stop.store(true, Ordering::Release);
    Arc::try_unwrap(acked)
        .ok()
        .expect("one owner")
        .into_inner()
        .unwrap()
}

#[test]
fn with_always_every_acknowledged_write_survives_kill_9() {
    acknowledged_writes_survive_kill_9("always");
}

#[test]
fn with_everysec_a_killed_process_loses_at_most_a_second_of_writes() {
    acknowledged_writes_survive_kill_9("everysec");
}

fn acknowledged_writes_survive_kill_9(fsync: &str) {
    let mut c = Cluster::start(
        3,
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            fsync,
            "--auto-aof-rewrite-min-size",
            "64kb",
        ],
    );
    // Instance 1 alone keeps only what its own files hold: its peers cannot give
    // anything back on restart.
    c.isolate(0);
    let started = Instant::now();
    let acked = kill_under_load(&mut c, 1500, true, true);
    let rate = acked.done.len() as f64 / started.elapsed().as_secs_f64();
    c.restart(0);
    let mut k = c.conn(0);
    let missing: Vec<u64> = acked
        .done
        .iter()
        .copied()
        .filter(|&i| !present(&mut k, i))
        .collect();
    let cnt = int(k.cmd(&["GET", "cnt"]));
    if fsync == "always" {
        assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
        // The write in flight at the kill may or may not have landed.
        assert!(
            cnt == acked.incrs as i64 || cnt == acked.incrs as i64 + 1,
            "cnt {cnt}, acknowledged INCRs {}",
            acked.incrs
        );
    } else {
        // A killed process loses what it had not yet handed to the OS: at most about the
        // last second (in practice nothing, the writer hands over at once).
        assert!(
            (missing.len() as f64) <= rate * 1.5,
            "{} acknowledged writes lost at {rate:.0} writes/s",
            missing.len()
        );
        eprintln!(
            "everysec: {} of {} acknowledged writes missing",
            missing.len(),
            acked.done.len()
        );
    }
    assert_eq!(info_field(c.ports[0], "crdt", "crdt_full_syncs"), "0");
    assert!(info_field(c.ports[0], "persistence", "concord_last_load_groups") != "0");
    // Back with its peers: everything converges. The restarted instance catches up by
    // partial sync; its peers may need a full sync from it, since what it wrote alone
    // before its last rewrite is in its snapshot, no longer in its backlog.
    c.rejoin(0);
    c.converged(60);
    assert_eq!(c.field(0, "crdt_full_syncs"), "0");
}

#[test]
fn a_lost_tail_comes_back_from_peers_without_reusing_dots() {
    let mut c = Cluster::start(3, &["--appendonly", "yes", "--appendfsync", "everysec"]);
    let acked = kill_under_load(&mut c, 1200, false, false);
    let before = c.converged(60);
    c.kill(0);
    // What an OS crash with everysec can do: the last records never reached the disk.
    let dir = c.dir(0);
    let manifest = std::fs::read_to_string(dir.join("concord.manifest")).expect("manifest");
    let aof = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("aof "))
        .next_back()
        .expect("an aof in the manifest");
    let path = dir.join(aof);
    let len = std::fs::metadata(&path).expect("aof").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open aof");
    f.set_len(len - 2000.min(len / 2)).expect("truncate");
    drop(f);
    let vv_before = c.field(1, "crdt_vv");
    c.restart(0);
    assert_ne!(
        info_field(
            c.ports[0],
            "persistence",
            "concord_last_load_truncated_bytes"
        ),
        "0",
        "the cut record was noticed"
    );
    c.converged(60);
    // Nothing was lost from the database, nothing applied twice, and the restarted
    // instance got its lost ops back from the peers' backlogs (no full sync).
    let mut k = c.conn(0);
    for &i in acked.done.iter().rev().take(200) {
        assert!(present(&mut k, i), "write {i} missing after rejoin");
    }
    assert_eq!(
        int(k.cmd(&["GET", "cnt"])),
        int(c.conn(1).cmd(&["GET", "cnt"]))
    );
    for i in 0..3 {
        assert_eq!(c.field(i, "crdt_full_syncs"), "0", "instance {}", i + 1);
    }
    assert_eq!(
        c.field(1, "crdt_vv"),
        vv_before,
        "no new dots from the replay"
    );
    // Its next write is a new incarnation: no dot of the old one is issued again.
    k.cmd(&["SET", "after", "restart"]);
    let after = c.converged(60);
    let vv = c.field(2, "crdt_vv");
    assert_eq!(
        vv.matches("1.").count(),
        2,
        "two incarnations of replica 1 in {vv}"
    );
    eprintln!("before {before}\nafter {after}");
}

#[test]
fn a_whole_database_restarted_from_its_files_shows_the_same_data() {
    let mut c = Cluster::start(3, &["--appendonly", "yes", "--appendfsync", "everysec"]);
    for i in 0..3 {
        let mut k = c.conn(i);
        for j in 0..200u64 {
            write(&mut k, j * 3 + i as u64);
        }
        k.cmd(&["PEXPIRE", "hash", "3600000"]);
    }
    c.conn(1).cmd(&["BGSAVE"]);
    wait_for(20, "BGSAVE", || {
        info_field(c.ports[1], "persistence", "rdb_bgsave_in_progress") == "0"
            && info_field(c.ports[1], "persistence", "rdb_saves") == "1"
    });
    c.conn(2).cmd(&["DEL", "set"]);
    c.converged(60);
    let digest = c.conn(0).cmd(&["CRDT.DIGEST"]);
    let vv = c.field(0, "crdt_vv");
    let inc: Vec<String> = (0..3).map(|i| c.field(i, "crdt_incarnation")).collect();
    // Two clean stops and one kill.
    c.stop(0);
    c.stop(1);
    c.kill(2);
    for i in 0..3 {
        c.restart(i);
    }
    c.wait_linked();
    c.converged(60);
    for i in 0..3 {
        assert_eq!(
            c.conn(i).cmd(&["CRDT.DIGEST"]),
            digest,
            "instance {}",
            i + 1
        );
        assert_eq!(c.field(i, "crdt_vv"), vv, "instance {}", i + 1);
    }
    // A clean stop keeps the incarnation; the killed one takes a new one.
    assert_eq!(c.field(0, "crdt_incarnation"), inc[0]);
    assert_eq!(c.field(1, "crdt_incarnation"), inc[1]);
    assert_ne!(c.field(2, "crdt_incarnation"), inc[2]);
}

fn single(dir: &std::path::Path) -> crate::support::Proc {
    single_with(dir, &[])
}

fn single_with(dir: &std::path::Path, extra: &[&str]) -> crate::support::Proc {
    let mut args: Vec<String> = vec!["--appendonly".into(), "yes".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    for _ in 0..5 {
        if let Some(p) = concord_on(free_port(), dir, &args) {
            return p;
        }
    }
    panic!("could not start");
}

/// Bytes of Concord's files in `dir`.
fn files_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("concord."))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn shutdown_stops_cleanly_and_a_restart_keeps_data_and_incarnation() {
    let dir = TempDir::new("shutdown");
    let mut p = single(&dir.0);
    let mut k = Conn::open(p.port);
    k.cmd(&["SET", "a", "1"]);
    k.cmd(&["INCRBY", "n", "5"]);
    let inc = info_field(p.port, "crdt", "crdt_incarnation");
    assert_eq!(
        k.cmd(&["SHUTDOWN", "ABORT"]),
        Reply::Error("ERR No shutdown in progress.".into())
    );
    assert!(matches!(
        k.cmd(&["SHUTDOWN", "SAVE", "NOSAVE"]),
        Reply::Error(_)
    ));
    k.send_raw(&Conn::encode(&[b"SHUTDOWN".to_vec(), b"SAVE".to_vec()]));
    assert!(
        k.try_read().is_none(),
        "SHUTDOWN closes the connection without a reply"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.exited() {
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let record = std::fs::read_to_string(dir.0.join("concord-incarnation")).unwrap();
    assert!(record.contains("clean"), "{record}");
    let p = single(&dir.0);
    let mut k = Conn::open(p.port);
    assert_eq!(k.cmd(&["GET", "a"]), Reply::Bulk(b"1".to_vec()));
    assert_eq!(k.cmd(&["GET", "n"]), Reply::Bulk(b"5".to_vec()));
    assert_eq!(info_field(p.port, "crdt", "crdt_incarnation"), inc);
    assert_eq!(
        info_field(p.port, "persistence", "rdb_last_load_keys_loaded"),
        "2"
    );
}

#[test]
fn automatic_rewrites_keep_the_files_bounded() {
    let dir = TempDir::new("rewrite");
    let p = single_with(
        &dir.0,
        &[
            "--auto-aof-rewrite-min-size",
            "256kb",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut k = Conn::open(p.port);
    let value = "v".repeat(200);
    // The same 1000 keys written 30 times: about 7 MB of ops for 250 kB of state.
    for round in 0..30 {
        for i in 0..1000 {
            k.send_raw(&Conn::encode(&[
                b"SET".to_vec(),
                format!("key:{i}").into_bytes(),
                format!("{round}{value}").into_bytes(),
            ]));
        }
        for _ in 0..1000 {
            k.read();
        }
    }
    // Rewrites run one at a time and start on a 100 ms tick, so a fast writer can get
    // ahead of them; once writing stops, they bring the files back under the bound.
    let mut size = 0;
    wait_for(30, "rewrites bringing the files under 1.5 MB", || {
        size = files_size(&dir.0);
        info_field(p.port, "persistence", "aof_rewrites") != "0"
            && info_field(p.port, "persistence", "aof_rewrite_in_progress") == "0"
            && size < 1_500_000
    });
    eprintln!("files hold {size} bytes for 250 kB of state");
    drop(k);
    drop(p);
    let p = single(&dir.0);
    let mut k = Conn::open(p.port);
    assert_eq!(k.cmd(&["DBSIZE"]), Reply::Int(1000));
    assert_eq!(
        k.cmd(&["GET", "key:7"]),
        Reply::Bulk(format!("29{value}").into_bytes())
    );
}

#[test]
fn torn_and_damaged_files_are_cut_or_refused_and_check_aof_repairs() {
    let dir = TempDir::new("aof");
    let mut p = single(&dir.0);
    let mut k = Conn::open(p.port);
    for i in 0..100 {
        k.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    p.stop();
    let aof = dir.0.join("concord.1.aof");
    let good = std::fs::read(&aof).expect("aof");
    // A torn tail: cut at start, with a log line and the count in INFO.
    let mut torn = good.clone();
    torn.extend_from_slice(&[7, 0, 0]);
    std::fs::write(&aof, &torn).unwrap();
    let p = single(&dir.0);
    assert_eq!(Conn::open(p.port).cmd(&["DBSIZE"]), Reply::Int(100));
    assert_eq!(
        info_field(p.port, "persistence", "concord_last_load_truncated_bytes"),
        "3"
    );
    drop(p);
    // Damage in the middle: the start stops and names the file and the offset.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&aof, &bad).unwrap();
    let out = Command::new(concord_bin())
        .args([
            "server",
            "--port",
            &free_port().to_string(),
            "--appendonly",
            "yes",
            "--dir",
        ])
        .arg(&dir.0)
        .output()
        .expect("run concord");
    assert!(!out.status.success(), "started on a damaged file");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("concord.1.aof") && err.contains("offset"),
        "{err}"
    );
    let check = |fix: bool| {
        let mut c = Command::new(concord_bin());
        c.arg("check-aof").arg("--dir").arg(&dir.0);
        if fix {
            c.arg("--fix");
        }
        c.output().expect("check-aof")
    };
    let found = check(false);
    assert!(!found.status.success());
    assert!(String::from_utf8_lossy(&found.stdout).contains("offset"));
    assert!(check(true).status.success());
    assert!(check(false).status.success());
    let p = single(&dir.0);
    let n = match Conn::open(p.port).cmd(&["DBSIZE"]) {
        Reply::Int(n) => n,
        r => panic!("{r}"),
    };
    assert!(n > 0 && n < 100, "the good prefix is kept: {n} keys");
}

#[test]
fn snapshots_do_not_stop_serving() {
    let dir = TempDir::new("bgsave");
    let p = single(&dir.0);
    let mut k = Conn::open(p.port);
    let value = "x".repeat(100);
    for i in 0..20_000 {
        k.send_raw(&Conn::encode(&[
            b"SET".to_vec(),
            format!("key:{i}").into_bytes(),
            value.clone().into_bytes(),
        ]));
    }
    for _ in 0..20_000 {
        k.read();
    }
    assert_eq!(
        k.cmd(&["BGSAVE"]),
        Reply::Status("Background saving started".into())
    );
    // A second one while the first runs is refused, SCHEDULE queues it.
    let again = k.cmd(&["BGSAVE"]);
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    while info_field(p.port, "persistence", "rdb_saves") != "1" {
        let t = Instant::now();
        assert_eq!(k.cmd(&["PING"]), Reply::Status("PONG".into()));
        worst = worst.max(t.elapsed());
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "BGSAVE never finished"
        );
    }
    eprintln!("longest PING during BGSAVE: {worst:?}; second BGSAVE: {again}");
    assert_eq!(
        info_field(p.port, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    let last = match k.cmd(&["LASTSAVE"]) {
        Reply::Int(n) => n,
        r => panic!("{r}"),
    };
    assert!(last > 1_700_000_000);
    assert_eq!(k.cmd(&["SAVE"]), Reply::Status("OK".into()));
    drop(k);
    drop(p);
    // kill -9 after the snapshot: everything comes back from snapshot + tail.
    let p = single(&dir.0);
    assert_eq!(Conn::open(p.port).cmd(&["DBSIZE"]), Reply::Int(20_000));
}
