//! The REST API under `/v1/`, over HTTPS, shaped like the commercial product's so that
//! its users' scripts carry over. Every request authenticates (HTTP basic auth) but the
//! one for the OpenAPI document (`/v1/openapi.json`); errors are JSON with an `error_code`.

mod auth;
mod changes;
mod check;
mod cluster;
pub(crate) mod crdbs;
pub mod error;
mod metrics;
mod migrate;
mod openapi;
pub mod session;
mod slots;
mod users;

use crate::Store;
use axum::Router;
use axum::routing::{get, post, put};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

pub use auth::CredentialCache;

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 512;
/// A TLS handshake or a request's headers must arrive within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole request (its body read, its work done, calls to other clusters included)
/// must end within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest request body read.
const MAX_BODY: usize = 2 << 20;

/// A body past [`MAX_BODY`] is still read (and dropped) up to this, so the client can
/// finish sending it and read the error: closing early would cut it off mid-write.
const MAX_DRAIN: usize = 8 * MAX_BODY;

/// A request body, read whole if it is at most [`MAX_BODY`]; `None` past it (the rest
/// read and dropped, up to [`MAX_DRAIN`]) or when it was cut short.
async fn read_body(body: axum::body::Body) -> Option<axum::body::Bytes> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let (mut kept, mut seen, mut over) = (Vec::new(), 0usize, false);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        seen += chunk.len();
        if seen > MAX_DRAIN {
            return None;
        }
        if seen > MAX_BODY {
            over = true;
            kept = Vec::new();
        } else {
            kept.extend_from_slice(&chunk);
        }
    }
    (!over).then(|| kept.into())
}

/// Reads a request's whole body first (at most [`MAX_BODY`], else the API's JSON error):
/// a handler that has no use for a body would otherwise leave it unread, and the
/// connection could not carry the client's next request. Then ends a request that runs
/// past [`REQUEST_TIMEOUT`] with the API's JSON error.
async fn bounded(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let Ok(Some(bytes)) = tokio::time::timeout(REQUEST_TIMEOUT, read_body(body)).await else {
        return error::ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is over {MAX_BODY} bytes (or was cut short)"),
        )
        .into_response();
    };
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => error::ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request took longer than {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}

/// What every handler shares.
pub struct AppState {
    /// This cluster's name.
    pub name: String,
    /// The CA that signs other clusters' certificates, if one was given.
    pub ca: Option<std::path::PathBuf>,
    /// The cluster's durable state.
    pub store: Store,
    /// Credentials verified recently.
    pub creds: CredentialCache,
    /// The local databases' instances.
    pub supervisor: Arc<crate::supervisor::Supervisor>,
    /// Which databases tasks are changing, and cancel requests.
    pub tasks: Arc<crate::tasks::TaskBook>,
    /// Live session tokens.
    pub sessions: session::Sessions,
}

/// The API's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/openapi.json", get(openapi::get))
        .route("/v1/cluster", get(cluster::get))
        .route("/v1/remote_clusters/check", post(check::check))
        .route("/v1/users", get(users::list).post(users::create))
        .route(
            "/v1/users/authorize",
            post(session::authorize).delete(session::revoke),
        )
        .route(
            "/v1/users/{uid}",
            get(users::get).put(users::update).delete(users::delete),
        )
        .route("/v1/crdbs", get(crdbs::list).post(crdbs::create))
        .route(
            "/v1/crdbs/{guid}",
            get(crdbs::get).delete(crdbs::delete).patch(changes::patch),
        )
        .route("/v1/crdbs/{guid}/updates", post(changes::updates))
        .route("/v1/crdbs/{guid}/flush", put(changes::flush))
        .route("/v1/crdbs/{guid}/purge", put(changes::purge))
        .route(
            "/v1/crdbs/{guid}/migrate",
            put(migrate::start)
                .get(migrate::status)
                .delete(migrate::stop),
        )
        .route("/v1/crdb_tasks/{id}/actions/cancel", post(changes::cancel))
        .route("/v1/crdbs/{guid}/health_report", get(crdbs::health_report))
        .route("/v1/crdbs/{guid}/{step}", axum::routing::post(crdbs::phase))
        .route("/v1/crdb_tasks", get(crdbs::tasks))
        .route("/v1/crdb_tasks/{id}", get(crdbs::task))
        .route("/v1/bdbs", get(crdbs::bdbs))
        .route("/v1/bdbs/{uid}", get(crdbs::bdb))
        .route("/metrics", get(metrics::get))
        .fallback(|| async { error::ApiError::not_found("no such endpoint") })
        .layer(axum::middleware::from_fn(bounded))
        .with_state(state)
}

/// Serves `app` (the API, or the console with it) over TLS on `listener` until the
/// process ends.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, app: Router) {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, say: wait a little instead of spinning.
                tracing::warn!("HTTPS accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = TowerToHyperService::new(app);
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("HTTPS connection: {e}");
            }
        });
    }
}
