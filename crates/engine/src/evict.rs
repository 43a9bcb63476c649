//! Eviction under `maxmemory`: Redis's eight policies with its approximations (sampled
//! keys and a pool of the best candidates seen), and the per-key access bookkeeping the
//! LRU and LFU policies read. Time comes in as milliseconds; nothing here reads a clock.

use crate::{Engine, NotifyFlags};
use concord_crdt::key::KeyState;
use concord_crdt::{Access, Blob, OpKind};

/// Which keys may be evicted, and which first (`maxmemory-policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Nothing is evicted: writes that may grow memory are refused.
    #[default]
    NoEviction,
    /// Any key, least recently used first.
    AllKeysLru,
    /// Any key, least frequently used first.
    AllKeysLfu,
    /// Any key, at random.
    AllKeysRandom,
    /// Keys with an expiry, least recently used first.
    VolatileLru,
    /// Keys with an expiry, least frequently used first.
    VolatileLfu,
    /// Keys with an expiry, at random.
    VolatileRandom,
    /// Keys with an expiry, the soonest to expire first.
    VolatileTtl,
}

impl Policy {
    /// Every policy, with the name Redis gives it.
    pub const ALL: [(Policy, &'static str); 8] = [
        (Policy::VolatileLru, "volatile-lru"),
        (Policy::VolatileLfu, "volatile-lfu"),
        (Policy::VolatileRandom, "volatile-random"),
        (Policy::VolatileTtl, "volatile-ttl"),
        (Policy::AllKeysLru, "allkeys-lru"),
        (Policy::AllKeysLfu, "allkeys-lfu"),
        (Policy::AllKeysRandom, "allkeys-random"),
        (Policy::NoEviction, "noeviction"),
    ];

    /// The policy named `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<Policy> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(p, _)| *p)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("noeviction", |(_, n)| n)
    }

    /// Whether keys' use frequency is tracked (otherwise their last use is).
    pub fn lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Whether only keys with an expiry may be evicted.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// Whether it picks keys at random.
    pub fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

/// The settings eviction reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvictConfig {
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`: keys sampled per choice.
    pub samples: usize,
    /// `lfu-log-factor`: how slowly the frequency counter grows.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`: minutes per decrement of an unused key's counter (0: never).
    pub lfu_decay_time: u32,
}

impl Default for EvictConfig {
    fn default() -> Self {
        EvictConfig {
            policy: Policy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }
}

/// A new key's frequency counter, so that it is not evicted before it had a chance to be
/// used (Redis's LFU_INIT_VAL).
const LFU_INIT: u32 = 5;

/// How many candidates the pool keeps between choices (Redis's EVPOOL_SIZE).
pub(crate) const POOL_SIZE: usize = 16;

impl EvictConfig {
    /// The access value of a key used at `now_ms`, given its previous one; `r` is a
    /// random number (the LFU counter grows with a probability).
    pub(crate) fn touched(&self, a: Access, fresh: bool, now_ms: u64, r: u64) -> Access {
        if !self.policy.lfu() {
            return Access(lru_clock(now_ms));
        }
        let counter = if fresh {
            LFU_INIT
        } else {
            self.decayed(a, now_ms)
        };
        Access(pack_lfu(minutes(now_ms), self.log_incr(counter, r)))
    }

    /// The frequency counter of `a` after the decay the time since it last changed asks.
    pub(crate) fn decayed(&self, a: Access, now_ms: u64) -> u32 {
        let (at, counter) = unpack_lfu(a);
        let elapsed = minutes(now_ms).wrapping_sub(at) & 0xFFFF;
        let periods = elapsed.checked_div(self.lfu_decay_time).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// Redis's LFULogIncr: the counter grows with probability 1 / ((c - init) × factor + 1).
    fn log_incr(&self, counter: u32, r: u64) -> u32 {
        if counter >= 255 {
            return 255;
        }
        let base = counter.saturating_sub(LFU_INIT);
        let p = 1.0 / (f64::from(base) * f64::from(self.lfu_log_factor) + 1.0);
        let draw = (r >> 11) as f64 / (1u64 << 53) as f64;
        if draw < p { counter + 1 } else { counter }
    }

    /// How evictable a key is (higher goes first): its idle time, its inverse frequency,
    /// or how soon it expires.
    pub(crate) fn score(&self, a: Access, expires_at: Option<u64>, now_ms: u64) -> u64 {
        match self.policy {
            Policy::VolatileTtl => u64::MAX - expires_at.unwrap_or(u64::MAX),
            p if p.lfu() => u64::from(255 - self.decayed(a, now_ms).min(255)),
            _ => idle_secs(a, now_ms),
        }
    }
}

/// Seconds since the epoch, as a key's last use is kept.
fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

/// Minutes since the epoch, modulo 2^16, as the LFU decay time is kept.
fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

fn pack_lfu(minute: u32, counter: u32) -> u32 {
    (minute << 8) | counter.min(255)
}

fn unpack_lfu(a: Access) -> (u32, u32) {
    (a.0 >> 8, a.0 & 0xFF)
}

/// Seconds since a key was last used (OBJECT IDLETIME).
pub(crate) fn idle_secs(a: Access, now_ms: u64) -> u64 {
    u64::from(lru_clock(now_ms).wrapping_sub(a.0))
}

/// The best candidates seen so far, lowest score first (Redis's eviction pool).
#[derive(Default)]
pub(crate) struct Pool {
    /// Score, key, and the key's slot in the keyspace when sampled there ([`NO_SLOT`]
    /// otherwise): taking a candidate then needs no hashing when the slot still holds it.
    entries: Vec<(u64, Blob, u32)>,
}

/// A candidate's slot is not known (it was sampled among the keys with an expiry).
const NO_SLOT: u32 = u32::MAX;

impl Pool {
    /// Offers a sampled key: kept if the pool has room or it beats the worst entry. A key
    /// sampled twice may be kept twice, as in Redis's pool: looking for it among the
    /// entries cost more (a comparison with each per sample) than the stale entry left
    /// when its twin is evicted, which [`Engine::evict_one`] skips.
    pub fn offer(&mut self, score: u64, key: &[u8], slot: u32) {
        if self.entries.len() == POOL_SIZE {
            if self.entries[0].0 >= score {
                return;
            }
            self.entries.remove(0);
        }
        let at = self.entries.partition_point(|(s, _, _)| *s < score);
        self.entries.insert(at, (score, key.into(), slot));
        assert!(self.entries.len() <= POOL_SIZE);
    }

    /// Whether no candidate is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes the best candidate out, with its slot.
    pub fn take_best(&mut self) -> Option<(Blob, u32)> {
        self.entries.pop().map(|(_, k, slot)| (k, slot))
    }

    /// Forgets every candidate (the policy changed, or the keys went).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Eviction as the engine runs it: choosing victims and deleting them.
impl Engine {
    /// How eviction chooses keys (`maxmemory-policy` and its companions).
    pub fn set_eviction(&mut self, cfg: EvictConfig) {
        if cfg != self.evict {
            self.pool.clear();
        }
        self.evict = cfg;
    }

    /// A key's use as eviction sees it, without counting this look as a use: seconds
    /// since its last use, or its frequency counter under an LFU policy.
    pub fn key_access(&self, key: &[u8]) -> Option<u64> {
        let ks = self.keys.get(key).filter(|ks| ks.has_value())?;
        Some(if self.evict.policy.lfu() {
            u64::from(self.evict.decayed(ks.access, self.wall))
        } else {
            idle_secs(ks.access, self.wall)
        })
    }

    /// Sets a key's use as RESTORE's IDLETIME (seconds since its last use) or FREQ (its
    /// frequency counter) says, each only under the policy that reads it (as in Redis).
    pub(crate) fn set_key_access(&mut self, key: &[u8], idle: Option<u64>, freq: Option<u8>) {
        let lfu = self.evict.policy.lfu();
        let access = match (idle, freq) {
            (Some(idle), _) if !lfu => {
                let idle = u32::try_from(idle).unwrap_or(u32::MAX);
                Access(lru_clock(self.wall).wrapping_sub(idle))
            }
            (_, Some(f)) if lfu => Access(pack_lfu(minutes(self.wall), u32::from(f))),
            _ => return,
        };
        if let Some(ks) = self.keys.get_mut(key) {
            ks.access = access;
        }
    }

    /// The eviction policy in force.
    pub fn eviction_policy(&self) -> Policy {
        self.evict.policy
    }

    /// Evicts one key as the policy chooses, deleting it with an ordinary observed-remove
    /// (peers delete it too); `None` when the policy allows none.
    pub fn evict_one(&mut self) -> Option<Blob> {
        let policy = self.evict.policy;
        if policy == Policy::NoEviction || self.frozen {
            return None;
        }
        let victim = if policy.random() {
            self.random_victim(policy.volatile())
        } else {
            self.pooled_victim(policy.volatile())
        }?;
        let alone = !self.in_group();
        self.emit(&victim, OpKind::DelKey);
        self.notify(NotifyFlags::EVICTED, "evicted", &victim);
        if alone {
            self.commit();
        }
        self.stats.evicted_keys += 1;
        Some(victim)
    }

    /// A random key holding a value (with an expiry when `volatile`).
    fn random_victim(&mut self, volatile: bool) -> Option<Blob> {
        for _ in 0..POOL_SIZE {
            let r = self.random();
            let found = if volatile {
                self.expiring.random(r).map(|(k, _)| k)
            } else {
                self.keys
                    .random(r)
                    .filter(|(_, ks)| ks.has_value())
                    .map(|(k, _)| k)
            };
            if let Some(k) = found.filter(|k| self.keys.get(k).is_some_and(|ks| ks.has_value())) {
                return Some(k.into());
            }
        }
        None
    }

    /// The best candidate after sampling `maxmemory-samples` more keys into the pool.
    fn pooled_victim(&mut self, volatile: bool) -> Option<Blob> {
        let (cfg, now) = (self.evict, self.now());
        // Independent draws: Redis samples neighbouring buckets of a table in hash order,
        // which are unrelated keys; neighbouring slots here hold keys written together.
        let draws: smallvec::SmallVec<[u64; 16]> =
            (0..cfg.samples.max(1)).map(|_| self.random()).collect();
        let (keys, expiring, pool) = (&self.keys, &self.expiring, &mut self.pool);
        // Every draw's slot is asked for before any is read, so their misses overlap.
        for &r in &draws {
            if volatile {
                expiring.prefetch_random(r);
            } else {
                keys.prefetch_random(r);
            }
        }
        let fits = |ks: &KeyState| ks.has_value() && (!volatile || ks.expiry.is_some());
        let mut offered = 0;
        for r in draws {
            let drawn = if volatile {
                expiring
                    .random(r)
                    .and_then(|(k, _)| keys.get(k).map(|ks| (NO_SLOT, k, ks)))
            } else {
                keys.random_slot(r)
            };
            if let Some((slot, k, ks)) = drawn.filter(|(_, _, ks)| fits(ks)) {
                // The victim is often one of this sample: its value's register, which
                // the delete reads first, starts on its way now.
                ks.prefetch_string();
                pool.offer(cfg.score(ks.access, ks.expires_at(), now), k, slot);
                offered += 1;
            }
        }
        if offered == 0 && pool.is_empty() {
            // Every draw met entries without a value (kept for peers, say): the first
            // that has one, however far, so that writes are refused only when none has.
            let first = if volatile {
                expiring
                    .iter()
                    .find_map(|(k, _)| keys.get(k).filter(|ks| fits(ks)).map(|ks| (k, ks)))
            } else {
                keys.iter().find(|(_, ks)| fits(ks))
            };
            if let Some((k, ks)) = first {
                pool.offer(cfg.score(ks.access, ks.expires_at(), now), k, NO_SLOT);
            }
        }
        while let Some((k, slot)) = self.pool.take_best() {
            // Found in the slot it was sampled from (then the delete's lookups that
            // follow find it through the hint, without hashing; removing it from the
            // table still hashes), or looked up.
            let ks = match self.keys.entry_at(slot) {
                Some((at, ks)) if at == &k[..] => {
                    self.keys.set_hint(slot);
                    Some(ks)
                }
                _ => self.keys.get(&k),
            };
            // It may have gone, or lost its expiry, since it was sampled.
            let fits = ks.is_some_and(|ks| ks.has_value() && (!volatile || ks.expiry.is_some()));
            if fits {
                return Some(k);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip_their_names() {
        for (p, n) in Policy::ALL {
            assert_eq!(Policy::parse(n), Some(p));
            assert_eq!(Policy::parse(&n.to_uppercase()), Some(p));
            assert_eq!(p.name(), n);
        }
        assert_eq!(Policy::parse("sometimes"), None);
    }

    #[test]
    fn the_lfu_counter_grows_slowly_and_decays() {
        let c = EvictConfig {
            policy: Policy::AllKeysLfu,
            ..EvictConfig::default()
        };
        let t = 1_000_000_000_000u64;
        let mut a = c.touched(Access(0), true, t, u64::MAX);
        let mut rng = 0x1234_5678_9abc_def0u64;
        for _ in 0..10_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            a = c.touched(a, false, t, rng);
        }
        let hot = c.decayed(a, t);
        // Redis's table: factor 10 reaches about 18 after 1k hits and 142 after 100k.
        assert!((15..=60).contains(&hot), "counter {hot}");
        // Ten minutes unused: ten decrements.
        assert_eq!(c.decayed(a, t + 600_000), hot - 10);
        assert!(c.score(a, None, t) < c.score(c.touched(Access(0), true, t, 0), None, t));
    }

    #[test]
    fn the_pool_keeps_the_best_candidates() {
        let mut p = Pool::default();
        for i in 0..100u64 {
            p.offer(i % 37, format!("k{i}").as_bytes(), NO_SLOT);
        }
        assert_eq!(p.entries.len(), POOL_SIZE);
        let (best, _) = p.take_best().unwrap();
        assert!(best.starts_with(b"k36") || best.starts_with(b"k73"));
    }
}
