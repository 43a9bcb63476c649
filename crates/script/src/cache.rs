//! The script cache: compiled scripts by SHA1. Scripts loaded with SCRIPT LOAD stay until
//! SCRIPT FLUSH; those EVAL brought in are bounded, the least recently used going first,
//! so a client sending ever new script bodies cannot grow it without end. The compiled
//! functions themselves live in a Lua table (a handle per script would use up mlua's
//! reference slots); this keeps what the server needs to know of each.

use crate::flags::ScriptFlags;
// Keys are SHA1 digests (not chosen freely by clients), looked up twice per script run:
// hashbrown's default hasher, seeded per process, costs less than SipHash there.
use hashbrown::HashMap;

/// EVAL-cached scripts kept at most (as Redis 7.4 bounds them).
pub(crate) const MAX_EVAL_SCRIPTS: usize = 500;

struct Entry {
    flags: ScriptFlags,
    /// Brought in by EVAL (evictable) rather than SCRIPT LOAD.
    from_eval: bool,
    /// When it was last used, on the cache's own counter.
    used: u64,
}

/// Compiled scripts by SHA1.
#[derive(Default)]
pub(crate) struct Cache {
    scripts: HashMap<String, Entry>,
    clock: u64,
    eval_count: usize,
}

impl Cache {
    /// Marks a cached script used; its flags, or `None` when it is not cached. A script
    /// loaded explicitly is no longer evictable.
    pub fn touch(&mut self, sha: &str, from_eval: bool) -> Option<ScriptFlags> {
        self.clock += 1;
        let e = self.scripts.get_mut(sha)?;
        e.used = self.clock;
        if e.from_eval && !from_eval {
            e.from_eval = false;
            self.eval_count -= 1;
        }
        Some(e.flags)
    }

    /// Adds a compiled script; the one evicted to make room (the least recently used
    /// EVAL-cached one, past the bound).
    pub fn insert(&mut self, sha: String, flags: ScriptFlags, from_eval: bool) -> Option<String> {
        self.clock += 1;
        let mut evicted = None;
        if from_eval {
            if self.eval_count >= MAX_EVAL_SCRIPTS
                && let Some(old) = self
                    .scripts
                    .iter()
                    .filter(|(_, e)| e.from_eval)
                    .min_by_key(|(_, e)| e.used)
                    .map(|(k, _)| k.clone())
            {
                self.scripts.remove(&old);
                self.eval_count -= 1;
                evicted = Some(old);
            }
            self.eval_count += 1;
        }
        let entry = Entry {
            flags,
            from_eval,
            used: self.clock,
        };
        assert!(
            self.scripts.insert(sha, entry).is_none(),
            "a script cached twice"
        );
        evicted
    }

    /// A cached script's flags, marked used.
    pub fn get(&mut self, sha: &str) -> Option<ScriptFlags> {
        self.clock += 1;
        let e = self.scripts.get_mut(sha)?;
        e.used = self.clock;
        Some(e.flags)
    }

    /// A cached script's flags.
    pub fn flags(&self, sha: &str) -> Option<ScriptFlags> {
        self.scripts.get(sha).map(|e| e.flags)
    }

    /// How many scripts are cached.
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    /// Forgets every script.
    pub fn clear(&mut self) {
        self.scripts.clear();
        self.eval_count = 0;
    }
}
