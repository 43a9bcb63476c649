//! Membership of a running database, at the instance level (CRDT.MEMBER, CRDT.WRITES,
//! CRDT.FLUSH), while clients write: a member added, one removed after its last writes
//! reached the others, one removed while it is down for good (compaction resumes), and
//! an admin flush. The manager drives the same commands; these tests check them alone.

use crate::cluster::writer;
use crate::support::{Conn, Proc, Reply, TempDir, concord_on, free_port, seed, wait_for};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Instances of one database started by hand, by index (replica id = index + 1).
struct Db {
    ports: Vec<u16>,
    procs: Vec<Option<Proc>>,
    dir: TempDir,
}

impl Db {
    fn new() -> Db {
        Db {
            ports: Vec::new(),
            procs: Vec::new(),
            dir: TempDir::new("members"),
        }
    }

    /// Starts instance `ports.len() + 1` with every earlier instance in `peers` as a peer.
    fn start(&mut self, peers: &[usize]) -> usize {
        let i = self.ports.len();
        let dir = self.dir.0.join(format!("n{i}"));
        std::fs::create_dir_all(&dir).expect("dir");
        for _ in 0..5 {
            let port = free_port();
            let mut args = vec![
                "--replica-id".to_string(),
                (i + 1).to_string(),
                "--db-name".into(),
                "members".into(),
            ];
            for &j in peers {
                args.push("--peer".into());
                args.push(format!("{}=127.0.0.1:{}", j + 1, self.ports[j]));
            }
            if let Some(p) = concord_on(port, &dir, &args) {
                self.ports.push(port);
                self.procs.push(Some(p));
                return i;
            }
        }
        panic!("could not start instance {}", i + 1);
    }

    /// A random writer on each of `set`; each must see every write succeed.
    fn writers(
        &self,
        set: &[usize],
        seed: u64,
        stop: &Arc<AtomicBool>,
    ) -> Vec<std::thread::JoinHandle<u64>> {
        set.iter()
            .enumerate()
            .map(|(k, &i)| writer(self.ports[i], seed + k as u64, stop.clone()))
            .collect()
    }

    fn conn(&self, i: usize) -> Conn {
        Conn::open(self.ports[i])
    }

    fn cmd(&self, i: usize, args: &[&str]) -> Reply {
        self.conn(i).cmd(args)
    }

    /// A bulk reply as text; panics on anything else.
    fn text(&self, i: usize, args: &[&str]) -> String {
        match self.cmd(i, args) {
            Reply::Bulk(b) => String::from_utf8(b).expect("utf-8"),
            r => panic!("{args:?} on instance {}: {r}", i + 1),
        }
    }

    fn field(&self, i: usize, name: &str) -> String {
        let info = self.text(i, &["INFO", "crdt"]);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in INFO"))
            .to_string()
    }

    /// This instance's vector, parsed.
    fn vv(&self, i: usize) -> Vec<(String, u64)> {
        parse_vv(&self.field(i, "crdt_vv"))
    }

    /// Waits until instances `set` applied the same ops and show the same data.
    fn converged(&self, set: &[usize], secs: u64) {
        let mut last = String::new();
        wait_for(secs, "convergence", || {
            let vvs: Vec<String> = set.iter().map(|&i| self.field(i, "crdt_vv")).collect();
            let digests: Vec<Reply> = set.iter().map(|&i| self.cmd(i, &["CRDT.DIGEST"])).collect();
            last = format!("{vvs:?}");
            vvs.iter().all(|v| *v == vvs[0]) && digests.iter().all(|d| *d == digests[0])
        });
    }

    /// Removes instance `gone` from `survivors`: fence on each, then raise each to the
    /// largest fenced cut. Returns the cut.
    fn remove(&self, gone: usize, survivors: &[usize]) -> String {
        let id = (gone + 1).to_string();
        let mut cut: Vec<(String, u64)> = Vec::new();
        for &i in survivors {
            let fenced = self.text(i, &["CRDT.MEMBER", "REMOVE", &id]);
            cut = join(&cut, &parse_vv(&fenced));
        }
        let cut = show_vv(&cut);
        for &i in survivors {
            assert_eq!(self.text(i, &["CRDT.MEMBER", "REMOVE", &id, &cut]), cut);
        }
        cut
    }
}

fn parse_vv(s: &str) -> Vec<(String, u64)> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (o, n) = p.split_once('=').expect("origin=seq");
            (o.to_string(), n.parse().expect("seq"))
        })
        .collect()
}

fn show_vv(v: &[(String, u64)]) -> String {
    let mut v = v.to_vec();
    v.sort_by(|a, b| {
        let key = |o: &str| -> (u32, u32) {
            let (i, n) = o.split_once('.').expect("id.incarnation");
            (i.parse().expect("id"), n.parse().expect("incarnation"))
        };
        key(&a.0).cmp(&key(&b.0))
    });
    v.iter()
        .map(|(o, n)| format!("{o}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn join(a: &[(String, u64)], b: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut out = a.to_vec();
    for (o, n) in b {
        match out.iter_mut().find(|(p, _)| p == o) {
            Some(e) => e.1 = e.1.max(*n),
            None => out.push((o.clone(), *n)),
        }
    }
    out
}

fn covers(big: &[(String, u64)], small: &[(String, u64)]) -> bool {
    small
        .iter()
        .all(|(o, n)| big.iter().any(|(p, m)| p == o && m >= n))
}

#[test]
fn a_member_joins_and_another_leaves_while_clients_write() {
    let seed = seed();
    eprintln!("seed {seed}");
    let mut db = Db::new();
    let a = db.start(&[]);
    let b = db.start(&[a]);
    // A lone instance becomes a member of a two-instance database at runtime.
    let b_addr = format!("127.0.0.1:{}", db.ports[b]);
    assert_eq!(db.text(a, &["CRDT.MEMBER", "ADD", "2", &b_addr]), "added");
    db.converged(&[a, b], 20);
    let stop = Arc::new(AtomicBool::new(false));
    let writers = db.writers(&[a, b], seed, &stop);
    // A third instance: started empty with both as peers, then added on both.
    let c = db.start(&[a, b]);
    let c_addr = format!("127.0.0.1:{}", db.ports[c]);
    for i in [a, b] {
        assert_eq!(db.text(i, &["CRDT.MEMBER", "ADD", "3", &c_addr]), "added");
        assert_eq!(
            db.text(i, &["CRDT.MEMBER", "ADD", "3", &c_addr]),
            "unchanged",
            "adding again changes nothing"
        );
    }
    wait_for(30, "the new instance caught up", || {
        covers(&db.vv(c), &db.vv(a)) && db.field(c, "crdt_peers") == "2"
    });
    assert_eq!(
        db.cmd(c, &["SET", "from-c", "1"]),
        Reply::Status("OK".into())
    );
    wait_for(10, "C's write on A", || {
        db.cmd(a, &["GET", "from-c"]) == Reply::Bulk(b"1".to_vec())
    });
    // C leaves: it refuses writes, everything it holds reaches A and B, then both fence it.
    let last = parse_vv(&db.text(c, &["CRDT.MEMBER", "LEAVE"]));
    match db.cmd(c, &["SET", "late", "1"]) {
        Reply::Error(e) => assert!(e.starts_with("READONLY"), "{e}"),
        r => panic!("a leaving instance took a write: {r}"),
    }
    assert_eq!(db.field(c, "crdt_writes"), "leaving");
    wait_for(20, "C's writes on A and B", || {
        covers(&db.vv(a), &last) && covers(&db.vv(b), &last)
    });
    let cut = db.remove(c, &[a, b]);
    let own: Vec<(String, u64)> = last
        .iter()
        .filter(|(o, _)| o.starts_with("3."))
        .cloned()
        .collect();
    assert_eq!(parse_vv(&cut), own, "the cut is what C had written");
    stop.store(true, Ordering::Release);
    let total: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    db.converged(&[a, b], 60);
    eprintln!("converged after {total} writes, C removed at {cut}");
    for i in [a, b] {
        assert_eq!(db.field(i, "crdt_removed"), format!("3:{cut}"));
        assert_eq!(db.field(i, "crdt_peers"), "1");
        assert_eq!(db.cmd(i, &["GET", "from-c"]), Reply::Bulk(b"1".to_vec()));
        // C can no longer link, so its state does not come back.
        let list = db.text(i, &["CRDT.MEMBER", "LIST"]);
        assert!(!list.contains("peer:3="), "{list}");
        match db.cmd(i, &["CRDT.MEMBER", "ADD", "3", &c_addr]) {
            Reply::Error(e) => assert!(e.contains("needs a new id"), "{e}"),
            r => panic!("a removed id came back: {r}"),
        }
    }
    wait_for(20, "metadata collected on A and B", || {
        db.field(a, "crdt_unstable_keys") == "0" && db.field(b, "crdt_unstable_keys") == "0"
    });
}

#[test]
fn a_member_down_for_good_is_removed_and_compaction_resumes() {
    let mut db = Db::new();
    let a = db.start(&[]);
    let b = db.start(&[a]);
    let c = db.start(&[a, b]);
    for (i, ids) in [(a, [(2, b), (3, c)]), (b, [(1, a), (3, c)])] {
        for (id, j) in ids {
            let addr = format!("127.0.0.1:{}", db.ports[j]);
            db.text(i, &["CRDT.MEMBER", "ADD", &id.to_string(), &addr]);
        }
    }
    db.converged(&[a, b, c], 20);
    db.procs[c] = None;
    // Removals on A: their metadata waits for every member, C included.
    for k in 0..50 {
        let key = format!("s{k}");
        db.cmd(a, &["SADD", &key, "x", "y"]);
        db.cmd(a, &["SREM", &key, "x"]);
        db.cmd(a, &["RPUSH", &format!("l{k}"), "1", "2"]);
        db.cmd(a, &["LPOP", &format!("l{k}")]);
    }
    db.converged(&[a, b], 20);
    let held: u64 = db.field(a, "crdt_unstable_keys").parse().expect("count");
    assert!(held > 0, "C being down holds metadata back");
    let cut = db.remove(c, &[a, b]);
    wait_for(20, "compaction on A and B", || {
        db.field(a, "crdt_unstable_keys") == "0" && db.field(b, "crdt_unstable_keys") == "0"
    });
    db.converged(&[a, b], 20);
    assert_eq!(db.field(a, "crdt_removed"), format!("3:{cut}"));
}

#[test]
fn an_admin_flush_clears_every_instance_while_clients_write() {
    let seed = seed();
    let mut db = Db::new();
    let a = db.start(&[]);
    let b = db.start(&[a]);
    let addr = format!("127.0.0.1:{}", db.ports[b]);
    db.text(a, &["CRDT.MEMBER", "ADD", "2", &addr]);
    for k in 0..100 {
        db.cmd(a, &["SET", &format!("old{k}"), "x"]);
        db.cmd(b, &["SADD", &format!("oldset{k}"), "x"]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers = db.writers(&[a, b], seed, &stop);
    // Without a hold, CRDT.FLUSH is refused.
    match db.cmd(a, &["CRDT.FLUSH"]) {
        Reply::Error(e) => assert!(e.contains("needs writes held"), "{e}"),
        r => panic!("{r}"),
    }
    let mut want = Vec::new();
    for i in [a, b] {
        want = join(
            &want,
            &parse_vv(&db.text(i, &["CRDT.WRITES", "HOLD", "10000"])),
        );
    }
    wait_for(20, "A holds every write made before the hold", || {
        covers(&db.vv(a), &want)
    });
    let flushed = parse_vv(&db.text(a, &["CRDT.FLUSH"]));
    wait_for(20, "B applied the flush", || covers(&db.vv(b), &flushed));
    // Every key written before the hold is gone everywhere (a write that slipped past the
    // hold as it began survives, everywhere alike, as a write right after the flush).
    let mut old = vec!["EXISTS".to_string()];
    for k in 0..100 {
        old.push(format!("old{k}"));
        old.push(format!("oldset{k}"));
    }
    let old: Vec<&str> = old.iter().map(String::as_str).collect();
    for i in [a, b] {
        assert_eq!(db.field(i, "crdt_writes"), "held");
        assert_eq!(db.cmd(i, &old), Reply::Int(0), "instance {}", i + 1);
        assert_eq!(
            db.cmd(i, &["CRDT.WRITES", "RELEASE"]),
            Reply::Status("OK".into())
        );
        assert_eq!(db.field(i, "crdt_writes"), "open");
    }
    stop.store(true, Ordering::Release);
    let total: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    db.converged(&[a, b], 30);
    eprintln!("flushed with {total} writes around it");
    for i in [a, b] {
        assert_eq!(db.cmd(i, &old), Reply::Int(0));
    }
}
