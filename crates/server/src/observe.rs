//! What the server notes of each command after it ran: its latency histogram, a latency
//! event past `latency-monitor-threshold`, a slow log entry past
//! `slowlog-log-slower-than`. Each costs a comparison when it does not apply.

use crate::session::Session;
use crate::{Shared, latency, slowlog, wall_ms};
use concord_engine::{CmdStat, CommandId, Flags, spec};

/// Notes a command of `nanos` that just ran, under the settings as it left them (a
/// CONFIG SET of these settings applies to itself, as in Redis).
pub(crate) fn command(
    s: &mut Session,
    sh: &Shared,
    stat: &mut CmdStat,
    id: CommandId,
    args: &[&[u8]],
    nanos: u64,
) {
    s.refresh(sh);
    crate::monitor::feed(s, sh, id, args);
    if s.hot.latency_tracking {
        stat.latency[latency::bucket(nanos)] += 1;
    }
    let ms = nanos / 1_000_000;
    if s.hot.latency_threshold > 0 && ms >= s.hot.latency_threshold {
        let event = if spec(id).flags.has(Flags::FAST) {
            latency::FAST_COMMAND
        } else {
            latency::COMMAND
        };
        sh.latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(event, ms, wall_ms() / 1000);
    }
    let micros = nanos / 1000;
    let slower_than = s.hot.slowlog_slower_than;
    if slower_than >= 0 && micros >= slower_than as u64 && !spec(id).flags.has(Flags::SKIP_SLOWLOG)
    {
        let entry = slowlog::Entry {
            id: 0,
            time: wall_ms() / 1000,
            micros,
            args: slowlog::kept_args(&crate::redact::shown(id, args)),
            addr: s.addr.to_string(),
            name: bytes::Bytes::copy_from_slice(&s.name),
        };
        sh.slowlog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry, s.hot.slowlog_max_len);
    }
}
