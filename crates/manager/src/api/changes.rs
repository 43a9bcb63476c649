//! Changes of an existing database, each run as a task: `PATCH /v1/crdbs/{guid}`
//! (settings), `POST /v1/crdbs/{guid}/updates` (add or remove an instance),
//! `PUT /v1/crdbs/{guid}/flush`, `PUT /v1/crdbs/{guid}/purge` (on a cluster whose
//! instance was removed by force), and `POST /v1/crdb_tasks/{id}/actions/cancel`.

use super::AppState;
use super::auth::Caller;
use super::crdbs::{existing, existing_task, new_task};
use super::error::{ApiError, Path, json_body};
use crate::coordinate::validate;
use crate::membership;
use crate::model::{Crdb, DbConfig, InstanceInfo, Task, TaskStatus};
use crate::tasks::{Claim, TaskBook};
use crate::users::Role;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Claims database `guid` for a new task, or the API's 409.
pub(crate) fn claim(s: &AppState, guid: &str) -> Result<Claim, ApiError> {
    TaskBook::claim(&s.tasks, guid).ok_or_else(|| {
        ApiError::conflict(
            "crdb_busy",
            format!("another task is changing database {guid}; wait for it to end"),
        )
    })
}

/// Records a new task and answers with it.
pub(crate) fn queued(s: &AppState, task: &Task) -> Result<Json<Value>, ApiError> {
    s.store.put_task(task)?;
    Ok(Json(serde_json::to_value(task).expect("tasks serialize")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    #[serde(default)]
    default_db_config: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    encryption: Option<bool>,
    #[serde(default)]
    causal_consistency: Option<bool>,
}

/// PATCH /v1/crdbs/{guid}: changes settings on every instance (memory limit and fsync
/// policy while they run; persistence with a restart of each instance).
pub async fn patch(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let p: Patch = json_body(&body)?;
    // Claimed before it is read: a change that starts meanwhile cannot be overwritten.
    let claim = claim(&s, &guid)?;
    let mut next: Crdb = existing(&s, &guid)?;
    if let Some(changes) = p.default_db_config {
        let mut cfg = serde_json::to_value(&next.default_db_config).expect("configs serialize");
        for (k, v) in changes {
            if k == "port" {
                return Err(ApiError::invalid("the port of a database does not change"));
            }
            cfg[k] = v;
        }
        next.default_db_config = serde_json::from_value::<DbConfig>(cfg)
            .map_err(|e| ApiError::invalid(format!("default_db_config: {e}")))?;
    }
    next.encryption = p.encryption.unwrap_or(next.encryption);
    next.causal_consistency = p.causal_consistency.unwrap_or(next.causal_consistency);
    validate(&next).map_err(ApiError::invalid)?;
    let now = existing(&s, &guid)?;
    let online = |c: &DbConfig| DbConfig {
        memory_size: 0,
        aof_policy: String::new(),
        ..c.clone()
    };
    if online(&next.default_db_config) != online(&now.default_db_config)
        || next.encryption != now.encryption
    {
        // Those need every instance restarted, one cluster at a time and each caught up
        // before the next: not done online yet, and a restart of all at once could lose
        // a database without persistence.
        return Err(ApiError::conflict(
            "restart_needed",
            "only memory_size and aof_policy change on a running database",
        ));
    }
    next.config_version += 1;
    let task = new_task(&guid, "update_crdb");
    let out = queued(&s, &task)?;
    tokio::spawn(membership::update(Arc::clone(&s), claim, next, task));
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Updates {
    #[serde(default)]
    add_instances: Vec<InstanceInfo>,
    #[serde(default)]
    remove_instances: Vec<u16>,
    #[serde(default)]
    force_remove: bool,
}

/// POST /v1/crdbs/{guid}/updates: adds one instance (`add_instances`) or removes one
/// (`remove_instances`, with `force_remove` when its cluster is gone), in a task.
pub async fn updates(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let u: Updates = json_body(&body)?;
    let claim = claim(&s, &guid)?;
    let crdb = existing(&s, &guid)?;
    match (u.add_instances.as_slice(), u.remove_instances.as_slice()) {
        ([new], []) => {
            if u.force_remove {
                return Err(ApiError::invalid("force_remove goes with remove_instances"));
            }
            let mut new = new.clone();
            new.id = crdb.next_id();
            let mut next = crdb.clone();
            next.instances.push(new.clone());
            validate(&next).map_err(ApiError::invalid)?;
            let task = new_task(&guid, "add_instance");
            let out = queued(&s, &task)?;
            tokio::spawn(membership::add_instance(
                Arc::clone(&s),
                claim,
                crdb,
                new,
                task,
            ));
            Ok(out)
        }
        ([], [id]) => {
            if crdb.instance(*id).is_none() {
                return Err(ApiError::not_found(format!("no instance {id} in {guid}")));
            }
            if crdb.instances.len() < 2 {
                return Err(ApiError::invalid(
                    "the last instance is not removed: delete the database instead",
                ));
            }
            if crdb.instance(*id).is_some_and(|i| i.cluster.name == s.name) {
                return Err(ApiError::invalid(
                    "ask another participating cluster to remove this cluster's instance",
                ));
            }
            let task = new_task(&guid, "remove_instance");
            let out = queued(&s, &task)?;
            let (id, force) = (*id, u.force_remove);
            tokio::spawn(membership::remove_instance(
                Arc::clone(&s),
                claim,
                crdb,
                id,
                force,
                task,
            ));
            Ok(out)
        }
        _ => Err(ApiError::invalid(
            "one change per update: one instance in add_instances or in remove_instances",
        )),
    }
}

/// PUT /v1/crdbs/{guid}/flush: clears every instance, in a task.
pub async fn flush(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let claim = claim(&s, &guid)?;
    let crdb = existing(&s, &guid)?;
    let task = new_task(&guid, "flush_crdb");
    let out = queued(&s, &task)?;
    tokio::spawn(membership::flush(Arc::clone(&s), claim, crdb, task));
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Purge {
    instances: Vec<u16>,
}

/// PUT /v1/crdbs/{guid}/purge with `{"instances": [id]}`: on the cluster of an instance
/// removed by force (the others could not tell it), deletes the instance and its data.
pub async fn purge(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let p: Purge = json_body(&body)?;
    let crdb = existing(&s, &guid)?;
    let mine = crate::coordinate::local_instance(&crdb, &s.name).map_err(ApiError::invalid)?;
    if p.instances != [mine.id] {
        return Err(ApiError::invalid(format!(
            "this cluster hosts instance {} of {guid}: purge {{\"instances\": [{}]}}",
            mine.id, mine.id
        )));
    }
    let _claim = claim(&s, &guid)?;
    let mut task = new_task(&guid, "purge_instance");
    s.store.drop_crdb(&guid)?;
    s.supervisor.sync(&s.store)?;
    task.status = TaskStatus::Finished;
    task.progress
        .push(format!("{}: instance {} purged", s.name, mine.id));
    queued(&s, &task)
}

/// POST /v1/crdb_tasks/{id}/actions/cancel: a task that has not passed its point of no
/// return stops and undoes what it did; one past it finishes.
pub async fn cancel(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    if existing_task(&s, &id)?.ended() {
        return Err(ApiError::conflict(
            "task_ended",
            format!("task {id} already ended"),
        ));
    }
    s.tasks.cancel(&id);
    Ok(Json(json!({"id": id, "cancel_requested": true})))
}
