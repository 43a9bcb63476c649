//! Client-side caching on the engine's side: while some client tracks keys, every key an
//! applied op changes (a command, a script, expiry, eviction, a peer's write) is recorded
//! for the server to invalidate. The engine only records; who tracks what is the
//! server's.

use crate::Engine;

/// One recorded change, in order.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// A key changed: it ends at this offset of [`Modified::keys`].
    Key(usize),
    /// Everything may have changed (FLUSHALL, local or from a peer).
    Flush,
}

/// Changes to announce, oldest first: keys share one byte buffer, so recording one
/// allocates nothing once the buffers have grown.
#[derive(Debug, Default)]
pub(crate) struct Modified {
    changes: Vec<Change>,
    keys: Vec<u8>,
}

impl Modified {
    fn clear(&mut self) {
        self.changes.clear();
        self.keys.clear();
    }
}

impl Engine {
    /// Turns recording of changed keys on (some client tracks keys) or off.
    pub fn set_tracking(&mut self, on: bool) {
        self.tracking = on;
        if !on {
            self.modified.clear();
        }
    }

    /// Whether some client tracks keys (changed keys are recorded).
    #[inline]
    pub fn tracking(&self) -> bool {
        self.tracking
    }

    /// Whether changed keys wait to be announced.
    pub fn has_modified(&self) -> bool {
        !self.modified.changes.is_empty()
    }

    /// Hands the recorded changes to `f`, oldest first (`None`: everything, a flush), and
    /// drops them.
    pub fn take_modified(&mut self, mut f: impl FnMut(Option<&[u8]>)) {
        let mut start = 0;
        for c in &self.modified.changes {
            match *c {
                Change::Key(end) => {
                    f(Some(&self.modified.keys[start..end]));
                    start = end;
                }
                Change::Flush => f(None),
            }
        }
        self.modified.clear();
    }

    /// Records that `key` changed, when some client tracks keys (one branch otherwise).
    #[inline]
    pub(crate) fn track_change(&mut self, key: &[u8]) {
        if self.tracking {
            self.modified.keys.extend_from_slice(key);
            let end = self.modified.keys.len();
            self.modified.changes.push(Change::Key(end));
        }
    }

    /// Records a flush of everything, when some client tracks keys.
    pub(crate) fn track_flush(&mut self) {
        if self.tracking {
            self.modified.changes.push(Change::Flush);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Engine;
    use crate::notify::tests::run;

    fn changes(e: &mut Engine) -> Vec<String> {
        let mut v = Vec::new();
        e.take_modified(|k| {
            v.push(k.map_or("*".into(), |k| String::from_utf8_lossy(k).into_owned()))
        });
        v
    }

    #[test]
    fn writes_and_flushes_are_recorded_only_while_tracking() {
        let mut e = Engine::new(crate::EngineConfig::default());
        run(&mut e, &["set", "a", "1"]);
        assert!(!e.has_modified());
        e.set_tracking(true);
        run(&mut e, &["set", "a", "2"]);
        run(&mut e, &["get", "a"]);
        run(&mut e, &["del", "a", "nope"]);
        run(&mut e, &["flushall"]);
        run(&mut e, &["rpush", "l", "x"]);
        assert_eq!(changes(&mut e), ["a", "a", "*", "l"]);
        e.set_tracking(false);
        run(&mut e, &["set", "a", "3"]);
        assert!(!e.has_modified());
    }

    #[test]
    fn a_peers_writes_are_recorded() {
        let (mut a, mut b) = crate::cmd::peered_pair();
        b.set_tracking(true);
        run(&mut a, &["hset", "h", "f", "v"]);
        for g in a.log().groups().map(|g| g.decode()).collect::<Vec<_>>() {
            assert_eq!(b.apply_remote(&std::sync::Arc::from(g)).ok(), Some(true));
        }
        // A write that creates a key is two ops (its expiry, then its value): the key is
        // recorded for each; the second invalidation finds nothing left to tell.
        let mut got = changes(&mut b);
        got.dedup();
        assert_eq!(got, ["h"]);
    }
}
