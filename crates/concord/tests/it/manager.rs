//! The manager of a participating cluster (`concord cluster`) as a user meets it: init,
//! start, the REST API over HTTPS, users and roles, restarts.

use crate::support::{Proc, concord_bin, spawn_listening, start};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const ADMIN: (&str, &str) = ("admin@example.com", "admin-password");

/// `concord cluster init` in `dir` with the REST API on `port`.
fn init(dir: &Path, port: u16) -> std::process::Output {
    Command::new(concord_bin())
        .args(["cluster", "init", "--dir"])
        .arg(dir)
        .args(["--name", "east.example.com", "--admin-user", ADMIN.0])
        .args([
            "--admin-password",
            ADMIN.1,
            "--rest-port",
            &port.to_string(),
        ])
        .output()
        .expect("run concord cluster init")
}

/// A cluster created and started on a free port; its directory is `proc`'s.
fn manager() -> (Proc, PathBuf) {
    let p = start("manager", |port, dir| {
        let dir = dir.join(port.to_string());
        let out = init(&dir, port);
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut c = Command::new(concord_bin());
        c.args(["cluster", "start", "--dir"]).arg(&dir);
        c
    });
    let dir = p.dir().expect("a directory").join(p.port.to_string());
    (p, dir)
}

/// An HTTPS client that trusts the cluster's self-signed certificate and nothing else.
struct Api {
    agent: ureq::Agent,
    base: String,
}

impl Api {
    fn new(dir: &Path, port: u16) -> Api {
        let pem = std::fs::read(dir.join("tls/api-cert.pem")).expect("the API certificate");
        let cert = ureq::tls::Certificate::from_pem(&pem)
            .expect("PEM")
            .to_owned();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(20)))
            .build()
            .into();
        Api {
            agent,
            base: format!("https://127.0.0.1:{port}"),
        }
    }

    /// A request as `user`; the status and the JSON body.
    fn call(
        &self,
        method: &str,
        path: &str,
        user: (&str, &str),
        body: Option<Value>,
    ) -> (u16, Value) {
        use base64::Engine as _;
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", user.0, user.1))
        );
        let url = format!("{}{path}", self.base);
        let r = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            ("POST", b) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b.unwrap_or(Value::Null)),
            ("PUT", b) => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .send_json(b.unwrap_or(Value::Null)),
            _ => panic!("method {method}"),
        };
        let mut r = r.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().expect("body");
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text:?}"));
        (status, json)
    }
}

#[test]
fn a_cluster_is_created_started_and_managed_over_https() {
    let (mut proc, dir) = manager();
    let api = Api::new(&dir, proc.port);
    let (s, v) = api.call("GET", "/v1/cluster", ADMIN, None);
    assert_eq!(
        (s, v["name"].as_str()),
        (200, Some("east.example.com")),
        "{v}"
    );

    // The key of the certificate made at init is its owner's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("tls/api-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");

    // Wrong, unknown and missing credentials.
    for who in [
        (ADMIN.0, "wrong-password"),
        ("nobody", "whatever-pass"),
        ("", ""),
    ] {
        let (s, v) = api.call("GET", "/v1/cluster", who, None);
        assert_eq!(
            (s, v["error_code"].as_str()),
            (401, Some("unauthorized")),
            "{who:?}"
        );
    }

    // Users and roles.
    let viewer = ("viewer", "viewer-password");
    let (s, v) = api.call(
        "POST",
        "/v1/users",
        ADMIN,
        Some(json!({"name": viewer.0, "password": viewer.1, "role": "db_viewer"})),
    );
    assert_eq!(s, 200, "{v}");
    let uid = v["uid"].as_u64().expect("uid");
    assert!(
        v.get("password_hash").is_none() && v.get("password").is_none(),
        "{v}"
    );
    assert_eq!(api.call("GET", "/v1/cluster", viewer, None).0, 200);
    let (s, v) = api.call("GET", "/v1/users", viewer, None);
    assert_eq!(
        (s, v["error_code"].as_str()),
        (403, Some("insufficient_permissions"))
    );
    let new_user = json!({"name": "x", "password": "x-password", "role": "admin"});
    assert_eq!(api.call("POST", "/v1/users", viewer, Some(new_user)).0, 403);
    assert_eq!(
        api.call("GET", &format!("/v1/users/{uid}"), viewer, None).0,
        200
    );
    assert_eq!(api.call("GET", "/v1/users/1", viewer, None).0, 403);
    // A viewer changes its own password, not its role.
    let path = format!("/v1/users/{uid}");
    assert_eq!(
        api.call("PUT", &path, viewer, Some(json!({"role": "admin"})))
            .0,
        403
    );
    let changed = Some(json!({"password": "new-viewer-password"}));
    assert_eq!(api.call("PUT", &path, viewer, changed).0, 200);
    assert_eq!(api.call("GET", "/v1/cluster", viewer, None).0, 401);
    let viewer = ("viewer", "new-viewer-password");
    assert_eq!(api.call("GET", "/v1/cluster", viewer, None).0, 200);

    // Refusals with their codes.
    let dup = json!({"name": "viewer", "password": "another-password", "role": "db_viewer"});
    let (s, v) = api.call("POST", "/v1/users", ADMIN, Some(dup));
    assert_eq!((s, v["error_code"].as_str()), (409, Some("user_exists")));
    let bad_role = json!({"name": "y", "password": "y-password", "role": "root"});
    assert_eq!(api.call("POST", "/v1/users", ADMIN, Some(bad_role)).0, 400);
    let short = json!({"name": "y", "password": "short", "role": "db_viewer"});
    assert_eq!(api.call("POST", "/v1/users", ADMIN, Some(short)).0, 400);
    let unknown_field = json!({"name": "y", "password": "y-password", "role": "admin", "x": 1});
    assert_eq!(
        api.call("POST", "/v1/users", ADMIN, Some(unknown_field)).0,
        400
    );
    let (s, v) = api.call("DELETE", "/v1/users/1", ADMIN, None);
    assert_eq!((s, v["error_code"].as_str()), (409, Some("last_admin")));
    let (s, v) = api.call("GET", "/v1/no/such/thing", ADMIN, None);
    assert_eq!((s, v["error_code"].as_str()), (404, Some("not_found")));

    // A second init of the same directory is refused and changes nothing.
    let again = init(&dir, proc.port);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a cluster"));

    // Users survive a restart; a deleted user is gone at once.
    proc.stop();
    let mut c = Command::new(concord_bin());
    c.args(["cluster", "start", "--dir"]).arg(&dir);
    let restarted = spawn_listening("manager", c, proc.port);
    assert_eq!(api.call("GET", "/v1/cluster", viewer, None).0, 200);
    assert_eq!(api.call("DELETE", &path, ADMIN, None).0, 200);
    assert_eq!(api.call("GET", "/v1/cluster", viewer, None).0, 401);
    drop(restarted);
}
