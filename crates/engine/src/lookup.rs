//! Looking keys up as commands see them: expiry hides or deletes a key, hits and misses
//! are counted, a use is recorded for eviction; and the active expiry that samples keys.

use crate::{Engine, NotifyFlags};
use concord_crdt::{Blob, KeyState, Kind, OpKind};

impl Engine {
    /// The state of `key` if it is visible now. An expired key is deleted here when this
    /// instance is the one that deletes it (or `for_write`), and hidden otherwise.
    pub fn lookup(&mut self, key: &[u8], for_write: bool) -> Option<&KeyState> {
        self.lookup_with(key, for_write, true)
    }

    /// Like [`Engine::lookup`], without counting as a use of the key (OBJECT, as
    /// Redis's LOOKUP_NOTOUCH).
    pub fn lookup_quiet(&mut self, key: &[u8]) -> Option<&KeyState> {
        self.lookup_with(key, false, false)
    }

    fn lookup_with(&mut self, key: &[u8], for_write: bool, touch: bool) -> Option<&KeyState> {
        if self.merging.is_some() {
            self.ensure_merged(key);
        }
        // OBJECT's quiet look announces no miss, as Redis's LOOKUP_NONOTIFY.
        let notify_miss = touch && !for_write;
        // A read command's lookups count as keyspace hits and misses (Redis counts those
        // of lookupKeyRead, not a write's).
        let counted = self.reading && !for_write;
        let now = self.now();
        // One look at the key: expired (and who deletes it), present, or absent.
        let found = match self.keys.get(key) {
            None => return self.missed(key, notify_miss, counted),
            Some(ks) => match ks.expires_at() {
                Some(at) if at <= now => Err(ks.expiry_owner()),
                _ => Ok(ks.has_value()),
            },
        };
        match found {
            Err(owner) => {
                if !self.frozen
                    && !self.expiry_held
                    && (for_write || self.peers == 0 || owner == Some(self.origin.id))
                {
                    self.expire_key(key);
                }
                return self.missed(key, notify_miss, counted);
            }
            Ok(false) => return self.missed(key, notify_miss, counted),
            Ok(true) => {}
        }
        self.stats.keyspace_hits += u64::from(counted);
        if !touch {
            return self.keys.get(key);
        }
        let r = if self.evict.policy.lfu() {
            self.random()
        } else {
            0
        };
        let (cfg, wall) = (self.evict, self.wall);
        let ks = self.keys.get_mut(key)?;
        ks.access = cfg.touched(ks.access, false, wall, r);
        Some(ks)
    }

    /// A lookup found nothing: a read command's miss is a `keymiss` event (`notify`: the
    /// lookup may announce one) and, when `counted`, a keyspace miss.
    fn missed(&mut self, key: &[u8], notify: bool, counted: bool) -> Option<&KeyState> {
        if notify && self.reading {
            self.notify(NotifyFlags::KEY_MISS, "keymiss", key);
        }
        self.stats.keyspace_misses += u64::from(counted);
        None
    }

    /// The visible type of `key`.
    pub fn kind_of(&mut self, key: &[u8]) -> Option<Kind> {
        self.lookup(key, false).and_then(|k| k.visible())
    }

    /// Deletes an expired key with an ordinary observed-remove. A read that notices it
    /// commits the delete as its own group; inside a write it joins the writer's group, so
    /// the group's sequence numbers stay consecutive (peers apply groups whole, in order).
    fn expire_key(&mut self, key: &[u8]) {
        let alone = !self.in_group();
        self.emit(key, OpKind::DelKey);
        self.notify(NotifyFlags::EXPIRED, "expired", key);
        if alone {
            self.commit();
        }
        self.stats.expired_keys += 1;
    }

    /// Active expiry: samples keys with an expiry and deletes the expired ones. Returns how
    /// many were deleted; `budget` bounds the keys looked at.
    pub fn active_expire(&mut self, budget: usize) -> usize {
        let mut deleted = 0;
        for _ in 0..budget {
            let r = self.random();
            let Some((k, _)) = self.expiring.random(r) else {
                break;
            };
            let k: Blob = k.into();
            if self.lookup(&k, false).is_none() && !self.keys.contains_key(&k) {
                deleted += 1;
            }
            if self.keys.get(&k).is_none_or(|ks| ks.expiry.is_none()) {
                self.expiring.remove_value(&k);
            }
        }
        deleted
    }
}
