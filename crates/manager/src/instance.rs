//! Asking a local instance how it is, through its client protocol (the manager never
//! links the engine).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest INFO reply read.
const MAX_INFO: usize = 1 << 20;

/// The `INFO crdt` fields of the instance on `port`, as a JSON object of strings.
pub async fn info_crdt(port: u16) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(b"*2\r\n$4\r\nINFO\r\n$4\r\ncrdt\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed".to_string());
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_INFO {
                return Err("INFO reply too long".into());
            }
            if let Some(text) = bulk(&buf)? {
                return Ok(text);
            }
        }
    };
    let text = tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .map_err(|_| "instance did not answer".to_string())??;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(v.trim().to_string()),
            )
        })
        .collect())
}

/// The bulk string reply in `buf` once complete.
fn bulk(buf: &[u8]) -> Result<Option<String>, String> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|e| e.to_string())?;
    let len: usize = head
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unexpected reply {head:?}"))?;
    let start = end + 2;
    if buf.len() < start + len {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&buf[start..start + len]).into_owned(),
    ))
}
