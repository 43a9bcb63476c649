//! Changing an active-active database through the REST API while a client writes: a
//! cluster added, settings changed, an admin flush, a cluster removed gracefully, one
//! removed by force and purged on its side; then the CLI's forms of the same.

use crate::cluster::writer;
use crate::manager::{ADMIN, Cluster};
use crate::support::{Conn, Reply, seed, wait_for};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs a change and waits for its task; the task's end state.
fn run(c: &Cluster, method: &str, path: &str, body: Option<Value>) -> Value {
    let (s, task) = c.api.call(method, path, ADMIN, body);
    assert_eq!(s, 200, "{method} {path}: {task}");
    c.wait_task(task["id"].as_str().expect("a task"))
}

/// The client port of `guid`'s instance on cluster `c`, once it serves.
fn port_on(c: &Cluster, guid: &str) -> u16 {
    let mut port = 0;
    wait_for(30, "the instance serves", || {
        let (_, b) = c.api.call("GET", "/v1/bdbs", ADMIN, None);
        port = b
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["crdt_guid"] == guid)
            .and_then(|d| d["port"].as_u64())
            .unwrap_or(0) as u16;
        port != 0 && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    port
}

fn info(port: u16, field: &str) -> String {
    let text = match Conn::open(port).cmd(&["INFO", "crdt"]) {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        r => panic!("INFO: {r}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

/// Waits until the instances on `ports` hold the same data.
fn converged(ports: &[u16]) {
    wait_for(60, "convergence", || {
        let d: Vec<Reply> = ports
            .iter()
            .map(|&p| Conn::open(p).cmd(&["CRDT.DIGEST"]))
            .collect();
        let v: Vec<String> = ports.iter().map(|&p| info(p, "crdt_vv")).collect();
        d.iter().all(|x| *x == d[0]) && v.iter().all(|x| *x == v[0])
    });
}

#[test]
fn a_database_grows_shrinks_and_is_flushed_while_a_client_writes() {
    let seed = seed();
    let cs = [
        Cluster::start("east.example.com", 23000),
        Cluster::start("west.example.com", 23100),
        Cluster::start("north.example.com", 23200),
    ];
    let two: Vec<Value> = cs[..2]
        .iter()
        .map(|c| json!({"cluster": c.reference(ADMIN.1)}))
        .collect();
    // The instances link over TLS (the default), with certificates the clusters issue.
    let crdb = json!({"name": "shop", "instances": two});
    let (_, task) = cs[0].api.call("POST", "/v1/crdbs", ADMIN, Some(crdb));
    let guid = task["crdb_guid"].as_str().expect("guid").to_string();
    let done = cs[0].wait_task(task["id"].as_str().unwrap());
    assert_eq!(done["status"], "finished", "{done}");
    let p1 = port_on(&cs[0], &guid);
    let p2 = port_on(&cs[1], &guid);
    let (_, d) = cs[1]
        .api
        .call("GET", &format!("/v1/crdbs/{guid}"), ADMIN, None);
    assert_eq!(d["tls_ca"]["key"], "********", "{d}");
    let tls_port = d["instances"][1]["db_config"]["tls_port"]
        .as_u64()
        .expect("a TLS port");
    wait_for(20, "the TLS link up", || {
        let peer = info(p1, "crdt_peer2");
        peer.contains(&format!(":{tls_port},")) && peer.contains("state=up")
    });
    wait_for(20, "the first write", || {
        Conn::open(p1).cmd(&["SET", "before", "1"]) == Reply::Status("OK".into())
    });
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(p1, seed, stop.clone());
    let path = format!("/v1/crdbs/{guid}");

    // Grow: the third cluster joins; its instance gets everything.
    let add = json!({"add_instances": [{"cluster": cs[2].reference(ADMIN.1)}]});
    let done = run(
        &cs[0],
        "POST",
        &format!("{path}/updates"),
        Some(add.clone()),
    );
    assert_eq!(done["status"], "finished", "{done}");
    let p3 = port_on(&cs[2], &guid);
    wait_for(30, "the new instance has the old data", || {
        Conn::open(p3).cmd(&["GET", "before"]) == Reply::Bulk(b"1".to_vec())
    });
    for c in &cs {
        let (_, d) = c.api.call("GET", &path, ADMIN, None);
        assert_eq!(
            d["instances"].as_array().map(Vec::len),
            Some(3),
            "{}: {d}",
            c.name
        );
        assert_eq!(d["config_version"], 2, "{}: {d}", c.name);
    }
    // The same cluster twice is refused at once.
    let (s, v) = cs[0]
        .api
        .call("POST", &format!("{path}/updates"), ADMIN, Some(add));
    assert_eq!(s, 400, "{v}");

    // Settings change on running instances (no restart: the same run).
    let run_id = |p: u16| match Conn::open(p).cmd(&["INFO", "server"]) {
        Reply::Bulk(b) => String::from_utf8_lossy(&b)
            .lines()
            .find_map(|l| l.strip_prefix("run_id:").map(str::to_string))
            .expect("run_id"),
        r => panic!("{r}"),
    };
    let before = run_id(p2);
    let patch = json!({"default_db_config": {"memory_size": 1 << 30}});
    assert_eq!(
        run(&cs[0], "PATCH", &path, Some(patch))["status"],
        "finished"
    );
    for p in [p1, p2, p3] {
        assert_eq!(
            Conn::open(p).cmd(&["CONFIG", "GET", "maxmemory"]),
            Reply::Array(vec![
                Reply::Bulk(b"maxmemory".to_vec()),
                Reply::Bulk((1u64 << 30).to_string().into_bytes())
            ])
        );
    }
    assert_eq!(run_id(p2), before, "the instance was restarted");
    let (s, v) = cs[0]
        .api
        .call("PATCH", &path, ADMIN, Some(json!({"name": "other"})));
    assert_eq!(s, 400, "{v}");
    // A change that needs the instances restarted is refused, and nothing changes.
    let persist = json!({"default_db_config": {"data_persistence": "disabled"}});
    let (s, v) = cs[0].api.call("PATCH", &path, ADMIN, Some(persist));
    assert_eq!(
        (s, v["error_code"].as_str()),
        (409, Some("restart_needed")),
        "{v}"
    );
    let (_, now) = cs[2].api.call("GET", &path, ADMIN, None);
    assert_eq!(now["default_db_config"]["data_persistence"], "aof", "{now}");

    // Flush: what was written before is gone everywhere; the writer goes on.
    assert_eq!(
        run(&cs[1], "PUT", &format!("{path}/flush"), None)["status"],
        "finished"
    );
    for p in [p1, p2, p3] {
        assert_eq!(Conn::open(p).cmd(&["EXISTS", "before"]), Reply::Int(0));
    }

    // Shrink: west leaves gracefully; its instance and data go.
    let rm = json!({"remove_instances": [2]});
    let done = run(&cs[0], "POST", &format!("{path}/updates"), Some(rm));
    assert_eq!(done["status"], "finished", "{done}");
    assert!(cs[1].names().is_empty(), "west still has the database");
    for p in [p1, p3] {
        assert!(
            info(p, "crdt_removed").starts_with("2:"),
            "{}",
            info(p, "crdt_removed")
        );
    }
    // North is removed by force (as if it were gone), then purged on its side.
    let rm = json!({"remove_instances": [3], "force_remove": true});
    let done = run(&cs[0], "POST", &format!("{path}/updates"), Some(rm));
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(
        cs[2].names(),
        ["shop"],
        "a forced removal does not reach the removed side"
    );
    let (s, v) = cs[2].api.call(
        "PUT",
        &format!("{path}/purge"),
        ADMIN,
        Some(json!({"instances": [1]})),
    );
    assert_eq!(s, 400, "the wrong instance is refused: {v}");
    let done = run(
        &cs[2],
        "PUT",
        &format!("{path}/purge"),
        Some(json!({"instances": [3]})),
    );
    assert_eq!(done["status"], "finished", "{done}");
    assert!(cs[2].names().is_empty());

    stop.store(true, Ordering::Release);
    let total = w.join().expect("writer");
    assert!(total > 0);
    let (_, d) = cs[0].api.call("GET", &path, ADMIN, None);
    assert_eq!(d["instances"].as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(d["removed"].as_array().map(Vec::len), Some(2), "{d}");
    // Alone now, everything it holds is stable.
    wait_for(20, "metadata collected", || {
        info(p1, "crdt_unstable_keys") == "0"
    });
    converged(&[p1]);
    // A task that ended cannot be cancelled.
    let id = done["id"].as_str().expect("id");
    let (s, v) = cs[2].api.call(
        "POST",
        &format!("/v1/crdb_tasks/{id}/actions/cancel"),
        ADMIN,
        None,
    );
    assert_eq!(
        (s, v["error_code"].as_str()),
        (409, Some("task_ended")),
        "{v}"
    );
}

/// A manager killed in the middle of a task: a create still preparing is undone when it
/// comes back (nothing is left anywhere, the name is free), an add-instance that every
/// cluster had agreed to is finished.
#[test]
fn tasks_interrupted_by_a_crash_of_their_manager_finish_or_leave_nothing() {
    let mut cs = [
        Cluster::start("east.example.com", 24000),
        Cluster::start("west.example.com", 24100),
        Cluster::start("north.example.com", 24200),
    ];
    let refs = |cs: &[Cluster]| -> Vec<Value> {
        cs.iter()
            .map(|c| json!({"cluster": c.reference(ADMIN.1)}))
            .collect()
    };
    // North hangs, so the create waits in its prepare there; east dies meanwhile.
    cs[2].proc.signal("STOP");
    let crdb = json!({"name": "shop", "encryption": false, "instances": refs(&cs)});
    let (_, task) = cs[0].api.call("POST", "/v1/crdbs", ADMIN, Some(crdb));
    let id = task["id"].as_str().expect("id").to_string();
    wait_for(20, "east and west prepared", || {
        cs[0].progress(&id).contains("west.example.com: prepared")
    });
    cs[0].crash_and_restart();
    cs[2].proc.signal("CONT");
    let done = cs[0].wait_task(&id);
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["errors"].to_string().contains("undone"), "{done}");
    for c in &cs {
        assert!(c.names().is_empty(), "{} kept a database", c.name);
    }
    // West's reservation was dropped: the name is free there at once.
    let two = json!({"name": "shop", "encryption": false, "instances": refs(&cs[..2])});
    let (_, task) = cs[0].api.call("POST", "/v1/crdbs", ADMIN, Some(two));
    let guid = task["crdb_guid"].as_str().expect("guid").to_string();
    assert_eq!(
        cs[0].wait_task(task["id"].as_str().unwrap())["status"],
        "finished"
    );
    let p1 = port_on(&cs[0], &guid);
    wait_for(20, "a write", || {
        Conn::open(p1).cmd(&["SET", "k", "v"]) == Reply::Status("OK".into())
    });

    // West hangs, so the add waits in its commit there; east dies meanwhile.
    cs[1].proc.signal("STOP");
    let add = json!({"add_instances": [{"cluster": cs[2].reference(ADMIN.1)}]});
    let (s, task) = cs[0].api.call(
        "POST",
        &format!("/v1/crdbs/{guid}/updates"),
        ADMIN,
        Some(add),
    );
    assert_eq!(s, 200, "{task}");
    let id = task["id"].as_str().expect("id").to_string();
    wait_for(20, "east committed", || {
        cs[0]
            .progress(&id)
            .contains("east.example.com: member added")
    });
    cs[0].crash_and_restart();
    cs[1].proc.signal("CONT");
    let done = cs[0].wait_task(&id);
    assert_eq!(done["status"], "finished", "{done}");
    for c in &cs {
        let (_, d) = c.api.call("GET", &format!("/v1/crdbs/{guid}"), ADMIN, None);
        assert_eq!(d["config_version"], 2, "{}: {d}", c.name);
    }
    let p3 = port_on(&cs[2], &guid);
    wait_for(30, "the added instance has the data", || {
        Conn::open(p3).cmd(&["GET", "k"]) == Reply::Bulk(b"v".to_vec())
    });
}
