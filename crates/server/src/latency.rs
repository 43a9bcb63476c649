//! The latency monitor (events of at least `latency-monitor-threshold` ms, a short
//! history of each) and the per-command latency histograms LATENCY HISTOGRAM reports.

use concord_engine::LATENCY_BUCKETS;
use std::collections::BTreeMap;

/// Samples each event keeps: one per second at most, the worst of that second.
const HISTORY_LEN: usize = 160;

/// The event of a command that is not flagged fast.
pub(crate) const COMMAND: &str = "command";
/// The event of a command flagged fast.
pub(crate) const FAST_COMMAND: &str = "fast-command";

/// One sample: when (seconds since the Unix epoch) and how long (ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// Milliseconds.
    pub ms: u64,
}

/// The recent samples of one event, and its worst ever.
#[derive(Clone, Debug, Default)]
pub(crate) struct Series {
    /// Oldest first, at most [`HISTORY_LEN`].
    pub samples: std::collections::VecDeque<Sample>,
    /// The worst sample since the event was first seen (or reset).
    pub max: u64,
}

/// Every event seen, by name.
#[derive(Default)]
pub(crate) struct Monitor {
    /// The events, by name.
    pub events: BTreeMap<&'static str, Series>,
}

impl Monitor {
    /// Records that `event` took `ms` at `now` (seconds): a second already sampled keeps
    /// its worst.
    pub fn add(&mut self, event: &'static str, ms: u64, now: u64) {
        let s = self.events.entry(event).or_default();
        s.max = s.max.max(ms);
        if let Some(last) = s.samples.back_mut()
            && last.time == now
        {
            last.ms = last.ms.max(ms);
            return;
        }
        if s.samples.len() == HISTORY_LEN {
            s.samples.pop_front();
        }
        s.samples.push_back(Sample { time: now, ms });
    }

    /// Forgets the events named (case-insensitively), or every event; returns how many.
    pub fn reset(&mut self, names: Option<&[&[u8]]>) -> usize {
        let before = self.events.len();
        match names {
            None => self.events.clear(),
            Some(names) => self
                .events
                .retain(|e, _| !names.iter().any(|n| n.eq_ignore_ascii_case(e.as_bytes()))),
        }
        before - self.events.len()
    }

    /// The series of an event, by its name as a client gives it (exact, as Redis).
    pub fn get(&self, name: &[u8]) -> Option<(&'static str, &Series)> {
        self.events
            .iter()
            .find(|(e, _)| e.as_bytes() == name)
            .map(|(e, s)| (*e, s))
    }
}

/// The bucket a command run of `nanos` falls in: bucket `k` ends at the largest value
/// Redis's histogram counts as 1024·2^k ns (two significant digits), the last one
/// takes everything slower.
pub(crate) fn bucket(nanos: u64) -> usize {
    (0..LATENCY_BUCKETS)
        .find(|&k| nanos <= bucket_end_nanos(k))
        .unwrap_or(LATENCY_BUCKETS - 1)
}

/// The last nanosecond of bucket `k`.
fn bucket_end_nanos(k: usize) -> u64 {
    (1032u64 << k) - 1
}

/// Bucket `k`'s upper bound in microseconds, as LATENCY HISTOGRAM shows it.
pub(crate) fn bucket_micros(k: usize) -> u64 {
    bucket_end_nanos(k) / 1000
}

/// The sample's age as the graph labels it (`12s`, `3m`, `2h`, `1d`).
fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Columns of LATENCY GRAPH.
const GRAPH_COLS: usize = 80;
/// Rows of bars in LATENCY GRAPH.
const GRAPH_ROWS: u64 = 4;

/// LATENCY GRAPH's text: a header as Redis writes it, then one column per sample (the
/// newest on the right), bars scaled between the lowest and highest sample, each
/// labelled with its age.
pub(crate) fn graph(event: &str, s: &Series, now: u64) -> String {
    let samples: Vec<Sample> = s
        .samples
        .iter()
        .rev()
        .take(GRAPH_COLS)
        .rev()
        .copied()
        .collect();
    let high = samples.iter().map(|x| x.ms).max().unwrap_or(0);
    let low = samples.iter().map(|x| x.ms).min().unwrap_or(0);
    let mut text = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        s.max,
        "-".repeat(GRAPH_COLS)
    );
    let span = (high - low).max(1);
    for row in (1..=GRAPH_ROWS).rev() {
        let line: String = samples
            .iter()
            .map(|x| {
                // Every sample gets at least the bottom row.
                let h = 1 + (x.ms - low) * (GRAPH_ROWS - 1) / span;
                if h >= row { '#' } else { ' ' }
            })
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    let labels: Vec<String> = samples
        .iter()
        .map(|x| age(now.saturating_sub(x.time)))
        .collect();
    let widest = labels.iter().map(|l| l.len()).max().unwrap_or(0);
    for i in 0..widest {
        let line: String = labels
            .iter()
            .map(|l| l.as_bytes().get(i).map_or(' ', |&c| c as char))
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// LATENCY DOCTOR's report: what each event's samples say, and where to look next.
pub(crate) fn doctor(m: &Monitor, threshold_ms: u64, slowlog_micros: i64) -> String {
    if threshold_ms == 0 {
        return "Latency monitoring is disabled on this instance. Enable it with \
                CONFIG SET latency-monitor-threshold <milliseconds>.\n"
            .into();
    }
    if m.events.is_empty() {
        return "No latency spike was observed since this instance started (or since the \
                last LATENCY RESET).\n"
            .into();
    }
    let mut text = String::from("Latency spikes were observed on this instance:\n\n");
    for (i, (event, s)) in m.events.iter().enumerate() {
        let n = s.samples.len().max(1) as u64;
        let avg = s.samples.iter().map(|x| x.ms).sum::<u64>() / n;
        let dev = s.samples.iter().map(|x| x.ms.abs_diff(avg)).sum::<u64>() / n;
        let period = match (s.samples.front(), s.samples.back()) {
            (Some(a), Some(b)) => (b.time - a.time) as f64 / n as f64,
            _ => 0.0,
        };
        text.push_str(&format!(
            "{}. {event}: {} latency spikes (average {avg}ms, mean deviation {dev}ms, \
             period {period:.2} sec). Worst all time event {}ms.\n",
            i + 1,
            s.samples.len(),
            s.max
        ));
    }
    text.push_str("\nAdvice:\n\n");
    if m.events.contains_key(COMMAND) {
        if slowlog_micros < 0 {
            text.push_str(&format!(
                "- Slow commands were seen but the slow log is off: CONFIG SET \
                 slowlog-log-slower-than {} to find them.\n",
                threshold_ms * 1000
            ));
        } else if slowlog_micros as u64 / 1000 > threshold_ms {
            text.push_str(&format!(
                "- The slow log only keeps commands slower than the latency threshold: \
                 CONFIG SET slowlog-log-slower-than {} to see these.\n",
                threshold_ms * 1000
            ));
        }
        text.push_str(
            "- SLOWLOG GET shows which commands were slow; commands over large values \
             (big sets, sorted sets, lists) take time in proportion to their size.\n",
        );
    }
    if m.events.contains_key(FAST_COMMAND) {
        text.push_str(
            "- Commands that should take constant time were slow: the machine may not \
             give this instance enough CPU time (other processes, a busy virtual host).\n",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_redis_bounds() {
        let shown: Vec<u64> = (0..LATENCY_BUCKETS).map(bucket_micros).collect();
        assert_eq!(&shown[..6], &[1, 2, 4, 8, 16, 33]);
        assert_eq!(shown[8], 264);
        assert_eq!(shown[11], 2113);
        assert_eq!(shown[LATENCY_BUCKETS - 1], 1_082_130);
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1031), 0);
        assert_eq!(bucket(1032), 1);
        assert_eq!(bucket(u64::MAX), LATENCY_BUCKETS - 1);
    }

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let mut m = Monitor::default();
        m.add(COMMAND, 5, 100);
        m.add(COMMAND, 9, 100);
        m.add(COMMAND, 3, 100);
        m.add(COMMAND, 2, 101);
        let (_, s) = m.get(b"command").expect("event");
        assert_eq!(
            s.samples.iter().copied().collect::<Vec<_>>(),
            [Sample { time: 100, ms: 9 }, Sample { time: 101, ms: 2 }]
        );
        assert_eq!(s.max, 9);
        for t in 0..500 {
            m.add(FAST_COMMAND, 1, t);
        }
        assert_eq!(m.events[FAST_COMMAND].samples.len(), HISTORY_LEN);
        assert_eq!(m.reset(Some(&[b"COMMAND", b"nope"])), 1);
        assert_eq!(m.reset(None), 1);
    }

    #[test]
    fn the_graph_has_redis_header() {
        let mut m = Monitor::default();
        m.add(COMMAND, 5, 100);
        m.add(COMMAND, 50, 160);
        let g = graph(COMMAND, &m.events[COMMAND], 200);
        assert!(g.starts_with("command - high 50 ms, low 5 ms (all time high 50 ms)\n"));
        assert!(g.contains("#"));
        assert!(!doctor(&m, 1, 10_000).is_empty());
    }
}
