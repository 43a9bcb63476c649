//! `/v1/users`: the cluster's users. Only Admins manage them; anyone may read their own.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Path, json_body};
use crate::users::{Role, User, check_name, check_password, hash_password};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// A user as the API shows it (never its password hash).
pub(super) fn view(u: &User) -> Value {
    json!({ "uid": u.uid, "name": u.name, "email": u.email, "role": u.role })
}

fn by_uid(s: &AppState, uid: u64) -> Result<User, ApiError> {
    s.store
        .users()?
        .into_iter()
        .find(|u| u.uid == uid)
        .ok_or_else(|| ApiError::not_found(format!("no user with uid {uid}")))
}

/// The argon2 hash of a new password, once it passes the password rules.
async fn checked_hash(password: String) -> Result<String, ApiError> {
    check_password(&password).map_err(ApiError::invalid)?;
    super::auth::hashing(move || hash_password(&password))
        .await?
        .map_err(ApiError::internal)
}

/// GET /v1/users.
pub async fn list(State(s): State<Arc<AppState>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(Value::Array(
        s.store.users()?.iter().map(view).collect(),
    )))
}

/// GET /v1/users/{uid}: Admins read anyone, others themselves.
pub async fn get(
    State(s): State<Arc<AppState>>,
    Path(uid): Path<u64>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    if caller.0.uid != uid {
        caller.require(Role::Admin)?;
    }
    Ok(Json(view(&by_uid(&s, uid)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    role: String,
    #[serde(default)]
    email: String,
}

/// POST /v1/users.
pub async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let n: NewUser = json_body(&body)?;
    let role: Role = n.role.parse().map_err(ApiError::invalid)?;
    check_name(&n.name).map_err(ApiError::invalid)?;
    let hash = checked_hash(n.password).await?;
    let user = User {
        uid: 0,
        name: n.name,
        email: n.email,
        role,
        password_hash: hash,
    };
    let added = s.store.add_user(user)?;
    Ok(Json(view(&added)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    password: Option<String>,
    role: Option<String>,
    email: Option<String>,
}

/// PUT /v1/users/{uid}: Admins change anyone; others only their own password and e-mail.
pub async fn update(
    State(s): State<Arc<AppState>>,
    Path(uid): Path<u64>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let c: UserChange = json_body(&body)?;
    if caller.0.uid != uid || c.role.is_some() {
        caller.require(Role::Admin)?;
    }
    let name = by_uid(&s, uid)?.name;
    let role = c
        .role
        .map(|r| r.parse::<Role>())
        .transpose()
        .map_err(ApiError::invalid)?;
    // Hashed first (slow), then applied to the record as it is now, in one transaction:
    // a concurrent change of the role is not written back over.
    let hash = match c.password {
        Some(password) => Some(checked_hash(password).await?),
        None => None,
    };
    let user = s.store.modify_user(&name, |u| {
        if let Some(role) = role {
            u.role = role;
        }
        if let Some(email) = c.email {
            u.email = email;
        }
        if let Some(hash) = hash {
            u.password_hash = hash;
        }
    })?;
    s.creds.forget(&user.name);
    Ok(Json(view(&user)))
}

/// DELETE /v1/users/{uid}.
pub async fn delete(
    State(s): State<Arc<AppState>>,
    Path(uid): Path<u64>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let user = by_uid(&s, uid)?;
    s.store.delete_user(&user.name)?;
    s.creds.forget(&user.name);
    Ok(Json(json!({})))
}
