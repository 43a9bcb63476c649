//! `/v1/crdbs`, `/v1/crdb_tasks` and `/v1/bdbs`: active-active databases, the tasks that
//! change them, and the local databases their instances run as. The `_prepare`,
//! `_commit` and `_abort` routes are the two phases other clusters' managers drive.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Path, json_body};
use crate::coordinate::{self, local_bdb, local_instance, new_id, redacted, validate};
use crate::model::{Crdb, Task, TaskStatus};
use crate::users::Role;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Whether the query asks for a dry run (`dry_run=true`); anything else malformed is the
/// API's JSON error, not the framework's text.
fn dry_run(query: Option<&str>) -> Result<bool, ApiError> {
    let mut dry = false;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("dry_run", "true")) => dry = true,
            Some(("dry_run", "false")) => dry = false,
            _ => {
                return Err(ApiError::invalid(format!(
                    "query {pair:?}: only dry_run=true|false"
                )));
            }
        }
    }
    Ok(dry)
}

/// GET /v1/crdbs.
pub async fn list(State(s): State<Arc<AppState>>, c: Caller) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbViewer)?;
    Ok(Json(s.store.crdbs()?.iter().map(redacted).collect()))
}

/// Database `guid`, or the API's 404.
pub(crate) fn existing(s: &AppState, guid: &str) -> Result<Crdb, ApiError> {
    s.store
        .crdb(guid)?
        .ok_or_else(|| ApiError::not_found(format!("no database {guid}")))
}

/// GET /v1/crdbs/{guid}.
pub async fn get(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbViewer)?;
    let crdb = existing(&s, &guid)?;
    Ok(Json(redacted(&crdb)))
}

/// GET /v1/crdbs/{guid}/health_report: every instance as its cluster reports it (the
/// local one read here, the others through their clusters' APIs), with its links.
pub async fn health_report(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbViewer)?;
    let crdb = existing(&s, &guid)?;
    let mut instances = Vec::new();
    for inst in &crdb.instances {
        let found: Result<Value, String> = if inst.cluster.name == s.name {
            match s.store.bdbs()?.into_iter().find(|b| b.crdb_guid == guid) {
                Some(b) => Ok(bdb_view(&b).await),
                None => Err("no local instance".into()),
            }
        } else {
            let g = guid.clone();
            coordinate::remote(&s, &inst.cluster, move |r| {
                r.get("/v1/bdbs")?
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|b| b["crdt_guid"] == g.as_str())
                    .cloned()
                    .ok_or_else(|| "the cluster has no instance of the database".to_string())
            })
            .await
        };
        instances.push(match found {
            Ok(b) => json!({
                "id": inst.id,
                "cluster": inst.cluster.name,
                "status": b["status"],
                "port": b["port"],
                "crdt_sync": b["crdt_sync"],
            }),
            Err(e) => json!({
                "id": inst.id,
                "cluster": inst.cluster.name,
                "status": "unreachable",
                "error": e,
            }),
        });
    }
    Ok(Json(json!({
        "crdb_guid": guid,
        "name": crdb.name,
        "config_version": crdb.config_version,
        "instances": instances,
    })))
}

/// DELETE /v1/crdbs/{guid}: removes the database from every participating cluster, in
/// a task.
pub async fn delete(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let crdb = existing(&s, &guid)?;
    let claim = super::changes::claim(&s, &guid)?;
    let task = new_task(&crdb.guid, "delete_crdb");
    s.store.put_task(&task)?;
    tokio::spawn(coordinate::delete(
        Arc::clone(&s),
        claim,
        crdb,
        task.clone(),
    ));
    Ok(Json(serde_json::to_value(&task).expect("tasks serialize")))
}

/// A queued task of `operation` on database `guid`.
pub(crate) fn new_task(guid: &str, operation: &str) -> Task {
    Task {
        id: new_id(),
        crdb_guid: guid.to_string(),
        operation: operation.into(),
        status: TaskStatus::Queued,
        progress: Vec::new(),
        errors: Vec::new(),
    }
}

/// POST /v1/crdbs: validates, then creates the database in a task (or, with
/// `dry_run=true`, only checks that every cluster would accept it).
pub async fn create(
    State(s): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    c: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let dry = dry_run(query.as_deref())?;
    let mut crdb: Crdb = json_body(&body)?;
    let given = crdb.tls_ca.is_some() || !crdb.removed.is_empty();
    if !crdb.guid.is_empty() || crdb.config_version != 0 || given {
        return Err(ApiError::invalid(
            "guid, config_version, removed and tls_ca are given by the cluster",
        ));
    }
    crdb.guid = new_id();
    if crdb.encryption {
        crdb.tls_ca = Some(crate::dbtls::new_ca(&crdb.guid).map_err(ApiError::internal)?);
    }
    for (i, inst) in crdb.instances.iter_mut().enumerate() {
        inst.id = u16::try_from(i + 1).map_err(|_| ApiError::invalid("too many instances"))?;
    }
    validate(&crdb).map_err(ApiError::invalid)?;
    local_instance(&crdb, &s.name).map_err(ApiError::invalid)?;
    if s.store.crdbs()?.iter().any(|d| d.name == crdb.name) {
        return Err(ApiError::conflict(
            "name_taken",
            format!("a database named {:?} exists", crdb.name),
        ));
    }
    if dry {
        let mut errors = Vec::new();
        for inst in &crdb.instances {
            let body = json!({"crdb": crdb, "instance_id": inst.id, "dry_run": true});
            if let Err(e) = coordinate::call(&s, inst, &crdb.guid, "_prepare", body).await {
                errors.push(format!("{}: {e}", inst.cluster.name));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors.join("; ")));
        }
        return Ok(Json(json!({"dry_run": true, "valid": true})));
    }
    let task = new_task(&crdb.guid, "create_crdb");
    s.store.put_task(&task)?;
    tokio::spawn(coordinate::create(Arc::clone(&s), crdb, task.clone()));
    Ok(Json(serde_json::to_value(&task).expect("tasks serialize")))
}

/// GET /v1/crdb_tasks.
pub async fn tasks(State(s): State<Arc<AppState>>, c: Caller) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbViewer)?;
    Ok(Json(
        serde_json::to_value(s.store.tasks()?).expect("tasks serialize"),
    ))
}

/// GET /v1/crdb_tasks/{id}.
pub async fn task(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbViewer)?;
    let t = existing_task(&s, &id)?;
    Ok(Json(serde_json::to_value(t).expect("tasks serialize")))
}

/// Task `id`, or the API's 404.
pub(crate) fn existing_task(s: &AppState, id: &str) -> Result<Task, ApiError> {
    s.store
        .task(id)?
        .ok_or_else(|| ApiError::not_found(format!("no task {id}")))
}

/// GET /v1/bdbs.
pub async fn bdbs(State(s): State<Arc<AppState>>, c: Caller) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbViewer)?;
    // Every instance is asked at once: one slow instance costs its own timeout, not
    // everyone's in turn.
    let bdbs = s.store.bdbs()?;
    let views = futures_util::future::join_all(bdbs.iter().map(bdb_view)).await;
    Ok(Json(Value::Array(views)))
}

/// GET /v1/bdbs/{uid}.
pub async fn bdb(
    State(s): State<Arc<AppState>>,
    Path(uid): Path<u64>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbViewer)?;
    let b = s
        .store
        .bdbs()?
        .into_iter()
        .find(|b| b.uid == uid)
        .ok_or_else(|| ApiError::not_found(format!("no database {uid}")))?;
    Ok(Json(bdb_view(&b).await))
}

/// A local database with what its instance reports in `INFO memory` and `INFO crdt`.
async fn bdb_view(b: &crate::model::Bdb) -> Value {
    let info = crate::instance::info_fields(b, &["memory", "crdt"]).await;
    let used_memory = info
        .as_ref()
        .ok()
        .and_then(|i| i.get("used_memory"))
        .and_then(|v| v.as_str()?.parse::<u64>().ok());
    let info = info.map(|mut i| {
        i.retain(|k, _| k.starts_with("crdt_"));
        i
    });
    json!({
        "uid": b.uid,
        "name": b.name,
        "port": b.port,
        "crdt_guid": b.crdb_guid,
        "crdt_replica_id": b.replica_id,
        "crdt_peers": b.peers.iter().map(|(id, host, port)| json!({"id": id, "host": host, "port": port})).collect::<Vec<_>>(),
        "crdt_config_version": b.config_version,
        "memory_size": b.config.memory_size,
        "used_memory": used_memory,
        "status": if info.is_ok() { "active" } else { "pending" },
        "crdt_sync": info.unwrap_or_default(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Phase {
    crdb: Crdb,
    #[serde(default)]
    instance_id: u16,
    #[serde(default)]
    dry_run: bool,
}

/// POST /v1/crdbs/{guid}/_prepare|_commit|_abort (Admin: other clusters' service
/// accounts).
pub async fn phase(
    State(s): State<Arc<AppState>>,
    Path((guid, step)): Path<(String, String)>,
    c: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::Admin)?;
    let body: Value = json_body(&body)?;
    local_phase(&s, &guid, &step, &body).await.map(Json)
}

/// One phase (`_prepare`, `_commit`, `_abort`, `_instance`) of database `guid` on this
/// cluster.
pub async fn local_phase(
    s: &AppState,
    guid: &str,
    step: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    if step == "_abort" {
        s.store.drop_crdb(guid)?;
        s.supervisor.sync(&s.store)?;
        return Ok(json!({}));
    }
    if step == "_instance" {
        let b = local_db(s, guid)?;
        let reply = crate::membership::local_step(&b, body)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "instance_error", e))?;
        return Ok(json!({"reply": reply}));
    }
    let p: Phase = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::invalid(format!("request body: {e}")))?;
    if p.crdb.guid != guid {
        return Err(ApiError::invalid("the body's guid is not the path's"));
    }
    validate(&p.crdb).map_err(ApiError::invalid)?;
    let mine = local_instance(&p.crdb, &s.name).map_err(ApiError::invalid)?;
    match step {
        "_prepare" => {
            if p.instance_id != mine.id {
                return Err(ApiError::invalid(format!(
                    "instance {} is not on this cluster ({})",
                    p.instance_id, s.name
                )));
            }
            let info = s.store.cluster()?;
            let port = mine.db_config.port.unwrap_or(p.crdb.default_db_config.port);
            let avoid = [info.rest_port, info.console_port];
            let want = crate::state::Want {
                port,
                tls: p.crdb.encryption,
            };
            let (port, tls_port) =
                s.store
                    .reserve(guid, &p.crdb.name, want, &avoid, now_ms(), p.dry_run)?;
            if p.dry_run {
                return Ok(json!({"valid": true}));
            }
            Ok(json!({"port": port, "tls_port": tls_port}))
        }
        "_commit" => {
            let bdb = local_bdb(&p.crdb, &s.name).map_err(ApiError::invalid)?;
            let bdb = s.store.commit(&p.crdb, bdb)?;
            s.supervisor.sync(&s.store)?;
            crate::membership::reconcile(&bdb).await;
            Ok(json!({"bdb_uid": bdb.uid}))
        }
        _ => Err(ApiError::not_found(format!("no step {step:?}"))),
    }
}

/// This cluster's instance of database `guid`.
fn local_db(s: &AppState, guid: &str) -> Result<crate::model::Bdb, ApiError> {
    s.store
        .bdbs()?
        .into_iter()
        .find(|b| b.crdb_guid == guid)
        .ok_or_else(|| ApiError::not_found(format!("no local instance of {guid}")))
}

/// Milliseconds since the epoch (reservations lapse by the wall clock).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
