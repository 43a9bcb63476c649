//! CLIENT PAUSE and CLIENT UNPAUSE, with Redis 7.2's arguments and errors (the pause
//! itself is `crate::pause`).

use crate::Shared;
use crate::dispatch::lossy;
use crate::pause::Holds;
use concord_resp::Out;
use std::time::{Duration, Instant};

/// CLIENT PAUSE timeout [WRITE|ALL]: timeout in milliseconds.
pub(crate) fn pause(sh: &Shared, a: &[&[u8]], out: &mut Out) {
    let Some(ms) = std::str::from_utf8(a[2])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    else {
        return out.error("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return out.error("ERR timeout is negative");
    }
    let what = match a.get(3).map(|m| lossy(m).to_ascii_uppercase()).as_deref() {
        None | Some("ALL") => Holds::All,
        Some("WRITE") => Holds::Writes,
        Some(_) => return out.error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    // Redis refuses an end past what its clock can hold; so does Instant here.
    let Some(until) = Instant::now().checked_add(Duration::from_millis(ms.unsigned_abs())) else {
        return out.error("ERR timeout is out of range");
    };
    sh.pause.start(until, what);
    out.ok();
}

/// CLIENT UNPAUSE.
pub(crate) fn unpause(sh: &Shared, out: &mut Out) {
    sh.pause.end();
    out.ok();
}
