//! The slow log: the latest commands that ran longer than `slowlog-log-slower-than`,
//! kept as Redis keeps them (arguments cut to 32, each to 128 bytes).

use bytes::Bytes;
use std::collections::VecDeque;

/// Arguments an entry keeps; past them the last one says how many more there were.
const MAX_ARGS: usize = 32;
/// Bytes an argument keeps; past them it says how many more there were.
const MAX_ARG_BYTES: usize = 128;

/// One slow command.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Its number, counting from 0 since the start.
    pub id: u64,
    /// When it ran (seconds since the Unix epoch).
    pub time: u64,
    /// How long it ran, in microseconds.
    pub micros: u64,
    /// Its arguments, cut as Redis cuts them.
    pub args: Vec<Bytes>,
    /// The client's address (`ip:port`).
    pub addr: String,
    /// The client's name.
    pub name: Bytes,
}

/// The slow log, newest entry first.
#[derive(Default)]
pub(crate) struct SlowLog {
    entries: VecDeque<Entry>,
    next_id: u64,
}

/// An argument as an entry keeps it.
fn cut(arg: &[u8]) -> Bytes {
    if arg.len() <= MAX_ARG_BYTES {
        return Bytes::copy_from_slice(arg);
    }
    let mut v = arg[..MAX_ARG_BYTES].to_vec();
    v.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_ARG_BYTES).as_bytes());
    Bytes::from(v)
}

/// The arguments an entry keeps.
pub(crate) fn kept_args(args: &[impl AsRef<[u8]>]) -> Vec<Bytes> {
    if args.len() <= MAX_ARGS {
        return args.iter().map(|a| cut(a.as_ref())).collect();
    }
    let mut v: Vec<Bytes> = args[..MAX_ARGS - 1]
        .iter()
        .map(|a| cut(a.as_ref()))
        .collect();
    v.push(Bytes::from(format!(
        "... ({} more arguments)",
        args.len() - MAX_ARGS + 1
    )));
    v
}

impl SlowLog {
    /// Adds an entry (its id is given here), then keeps at most `max_len`.
    pub fn push(&mut self, mut e: Entry, max_len: u64) {
        e.id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(e);
        let max = usize::try_from(max_len).unwrap_or(usize::MAX);
        self.entries.truncate(max);
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forgets every entry (ids go on counting).
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// The newest `n` entries, newest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = &Entry> {
        self.entries.iter().take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            id: 0,
            time: 1,
            micros: 2,
            args: Vec::new(),
            addr: "127.0.0.1:1".into(),
            name: Bytes::new(),
        }
    }

    #[test]
    fn arguments_are_cut_as_redis_cuts_them() {
        let long = vec![b'x'; 130];
        let v = kept_args(&[b"set".to_vec(), long]);
        assert_eq!(&v[1][..128], &[b'x'; 128][..]);
        assert_eq!(&v[1][128..], b"... (2 more bytes)");
        let many: Vec<Vec<u8>> = (0..40).map(|i| i.to_string().into_bytes()).collect();
        let v = kept_args(&many);
        assert_eq!(v.len(), 32);
        assert_eq!(&v[30][..], b"30");
        assert_eq!(&v[31][..], b"... (9 more arguments)");
        assert_eq!(kept_args(&many[..32]).len(), 32);
    }

    #[test]
    fn the_log_keeps_the_newest_and_counts_on() {
        let mut log = SlowLog::default();
        for _ in 0..5 {
            log.push(entry(), 3);
        }
        assert_eq!(log.len(), 3);
        let ids: Vec<u64> = log.newest(10).map(|e| e.id).collect();
        assert_eq!(ids, [4, 3, 2]);
        log.reset();
        assert_eq!(log.len(), 0);
        log.push(entry(), 0);
        assert_eq!(log.len(), 0);
        log.push(entry(), 3);
        assert_eq!(log.newest(1).next().map(|e| e.id), Some(6));
    }
}
