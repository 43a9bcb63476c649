//! `/v1/cluster`: what this participating cluster is.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::users::Role;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::Arc;

/// GET /v1/cluster.
pub async fn get(State(s): State<Arc<AppState>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::DbViewer)?;
    let info = s.store.cluster()?;
    Ok(Json(json!({
        "name": info.name,
        "rest_port": info.rest_port,
        "console_port": info.console_port,
        "ports": info.ports.to_string(),
        "bind": info.bind,
        "software_version": env!("CARGO_PKG_VERSION"),
    })))
}
