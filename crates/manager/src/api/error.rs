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

/// Parses a JSON request body, with the API's error for a malformed one.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("request body: {e}")))
}
