//! The web console, served over HTTPS on the cluster's console port: a few static files
//! built into the binary (no build step, no dependencies) and, under `/v1/`, the same
//! REST API as the API port. The page uses nothing else, so whatever it does a script
//! can do; serving the API on the page's own origin needs no CORS and no second
//! certificate for the browser to accept.

use crate::api::{self, AppState};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

/// Media types of the page's files.
const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page's files: path, media type, contents.
const FILES: [(&str, &str, &str); 6] = [
    ("/", HTML, include_str!("index.html")),
    ("/core.js", JS, include_str!("core.js")),
    ("/databases.js", JS, include_str!("databases.js")),
    ("/database.js", JS, include_str!("database.js")),
    ("/admin.js", JS, include_str!("admin.js")),
    ("/console.css", CSS, include_str!("console.css")),
];

/// What the page may load and run: its own files and API only; no inline scripts, no
/// framing (clickjacking), no referrer leaving the page.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console's routes: its files, then the API.
pub fn router(state: Arc<AppState>) -> Router {
    let mut files = Router::new();
    for (path, media, body) in FILES {
        files = files.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, HeaderValue::from_static(media)),
                        (
                            header::CONTENT_SECURITY_POLICY,
                            HeaderValue::from_static(POLICY),
                        ),
                        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
                        (
                            header::X_CONTENT_TYPE_OPTIONS,
                            HeaderValue::from_static("nosniff"),
                        ),
                        (
                            header::REFERRER_POLICY,
                            HeaderValue::from_static("no-referrer"),
                        ),
                        // A new binary's page must not mix with an old one's script.
                        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    ],
                    body,
                )
                    .into_response()
            }),
        );
    }
    files
        .merge(api::router(state))
        .layer(axum::middleware::map_response(bearer_challenge))
}

/// A 401 challenges for a bearer token, not basic auth: a browser answers a basic
/// challenge with its own password prompt (and holds the page's request meanwhile),
/// where the console asks in its login dialog.
async fn bearer_challenge(mut r: axum::response::Response) -> axum::response::Response {
    if r.headers().contains_key(header::WWW_AUTHENTICATE) {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"concord\""),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_that_are_served_and_no_inline_script() {
        let page = FILES[0].2;
        for (path, _, _) in &FILES[1..] {
            assert!(
                page.contains(&format!("\"{}\"", path.trim_start_matches('/'))),
                "{path} is not loaded by the page"
            );
        }
        // The policy forbids inline script: the page has none, nor inline handlers.
        assert!(!page.contains("<script>"), "inline script in the page");
        let tags = page
            .split('<')
            .skip(1)
            .map(|t| t.split('>').next().unwrap_or(""));
        for tag in tags {
            assert!(
                !tag.split_whitespace().any(|a| a.starts_with("on")),
                "an inline event handler in <{tag}>"
            );
        }
    }
}
