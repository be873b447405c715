//! The analyst's web workbench, served at `/` by the same binary: plain HTML, CSS and a JS
//! module embedded at compile time (no build step, no CDN, no fetch at run time), with cytoscape
//! vendored for the fund-flow graph (`web/vendor/`, MIT, its LICENSE beside it). Every page and
//! asset carries a strict Content-Security-Policy: scripts, styles and connections only from
//! this origin, no inline script, no framing. The workbench talks only to `/v1` with the session
//! cookie and `x-csrf-token` (docs/workbench.md).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The policy sent with every workbench response. The one hash admits the fixed stylesheet
/// cytoscape injects for its container (no other inline style or script runs).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8='; \
img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
const CYTOSCAPE: &str = include_str!("../web/vendor/cytoscape.min.js");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The workbench routes (public: the page holds no data; every datum comes from `/v1` with the
/// user's session).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { asset(INDEX, "text/html; charset=utf-8") }))
        .route("/app.js", get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/app.css", get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }))
        .route(
            "/vendor/cytoscape.min.js",
            get(|| async { asset(CYTOSCAPE, "text/javascript; charset=utf-8") }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_carries_the_policy_and_its_type() {
        let r = asset(INDEX, "text/html; charset=utf-8");
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(CSP.contains("script-src 'self';") && !CSP.contains("unsafe"));
    }

    #[test]
    fn the_workbench_never_assigns_markup() {
        // Data goes in as text; these sinks would parse it as HTML.
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}");
        }
        // No inline script or style in the page, no asset from another origin.
        assert!(!INDEX.contains("<script>") && !INDEX.contains("style="));
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
    }
}
