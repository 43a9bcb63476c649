//! Writing replies to a client within its output buffer limits: a client that does not
//! read is disconnected once its waiting output stays above the soft limit too long (or
//! passes the hard one), instead of holding memory and a task forever.

use crate::limits::{ClassLimit, SoftWatch};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// How often a stalled write re-checks the limits.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// What [`write_now`] wrote.
pub(crate) enum Sent {
    /// All of it, flushed.
    All,
    /// The connection took this many bytes (perhaps all, unflushed), and no more for now.
    Part(usize),
}

/// Writes what the connection takes of `buf` now, without waiting: most replies fit in
/// the socket's buffer, and then no timer or kill watch is needed (they cost more than a
/// short command).
pub(crate) async fn write_now<W: AsyncWrite + Unpin>(wr: &mut W, buf: &[u8]) -> io::Result<Sent> {
    std::future::poll_fn(|cx| {
        let mut pos = 0;
        while pos < buf.len() {
            match Pin::new(&mut *wr).poll_write(cx, &buf[pos..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => pos += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Ready(Ok(Sent::Part(pos))),
            }
        }
        Poll::Ready(match Pin::new(&mut *wr).poll_flush(cx) {
            Poll::Ready(Ok(())) => Ok(Sent::All),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Ok(Sent::Part(pos)),
        })
    })
    .await
}

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
