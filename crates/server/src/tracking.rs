//! Client-side caching (CLIENT TRACKING), as a single Redis 7.2 node does it: which
//! clients track which keys, the prefixes of broadcasting clients, and the invalidation
//! messages sent when the engine reports changed keys. Every message goes through the
//! receiver's mailbox, held to the pub/sub output limits: a slow or dead receiver is
//! disconnected, never buffered without end.

use crate::Shared;
use crate::limits::ClassLimit;
use crate::pubsub::{Mailbox, Msg};
use bytes::Bytes;
use concord_engine::{CommandId, Engine};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The channel a RESP2 client redirected to receives invalidations on.
pub(crate) const CHANNEL: &[u8] = b"__redis__:invalidate";

/// Redis's default `tracking-table-max-keys`.
pub(crate) const DEFAULT_MAX_KEYS: u64 = 1_000_000;

/// Tracked keys invalidated at most per pass to get back under `tracking-table-max-keys`
/// (the rest on the next pass, as Redis spreads the effort), so lowering the setting
/// cannot stall the instance.
const EVICT_EFFORT: usize = 1000;

/// Keys that may wait in broadcasting prefixes before they are sent even in the middle of
/// a unit of work: bounds the memory one huge write can make waiting invalidations take.
const BCAST_PENDING_MAX: usize = 64 * 1024;

/// How a client tracks (CLIENT TRACKING options).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mode {
    /// BCAST: told about every change under its prefixes, remembers nothing.
    pub bcast: bool,
    /// OPTIN: reads are remembered only after CLIENT CACHING YES.
    pub optin: bool,
    /// OPTOUT: reads are remembered unless CLIENT CACHING NO came first.
    pub optout: bool,
    /// NOLOOP: not told about its own changes.
    pub noloop: bool,
}

/// A client's tracking as its session keeps it (the table has the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Track {
    /// The options.
    pub mode: Mode,
    /// The client that receives the invalidations (0: this one).
    pub redirect: u64,
}

/// A tracking client as the table knows it.
struct Tracker {
    mode: Mode,
    /// Where invalidations go when they are redirected (0: not redirected).
    redirect: u64,
    /// The redirect target's mailbox.
    target: Option<Mailbox>,
    /// The client's own mailbox.
    own: Mailbox,
    /// The redirect target went away (CLIENT TRACKINGINFO `broken_redirect`).
    broken: bool,
    /// Its BCAST prefixes.
    prefixes: Vec<Bytes>,
}

/// One BCAST prefix: who listens, and the keys under it changed since the last send,
/// each with the client that changed it last (for NOLOOP).
#[derive(Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    pending: BTreeMap<Bytes, u64>,
}

/// Tracked keys, each with the clients that read it; kept in a vector beside an index so
/// that an entry can be picked at random and removed in constant time.
#[derive(Default)]
struct Keys {
    index: HashMap<Bytes, usize>,
    entries: Vec<(Bytes, Vec<u64>)>,
}

impl Keys {
    /// Adds `id` to `key`'s readers; whether it is new.
    fn add(&mut self, key: &[u8], id: u64) -> bool {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                let key = Bytes::copy_from_slice(key);
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, Vec::new()));
                self.entries.len() - 1
            }
        };
        let ids = &mut self.entries[i].1;
        match ids.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                ids.insert(at, id);
                true
            }
        }
    }

    /// Takes the entry of `key` out.
    fn take(&mut self, key: &[u8]) -> Option<Vec<u64>> {
        let i = self.index.remove(key)?;
        Some(self.take_at(i).1)
    }

    /// Takes entry `i` out (the last one moves into its place).
    fn take_at(&mut self, i: usize) -> (Bytes, Vec<u64>) {
        let (key, ids) = self.entries.swap_remove(i);
        self.index.remove(&key);
        if let Some((moved, _)) = self.entries.get(i) {
            self.index.insert(moved.clone(), i);
        }
        (key, ids)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Every tracking client and what it tracks.
pub(crate) struct Tracking {
    clients: HashMap<u64, Tracker>,
    keys: Keys,
    /// Client ids across every tracked key (INFO `tracking_total_items`).
    items: u64,
    prefixes: BTreeMap<Bytes, Prefix>,
    /// Keys waiting in `prefixes`.
    pending: usize,
    /// `tracking-table-max-keys` (0: no limit).
    pub max_keys: u64,
    /// The pub/sub output limits, which invalidation messages are held to.
    pub limit: ClassLimit,
}

impl Tracking {
    /// No client tracks anything yet.
    pub fn new(max_keys: u64, limit: ClassLimit) -> Tracking {
        Tracking {
            clients: HashMap::new(),
            keys: Keys::default(),
            items: 0,
            prefixes: BTreeMap::new(),
            pending: 0,
            max_keys,
            limit,
        }
    }

    /// Clients with tracking on (INFO `tracking_clients`).
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// INFO's `tracking_total_keys`, `tracking_total_items`, `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, u64, usize) {
        (self.keys.len(), self.items, self.prefixes.len())
    }

    /// Whether the redirect of client `id` is broken.
    pub fn broken(&self, id: u64) -> bool {
        self.clients.get(&id).is_some_and(|t| t.broken)
    }

    /// The BCAST prefixes of client `id`, in order.
    pub fn prefixes_of(&self, id: u64) -> Vec<Bytes> {
        let mut v = self
            .clients
            .get(&id)
            .map_or(Vec::new(), |t| t.prefixes.clone());
        v.sort();
        v
    }

    /// Turns tracking on for client `id` (again: its options are replaced, its BCAST
    /// prefixes added to). The caller checked the options, as Redis does.
    pub fn enable(
        &mut self,
        id: u64,
        track: Track,
        target: Option<Mailbox>,
        own: &Mailbox,
        prefixes: &[Bytes],
    ) {
        let t = self.clients.entry(id).or_insert_with(|| Tracker {
            mode: track.mode,
            redirect: 0,
            target: None,
            own: own.clone(),
            broken: false,
            prefixes: Vec::new(),
        });
        t.mode = track.mode;
        t.redirect = track.redirect;
        t.target = target;
        t.broken = false;
        if !track.mode.bcast {
            return;
        }
        let empty = [Bytes::new()];
        let wanted = if prefixes.is_empty() {
            &empty[..]
        } else {
            prefixes
        };
        for p in wanted {
            if self
                .prefixes
                .entry(p.clone())
                .or_default()
                .clients
                .insert(id)
            {
                t.prefixes.push(p.clone());
            }
        }
    }

    /// Turns tracking off for client `id`. The keys it read stay in the table until they
    /// change (as in Redis); once nobody tracks, the table is emptied.
    pub fn disable(&mut self, id: u64) {
        let Some(t) = self.clients.remove(&id) else {
            return;
        };
        for p in &t.prefixes {
            if let Some(state) = self.prefixes.get_mut(p) {
                state.clients.remove(&id);
                if state.clients.is_empty() {
                    self.pending -= state.pending.len();
                    self.prefixes.remove(p);
                }
            }
        }
        if self.clients.is_empty() {
            self.keys = Keys::default();
            self.items = 0;
        }
    }

    /// Whether a new BCAST prefix overlaps one of client `id`'s (either is a prefix of
    /// the other): the one it overlaps, for Redis's error.
    pub fn overlapping(&self, id: u64, prefix: &[u8]) -> Option<Bytes> {
        let t = self.clients.get(&id)?;
        t.prefixes.iter().find(|p| overlap(p, prefix)).cloned()
    }

    /// Remembers that client `id` read `key`.
    pub fn remember(&mut self, id: u64, key: &[u8]) {
        if self.keys.add(key, id) {
            self.items += 1;
        }
    }

    /// `key` changed, by client `actor` (0: no client): its readers are told and forget
    /// it, and it waits in the BCAST prefixes it falls under.
    fn invalidate_key(&mut self, key: &[u8], actor: u64) {
        for (p, state) in self.prefixes.iter_mut() {
            if key.starts_with(p)
                && state
                    .pending
                    .insert(Bytes::copy_from_slice(key), actor)
                    .is_none()
            {
                self.pending += 1;
            }
        }
        let Some(ids) = self.keys.take(key) else {
            return;
        };
        self.items -= ids.len() as u64;
        let keys = vec![Bytes::copy_from_slice(key)];
        for id in ids {
            let Some(t) = self.clients.get_mut(&id) else {
                continue;
            };
            // A client that switched to BCAST is not told about keys it read before.
            if t.mode.bcast || (t.mode.noloop && id == actor) {
                continue;
            }
            send(t, Some(keys.clone()), &self.limit);
        }
    }

    /// Everything changed (FLUSHALL, FLUSHDB, a full sync): every tracking client is
    /// told with a null, and the table is emptied.
    fn flush(&mut self) {
        for t in self.clients.values_mut() {
            send(t, None, &self.limit);
        }
        self.keys = Keys::default();
        self.items = 0;
    }

    /// Sends what waits in the BCAST prefixes: one message per prefix and client, the
    /// keys in order (a NOLOOP client without the keys it changed itself).
    fn broadcast(&mut self) {
        if self.pending == 0 {
            return;
        }
        self.pending = 0;
        for state in self.prefixes.values_mut() {
            if state.pending.is_empty() {
                continue;
            }
            let pending = std::mem::take(&mut state.pending);
            let all: Vec<Bytes> = pending.keys().cloned().collect();
            for id in &state.clients {
                let Some(t) = self.clients.get_mut(id) else {
                    continue;
                };
                let keys = if t.mode.noloop {
                    let mine: Vec<Bytes> = pending
                        .iter()
                        .filter(|(_, by)| **by != *id)
                        .map(|(k, _)| k.clone())
                        .collect();
                    if mine.is_empty() {
                        continue;
                    }
                    mine
                } else {
                    all.clone()
                };
                send(t, Some(keys), &self.limit);
            }
        }
    }

    /// Invalidates tracked keys at random until the table is within
    /// `tracking-table-max-keys` or this pass's effort is spent.
    fn enforce_limit(&mut self) {
        let Ok(max) = usize::try_from(self.max_keys) else {
            return;
        };
        if max == 0 {
            return;
        }
        for _ in 0..EVICT_EFFORT {
            if self.keys.len() <= max {
                return;
            }
            let i = rand::random_range(0..self.keys.len());
            let key = self.keys.entries[i].0.clone();
            self.invalidate_key(&key, 0);
        }
    }
}

/// Whether one of two prefixes starts the other.
pub(crate) fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Sends an invalidation (`None`: everything) for tracking client `t`: to its redirect
/// target, or to itself. A redirect target that went away breaks the redirect, and the
/// client is told so (in RESP3), as in Redis.
fn send(t: &mut Tracker, keys: Option<Vec<Bytes>>, limit: &ClassLimit) {
    if t.redirect == 0 {
        t.own.deliver(
            Msg::Invalidate {
                keys,
                redirected: false,
            },
            limit,
        );
        return;
    }
    match &t.target {
        Some(target) if !target.tx.is_closed() => {
            target.deliver(
                Msg::Invalidate {
                    keys,
                    redirected: true,
                },
                limit,
            );
        }
        _ => {
            t.broken = true;
            t.own.deliver(Msg::RedirBroken(t.redirect), limit);
        }
    }
}

/// Announces the keys `e` recorded as changed (by client `actor`, 0 for none) to the
/// clients that track them. Runs before a tracking client's read is remembered (so a
/// read after a write in one pipeline stays tracked) and on the after-write path.
pub(crate) fn invalidate(sh: &Shared, e: &mut Engine, actor: u64) {
    if !e.has_modified() {
        return;
    }
    let mut t = sh.tracking.lock().unwrap_or_else(|p| p.into_inner());
    e.take_modified(|key| match key {
        Some(key) => {
            t.invalidate_key(key, actor);
            if t.pending > BCAST_PENDING_MAX {
                t.broadcast();
            }
        }
        None => t.flush(),
    });
}

/// The after-write step of tracking (only called while some client tracks): announce
/// the changed keys, send what waits for BCAST prefixes, keep the table within its limit.
pub(crate) fn after_write(sh: &Shared, e: &mut Engine, actor: u64) {
    invalidate(sh, e, actor);
    let mut t = sh.tracking.lock().unwrap_or_else(|p| p.into_inner());
    t.broadcast();
    t.enforce_limit();
}

/// Remembers the keys of command `id` (a read) for client `reader`, after announcing
/// the changes made so far.
pub(crate) fn remember(
    sh: &Shared,
    e: &mut Engine,
    reader: u64,
    actor: u64,
    id: CommandId,
    args: &[&[u8]],
) {
    invalidate(sh, e, actor);
    let keys = concord_engine::keys(id, args);
    if keys.is_empty() {
        return;
    }
    let mut t = sh.tracking.lock().unwrap_or_else(|p| p.into_inner());
    for k in &keys {
        t.remember(reader, args[k.pos]);
    }
}

/// CONFIG SET tracking-table-max-keys.
pub(crate) fn apply(sh: &Shared, _: &mut Engine, c: &crate::ServerConfig) -> Result<(), String> {
    sh.tracking
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .max_keys = c.tracking_table_max_keys;
    Ok(())
}

/// Writes an invalidation message for a client speaking `out`'s protocol: a RESP3 push,
/// or, for a RESP2 client that receives redirected invalidations while subscribed, a
/// message on [`CHANNEL`]; nothing otherwise (RESP2 has no pushes), as in Redis.
pub(crate) fn encode(
    keys: Option<&[Bytes]>,
    redirected: bool,
    subscribed: bool,
    out: &mut concord_resp::Out,
) {
    if out.resp3 {
        out.push(2);
        out.bulk(b"invalidate");
    } else if redirected && subscribed {
        out.push(3);
        out.bulk(b"message");
        out.bulk(CHANNEL);
    } else {
        return;
    }
    match keys {
        Some(keys) => {
            out.array(keys.len());
            for k in keys {
                out.bulk(k);
            }
        }
        None => out.null(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table where client 7 tracks in `mode`, under `prefixes` for BCAST, with the
    /// queue its invalidations go to.
    fn tracking(mode: Mode, prefixes: &[Bytes]) -> (Tracking, tokio::sync::mpsc::Receiver<Msg>) {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let limits = crate::limits::OutputLimits::default();
        let mut t = Tracking::new(2, limits.pubsub);
        let track = Track { mode, redirect: 0 };
        t.enable(7, track, None, &Mailbox::new(tx), prefixes);
        (t, rx)
    }

    fn keys_of(rx: &mut tokio::sync::mpsc::Receiver<Msg>) -> Vec<Option<Vec<Bytes>>> {
        let mut v = Vec::new();
        while let Ok(m) = rx.try_recv() {
            if let Msg::Invalidate { keys, .. } = m {
                v.push(keys);
            }
        }
        v
    }

    #[test]
    fn a_read_key_is_invalidated_once() {
        let (mut t, mut rx) = tracking(Mode::default(), &[]);
        t.remember(7, b"k");
        t.remember(7, b"k");
        assert_eq!(t.totals(), (1, 1, 0));
        t.invalidate_key(b"k", 0);
        t.invalidate_key(b"k", 0);
        assert_eq!(keys_of(&mut rx), [Some(vec![Bytes::from_static(b"k")])]);
        assert_eq!(t.totals(), (0, 0, 0));
    }

    #[test]
    fn the_table_stays_within_its_limit() {
        let (mut t, mut rx) = tracking(Mode::default(), &[]);
        for k in ["a", "b", "c", "d"] {
            t.remember(7, k.as_bytes());
        }
        t.enforce_limit();
        assert_eq!(t.totals().0, 2);
        assert_eq!(keys_of(&mut rx).len(), 2);
    }

    #[test]
    fn bcast_sends_each_prefix_once_without_noloop_keys() {
        let mode = Mode {
            bcast: true,
            noloop: true,
            ..Mode::default()
        };
        let (mut t, mut rx) = tracking(mode, &[Bytes::from_static(b"a:")]);
        t.invalidate_key(b"a:2", 0);
        t.invalidate_key(b"a:1", 7);
        t.invalidate_key(b"b:1", 0);
        t.broadcast();
        assert_eq!(keys_of(&mut rx), [Some(vec![Bytes::from_static(b"a:2")])]);
        assert!(t.overlapping(7, b"a").is_some());
        assert!(t.overlapping(7, b"b").is_none());
        t.disable(7);
        assert_eq!(t.totals(), (0, 0, 0));
    }
}
