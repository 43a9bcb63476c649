//! One command to a local instance over its client protocol, one reply back: how the
//! manager applies membership changes, holds and flushes (CRDT.MEMBER, CRDT.WRITES,
//! CRDT.FLUSH) without linking the engine.

use crate::model::Bdb;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest reply read.
const MAX_REPLY: usize = 1 << 20;
/// The longest a command may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `args` on the local instance of `db` (on loopback, authenticated with the
/// database's password when it has one): the text of a status, bulk or integer reply, or
/// the instance's error.
pub async fn call(db: &Bdb, args: &[&str]) -> Result<String, String> {
    call_within(db, args, TIMEOUT).await
}

/// [`call`], answered within `within` (connection included).
pub async fn call_within(db: &Bdb, args: &[&str], within: Duration) -> Result<String, String> {
    let port = db.port;
    let mut req = Vec::new();
    let auth = !db.config.password.is_empty();
    if auth {
        concord_resp::encode_command(&["AUTH", &db.config.password], &mut req);
    }
    concord_resp::encode_command(args, &mut req);
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("instance on port {port}: {e}"))?;
        s.write_all(&req).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        let mut skip = auth;
        loop {
            if let Some((reply, used)) = parse(&buf)? {
                if !skip {
                    return reply;
                }
                reply.map_err(|e| format!("instance on port {port} refused the password: {e}"))?;
                buf.drain(..used);
                skip = false;
                continue;
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

/// The reply at the start of `buf` once complete, with the bytes it took: its text, or
/// the instance's error; `Ok(None)` while incomplete.
fn parse(buf: &[u8]) -> Result<Option<(Answer, usize)>, String> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = String::from_utf8_lossy(&buf[1..end]).into_owned();
    match buf[0] {
        b'+' | b':' => Ok(Some((Ok(line), end + 2))),
        b'-' => Ok(Some((Err(line), end + 2))),
        b'$' => {
            let len: usize = line
                .parse()
                .map_err(|_| format!("unexpected reply ${line}"))?;
            let start = end + 2;
            if buf.len() < start + len + 2 {
                return Ok(None);
            }
            let text = String::from_utf8_lossy(&buf[start..start + len]).into_owned();
            Ok(Some((Ok(text), start + len + 2)))
        }
        other => Err(format!("unexpected reply type {:?}", other as char)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn replies_parse_once_whole_and_garbage_is_an_error() {
        assert_eq!(parse(b"+OK\r\n"), Ok(Some((Ok("OK".into()), 5))));
        assert_eq!(parse(b"-ERR no\r\n"), Ok(Some((Err("ERR no".into()), 9))));
        assert_eq!(parse(b"$3\r\nabc\r\n+OK"), Ok(Some((Ok("abc".into()), 9))));
        assert_eq!(parse(b"$3\r\nabc"), Ok(None));
        assert_eq!(parse(b"+OK"), Ok(None));
        assert!(parse(b"$x\r\n").is_err());
        assert!(parse(b"*1\r\n").is_err());
    }
}
