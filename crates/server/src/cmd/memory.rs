//! MEMORY: what a key costs, and what the instance holds (from the counting allocator
//! and jemalloc's own statistics).

use crate::Shared;
use crate::dispatch::{help_err, lossy};
use crate::session::Session;
use concord_engine::{Engine, MEMORY_SAMPLES, memory_usage};
use concord_resp::Out;

/// MEMORY USAGE key [SAMPLES n] | STATS | DOCTOR | MALLOC-STATS | PURGE | HELP.
pub(crate) fn memory(_: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let sub = lossy(a[1]).to_ascii_uppercase();
    match (sub.as_str(), a.len()) {
        ("USAGE", n) if n >= 3 => usage(e, a, out),
        ("STATS", 2) => stats(sh, e, out),
        ("DOCTOR", 2) => {
            let text = doctor(sh);
            out.verbatim(text.as_bytes());
        }
        ("MALLOC-STATS", 2) => out.verbatim(crate::jemalloc::report().as_bytes()),
        ("PURGE", 2) => {
            if crate::jemalloc::purge() {
                out.ok()
            } else {
                out.error("ERR Error purging dirty pages")
            }
        }
        ("HELP", 2) => out.help(
            "MEMORY",
            &[
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
            ],
        ),
        _ => out.error(&help_err(a[1], "MEMORY")),
    }
}

/// MEMORY USAGE key [SAMPLES n].
fn usage(e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let mut samples = MEMORY_SAMPLES;
    let mut j = 3;
    while j < a.len() {
        if !a[j].eq_ignore_ascii_case(b"samples") || j + 1 >= a.len() {
            return out.error("ERR syntax error");
        }
        match std::str::from_utf8(a[j + 1])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            None => return out.error("ERR value is not an integer or out of range"),
            Some(n) if n < 0 => return out.error("ERR syntax error"),
            Some(n) => samples = usize::try_from(n).unwrap_or(usize::MAX),
        }
        j += 2;
    }
    match memory_usage(e, a[2], samples) {
        Some(n) => out.int(i64::try_from(n).unwrap_or(i64::MAX)),
        None => out.null(),
    }
}

/// MEMORY STATS: Redis's fields, from the allocator's count; what Concord does not have
/// (cluster links, an AOF buffer apart from the log) is 0.
fn stats(sh: &Shared, e: &Engine, out: &mut Out) {
    let used = crate::mem::used() as u64;
    let peak = crate::mem::peak() as u64;
    let startup = sh.startup_memory;
    let backlog = e.log().bytes() as u64;
    let clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
    // A connection's buffers: what Redis counts as clients.normal, roughly.
    let clients_bytes = clients * 2 * 16 * 1024;
    let keys = e.raw_keys().len() as u64;
    let overhead = startup + backlog + clients_bytes;
    let dataset = used.saturating_sub(overhead);
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    let ints: [(&str, u64); 10] = [
        ("peak.allocated", peak),
        ("total.allocated", used),
        ("startup.allocated", startup),
        ("replication.backlog", backlog),
        ("clients.slaves", 0),
        ("clients.normal", clients_bytes),
        ("cluster.links", 0),
        ("aof.buffer", 0),
        ("lua.caches", 0),
        ("functions.caches", 0),
    ];
    out.map(27 + 1);
    for (name, v) in ints {
        out.bulk(name.as_bytes());
        out.int(i64::try_from(v).unwrap_or(i64::MAX));
    }
    out.bulk(b"db.0");
    out.map(3);
    for name in [
        "overhead.hashtable.main",
        "overhead.hashtable.expires",
        "overhead.hashtable.slot-to-keys",
    ] {
        out.bulk(name.as_bytes());
        out.int(0);
    }
    let tail_ints = [
        ("overhead.total", overhead),
        ("keys.count", keys),
        ("keys.bytes-per-key", dataset.checked_div(keys).unwrap_or(0)),
        ("dataset.bytes", dataset),
    ];
    for (name, v) in tail_ints {
        out.bulk(name.as_bytes());
        out.int(i64::try_from(v).unwrap_or(i64::MAX));
    }
    out.bulk(b"dataset.percentage");
    out.double(pct(dataset, used.saturating_sub(startup)));
    out.bulk(b"peak.percentage");
    out.double(pct(used, peak));
    let a = crate::jemalloc::stats();
    for (name, v) in [
        ("allocator.allocated", a.allocated),
        ("allocator.active", a.active),
        ("allocator.resident", a.resident),
    ] {
        out.bulk(name.as_bytes());
        out.int(i64::try_from(v).unwrap_or(i64::MAX));
    }
    let rss = crate::measure::rss().map_or(used, |r| r as u64);
    let (allocated, active, resident) = (a.allocated as u64, a.active as u64, a.resident as u64);
    for (ratio, bytes, num, den) in [
        (
            "allocator-fragmentation.ratio",
            "allocator-fragmentation.bytes",
            active,
            allocated,
        ),
        (
            "allocator-rss.ratio",
            "allocator-rss.bytes",
            resident,
            active,
        ),
        ("rss-overhead.ratio", "rss-overhead.bytes", rss, resident),
        ("fragmentation", "fragmentation.bytes", rss, used),
    ] {
        out.bulk(ratio.as_bytes());
        out.double(if den > 0 {
            num as f64 / den as f64
        } else {
            1.0
        });
        out.bulk(bytes.as_bytes());
        out.int(num as i64 - den as i64);
    }
}

/// MEMORY DOCTOR: a short report on what stands out.
fn doctor(sh: &Shared) -> String {
    let used = crate::mem::used() as u64;
    let peak = crate::mem::peak() as u64;
    let max = sh.hot().maxmemory;
    if used < 5 * 1024 * 1024 {
        return "This instance holds less than 5 MB: nothing to report.\n".into();
    }
    let mut text = String::from("Memory report:\n\n");
    if peak > used.saturating_mul(3) / 2 {
        text.push_str(&format!(
            "- The peak ({peak} bytes) is well above what is held now ({used} bytes): \
             the allocator may not have given the difference back to the system.\n"
        ));
    }
    let policy = sh
        .config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .maxmemory_policy;
    if max > 0 && used > max / 10 * 9 {
        let next = if policy == concord_engine::Policy::NoEviction {
            "writes that grow memory will soon be refused (maxmemory-policy is noeviction)"
        } else {
            "keys will soon be evicted (see evicted_keys in INFO stats)"
        };
        text.push_str(&format!(
            "- {used} bytes are held of a maxmemory of {max}: {next}.\n"
        ));
    }
    if text.ends_with("\n\n") {
        text.push_str("Nothing stands out.\n");
    }
    text
}
