//! Deterministic simulation: several instances running the real engine and replication
//! logic in one process, over a simulated network that delays, reorders and duplicates
//! messages, cuts links in any shape (one link, asymmetric, partitions), and crashes and
//! restarts instances (half the seeds restart empty, the others from their append-only
//! files and snapshots, with a random part of the last file's tail lost, as an OS crash
//! under `everysec` can). After healing: equal digests everywhere and
//! oracle checks computed independently from the ops that were acknowledged.
//!
//! `CONCORD_SIM_SEEDS=n` runs n seeds (default 40); `CONCORD_SEED=s` replays one;
//! `CONCORD_SIM_TRACE=1` prints what happened (cuts, crashes, recoveries).

use concord_crdt::{Dot, Hlc, OpKind, Origin, VersionVector};
use concord_engine::{Effects, Engine, EngineConfig};
use concord_replication::{Config, Msg, PROTO_MIN, PROTO_VERSION, Replication, Serve};
use concord_resp::Out;
use concord_storage::{
    Fsync, MemDir, Recovery, Writer, WriterConfig, read_manifest, recover, snapshot, snapshot_name,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

#[path = "sim/membership.rs"]
mod membership;
#[path = "sim/oracle.rs"]
mod oracle;

use oracle::check;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One acknowledged local op, as the oracle sees it.
struct Rec {
    dot: Dot,
    ts: Hlc,
    deps: Arc<VersionVector>,
    key: Vec<u8>,
    kind: OpKind,
    lost: bool,
    may_lose: bool,
}

/// A node's files, when the seed runs with persistence.
struct Disk {
    dir: MemDir,
    w: Writer,
}

/// The simulation's end of the after-write path: what a node applied goes to its files
/// (there are no blocked clients, and links poll instead of being woken).
struct SimEffects<'a> {
    disk: Option<&'a Disk>,
}

impl Effects for SimEffects<'_> {
    fn persist(&mut self, e: &mut Engine) -> u64 {
        match self.disk {
            Some(d) if e.journal_pending() => d.w.submit(e.take_journal()),
            _ => 0,
        }
    }
}

impl Node {
    /// Ends a unit of work on this node, as the server does after every batch.
    fn finish(&mut self, appended_before: u64) {
        let mut fx = SimEffects {
            disk: self.disk.as_ref(),
        };
        self.e.finish(appended_before, &mut fx);
    }
}

struct Node {
    id: u16,
    e: Engine,
    disk: Option<Disk>,
    r: Replication,
    alive: bool,
    incarnation: u32,
    skew: i64,
    /// Links this node serves, by the pulling node's index.
    serves: BTreeMap<usize, Serve>,
    next_tick: u64,
}

/// The link on which `down` pulls from `up`; frames in flight each way.
#[derive(Default)]
struct Link {
    connected: bool,
    retry_at: u64,
    pulled_epoch: u64,
    next_report: u64,
    to_up: VecDeque<(u64, Vec<u8>)>,
    to_down: Vec<(u64, u64, Vec<u8>)>,
    last_down: u64,
    seq: u64,
    /// The protocol version of the current connection: links of mixed releases.
    version: u16,
}

struct Sim {
    rng: Rng,
    now: u64,
    nodes: Vec<Node>,
    links: BTreeMap<(usize, usize), Link>,
    /// Directed links (down, up) that are cut.
    cut: BTreeSet<(usize, usize)>,
    recs: Vec<Rec>,
    backlog: usize,
    members: BTreeSet<u16>,
    trace: Vec<String>,
    crashes: usize,
    /// Whether nodes keep files (append-only file + snapshots) across crashes.
    persist: bool,
    /// Every dot ever issued, to catch reuse.
    issued: BTreeSet<Dot>,
    /// Nodes removed from the database (by index): never up again.
    gone: BTreeSet<usize>,
    /// The cuts of removed members, by id.
    removed_cuts: BTreeMap<u16, VersionVector>,
    /// Members removed so far.
    removals: usize,
}

fn writer(dir: &MemDir, id: u16, rec: &Recovery) -> Writer {
    Writer::start(
        Arc::new(dir.clone()),
        WriterConfig {
            appendonly: true,
            fsync: Fsync::No,
            replica: id,
            rewrite_percentage: 0,
            rewrite_min_size: 0,
        },
        rec.manifest.clone(),
        &rec.aof_bytes,
        Box::new(|_| {}),
    )
    .expect("writer")
}

fn new_node(
    id: u16,
    incarnation: u32,
    members: &BTreeSet<u16>,
    removed: &BTreeMap<u16, VersionVector>,
    backlog: usize,
    skew: i64,
    now: u64,
) -> Node {
    let mut e = Engine::new(EngineConfig {
        origin: Origin::new(id, incarnation),
        backlog_bytes: backlog,
        hlc_floor: Hlc::new(0, 0),
    });
    e.set_peers(members.len() - 1);
    e.seed(u64::from(id) * 7919 + u64::from(incarnation));
    let mut cfg = Config::new(id, members.clone(), "sim");
    cfg.removed = removed.clone();
    cfg.snapshot_keys_per_chunk = 3;
    cfg.compact = std::env::var("CONCORD_SIM_NO_COMPACT").is_err();
    Node {
        id,
        e,
        disk: None,
        r: Replication::new(cfg),
        alive: true,
        incarnation,
        skew,
        serves: BTreeMap::new(),
        next_tick: now,
    }
}

impl Sim {
    fn new(seed: u64, n: usize) -> Sim {
        let mut rng = Rng(seed);
        let members: BTreeSet<u16> = (1..=n as u16).collect();
        let backlog = [2_000, 20_000, 1 << 20][rng.below(3) as usize];
        let nodes = (0..n)
            .map(|i| {
                // Clocks disagree by up to ten minutes.
                let skew = rng.below(600_000) as i64 - 300_000;
                new_node(
                    i as u16 + 1,
                    1,
                    &members,
                    &BTreeMap::new(),
                    backlog,
                    skew,
                    0,
                )
            })
            .collect();
        let mut links = BTreeMap::new();
        for d in 0..n {
            for u in 0..n {
                if d != u {
                    links.insert((d, u), Link::default());
                }
            }
        }
        Sim {
            rng,
            now: 1_000_000,
            nodes,
            links,
            cut: BTreeSet::new(),
            recs: Vec::new(),
            backlog,
            members,
            trace: Vec::new(),
            crashes: 0,
            persist: false,
            issued: BTreeSet::new(),
            gone: BTreeSet::new(),
            removed_cuts: BTreeMap::new(),
            removals: 0,
        }
    }

    /// Gives every node files.
    fn with_persistence(mut self) -> Sim {
        self.persist = true;
        for n in &mut self.nodes {
            let dir = MemDir::new();
            let rec = recover(&dir, n.id, &mut n.e, &mut |_| {}).expect("empty recovery");
            n.e.enable_journal();
            n.disk = Some(Disk {
                w: writer(&dir, n.id, &rec),
                dir,
            });
        }
        self
    }

    /// Hands what nodes applied to their files; now and then takes a snapshot.
    fn journal(&mut self) {
        let snapshot = self.rng.chance(1);
        for n in &mut self.nodes {
            let (true, Some(d)) = (n.alive, &n.disk) else {
                continue;
            };
            let j = n.e.take_journal();
            if !j.is_empty() {
                d.w.submit(j);
            }
            if snapshot {
                // As the server does before SAVE and BGSAVE: a snapshot of a merge half
                // carried out would claim the peer's ops without their effects.
                n.e.finish_merge();
                let generation = d.w.rotate();
                let tmp = format!("{}.tmp", snapshot_name(generation));
                let size = snapshot::write_engine(&d.dir, &tmp, n.id, &n.e).expect("snapshot");
                d.w.install(generation, &tmp, size).expect("install");
            }
        }
    }

    fn wall(&self, i: usize) -> u64 {
        (self.now as i64 + self.nodes[i].skew) as u64
    }

    fn disconnect(&mut self, d: usize, u: usize) {
        let l = self.links.get_mut(&(d, u)).expect("link");
        if !l.connected {
            return;
        }
        l.connected = false;
        l.to_up.clear();
        l.to_down.clear();
        l.retry_at = self.now + 50 + self.rng.below(200);
        let up_id = self.nodes[u].id;
        self.nodes[d].r.link_down(up_id);
        if let Some(serve) = self.nodes[u].serves.remove(&d) {
            // As the server does when a served link ends.
            for id in serve.streams() {
                self.nodes[u].e.stream_cancel(id);
            }
        }
    }

    fn send_up(&mut self, d: usize, u: usize, m: &Msg) {
        let mut buf = Vec::new();
        let version = self.links[&(d, u)].version;
        m.encode(version, self.rng.chance(50), &mut buf);
        let delay = 1 + self.rng.below(20);
        let l = self.links.get_mut(&(d, u)).expect("link");
        let at = l.to_up.back().map_or(0, |x| x.0).max(self.now + delay);
        l.to_up.push_back((at, buf));
    }

    fn send_down(&mut self, d: usize, u: usize, m: &Msg) {
        let mut buf = Vec::new();
        let version = self.links[&(d, u)].version;
        m.encode(version, self.rng.chance(50), &mut buf);
        let delay = 1 + self.rng.below(20);
        let reorder = matches!(m, Msg::Ops(_)) && self.rng.chance(10);
        let dup = matches!(m, Msg::Ops(_)) && self.rng.chance(5);
        let now = self.now;
        let extra = self.rng.below(200);
        let l = self.links.get_mut(&(d, u)).expect("link");
        let at = if reorder {
            now + delay + extra
        } else {
            l.last_down.max(now + delay)
        };
        if !reorder {
            l.last_down = at;
        }
        l.seq += 1;
        if dup {
            l.to_down.push((at + extra, l.seq, buf.clone()));
            l.seq += 1;
        }
        l.to_down.push((at, l.seq, buf));
    }

    /// Runs one command (or a MULTI of several) on node `i` and records its ops.
    fn run_local(&mut self, i: usize, cmds: Vec<Vec<Vec<u8>>>) {
        let wall = self.wall(i);
        let node = &mut self.nodes[i];
        node.e.set_time(wall);
        let start = node.e.log().end_position();
        let appended = node.e.log().appended();
        let mut out = Out::new();
        for c in &cmds {
            let args: Vec<&[u8]> = c.iter().map(|a| &a[..]).collect();
            assert!(node.e.execute(&args, &mut out), "command runs");
        }
        node.finish(appended);
        self.record(i, start);
    }

    /// Records the local ops node `i` logged since position `start`.
    fn record(&mut self, i: usize, start: u64) {
        let node = &self.nodes[i];
        let end = node.e.log().end_position();
        assert!(
            start >= node.e.log().first_position(),
            "recorded before trimming"
        );
        for pos in start..end {
            let g = node.e.log().at(pos).expect("held").decode();
            for op in g.iter() {
                assert_eq!(
                    op.dot().origin,
                    node.e.origin(),
                    "only local ops appear here"
                );
                assert!(
                    self.issued.insert(op.dot()),
                    "dot {:?} issued twice",
                    op.dot()
                );
                self.recs.push(Rec {
                    dot: op.dot(),
                    ts: op.stamp.ts,
                    deps: Arc::clone(&op.deps),
                    key: op.key.to_vec(),
                    kind: op.kind.clone(),
                    lost: false,
                    may_lose: false,
                });
            }
        }
    }

    fn workload(&mut self) {
        // A restarted instance takes writes once it caught up with its peers (the server
        // holds writes until then).
        let alive: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.nodes[i].r.caught_up())
            .collect();
        if alive.is_empty() {
            return;
        }
        let i = alive[self.rng.below(alive.len() as u64) as usize];
        let n = if self.rng.chance(10) {
            2 + self.rng.below(3)
        } else {
            1
        };
        let mut cmds = Vec::new();
        for _ in 0..n {
            cmds.push(self.random_command());
        }
        self.run_local(i, cmds);
    }

    fn random_command(&mut self) -> Vec<Vec<u8>> {
        let r = &mut self.rng;
        let k = r.below(3);
        let m = format!("m{}", r.below(5));
        let v = format!("{}", r.below(1000));
        let s = |x: &str| x.as_bytes().to_vec();
        let k2 = r.below(3);
        let c: Vec<String> = match r.below(135) {
            0..=11 => vec![
                "INCRBY".into(),
                format!("c{k}"),
                format!("{}", r.below(20) as i64 - 5),
            ],
            12..=13 => vec!["SET".into(), format!("c{k}"), v],
            14 => vec!["DEL".into(), format!("c{k}")],
            15..=29 => vec!["SADD".into(), format!("s{k}"), m],
            30..=37 => vec!["SREM".into(), format!("s{k}"), m],
            38..=39 => vec!["DEL".into(), format!("s{k}")],
            40..=49 => vec!["SET".into(), format!("k{k}"), v],
            50..=52 => vec!["DEL".into(), format!("k{k}")],
            53..=59 => vec!["HSET".into(), format!("h{k}"), m, v],
            60..=63 => vec!["HINCRBY".into(), format!("h{k}"), m, "3".into()],
            64..=66 => vec!["HDEL".into(), format!("h{k}"), m],
            67..=73 => vec!["ZADD".into(), format!("z{k}"), v, m],
            74..=78 => vec!["ZINCRBY".into(), format!("z{k}"), "1.5".into(), m],
            79..=81 => vec!["ZREM".into(), format!("z{k}"), m],
            82..=85 => vec![
                "SET".into(),
                format!("e{k}"),
                v,
                "PX".into(),
                format!("{}", 50 + r.below(3000)),
            ],
            86..=88 => vec![
                "PEXPIRE".into(),
                format!("s{k}"),
                format!("{}", 100 + r.below(5000)),
            ],
            89..=90 => vec!["PERSIST".into(), format!("s{k}")],
            91..=93 => vec!["APPEND".into(), format!("k{k}"), v],
            94..=96 => vec!["INCRBYFLOAT".into(), format!("f{k}"), "0.25".into()],
            97..=98 => vec!["GET".into(), format!("e{k}")],
            100..=104 => vec!["RPUSH".into(), format!("l{k}"), v, m],
            105..=107 => vec!["LPUSH".into(), format!("l{k}"), m],
            108..=110 => vec!["LPOP".into(), format!("l{k}")],
            111 => vec!["RPOP".into(), format!("l{k}"), "2".into()],
            112..=113 => vec!["LINSERT".into(), format!("l{k}"), "BEFORE".into(), m, v],
            114 => vec!["LSET".into(), format!("l{k}"), "-1".into(), v],
            115 => vec!["LREM".into(), format!("l{k}"), "0".into(), m],
            116 => vec!["LTRIM".into(), format!("l{k}"), "0".into(), "5".into()],
            117 => vec![
                "LMOVE".into(),
                format!("l{k}"),
                format!("l{k2}"),
                "LEFT".into(),
                "RIGHT".into(),
            ],
            118 => vec!["RPOPLPUSH".into(), format!("l{k}"), format!("l{k2}")],
            119 => vec!["DEL".into(), format!("l{k}")],
            120..=122 => vec!["PFADD".into(), format!("p{k}"), m, v],
            123 => vec!["PFMERGE".into(), format!("p{k}"), format!("p{k2}")],
            124 => vec!["DEL".into(), format!("p{k}")],
            125 => vec!["SET".into(), format!("p{k}"), v],
            126..=127 => vec!["XADD".into(), format!("x{k}"), "*".into(), m, v],
            128 => vec!["XADD".into(), format!("x{k}"), v.clone(), "f".into(), v],
            129 => vec!["XTRIM".into(), format!("x{k}"), "MAXLEN".into(), "3".into()],
            130 => vec!["DEL".into(), format!("x{k}")],
            131 => vec![
                "XGROUP".into(),
                "CREATE".into(),
                format!("x{k}"),
                "g".into(),
                "0".into(),
                "MKSTREAM".into(),
            ],
            132..=133 => vec![
                "XREADGROUP".into(),
                "GROUP".into(),
                "g".into(),
                "c".into(),
                "COUNT".into(),
                "2".into(),
                "STREAMS".into(),
                format!("x{k}"),
                ">".into(),
            ],
            134 => vec![
                "XGROUP".into(),
                "DESTROY".into(),
                format!("x{k}"),
                "g".into(),
            ],
            _ => vec!["FLUSHALL".into()],
        };
        c.iter().map(|x| s(x)).collect()
    }

    fn crash(&mut self, i: usize) {
        self.trace
            .push(format!("t={} crash node {}", self.now, i + 1));
        self.journal();
        self.nodes[i].alive = false;
        if let Some(d) = self.nodes[i].disk.take() {
            // Everything submitted reaches the (simulated) page cache; the crash keeps a
            // random prefix of the last file's unsynced tail, cut anywhere.
            d.w.flush().expect("flush");
            let m = read_manifest(&d.dir).expect("manifest").expect("some");
            let last = m.aofs.last().expect("an aof").clone();
            let mut bytes = d.dir.bytes(&last).expect("aof bytes");
            let lose = self.rng.below(600) as usize;
            let keep = bytes.len().saturating_sub(lose).max(16);
            bytes.truncate(keep);
            let img = d.dir.crash(|_, _| 0);
            img.set_bytes(&last, bytes);
            self.trace.push(format!("  lost {lose} bytes of {last}"));
            self.nodes[i].disk = Some(Disk { dir: img, w: d.w });
        }
        self.crashes += 1;
        let n = self.nodes.len();
        for j in 0..n {
            if j != i {
                self.disconnect(i, j);
                self.disconnect(j, i);
            }
        }
        // Ops that no other live instance holds are gone with it (no persistence).
        let others: Vec<&VersionVector> = (0..n)
            .filter(|&j| j != i && self.nodes[j].alive)
            .map(|j| self.nodes[j].e.vv())
            .collect();
        // An op no other live instance has applied may be lost with this one (unless an
        // inbox or a message in flight still holds it): the final vectors tell.
        for r in &mut self.recs {
            if !others.iter().any(|vv| vv.contains(&r.dot)) {
                r.may_lose = true;
            }
        }
    }

    fn restart(&mut self, i: usize) {
        self.trace
            .push(format!("t={} restart node {}", self.now, i + 1));
        let old = &self.nodes[i];
        let mut node = new_node(
            old.id,
            old.incarnation + 1,
            &self.members,
            &self.removed_cuts,
            self.backlog,
            old.skew,
            self.now,
        );
        if let Some(d) = self.nodes[i].disk.take() {
            drop(d.w);
            node.e.set_time(self.wall(i));
            let rec = recover(&d.dir, node.id, &mut node.e, &mut |_| {})
                .unwrap_or_else(|e| panic!("recovery of node {}: {e}", i + 1));
            self.trace.push(format!(
                "  recovered {} keys + {} groups, vv {}",
                rec.snapshot_keys,
                rec.groups,
                node.e.vv()
            ));
            node.e.enable_journal();
            node.disk = Some(Disk {
                w: writer(&d.dir, node.id, &rec),
                dir: d.dir,
            });
        }
        self.nodes[i] = node;
    }

    /// Connects, delivers, serves, pulls again and reports on every link; ticks nodes.
    fn network(&mut self) {
        let keys: Vec<(usize, usize)> = self.links.keys().copied().collect();
        for (d, u) in keys {
            let up = self.nodes[d].alive && self.nodes[u].alive && !self.cut.contains(&(d, u));
            let connected = self.links[&(d, u)].connected;
            if !up {
                self.disconnect(d, u);
                if self.nodes[d].alive {
                    // The server notes every failed connection attempt the same way.
                    let up_id = self.nodes[u].id;
                    self.nodes[d].r.link_down(up_id);
                }
                continue;
            }
            if !connected {
                if self.now < self.links[&(d, u)].retry_at {
                    continue;
                }
                let version =
                    PROTO_MIN + self.rng.below(u64::from(PROTO_VERSION - PROTO_MIN) + 1) as u16;
                let l = self.links.get_mut(&(d, u)).expect("link");
                l.connected = true;
                l.last_down = 0;
                l.version = version;
                let up_id = self.nodes[u].id;
                let down_id = self.nodes[d].id;
                self.nodes[u].serves.insert(d, Serve::new(down_id, version));
                let node = &mut self.nodes[d];
                let m = node.r.pull(&node.e, up_id, version);
                let epoch = node.r.epoch();
                self.links.get_mut(&(d, u)).expect("link").pulled_epoch = epoch;
                self.send_up(d, u, &m);
            }
            self.deliver(d, u);
            if !self.links[&(d, u)].connected {
                continue;
            }
            // Serve.
            let now = self.wall(u);
            let node = &mut self.nodes[u];
            let Some(mut serve) = node.serves.remove(&d) else {
                continue;
            };
            let budget = 200 + self.rng.below(4000) as usize;
            let msgs = node.r.serve(&mut node.e, &mut serve, budget, now);
            self.nodes[u].serves.insert(d, serve);
            for m in &msgs {
                self.send_down(d, u, m);
            }
            // Pull again, report.
            let up_id = self.nodes[u].id;
            let node = &mut self.nodes[d];
            let pulled = self.links[&(d, u)].pulled_epoch;
            if node.r.needs_pull(up_id, pulled) {
                let m = node.r.repull(&node.e, up_id);
                let epoch = node.r.epoch();
                self.links.get_mut(&(d, u)).expect("link").pulled_epoch = epoch;
                self.send_up(d, u, &m);
            }
            if self.now >= self.links[&(d, u)].next_report {
                let m = self.nodes[d].r.report(&self.nodes[d].e);
                self.links.get_mut(&(d, u)).expect("link").next_report = self.now + 50;
                self.send_up(d, u, &m);
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].alive && self.now >= self.nodes[i].next_tick {
                let wall = self.wall(i);
                let node = &mut self.nodes[i];
                node.e.set_time(wall);
                let start = node.e.log().end_position();
                let appended = node.e.log().appended();
                node.e.active_expire(20);
                node.finish(appended);
                // A full sync's merge goes on in slices between everything else.
                let budget = 1 + self.rng.below(8) as usize;
                let node = &mut self.nodes[i];
                let appended = node.e.log().appended();
                node.e.merge_step(budget);
                node.finish(appended);
                self.record(i, start);
                let node = &mut self.nodes[i];
                let appended = node.e.log().appended();
                node.r.tick(&node.e, wall);
                node.r.compact(&mut node.e, 50_000);
                node.finish(appended);
                node.next_tick = self.now + 100;
            }
        }
    }

    fn deliver(&mut self, d: usize, u: usize) {
        // Requests to the serving side, in order.
        loop {
            let l = self.links.get_mut(&(d, u)).expect("link");
            match l.to_up.front() {
                Some((at, _)) if *at <= self.now => {}
                _ => break,
            }
            let (_, buf) = l.to_up.pop_front().expect("front");
            let (msg, used) = Msg::decode(&buf, l.version)
                .expect("decodes")
                .expect("whole frame");
            assert_eq!(used, buf.len());
            let node = &mut self.nodes[u];
            let Some(mut serve) = node.serves.remove(&d) else {
                return;
            };
            let r = node.r.serve_request(&mut serve, msg);
            node.serves.insert(d, serve);
            if let Err(e) = r {
                panic!("serving side refused a request: {e}");
            }
        }
        // Stream to the pulling side: due frames by time, then by send order.
        let l = self.links.get_mut(&(d, u)).expect("link");
        l.to_down.sort_by_key(|(at, seq, _)| (*at, *seq));
        let due = l
            .to_down
            .iter()
            .take_while(|(at, _, _)| *at <= self.now)
            .count();
        let frames: Vec<Vec<u8>> = l.to_down.drain(..due).map(|(_, _, b)| b).collect();
        let version = l.version;
        for buf in frames {
            let (msg, _) = Msg::decode(&buf, version)
                .expect("decodes")
                .expect("whole frame");
            let wall = self.wall(d);
            let up_id = self.nodes[u].id;
            let node = &mut self.nodes[d];
            node.e.set_time(wall);
            let appended = node.e.log().appended();
            let received = node.r.receive(&mut node.e, up_id, msg, wall);
            node.finish(appended);
            if let Err(e) = received {
                // A real link is dropped and reconnected; do the same.
                self.trace.push(format!(
                    "t={} link {}<-{} dropped: {e}",
                    self.now,
                    d + 1,
                    u + 1
                ));
                self.disconnect(d, u);
                return;
            }
        }
    }

    fn dump(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            s += &format!(
                "node {} alive={} vv={} waiting={} epoch={}\n",
                n.id,
                n.alive,
                n.e.vv(),
                n.r.waiting_ops(),
                n.r.epoch()
            );
            for (id, p) in n.r.peers() {
                s += &format!(
                    "   peer {id}: {:?} full={} partial={} up_vv={}\n",
                    p.state, p.full_syncs, p.partial_syncs, p.upstream_vv
                );
            }
        }
        for ((d, u), l) in &self.links {
            s += &format!(
                "link {}<-{} connected={} pulled_epoch={} up={} down={}\n",
                d + 1,
                u + 1,
                l.connected,
                l.pulled_epoch,
                l.to_up.len(),
                l.to_down.len()
            );
        }
        s
    }

    fn converged(&self) -> bool {
        // Equal vectors mean every instance applied the same ops; heartbeats and reports
        // keep flowing, so links are never quiet.
        let vv0 = self.nodes[0].e.vv();
        self.nodes
            .iter()
            .enumerate()
            .all(|(i, n)| self.gone.contains(&i) || (n.alive && n.e.vv() == vv0))
    }

    /// Runs the network until every instance applied the same ops (10 simulated minutes at
    /// most).
    fn settle(&mut self, after: &str) {
        let deadline = self.now + 600_000;
        while !self.converged() {
            assert!(
                self.now < deadline,
                "no convergence after {after}:\n{}",
                self.dump()
            );
            self.now += 5;
            self.network();
        }
        for n in self.nodes.iter().filter(|n| n.alive) {
            assert_eq!(n.e.live_keys(), n.e.count_live_keys(), "the key count");
        }
    }

    fn random_partition(&mut self) {
        let n = self.nodes.len();
        self.cut.clear();
        match self.rng.below(5) {
            0 => {}
            1 => {
                // One link down both ways (A–C while A–B and B–C are up).
                let a = self.rng.below(n as u64) as usize;
                let c = (a + 1 + self.rng.below(n as u64 - 1) as usize) % n;
                self.cut.insert((a, c));
                self.cut.insert((c, a));
            }
            2 => {
                // Asymmetric: one direction only.
                let a = self.rng.below(n as u64) as usize;
                let c = (a + 1 + self.rng.below(n as u64 - 1) as usize) % n;
                self.cut.insert((a, c));
            }
            3 => {
                // Two sides.
                let side: Vec<bool> = (0..n).map(|_| self.rng.chance(50)).collect();
                for a in 0..n {
                    for c in 0..n {
                        if a != c && side[a] != side[c] {
                            self.cut.insert((a, c));
                        }
                    }
                }
            }
            _ => {
                for a in 0..n {
                    for c in 0..n {
                        if a != c && self.rng.chance(30) {
                            self.cut.insert((a, c));
                        }
                    }
                }
            }
        }
        self.trace
            .push(format!("t={} cut {:?}", self.now, self.cut));
    }

    /// Runs `steps` steps of writes, cuts, crashes and restarts, then heals. With
    /// `membership`, a member is removed after the first third and one added after the
    /// second.
    fn run(&mut self, steps: usize, membership: bool) {
        for step in 0..steps {
            if membership && step >= steps / 3 && self.removals == 0 && step % 50 == 0 {
                self.remove_one();
            }
            if membership && step == steps * 2 / 3 {
                self.add_one();
            }
            self.now += 1 + self.rng.below(5);
            if self.rng.chance(60) {
                self.workload();
            }
            if step % 400 == 0 {
                self.random_partition();
            }
            if self.rng.below(1500) == 0 && std::env::var("CONCORD_SIM_NO_CRASH").is_err() {
                let i = self.rng.below(self.nodes.len() as u64) as usize;
                if self.nodes[i].alive && self.nodes.iter().filter(|n| n.alive).count() > 1 {
                    self.crash(i);
                }
            }
            for i in 0..self.nodes.len() {
                if !self.nodes[i].alive && !self.gone.contains(&i) && self.rng.below(300) == 0 {
                    self.restart(i);
                }
            }
            self.network();
            if self.persist {
                self.journal();
            }
        }
        // Heal: everything up, no cuts, no more writes; run until quiet.
        self.cut.clear();
        for i in 0..self.nodes.len() {
            if !self.nodes[i].alive && !self.gone.contains(&i) {
                self.restart(i);
            }
        }
        self.settle("healing");
        // Let reports flow so stability compaction runs too, and let every clock (skewed up
        // to 5 minutes) pass every expiry (up to 5 s) so the owners delete what expired.
        for _ in 0..700 {
            self.now += 1000;
            self.network();
        }
        self.settle("expiry");
        for (i, n) in self.nodes.iter().enumerate() {
            if self.gone.contains(&i) {
                continue;
            }
            assert_eq!(n.r.waiting_ops(), 0, "the inbox keeps nothing forever");
            if self.removals > 0 && std::env::var("CONCORD_SIM_NO_COMPACT").is_err() {
                assert_eq!(
                    n.e.unstable_count(),
                    0,
                    "node {}: with the removed member gone, every member's metadata is collected",
                    i + 1
                );
            }
            // Up to the cut (less only when a crash lost what one survivor alone held).
            for (id, cut) in &self.removed_cuts {
                assert!(
                    cut.covers(&concord_replication::only(n.e.vv(), *id)),
                    "node {} holds the removed member {id}'s ops past its cut {cut}: {}",
                    i + 1,
                    n.e.vv()
                );
                if self.crashes == 0 {
                    assert_eq!(&concord_replication::only(n.e.vv(), *id), cut);
                }
            }
        }
    }
}

fn run_seed(seed: u64) {
    let n = 3 + (seed % 3) as usize;
    let mut sim = Sim::new(seed, n);
    // Half the seeds keep files across crashes; the others restart empty.
    if seed.is_multiple_of(2) {
        sim = sim.with_persistence();
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // A quarter of the seeds change membership on the way.
        sim.run(3000, seed % 4 == 1);
        check(&mut sim, seed);
    }));
    if std::env::var("CONCORD_SIM_TRACE").is_ok() {
        for t in &sim.trace {
            eprintln!("  {t}");
        }
    }
    if let Err(p) = result {
        eprintln!("simulation failed: replay with CONCORD_SEED={seed}");
        for t in sim.trace.iter().rev().take(20).rev() {
            eprintln!("  {t}");
        }
        std::panic::resume_unwind(p);
    }
}

#[test]
fn simulated_databases_converge() {
    if let Ok(s) = std::env::var("CONCORD_SEED") {
        run_seed(s.parse().expect("CONCORD_SEED is a number"));
        return;
    }
    let seeds: u64 = std::env::var("CONCORD_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for i in 0..seeds {
        run_seed(base.wrapping_mul(1000).wrapping_add(i));
    }
}
