//! When this instance's own writes were made, coarsely: enough to tell how long a peer
//! has lacked the oldest of them that it has not reported applying (`pending_ms`).

use std::collections::VecDeque;

/// Samples kept at most; past it every second one goes (the oldest and newest stay), so
/// a link cut for days costs bounded memory and only loses resolution.
const MAX_SAMPLES: usize = 1024;

/// `(count, ms)` samples: by time `ms` this instance had made `count` writes of its own
/// (counted across its incarnations), taken once per upkeep tick when the count moved.
#[derive(Debug, Default)]
pub(crate) struct OwnWrites {
    samples: VecDeque<(u64, u64)>,
}

impl OwnWrites {
    /// Records that `count` own writes were made by `now`.
    pub(crate) fn note(&mut self, count: u64, now: u64) {
        if self.samples.back().is_some_and(|&(c, _)| c >= count) {
            return;
        }
        if self.samples.len() >= MAX_SAMPLES {
            let last = self.samples.len() - 1;
            let mut i = 0;
            self.samples.retain(|_| {
                i += 1;
                (i - 1) % 2 == 0 || i - 1 == last
            });
        }
        self.samples.push_back((count, now));
        assert!(self.samples.len() <= MAX_SAMPLES, "samples stay bounded");
    }

    /// How long (ms) a peer that applied `applied` of them has lacked the next one: since
    /// the first sample past `applied` (0 when no sample is past it yet).
    pub(crate) fn lacking_for(&self, applied: u64, now: u64) -> u64 {
        // Samples are increasing in count: the first past `applied` by binary search.
        let i = self.samples.partition_point(|&(c, _)| c <= applied);
        self.samples
            .get(i)
            .map_or(0, |&(_, t)| now.saturating_sub(t))
    }

    /// Forgets the samples of writes every peer has applied (`applied` is the least any
    /// peer reported): they can no longer answer anything.
    pub(crate) fn forget_up_to(&mut self, applied: u64) {
        while self.samples.front().is_some_and(|&(c, _)| c <= applied) {
            self.samples.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_that_keeps_up_lacks_only_the_newest_writes() {
        let mut w = OwnWrites::default();
        for t in 0..100u64 {
            w.note(t * 10, t * 100);
        }
        // Applied everything up to 970 at 9,950 ms: the first sample past it is 980 at
        // 9,800 ms, so it has lacked writes for 150 ms, not since the start.
        assert_eq!(w.lacking_for(970, 9_950), 150);
        assert_eq!(w.lacking_for(990, 9_950), 0);
        // A peer stuck at 100 has lacked writes since the sample of 110.
        assert_eq!(w.lacking_for(100, 9_950), 9_950 - 1_100);
    }

    #[test]
    fn samples_stay_bounded_and_keep_the_oldest() {
        let mut w = OwnWrites::default();
        for i in 1..=10 * MAX_SAMPLES as u64 {
            w.note(i, i);
        }
        assert!(w.samples.len() <= MAX_SAMPLES);
        assert_eq!(w.samples.front(), Some(&(1, 1)));
        let last = 10 * MAX_SAMPLES as u64;
        assert_eq!(w.samples.back(), Some(&(last, last)));
        // Coarser, still an answer no later than the truth.
        assert!(w.lacking_for(0, last) >= last - 1);
        w.forget_up_to(last / 2);
        assert!(w.samples.front().is_some_and(|&(c, _)| c > last / 2));
        assert!(w.lacking_for(last / 2, last + 5) <= last / 2 + 5);
    }
}
