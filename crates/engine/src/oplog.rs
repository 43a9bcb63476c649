//! The in-memory op log: groups of ops in apply order, bounded by a byte budget. It is
//! what peers will be served from (the replication backlog).

use concord_crdt::Op;
use std::collections::VecDeque;
use std::sync::Arc;

/// Applied op groups, oldest first, trimmed to a byte budget.
#[derive(Debug)]
pub struct OpLog {
    groups: VecDeque<(Arc<[Op]>, usize)>,
    bytes: usize,
    budget: usize,
    /// Groups ever appended, including trimmed ones.
    appended: u64,
}

impl OpLog {
    /// An empty log holding at most `budget` bytes (approximately).
    pub fn new(budget: usize) -> Self {
        OpLog {
            groups: VecDeque::new(),
            bytes: 0,
            budget,
            appended: 0,
        }
    }

    /// Appends a group and trims the oldest groups past the budget.
    pub fn push(&mut self, group: Arc<[Op]>) {
        let size: usize = group.iter().map(Op::size_hint).sum();
        self.groups.push_back((group, size));
        self.bytes += size;
        self.appended += 1;
        while self.bytes > self.budget && self.groups.len() > 1 {
            if let Some((_, s)) = self.groups.pop_front() {
                self.bytes -= s;
            }
        }
    }

    /// The groups held, oldest first.
    pub fn groups(&self) -> impl Iterator<Item = &Arc<[Op]>> {
        self.groups.iter().map(|(g, _)| g)
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Groups held.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Groups ever appended.
    pub fn appended(&self) -> u64 {
        self.appended
    }
}
