//! Writing replies to a client within its output buffer limits: a client that does not
//! read is disconnected once its waiting output stays above the soft limit too long (or
//! passes the hard one), instead of holding memory and a task forever.

use crate::limits::{ClassLimit, SoftWatch};
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// How often a stalled write re-checks the limits.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Writes all of `buf`; fails with `TimedOut` when the client's waiting output breaks
/// `limit` (it is then disconnected, as Redis does).
pub(crate) async fn flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    buf: &[u8],
    limit: &ClassLimit,
    watch: &mut SoftWatch,
) -> io::Result<()> {
    let mut pos = 0;
    while pos < buf.len() {
        if watch.over(limit, buf.len() - pos, Instant::now()) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client output buffer limit reached",
            ));
        }
        match tokio::time::timeout(CHECK_EVERY, wr.write(&buf[pos..])).await {
            Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => pos += n,
            Ok(Err(e)) => return Err(e),
            // Nothing could be written yet: look at the limits again.
            Err(_) => {}
        }
    }
    // A TLS stream may hold the last records back (its socket was full when they were
    // made): they must reach the socket now, not with the next reply.
    loop {
        match tokio::time::timeout(CHECK_EVERY, wr.flush()).await {
            Ok(r) => r?,
            Err(_) if watch.over(limit, 1, Instant::now()) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client output buffer limit reached",
                ));
            }
            Err(_) => continue,
        }
        break;
    }
    watch.over(limit, 0, Instant::now());
    Ok(())
}
