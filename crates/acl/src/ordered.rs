//! An insertion-ordered map with logarithmic lookup, insertion and removal. Rules keep
//! passwords, patterns and command rules in the order they were given (describing a user
//! shows them in that order), and Redis's linear searches of those lists would make a long
//! rule list quadratic.

use std::collections::BTreeMap;

/// Entries in insertion order, indexed by key.
#[derive(Clone, Debug)]
pub(crate) struct OrderedMap<K: Ord + Clone, V> {
    entries: BTreeMap<u64, (K, V)>,
    index: BTreeMap<K, u64>,
    next: u64,
}

impl<K: Ord + Clone, V> Default for OrderedMap<K, V> {
    fn default() -> Self {
        OrderedMap {
            entries: BTreeMap::new(),
            index: BTreeMap::new(),
            next: 0,
        }
    }
}

impl<K: Ord + Clone, V> OrderedMap<K, V> {
    /// The value of a key.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let seq = self.index.get(key)?;
        self.entries.get_mut(seq).map(|(_, v)| v)
    }

    /// Whether the key is present.
    pub(crate) fn contains(&self, key: &K) -> bool {
        self.index.contains_key(key)
    }

    /// Adds a key at the end; the caller made sure it is absent.
    pub(crate) fn push(&mut self, key: K, value: V) {
        assert!(!self.index.contains_key(&key), "push of a present key");
        let seq = self.next;
        // u64 sequence numbers do not run out: one per rule ever applied.
        self.next += 1;
        self.index.insert(key.clone(), seq);
        self.entries.insert(seq, (key, value));
    }

    /// Removes a key, returning its value.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let seq = self.index.remove(key)?;
        self.entries.remove(&seq).map(|(_, v)| v)
    }

    /// Removes everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.index.clear();
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.values().map(|(k, v)| (k, v))
    }
}

/// Equal when the same entries come in the same order (sequence numbers do not count).
impl<K: Ord + Clone, V: PartialEq> PartialEq for OrderedMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: Ord + Clone, V: Eq> Eq for OrderedMap<K, V> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_removals() {
        let mut m = OrderedMap::default();
        m.push("a", 1);
        m.push("b", 2);
        m.push("c", 3);
        assert_eq!(m.remove(&"b"), Some(2));
        assert_eq!(m.remove(&"b"), None);
        m.push("b", 4);
        *m.get_mut(&"a").unwrap() = 5;
        assert!(m.contains(&"c"));
        let v: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(v, [("a", 5), ("c", 3), ("b", 4)]);
        let mut other = OrderedMap::default();
        other.push("a", 5);
        other.push("c", 3);
        other.push("b", 4);
        assert_eq!(m, other);
        m.clear();
        assert!(m.is_empty());
    }
}
