//! Who is calling: HTTP basic authentication against the cluster's users, or a session
//! token (`session.rs`).
//!
//! argon2 is slow on purpose (tens of milliseconds), too slow for every request of a
//! script polling a task. A successful check is remembered as a keyed digest of the
//! credentials, tied to the user's password hash, so a later request with the same
//! credentials costs a hash and a comparison; changing or deleting the user forgets it.

use super::AppState;
use super::error::ApiError;
use super::slots::Slots;
use crate::users::{MAX_CREDENTIAL, Role, User};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// Credentials remembered at most (a full cache is emptied, costing new argon2 checks).
const CACHE_MAX: usize = 1024;
/// argon2 checks run at once (each takes ~19 MiB and a core for tens of milliseconds):
/// more wait, and past a short wait (5 s) the request is refused, so a flood of wrong
/// passwords costs bounded memory and CPU.
static HASHING: Slots = Slots::new(2, std::time::Duration::from_secs(5), "password checks");

/// Runs `f` (an argon2 hash or check) off the event loop in one of the bounded slots; a
/// 503 when none frees up in time.
pub async fn hashing<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    HASHING.run(f).await
}

/// A hash checked against nobody's password, so an unknown user costs as much as a
/// wrong password (no telling which names exist by timing).
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::users::hash_password("decoy password, never valid").expect("argon2 hashes")
});

/// Verified credentials: user name → (digest of the credentials, the password hash they
/// were verified against).
pub struct CredentialCache {
    key: [u8; 32],
    seen: Mutex<HashMap<String, ([u8; 32], String)>>,
}

impl CredentialCache {
    /// An empty cache with a random key.
    pub fn new() -> Self {
        CredentialCache {
            key: rand::random(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, name: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn knows(&self, user: &User, digest: &[u8; 32]) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&user.name)
            .is_some_and(|(d, hash)| bool::from(d.ct_eq(digest)) && *hash == user.password_hash)
    }

    fn remember(&self, user: &User, digest: [u8; 32]) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= CACHE_MAX {
            seen.clear();
        }
        seen.insert(user.name.clone(), (digest, user.password_hash.clone()));
    }

    /// Forgets a user's remembered credentials (its password changed or it was deleted).
    pub fn forget(&self, name: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }
}

impl Default for CredentialCache {
    fn default() -> Self {
        Self::new()
    }
}

/// The authenticated caller of a request.
pub struct Caller(pub User);

impl Caller {
    /// Refuses the request unless the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "user {:?} ({}) may not do this",
                self.0.name, self.0.role
            )))
        }
    }
}

fn basic_credentials(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 4 * MAX_CREDENTIAL {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_string(), password.to_string()))
}

/// The bearer token of a request, if it has one.
fn bearer(parts: &Parts) -> Option<&str> {
    bearer_token(&parts.headers)
}

/// The bearer token in `headers`, if there is one.
pub(super) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && token.len() <= MAX_CREDENTIAL).then(|| token.trim())
}

/// The user `name` if `password` is theirs: from the cache of verified credentials, else
/// by argon2 off the event loop (an unknown name costs the same as a wrong password).
pub async fn verify(state: &AppState, name: &str, password: String) -> Result<User, ApiError> {
    let user = state.store.user(name)?;
    let digest = state.creds.digest(name, &password);
    if let Some(u) = &user
        && state.creds.knows(u, &digest)
    {
        return Ok(u.clone());
    }
    let checked = hashing(move || match user {
        Some(u) if u.password_matches(&password) => Some(u),
        Some(_) => None,
        None => {
            let decoy = User {
                uid: 0,
                name: String::new(),
                email: String::new(),
                role: Role::DbViewer,
                password_hash: DECOY.clone(),
            };
            let _ = decoy.password_matches(&password);
            None
        }
    })
    .await?;
    let user = checked.ok_or_else(ApiError::unauthorized)?;
    state.creds.remember(&user, digest);
    Ok(user)
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(parts) {
            let user = state.sessions.user(state, token)?;
            return user.map(Caller).ok_or_else(ApiError::unauthorized);
        }
        let (name, password) = basic_credentials(parts).ok_or_else(ApiError::unauthorized)?;
        verify(state, &name, password).await.map(Caller)
    }
}
