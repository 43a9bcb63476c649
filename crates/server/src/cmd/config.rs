//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP, over the settings table.

use crate::Shared;
use crate::dispatch::{help_err, lossy};
use crate::pubsub::Msg;
use crate::session::Session;
use crate::settings::{SETTINGS, When, find};
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
                "    Not supported: change the config file by hand.",
            ],
        ),
        "RESETSTAT" if a.len() == 2 => {
            e.cmdstats.iter_mut().for_each(|c| *c = Default::default());
            e.stats = Default::default();
            sh.commands.store(0, Ordering::Relaxed);
            sh.connections.store(0, Ordering::Relaxed);
            sh.access
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .log
                .reset_stats();
            out.ok();
        }
        "REWRITE" if a.len() == 2 => match &sh.cfg.config_file {
            None => out.error("ERR The server is running without a config file"),
            Some(p) => out.error(&format!(
                "ERR Rewriting config files is not supported yet; change {} by hand",
                p.display()
            )),
        },
        _ => out.error(&help_err(a[1], "CONFIG")),
    }
}

/// CONFIG GET pattern [pattern ...]: every setting matching any pattern, once.
fn get(sh: &Shared, patterns: &[&[u8]], out: &mut Out) {
    let cfg = sh.config.read().unwrap_or_else(|p| p.into_inner());
    let hits: Vec<(&str, String)> = SETTINGS
        .iter()
        .filter(|s| {
            s.shown
                && patterns
                    .iter()
                    .any(|p| glob_match(&p.to_ascii_lowercase(), s.name.as_bytes(), true))
        })
        .map(|s| (s.name, s.show(&cfg)))
        .collect();
    drop(cfg);
    out.map(hits.len());
    for (k, v) in hits {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

/// CONFIG SET name value [name value ...]: all or nothing. Every value is checked on a
/// copy of the live settings, then their effects are applied; if one cannot be applied,
/// those already applied are undone and nothing changes.
fn set(sh: &Shared, e: &mut Engine, pairs: &[&[u8]], out: &mut Out) {
    let failed = |name: &str, why: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    let before = sh.config.read().unwrap_or_else(|p| p.into_inner()).clone();
    let mut next = before.clone();
    let mut changed = Vec::new();
    for p in pairs.chunks(2) {
        let name = lossy(p[0]);
        let Some(s) = find(&name) else {
            return out.error(&format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        if changed
            .iter()
            .any(|c: &&crate::settings::Setting| c.name == s.name)
        {
            return out.error(&failed(&name, "duplicate parameter"));
        }
        if s.when == When::Start {
            return out.error(&failed(&name, "can't set immutable config"));
        }
        if let Err(why) = s.parse_into(&mut next, &lossy(p[1])) {
            return out.error(&failed(&name, &why));
        }
        changed.push(s);
    }
    for (i, s) in changed.iter().enumerate() {
        if let Err(why) = s.apply(sh, e, &next) {
            for undo in &changed[..i] {
                if let Err(x) = undo.apply(sh, e, &before) {
                    tracing::error!("undoing CONFIG SET of {}: {x}", undo.name);
                }
            }
            return out.error(&failed(s.name, &why));
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
