//! One command to a local instance over its client protocol, one reply back: how the
//! manager applies membership changes, holds and flushes (CRDT.MEMBER, CRDT.WRITES,
//! CRDT.FLUSH) without linking the engine.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest reply read.
const MAX_REPLY: usize = 1 << 20;
/// The longest a command may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `args` on the instance listening on `port` (loopback): the text of a status,
/// bulk or integer reply, or the instance's error.
pub async fn call(port: u16, args: &[&str]) -> Result<String, String> {
    call_within(port, args, TIMEOUT).await
}

/// [`call`], answered within `within` (connection included).
pub async fn call_within(port: u16, args: &[&str], within: Duration) -> Result<String, String> {
    let mut req = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("instance on port {port}: {e}"))?;
        s.write_all(&req).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(reply) = parse(&buf)? {
                return reply;
            }
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!("instance on port {port} closed the connection"));
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_REPLY {
                return Err("reply too long".into());
            }
        }
    };
    tokio::time::timeout(within, ask)
        .await
        .map_err(|_| format!("instance on port {port} did not answer"))?
}

/// A whole reply: its text, or the instance's error.
type Answer = Result<String, String>;

/// The reply at the start of `buf` once complete: `Ok(Some(Ok(text)))`, the instance's
/// error as `Ok(Some(Err(..)))`, `Ok(None)` while incomplete.
fn parse(buf: &[u8]) -> Result<Option<Answer>, String> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = String::from_utf8_lossy(&buf[1..end]).into_owned();
    match buf[0] {
        b'+' | b':' => Ok(Some(Ok(line))),
        b'-' => Ok(Some(Err(line))),
        b'$' => {
            let len: usize = line
                .parse()
                .map_err(|_| format!("unexpected reply ${line}"))?;
            let start = end + 2;
            if buf.len() < start + len {
                return Ok(None);
            }
            Ok(Some(Ok(
                String::from_utf8_lossy(&buf[start..start + len]).into_owned()
            )))
        }
        other => Err(format!("unexpected reply type {:?}", other as char)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn replies_parse_once_whole_and_garbage_is_an_error() {
        assert_eq!(parse(b"+OK\r\n"), Ok(Some(Ok("OK".into()))));
        assert_eq!(parse(b"-ERR no\r\n"), Ok(Some(Err("ERR no".into()))));
        assert_eq!(parse(b"$3\r\nabc\r\n"), Ok(Some(Ok("abc".into()))));
        assert_eq!(parse(b"$3\r\nab"), Ok(None));
        assert_eq!(parse(b"+OK"), Ok(None));
        assert!(parse(b"$x\r\n").is_err());
        assert!(parse(b"*1\r\n").is_err());
    }
}
