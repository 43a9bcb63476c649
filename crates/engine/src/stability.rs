//! Stability: the concurrency metadata every member has seen is folded away, in passes
//! over the keys that wait for it (docs/REPLICATION.md, "Stability").

use super::*;

impl Engine {
    /// Folds away concurrency metadata that every member has seen: `stable` is what all
    /// members reported as applied (docs/REPLICATION.md, "Stability"). Looks at most `budget` keys;
    /// returns how many keys are still waiting for stability.
    pub fn compact_stable(&mut self, stable: &VersionVector, budget: usize) -> usize {
        if self.merging.is_some() || self.streaming.is_some() {
            // Folding changes a state's form: not while a merge or a stream reads them.
            return self.unstable.len();
        }
        if self.unstable.is_empty() {
            self.shrink_unstable();
            return 0;
        }
        let mut ready: Vec<Blob> = Vec::new();
        let mut cursor = self.compact_cursor;
        let mut looked = 0;
        while looked < budget {
            cursor = self.unstable.scan(cursor, 64, |k, dots| {
                looked += 1;
                if dots.iter().all(|d| stable.contains(d)) {
                    ready.push(k.into());
                }
            });
            if cursor == 0 {
                break;
            }
        }
        self.compact_cursor = cursor;
        for (i, k) in ready.iter().enumerate() {
            if i % PREFETCH_KEYS == 0 {
                // The next keys' slots, so their cache misses overlap.
                let next = ready[i..].iter().take(PREFETCH_KEYS).map(|k| &k[..]);
                self.keys.prefetch_many(next.clone());
                self.unstable.prefetch_many(next);
            }
            self.unstable.remove_value(k);
            let Some(ks) = self.keys.get_mut(k) else {
                continue;
            };
            let was_expiring = ks.expiry.is_some() && ks.has_value();
            ks.compact(stable);
            let dead = ks.is_dead();
            let expiring = ks.expiry.is_some() && ks.has_value();
            if dead {
                self.keys.remove_value(k);
            }
            if expiring != was_expiring && !expiring {
                self.expiring.remove_value(k);
            }
        }
        self.shrink_unstable();
        self.unstable.len()
    }

    /// Frees the set of keys awaiting stability once it is empty and large: sized by a
    /// burst of writes (a load marks every key it writes), it would otherwise hold that
    /// memory until the next burst.
    fn shrink_unstable(&mut self) {
        if self.unstable.is_empty() && self.unstable.slot_count() > UNSTABLE_KEEP_SLOTS {
            self.unstable = ScanMap::new();
            self.compact_cursor = 0;
        }
    }

    /// Whether a pass of stability compaction stopped part way through the keys.
    pub fn compact_pass_open(&self) -> bool {
        self.compact_cursor != 0
    }

    /// Keys whose metadata waits for stability.
    pub fn unstable_count(&self) -> usize {
        self.unstable.len()
    }
}
