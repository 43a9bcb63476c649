//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO: client-side caching, with Redis
//! 7.2's options, checks and error texts (the table is `crate::tracking`).

use crate::Shared;
use crate::dispatch::lossy;
use crate::session::Session;
use crate::tracking::{Mode, Track};
use bytes::Bytes;
use concord_engine::Engine;
use concord_resp::Out;

/// What CLIENT TRACKING's options asked for.
struct Request {
    on: bool,
    mode: Mode,
    redirect: u64,
    prefixes: Vec<Bytes>,
}

/// Parses `CLIENT TRACKING ON|OFF [options]`, or writes Redis's error.
fn parse(a: &[&[u8]], out: &mut Out) -> Option<Request> {
    let mut r = Request {
        on: false,
        mode: Mode::default(),
        redirect: 0,
        prefixes: Vec::new(),
    };
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        let opt = lossy(a[j]).to_ascii_lowercase();
        match opt.as_str() {
            "redirect" if more => {
                j += 1;
                if r.redirect != 0 {
                    out.error("ERR A client can only redirect to a single other client");
                    return None;
                }
                let Some(id) = std::str::from_utf8(a[j])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                else {
                    out.error("ERR value is not an integer or out of range");
                    return None;
                };
                // Redis keeps the id as given; no client has an id of 0 or below.
                r.redirect = u64::try_from(id).unwrap_or(u64::MAX);
            }
            "bcast" => r.mode.bcast = true,
            "optin" => r.mode.optin = true,
            "optout" => r.mode.optout = true,
            "noloop" => r.mode.noloop = true,
            "prefix" if more => {
                j += 1;
                r.prefixes.push(Bytes::copy_from_slice(a[j]));
            }
            _ => {
                out.error("ERR syntax error");
                return None;
            }
        }
        j += 1;
    }
    match lossy(a[2]).to_ascii_lowercase().as_str() {
        "on" => r.on = true,
        "off" => {}
        _ => {
            out.error("ERR syntax error");
            return None;
        }
    }
    Some(r)
}

/// The error for turning tracking on with `r`, given the client's current tracking, in
/// Redis's order of checks.
fn refusal(s: &Session, sh: &Shared, r: &Request) -> Option<String> {
    let m = r.mode;
    if !m.bcast && !r.prefixes.is_empty() {
        return Some("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    if let Some(cur) = s.track
        && cur.mode.bcast != m.bcast
    {
        return Some("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if m.bcast && (m.optin || m.optout) {
        return Some("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if m.optin && m.optout {
        return Some("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
    }
    if let Some(cur) = s.track
        && ((m.optin && cur.mode.optout) || (m.optout && cur.mode.optin))
    {
        return Some("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if m.bcast {
        let t = sh.tracking.lock().unwrap_or_else(|p| p.into_inner());
        for (i, p) in r.prefixes.iter().enumerate() {
            if let Some(old) = t.overlapping(s.id, p) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    lossy(p),
                    lossy(&old)
                ));
            }
            if let Some(q) = r.prefixes[i + 1..]
                .iter()
                .find(|q| crate::tracking::overlap(p, q))
            {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    lossy(p),
                    lossy(q)
                ));
            }
        }
    }
    None
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP].
pub(crate) fn tracking(s: &mut Session, sh: &Shared, e: &mut Engine, a: &[&[u8]], out: &mut Out) {
    let Some(r) = parse(a, out) else {
        return;
    };
    if !r.on {
        s.stop_tracking(sh, e);
        return out.ok();
    }
    // The redirect target must exist now (it may go away later: the redirect breaks).
    let target = if r.redirect == 0 {
        None
    } else {
        let clients = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
        match clients.get(&r.redirect) {
            Some(c) => Some(c.mailbox.clone()),
            None => {
                return out.error("ERR The client ID you want redirect to does not exist");
            }
        }
    };
    if let Some(why) = refusal(s, sh, &r) {
        return out.error(&why);
    }
    let track = Track {
        mode: r.mode,
        redirect: r.redirect,
    };
    {
        let mut t = sh.tracking.lock().unwrap_or_else(|p| p.into_inner());
        t.enable(s.id, track, target, &s.mailbox, &r.prefixes);
    }
    s.track = Some(track);
    s.update_info(sh, |c| c.tracking = Some(track));
    e.set_tracking(true);
    out.ok();
}

/// CLIENT CACHING YES|NO: whether the next command's reads are remembered, in OPTIN or
/// OPTOUT mode.
pub(crate) fn caching(s: &mut Session, a: &[&[u8]], out: &mut Out) {
    let Some(track) = s.track else {
        return out.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    };
    match lossy(a[2]).to_ascii_lowercase().as_str() {
        "yes" if track.mode.optin => s.caching = true,
        "yes" => {
            return out.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        "no" if track.mode.optout => s.caching = true,
        "no" => {
            return out.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        _ => return out.error("ERR syntax error"),
    }
    out.ok();
}

/// CLIENT GETREDIR: the client invalidations are redirected to (0: none, -1: tracking
/// is off).
pub(crate) fn getredir(s: &Session, out: &mut Out) {
    out.int(s.track.map_or(-1, |t| t.redirect as i64));
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis lists them.
pub(crate) fn trackinginfo(s: &Session, sh: &Shared, out: &mut Out) {
    let t = sh.tracking.lock().unwrap_or_else(|p| p.into_inner());
    let mut flags: Vec<&str> = Vec::new();
    match s.track {
        None => flags.push("off"),
        Some(track) => {
            let m = track.mode;
            // Redis's order.
            let shown = [
                (true, "on"),
                (m.bcast, "bcast"),
                (m.optin, "optin"),
                (m.optin && s.caching, "caching-yes"),
                (m.optout, "optout"),
                (m.optout && s.caching, "caching-no"),
                (m.noloop, "noloop"),
                (t.broken(s.id), "broken_redirect"),
            ];
            flags.extend(shown.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
        }
    }
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(s.track.map_or(-1, |t| t.redirect as i64));
    out.bulk(b"prefixes");
    let prefixes = t.prefixes_of(s.id);
    out.array(prefixes.len());
    for p in prefixes {
        out.bulk(&p);
    }
}
