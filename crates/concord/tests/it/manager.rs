//! The manager of a participating cluster (`concord cluster`) as a user meets it: init,
//! start, the REST API over HTTPS, users and roles, restarts.

use crate::support::{Proc, concord_bin, spawn_listening, start};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

pub(crate) const ADMIN: (&str, &str) = ("admin@example.com", "admin-password");

/// `concord cluster init` of cluster `name` in `dir`, the REST API on `port`, databases
/// on ports from `first`.
pub(crate) fn init(dir: &Path, name: &str, port: u16, first: u16) -> std::process::Output {
    Command::new(concord_bin())
        .args(["cluster", "init", "--dir"])
        .arg(dir)
        .args(["--name", name, "--admin-user", ADMIN.0])
        .args([
            "--admin-password",
            ADMIN.1,
            "--rest-port",
            &port.to_string(),
            "--console-port",
            &crate::support::free_port().to_string(),
        ])
        .args(["--ports", &format!("{first}-{}", first + 99)])
        .output()
        .expect("run concord cluster init")
}

/// Cluster `name` created and started on a free port, its databases on ports from
/// `first`; its directory is under `proc`'s.
fn manager(name: &str, first: u16) -> (Proc, PathBuf) {
    let p = start("manager", |port, dir| {
        let dir = dir.join(port.to_string());
        let out = init(&dir, name, port, first);
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
pub(crate) struct Api {
    pub(crate) agent: ureq::Agent,
    pub(crate) base: String,
}

impl Api {
    pub(crate) fn new(dir: &Path, port: u16) -> Api {
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
    pub(crate) fn call(
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
        self.call_with(method, path, &auth, body)
    }

    /// A request with `auth` as its Authorization header; the status and the JSON body.
    pub(crate) fn call_with(
        &self,
        method: &str,
        path: &str,
        auth: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let r = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", auth).call(),
            ("DELETE", _) => self.agent.delete(&url).header("Authorization", auth).call(),
            ("POST", b) => self
                .agent
                .post(&url)
                .header("Authorization", auth)
                .send_json(b.unwrap_or(Value::Null)),
            ("PUT", b) => self
                .agent
                .put(&url)
                .header("Authorization", auth)
                .send_json(b.unwrap_or(Value::Null)),
            ("PATCH", b) => self
                .agent
                .patch(&url)
                .header("Authorization", auth)
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
    let (mut proc, dir) = manager("east.example.com", 20000);
    let api = Api::new(&dir, proc.port);
    let (s, v) = api.call("GET", "/v1/cluster", ADMIN, None);
    assert_eq!(
        (s, v["name"].as_str()),
        (200, Some("east.example.com")),
        "{v}"
    );

    // The state (password hashes, other clusters' credentials) and the key of the
    // certificate made at init are their owner's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("cluster.redb"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "state readable by others: {mode:o}");
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
    let again = init(&dir, "east.example.com", proc.port, 20000);
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

/// A running cluster that is stopped cleanly when dropped (SIGTERM: its instances stop
/// with it).
pub(crate) struct Cluster {
    pub(crate) proc: Proc,
    dir: PathBuf,
    pub(crate) name: String,
    pub(crate) api: Api,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.proc.stop();
    }
}

impl Cluster {
    /// Cluster `name`, its databases on ports from `first`.
    pub(crate) fn start(name: &str, first: u16) -> Cluster {
        let (proc, dir) = manager(name, first);
        let api = Api::new(&dir, proc.port);
        Cluster {
            proc,
            dir,
            name: name.to_string(),
            api,
        }
    }

    /// A client of the cluster's web console port (the console's files, and the API).
    pub(crate) fn console(&self) -> Api {
        let (_, v) = self.api.call("GET", "/v1/cluster", ADMIN, None);
        let port = v["console_port"].as_u64().expect("console_port");
        Api::new(&self.dir, u16::try_from(port).expect("a port"))
    }

    /// Kills the manager at once (its instances stop with it) and starts it again.
    pub(crate) fn crash_and_restart(&mut self) {
        let mut c = Command::new(concord_bin());
        c.args(["cluster", "start", "--dir"]).arg(&self.dir);
        self.proc.crash_and_replace(c);
    }

    /// The progress lines of task `id` so far.
    pub(crate) fn progress(&self, id: &str) -> String {
        let (_, t) = self
            .api
            .call("GET", &format!("/v1/crdb_tasks/{id}"), ADMIN, None);
        t["progress"].to_string()
    }

    /// How another cluster reaches this one: URL, service account, pinned certificate.
    pub(crate) fn reference(&self, password: &str) -> Value {
        use rustls_pki_types::pem::PemObject as _;
        use sha2::Digest as _;
        let der =
            rustls_pki_types::CertificateDer::from_pem_file(self.dir.join("tls/api-cert.pem"))
                .expect("certificate");
        let fp: String = sha2::Sha256::digest(der.as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        json!({
            "name": self.name,
            "url": format!("https://127.0.0.1:{}", self.proc.port),
            "credentials": {"username": ADMIN.0, "password": password},
            "fingerprint": fp,
        })
    }

    /// Waits for task `id` to end; its final state.
    pub(crate) fn wait_task(&self, id: &str) -> Value {
        let mut last = Value::Null;
        crate::support::wait_for(30, "the task ends", || {
            last = self
                .api
                .call("GET", &format!("/v1/crdb_tasks/{id}"), ADMIN, None)
                .1;
            matches!(
                last["status"].as_str(),
                Some("finished" | "failed" | "canceled")
            )
        });
        last
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let (_, v) = self.api.call("GET", "/v1/crdbs", ADMIN, None);
        v.as_array()
            .expect("list")
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The six steps of the commercial product's flow, through the REST API: service
/// accounts on three clusters, one create on the first, the database on every cluster,
/// a write on one read on the others; then the failures that must create nothing.
#[test]
fn an_active_active_database_is_created_across_three_clusters() {
    let cs = [
        Cluster::start("east.example.com", 21000),
        Cluster::start("west.example.com", 21100),
        Cluster::start("north.example.com", 21200),
    ];
    let instances: Vec<Value> = cs
        .iter()
        .map(|c| json!({"cluster": c.reference(ADMIN.1)}))
        .collect();
    let crdb = json!({"name": "shop", "encryption": false, "instances": instances});
    let (s, v) = cs[0]
        .api
        .call("POST", "/v1/crdbs?dry_run=true", ADMIN, Some(crdb.clone()));
    assert_eq!(s, 200, "{v}");
    assert!(
        cs.iter().all(|c| c.names().is_empty()),
        "a dry run created something"
    );
    let (s, task) = cs[0]
        .api
        .call("POST", "/v1/crdbs", ADMIN, Some(crdb.clone()));
    assert_eq!(s, 200, "{task}");
    let done = cs[0].wait_task(task["id"].as_str().unwrap());
    assert_eq!(done["status"], "finished", "{done}");
    let guid = task["crdb_guid"].as_str().unwrap();
    let mut ports = Vec::new();
    for c in &cs {
        let (s, d) = c.api.call("GET", &format!("/v1/crdbs/{guid}"), ADMIN, None);
        assert_eq!(
            (s, d["name"].as_str()),
            (200, Some("shop")),
            "{}: {d}",
            c.name
        );
        assert!(!d.to_string().contains(ADMIN.1), "a password is shown: {d}");
        let (_, b) = c.api.call("GET", "/v1/bdbs", ADMIN, None);
        ports.push(b[0]["port"].as_u64().unwrap() as u16);
    }
    // Write on one, read on the others.
    let mut k = None;
    crate::support::wait_for(20, "instance 1 serves", || {
        k = std::net::TcpStream::connect(("127.0.0.1", ports[0]))
            .ok()
            .map(|_| crate::support::Conn::open(ports[0]));
        k.is_some()
    });
    let mut k = k.unwrap();
    crate::support::wait_for(20, "the write is taken", || {
        k.cmd(&["SET", "greeting", "hello"]) == crate::support::Reply::Status("OK".into())
    });
    for &p in &ports[1..] {
        crate::support::wait_for(20, "the write reaches every instance", || {
            std::net::TcpStream::connect(("127.0.0.1", p)).is_ok()
                && crate::support::Conn::open(p).cmd(&["GET", "greeting"])
                    == crate::support::Reply::Bulk(b"hello".to_vec())
        });
    }

    // Every cluster reports every instance, with its links up.
    let report = format!("/v1/crdbs/{guid}/health_report");
    crate::support::wait_for(20, "every instance active and linked", || {
        let (s, r) = cs[1].api.call("GET", &report, ADMIN, None);
        s == 200
            && r["instances"].as_array().is_some_and(|l| {
                l.len() == 3
                    && l.iter().all(|i| {
                        i["status"] == "active"
                            && i["crdt_sync"]["crdt_peers"] == "2"
                            && !i["crdt_sync"].to_string().contains("state=down")
                    })
            })
    });

    // A wrong password on one cluster: the task fails and nothing is created anywhere.
    let mut bad: Vec<Value> = cs
        .iter()
        .map(|c| json!({"cluster": c.reference(ADMIN.1)}))
        .collect();
    bad[2] = json!({"cluster": cs[2].reference("not-the-password")});
    let crdb2 = json!({"name": "cart", "encryption": false, "instances": bad});
    let (_, task) = cs[0].api.call("POST", "/v1/crdbs", ADMIN, Some(crdb2));
    let done = cs[0].wait_task(task["id"].as_str().unwrap());
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["errors"].to_string().contains("401"), "{done}");
    for c in &cs {
        assert_eq!(c.names(), ["shop"], "{}", c.name);
        let (_, b) = c.api.call("GET", "/v1/bdbs", ADMIN, None);
        assert_eq!(b.as_array().unwrap().len(), 1, "{}: {b}", c.name);
    }
    // The name is free again everywhere: the aborted reservations are gone.
    let retry: Vec<Value> = cs
        .iter()
        .map(|c| json!({"cluster": c.reference(ADMIN.1)}))
        .collect();
    let crdb3 = json!({"name": "cart", "encryption": false, "instances": retry});
    let (_, task) = cs[0].api.call("POST", "/v1/crdbs", ADMIN, Some(crdb3));
    assert_eq!(
        cs[0].wait_task(task["id"].as_str().unwrap())["status"],
        "finished"
    );

    // Refused before anything starts: a duplicate name, a taken port, an unpinned
    // certificate, a bad setting.
    let (s, v) = cs[0]
        .api
        .call("POST", "/v1/crdbs", ADMIN, Some(crdb.clone()));
    assert_eq!(
        (s, v["error_code"].as_str()),
        (409, Some("name_taken")),
        "{v}"
    );
    let mut unpinned = crdb.clone();
    unpinned["name"] = json!("other");
    unpinned["instances"][1]["cluster"]["fingerprint"] = Value::Null;
    let (s, v) = cs[0]
        .api
        .call("POST", "/v1/crdbs?dry_run=true", ADMIN, Some(unpinned));
    assert_eq!(s, 400, "{v}");
    assert!(
        v["description"]
            .as_str()
            .unwrap()
            .contains("fingerprint is"),
        "{v}"
    );
    let mut taken = crdb.clone();
    taken["name"] = json!("other");
    taken["instances"][0]["db_config"] = json!({"port": ports[0]});
    let (s, v) = cs[0]
        .api
        .call("POST", "/v1/crdbs?dry_run=true", ADMIN, Some(taken.clone()));
    assert_eq!(s, 400, "a dry run must see the taken port: {v}");
    assert!(v["description"].as_str().unwrap().contains("port"), "{v}");
    let (s, v) = cs[0].api.call(
        "POST",
        "/v1/crdbs?dry_run=maybe",
        ADMIN,
        Some(taken.clone()),
    );
    assert_eq!(
        (s, v["error_code"].as_str()),
        (400, Some("invalid_schema")),
        "{v}"
    );
    // A commit nobody prepared is refused.
    let mut unprepared = taken.clone();
    unprepared["guid"] = json!("00000000-0000-0000-0000-000000000000");
    for (i, inst) in unprepared["instances"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        inst["id"] = json!(i + 1);
        inst["db_config"] = json!({"port": 21090 + i});
    }
    let (s, v) = cs[0].api.call(
        "POST",
        "/v1/crdbs/00000000-0000-0000-0000-000000000000/_commit",
        ADMIN,
        Some(json!({"crdb": unprepared})),
    );
    assert_eq!(
        (s, v["error_code"].as_str()),
        (409, Some("not_prepared")),
        "{v}"
    );
    let (_, task) = cs[0].api.call("POST", "/v1/crdbs", ADMIN, Some(taken));
    let done = cs[0].wait_task(task["id"].as_str().unwrap());
    assert_eq!(done["status"], "failed");
    assert!(done["errors"].to_string().contains("port"), "{done}");
    let mut lying = crdb;
    lying["name"] = json!("other");
    lying["default_db_config"] = json!({"eviction_policy": "allkeys-lru"});
    assert_eq!(
        cs[0].api.call("POST", "/v1/crdbs", ADMIN, Some(lying)).0,
        400
    );
    for c in &cs {
        assert_eq!(c.names().len(), 2, "{}", c.name);
    }

    // A delete removes the database and stops its instances everywhere.
    let (_, list) = cs[1].api.call("GET", "/v1/crdbs", ADMIN, None);
    let cart = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "cart")
        .expect("cart")["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, bdbs) = cs[2].api.call("GET", "/v1/bdbs", ADMIN, None);
    let cart_port = bdbs
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "cart")
        .expect("cart's instance")["port"]
        .as_u64()
        .unwrap() as u16;
    let (s, task) = cs[1]
        .api
        .call("DELETE", &format!("/v1/crdbs/{cart}"), ADMIN, None);
    assert_eq!(s, 200, "{task}");
    assert_eq!(
        cs[1].wait_task(task["id"].as_str().unwrap())["status"],
        "finished"
    );
    for c in &cs {
        assert_eq!(c.names(), ["shop"], "{}", c.name);
    }
    crate::support::wait_for(10, "cart's instance stops", || {
        std::net::TcpStream::connect(("127.0.0.1", cart_port)).is_err()
    });
    let (s, _) = cs[0]
        .api
        .call("DELETE", &format!("/v1/crdbs/{cart}"), ADMIN, None);
    assert_eq!(s, 404);
}

/// Runs the `concord` CLI with `args`; (success, stdout, stderr).
pub(crate) fn cli(args: &[String]) -> (bool, String, String) {
    let out = Command::new(concord_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run concord");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The same flow from the CLI, with crdb-cli's flags: create (waiting and printing the
/// task's progress), list, add and remove an instance, update, flush, the tasks, delete;
/// a certificate nobody pinned is refused with its fingerprint.
#[test]
fn the_cli_creates_changes_and_deletes_a_database() {
    let cs = [
        Cluster::start("east.example.com", 22000),
        Cluster::start("west.example.com", 22100),
        Cluster::start("north.example.com", 22200),
    ];
    let spec = |c: &Cluster, pinned: bool| {
        let r = c.reference(ADMIN.1);
        let mut s = format!(
            "fqdn={},url={},username={},password={}",
            c.name,
            r["url"].as_str().unwrap(),
            ADMIN.0,
            ADMIN.1
        );
        if pinned {
            s += &format!(",fingerprint={}", r["fingerprint"].as_str().unwrap());
        }
        s
    };
    let create = |pinned: bool| -> Vec<String> {
        let mut a: Vec<String> = ["crdb", "create", "--name", "shop", "--memory-size", "100mb"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for c in &cs[..2] {
            a.push("--instance".into());
            a.push(spec(c, pinned));
        }
        a
    };
    let (ok, _, err) = cli(&create(false));
    assert!(!ok && err.contains("fingerprint is"), "{err}");
    assert!(cs.iter().all(|c| c.names().is_empty()));
    let (ok, out, err) = cli(&create(true));
    assert!(ok, "{out}\n{err}");
    for line in [
        "Task ",
        "Status changed:",
        "-> finished",
        "Created database shop",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    let target = |c: &Cluster| -> Vec<String> {
        let r = c.reference(ADMIN.1);
        [
            "--cluster-url",
            r["url"].as_str().unwrap(),
            "--username",
            ADMIN.0,
            "--password",
            ADMIN.1,
            "--trust-fingerprint",
            r["fingerprint"].as_str().unwrap(),
            "--output",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut list = vec!["crdb".to_string(), "list".into()];
    list.extend(target(&cs[1]));
    let (ok, out, err) = cli(&list);
    assert!(ok, "{err}");
    let dbs: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(dbs[0]["name"], "shop");
    assert_eq!(dbs[0]["default_db_config"]["memory_size"], 100 << 20);
    let guid = dbs[0]["guid"].as_str().unwrap().to_string();
    let change = |verb: &str, extra: &[String]| {
        let mut a = vec![
            "crdb".to_string(),
            verb.into(),
            "--crdb-guid".into(),
            guid.clone(),
        ];
        a.extend(extra.iter().cloned());
        a.extend(
            target(&cs[0])
                .into_iter()
                .filter(|x| x != "--output" && x != "json"),
        );
        let (ok, out, err) = cli(&a);
        assert!(ok, "crdb {verb}: {out}\n{err}");
        assert!(out.contains("-> finished"), "crdb {verb}: {out}");
        out
    };
    change("add-instance", &["--instance".into(), spec(&cs[2], true)]);
    assert_eq!(cs[2].names(), ["shop"]);
    change("update", &["--memory-size".into(), "200mb".into()]);
    change("flush", &[]);
    change("remove-instance", &["--instance-id".into(), "3".into()]);
    assert!(cs[2].names().is_empty(), "the removed instance is deleted");
    let mut delete = vec![
        "crdb".to_string(),
        "delete".into(),
        "--crdb-guid".into(),
        guid,
    ];
    delete.extend(target(&cs[1]));
    let (ok, _, err) = cli(&delete);
    assert!(ok, "{err}");
    assert!(cs.iter().all(|c| c.names().is_empty()));
    let mut tasks = vec!["task".to_string(), "list".into()];
    tasks.extend(target(&cs[0]));
    let (ok, out, _) = cli(&tasks);
    assert!(ok);
    let tasks: Value = serde_json::from_str(&out).expect("json");
    let tasks = tasks.as_array().unwrap();
    let ops: Vec<&str> = tasks
        .iter()
        .filter_map(|t| t["operation"].as_str())
        .collect();
    for op in [
        "create_crdb",
        "add_instance",
        "update_crdb",
        "flush_crdb",
        "remove_instance",
    ] {
        assert!(ops.contains(&op), "{op} not in {ops:?}");
    }
    assert!(tasks.iter().all(|t| t["status"] == "finished"), "{tasks:?}");
}

/// A session token stands for its user until the password changes; a wrong password gets
/// none; a made-up token is refused.
#[test]
fn a_session_token_stands_for_its_user_until_the_password_changes() {
    let c = Cluster::start("session.example.com", 26000);
    let login = |password: &str| {
        c.api.call_with(
            "POST",
            "/v1/users/authorize",
            "",
            Some(json!({"username": ADMIN.0, "password": password})),
        )
    };
    let (s, v) = login("wrong-password");
    assert_eq!(
        (s, v["error_code"].as_str()),
        (401, Some("unauthorized")),
        "{v}"
    );
    let (s, v) = login(ADMIN.1);
    assert_eq!(s, 200, "{v}");
    let bearer = format!("Bearer {}", v["access_token"].as_str().expect("a token"));
    assert_eq!(c.api.call_with("GET", "/v1/cluster", &bearer, None).0, 200);
    let forged = format!("Bearer {}", "0".repeat(64));
    assert_eq!(c.api.call_with("GET", "/v1/cluster", &forged, None).0, 401);
    let (_, users) = c.api.call("GET", "/v1/users", ADMIN, None);
    let uid = users[0]["uid"].as_u64().expect("uid");
    let changed = json!({"password": "another-admin-password"});
    let path = format!("/v1/users/{uid}");
    assert_eq!(c.api.call_with("PUT", &path, &bearer, Some(changed)).0, 200);
    assert_eq!(
        c.api.call_with("GET", "/v1/cluster", &bearer, None).0,
        401,
        "the session ends with the password it was made with"
    );
    // A body past the limit gets the API's JSON error too.
    let huge = json!({"name": "x".repeat(3 << 20)});
    let (s, v) = c.api.call(
        "POST",
        "/v1/users",
        ("admin@example.com", "another-admin-password"),
        Some(huge),
    );
    assert_eq!(
        (s, v["error_code"].as_str()),
        (413, Some("too_large")),
        "{v}"
    );
}
