//! Session tokens, for the web console and scripts that would rather not send a password
//! with every request: `POST /v1/users/authorize` with a user's name and password answers
//! a token, then `Authorization: Bearer <token>` stands for that user until the token
//! expires, is ended (`DELETE /v1/users/authorize`, the console's log out), the user's
//! password changes or the user is deleted.
//!
//! Tokens live in memory only (a restart logs everyone out), as digests: the table never
//! holds a usable token.

use super::AppState;
use super::auth::{Caller, bearer_token, verify};
use super::error::{ApiError, json_body};
use crate::users::User;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a token stands for its user.
pub const SESSION_TTL: Duration = Duration::from_secs(15 * 60);
/// Tokens held at most; past it the expired ones go, then the oldest.
const MAX_SESSIONS: usize = 4096;
/// Tokens one user holds at most (past it their oldest goes), so no user can push
/// everyone else's sessions out.
const MAX_PER_USER: usize = 16;

struct Session {
    user: String,
    /// The password hash when the token was made: a change of password ends the session.
    hash: String,
    expires: Instant,
}

/// The live session tokens, by digest.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Session>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// A new token for `user`.
    fn open(&self, user: &User) -> String {
        let bytes: [u8; 32] = rand::random();
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.len() >= MAX_SESSIONS {
            live.retain(|_, s| s.expires > now);
        }
        let mine: Vec<([u8; 32], Instant)> = live
            .iter()
            .filter(|(_, s)| s.user == user.name)
            .map(|(k, s)| (*k, s.expires))
            .collect();
        if mine.len() >= MAX_PER_USER
            && let Some((oldest, _)) = mine.iter().min_by_key(|(_, t)| *t)
        {
            live.remove(oldest);
        }
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k)
        {
            live.remove(&oldest);
        }
        live.insert(
            digest(&token),
            Session {
                user: user.name.clone(),
                hash: user.password_hash.clone(),
                expires: now + SESSION_TTL,
            },
        );
        token
    }

    /// Ends the session of `token`; whether there was one.
    fn close(&self, token: &str) -> bool {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.remove(&digest(token)).is_some()
    }

    /// The user `token` stands for, if it is live and the user unchanged.
    pub fn user(&self, state: &AppState, token: &str) -> Result<Option<User>, ApiError> {
        let key = digest(token);
        let found = {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            match live.get(&key) {
                Some(s) if s.expires > Instant::now() => Some((s.user.clone(), s.hash.clone())),
                Some(_) => {
                    live.remove(&key);
                    None
                }
                None => None,
            }
        };
        let Some((name, hash)) = found else {
            return Ok(None);
        };
        Ok(state.store.user(&name)?.filter(|u| u.password_hash == hash))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

/// POST /v1/users/authorize: a session token for a user's name and password, with the
/// user it stands for (the console shows what the role allows).
pub async fn authorize(
    State(s): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let login: Login = json_body(&body)?;
    let user = verify(&s, &login.username, login.password).await?;
    let token = s.sessions.open(&user);
    Ok(Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": SESSION_TTL.as_secs(),
        "user": super::users::view(&user),
    })))
}

/// DELETE /v1/users/authorize: ends the session of the token the request carries (a
/// request authenticated otherwise ends nothing).
pub async fn revoke(
    State(s): State<Arc<AppState>>,
    _caller: Caller,
    headers: axum::http::HeaderMap,
) -> Json<Value> {
    let ended = bearer_token(&headers).is_some_and(|t| s.sessions.close(t));
    Json(json!({ "ended": ended }))
}
