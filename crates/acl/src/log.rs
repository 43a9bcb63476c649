//! `ACL LOG`: a bounded list of recent denials and failed authentications, newest first,
//! with repeats of a recent entry counted on it rather than logged again.

use std::collections::VecDeque;

use crate::check::DeniedReason;

/// Entries more than this apart (in milliseconds) are not grouped.
const GROUPING_MAX_DELTA_MS: i64 = 60_000;

/// How many of the newest entries a new event is compared with.
const GROUPING_SCAN: usize = 10;

/// `acllog-max-len`'s default.
pub const DEFAULT_LOG_MAX_LEN: usize = 128;

/// What was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogReason {
    /// AUTH or HELLO AUTH failed.
    Auth,
    /// A command.
    Command,
    /// A key.
    Key,
    /// A channel.
    Channel,
}

impl LogReason {
    /// The `reason` field.
    pub fn name(self) -> &'static str {
        match self {
            LogReason::Auth => "auth",
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
        }
    }
}

impl From<DeniedReason> for LogReason {
    fn from(r: DeniedReason) -> LogReason {
        match r {
            DeniedReason::Command => LogReason::Command,
            DeniedReason::Key => LogReason::Key,
            DeniedReason::Channel => LogReason::Channel,
        }
    }
}

/// Where the refused command came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogContext {
    /// Sent by the client.
    Toplevel,
    /// Queued in MULTI or run by EXEC.
    Multi,
    /// Called by a script.
    Lua,
    /// Called by a module.
    Module,
}

impl LogContext {
    /// The `context` field.
    pub fn name(self) -> &'static str {
        match self {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
            LogContext::Module => "module",
        }
    }
}

/// A denial or authentication failure to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    /// What was refused.
    pub reason: LogReason,
    /// Where from.
    pub context: LogContext,
    /// The command's full name, the key, the channel, or for AUTH the command name as
    /// sent (`AUTH`, `HELLO`).
    pub object: Vec<u8>,
    /// The user the client is authenticated as, or for AUTH the name it tried.
    pub username: Vec<u8>,
    /// CLIENT LIST's line for the client.
    pub client_info: Vec<u8>,
}

/// One entry of `ACL LOG`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// How many times it happened.
    pub count: u64,
    /// What was refused.
    pub reason: LogReason,
    /// Where from.
    pub context: LogContext,
    /// The command, key, channel or AUTH command.
    pub object: Vec<u8>,
    /// The user.
    pub username: Vec<u8>,
    /// The client of the latest occurrence.
    pub client_info: Vec<u8>,
    /// Sequence number of the entry (with `timestamp_created`, unique across restarts).
    pub entry_id: u64,
    /// Unix time in milliseconds of the first occurrence.
    pub timestamp_created: i64,
    /// Unix time in milliseconds of the latest occurrence.
    pub timestamp_last_updated: i64,
}

impl LogEntry {
    /// `age-seconds`: seconds since the latest occurrence.
    pub fn age_seconds(&self, now_ms: i64) -> f64 {
        now_ms.saturating_sub(self.timestamp_last_updated) as f64 / 1000.0
    }

    fn groups_with(&self, e: &LogEvent, now_ms: i64) -> bool {
        self.reason == e.reason
            && self.context == e.context
            && now_ms.abs_diff(self.timestamp_last_updated) <= GROUPING_MAX_DELTA_MS.unsigned_abs()
            && self.object == e.object
            && self.username == e.username
    }
}

/// Counts of refusals since startup (or `CONFIG RESETSTAT`), for INFO's
/// `acl_access_denied_*` fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DenialStats {
    /// `acl_access_denied_auth`.
    pub auth: u64,
    /// `acl_access_denied_cmd`.
    pub command: u64,
    /// `acl_access_denied_key`.
    pub key: u64,
    /// `acl_access_denied_channel`.
    pub channel: u64,
}

/// The ACL log.
#[derive(Clone, Debug)]
pub struct AclLog {
    entries: VecDeque<LogEntry>,
    max_len: usize,
    next_id: u64,
    stats: DenialStats,
}

impl Default for AclLog {
    fn default() -> Self {
        AclLog::new(DEFAULT_LOG_MAX_LEN)
    }
}

impl AclLog {
    /// An empty log keeping at most `max_len` entries (`acllog-max-len`).
    pub fn new(max_len: usize) -> AclLog {
        AclLog {
            entries: VecDeque::new(),
            max_len,
            next_id: 0,
            stats: DenialStats::default(),
        }
    }

    /// Changes `acllog-max-len`; extra old entries go when the next new entry is made,
    /// as in Redis.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len;
    }

    /// Logs an event at `now_ms` (Unix milliseconds). Within the 10 newest entries, one
    /// with the same reason, context, object and user, updated at most 60 s before, counts
    /// it (taking its client info and time, and moving to the front); otherwise it makes a
    /// new entry and the oldest ones beyond the maximum length go.
    pub fn add(&mut self, event: LogEvent, now_ms: i64) {
        let stat = match event.reason {
            LogReason::Auth => &mut self.stats.auth,
            LogReason::Command => &mut self.stats.command,
            LogReason::Key => &mut self.stats.key,
            LogReason::Channel => &mut self.stats.channel,
        };
        *stat += 1;
        let found = self
            .entries
            .iter()
            .take(GROUPING_SCAN)
            .position(|e| e.groups_with(&event, now_ms));
        if let Some(mut entry) = found.and_then(|i| self.entries.remove(i)) {
            entry.count += 1;
            entry.client_info = event.client_info;
            entry.timestamp_last_updated = now_ms;
            self.entries.push_front(entry);
            return;
        }
        let entry_id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(LogEntry {
            count: 1,
            reason: event.reason,
            context: event.context,
            object: event.object,
            username: event.username,
            client_info: event.client_info,
            entry_id,
            timestamp_created: now_ms,
            timestamp_last_updated: now_ms,
        });
        self.entries.truncate(self.max_len);
    }

    /// `ACL LOG count`: the `count` newest entries, newest first.
    pub fn entries(&self, count: usize) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter().take(count)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `ACL LOG RESET`: forgets the entries (ids keep counting; statistics stay).
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// The refusals counted so far.
    pub fn stats(&self) -> DenialStats {
        self.stats
    }

    /// `CONFIG RESETSTAT`: zeroes the statistics.
    pub fn reset_stats(&mut self) {
        self.stats = DenialStats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(reason: LogReason, object: &str, user: &str, client: &str) -> LogEvent {
        LogEvent {
            reason,
            context: LogContext::Toplevel,
            object: object.into(),
            username: user.into(),
            client_info: client.into(),
        }
    }

    #[test]
    fn groups_similar_events() {
        let mut log = AclLog::default();
        log.add(ev(LogReason::Auth, "AUTH", "user1", "c1"), 1_000);
        for j in 0..10 {
            log.add(ev(LogReason::Auth, "AUTH", "user1", "c2"), 1_001 + j);
        }
        assert_eq!(log.len(), 1);
        let e = log.entries(10).next().unwrap();
        assert_eq!((e.count, e.entry_id), (11, 0));
        assert_eq!(
            (e.timestamp_created, e.timestamp_last_updated),
            (1_000, 1_010)
        );
        // The client info is the latest one's, and does not split groups.
        assert_eq!(e.client_info, b"c2");
        log.add(ev(LogReason::Auth, "AUTH", "user2", "c1"), 2_000);
        assert_eq!(log.entries(1).next().unwrap().entry_id, 1);
        assert_eq!(log.stats().auth, 12);
    }

    #[test]
    fn does_not_group_across_fields_or_time() {
        let mut log = AclLog::default();
        log.add(ev(LogReason::Command, "get", "a", ""), 0);
        log.add(ev(LogReason::Key, "get", "a", ""), 0);
        log.add(ev(LogReason::Command, "set", "a", ""), 0);
        log.add(ev(LogReason::Command, "get", "b", ""), 0);
        let mut multi = ev(LogReason::Command, "get", "a", "");
        multi.context = LogContext::Multi;
        log.add(multi, 0);
        assert_eq!(log.len(), 5);
        // Exactly 60 s later still groups; later does not.
        log.add(ev(LogReason::Command, "get", "a", ""), 60_000);
        assert_eq!(log.len(), 5);
        assert_eq!(log.entries(1).next().unwrap().count, 2);
        log.add(ev(LogReason::Command, "get", "a", ""), 120_001);
        assert_eq!(log.len(), 6);
        let stats = log.stats();
        assert_eq!((stats.command, stats.key, stats.auth), (6, 1, 0));
    }

    #[test]
    fn matching_entry_moves_to_front_and_only_ten_are_scanned() {
        let mut log = AclLog::default();
        for i in 0..11 {
            log.add(ev(LogReason::Key, &format!("k{i}"), "u", ""), 0);
        }
        // k0 is the 11th newest: not scanned, so logged anew.
        log.add(ev(LogReason::Key, "k0", "u", ""), 0);
        assert_eq!(log.len(), 12);
        // k5 is within reach: counted and moved to the front.
        log.add(ev(LogReason::Key, "k5", "u", ""), 0);
        let front = log.entries(1).next().unwrap();
        assert_eq!((front.object.as_slice(), front.count), (&b"k5"[..], 2));
        assert_eq!(log.len(), 12);
    }

    #[test]
    fn bounded_and_reset() {
        let mut log = AclLog::new(5);
        for j in 0..10 {
            log.add(ev(LogReason::Key, &format!("obj:{j}"), "antirez", ""), j);
        }
        assert_eq!(log.len(), 5);
        let ids: Vec<u64> = log.entries(usize::MAX).map(|e| e.entry_id).collect();
        assert_eq!(ids, [9, 8, 7, 6, 5]);
        assert_eq!(log.entries(2).count(), 2);
        let e = log.entries(1).next().unwrap();
        assert_eq!(e.age_seconds(2_509), 2.5);
        log.reset();
        assert!(log.is_empty());
        log.add(ev(LogReason::Key, "x", "u", ""), 0);
        assert_eq!(log.entries(1).next().unwrap().entry_id, 10);
        let mut zero = AclLog::new(0);
        zero.add(ev(LogReason::Key, "x", "u", ""), 0);
        assert!(zero.is_empty());
        assert_eq!(zero.stats().key, 1);
        zero.reset_stats();
        assert_eq!(zero.stats(), DenialStats::default());
    }
}
