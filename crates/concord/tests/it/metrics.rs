//! The cluster manager's `GET /metrics`: a database created through the REST API, a few
//! keys written to its instance, and what Prometheus would scrape.

use crate::manager::{ADMIN, Api, Cluster};
use crate::support::{Conn, Reply, wait_for};
use serde_json::json;

/// `GET /metrics` as `user` (no credentials at all if None): the status and the text,
/// which is not JSON, so not through `Api::call`.
fn scrape(api: &Api, user: Option<(&str, &str)>) -> (u16, String) {
    let mut req = api.agent.get(format!("{}/metrics", api.base));
    if let Some((name, password)) = user {
        use base64::Engine as _;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
        req = req.header("Authorization", format!("Basic {pair}"));
    }
    let mut r = req.call().expect("an HTTP response");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().expect("body"))
}

/// A sample: its metric name, its labels and its value.
type Sample = (String, Vec<(String, String)>, f64);

/// One sample line of the Prometheus text format (`name{k="v",...} value`), or why it is
/// not one.
fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("no metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(mut l) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = l.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = l.split_once("=\"").ok_or("a label without =\"")?;
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("label name {key:?}"));
            }
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next().ok_or("an unclosed label value")? {
                    (_, '\\') => match chars.next().ok_or("a cut escape")?.1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        c => return Err(format!("escape \\{c}")),
                    },
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.to_string(), value));
            l = &after[end + 1..];
            l = l.strip_prefix(',').unwrap_or(l);
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|e| format!("value {v:?}: {e}"))?,
    };
    Ok((name.to_string(), labels, value))
}

#[test]
fn the_manager_serves_its_instances_metrics_to_prometheus() {
    // Its databases on ports 25000-25099, which no other test uses.
    let m = Cluster::start("metrics.example.com", 25000);

    // A one-instance database, created as users create any.
    let body = json!({
        "name": "metered",
        "encryption": false,
        "instances": [{"cluster": m.reference(ADMIN.1)}],
    });
    let (s, task) = m.api.call("POST", "/v1/crdbs", ADMIN, Some(body));
    assert_eq!(s, 200, "{task}");
    let guid = task["crdb_guid"].as_str().expect("a guid").to_string();
    let done = m.wait_task(task["id"].as_str().expect("an id"));
    assert_eq!(done["status"], "finished", "{done}");
    let (_, bdbs) = m.api.call("GET", "/v1/bdbs", ADMIN, None);
    let bdb = bdbs[0].clone();
    let port = bdb["port"].as_u64().expect("a port") as u16;
    let uid = bdb["uid"].as_u64().expect("a uid");

    // Keys written straight to the instance, once it answers.
    wait_for(20, "the instance answers", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && Conn::open(port).cmd(&["PING"]) == Reply::Status("PONG".into())
    });
    let mut k = Conn::open(port);
    for key in ["k1", "k2", "k3"] {
        assert_eq!(k.cmd(&["SET", key, "v"]), Reply::Status("OK".into()));
    }

    // A scrape: poll until the manager sees the instance up (it asks with a short
    // timeout, which a loaded machine may miss once).
    let mut text = String::new();
    wait_for(20, "a scrape with the instance up", || {
        let (s, t) = scrape(&m.api, Some(ADMIN));
        assert_eq!(s, 200, "{t}");
        text = t;
        text.lines()
            .any(|l| l.starts_with("concord_instance_up{") && l.ends_with("} 1"))
    });
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            assert!(
                comment.starts_with(" HELP concord_") || comment.starts_with(" TYPE concord_"),
                "{line:?}"
            );
            continue;
        }
        samples.push(sample(line).unwrap_or_else(|e| panic!("{line:?}: {e}\n{text}")));
    }
    let ours = |name: &str| -> f64 {
        let found: Vec<f64> = samples
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && labels
                        .iter()
                        .any(|(k, v)| k == "db" && *v == uid.to_string())
                    && labels.iter().any(|(k, v)| k == "name" && v == "metered")
                    && labels.iter().any(|(k, v)| k == "crdb_guid" && *v == guid)
                    && labels.iter().any(|(k, v)| k == "replica_id" && v == "1")
            })
            .map(|(_, _, v)| *v)
            .collect();
        assert_eq!(found.len(), 1, "{name} once for the database in:\n{text}");
        found[0]
    };
    assert_eq!(ours("concord_instance_up"), 1.0);
    assert!(ours("concord_memory_used_bytes") > 0.0, "{text}");
    assert_eq!(ours("concord_keys"), 3.0, "{text}");
    assert!(ours("concord_commands_processed_total") >= 3.0, "{text}");
    assert!(ours("concord_crdt_local_ops_total") >= 3.0, "{text}");
    assert!(ours("concord_connected_clients") >= 1.0, "{text}");
    assert!(text.contains("# TYPE concord_commands_processed_total counter\n"));

    // Like every endpoint, it wants credentials.
    let (s, _) = scrape(&m.api, None);
    assert_eq!(s, 401);
    let (s, _) = scrape(&m.api, Some((ADMIN.0, "wrong-password")));
    assert_eq!(s, 401);
}

#[test]
fn sample_lines_are_read_strictly() {
    assert_eq!(
        sample(r#"a_b{x="1",y="q\"\\\n"} 2.5"#),
        Ok((
            "a_b".into(),
            vec![("x".into(), "1".into()), ("y".into(), "q\"\\\n".into())],
            2.5
        ))
    );
    assert_eq!(sample("up 1"), Ok(("up".into(), vec![], 1.0)));
    for bad in [
        "",
        "1x 1",
        "a{x=1} 1",
        "a{x=\"1} 1",
        "a{x=\"1\"}1",
        "a nan!",
        "a",
    ] {
        assert!(sample(bad).is_err(), "{bad:?}");
    }
}
