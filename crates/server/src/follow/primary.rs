//! The connection to the Redis primary: connecting (over TLS with `replicaof-tls`), the
//! replica handshake (AUTH, PING, REPLCONF, PSYNC) and the snapshot's transfer into a file.

use super::Status;
use crate::Shared;
use bytes::{Buf, BytesMut};
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest reply line of the handshake (Redis's replies are a few dozen bytes).
const MAX_LINE: usize = 64 * 1024;
/// How much is read from the socket at a time.
const READ_CHUNK: usize = 256 * 1024;
/// The length of the mark that ends a diskless transfer (Redis's `RDB_EOF_MARK_SIZE`).
const EOF_MARK: usize = 40;

/// A stream the link can run over: plain TCP or TLS.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open connection to the primary and what was read from it but not yet used.
pub(super) struct Primary {
    io: Box<dyn Io>,
    /// Bytes read and not yet consumed.
    pub buf: BytesMut,
    /// How long a read may wait (`repl-timeout`).
    pub timeout: Duration,
}

/// What PSYNC answered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Psync {
    /// A full transfer follows: the primary's replication id and the offset it starts at.
    Full { replid: String, offset: i64 },
    /// The stream continues where it was; a new replication id if the primary has one.
    Continue { replid: Option<String> },
}

impl Primary {
    /// Connects to `host:port`, over TLS when `replicaof-tls` is on.
    pub async fn connect(
        sh: &Shared,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Primary, String> {
        let sock = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect failed: {e}"))?;
        sock.set_nodelay(true).map_err(|e| e.to_string())?;
        let tls = sh
            .config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .replicaof_tls;
        let io: Box<dyn Io> = match tls.then(|| sh.tls.connector()) {
            None => Box::new(sock),
            Some(None) => return Err("replicaof-tls is on but TLS is not set up".into()),
            Some(Some(tls)) => {
                let name = rustls_pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| format!("TLS name '{host}': {e}"))?;
                let stream = tokio::time::timeout(timeout, tls.connect(name, sock))
                    .await
                    .map_err(|_| "TLS handshake timed out".to_string())?
                    .map_err(|e| format!("TLS handshake failed: {e}"))?;
                Box::new(stream)
            }
        };
        Ok(Primary {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            timeout,
        })
    }

    /// Sends one command.
    pub async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut out = Vec::new();
        concord_resp::encode_command(args, &mut out);
        tokio::time::timeout(self.timeout, self.io.write_all(&out))
            .await
            .map_err(|_| "write to the primary timed out".to_string())?
            .map_err(|e| format!("write to the primary failed: {e}"))
    }

    /// Sends a command and reads its one-line reply; an error reply is an `Err`.
    pub async fn command(&mut self, args: &[&[u8]]) -> Result<String, String> {
        self.send(args).await?;
        let line = self.line().await?;
        let text = String::from_utf8_lossy(&line).into_owned();
        match line.first() {
            Some(b'-') => Err(format!(
                "the primary refused {}: {}",
                String::from_utf8_lossy(args[0]),
                &text[1..]
            )),
            _ => Ok(text),
        }
    }

    /// Reads more bytes into `buf`; at least one, or an error (closed, timed out).
    pub async fn fill(&mut self) -> Result<usize, String> {
        self.buf.reserve(READ_CHUNK);
        match tokio::time::timeout(self.timeout, self.io.read_buf(&mut self.buf)).await {
            Err(_) => Err(format!(
                "no data from the primary for {} s (repl-timeout)",
                self.timeout.as_secs()
            )),
            Ok(Err(e)) => Err(format!("read from the primary failed: {e}")),
            Ok(Ok(0)) => Err("the primary closed the connection".into()),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// Reads more bytes into `buf`, however long that takes (the caller keeps time).
    pub async fn read_some(&mut self) -> Result<usize, String> {
        self.buf.reserve(READ_CHUNK);
        match self.io.read_buf(&mut self.buf).await {
            Err(e) => Err(format!("read from the primary failed: {e}")),
            Ok(0) => Err("the primary closed the connection".into()),
            Ok(n) => Ok(n),
        }
    }

    /// Reads one line (without its CRLF).
    pub async fn line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                let mut line = self.buf.split_to(i + 1).to_vec();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err("the primary sent a line too long for a reply".into());
            }
            self.fill().await?;
        }
    }

    /// Writes bytes straight to the primary (an ACK while streaming).
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        tokio::time::timeout(self.timeout, self.io.write_all(bytes))
            .await
            .map_err(|_| "write to the primary timed out".to_string())?
            .map_err(|e| format!("write to the primary failed: {e}"))
    }
}

/// AUTH with `masteruser`/`masterauth`, when a password is set.
async fn auth(p: &mut Primary, user: &str, password: &str) -> Result<(), String> {
    if password.is_empty() {
        return Ok(());
    }
    let mut args: Vec<&[u8]> = vec![b"AUTH"];
    if !user.is_empty() {
        args.push(user.as_bytes());
    }
    args.push(password.as_bytes());
    p.command(&args).await.map(drop)
}

/// Authenticates, announces this replica and asks for the stream from `resume` (the
/// replication id and the offset of the last byte applied) or from the start.
pub(super) async fn handshake(
    p: &mut Primary,
    user: &str,
    password: &str,
    my_port: u16,
    resume: Option<(&str, i64)>,
) -> Result<Psync, String> {
    auth(p, user, password).await?;
    p.command(&[b"PING"]).await?;
    let port = my_port.to_string();
    // Errors to REPLCONF are not fatal (Redis's replicas go on without them).
    let _ = p
        .command(&[b"REPLCONF", b"listening-port", port.as_bytes()])
        .await;
    let _ = p
        .command(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await;
    let (id, offset) = match resume {
        Some((id, off)) => (id.to_string(), (off + 1).to_string()),
        None => ("?".to_string(), "-1".to_string()),
    };
    p.send(&[b"PSYNC", id.as_bytes(), offset.as_bytes()])
        .await?;
    // The primary may send newlines to keep the link alive before it answers.
    let reply = loop {
        let line = p.line().await?;
        if !line.is_empty() {
            break String::from_utf8_lossy(&line).into_owned();
        }
    };
    parse_psync(&reply)
}

/// The primary's replication offset (`master_repl_offset` of INFO replication), asked
/// on a connection of its own.
pub(super) async fn source_offset(
    p: &mut Primary,
    user: &str,
    password: &str,
) -> Result<i64, String> {
    auth(p, user, password).await?;
    p.send(&[b"INFO", b"replication"]).await?;
    let head = p.line().await?;
    let len = head
        .strip_prefix(b"$")
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n <= MAX_LINE)
        .ok_or("INFO's reply is not a bulk string")?;
    while p.buf.len() < len + 2 {
        p.fill().await?;
    }
    let text = String::from_utf8_lossy(&p.buf[..len]).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "INFO replication names no master_repl_offset".to_string())
}

/// PSYNC's reply: `+FULLRESYNC <id> <offset>` or `+CONTINUE [<id>]`.
fn parse_psync(reply: &str) -> Result<Psync, String> {
    let mut words = reply.split_ascii_whitespace();
    match words.next() {
        Some("+FULLRESYNC") => {
            let replid = words.next().filter(|w| w.len() == 40);
            let offset = words.next().and_then(|w| w.parse::<i64>().ok());
            match (replid, offset) {
                (Some(id), Some(offset)) if offset >= 0 => Ok(Psync::Full {
                    replid: id.to_string(),
                    offset,
                }),
                _ => Err(format!("the primary's PSYNC reply is malformed: {reply}")),
            }
        }
        Some("+CONTINUE") => Ok(Psync::Continue {
            replid: words.next().filter(|w| w.len() == 40).map(str::to_string),
        }),
        _ if reply.starts_with('-') => Err(format!("the primary refused PSYNC: {}", &reply[1..])),
        _ => Err(format!("unexpected reply to PSYNC: {reply}")),
    }
}

/// Receives the snapshot that follows `+FULLRESYNC` into `file`, keeping `status`'s byte
/// counts current; returns its size. What follows the snapshot stays in `p.buf`.
pub(super) async fn receive_snapshot(
    p: &mut Primary,
    file: &Path,
    status: &Mutex<Status>,
) -> Result<u64, String> {
    // Redis sends newlines to keep the link alive while it prepares the snapshot.
    let header = loop {
        let line = p.line().await?;
        touch(status, |_| {});
        if !line.is_empty() {
            break line;
        }
    };
    let header = String::from_utf8_lossy(&header).into_owned();
    // Plain blocking writes: each lands in the page cache in microseconds.
    let mut out = std::fs::File::create(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let write_err = |e: std::io::Error| format!("{}: {e}", file.display());
    let size = if let Some(mark) = header.strip_prefix("$EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != EOF_MARK {
            return Err(format!(
                "the primary's transfer header is malformed: {header}"
            ));
        }
        touch(status, |s| s.sync_total = None);
        let mut written = 0u64;
        loop {
            if let Some(end) = memchr::memmem::find(&p.buf, &mark) {
                out.write_all(&p.buf[..end]).map_err(write_err)?;
                written += end as u64;
                p.buf.advance(end + EOF_MARK);
                break;
            }
            // Keep what could be the start of the mark.
            let safe = p.buf.len().saturating_sub(EOF_MARK - 1);
            out.write_all(&p.buf[..safe]).map_err(write_err)?;
            written += safe as u64;
            p.buf.advance(safe);
            touch(status, |s| s.sync_read = written);
            p.fill().await?;
        }
        written
    } else {
        let size = header
            .strip_prefix('$')
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| match header.strip_prefix('-') {
                Some(err) => format!("the primary failed the transfer: {err}"),
                None => format!("the primary's transfer header is malformed: {header}"),
            })?;
        touch(status, |s| s.sync_total = Some(size));
        let mut left = size;
        while left > 0 {
            if p.buf.is_empty() {
                p.fill().await?;
            }
            let n = p.buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            out.write_all(&p.buf[..n]).map_err(write_err)?;
            p.buf.advance(n);
            left -= n as u64;
            touch(status, |s| s.sync_read = size - left);
        }
        size
    };
    out.flush().map_err(write_err)?;
    touch(status, |s| s.sync_read = size);
    Ok(size)
}

/// Notes that bytes came (and applies `f` to the status).
pub(super) fn touch(status: &Mutex<Status>, f: impl FnOnce(&mut Status)) {
    let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
    s.last_io = Instant::now();
    f(&mut s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psync_replies() {
        let id = "a".repeat(40);
        assert_eq!(
            parse_psync(&format!("+FULLRESYNC {id} 1234")),
            Ok(Psync::Full {
                replid: id.clone(),
                offset: 1234
            })
        );
        assert_eq!(
            parse_psync("+CONTINUE"),
            Ok(Psync::Continue { replid: None })
        );
        assert_eq!(
            parse_psync(&format!("+CONTINUE {id}")),
            Ok(Psync::Continue {
                replid: Some(id.clone())
            })
        );
        assert!(parse_psync("+FULLRESYNC short 1").is_err());
        assert!(parse_psync(&format!("+FULLRESYNC {id} -5")).is_err());
        assert!(parse_psync("+WHAT").is_err());
    }
}
