//! Causal delivery: remote op groups are applied only when they are the next of their
//! origin and their dependencies are applied; the others wait here, bounded.

use crate::LinkError;
use concord_crdt::{Op, Origin, ReplicaId};
use concord_engine::Engine;
use std::collections::BTreeMap;
use std::sync::Arc;

struct Waiting {
    group: Arc<[Op]>,
    since: u64,
}

/// Groups that arrived before their dependencies, by origin and first sequence number.
pub struct Inbox {
    waiting: BTreeMap<Origin, BTreeMap<u64, Waiting>>,
    ops: usize,
    cap: usize,
    overflowed: bool,
}

impl Inbox {
    /// An inbox holding at most `cap` ops.
    pub fn new(cap: usize) -> Self {
        Inbox {
            waiting: BTreeMap::new(),
            ops: 0,
            cap,
            overflowed: false,
        }
    }

    /// Ops waiting.
    pub fn len(&self) -> usize {
        self.ops
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.ops == 0
    }

    /// Whether a group was dropped for lack of room since the last call (the links must
    /// pull again to get it back).
    pub fn overflowed(&mut self) -> bool {
        std::mem::take(&mut self.overflowed)
    }

    /// Applies `group` if it is ready (then whatever waited on it), drops it if it is a
    /// duplicate, or keeps it until it is ready. Returns the ops applied.
    pub fn offer(
        &mut self,
        e: &mut Engine,
        group: Arc<[Op]>,
        now: u64,
    ) -> Result<usize, LinkError> {
        let first = group[0].dot();
        let last = group[group.len() - 1].dot();
        if e.vv().get(first.origin) >= last.seq {
            return Ok(0);
        }
        if e.apply_remote(&group)? {
            return Ok(group.len() + self.drain(e)?);
        }
        let slot = self.waiting.entry(first.origin).or_default();
        if slot.contains_key(&first.seq) {
            return Ok(0);
        }
        if self.ops + group.len() > self.cap {
            self.overflowed = true;
            return Ok(0);
        }
        self.ops += group.len();
        slot.insert(first.seq, Waiting { group, since: now });
        Ok(0)
    }

    /// Applies every waiting group that became ready and drops those already applied.
    pub fn drain(&mut self, e: &mut Engine) -> Result<usize, LinkError> {
        let mut applied = 0;
        loop {
            let mut progress = false;
            for (origin, slot) in self.waiting.iter_mut() {
                // Drop what was applied meanwhile (by a snapshot or another link).
                while let Some(entry) = slot.first_entry() {
                    let g = &entry.get().group;
                    if e.vv().get(*origin) >= g[g.len() - 1].dot().seq {
                        self.ops -= g.len();
                        entry.remove();
                    } else {
                        break;
                    }
                }
                while let Some(entry) = slot.first_entry() {
                    if *entry.key() != e.vv().get(*origin) + 1 {
                        break;
                    }
                    let g = Arc::clone(&entry.get().group);
                    if !e.apply_remote(&g)? {
                        break;
                    }
                    self.ops -= g.len();
                    applied += g.len();
                    entry.remove();
                    progress = true;
                }
            }
            self.waiting.retain(|_, s| !s.is_empty());
            if !progress {
                return Ok(applied);
            }
        }
    }

    /// Drops the waiting groups of `id`'s origins past `cut` (a removed member's).
    pub fn drop_past(&mut self, id: ReplicaId, cut: &concord_crdt::VersionVector) {
        let mut dropped = 0;
        for (origin, slot) in self.waiting.iter_mut().filter(|(o, _)| o.id == id) {
            let limit = cut.get(*origin);
            slot.retain(|_, w| {
                let keep = w.group[w.group.len() - 1].dot().seq <= limit;
                if !keep {
                    dropped += w.group.len();
                }
                keep
            });
        }
        self.waiting.retain(|_, s| !s.is_empty());
        self.ops -= dropped;
    }

    /// Drops groups that waited longer than `max_wait_ms`: their dependencies may never
    /// come (lost with a crashed instance). Pulling again fetches them if they do exist.
    pub fn expire(&mut self, now: u64, max_wait_ms: u64) -> usize {
        let mut dropped = 0;
        for slot in self.waiting.values_mut() {
            slot.retain(|_, w| {
                let keep = now < w.since + max_wait_ms;
                if !keep {
                    dropped += w.group.len();
                }
                keep
            });
        }
        self.waiting.retain(|_, s| !s.is_empty());
        self.ops -= dropped;
        dropped
    }

    /// Replica ids whose ops are missing for a group that waited longer than `stall_ms`:
    /// its own origin's gap, or its unmet dependencies.
    pub fn stalled(&self, e: &Engine, now: u64, stall_ms: u64) -> Vec<ReplicaId> {
        let mut out = Vec::new();
        for (origin, slot) in &self.waiting {
            let Some((&seq, w)) = slot.first_key_value() else {
                continue;
            };
            if now < w.since + stall_ms {
                continue;
            }
            if seq > e.vv().get(*origin) + 1 {
                out.push(origin.id);
            }
            for (o, s) in w.group[0].deps.iter() {
                if e.vv().get(o) < s {
                    out.push(o.id);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}
