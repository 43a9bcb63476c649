//! `PUT /v1/crdbs/{guid}/migrate` (start Replica Of from a Redis database, in a task that
//! ends once the source's first snapshot replaced the database's data), `GET` (where the
//! copy stands: transfer, keys loaded, lag) and `DELETE` (stop following; the data stays).

use super::AppState;
use super::auth::Caller;
use super::changes::{claim, queued};
use super::crdbs::{existing, new_task};
use super::error::{ApiError, Path, json_body};
use crate::migrate::{Source, local_bdb, redacted};
use crate::users::Role;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    /// `redis://[user:password@]host:port`, or `rediss://` for TLS.
    source: String,
    /// TLS for `redis://` too.
    #[serde(default)]
    tls: bool,
}

/// PUT /v1/crdbs/{guid}/migrate: this cluster's instance follows the source; its first
/// snapshot replaces the data of every instance.
pub async fn start(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let req: Start = json_body(&body)?;
    let src = Source::parse(&req.source, req.tls).map_err(ApiError::invalid)?;
    let crdb = existing(&s, &guid)?;
    local_bdb(&s, &guid).map_err(ApiError::invalid)?;
    let claim = claim(&s, &guid)?;
    let mut task = new_task(&guid, "migrate_crdb");
    task.progress
        .push(format!("following {}", redacted(&req.source)));
    let out = queued(&s, &task)?;
    tokio::spawn(crate::migrate::run(Arc::clone(&s), claim, crdb, src, task));
    Ok(out)
}

/// GET /v1/crdbs/{guid}/migrate: where this cluster's instance's copy stands.
pub async fn status(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbViewer)?;
    state_of(&local(&s, &guid)?).await
}

/// DELETE /v1/crdbs/{guid}/migrate: stops following; what was copied stays.
pub async fn stop(
    State(s): State<Arc<AppState>>,
    Path(guid): Path<String>,
    c: Caller,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let bdb = local(&s, &guid)?;
    crate::migrate::stop(&bdb)
        .await
        .map_err(ApiError::internal)?;
    state_of(&bdb).await
}

/// This cluster's instance of an existing database `guid`.
fn local(s: &AppState, guid: &str) -> Result<crate::model::Bdb, ApiError> {
    existing(s, guid)?;
    local_bdb(s, guid).map_err(ApiError::not_found)
}

/// The instance's copy state as the API answers it.
async fn state_of(bdb: &crate::model::Bdb) -> Result<Json<Value>, ApiError> {
    crate::migrate::status(bdb)
        .await
        .map(Json)
        .map_err(ApiError::internal)
}
