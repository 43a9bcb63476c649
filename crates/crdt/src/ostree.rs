//! An order-statistic treap over (score, member): rank, select and ranges in O(log n).

use std::cmp::Ordering;

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    score: f64,
    member: Box<[u8]>,
    prio: u32,
    left: u32,
    right: u32,
    size: u32,
}

/// Sorted-set order: by score (-0 equal to 0, as Redis compares), then by member bytes.
pub fn cmp_entry(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    let by_score = if a.0 == b.0 {
        Ordering::Equal
    } else {
        a.0.total_cmp(&b.0)
    };
    by_score.then_with(|| a.1.cmp(b.1))
}

/// A set of (score, member) entries kept in sorted-set order, with ranks.
#[derive(Clone, Debug)]
pub struct OsTree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    seed: u64,
}

impl Default for OsTree {
    fn default() -> Self {
        OsTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            // Priorities nobody can predict: a client choosing the order of its members
            // cannot make the tree deep (split and merge recurse along its depth).
            seed: std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u8) | 1,
        }
    }
}

impl OsTree {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    fn size(&self, t: u32) -> u32 {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size
        }
    }

    fn fix(&mut self, t: u32) {
        let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        self.nodes[t as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn key(&self, t: u32) -> (f64, &[u8]) {
        let n = &self.nodes[t as usize];
        (n.score, &n.member)
    }

    fn prio(&mut self) -> u32 {
        // xorshift: priorities only need to look random, not be secret.
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed = x;
        (x >> 32) as u32
    }

    /// Splits `t` into (entries where `left(e)` holds, the rest); `left` must be monotone.
    fn split(&mut self, t: u32, left: &impl Fn((f64, &[u8])) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if left(self.key(t)) {
            let r = self.nodes[t as usize].right;
            let (a, b) = self.split(r, left);
            self.nodes[t as usize].right = a;
            self.fix(t);
            (t, b)
        } else {
            let l = self.nodes[t as usize].left;
            let (a, b) = self.split(l, left);
            self.nodes[t as usize].left = b;
            self.fix(t);
            (a, t)
        }
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.nodes[a as usize].right;
            let m = self.merge(r, b);
            self.nodes[a as usize].right = m;
            self.fix(a);
            a
        } else {
            let l = self.nodes[b as usize].left;
            let m = self.merge(a, l);
            self.nodes[b as usize].left = m;
            self.fix(b);
            b
        }
    }

    /// Inserts an entry (the caller makes sure the member is not present).
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let prio = self.prio();
        let node = Node {
            score,
            member: member.into(),
            prio,
            left: NIL,
            right: NIL,
            size: 1,
        };
        let id = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 entries")
            }
        };
        self.attach(id);
    }

    /// Removes an entry; returns whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let Some(id) = self.detach(score, member) else {
            return false;
        };
        self.nodes[id as usize].member = Box::default();
        self.free.push(id);
        if self.root == NIL {
            self.nodes.clear();
            self.free.clear();
        }
        true
    }

    /// Moves an entry from score `was` to score `now`, keeping its node (and its member's
    /// bytes); returns whether it was there.
    pub fn rescore(&mut self, was: f64, now: f64, member: &[u8]) -> bool {
        let Some(id) = self.detach(was, member) else {
            return false;
        };
        self.nodes[id as usize].score = now;
        self.attach(id);
        true
    }

    /// Sets the child of `parent` on the side `left` (the root when `parent` is NIL).
    fn link(&mut self, parent: u32, left: bool, child: u32) {
        if parent == NIL {
            self.root = child;
        } else if left {
            self.nodes[parent as usize].left = child;
        } else {
            self.nodes[parent as usize].right = child;
        }
    }

    /// Puts the lone node `id` in its place: down the path of its key while the nodes
    /// there have higher priority (each gains one entry below it), then in the place of
    /// the subtree it reaches, split around it. One descent; the split is of a subtree that
    /// is small on average.
    fn attach(&mut self, id: u32) {
        let prio = self.nodes[id as usize].prio;
        let (mut parent, mut left) = (NIL, false);
        let mut t = self.root;
        while t != NIL && self.nodes[t as usize].prio >= prio {
            self.nodes[t as usize].size += 1;
            parent = t;
            left = cmp_entry(self.key(id), self.key(t)) == Ordering::Less;
            let n = &self.nodes[t as usize];
            t = if left { n.left } else { n.right };
        }
        // The node is not in the subtree split: its member is lent to the split's test.
        let score = self.nodes[id as usize].score;
        let member = std::mem::take(&mut self.nodes[id as usize].member);
        let (a, b) = self.split(t, &|k| cmp_entry(k, (score, &member)) == Ordering::Less);
        let n = &mut self.nodes[id as usize];
        n.member = member;
        n.left = a;
        n.right = b;
        self.fix(id);
        self.link(parent, left, id);
    }

    /// Takes the node of an entry out of the tree (its children merged in its place) and
    /// returns it, or `None` when the entry is absent.
    fn detach(&mut self, score: f64, member: &[u8]) -> Option<u32> {
        let key = (score, member);
        // Found first, so that the sizes are only lowered on the way to an entry that is
        // there; the path is kept for that.
        let mut path: smallvec::SmallVec<[(u32, bool); 48]> = smallvec::SmallVec::new();
        let mut t = self.root;
        loop {
            if t == NIL {
                return None;
            }
            match cmp_entry(key, self.key(t)) {
                Ordering::Equal => break,
                o => {
                    let left = o == Ordering::Less;
                    path.push((t, left));
                    let n = &self.nodes[t as usize];
                    t = if left { n.left } else { n.right };
                }
            }
        }
        for &(p, _) in &path {
            self.nodes[p as usize].size -= 1;
        }
        let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        let merged = self.merge(l, r);
        let (parent, left) = path.last().copied().unwrap_or((NIL, false));
        self.link(parent, left, merged);
        let n = &mut self.nodes[t as usize];
        n.left = NIL;
        n.right = NIL;
        n.size = 1;
        Some(t)
    }

    /// How many entries satisfy `below` (a predicate true for a prefix of the order).
    pub fn count_below(&self, below: impl Fn((f64, &[u8])) -> bool) -> usize {
        let mut t = self.root;
        let mut n = 0usize;
        while t != NIL {
            let node = &self.nodes[t as usize];
            if below((node.score, &node.member)) {
                n += self.size(node.left) as usize + 1;
                t = node.right;
            } else {
                t = node.left;
            }
        }
        n
    }

    /// The 0-based rank of an entry.
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        self.count_below(|k| cmp_entry(k, (score, member)) == Ordering::Less)
    }

    /// The entry at 0-based rank `i`.
    pub fn nth(&self, mut i: usize) -> Option<(f64, &[u8])> {
        let mut t = self.root;
        while t != NIL {
            let node = &self.nodes[t as usize];
            let ls = self.size(node.left) as usize;
            match i.cmp(&ls) {
                Ordering::Less => t = node.left,
                Ordering::Equal => return Some((node.score, &node.member)),
                Ordering::Greater => {
                    i -= ls + 1;
                    t = node.right;
                }
            }
        }
        None
    }

    /// Visits the entries at positions `start..end` of the order (of the reversed order
    /// when `rev`), stopping when `f` returns false.
    pub fn walk(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(f64, &[u8]) -> bool) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        // An explicit in-order walk from `start`: O(log n + k).
        let mut stack: Vec<u32> = Vec::new();
        let mut t = self.root;
        let mut skip = start;
        let mut left = end - start;
        // Descend to the first entry to visit, remembering the path.
        while t != NIL {
            let node = &self.nodes[t as usize];
            let (near, far) = if rev {
                (node.right, node.left)
            } else {
                (node.left, node.right)
            };
            let ns = self.size(near) as usize;
            if skip < ns {
                stack.push(t);
                t = near;
            } else if skip == ns {
                stack.push(t);
                break;
            } else {
                skip -= ns + 1;
                t = far;
            }
        }
        while let Some(t) = stack.pop() {
            let node = &self.nodes[t as usize];
            if !f(node.score, &node.member) {
                return;
            }
            left -= 1;
            if left == 0 {
                return;
            }
            let mut c = if rev { node.left } else { node.right };
            while c != NIL {
                stack.push(c);
                let n = &self.nodes[c as usize];
                c = if rev { n.right } else { n.left };
            }
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        *self = OsTree::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Debug)]
    struct K(i64, Vec<u8>);

    proptest! {
        /// Rank, select and walks agree with a sorted model.
        #[test]
        fn matches_a_sorted_model(ops in proptest::collection::vec((any::<bool>(), -20i64..20, 0u8..6), 1..300)) {
            let mut t = OsTree::default();
            let mut model: BTreeSet<K> = BTreeSet::new();
            for (add, s, m) in ops {
                let member = vec![b'a' + m];
                // One score per member, as in a sorted set.
                let existing = model.iter().find(|k| k.1 == member).cloned();
                match (existing, add) {
                    // A new score for a member moves its node.
                    (Some(k), true) => {
                        prop_assert!(t.rescore(k.0 as f64, s as f64, &member));
                        model.remove(&k);
                        model.insert(K(s, member));
                    }
                    (Some(k), false) => {
                        prop_assert!(t.remove(k.0 as f64, &k.1));
                        prop_assert!(!t.remove(k.0 as f64, &k.1));
                        model.remove(&k);
                    }
                    (None, true) => {
                        prop_assert!(!t.rescore(s as f64, 0.0, &member));
                        t.insert(s as f64, &member);
                        model.insert(K(s, member));
                    }
                    (None, false) => prop_assert!(!t.remove(s as f64, &member)),
                }
                prop_assert_eq!(t.len(), model.len());
            }
            let sorted: Vec<K> = model.iter().cloned().collect();
            for (i, k) in sorted.iter().enumerate() {
                prop_assert_eq!(t.rank(k.0 as f64, &k.1), i);
                let (s, m) = t.nth(i).unwrap();
                prop_assert_eq!((s as i64, m.to_vec()), (k.0, k.1.clone()));
            }
            let n = sorted.len();
            for start in 0..=n {
                for end in start..=n {
                    let mut got = Vec::new();
                    t.walk(start, end, false, |s, m| { got.push(K(s as i64, m.to_vec())); true });
                    prop_assert_eq!(&got[..], &sorted[start..end]);
                    let mut rgot = Vec::new();
                    t.walk(start, end, true, |s, m| { rgot.push(K(s as i64, m.to_vec())); true });
                    let mut want: Vec<K> = sorted.iter().rev().cloned().collect();
                    want = want[start..end].to_vec();
                    prop_assert_eq!(rgot, want);
                }
            }
        }
    }
}
