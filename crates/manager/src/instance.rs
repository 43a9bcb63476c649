//! Asking a local instance how it is, through its client protocol (the manager never
//! links the engine).

use crate::model::Bdb;
use std::time::Duration;

/// How long an instance has to answer: a stuck one must not stall the API.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The fields of INFO `sections` of the instance on `port`, as a JSON object of strings.
pub async fn info_fields(
    db: &Bdb,
    sections: &[&str],
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let text = info(db, sections).await?;
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

/// The INFO text of the instance on `port` for `sections`, asked in one command (one
/// round trip), within [`ANSWER_WITHIN`].
pub async fn info(db: &Bdb, sections: &[&str]) -> Result<String, String> {
    let mut args = vec!["INFO"];
    args.extend_from_slice(sections);
    crate::command::call_within(db, &args, ANSWER_WITHIN).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A fake instance on a free port that reads one command, hands it to `reply` and
    /// writes back what it returns (`None`: it never answers).
    async fn fake(reply: fn(&[u8]) -> Option<Vec<u8>>) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("address").port();
        tokio::spawn(async move {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            match reply(&buf[..n]) {
                Some(r) => {
                    let _ = s.write_all(&r).await;
                }
                // Holds the connection open, silent.
                None => tokio::time::sleep(Duration::from_secs(60)).await,
            }
        });
        port
    }

    /// A local database on `port` with `password`.
    fn db(port: u16, password: &str) -> Bdb {
        Bdb {
            uid: 1,
            name: "db".into(),
            crdb_guid: "g".into(),
            replica_id: 1,
            port,
            tls_port: None,
            tls: None,
            peers: Vec::new(),
            removed: Vec::new(),
            config: crate::model::DbConfig {
                password: password.into(),
                ..Default::default()
            },
            encryption: false,
            compression: 0,
            config_version: 1,
        }
    }

    #[tokio::test]
    async fn a_password_is_given_first_and_a_refusal_is_an_error() {
        let port = fake(|cmd| {
            (cmd == b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$4\r\nINFO\r\n$4\r\ncrdt\r\n")
                .then(|| b"+OK\r\n$6\r\na:1\r\nb\r\n".to_vec())
        })
        .await;
        assert_eq!(
            info(&db(port, "pw"), &["crdt"]).await,
            Ok("a:1\r\nb".to_string())
        );
        let port = fake(|_| Some(b"-WRONGPASS no\r\n$1\r\nx\r\n".to_vec())).await;
        let refused = info(&db(port, "bad"), &["crdt"]).await;
        assert!(refused.is_err_and(|e| e.contains("refused the password")));
    }

    #[tokio::test]
    async fn several_sections_are_asked_in_one_command() {
        let port = fake(|cmd| {
            (cmd == b"*3\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n$4\r\ncrdt\r\n")
                .then(|| b"$13\r\nused_memory:1\r\n".to_vec())
        })
        .await;
        assert_eq!(
            info(&db(port, ""), &["memory", "crdt"]).await,
            Ok("used_memory:1".to_string())
        );
    }

    #[tokio::test]
    async fn a_silent_instance_costs_only_the_timeout() {
        let port = fake(|_| None).await;
        let t = std::time::Instant::now();
        assert!(info(&db(port, ""), &["memory"]).await.is_err());
        assert!(t.elapsed() < ANSWER_WITHIN + Duration::from_secs(1));
    }

    #[tokio::test]
    async fn errors_and_oversized_replies_are_refused() {
        let port = fake(|_| Some(b"-ERR no\r\n".to_vec())).await;
        assert!(info(&db(port, ""), &["memory"]).await.is_err());
        let port = fake(|_| {
            let mut r = format!("${}\r\n", 2 << 20).into_bytes();
            r.resize(r.len() + (2 << 20), b'x');
            Some(r)
        })
        .await;
        assert_eq!(
            info(&db(port, ""), &["memory"]).await,
            Err("reply too long".to_string())
        );
    }
}
