//! Errors as the API answers them: an HTTP status and a JSON body with a stable
//! `error_code` and a readable `description`, as the commercial API words them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A refused or failed request.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code scripts can test.
    pub code: &'static str,
    /// What went wrong, for people.
    pub description: String,
}

impl ApiError {
    /// An error with `status`, `code` and `description`.
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            description: description.into(),
        }
    }

    /// 400: the request is malformed or a field is invalid.
    pub fn invalid(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_schema", description)
    }

    /// 401: no or wrong credentials.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authentication failed: wrong user name or password",
        )
    }

    /// 403: the user's role does not allow the request.
    pub fn forbidden(description: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_permissions",
            description,
        )
    }

    /// 404: no such object.
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 409: the change conflicts with the current state.
    pub fn conflict(code: &'static str, description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, description)
    }

    /// 500: the manager failed.
    pub fn internal(description: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            description,
        )
    }
}

impl From<crate::StoreError> for ApiError {
    fn from(e: crate::StoreError) -> Self {
        use crate::StoreError as E;
        match e {
            E::UserExists(_) => ApiError::conflict("user_exists", e.to_string()),
            E::NoUser(_) => ApiError::not_found(e.to_string()),
            E::LastAdmin => ApiError::conflict("last_admin", e.to_string()),
            E::NameTaken(_) => ApiError::conflict("name_taken", e.to_string()),
            E::PortTaken(_) => ApiError::conflict("port_taken", e.to_string()),
            E::NoPort(_) => ApiError::conflict("no_free_port", e.to_string()),
            E::PortOutside(..) => ApiError::invalid(e.to_string()),
            E::NotReserved(_) => ApiError::conflict("not_prepared", e.to_string()),
            E::Stale(..) => ApiError::conflict("stale_config", e.to_string()),
            E::Db(_) | E::Damaged { .. } | E::Newer(_) => ApiError::internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error_code": self.code,
            "description": self.description,
        });
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"concord\""),
            );
        }
        r
    }
}

/// Parses a JSON request body, which must be an object, with the API's error for a
/// malformed one.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid = |e: serde_json::Error| ApiError::invalid(format!("request body: {e}"));
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    // serde's derived structs also read an array of their fields in order: `[null]`
    // would pass for a change of nothing.
    if !value.is_object() {
        return Err(ApiError::invalid("request body: a JSON object is expected"));
    }
    whole_numbers(&mut value);
    serde_json::from_value(value).map_err(invalid)
}

/// Rewrites every whole float (`1024.0`) as an integer: JSON does not tell the two apart
/// (JSON Schema's `integer` takes both, and Python's `json` writes floats so), serde's
/// integer fields take only the latter.
fn whole_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) {
                // Past 2^64 (or below -2^63) it stays a float, which no field takes.
                if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                    *n = (f as u64).into();
                } else if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                    *n = (f as i64).into();
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(whole_numbers),
        Value::Object(m) => m.values_mut().for_each(whole_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// axum's `Path` with the API's JSON error for a malformed parameter (axum's own answer
/// is plain text).
pub struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(t)) => Ok(Path(t)),
            Err(e) if e.status() == StatusCode::BAD_REQUEST => {
                Err(ApiError::invalid(e.body_text()))
            }
            Err(e) => Err(ApiError::internal(e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Change {
        #[serde(default)]
        size: Option<u64>,
        #[serde(default)]
        delta: Option<i16>,
    }

    #[test]
    fn a_body_is_an_object_and_whole_floats_are_integers() {
        let read = |b: &str| json_body::<Change>(b.as_bytes());
        assert_eq!(
            read(r#"{"size": 1024.0, "delta": -3.0}"#).unwrap(),
            Change {
                size: Some(1024),
                delta: Some(-3)
            }
        );
        assert_eq!(read(r#"{"size": 1e3}"#).unwrap().size, Some(1000));
        // Positional fields, which serde's derive would take, are refused.
        for bad in [
            "[null, null]",
            "[]",
            "null",
            "3",
            r#"{"size": 1.5}"#,
            r#"{"size": -1.0}"#,
            r#"{"size": 1e20}"#,
            r#"{"other": 1}"#,
            "{",
        ] {
            let e = read(bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_REQUEST, "invalid_schema"),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn a_malformed_path_parameter_is_the_json_error() {
        use axum::body::Body;
        use tower::ServiceExt;
        let app = axum::Router::new().route(
            "/n/{n}",
            axum::routing::get(|Path(n): Path<u64>| async move { n.to_string() }),
        );
        let ask = |uri: &str| {
            app.clone()
                .oneshot(axum::http::Request::get(uri).body(Body::empty()).unwrap())
        };
        let ok = ask("/n/7").await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        for bad in ["/n/x", "/n/-1", "/n/18446744073709551616", "/n/%FF"] {
            let r = ask(bad).await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "application/json",
                "{bad}"
            );
            let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error_code"], "invalid_schema", "{bad}");
        }
    }
}
