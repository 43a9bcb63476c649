//! `POST /v1/remote_clusters/check`: whether another participating cluster can be used
//! in a database, before anything is asked of it: reachable, its certificate trusted
//! (by the CA given at init or by the fingerprint the caller pins), the credentials
//! accepted and an Admin's (its side of a create runs as that user). The console checks
//! each cluster as it is entered; scripts can too.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, json_body};
use super::slots::Slots;
use crate::model::{ClusterRef, Credentials};
use crate::remote::{Remote, certificate_of, fingerprint};
use crate::users::Role;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The longest URL accepted.
const MAX_URL: usize = 512;

/// Checks run at once (each holds a blocking thread for up to a minute against a cluster
/// that accepts and then stalls); more wait up to 5 s, then are refused.
static CHECKS: Slots = Slots::new(4, std::time::Duration::from_secs(5), "cluster checks");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    url: String,
    credentials: Credentials,
    #[serde(default)]
    fingerprint: Option<String>,
}

/// What a check found.
enum Found {
    /// The certificate is neither signed by the CA nor pinned: its fingerprint, for a
    /// person to confirm.
    Untrusted(String),
    /// Everything holds: the cluster's name.
    Usable { fingerprint: String, name: String },
}

/// Why a check failed.
enum Refusal {
    Unreachable(String),
    Mismatch(String),
    Credentials,
    NotAdmin(String),
    Other(String),
}

/// POST /v1/remote_clusters/check.
pub async fn check(
    State(s): State<Arc<AppState>>,
    c: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    c.require(Role::DbMember)?;
    let req: Check = json_body(&body)?;
    if req.url.len() > MAX_URL {
        return Err(ApiError::invalid(format!("url: at most {MAX_URL} bytes")));
    }
    crate::remote::url_host(&req.url).map_err(ApiError::invalid)?;
    let url = req.url.trim_end_matches('/').to_string();
    let ca = s.ca.clone();
    let work = {
        let url = url.clone();
        CHECKS.run(move || probe(&url, req.credentials, req.fingerprint, ca))
    };
    let found = match tokio::time::timeout(crate::coordinate::CALL_TIMEOUT, work).await {
        Ok(found) => found?,
        Err(_) => Err(Refusal::Unreachable(format!(
            "{url}: no answer in {} s",
            crate::coordinate::CALL_TIMEOUT.as_secs()
        ))),
    };
    let unprocessable = |code, why| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, why);
    match found {
        Ok(Found::Untrusted(fp)) => Ok(Json(json!({
            "url": url,
            "fingerprint": fp,
            "trusted": false,
        }))),
        Ok(Found::Usable { fingerprint, name }) => Ok(Json(json!({
            "url": url,
            "fingerprint": fingerprint,
            "trusted": true,
            "name": name,
        }))),
        Err(Refusal::Unreachable(why)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "cluster_unreachable",
            format!("cannot reach the cluster: {why}"),
        )),
        Err(Refusal::Mismatch(why)) => Err(unprocessable("fingerprint_mismatch", why)),
        Err(Refusal::Credentials) => Err(unprocessable(
            "credentials_refused",
            "the cluster refused the user name or password".to_string(),
        )),
        Err(Refusal::NotAdmin(user)) => Err(unprocessable(
            "not_admin",
            format!(
                "{user} is not an Admin on that cluster: a service account with the Admin role is needed"
            ),
        )),
        Err(Refusal::Other(why)) => {
            Err(ApiError::new(StatusCode::BAD_GATEWAY, "cluster_error", why))
        }
    }
}

/// Reaches `url` and checks its certificate, then `creds` (blocking: run off the loop).
fn probe(
    url: &str,
    creds: Credentials,
    pinned: Option<String>,
    ca: Option<std::path::PathBuf>,
) -> Result<Found, Refusal> {
    let shown = certificate_of(url).map_err(Refusal::Unreachable)?;
    let seen = fingerprint(&shown);
    if let Some(p) = &pinned
        && !p.eq_ignore_ascii_case(&seen)
    {
        return Err(Refusal::Mismatch(format!(
            "the cluster's certificate has fingerprint {seen}, not the {p} given: it changed, or this is not the cluster meant"
        )));
    }
    if pinned.is_none() && ca.is_none() {
        return Ok(Found::Untrusted(seen));
    }
    let user = creds.username.clone();
    let cluster = ClusterRef {
        name: url.to_string(),
        url: url.to_string(),
        credentials: creds,
        fingerprint: pinned,
    };
    // The certificate read above is the one trusted (one handshake, not two); the pin
    // was checked: what fails here is the CA file.
    let remote = Remote::trusting(&cluster, ca.as_deref(), Some(shown)).map_err(Refusal::Other)?;
    let (status, info) = remote
        .get_status("/v1/cluster")
        .map_err(Refusal::Unreachable)?;
    match status {
        200 => {}
        401 => return Err(Refusal::Credentials),
        _ => {
            return Err(Refusal::Other(format!(
                "{url}/v1/cluster answered {status}: {}",
                said(&info)
            )));
        }
    }
    let name = info["name"]
        .as_str()
        .filter(|n| !n.is_empty() && n.len() <= 253)
        .ok_or_else(|| Refusal::Other(format!("{url}/v1/cluster gave no usable name")))?
        .to_string();
    // Only Admins may list users: the cheapest way to learn the role.
    match remote
        .get_status("/v1/users")
        .map_err(Refusal::Unreachable)?
    {
        (200, _) => Ok(Found::Usable {
            fingerprint: seen,
            name,
        }),
        (403, _) => Err(Refusal::NotAdmin(user)),
        (status, v) => Err(Refusal::Other(format!(
            "{url}/v1/users answered {status}: {}",
            said(&v)
        ))),
    }
}

/// Another cluster's error description, kept short.
fn said(answer: &Value) -> String {
    answer["description"]
        .as_str()
        .unwrap_or("no description")
        .chars()
        .take(crate::remote::MAX_REMOTE_ERROR)
        .collect()
}
