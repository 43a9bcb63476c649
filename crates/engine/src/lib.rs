//! Concord's engine: the keyspace of CRDT values and the commands that act on it.
//!
//! Synchronous and deterministic: no sockets, no threads, no wall clock. The caller passes
//! the time in. Every write is turned into ops; local ops and remote ops are applied by the
//! same function, [`Engine::apply`].

mod args;
mod cmd;
mod effects;
mod error;
mod evict;
mod lookup;
mod notify;
mod oplog;
mod stability;
mod sync;
mod table;
mod tracking;

pub use args::Args;
pub use cmd::keys::object_encoding;
pub use cmd::memory::{DEFAULT_SAMPLES as MEMORY_SAMPLES, usage as memory_usage};
pub use cmd::sort::sort_pattern_denial;
pub use cmd::streams::StreamIdMode;
pub use concord_glob::glob_match;
pub use effects::Effects;
pub use error::CmdError;
pub use evict::{EvictConfig, Policy};
pub use notify::NotifyFlags;
pub use oplog::{Held, OpLog};
pub use sync::{Incoming, SnapshotHead, StreamPart};
pub use table::{
    BeginSearch, COMMANDS, ChannelRef, ChannelRole, Channels, CmdStat, CommandId, CommandSpec,
    FindKeys, Flags, GetKeysFn, Handler, KeyFlags, KeyRef, KeyRefs, KeySpec, LATENCY_BUCKETS,
    Rejection, acl_categories, channels, check_subcommand, command_count, command_id,
    find_subcommand, full_name, has_keys, keys, legacy_range, lookup_command, lookup_full_name,
    movable_keys, parent, resolve, resolve_from, spec, subcommand_ids,
};

use concord_crdt::{
    Blob, Ctx, Dot, Hlc, HlcClock, KeyState, Op, OpKind, Origin, ScanMap, Stamp, Ttl, VersionVector,
};
use concord_resp::Out;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What an engine needs to start.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// This instance's id and incarnation.
    pub origin: Origin,
    /// Byte budget of the in-memory op log (the replication backlog).
    pub backlog_bytes: usize,
    /// Timestamps are never issued at or below this (persisted high-water mark).
    pub hlc_floor: Hlc,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            origin: Origin::new(1, 1),
            backlog_bytes: 8 * 1024 * 1024,
            hlc_floor: Hlc(0),
        }
    }
}

/// Counters that INFO reports.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Keys removed by expiry.
    pub expired_keys: u64,
    /// Keys evicted under `maxmemory`.
    pub evicted_keys: u64,
    /// Successful key lookups.
    pub keyspace_hits: u64,
    /// Failed key lookups.
    pub keyspace_misses: u64,
    /// Ops applied that came from this instance.
    pub local_ops: u64,
    /// Ops applied that came from peers.
    pub remote_ops: u64,
}

/// How far ahead of this instance's wall clock a peer's timestamp may be. Clocks that
/// disagree by minutes still replicate (the hybrid clock absorbs it); a clock hours off is
/// refused, so one broken machine cannot drag every timestamp into the future.
pub const MAX_CLOCK_AHEAD_MS: u64 = 60 * 60 * 1000;

/// Keys whose table slots are prefetched together in a bulk pass (stability compaction).
const PREFETCH_KEYS: usize = 16;

/// Slots the set of keys awaiting stability keeps once empty; beyond this it is freed.
const UNSTABLE_KEEP_SLOTS: usize = 4096;

/// A consistent copy of an engine's state, encoded for a peer (full sync).
#[derive(Debug)]
pub struct Snapshot {
    /// Exactly the ops this state reflects.
    pub vv: VersionVector,
    /// The clock's high-water mark when it was taken.
    pub hlc: Hlc,
    /// Keys in it.
    pub keys: u64,
    /// Encoded key states ([`concord_crdt::codec::encode_states`]).
    pub chunks: Vec<Vec<u8>>,
}

/// What changed the state, in apply order, for the append-only file.
#[derive(Debug)]
pub enum Journal {
    /// A group of ops (local or remote) applied together.
    Group(Arc<[Op]>),
    /// A peer's whole state merged in (full sync): its vector, clock and encoded chunks.
    Merge {
        /// The ops the merged state reflects.
        vv: VersionVector,
        /// Its clock's high-water mark.
        hlc: Hlc,
        /// Keys in it.
        keys: u64,
        /// Key states ([`concord_crdt::codec::encode_states`]).
        chunks: Vec<Vec<u8>>,
    },
}

/// Why a recorded change could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A group whose predecessors or dependencies were never applied.
    #[error("ops out of order: a group's dependencies are missing")]
    Gap,
}

/// Whether an op acts on a stream's own parts (entries, ids, groups).
fn is_stream_op(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::XAdd { .. }
            | OpKind::XDel(_)
            | OpKind::XTrim(_)
            | OpKind::XSetId { .. }
            | OpKind::XGroupCreate { .. }
            | OpKind::XGroupSetId(..)
            | OpKind::XGroupAdvance(..)
            | OpKind::XGroupDestroy(_)
    )
}

/// A blocking command that found nothing: the keys it waits on and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The keys whose change may let it proceed.
    pub keys: Vec<Blob>,
    /// How long to wait in milliseconds; 0 waits forever.
    pub timeout_ms: u64,
    /// The command to retry instead of the original (XREAD's `$` resolved).
    pub retry: Option<Vec<bytes::Bytes>>,
}

/// Remembers, per origin, the newest dot that touched `key`.
fn mark(unstable: &mut ScanMap<Vec<Dot>>, key: &[u8], dots: impl Iterator<Item = Dot>) {
    let v = unstable.get_or_insert_with(key, Vec::new);
    for d in dots {
        match v.iter_mut().find(|x| x.origin == d.origin) {
            Some(x) => x.seq = x.seq.max(d.seq),
            None => v.push(d),
        }
    }
}

/// An op's effect as [`Engine::apply_impl`] gets it: borrowed from a kept op, or lent
/// mutably so the state can take its values.
enum Effect<'a> {
    Shared(&'a OpKind),
    Owned(&'a mut OpKind),
}

impl Effect<'_> {
    fn get(&self) -> &OpKind {
        match self {
            Effect::Shared(k) => k,
            Effect::Owned(k) => k,
        }
    }
}

/// The keyspace and everything needed to run commands against it.
pub struct Engine {
    keys: ScanMap<KeyState>,
    /// How many of `keys` hold a value (DBSIZE, INFO keyspace: no walk).
    live: usize,
    /// Keys that have an expiry change, for active expiry sampling.
    expiring: ScanMap<()>,
    origin: Origin,
    clock: HlcClock,
    vv: VersionVector,
    /// The vector ops are stamped with; shared until a remote op changes it.
    deps: Arc<VersionVector>,
    /// A remote op was applied since `deps` was copied: the next local op copies it again.
    deps_stale: bool,
    /// Ops of the command (or transaction) being executed.
    pending: Vec<Op>,
    /// How many ops of the current group were applied without being kept (nobody reads
    /// them: no peers, no append-only file).
    unkept: usize,
    log: OpLog,
    /// Members other than this instance; with none, everything applied is stable.
    peers: usize,
    /// With peers: keys whose state may hold metadata that stability will let go, with
    /// the newest dot per origin that touched them.
    unstable: ScanMap<Vec<Dot>>,
    /// Where the last stability pass stopped.
    compact_cursor: u64,
    /// Wall-clock time of the current call, milliseconds since the epoch.
    wall: u64,
    /// WATCHed keys and the clients watching them.
    watched: HashMap<Blob, Vec<u64>>,
    dirty: HashSet<u64>,
    rng: u64,
    /// Changes not yet taken by the append-only file, when it is on.
    journal: Option<Vec<Journal>>,
    /// No op may be issued any more (the instance is stopping; its files are closed).
    frozen: bool,
    /// Set by a blocking command that found nothing (see [`Engine::take_block`]).
    pub(crate) block: Option<Block>,
    /// Keys that blocked clients wait on, with how many wait on each.
    wanted: HashMap<Blob, usize>,
    /// How XADD chooses and accepts ids.
    pub(crate) stream_ids: cmd::streams::StreamIdMode,
    /// The writes running are an import (a followed Redis primary, `CLIENT IMPORT-SOURCE
    /// ON`): stream ids are taken as given, as Redis's rules take them.
    ids_as_given: bool,
    /// Consumers and pending entries of stream groups on this instance, by key and group.
    pub(crate) groups: HashMap<(Blob, Blob), cmd::streams::LocalGroup>,
    /// Wanted keys that ops touched since the last [`Engine::take_ready`].
    ready: Vec<Blob>,
    /// How keys are evicted under `maxmemory`, and how their use is tracked.
    evict: EvictConfig,
    /// The best eviction candidates sampled so far.
    pool: evict::Pool,
    /// Counters for INFO.
    pub stats: Stats,
    /// Per-command counters, by command id (subcommands have their own).
    pub cmdstats: Vec<CmdStat>,
    /// `notify-keyspace-events` as set.
    notify_flags: NotifyFlags,
    /// The event classes recorded (0: none, the usual case).
    notify_mask: u32,
    /// Events recorded and not yet published.
    events: notify::Events,
    /// The running command only reads: a lookup that finds nothing is a `keymiss`.
    pub(crate) reading: bool,
    /// Some client tracks keys (client-side caching): changed keys are recorded.
    tracking: bool,
    /// Expired keys a read finds are hidden, not deleted (CLIENT PAUSE holds writes).
    expiry_held: bool,
    /// Changed keys recorded and not yet announced.
    modified: tracking::Modified,
    /// A peer's snapshot adopted and not yet merged into every key.
    merging: Option<Box<sync::Merging>>,
    /// A finished merge's staging, for the caller to free outside its lock.
    merged: Option<Box<sync::Merging>>,
    /// A snapshot being streamed to a peer.
    streaming: Option<Box<sync::Streaming>>,
    /// Snapshot streams started (their ids).
    snapshot_streams: u64,
}

impl Engine {
    /// A new, empty engine.
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            keys: ScanMap::new(),
            live: 0,
            expiring: ScanMap::new(),
            origin: cfg.origin,
            clock: HlcClock::new(cfg.hlc_floor),
            vv: VersionVector::new(),
            deps: Arc::new(VersionVector::new()),
            deps_stale: false,
            pending: Vec::new(),
            unkept: 0,
            log: OpLog::new(cfg.backlog_bytes),
            peers: 0,
            unstable: ScanMap::new(),
            compact_cursor: 0,
            wall: 0,
            watched: HashMap::new(),
            dirty: HashSet::new(),
            rng: 0x9E37_79B9_7F4A_7C15 ^ u64::from(cfg.origin.id),
            journal: None,
            frozen: false,
            block: None,
            wanted: HashMap::new(),
            stream_ids: Default::default(),
            ids_as_given: false,
            groups: HashMap::new(),
            ready: Vec::new(),
            evict: EvictConfig::default(),
            pool: evict::Pool::default(),
            stats: Stats::default(),
            cmdstats: vec![CmdStat::default(); table::command_count()],
            notify_flags: NotifyFlags::default(),
            notify_mask: 0,
            events: notify::Events::default(),
            reading: false,
            tracking: false,
            expiry_held: false,
            modified: tracking::Modified::default(),
            merging: None,
            merged: None,
            streaming: None,
            snapshot_streams: 0,
        }
    }

    /// While `held`, a read that finds an expired key hides it instead of deleting it, as
    /// Redis does while CLIENT PAUSE holds writes (a delete is a write).
    pub fn hold_expiry(&mut self, held: bool) {
        self.expiry_held = held;
    }

    /// Sets the wall clock for the calls that follow.
    pub fn set_time(&mut self, wall_ms: u64) {
        self.wall = wall_ms;
    }

    /// "Now" in milliseconds: the hybrid clock's physical part, never behind what was seen.
    pub fn now(&self) -> u64 {
        self.wall.max(self.clock.last().millis())
    }

    /// Sets this instance's origin before it issues any op (after recovery decided the
    /// incarnation).
    pub fn set_origin(&mut self, origin: Origin) {
        debug_assert!(!self.in_group(), "origin changed inside a command");
        self.origin = origin;
    }

    /// This instance's origin.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// What this instance has applied.
    pub fn vv(&self) -> &VersionVector {
        &self.vv
    }

    /// The largest timestamp issued or seen (the high-water mark to persist).
    pub fn hlc(&self) -> Hlc {
        self.clock.last()
    }

    /// The op log (replication backlog).
    pub fn log(&self) -> &OpLog {
        &self.log
    }

    /// The number of keys stored, visible or not.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The number of keys that hold a value, expired ones not yet deleted included (as
    /// Redis's DBSIZE counts them).
    pub fn live_keys(&self) -> usize {
        self.live
    }

    /// [`Engine::live_keys`] counted by walking every key (for tests of the count).
    pub fn count_live_keys(&self) -> usize {
        self.keys.iter().filter(|(_, ks)| ks.has_value()).count()
    }

    /// The number of keys with an expiry.
    pub fn expiring_count(&self) -> usize {
        self.expiring.len()
    }

    /// Sets the number of other members (0 for a lone instance).
    pub fn set_peers(&mut self, n: usize) {
        self.peers = n;
    }

    /// Sets the byte budget of the op log (the replication backlog; 0 keeps none).
    pub fn set_backlog_budget(&mut self, bytes: usize) {
        self.log.set_budget(bytes);
    }

    /// Whether other members exist.
    pub fn has_peers(&self) -> bool {
        self.peers > 0
    }

    /// A pseudo-random number (xorshift; for RANDOMKEY, SPOP and friends).
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Seeds the random source (per instance; random replies are not replicated).
    pub fn seed(&mut self, seed: u64) {
        self.rng = seed | 1;
    }

    /// Issues an op for a local write, applies it, and queues it for the current group.
    ///
    /// A write that would remove a HyperLogLog this instance holds goes after an explicit
    /// removal of it (delete-wins, SEMANTICS.md); a string write of a valid HyperLogLog
    /// representation writes an HyperLogLog instead.
    pub fn emit(&mut self, key: &[u8], kind: OpKind) {
        if self.merging.is_some() {
            self.ensure_merged(key);
        }
        match &kind {
            OpKind::Expire(_) | OpKind::HllDel => return self.issue(key, kind),
            OpKind::FlushAll => {
                // The removals below must see every key, the snapshot's included.
                self.finish_merge();
                self.remove_kept_before_flush();
                return self.issue(key, kind);
            }
            _ => {}
        }
        // One lookup of the key: what of it this write removes.
        let (hll_live, groups): (bool, Vec<Blob>) = match self.keys.get(key) {
            None => (false, Vec::new()),
            Some(ks) => (
                ks.hll.as_ref().is_some_and(|h| h.live),
                match &ks.stream {
                    Some(st) if !is_stream_op(&kind) => st.groups.keys().cloned().collect(),
                    _ => Vec::new(),
                },
            ),
        };
        // A removal of a stream that saw its groups destroys them (delete-wins).
        for n in groups {
            self.groups.remove(&(Blob::from(key), n.clone()));
            self.issue(key, OpKind::XGroupDestroy(n));
        }
        let hll_regs = match &kind {
            OpKind::SetStr(v, _) => concord_crdt::hll::decode_canonical(v),
            _ => None,
        };
        if hll_live && (hll_regs.is_some() || !matches!(kind, OpKind::PfAdd(_))) {
            self.issue(key, OpKind::HllDel);
        }
        match (hll_regs, kind) {
            (Some(regs), OpKind::SetStr(_, ttl)) => {
                self.issue(key, OpKind::PfAdd(regs.nonzero()));
                if let Ttl::Set(at) = ttl {
                    self.issue(key, OpKind::Expire(at));
                }
            }
            (_, kind) => self.issue(key, kind),
        }
    }

    /// Before FLUSHALL: the explicit removals of every HyperLogLog and stream group this
    /// instance holds, so they win over concurrent writes (delete-wins).
    fn remove_kept_before_flush(&mut self) {
        let mut removals: Vec<(Blob, OpKind)> = Vec::new();
        for (k, ks) in self.keys.iter() {
            if let Some(st) = &ks.stream {
                for n in st.groups.keys() {
                    removals.push((k.into(), OpKind::XGroupDestroy(n.clone())));
                }
            }
            if ks.hll.as_ref().is_some_and(|h| h.live) {
                removals.push((k.into(), OpKind::HllDel));
            }
        }
        self.groups.clear();
        for (k, op) in removals {
            self.issue(&k, op);
        }
    }

    fn issue(&mut self, key: &[u8], mut kind: OpKind) {
        debug_assert!(!self.frozen, "an op issued after the files were closed");
        let seq = self.vv.get(self.origin) + 1;
        let ts = self.clock.tick(self.wall);
        let stamp = Stamp::new(Dot::new(self.origin, seq), ts);
        if self.deps_stale {
            self.deps = Arc::new(self.vv.clone());
            self.deps_stale = false;
        }
        let deps = Arc::clone(&self.deps);
        self.stats.local_ops += 1;
        if !self.keeps_ops() {
            // Nobody reads the op after this: no op is built (no copy of the key) and the
            // state takes its values.
            self.apply_at(stamp, &deps, key, Effect::Owned(&mut kind));
            self.log.skip_dot(stamp.dot);
            self.unkept += 1;
            return;
        }
        self.apply_at(stamp, &deps, key, Effect::Shared(&kind));
        self.pending.push(Op {
            stamp,
            deps,
            key: key.into(),
            kind,
        });
    }

    /// How many ops the open group holds (a script's writes show here).
    pub fn pending_ops(&self) -> usize {
        self.pending.len() + self.unkept
    }

    /// Whether a group of local ops is open (a command or transaction issued some).
    fn in_group(&self) -> bool {
        !self.pending.is_empty() || self.unkept > 0
    }

    /// Closes the current group of local ops (one command or one transaction) and logs it
    /// as one indivisible unit. Returns how many ops it held.
    pub fn commit(&mut self) -> usize {
        let unkept = std::mem::take(&mut self.unkept);
        if self.pending.is_empty() {
            if unkept > 0 {
                self.log.skip(&[]);
            }
            return unkept;
        }
        // Whether ops are kept is fixed at start (peers, append-only file), so a group is
        // all kept or all unkept.
        debug_assert_eq!(unkept, 0, "ops kept and unkept in one group");
        let n = self.pending.len();
        self.log.push(&self.pending);
        if let Some(j) = &mut self.journal {
            // Collecting the drained ops keeps `pending`'s buffer for the next command.
            j.push(Journal::Group(self.pending.drain(..).collect()));
        } else {
            self.pending.clear();
        }
        n
    }

    /// Applies a group of ops from a peer, all or nothing. Returns false (and applies
    /// nothing) when the group is not ready: a gap in its origin or unmet dependencies.
    pub fn apply_remote(&mut self, group: &Arc<[Op]>) -> Result<bool, concord_crdt::ClockError> {
        let applied = self.apply_group(group, MAX_CLOCK_AHEAD_MS, self.notifying())?;
        if applied && let Some(j) = &mut self.journal {
            j.push(Journal::Group(Arc::clone(group)));
        }
        Ok(applied)
    }

    /// Applies a group the append-only file recorded. A group already covered is skipped
    /// (returns false); one that does not follow what was applied is an error.
    pub fn replay(&mut self, group: &Arc<[Op]>) -> Result<bool, ReplayError> {
        if group.iter().all(|op| self.vv.contains(&op.dot())) {
            return Ok(false);
        }
        // The clock bound guards against peers; a recorded past is trusted.
        match self.apply_group(group, u64::MAX, false) {
            Ok(true) => Ok(true),
            _ => Err(ReplayError::Gap),
        }
    }

    /// Applies a group whole; `announce`: record the events of its ops (a peer's write,
    /// docs/SEMANTICS.md "Keyspace notifications").
    fn apply_group(
        &mut self,
        group: &Arc<[Op]>,
        bound: u64,
        announce: bool,
    ) -> Result<bool, concord_crdt::ClockError> {
        if !self.group_ready(group) {
            return Ok(false);
        }
        for op in group.iter() {
            self.clock.observe(op.stamp.ts, self.wall, bound)?;
        }
        for op in group.iter() {
            if announce {
                self.apply_announced(op);
            } else {
                self.apply_inner(op);
            }
            if op.dot().origin == self.origin {
                self.stats.local_ops += 1;
            } else {
                self.stats.remote_ops += 1;
            }
        }
        // Local ops from here on depend on it; the vector is copied when one is issued.
        self.deps_stale = true;
        self.log.push(group);
        Ok(true)
    }

    /// Whether every op of `group` can be applied now, in order.
    fn group_ready(&self, group: &[Op]) -> bool {
        let Some(head) = group.first() else {
            return true;
        };
        let o = head.dot().origin;
        if concord_crdt::run_len(group) == group.len() {
            // One origin's ops in sequence (every group a peer sends): each is ready when
            // the first is and their dependencies on other origins are met now; no copy
            // of the vector.
            return head.ready(&self.vv)
                && group[1..]
                    .iter()
                    .all(|op| op.deps.iter().all(|(d, s)| d == o || self.vv.get(d) >= s));
        }
        let mut vv = self.vv.clone();
        for op in group {
            if !op.ready(&vv) {
                return false;
            }
            vv.add(op.dot());
        }
        true
    }

    /// Whether ops live on after they are applied (in the backlog or the append-only file).
    fn keeps_ops(&self) -> bool {
        self.journal.is_some() || !self.log.keeps_nothing()
    }

    /// Applies a peer's op and records its event, then `del` if it emptied the key. A
    /// peer's delete of a key that has expired here is announced as `expired`.
    fn apply_announced(&mut self, op: &Op) {
        if self.merging.is_some() {
            self.ensure_merged(&op.key);
        }
        let now = self.now();
        let (had, had_expiry, expired) =
            self.keys.get(&op.key).map_or((false, false, false), |ks| {
                let had = ks.has_value();
                let at = ks.expires_at().filter(|_| had);
                (had, at.is_some(), at.is_some_and(|at| at <= now))
            });
        self.apply_inner(op);
        if expired && op.kind == OpKind::DelKey {
            self.notify(NotifyFlags::EXPIRED, "expired", &op.key);
        } else if let Some((class, name)) = notify::remote_event(&op.kind, had_expiry) {
            self.notify(class, name, &op.key);
        }
        let has = self.keys.get(&op.key).is_some_and(|ks| ks.has_value());
        if had && !has && op.kind != OpKind::DelKey && op.kind != OpKind::FlushAll {
            self.notify(notify::NotifyFlags::GENERIC, "del", &op.key);
        }
    }

    fn apply_inner(&mut self, op: &Op) {
        debug_assert!(op.ready(&self.vv), "op applied out of causal order");
        self.apply_at(op.stamp, &op.deps, &op.key, Effect::Shared(&op.kind));
    }

    /// The one path that applies an op, local or remote: the op stamped `stamp` (context
    /// `deps`) on `key` with `kind` as its effect (which may be lent apart from any op, so
    /// that the state can take its values).
    fn apply_at(&mut self, stamp: Stamp, deps: &VersionVector, key: &[u8], mut kind: Effect<'_>) {
        let dot = stamp.dot;
        debug_assert_eq!(
            self.vv.get(dot.origin) + 1,
            dot.seq,
            "op applied out of order"
        );
        let ctx = Ctx {
            origin: dot.origin,
            seq: dot.seq,
            deps,
        };
        if *kind.get() == OpKind::FlushAll {
            // Every key changes: a merge or a stream in progress is carried out first.
            self.finish_merge();
            self.stream_rest_at_once();
            self.track_flush();
            self.flush_seen(&ctx);
            self.vv.add(dot);
            return;
        }
        self.vv.add(dot);
        let lone = self.peers == 0;
        let r = if self.evict.policy.lfu() {
            self.random()
        } else {
            0
        };
        let syncing = self.merging.is_some() || self.streaming.is_some();
        if syncing {
            self.ensure_merged(key);
            self.stream_save(key);
        }
        let ks = self.keys.get_or_insert_with(key, KeyState::default);
        let had = ks.has_value();
        let was_expiring = ks.expiry.is_some() && had;
        // "No expiry" on a key that has none (PERSIST with peers, or such a change from a
        // peer) changes nothing a client sees: no WATCH fails, no tracked key is
        // invalidated, as Redis's PERSIST of a key without expiry.
        let unseen = matches!(kind.get(), OpKind::Expire(None)) && ks.expires_at().is_none();
        // Only looked at when `new` events are recorded (one branch otherwise).
        let watch_new = self.notify_mask & NotifyFlags::NEW != 0;
        match &mut kind {
            Effect::Shared(k) => ks.apply(stamp, &ctx, k),
            Effect::Owned(k) => ks.apply_owned(stamp, &ctx, k),
        }
        if lone {
            // Alone, everything applied is stable: fold what this op touched.
            ks.compact_after(&self.vv, kind.get());
        }
        let dead = ks.is_dead();
        if !lone && !dead {
            mark(&mut self.unstable, key, std::iter::once(dot));
        }
        let has = ks.has_value();
        let unseen = unseen && had == has && ks.expires_at().is_none();
        if has {
            // A write is a use, local or from a peer.
            ks.access = self.evict.touched(ks.access, !had, self.wall, r);
        }
        self.live = self.live + usize::from(has) - usize::from(had);
        let expiring = ks.expiry.is_some() && has;
        if watch_new && !had && has {
            self.events.push("new", key);
        }
        if dead {
            self.keys.remove_value(key);
        } else if syncing {
            self.sync_made(key);
        }
        if expiring != was_expiring {
            if expiring {
                self.expiring.insert(key.into(), ());
            } else {
                self.expiring.remove_value(key);
            }
        }
        if !unseen {
            self.touch(key);
            self.track_change(key);
        }
        if !self.wanted.is_empty() && self.wanted.contains_key(key) {
            self.ready.push(key.into());
        }
    }

    /// Sets how XADD chooses and accepts ids (`--stream-id-mode`).
    pub fn set_stream_id_mode(&mut self, mode: cmd::streams::StreamIdMode) {
        self.stream_ids = mode;
    }

    /// Whether the commands that follow are an import, whose stream ids are kept as the
    /// source gave them (set per batch by the caller).
    pub fn set_ids_as_given(&mut self, yes: bool) {
        self.ids_as_given = yes;
    }

    /// Whether stream ids are kept as given (see [`Engine::set_ids_as_given`]).
    pub(crate) fn ids_as_given(&self) -> bool {
        self.ids_as_given
    }

    /// How XADD chooses and accepts ids for the command running.
    pub(crate) fn stream_id_mode(&self) -> cmd::streams::StreamIdMode {
        if self.ids_as_given {
            cmd::streams::StreamIdMode::Liberal
        } else {
            self.stream_ids
        }
    }

    /// Takes what the last command left when it would have blocked.
    pub fn take_block(&mut self) -> Option<Block> {
        self.block.take()
    }

    /// Notes that a blocked client waits on `key`.
    pub fn want(&mut self, key: &[u8]) {
        *self.wanted.entry(key.into()).or_insert(0) += 1;
    }

    /// Undoes one [`Engine::want`].
    pub fn unwant(&mut self, key: &[u8]) {
        if let Some(n) = self.wanted.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.wanted.remove(key);
            }
        }
    }

    /// The wanted keys written since the last call, each once, in the order they changed.
    pub fn take_ready(&mut self) -> Vec<Blob> {
        let mut seen = HashSet::new();
        let mut v = std::mem::take(&mut self.ready);
        v.retain(|k| seen.insert(k.clone()));
        v
    }

    fn flush_seen(&mut self, ctx: &Ctx<'_>) {
        let lone = self.peers == 0;
        let vv = &self.vv;
        let mut touched = Vec::new();
        let watched = &self.watched;
        let unstable = &mut self.unstable;
        let dot = Dot::new(ctx.origin, ctx.seq);
        let mut live = 0;
        self.keys.retain(|k, ks| {
            if ks.has_value() && watched.contains_key(k) {
                touched.push(Blob::from(k));
            }
            ks.remove_seen(ctx);
            if lone {
                ks.compact(vv);
            }
            let dead = ks.is_dead();
            if !lone && !dead {
                mark(unstable, k, std::iter::once(dot));
            }
            live += usize::from(ks.has_value());
            !dead
        });
        self.live = live;
        let keys = &self.keys;
        self.expiring.retain(|k, _| {
            keys.get(k)
                .is_some_and(|ks| ks.expiry.is_some() && ks.has_value())
        });
        for k in touched {
            self.touch(&k);
        }
    }

    /// Stops issuing ops: expired keys stay hidden instead of being deleted. Writes must
    /// be refused by the caller from here on.
    pub fn freeze(&mut self) {
        self.frozen = true;
    }

    /// Starts recording changes for the append-only file.
    pub fn enable_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// Whether changes are recorded.
    pub fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// Takes the changes recorded since the last call, oldest first.
    pub fn take_journal(&mut self) -> Vec<Journal> {
        match &mut self.journal {
            Some(j) if !j.is_empty() => std::mem::take(j),
            _ => Vec::new(),
        }
    }

    /// Whether changes wait to be taken.
    pub fn journal_pending(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.is_empty())
    }

    /// Like [`Engine::take_journal`], keeping the buffer for the next changes.
    pub fn drain_journal(&mut self) -> impl Iterator<Item = Journal> + '_ {
        self.journal.iter_mut().flat_map(|j| j.drain(..))
    }

    /// Iterates over the stored keys (visible or not).
    pub fn raw_keys(&self) -> &ScanMap<KeyState> {
        &self.keys
    }

    /// Registers `client` as watching `key`.
    pub fn watch(&mut self, client: u64, key: &[u8]) {
        let w = self.watched.entry(key.into()).or_default();
        if !w.contains(&client) {
            w.push(client);
        }
    }

    /// Forgets every watch of `client`; returns whether a watched key was touched.
    pub fn unwatch(&mut self, client: u64) -> bool {
        self.watched.retain(|_, w| {
            w.retain(|c| *c != client);
            !w.is_empty()
        });
        self.dirty.remove(&client)
    }

    /// Whether a key `client` watches was modified.
    pub fn is_dirty(&self, client: u64) -> bool {
        self.dirty.contains(&client)
    }

    fn touch(&mut self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(w) = self.watched.get(key) {
            self.dirty.extend(w.iter().copied());
        }
    }

    /// Warms the cache for the keys a pipeline of commands is about to touch: their slots,
    /// then string registers, then string bytes, each step for every key before the next,
    /// so the cache misses of a batch overlap instead of following one another. Only a hint:
    /// nothing changes. Returns, per key, the slot to pass to [`Engine::hint_key`] before
    /// the command on that key runs.
    pub fn prefetch(&self, keys: &[&[u8]]) -> smallvec::SmallVec<[Option<u32>; 32]> {
        let slots = self.keys.prefetch_many(keys.iter().copied());
        for &i in slots.iter().flatten() {
            if let Some(ks) = self.keys.slot_value(i) {
                ks.prefetch_string();
            }
        }
        for &i in slots.iter().flatten() {
            if let Some(ks) = self.keys.slot_value(i) {
                ks.prefetch_string_bytes();
            }
        }
        slots
    }

    /// Prefetches the table slots of keys a peer's ops are about to change, and their
    /// entries in the set of keys awaiting stability. Only a hint: nothing changes.
    pub fn prefetch_remote<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) {
        let keys: smallvec::SmallVec<[&[u8]; 32]> = keys.collect();
        self.keys.prefetch_many(keys.iter().copied());
        self.unstable.prefetch_many(keys.iter().copied());
    }

    /// The next command's key is probably in `slot` (from [`Engine::prefetch`]): its first
    /// lookup tries that slot before hashing.
    pub fn hint_key(&self, slot: u32) {
        self.keys.set_hint(slot);
    }

    /// Runs one data command and writes its reply; its ops join the current group until
    /// [`Engine::commit`]. Returns false for a name it does not handle (connection-level
    /// commands are the caller's).
    pub fn execute(&mut self, args: &[&[u8]], out: &mut Out) -> bool {
        table::execute(self, args, out)
    }

    /// Like [`Engine::execute`] for a command the caller already found and checked.
    pub fn execute_checked(&mut self, spec: &CommandSpec, args: &[&[u8]], out: &mut Out) -> bool {
        table::run_checked(self, spec, args, out)
    }

    /// A digest of the visible dataset: every key, its type, its value as reads show it and
    /// its absolute expiry. Equal on converged instances.
    pub fn digest(&mut self) -> u64 {
        self.finish_merge();
        cmd::server::digest(self)
    }
}
