//! Concord's replication, without I/O: what a link sends and what it does with what it
//! receives. The server drives it over TCP; the simulator drives it over a simulated
//! network. Both call the same functions, so the simulation tests the real logic.
//!
//! Each instance keeps one outbound link per peer and *pulls* over it ("send me every op
//! you hold that my vector does not cover"); the peer *serves* that link from its op log
//! (partial sync) or from a consistent snapshot (full sync). Ops are applied only in causal
//! order; the ones that arrive early wait in a bounded inbox. When an origin's ops do not
//! arrive directly, other peers are asked to relay them.

mod inbox;
mod members;
mod own_writes;
pub mod proto;
mod serve;

pub use inbox::Inbox;
pub use members::{MemberError, only};
pub use proto::{Msg, PROTO_MIN, PROTO_VERSION, ProtoError, negotiate, state_format};

use concord_crdt::{Blob, ClockError, Hlc, Origin, ReplicaId, VersionVector};
use concord_engine::{Engine, Incoming, StreamPart};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Groups of a batch whose keys are prefetched together before they are applied.
const PREFETCH_GROUPS: usize = 16;

/// How long a new instance waits for one link's sync before pulling on the others too
/// (a peer that accepted the link and then hung must not hold it back for ever).
pub const ONE_SYNC_MS: u64 = 30_000;

/// How replication behaves on one instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// This instance's replica id.
    pub me: ReplicaId,
    /// Every member's replica id, this instance's included.
    pub members: BTreeSet<ReplicaId>,
    /// Removed members and their cuts: their ops are accepted only up to the cut.
    pub removed: BTreeMap<ReplicaId, VersionVector>,
    /// The database's name: links between different databases are refused.
    pub db: String,
    /// An op that waits this long for a dependency makes its missing origins relayed.
    pub stall_ms: u64,
    /// How long an origin stays relayed after the last reason to.
    pub relay_hold_ms: u64,
    /// Ops the inbox holds at most.
    pub inbox_ops: usize,
    /// Keys per full-sync chunk.
    pub snapshot_keys_per_chunk: usize,
    /// Heartbeat period of a served link.
    pub heartbeat_ms: u64,
    /// Whether stable metadata is collected (off only to diagnose).
    pub compact: bool,
    /// The newest peer protocol version links may use (older during a rolling upgrade).
    pub protocol: u16,
}

impl Config {
    /// A configuration with defaults for the tunables.
    pub fn new(me: ReplicaId, members: BTreeSet<ReplicaId>, db: &str) -> Self {
        Config {
            me,
            members,
            removed: BTreeMap::new(),
            db: db.to_string(),
            stall_ms: 1_000,
            relay_hold_ms: 10_000,
            inbox_ops: 1_000_000,
            snapshot_keys_per_chunk: 1_024,
            protocol: PROTO_VERSION,
            heartbeat_ms: 100,
            compact: true,
        }
    }
}

/// Why a link is dropped.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The peer sent something the protocol does not allow here.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// An op from a replica that is not a member of this database.
    #[error("op from unknown replica {0}")]
    UnknownReplica(ReplicaId),
    /// An op whose timestamp is too far ahead of this instance's clock.
    #[error("{0}")]
    Clock(#[from] ClockError),
}

/// The state of this instance's outbound link to one peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected (yet, or since a failure).
    Down,
    /// Connected, pulled, waiting for the first answer.
    Connecting,
    /// Receiving a full-sync snapshot.
    FullSync,
    /// Streaming ops.
    Up,
    /// Replication paused on this instance.
    Paused,
}

impl LinkState {
    /// The name INFO shows.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Down => "down",
            LinkState::Connecting => "connecting",
            LinkState::FullSync => "full_sync",
            LinkState::Up => "up",
            LinkState::Paused => "paused",
        }
    }
}

/// What this instance knows of one peer.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The outbound link's state.
    pub state: LinkState,
    /// Bytes received on the outbound link.
    pub bytes_in: u64,
    /// Bytes sent to the peer (both links).
    pub bytes_out: u64,
    /// Full syncs received from the peer.
    pub full_syncs: u64,
    /// Partial syncs received from the peer.
    pub partial_syncs: u64,
    /// Full syncs served to the peer.
    pub full_syncs_served: u64,
    /// Partial syncs served to the peer.
    pub partial_syncs_served: u64,
    /// The peer's vector from its last heartbeat.
    pub upstream_vv: VersionVector,
    /// Since when (ms) this instance is known to be behind the peer's own ops.
    pub behind_since: Option<u64>,
    /// The peer's last report of what it applied.
    pub report: Option<VersionVector>,
    /// Link failures seen: attempts that failed and links that were lost.
    pub link_errors: u64,
    /// Why the last attempt to link failed (empty once a link is up).
    pub last_error: String,
    /// Whether this instance has caught up with the peer once (or found it unreachable).
    pub settled: bool,
    /// Whether this instance has caught up with the peer once: a heartbeat showed that
    /// it holds every op of the origins it asked the peer for.
    pub synced: bool,
    /// The origins last asked of the peer.
    pub asked: Vec<ReplicaId>,
    /// When the link's first pull went out (ms).
    pub pulled_at: u64,
    /// The outbound link's protocol version (0 while it is down).
    pub protocol: u16,
}

impl Peer {
    fn new() -> Self {
        Peer {
            state: LinkState::Down,
            bytes_in: 0,
            bytes_out: 0,
            full_syncs: 0,
            partial_syncs: 0,
            full_syncs_served: 0,
            partial_syncs_served: 0,
            upstream_vv: VersionVector::new(),
            behind_since: None,
            report: None,
            link_errors: 0,
            last_error: String::new(),
            settled: false,
            synced: false,
            asked: Vec::new(),
            pulled_at: 0,
            protocol: 0,
        }
    }
}

/// A full sync being received: chunks are staged here; at the end the engine adopts the
/// merge and carries it out while it keeps serving.
struct Staging {
    vv: VersionVector,
    hlc: Hlc,
    keys: u64,
    incoming: Incoming,
}

/// The serving side of one link: what the downstream asked for and what it was sent.
#[derive(Debug)]
pub struct Serve {
    /// The peer being served.
    pub peer: ReplicaId,
    /// The link's protocol version, from the handshake.
    pub version: u16,
    origins: BTreeSet<ReplicaId>,
    /// What the peer has applied plus what it was sent since.
    sent: VersionVector,
    /// Absolute log position of the next group to look at.
    cursor: u64,
    /// Messages of a full sync still to send.
    queue: VecDeque<Msg>,
    /// The engine's snapshot stream this link sends, while it runs.
    stream: Option<u64>,
    /// A stream this link no longer wants, to end at the next serve.
    dropped: Option<u64>,
    pulled: bool,
    last_heartbeat: Option<u64>,
    /// Whether a sync was counted on this link already.
    counted: bool,
    /// The peer's current origin, from its pull: its ops are never sent back to it.
    me: Option<Origin>,
}

impl Serve {
    /// The engine's snapshot streams this link started and did not end: the caller
    /// cancels them ([`Engine::stream_cancel`]) when the link goes away.
    pub fn streams(&self) -> impl Iterator<Item = u64> + use<> {
        self.stream.into_iter().chain(self.dropped)
    }

    /// A link from `peer` at protocol `version` that has not pulled yet.
    pub fn new(peer: ReplicaId, version: u16) -> Self {
        assert!((PROTO_MIN..=PROTO_VERSION).contains(&version));
        Serve {
            peer,
            version,
            origins: BTreeSet::new(),
            sent: VersionVector::new(),
            cursor: 0,
            queue: VecDeque::new(),
            stream: None,
            dropped: None,
            pulled: false,
            last_heartbeat: None,
            counted: false,
            me: None,
        }
    }
}

/// What receiving a message produced for the caller.
#[derive(Debug, Default)]
pub struct Received {
    /// Ops applied (this message and the waiting ones it released).
    pub applied: usize,
    /// A publish to deliver to local subscribers.
    pub publish: Option<(Blob, Blob)>,
}

/// One instance's replication state.
pub struct Replication {
    cfg: Config,
    inbox: Inbox,
    peers: BTreeMap<ReplicaId, Peer>,
    /// Origins other peers are asked to relay, until when (ms).
    relay: BTreeMap<ReplicaId, u64>,
    /// Replica ids some peer has more ops of than this instance, since when (ms).
    missing: BTreeMap<ReplicaId, u64>,
    staging: BTreeMap<ReplicaId, Staging>,
    paused: bool,
    /// Changes whenever the origins wanted on some link change: links pull again.
    epoch: u64,
    /// Set when the inbox dropped ops: links pull again.
    repull: bool,
    /// When this instance's own ops were made (for how long a peer has lacked them).
    own: own_writes::OwnWrites,
}

impl Replication {
    /// Replication for the instance `cfg.me` of a database of `cfg.members`.
    pub fn new(cfg: Config) -> Self {
        let peers = cfg
            .members
            .iter()
            .filter(|&&m| m != cfg.me)
            .map(|&m| (m, Peer::new()))
            .collect();
        Replication {
            inbox: Inbox::new(cfg.inbox_ops),
            cfg,
            peers,
            relay: BTreeMap::new(),
            missing: BTreeMap::new(),
            staging: BTreeMap::new(),
            paused: false,
            epoch: 0,
            repull: false,
            own: own_writes::OwnWrites::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The peers and what is known of them, by id.
    pub fn peers(&self) -> &BTreeMap<ReplicaId, Peer> {
        &self.peers
    }

    /// Ops waiting for their dependencies.
    pub fn waiting_ops(&self) -> usize {
        self.inbox.len()
    }

    /// Whether replication is paused (CRDT.SYNC PAUSE).
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Pauses or resumes replication; links are dropped while paused.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        for p in self.peers.values_mut() {
            p.state = if paused {
                LinkState::Paused
            } else {
                LinkState::Down
            };
        }
        self.staging.clear();
        self.epoch += 1;
    }

    /// Changes whenever links should pull again (the wanted origins changed, or the inbox
    /// had to drop ops).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether the outbound link to `peer`, last pulled at `pulled_epoch`, should pull
    /// again now. Only a streaming link does: a pull during a full sync would restart it.
    pub fn needs_pull(&self, peer: ReplicaId, pulled_epoch: u64) -> bool {
        pulled_epoch != self.epoch
            && self
                .peers
                .get(&peer)
                .is_some_and(|p| p.state == LinkState::Up)
    }

    /// Checks a peer's `CRDT.LINK` handshake against this instance: a protocol both speak,
    /// same database, a member other than this instance, addressed to this instance.
    /// Returns the peer and the link's protocol version.
    pub fn check_hello(
        &self,
        proto: &[u8],
        db: &[u8],
        from: &[u8],
        to: &[u8],
    ) -> Result<(ReplicaId, u16), String> {
        let num = |b: &[u8]| {
            std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
        };
        let asked = num(proto).ok_or_else(|| {
            format!(
                "protocol version '{}' not supported (this instance speaks {PROTO_MIN} to {})",
                String::from_utf8_lossy(proto),
                self.cfg.protocol
            )
        })?;
        let version = negotiate(u16::try_from(asked).unwrap_or(u16::MAX), self.cfg.protocol)?;
        if db != self.cfg.db.as_bytes() {
            return Err(format!(
                "peer belongs to database '{}', this instance to '{}'",
                String::from_utf8_lossy(db),
                self.cfg.db
            ));
        }
        let from = num(from)
            .and_then(|n| ReplicaId::try_from(n).ok())
            .filter(|id| *id != self.cfg.me && self.cfg.members.contains(id))
            .ok_or_else(|| {
                format!(
                    "replica id {} is not a peer of this instance",
                    String::from_utf8_lossy(from)
                )
            })?;
        if num(to) != Some(u64::from(self.cfg.me)) {
            return Err(format!(
                "link addressed to replica {}, this is replica {}",
                String::from_utf8_lossy(to),
                self.cfg.me
            ));
        }
        Ok((from, version))
    }

    // ---- the pulling (downstream) side ----

    /// The replica ids this instance wants from `peer`: the peer's own ops, its own earlier
    /// incarnations' ops, and every origin that does not arrive directly.
    pub fn wanted(&self, peer: ReplicaId) -> Vec<ReplicaId> {
        let mut w: BTreeSet<ReplicaId> = [peer, self.cfg.me].into();
        for (&id, p) in &self.peers {
            if p.state != LinkState::Up && p.state != LinkState::FullSync {
                w.insert(id);
            }
        }
        w.extend(self.relay.keys().copied());
        w.into_iter().collect()
    }

    /// The first message on a new outbound link to `peer`.
    pub fn pull(&mut self, e: &Engine, peer: ReplicaId, protocol: u16) -> Msg {
        assert!((PROTO_MIN..=PROTO_VERSION).contains(&protocol));
        if let Some(p) = self.peers.get_mut(&peer) {
            p.state = LinkState::Connecting;
            p.pulled_at = e.now();
            p.protocol = protocol;
        }
        self.staging.remove(&peer);
        self.repull(e, peer)
    }

    /// Whether an instance that holds nothing yet is being brought up to date by another
    /// link than `peer`'s (its first answer awaited, or a full sync under way, for less
    /// than [`ONE_SYNC_MS`]): then `peer` is asked for nothing, so a new instance takes
    /// one full sync, not one from every peer at once; once that link is up, the others
    /// pull again and are answered from the backlog.
    fn another_syncing(&self, e: &Engine, peer: ReplicaId) -> bool {
        e.vv().is_empty()
            && self.peers.iter().any(|(&id, p)| {
                id != peer
                    && matches!(p.state, LinkState::Connecting | LinkState::FullSync)
                    && e.now().saturating_sub(p.pulled_at) < ONE_SYNC_MS
            })
    }

    /// A new pull on a streaming link (the wanted origins changed); the link stays up.
    pub fn repull(&mut self, e: &Engine, peer: ReplicaId) -> Msg {
        let origins = if self.another_syncing(e, peer) {
            Vec::new()
        } else {
            self.wanted(peer)
        };
        if let Some(p) = self.peers.get_mut(&peer) {
            p.asked.clone_from(&origins);
        }
        Msg::Pull {
            vv: e.vv().clone(),
            origins,
            me: Some(e.origin()),
        }
    }

    /// A report of what this instance applied, for `peer`'s stability.
    pub fn report(&self, e: &Engine) -> Msg {
        Msg::Report { vv: e.vv().clone() }
    }

    /// Whether this instance caught up with at least one peer and every other peer was
    /// caught up with or found unreachable: a restarted instance takes writes after that,
    /// so its ops never look concurrent with what the others already collected.
    pub fn caught_up(&self) -> bool {
        self.peers.values().all(|p| p.settled) && self.peers.values().any(|p| p.synced)
    }

    /// The outbound link to `peer` failed or closed.
    pub fn link_down(&mut self, peer: ReplicaId) {
        self.staging.remove(&peer);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.settled = true;
            p.protocol = 0;
            if p.state != LinkState::Down && p.state != LinkState::Paused {
                p.link_errors += 1;
                // Its origin now has to come through the others.
                self.epoch += 1;
            }
            if p.state != LinkState::Paused {
                p.state = LinkState::Down;
            }
        }
    }

    /// An attempt to link to `peer` failed (it could not be reached, refused the
    /// handshake, or showed no valid certificate), or a link ended with an error.
    pub fn link_failed(&mut self, peer: ReplicaId, why: &str) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.link_errors += 1;
            p.last_error = why.chars().take(256).collect();
        }
    }

    /// Counts bytes moved on a link to or from `peer`.
    pub fn count_bytes(&mut self, peer: ReplicaId, inbound: u64, outbound: u64) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.bytes_in += inbound;
            p.bytes_out += outbound;
        }
    }

    /// Handles a message that arrived on the outbound link to `peer`.
    pub fn receive(
        &mut self,
        e: &mut Engine,
        peer: ReplicaId,
        msg: Msg,
        now: u64,
    ) -> Result<Received, LinkError> {
        let mut out = Received::default();
        let Some(p) = self.peers.get_mut(&peer) else {
            return Err(LinkError::UnknownReplica(peer));
        };
        match msg {
            Msg::Partial => {
                // A pull again on a live link is answered the same way; count syncs once.
                if p.state != LinkState::Up {
                    p.partial_syncs += 1;
                    p.state = LinkState::Up;
                    p.last_error.clear();
                    self.epoch += 1;
                }
            }
            Msg::Ops(groups) => {
                for (i, g) in groups.iter().enumerate() {
                    if i % PREFETCH_GROUPS == 0 {
                        // The keys of the next groups, so their cache misses overlap.
                        let next = groups[i..].iter().take(PREFETCH_GROUPS);
                        e.prefetch_remote(next.flat_map(|g| g.iter().map(|op| &op.key[..])));
                    }
                    let g = g.clone();
                    self.check_group(e, &g)?;
                    let last = g[g.len() - 1].dot();
                    if last.seq > self.limit(last.origin) {
                        // A removed member's op past the cut this instance holds now: a
                        // peer that fenced later may still send it. Dropped; it comes back
                        // through relay if the agreed cut covers it.
                        continue;
                    }
                    out.applied += self.inbox.offer(e, g, now)?;
                }
                if self.inbox.overflowed() {
                    self.repull = true;
                }
            }
            Msg::SnapBegin { vv, hlc, keys } => {
                p.full_syncs += 1;
                p.state = LinkState::FullSync;
                self.staging.insert(
                    peer,
                    Staging {
                        vv,
                        hlc,
                        keys,
                        incoming: Incoming::with_room(keys),
                    },
                );
            }
            Msg::SnapChunk(states, raw) => {
                let s = self.staging.get_mut(&peer).ok_or_else(|| {
                    LinkError::Protocol("snapshot chunk outside a full sync".into())
                })?;
                if s.incoming.received() + states.len() as u64 > s.keys {
                    return Err(LinkError::Protocol(
                        "snapshot holds more keys than announced".into(),
                    ));
                }
                // The append-only file records the chunk as it came.
                s.incoming.add(states, e.journaling().then_some(raw));
            }
            Msg::SnapEnd => {
                let s = self.staging.remove(&peer).ok_or_else(|| {
                    LinkError::Protocol("snapshot end outside a full sync".into())
                })?;
                if s.vv.iter().any(|(o, _)| !self.known(o.id)) {
                    return Err(LinkError::Protocol(
                        "snapshot vector names an unknown replica".into(),
                    ));
                }
                if s.vv.get(e.origin()) > e.vv().get(e.origin()) {
                    return Err(LinkError::Protocol(
                        "snapshot claims ops this instance never issued".into(),
                    ));
                }
                // Adopted now, carried out key by key ([`Engine::merge_step`]).
                e.begin_merge(&s.vv, s.hlc, s.incoming)?;
                self.cover_held(e);
                out.applied += self.inbox.drain(e)?;
                if let Some(p) = self.peers.get_mut(&peer)
                    && p.state != LinkState::Up
                {
                    p.state = LinkState::Up;
                    p.last_error.clear();
                    self.epoch += 1;
                }
            }
            Msg::Heartbeat { vv, .. } => {
                // A link asked for nothing (another one is syncing) has not caught up.
                if !p.synced
                    && !p.asked.is_empty()
                    && p.state == LinkState::Up
                    && vv
                        .iter()
                        .all(|(o, s)| !p.asked.contains(&o.id) || e.vv().get(o) >= s)
                {
                    p.synced = true;
                    p.settled = true;
                }
                p.upstream_vv = vv;
            }
            Msg::Publish { channel, message } => out.publish = Some((channel, message)),
            Msg::Pull { .. } | Msg::Report { .. } | Msg::SnapChunkRaw(_) | Msg::OpsRaw(_) => {
                return Err(LinkError::Protocol("request on a serving stream".into()));
            }
        }
        self.update_lag(e, peer, now);
        Ok(out)
    }

    /// A group must be one origin's consecutive ops, from a member, never this instance's
    /// current incarnation beyond what it issued.
    fn check_group(&self, e: &Engine, g: &[concord_crdt::Op]) -> Result<(), LinkError> {
        let first = g[0].dot();
        if !self.known(first.origin.id) {
            return Err(LinkError::UnknownReplica(first.origin.id));
        }
        if concord_crdt::run_len(g) != g.len() {
            return Err(LinkError::Protocol(
                "op group is not one origin's consecutive ops".into(),
            ));
        }
        for op in g {
            if op.deps.iter().any(|(o, _)| !self.known(o.id)) {
                return Err(LinkError::Protocol(
                    "op depends on an unknown replica".into(),
                ));
            }
        }
        let last = g[g.len() - 1].dot();
        let me = e.origin();
        // Earlier incarnations of this replica are real (ops peers kept from before a
        // restart); the current one beyond what it issued, or a later one, are lies.
        if first.origin.id == me.id
            && (first.origin.incarnation > me.incarnation
                || (first.origin == me && last.seq > e.vv().get(me)))
        {
            return Err(LinkError::Protocol(
                "op claims to be from this instance".into(),
            ));
        }
        Ok(())
    }

    fn update_lag(&mut self, e: &Engine, peer: ReplicaId, now: u64) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let behind = lag_ops(&p.upstream_vv, e.vv(), peer) > 0;
        match (behind, p.behind_since) {
            (true, None) => p.behind_since = Some(now),
            (false, Some(_)) => p.behind_since = None,
            _ => {}
        }
    }

    /// Ops of `peer`'s origin this instance is known to miss, and for how long (ms).
    pub fn lag(&self, e: &Engine, peer: ReplicaId, now: u64) -> (u64, u64) {
        let Some(p) = self.peers.get(&peer) else {
            return (0, 0);
        };
        let ops = lag_ops(&p.upstream_vv, e.vv(), peer);
        let ms = if ops == 0 {
            0
        } else {
            p.behind_since.map_or(0, |t| now.saturating_sub(t))
        };
        (ops, ms)
    }

    /// Ops of this instance's own origins that `peer` has not reported applying, and for
    /// how long (ms) it has lacked some: the other direction of [`Replication::lag`], the
    /// one that grows on the writing side while a link is cut.
    pub fn pending(&self, e: &Engine, peer: ReplicaId, now: u64) -> (u64, u64) {
        let Some(p) = self.peers.get(&peer) else {
            return (0, 0);
        };
        let ops = pending_ops(p.report.as_ref(), e.vv(), self.cfg.me);
        let ms = if ops == 0 {
            0
        } else {
            let applied = own_ops(e.vv(), self.cfg.me).saturating_sub(ops);
            self.own.lacking_for(applied, now)
        };
        (ops, ms)
    }

    // ---- upkeep ----

    /// Periodic upkeep: relay decisions for stalled ops (stability compaction is
    /// [`Replication::compact`], run in slices).
    pub fn tick(&mut self, e: &Engine, now: u64) {
        let me = self.cfg.me;
        let made = own_ops(e.vv(), me);
        self.own.note(made, now);
        let least = self
            .peers
            .values()
            .map(|p| made.saturating_sub(pending_ops(p.report.as_ref(), e.vv(), me)))
            .min()
            .unwrap_or(made);
        self.own.forget_up_to(least);
        let mut changed = self.inbox.expire(now, self.cfg.stall_ms * 30) > 0;
        let mut want = self.inbox.stalled(e, now, self.cfg.stall_ms);
        // Ops some peer holds and this instance lacks, of an origin other than that peer:
        // if they do not arrive for a while, ask for them to be relayed.
        let mine = e.vv();
        let mut behind: BTreeSet<ReplicaId> = BTreeSet::new();
        for (&id, p) in &self.peers {
            for (o, s) in p.upstream_vv.iter() {
                if o.id != id && s.min(self.limit(o)) > mine.get(o) {
                    behind.insert(o.id);
                }
            }
        }
        self.missing.retain(|id, _| behind.contains(id));
        for id in behind {
            let since = *self.missing.entry(id).or_insert(now);
            if now >= since + self.cfg.stall_ms {
                want.push(id);
            }
        }
        for id in want {
            if id != self.cfg.me
                && self
                    .relay
                    .insert(id, now + self.cfg.relay_hold_ms)
                    .is_none()
            {
                changed = true;
            }
        }
        let before = self.relay.len();
        self.relay.retain(|_, until| *until > now);
        // A link asked for nothing while another one synced asks again once that one is
        // done, or has taken too long.
        let waited = self.peers.iter().any(|(&id, p)| {
            p.state == LinkState::Up && p.asked.is_empty() && !self.another_syncing(e, id)
        });
        if changed || waited || self.relay.len() != before || std::mem::take(&mut self.repull) {
            self.epoch += 1;
        }
    }

    /// Stability compaction of at most `budget` keys. Returns whether the pass over the
    /// keys waiting for stability has more to look at (a pass starts again later).
    pub fn compact(&self, e: &mut Engine, budget: usize) -> bool {
        if e.streaming() || e.merging() {
            // Compaction waits for a full sync (it would change the states they read).
            return false;
        }
        match self.stable(e).filter(|_| self.cfg.compact) {
            Some(stable) => {
                e.compact_stable(&stable, budget);
                e.compact_pass_open()
            }
            None => false,
        }
    }

    /// What every member has applied, by their reports (docs/REPLICATION.md, "Stability"): `None` until
    /// every peer has reported and this instance has applied all each had issued then.
    pub fn stable(&self, e: &Engine) -> Option<VersionVector> {
        let mine = e.vv();
        let mut stable = mine.clone();
        for (&id, p) in &self.peers {
            let r = p.report.as_ref()?;
            if r.iter().any(|(o, s)| o.id == id && mine.get(o) < s) {
                return None;
            }
            stable = stable.meet(r);
        }
        Some(stable)
    }
}

/// Ops of replica `me`'s own origins (every incarnation) in `vv`.
fn own_ops(vv: &VersionVector, me: ReplicaId) -> u64 {
    vv.iter()
        .filter(|(o, _)| o.id == me)
        .map(|(_, s): (Origin, u64)| s)
        .sum()
}

/// Ops of origins of replica `me` in `mine` that `reported` lacks (all of them before
/// the peer's first report).
fn pending_ops(reported: Option<&VersionVector>, mine: &VersionVector, me: ReplicaId) -> u64 {
    mine.iter()
        .filter(|(o, _)| o.id == me)
        .map(|(o, s): (Origin, u64)| s.saturating_sub(reported.map_or(0, |r| r.get(o))))
        .sum()
}

/// Ops of `peer`'s own origins in `theirs` that `mine` lacks.
fn lag_ops(theirs: &VersionVector, mine: &VersionVector, peer: ReplicaId) -> u64 {
    theirs
        .iter()
        .filter(|(o, _)| o.id == peer)
        .map(|(o, s): (Origin, u64)| s.saturating_sub(mine.get(o)))
        .sum()
}

#[cfg(test)]
mod hello_tests {
    use super::*;
    use proptest::prelude::*;

    /// Instance 1 of a database "db" of instances 1, 2 and 3.
    fn instance() -> Replication {
        Replication::new(Config::new(1, [1, 2, 3].into(), "db"))
    }

    /// A handshake field: the valid value, a near miss, or arbitrary bytes.
    fn field(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(valid.as_bytes().to_vec()),
            prop::sample::select(vec![
                "",
                "0",
                "1",
                "2",
                "3",
                "4",
                "-1",
                "65536",
                "18446744073709551616",
                "db",
                "DB",
                "db\0"
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..40),
        ]
    }

    #[test]
    fn the_exact_hello_of_each_peer_is_accepted() {
        let r = instance();
        let proto = PROTO_VERSION.to_string();
        for peer in [2u16, 3] {
            let from = peer.to_string();
            assert_eq!(
                r.check_hello(proto.as_bytes(), b"db", from.as_bytes(), b"1"),
                Ok((peer, PROTO_VERSION))
            );
            // An instance of the release before links at the version it speaks.
            assert_eq!(
                r.check_hello(b"1", b"db", from.as_bytes(), b"1"),
                Ok((peer, 1))
            );
        }
    }

    /// An instance held back to an older protocol (during a rolling upgrade) answers a
    /// newer dialer with that older version.
    #[test]
    fn a_held_back_instance_links_at_its_version() {
        let mut r = instance();
        r.cfg.protocol = PROTO_MIN;
        let proto = PROTO_VERSION.to_string();
        assert_eq!(
            r.check_hello(proto.as_bytes(), b"db", b"2", b"1"),
            Ok((2, PROTO_MIN))
        );
    }

    proptest! {
        /// Whatever a connection sends as CRDT.LINK's arguments, the check never panics and
        /// accepts only another member of the same database addressing this instance.
        #[test]
        fn hostile_hellos_never_link_as_anything_but_a_member(
            proto in field("1"), db in field("db"), from in field("2"), to in field("1"),
        ) {
            let r = instance();
            if let Ok((peer, version)) = r.check_hello(&proto, &db, &from, &to) {
                prop_assert!(peer == 2 || peer == 3);
                prop_assert!((PROTO_MIN..=PROTO_VERSION).contains(&version));
                prop_assert_eq!(&db[..], b"db");
                prop_assert_eq!(std::str::from_utf8(&to).ok().and_then(|t| t.parse::<u64>().ok()), Some(1));
                let asked = std::str::from_utf8(&proto).ok().and_then(|p| p.parse::<u64>().ok());
                prop_assert!(asked.is_some_and(|a| a >= u64::from(version)));
            }
        }
    }
}
