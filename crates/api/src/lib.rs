//! floodgate-api: the HTTP API behind `floodgate serve` — an axum [`Router`] over the
//! screening index, the KYT monitor and the case store, with API keys, browser sessions
//! (cookie + CSRF), per-key rate limits, one error body, request ids, Prometheus metrics and
//! an OpenAPI 3.1 document generated from the handlers (`/openapi.json`, Swagger UI at
//! `/docs`, served from the binary). No business logic lives here: every handler calls the
//! same library service the CLI calls. Endpoints and auth: docs/api.md.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use floodgate_api::{ApiConfig, AppState};
//! let monitor: floodgate_api::MonitorFactory = Arc::new(|_| Err("no monitor in this example".into()));
//! let state = AppState::open(ApiConfig::new(std::path::Path::new("data"), monitor))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! floodgate_api::serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod error;
pub mod extract;
pub mod graph;
mod metrics;
pub mod routes;
pub mod state;
pub mod web;

use std::future::Future;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;

pub use error::{ApiError, ErrorBody};
pub use state::{ApiConfig, AppState, MonitorFactory, StartError};

use crate::error::REQUEST_ID;
use crate::extract::Principal;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "fg_session";
/// The CSRF header browser requests with the session cookie must carry on unsafe methods.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The request id header (taken from the request when sane, else generated; always echoed).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "floodgate API", description = "Screening, KYT decisions, alerts, cases and reports of the floodgate AML engine. Errors: `{\"error\": {\"code\", \"message\", \"field\", \"request_id\"}}`. Auth: `Authorization: Bearer fgk_…` or the `fg_session` cookie from `POST /v1/session` plus `x-csrf-token` on unsafe methods."),
    paths(
        routes::health, routes::ready, routes::metrics,
        routes::login, routes::whoami, routes::logout,
        routes::screen_name, routes::screen_batch, routes::screen_address, routes::lists,
        routes::kyt_decide, routes::trace_exposure, routes::trace_paths, graph::trace_neighbours,
        routes::alerts, routes::cases, routes::case_show, routes::case_open, routes::case_assign,
        routes::case_note, routes::case_attach, routes::case_escalate, routes::case_decide,
        routes::case_approve, routes::case_reject, routes::case_snooze, routes::case_reopen,
        routes::reports, routes::report_file,
        routes::admin_load_list, graph::admin_load_tags, routes::admin_grant,
        routes::supervisor_summary, routes::supervisor_cases,
    ),
    modifiers(&Security),
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("fgk_<id>_<secret>")
                    .build(),
            ),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

/// The router with every route and middleware.
pub fn router(state: AppState) -> Router {
    let limit = state.0.cfg.body_limit;
    let api = Router::new()
        .route("/health", get(routes::health))
        .route("/ready", get(routes::ready))
        .route("/metrics", get(routes::metrics))
        .route("/v1/session", post(routes::login).get(routes::whoami).delete(routes::logout))
        .route("/v1/screen/name", post(routes::screen_name))
        .route("/v1/screen/batch", post(routes::screen_batch))
        .route("/v1/screen/address", post(routes::screen_address))
        .route("/v1/lists", get(routes::lists))
        .route("/v1/kyt/decisions", post(routes::kyt_decide))
        .route("/v1/trace/exposure", post(routes::trace_exposure))
        .route("/v1/trace/paths", post(routes::trace_paths))
        .route("/v1/trace/neighbours", post(graph::trace_neighbours))
        .route("/v1/alerts", get(routes::alerts))
        .route("/v1/cases", get(routes::cases).post(routes::case_open))
        .route("/v1/cases/{id}", get(routes::case_show))
        .route("/v1/cases/{id}/assign", post(routes::case_assign))
        .route("/v1/cases/{id}/notes", post(routes::case_note))
        .route("/v1/cases/{id}/evidence", post(routes::case_attach))
        .route("/v1/cases/{id}/escalate", post(routes::case_escalate))
        .route("/v1/cases/{id}/decide", post(routes::case_decide))
        .route("/v1/cases/{id}/approve", post(routes::case_approve))
        .route("/v1/cases/{id}/reject", post(routes::case_reject))
        .route("/v1/cases/{id}/snooze", post(routes::case_snooze))
        .route("/v1/cases/{id}/reopen", post(routes::case_reopen))
        .route("/v1/reports", get(routes::reports))
        .route("/v1/reports/{id}/file", post(routes::report_file))
        .route("/v1/admin/lists/load", post(routes::admin_load_list))
        .route("/v1/admin/tags/load", post(graph::admin_load_tags))
        .route("/v1/admin/supervisor-grants", post(routes::admin_grant))
        .route("/v1/supervisor/summary", get(routes::supervisor_summary))
        .route("/v1/supervisor/tenants/{tenant}/cases", get(routes::supervisor_cases))
        .merge(web::routes())
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(state.clone(), observe));
    api.with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting, finishes the requests in flight,
/// and stops the KYT workers.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let st = state.clone();
    let app = router(state);
    axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(async move {
            shutdown.await;
            st.0.ready.store(false, std::sync::atomic::Ordering::SeqCst);
            tracing::info!(target: "floodgate::api", "shutting down: finishing requests in flight");
        })
        .await
}

/// The session cookie's value, if any.
pub(crate) fn session_cookie(h: &HeaderMap) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == SESSION_COOKIE && !v.is_empty()).then(|| v.to_owned())
        })
}

fn request_id(h: &HeaderMap) -> String {
    h.get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| auth::random_hex(12).unwrap_or_else(|_| "no-id".into()))
}

/// Request id, timeout, metrics and one structured log line per request.
async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let id = request_id(req.headers());
    let route =
        req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let method = req.method().clone();
    let started = Instant::now();
    let timeout = st.0.cfg.timeout;
    let mut resp = REQUEST_ID
        .scope(id.clone(), async move {
            match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(r) => r,
                Err(_) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    format!("the request took longer than {} s", timeout.as_secs_f64()),
                )
                .into_response(),
            }
        })
        .await;
    let took = started.elapsed();
    let status = resp.status().as_u16();
    st.0.metrics.request(method.as_str(), &route, status, took);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    tracing::info!(target: "floodgate::api::request", request_id = %id, method = %method, route = %route, status, micros = took.as_micros() as u64, "request");
    resp
}

/// Resolves the principal (bearer key or session cookie), checks CSRF for cookie requests,
/// and takes a token from the key's bucket. No credentials: the request goes on without a
/// principal (public endpoints; the others answer 401).
async fn authenticate(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
    let run = async {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").map(str::trim).map(str::to_owned).ok_or(()));
        let (actor, bucket) = match bearer {
            Some(Err(())) => {
                return Err(ApiError::unauthorized("Authorization must be 'Bearer <API key>'"))
            }
            Some(Ok(key)) => {
                // A key seen in the last seconds is a map look-up on this thread; only a miss
                // goes to the blocking pool (SQLite).
                let info = match st.0.keys.cached(&key) {
                    Some(info) => info,
                    None => {
                        let st2 = st.clone();
                        tokio::task::spawn_blocking(move || st2.0.keys.verify(&key))
                            .await
                            .map_err(|e| ApiError::internal("key check", e))?
                            .map_err(|e| ApiError::internal("key store", e))?
                    }
                }
                .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
                let actor = info.actor().map_err(|e| ApiError::internal("key", e))?;
                (Some(actor), info.id)
            }
            None => match session_cookie(req.headers()) {
                // The login endpoint takes no cookie: a stale one must not block a new login.
                Some(c) if !(req.uri().path() == "/v1/session" && req.method() == Method::POST) => {
                    let s = st.0.sessions.get(&c).ok_or_else(|| {
                        ApiError::unauthorized("the session has ended; log in again")
                    })?;
                    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
                        let given = req
                            .headers()
                            .get(CSRF_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        if !auth::constant_time_eq(given.as_bytes(), s.csrf.as_bytes()) {
                            return Err(ApiError::forbidden(
                                "missing or wrong x-csrf-token for a session request",
                            )
                            .with_field(CSRF_HEADER));
                        }
                        if let Some(origin) =
                            req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok())
                        {
                            let host = req
                                .headers()
                                .get(header::HOST)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default();
                            let o = origin.split("://").nth(1).unwrap_or(origin);
                            if o != host {
                                return Err(ApiError::forbidden(
                                    "cross-origin request with the session cookie refused",
                                )
                                .with_field("origin"));
                            }
                        }
                    }
                    (Some(s.actor), s.bucket)
                }
                _ => (None, String::new()),
            },
        };
        if let Some(actor) = actor {
            if let Err(wait) = st.0.limiter.take(&bucket) {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many requests for this key; retry in {wait} s"),
                );
                e.retry_after = Some(wait);
                return Err(e);
            }
            req.extensions_mut().insert(Principal { actor });
        }
        Ok(req)
    };
    match REQUEST_ID.scope(id.clone(), run).await {
        Ok(req) => next.run(req).await,
        Err(e) => REQUEST_ID.sync_scope(id, || e.into_response()),
    }
}
