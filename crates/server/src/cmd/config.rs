//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP, over the settings table.

use crate::Shared;
use crate::dispatch::{help_err, lossy};
use crate::pubsub::Msg;
use crate::session::Session;
use crate::settings::{Setting, When, find_named, names};
use concord_engine::{Engine, glob_match};
use concord_resp::Out;
use std::sync::atomic::Ordering;

/// CONFIG subcommands.
pub(crate) fn config(_: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let sub = lossy(a[1]).to_ascii_uppercase();
    match sub.as_str() {
        "GET" if a.len() >= 3 => get(sh, &a[2..], out),
        // Settings come in name-value pairs; an odd count is a syntax error, as in Redis.
        "SET" if a.len() >= 4 && !a.len().is_multiple_of(2) => out.error("ERR syntax error"),
        "SET" if a.len() >= 4 => set(sh, e, &a[2..], out),
        "HELP" if a.len() == 2 => out.help(
            "CONFIG",
            &[
                "GET <pattern> [<pattern> ...]",
                "    The settings whose names match a glob-style pattern, with their values.",
                "SET <name> <value> [<name> <value> ...]",
                "    Change settings, all of them or none.",
                "RESETSTAT",
                "    Zero the statistics INFO reports.",
                "REWRITE",
                "    Rewrite the configuration file.",
            ],
        ),
        "RESETSTAT" if a.len() == 2 => {
            e.cmdstats.iter_mut().for_each(|c| *c = Default::default());
            e.stats = Default::default();
            sh.commands.store(0, Ordering::Relaxed);
            sh.connections.store(0, Ordering::Relaxed);
            sh.errors.reset();
            sh.access
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .log
                .reset_stats();
            out.ok();
        }
        "REWRITE" if a.len() == 2 => match &sh.cfg.config_file {
            None => out.error("ERR The server is running without a config file"),
            Some(path) => {
                let cfg = sh.config.read().unwrap_or_else(|p| p.into_inner()).clone();
                match crate::settings::rewrite::rewrite(path, &cfg) {
                    Ok(()) => {
                        tracing::info!("CONFIG REWRITE executed with success.");
                        out.ok()
                    }
                    Err(x) => {
                        tracing::warn!("CONFIG REWRITE failed: {x}");
                        out.error(&format!("ERR Rewriting config file: {x}"))
                    }
                }
            }
        },
        _ => out.error(&help_err(a[1], "CONFIG")),
    }
}

/// CONFIG GET pattern [pattern ...]: every setting (and alias, as Redis lists them)
/// matching any pattern, once.
fn get(sh: &Shared, patterns: &[&[u8]], out: &mut Out) {
    let cfg = sh.config.read().unwrap_or_else(|p| p.into_inner());
    let hits: Vec<(&str, String)> = names()
        .filter(|(name, s)| {
            s.shown
                && patterns
                    .iter()
                    .any(|p| glob_match(&p.to_ascii_lowercase(), name.as_bytes(), true))
        })
        .map(|(name, s)| (name, s.show(&cfg)))
        .collect();
    drop(cfg);
    out.map(hits.len());
    for (k, v) in hits {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

/// CONFIG SET name value [name value ...]: all or nothing, as Redis. The names are
/// checked first (the first unknown, immutable or repeated one fails the whole command),
/// then every value on a copy of the live settings, then their effects are applied; if
/// one cannot be applied, every effect is undone and nothing changes.
fn set(sh: &Shared, e: &mut Engine, pairs: &[&[u8]], out: &mut Out) {
    let failed = |name: &str, why: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    let mut found: Vec<(&str, &Setting)> = Vec::with_capacity(pairs.len() / 2);
    // A set, not a scan: a command with many pairs stays linear.
    let mut seen = std::collections::HashSet::new();
    for p in pairs.chunks(2) {
        let given = lossy(p[0]);
        let Some((name, s)) = find_named(&given) else {
            return out.error(&format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{given}'"
            ));
        };
        if s.when == When::Start {
            return out.error(&failed(&given, "can't set immutable config"));
        }
        // An alias and its setting are two names here, as in Redis: the later one wins.
        if !seen.insert(name) {
            return out.error(&failed(&given, "duplicate parameter"));
        }
        found.push((name, s));
    }
    let before = sh.config.read().unwrap_or_else(|p| p.into_inner()).clone();
    let mut next = before.clone();
    for ((name, s), p) in found.iter().zip(pairs.chunks(2)) {
        if let Err(why) = s.parse_into(&mut next, &lossy(p[1])) {
            return out.error(&failed(name, &why));
        }
    }
    for (i, (name, s)) in found.iter().enumerate() {
        if let Err(why) = s.apply(sh, e, &next) {
            tracing::warn!(
                "Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings."
            );
            for (undo_name, undo) in &found[..=i] {
                if let Err(x) = undo.apply(sh, e, &before) {
                    tracing::error!("undoing CONFIG SET of {undo_name}: {x}");
                }
            }
            return out.error(&failed(name, &why));
        }
    }
    *sh.config.write().unwrap_or_else(|p| p.into_inner()) = next;
    sh.config_epoch.fetch_add(1, Ordering::AcqRel);
    // Idle connections look at the new settings now (a timeout set, say), not at their
    // next request.
    for c in sh
        .clients
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
    {
        let _ = c.mailbox_tx.try_send(Msg::Refresh);
    }
    out.ok();
}
