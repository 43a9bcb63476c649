//! SLOWLOG and LATENCY: what the server noted of slow commands and latency spikes.

use crate::Shared;
use crate::dispatch::{help_err, lossy};
use crate::session::Session;
use concord_engine::{
    CmdStat, CommandId, Engine, LATENCY_BUCKETS, full_name, lookup_full_name, subcommand_ids,
};
use concord_resp::Out;

/// SLOWLOG GET [count] | LEN | RESET | HELP.
pub(crate) fn slowlog(_: &mut Session, sh: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let sub = lossy(a[1]).to_ascii_uppercase();
    let mut log = sh.slowlog.lock().unwrap_or_else(|p| p.into_inner());
    match (sub.as_str(), a.len()) {
        ("LEN", 2) => out.int(log.len() as i64),
        ("RESET", 2) => {
            log.reset();
            out.ok();
        }
        ("GET", 2 | 3) => {
            let count = match a.get(2) {
                None => 10,
                Some(n) => match std::str::from_utf8(n)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    // Redis gives the one message for a count that is not a number too.
                    _ => return out.error("ERR count should be greater than or equal to -1"),
                },
            };
            let n = count.min(log.len());
            out.array(n);
            for e in log.newest(n) {
                out.array(6);
                out.int(e.id as i64);
                out.int(e.time as i64);
                out.int(e.micros as i64);
                out.array(e.args.len());
                for arg in &e.args {
                    out.bulk(arg);
                }
                out.bulk(e.addr.as_bytes());
                out.bulk(&e.name);
            }
        }
        ("HELP", 2) => out.help(
            "SLOWLOG",
            &[
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            ],
        ),
        _ => out.error(&help_err(a[1], "SLOWLOG")),
    }
}

/// LATENCY LATEST | HISTORY event | RESET [event ...] | DOCTOR | GRAPH event |
/// HISTOGRAM [command ...] | HELP.
pub(crate) fn latency(s: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let sub = lossy(a[1]).to_ascii_uppercase();
    if sub == "HISTOGRAM" {
        return histogram(e, &a[2..], out);
    }
    let mut m = sh.latency.lock().unwrap_or_else(|p| p.into_inner());
    match (sub.as_str(), a.len()) {
        ("LATEST", 2) => {
            out.array(m.events.len());
            for (event, series) in &m.events {
                let last = series.samples.back().copied().unwrap_or_default();
                out.array(4);
                out.bulk(event.as_bytes());
                out.int(last.time as i64);
                out.int(last.ms as i64);
                out.int(series.max as i64);
            }
        }
        ("HISTORY", 3) => match m.get(a[2]) {
            None => out.array(0),
            Some((_, series)) => {
                out.array(series.samples.len());
                for x in &series.samples {
                    out.array(2);
                    out.int(x.time as i64);
                    out.int(x.ms as i64);
                }
            }
        },
        ("GRAPH", 3) => match m.get(a[2]) {
            None => out.error(&format!(
                "ERR No samples available for event '{}'",
                lossy(a[2])
            )),
            Some((event, series)) => {
                let text = crate::latency::graph(event, series, crate::wall_ms() / 1000);
                out.verbatim(text.as_bytes());
            }
        },
        ("DOCTOR", 2) => {
            let text =
                crate::latency::doctor(&m, s.hot.latency_threshold, s.hot.slowlog_slower_than);
            out.verbatim(text.as_bytes());
        }
        ("RESET", _) => {
            let n = m.reset((a.len() > 2).then_some(&a[2..]));
            out.int(n as i64);
        }
        ("HELP", 2) => out.help(
            "LATENCY",
            &[
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "GRAPH <event>",
                "    Return an ASCII latency graph for the <event> class.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HISTOGRAM [COMMAND ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
            ],
        ),
        _ => out.error(&help_err(a[1], "LATENCY")),
    }
}

/// LATENCY HISTOGRAM [command ...]: for each command named (a container also gives its
/// subcommands), or every command, that ran since the last CONFIG RESETSTAT, its calls
/// and cumulative counts per latency bucket. Unknown names are skipped, as in Redis.
fn histogram(e: &Engine, names: &[&[u8]], out: &mut Out) {
    let mut ids: Vec<CommandId> = Vec::new();
    if names.is_empty() {
        ids.extend(0..e.cmdstats.len());
    } else {
        for n in names {
            if let Some(id) = lookup_full_name(n) {
                ids.push(id);
                ids.extend_from_slice(subcommand_ids(id));
            }
        }
    }
    let tracked = |id: &CommandId| {
        e.cmdstats
            .get(*id)
            .is_some_and(|s| s.latency.iter().any(|&c| c > 0))
    };
    ids.retain(tracked);
    out.map(ids.len());
    for id in ids {
        out.bulk(full_name(id).as_bytes());
        cdf(&e.cmdstats[id], out);
    }
}

/// One command's histogram as Redis replies it: its calls, then each bucket's upper
/// bound (µs) and the calls up to it, for the buckets that add calls.
fn cdf(s: &CmdStat, out: &mut Out) {
    let total: u64 = s.latency.iter().sum();
    out.map(2);
    out.bulk(b"calls");
    out.int(total as i64);
    out.bulk(b"histogram_usec");
    let filled = s.latency.iter().filter(|&&c| c > 0).count();
    out.map(filled);
    let mut cumulative = 0;
    for k in 0..LATENCY_BUCKETS {
        if s.latency[k] > 0 {
            cumulative += s.latency[k];
            out.int(crate::latency::bucket_micros(k) as i64);
            out.int(cumulative as i64);
        }
    }
}
