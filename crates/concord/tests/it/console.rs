//! The web console's port as a client meets it: the page's files with their security
//! headers, the same API as the REST port (challenging for a bearer token, so browsers
//! keep their password prompt away), and `POST /v1/remote_clusters/check`, which the
//! console uses to check each participating cluster as it is entered. The page itself is
//! tested in headless Chromium (tests/console).

use crate::manager::{ADMIN, Cluster};
use serde_json::{Value, json};

#[test]
fn the_console_port_serves_the_page_and_the_api() {
    let c = Cluster::start("console.example.com", 24000);
    let console = c.console();
    for (path, media) in [
        ("/", "text/html"),
        ("/core.js", "text/javascript"),
        ("/console.css", "text/css"),
    ] {
        let url = format!("{}{path}", console.base);
        let r = console.agent.get(&url).call().expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let header = |h: &str| {
            r.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert!(header("content-type").starts_with(media), "{path}");
        assert!(header("content-security-policy").contains("script-src 'self'"));
        assert_eq!(header("x-frame-options"), "DENY");
    }
    let (s, v) = console.call("GET", "/v1/cluster", ADMIN, None);
    assert_eq!((s, v["name"].as_str()), (200, Some("console.example.com")));
    // A session token from the console's port works on both ports.
    let (s, v) = console.call_with(
        "POST",
        "/v1/users/authorize",
        "",
        Some(json!({"username": ADMIN.0, "password": ADMIN.1})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["user"]["role"], "admin");
    let bearer = format!("Bearer {}", v["access_token"].as_str().expect("token"));
    assert_eq!(c.api.call_with("GET", "/v1/crdbs", &bearer, None).0, 200);
    // Basic auth ends no session; the token's own request ends it, on both ports.
    let (s, v) = console.call("DELETE", "/v1/users/authorize", ADMIN, None);
    assert_eq!((s, &v["ended"]), (200, &json!(false)), "{v}");
    let (s, v) = console.call_with("DELETE", "/v1/users/authorize", &bearer, None);
    assert_eq!((s, &v["ended"]), (200, &json!(true)), "{v}");
    assert_eq!(c.api.call_with("GET", "/v1/crdbs", &bearer, None).0, 401);
    // A refusal challenges for a bearer token on the console's port, basic auth on the API's.
    let challenge = |base: &str, agent: &ureq::Agent| {
        let r = agent
            .get(format!("{base}/v1/crdbs"))
            .header("Authorization", "Bearer wrong")
            .call()
            .expect("GET");
        assert_eq!(r.status().as_u16(), 401);
        r.headers()["www-authenticate"]
            .to_str()
            .expect("text")
            .to_string()
    };
    assert!(challenge(&console.base, &console.agent).starts_with("Bearer"));
    assert!(challenge(&c.api.base, &c.api.agent).starts_with("Basic"));
}

#[test]
fn another_cluster_is_checked_before_it_is_used() {
    let a = Cluster::start("a.example.com", 24200);
    let b = Cluster::start("b.example.com", 24400);
    let b_ref = b.reference(crate::manager::ADMIN.1);
    let check = |user: (&str, &str), body: Value| {
        a.api
            .call("POST", "/v1/remote_clusters/check", user, Some(body))
    };
    let body = |password: &str, fingerprint: Option<&Value>| {
        let mut v = json!({
            "url": b_ref["url"],
            "credentials": {"username": ADMIN.0, "password": password},
        });
        if let Some(f) = fingerprint {
            v["fingerprint"] = f.clone();
        }
        v
    };
    // First contact: reached, not trusted yet, its fingerprint shown for a person to check.
    let (s, v) = check(ADMIN, body(ADMIN.1, None));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["trusted"], false);
    assert_eq!(v["fingerprint"], b_ref["fingerprint"]);
    assert!(v.get("name").is_none(), "{v}");
    // Pinned: the credentials are tried, and the cluster's name comes back.
    let fp = &b_ref["fingerprint"];
    let (s, v) = check(ADMIN, body(ADMIN.1, Some(fp)));
    assert_eq!(
        (s, &v["trusted"], &v["name"]),
        (200, &json!(true), &json!("b.example.com")),
        "{v}"
    );
    // Each way it can fail, with its own code.
    let (s, v) = check(ADMIN, body("wrong-password", Some(fp)));
    assert_eq!(
        (s, v["error_code"].as_str()),
        (422, Some("credentials_refused")),
        "{v}"
    );
    let (s, v) = check(ADMIN, body(ADMIN.1, Some(&json!("00".repeat(32)))));
    assert_eq!(
        (s, v["error_code"].as_str()),
        (422, Some("fingerprint_mismatch")),
        "{v}"
    );
    let viewer = ("viewer@example.com", "viewer-password");
    for cluster in [&a, &b] {
        let (s, v) = cluster.api.call(
            "POST",
            "/v1/users",
            ADMIN,
            Some(json!({"name": viewer.0, "password": viewer.1, "role": "db_viewer"})),
        );
        assert_eq!(s, 200, "{v}");
    }
    let mut as_viewer = body(viewer.1, Some(fp));
    as_viewer["credentials"]["username"] = json!(viewer.0);
    let (s, v) = check(ADMIN, as_viewer.clone());
    assert_eq!(
        (s, v["error_code"].as_str()),
        (422, Some("not_admin")),
        "{v}"
    );
    // A Viewer here may not make this cluster dial anywhere.
    assert_eq!(check(viewer, as_viewer).0, 403);
    let mut gone = body(ADMIN.1, None);
    gone["url"] = json!(format!("https://127.0.0.1:{}", crate::support::free_port()));
    let (s, v) = check(ADMIN, gone);
    assert_eq!(
        (s, v["error_code"].as_str()),
        (502, Some("cluster_unreachable")),
        "{v}"
    );
    for bad in [
        json!({"url": "http://127.0.0.1:1", "credentials": {"username": "u", "password": "p"}}),
        json!({"url": 1}),
    ] {
        assert_eq!(check(ADMIN, bad).0, 400);
    }
}

#[test]
fn init_refuses_a_console_port_that_collides() {
    let dir = crate::support::TempDir::new("console-init");
    let try_init = |rest: &str, console: &str| {
        std::process::Command::new(crate::support::concord_bin())
            .args(["cluster", "init", "--dir"])
            .arg(dir.0.join("c"))
            .args(["--name", "c.example.com", "--admin-user", ADMIN.0])
            .args(["--admin-password", ADMIN.1, "--rest-port", rest])
            .args(["--console-port", console, "--ports", "30000-30099"])
            .output()
            .expect("run concord cluster init")
    };
    for (rest, console, why) in [
        ("30500", "30500", "ports of their own"),
        ("30500", "30050", "inside the databases' port range"),
        ("30050", "30500", "inside the databases' port range"),
    ] {
        let out = try_init(rest, console);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(why),
            "{rest} {console}: {err}"
        );
    }
    assert!(try_init("30500", "30501").status.success());
}
