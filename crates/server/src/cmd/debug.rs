//! DEBUG (the subcommands clients and test suites use) and LOLWUT.

use crate::Shared;
use crate::dispatch::{help_err, lossy};
use crate::session::Session;
use crate::settings::Protected;
use concord_engine::{Engine, MEMORY_SAMPLES, memory_usage, object_encoding};
use concord_resp::Out;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Redis's refusal of DEBUG while `enable-debug-command` does not allow the client.
const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// The longest DEBUG SLEEP: it holds the whole instance, as in Redis, but never for ever.
const MAX_SLEEP_SECS: f64 = 3600.0;

/// Whether `s` may run a command `enable-debug-command` protects.
fn allowed(s: &Session, sh: &Shared) -> bool {
    let setting = sh
        .config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .enable_debug_command;
    match setting {
        Protected::Yes => true,
        Protected::Local => s.addr.ip().is_loopback(),
        Protected::No => false,
    }
}

/// DEBUG SLEEP|OBJECT|SET-ACTIVE-EXPIRE|CHANGE-REPL-ID|QUICKLIST-PACKED-THRESHOLD|
/// PROTOCOL|ERROR|LOG|HELP.
pub(crate) fn debug(s: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    if !allowed(s, sh) {
        return out.error(NOT_ALLOWED);
    }
    let sub = lossy(a[1]).to_ascii_uppercase();
    match (sub.as_str(), a.len()) {
        ("SLEEP", 3) => {
            // Redis reads the seconds with strtod: what is not a number sleeps 0.
            let secs = lossy(a[2]).trim().parse::<f64>().unwrap_or(0.0);
            if secs.is_finite() && secs > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(secs.min(MAX_SLEEP_SECS)));
            }
            out.ok();
        }
        ("OBJECT", 3) => match object_encoding(e, a[2]) {
            None => out.error("ERR no such key"),
            Some(enc) => {
                let len = memory_usage(e, a[2], MEMORY_SAMPLES).unwrap_or(0);
                out.simple(&format!(
                    "Value at:0x0 refcount:1 encoding:{enc} serializedlength:{len} lru:0 lru_seconds_idle:0"
                ));
            }
        },
        ("SET-ACTIVE-EXPIRE", 3) => {
            // Redis reads it with atoi: anything but a non-zero number turns it off.
            let on = lossy(a[2]).trim().parse::<i64>().is_ok_and(|n| n != 0);
            sh.active_expire.store(on, Ordering::Relaxed);
            out.ok();
        }
        // Concord has no replication id to change (peers follow version vectors), nor
        // quicklists: both are accepted so test suites that use them run.
        ("CHANGE-REPL-ID", 2) => out.ok(),
        ("QUICKLIST-PACKED-THRESHOLD", 3) => match crate::settings::parse_bytes(&lossy(a[2])) {
            // Redis takes anything up to 4 GB less 1 MB (0: its default).
            Ok(n) if n <= (1 << 32) - (1 << 20) => out.ok(),
            _ => {
                out.error("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
            }
        },
        ("PROTOCOL", 3) => protocol(a[2], out),
        ("ERROR", 3) => {
            // The text as an error reply of its own, line breaks made spaces, as Redis.
            let text: Vec<u8> = a[2]
                .iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
                .collect();
            out.raw(b"-");
            out.raw(&text);
            out.raw(b"\r\n");
        }
        ("LOG", 3) => {
            tracing::warn!("DEBUG LOG: {}", lossy(a[2]));
            out.ok();
        }
        ("HELP", 2) => out.help(
            "DEBUG",
            &[
                "CHANGE-REPL-ID",
                "    Accepted; Concord has no replication id.",
                "ERROR <string>",
                "    Return a Redis protocol error with <string> as message. Useful for clients",
                "    unit tests to simulate Redis errors.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "OBJECT <key>",
                "    Show low level info about the key and associated value.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "QUICKLIST-PACKED-THRESHOLD <size>",
                "    Accepted; Concord keeps no quicklists.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        ),
        _ => out.error(&help_err(a[1], "DEBUG")),
    }
}

/// DEBUG PROTOCOL type: a sample reply of each RESP type, as Redis sends them.
fn protocol(kind: &[u8], out: &mut Out) {
    match lossy(kind).to_ascii_lowercase().as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's own sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => {
            let n = "1234567999999999999999999999999999999";
            if out.resp3 {
                out.raw(format!("({n}\r\n").as_bytes());
            } else {
                out.bulk(n.as_bytes());
            }
        }
        "null" => out.null(),
        "array" | "set" | "map" => {
            let k = lossy(kind).to_ascii_lowercase();
            match k.as_str() {
                "array" => out.array(3),
                "set" => out.set(3),
                _ => out.map(3),
            }
            for j in 0..3 {
                out.int(j);
                if k == "map" {
                    out.boolean(j == 1);
                }
            }
        }
        "attrib" => {
            if out.resp3 {
                out.raw(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !out.resp3 {
                return out.error("ERR RESP2 is not supported by this command");
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
        _ => out.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

/// LOLWUT's drawing: columns, then rows of squares and squares per row, as Redis's
/// version 5 takes them, each within Redis's bounds.
const LOLWUT_DEFAULTS: [i64; 3] = [66, 12, 8];
/// The bounds of each.
const LOLWUT_BOUNDS: [(i64, i64); 3] = [(1, 1000), (1, 200), (1, 200)];

/// LOLWUT [VERSION v] [columns [rows [squares-per-row]]]: squares that fall into disorder
/// row by row, then Redis's version line.
pub(crate) fn lolwut(_: &mut Session, _: &Shared, _: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let mut args = &a[1..];
    let parse = |x: &[u8]| {
        std::str::from_utf8(x)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
    };
    if args.len() >= 2 && args[0].eq_ignore_ascii_case(b"version") {
        if parse(args[1]).is_none() {
            return out.error("ERR value is not an integer or out of range");
        }
        args = &args[2..];
    }
    let mut p = LOLWUT_DEFAULTS;
    for (i, x) in args.iter().take(3).enumerate() {
        match parse(x) {
            Some(n) => p[i] = n.clamp(LOLWUT_BOUNDS[i].0, LOLWUT_BOUNDS[i].1),
            None => return out.error("ERR value is not an integer or out of range"),
        }
    }
    let text = format!(
        "{}\nSquares after Georg Nees's Schotter (1968), drawn by Concord. Redis ver. {}\n",
        draw(p[0] as usize, p[1] as usize, p[2] as usize),
        crate::info::REDIS_VERSION
    );
    out.verbatim(text.as_bytes());
}

/// Rows of squares, three lines high and `cols / per_row` wide each, their edges
/// scattered more the lower the row (a fixed sequence: the drawing is always the same).
fn draw(cols: usize, rows: usize, per_row: usize) -> String {
    let w = (cols / per_row).max(3);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut text = String::new();
    for r in 0..rows {
        for line in 0..3 {
            for _ in 0..per_row {
                let shift = (next() % (rows as u64 + 1)) as usize <= r;
                for c in 0..w {
                    let edge = line != 1 || c == 0 || c == w - 1;
                    text.push(match (edge, shift) {
                        (false, _) => ' ',
                        (true, false) if line == 1 => '|',
                        (true, false) => '-',
                        (true, true) => ['/', '\\', '.', '~'][(next() % 4) as usize],
                    });
                }
            }
            text.truncate(text.trim_end().len());
            text.push('\n');
        }
    }
    text
}
