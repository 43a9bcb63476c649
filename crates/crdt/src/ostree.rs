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
            seed: 0x2545_F491_4F6C_DD1D,
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
                (self.nodes.len() - 1) as u32
            }
        };
        let (a, b) = self.split(self.root, &|k| {
            cmp_entry(k, (score, member)) == Ordering::Less
        });
        let m = self.merge(a, id);
        self.root = self.merge(m, b);
    }

    /// Removes an entry; returns whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let (a, b) = self.split(self.root, &|k| {
            cmp_entry(k, (score, member)) == Ordering::Less
        });
        let (mid, c) = self.split(b, &|k| cmp_entry(k, (score, member)) != Ordering::Greater);
        let found = mid != NIL;
        if found {
            debug_assert_eq!(self.size(mid), 1);
            self.nodes[mid as usize].member = Box::default();
            self.free.push(mid);
        }
        self.root = self.merge(a, c);
        if self.root == NIL {
            self.nodes.clear();
            self.free.clear();
        }
        found
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
                if let Some(k) = existing {
                    prop_assert!(t.remove(k.0 as f64, &k.1));
                    model.remove(&k);
                }
                if add {
                    t.insert(s as f64, &member);
                    model.insert(K(s, member));
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
