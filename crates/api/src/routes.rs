//! The handlers: each parses its input, checks the role, calls one service (the screening
//! index, the tenant's monitor, the case store) and renders the result.

use std::collections::BTreeMap;
use std::path::Path;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use floodgate_app::screen::{self as screening, Screening};
use floodgate_app::{alerts, AppError};
use floodgate_cases::model::*;
use floodgate_cases::{ListFilter, TenantSummary};
use floodgate_screen::model::{EntityType, PartialDate};
use floodgate_screen::screener::ListInfo;
use floodgate_screen::{AddressHit, Hit, Matcher, Screener};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{
    require, ApiJson, ApiQuery, Auth, IdPath, ADMIN, APPROVER, SUPERVISOR, WORKER,
};
use crate::state::{tenant_dir, AppState, KytOutcome};

/// Longest free-text field (reasons, notes) in characters.
pub const MAX_TEXT: usize = 4000;
/// Most names in one batch.
pub const MAX_BATCH: usize = 1000;

/// Refuses control characters (other than newline and tab in long text) and overlong text.
/// Quotes, angle brackets and SQL metacharacters are data: queries are parameterised and
/// every output is JSON-encoded, so `O'Brien` and `<b>` are stored and returned as given.
pub(crate) fn text(field: &str, s: &str, max: usize, multiline: bool) -> Result<(), ApiError> {
    if s.trim().is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(ApiError::invalid(field, format!("longer than {max} characters")));
    }
    if s.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t'))) {
        return Err(ApiError::invalid(field, "contains control characters"));
    }
    Ok(())
}

fn user_id(field: &str, s: String) -> Result<UserId, ApiError> {
    UserId::new(s).map_err(|e| ApiError::invalid(field, e.to_string()))
}

// ---------------------------------------------------------------------------------------
// Health

/// Liveness.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Is the process up?
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the case store answers and the server is not shutting down.
#[utoipa::path(get, path = "/ready", tag = "health", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub(crate) async fn ready(State(st): State<AppState>) -> ApiResult<Json<Health>> {
    if !st.0.ready.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::unavailable("shutting down"));
    }
    st.cases(|s| {
        let _ = s.label();
        Ok(())
    })
    .await?;
    Ok(Json(Health { status: "ready".into() }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(st): State<AppState>) -> Response {
    let idx = st.screen();
    let now = chrono::Utc::now();
    let gauges: Vec<crate::metrics::ListGauge<'_>> = idx
        .lists
        .iter()
        .map(|l| crate::metrics::ListGauge {
            list: &l.list,
            version: &l.version,
            entities: l.entities,
            age_seconds: chrono::DateTime::parse_from_rfc3339(&l.loaded_at)
                .map(|t| (now - t.with_timezone(&chrono::Utc)).num_seconds())
                .unwrap_or(-1),
        })
        .collect();
    let body = st.0.metrics.render(&gauges);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

// ---------------------------------------------------------------------------------------
// Sessions

/// Sign in: a person with tenant, user and password, or a system with an API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// An API key (`fgk_…`); or give `tenant`, `user` and `password` instead.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The tenant (VASP) the user belongs to.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The user id in the tenant's registry (`floodgate users`).
    #[serde(default)]
    pub user: Option<String>,
    /// The user's password (set with `floodgate users passwd`).
    #[serde(default)]
    pub password: Option<String>,
}

/// A session.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// Tenant.
    pub tenant: String,
    /// User.
    pub user: String,
    /// Role.
    pub role: String,
    /// Send this in `x-csrf-token` on every POST/PUT/DELETE made with the session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// One answer for every failed password sign-in: it never says which part was wrong.
fn bad_login() -> ApiError {
    ApiError::unauthorized("wrong tenant, user or password")
}

/// Checks a password sign-in: the per-user attempt bucket first, then the argon2id hash,
/// then the tenant's user registry (registered, enabled; the role is the registry's).
async fn password_login(
    st: &AppState,
    tenant: String,
    user: String,
    password: String,
) -> ApiResult<(Actor, String)> {
    let (Ok(t), Ok(u)) = (TenantId::new(tenant.clone()), UserId::new(user.clone())) else {
        return Err(bad_login());
    };
    let bucket = format!("user:{t}/{u}");
    if let Err(wait) = st.0.login_limiter.take(&bucket) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many sign-in attempts for this user; retry in {wait} s"),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    let st2 = st.clone();
    let ok =
        tokio::task::spawn_blocking(move || st2.0.keys.verify_password(&tenant, &user, &password))
            .await
            .map_err(|e| ApiError::internal("password check", e))?
            .map_err(|e| ApiError::internal("key store", e))?;
    if !ok {
        tracing::info!(target: "floodgate::api::auth", tenant = %t, user = %u, "password sign-in refused");
        return Err(bad_login());
    }
    // The registry decides whether the user may act and with which role; a user removed or
    // disabled there cannot sign in, whatever the password.
    let (t2, u2) = (t.clone(), u.clone());
    let registered = st
        .cases(move |s| {
            let probe = Actor::new(t2.clone(), u2.clone(), Role::Admin);
            Ok(s.users(&probe)?.into_iter().find(|x| x.user == u2 && !x.disabled))
        })
        .await?;
    let Some(reg) = registered else {
        tracing::info!(target: "floodgate::api::auth", tenant = %t, user = %u, "password sign-in of an unregistered or disabled user refused");
        return Err(bad_login());
    };
    Ok((Actor::new(t, u, reg.role), bucket))
}

/// Starts a browser session: sets the `fg_session` cookie (HttpOnly, SameSite=Strict) and
/// returns the CSRF token unsafe requests must echo in `x-csrf-token`. People sign in with
/// tenant, user and password (argon2id; attempts limited per user, 429 past the limit);
/// systems with an API key. A failed sign-in is a 401 that does not say which part was wrong.
#[utoipa::path(post, path = "/v1/session", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = SessionInfo), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn login(
    State(st): State<AppState>,
    ApiJson(b): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let (actor, bucket) = match b {
        LoginRequest { api_key: Some(k), tenant: None, user: None, password: None } => {
            let keys = st.clone();
            let key = tokio::task::spawn_blocking(move || keys.0.keys.verify(&k))
                .await
                .map_err(|e| ApiError::internal("key check", e))?
                .map_err(|e| ApiError::internal("key store", e))?
                .ok_or_else(|| {
                    ApiError::unauthorized("unknown or revoked API key").with_field("/api_key")
                })?;
            (key.actor().map_err(|e| ApiError::internal("key", e))?, key.id)
        }
        LoginRequest { api_key: None, tenant: Some(t), user: Some(u), password: Some(p) } => {
            password_login(&st, t, u, p).await?
        }
        _ => {
            return Err(ApiError::invalid(
                "/",
                "give either api_key alone, or tenant, user and password",
            ))
        }
    };
    let csrf = crate::auth::random_hex(32).map_err(|e| ApiError::internal("session", e))?;
    let ttl = st.0.cfg.session_ttl;
    let token =
        st.0.sessions
            .start(crate::auth::Session {
                bucket,
                actor: actor.clone(),
                csrf: csrf.clone(),
                expires: std::time::Instant::now() + ttl,
            })
            .map_err(|e| ApiError::internal("session", e))?;
    let secure = if st.0.cfg.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        crate::SESSION_COOKIE,
        ttl.as_secs()
    );
    let mut r = Json(SessionInfo {
        tenant: actor.tenant.to_string(),
        user: actor.user.to_string(),
        role: actor.role.to_string(),
        csrf_token: Some(csrf),
    })
    .into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal("cookie", e))?,
    );
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Who am I?
#[utoipa::path(get, path = "/v1/session", tag = "session", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = SessionInfo), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn whoami(Auth(a): Auth) -> Json<SessionInfo> {
    Json(SessionInfo {
        tenant: a.tenant.to_string(),
        user: a.user.to_string(),
        role: a.role.to_string(),
        csrf_token: None,
    })
}

/// Ends the browser session.
#[utoipa::path(delete, path = "/v1/session", tag = "session", security(("session" = [])),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn logout(
    State(st): State<AppState>,
    Auth(_): Auth,
    headers: HeaderMap,
) -> Response {
    if let Some(t) = crate::session_cookie(&headers) {
        st.0.sessions.end(&t);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("fg_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

// ---------------------------------------------------------------------------------------
// Screening

/// A name to screen.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenNameRequest {
    /// The name.
    pub name: String,
    /// `person`, `organization`, `vessel`, `aircraft`.
    #[serde(default)]
    pub entity_type: Option<String>,
    /// Date of birth or incorporation: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    #[serde(default)]
    pub dob: Option<String>,
    /// Nationalities or countries.
    #[serde(default)]
    pub countries: Vec<String>,
    /// Identity document numbers.
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// Your customer id: the name is registered under it (re-screened when lists change,
    /// suppressions apply) and alerts are about it.
    #[serde(default)]
    pub subject: Option<String>,
    /// Store unsuppressed hits as alerts (default true, as `floodgate screen name` does).
    #[serde(default)]
    pub record_alerts: Option<bool>,
}

/// A list version a screening used (`floodgate lists show --format json` prints the same).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListVersion {
    /// List.
    pub list: String,
    /// Version.
    pub version: String,
    /// Source file(s) it was loaded from.
    pub source: String,
    /// Entities.
    pub entities: usize,
    /// When loaded.
    pub loaded_at: String,
    /// Load id.
    pub load_id: Option<i64>,
}

/// Name hits.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScreenNameResponse {
    /// The name screened.
    pub name: String,
    /// Score threshold.
    pub threshold: f64,
    /// List versions used.
    pub lists: Vec<ListVersion>,
    /// Hits with their per-feature explanation.
    #[schema(value_type = Vec<Object>)]
    pub hits: Vec<Hit>,
    /// Alerts stored.
    pub alerts_recorded: usize,
}

fn versions(lists: &[ListInfo]) -> Vec<ListVersion> {
    lists
        .iter()
        .map(|l| ListVersion {
            list: l.list.clone(),
            version: l.version.clone(),
            source: l.source.clone(),
            entities: l.entities,
            loaded_at: l.loaded_at.clone(),
            load_id: l.load_id,
        })
        .collect()
}

/// The API's side of the screening services: the shared index in force (every request
/// screens against the version it started with) and the database for registered subjects.
struct ApiScreening {
    idx: std::sync::Arc<crate::state::ScreenIndex>,
    st: AppState,
}

impl ApiScreening {
    fn new(st: &AppState) -> Self {
        ApiScreening { idx: st.screen(), st: st.clone() }
    }
}

impl Screening for ApiScreening {
    fn matcher(&self) -> &Matcher {
        &self.idx.matcher
    }
    fn lists(&self) -> floodgate_app::Result<Vec<ListInfo>> {
        Ok(self.idx.lists.clone())
    }
    fn screen_subject(
        &mut self,
        id: &str,
        subject: floodgate_screen::Subject,
    ) -> floodgate_app::Result<(Vec<Hit>, Vec<AddressHit>)> {
        let mut s: std::sync::MutexGuard<'_, Screener> = self
            .st
            .0
            .screener
            .lock()
            .map_err(|_| AppError::Unavailable { what: "screening database".into() })?;
        Ok(s.screen_subject(id, subject)?)
    }
}

/// Runs a screening service on the blocking pool (a registered subject writes to the
/// database; a large batch keeps every core busy).
async fn screening<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&mut ApiScreening) -> floodgate_app::Result<T> + Send + 'static,
) -> ApiResult<floodgate_app::Result<T>> {
    let mut s = ApiScreening::new(st);
    tokio::task::spawn_blocking(move || f(&mut s))
        .await
        .map_err(|e| ApiError::internal("screening task", e))
}

/// A screening service's error: a bad field named, an unavailable database, or internal.
fn screen_error(e: AppError, name_field: &str) -> ApiError {
    match e.root() {
        AppError::Invalid { field, .. } => {
            ApiError::invalid(&format!("{name_field}/{field}"), e.to_string())
        }
        AppError::Unavailable { what } => ApiError::unavailable(what),
        AppError::Chain(_) => ApiError::invalid(&format!("{name_field}/chain"), e.to_string()),
        AppError::Screen(floodgate_screen::ScreenError::Query(_)) => {
            ApiError::invalid(&format!("{name_field}/address"), e.to_string())
        }
        _ => ApiError::internal("screening", e),
    }
}

/// The API's checks of a name request (lengths, characters, the date of birth), as the
/// service request.
fn name_request(b: &ScreenNameRequest, at: &str) -> Result<screening::NameRequest, ApiError> {
    text(&format!("{at}/name"), &b.name, 500, false)?;
    if let Some(d) = &b.dob {
        if PartialDate::parse(d).is_none() {
            return Err(ApiError::invalid(
                &format!("{at}/dob"),
                format!("'{d}' is not YYYY, YYYY-MM or YYYY-MM-DD"),
            ));
        }
    }
    for (i, c) in b.countries.iter().enumerate() {
        text(&format!("{at}/countries/{i}"), c, 100, false)?;
    }
    for (i, c) in b.identifiers.iter().enumerate() {
        text(&format!("{at}/identifiers/{i}"), c, 100, false)?;
    }
    if let Some(s) = &b.subject {
        text(&format!("{at}/subject"), s, 128, false)?;
    }
    Ok(screening::NameRequest {
        name: b.name.clone(),
        entity_type: b.entity_type.as_deref().map(EntityType::parse),
        dob: b.dob.clone(),
        countries: b.countries.clone(),
        identifiers: b.identifiers.clone(),
        subject: b.subject.clone(),
        related: false,
        score: screening::ScoreOptions::default(),
    })
}

/// The actor screening alerts are stored as: the `screen` feed of the caller's tenant.
fn screen_feed(a: &Actor) -> Result<Actor, ApiError> {
    Ok(Actor::new(a.tenant.clone(), user_id("feed", "screen".into())?, Role::Analyst))
}

/// Stores a screening's alerts ([`floodgate_app::alerts`]: which hits, about whom) in the
/// caller's case store when `wanted`; the result back and the number of alerts stored.
async fn record_alerts<R: Send + 'static>(
    st: &AppState,
    a: &Actor,
    wanted: bool,
    result: R,
    record: impl FnOnce(&mut dyn floodgate_cases::CaseStore, &Actor, &R) -> floodgate_cases::Result<usize>
        + Send
        + 'static,
) -> ApiResult<(R, usize)> {
    if !wanted {
        return Ok((result, 0));
    }
    let feed = screen_feed(a)?;
    st.cases(move |s| {
        let n = record(s, &feed, &result)?;
        Ok((result, n))
    })
    .await
}

/// Screens a name against every loaded list; hits are explained feature by feature.
#[utoipa::path(post, path = "/v1/screen/name", tag = "screening", request_body = ScreenNameRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ScreenNameResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn screen_name(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ScreenNameRequest>,
) -> ApiResult<Json<ScreenNameResponse>> {
    require(&a, WORKER, "screen")?;
    let req = name_request(&b, "")?;
    let asked = req.clone();
    let r = screening(&st, move |s| screening::name(s, &asked))
        .await?
        .map_err(|e| screen_error(e, ""))?;
    let wanted = b.record_alerts.unwrap_or(true) && r.is_hit();
    let (r, alerts_recorded) = record_alerts(&st, &a, wanted, r, move |s, feed, r| {
        alerts::record_into(s, feed, &r.alerts(&req))
    })
    .await?;
    Ok(Json(ScreenNameResponse {
        name: b.name,
        threshold: r.threshold,
        lists: versions(&r.lists),
        hits: r.hits,
        alerts_recorded,
    }))
}

/// Names to screen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenBatchRequest {
    /// Up to 1000 names.
    pub items: Vec<ScreenNameRequest>,
}

/// The response header carrying the number of alerts a batch stored.
pub const ALERTS_RECORDED: &str = "x-alerts-recorded";

/// Screens up to 1000 names in one request (all checked before any is screened). The body
/// is the service result `floodgate screen batch --format json` prints: one entry per hit,
/// in item order, `line` the item's position from 1; the number of alerts stored is in the
/// `x-alerts-recorded` header.
#[utoipa::path(post, path = "/v1/screen/batch", tag = "screening", request_body = ScreenBatchRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<floodgate_app::screen::BatchHit>,
        headers(("x-alerts-recorded" = usize, description = "Alerts stored"))),
        (status = "4XX", body = ErrorBody)))]
pub(crate) async fn screen_batch(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ScreenBatchRequest>,
) -> ApiResult<(HeaderMap, Json<screening::BatchResult>)> {
    require(&a, WORKER, "screen")?;
    if b.items.len() > MAX_BATCH {
        return Err(ApiError::invalid("/items", format!("more than {MAX_BATCH} items")));
    }
    let mut items = Vec::with_capacity(b.items.len());
    let mut wanted = Vec::with_capacity(b.items.len());
    for (i, it) in b.items.iter().enumerate() {
        let req = name_request(it, &format!("/items/{i}"))?;
        let q = req.check().map_err(|e| screen_error(e, &format!("/items/{i}")))?;
        items.push(screening::BatchItem {
            line: i as u64 + 1,
            id: req.subject.unwrap_or_default(),
            name: Some(q),
            ..Default::default()
        });
        wanted.push(it.record_alerts.unwrap_or(true));
    }
    let r = screening(&st, move |s| {
        screening::batch_items(s, "request item", items, &floodgate_app::NoProgress)
    })
    .await?
    .map_err(|e| screen_error(e, ""))?;
    // An item's alerts are stored unless it asks otherwise (`record_alerts: false`).
    let asked = move |h: &screening::BatchHit| {
        usize::try_from(h.line).ok().and_then(|l| wanted.get(l.wrapping_sub(1))).copied()
            == Some(true)
    };
    let any = r.hits.iter().any(|h| !h.suppressed && asked(h));
    let (r, alerts_recorded) = record_alerts(&st, &a, any, r, move |s, feed, r| {
        let mut al = r.alerts();
        al.hits.retain(|(_, h)| asked(h));
        alerts::record_into(s, feed, &al)
    })
    .await?;
    let mut headers = HeaderMap::new();
    headers.insert(ALERTS_RECORDED, HeaderValue::from(alerts_recorded));
    Ok((headers, Json(r)))
}

/// An address to screen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenAddressRequest {
    /// `bitcoin`, `ethereum`, `tron`, or another asset's ticker (compared as text).
    pub chain: String,
    /// The address.
    pub address: String,
    /// Your customer id (alerts are about it; registered for re-screening).
    #[serde(default)]
    pub subject: Option<String>,
    /// Store unsuppressed hits as alerts (default true).
    #[serde(default)]
    pub record_alerts: Option<bool>,
}

/// Address hits.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScreenAddressResponse {
    /// Chain.
    pub chain: String,
    /// Address as given.
    pub address: String,
    /// List versions used.
    pub lists: Vec<ListVersion>,
    /// Hits.
    #[schema(value_type = Vec<Object>)]
    pub hits: Vec<AddressHit>,
    /// Alerts stored.
    pub alerts_recorded: usize,
}

/// Screens an address: bitcoin, ethereum and tron in canonical form; other assets as text.
#[utoipa::path(post, path = "/v1/screen/address", tag = "screening", request_body = ScreenAddressRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ScreenAddressResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn screen_address(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ScreenAddressRequest>,
) -> ApiResult<Json<ScreenAddressResponse>> {
    require(&a, WORKER, "screen")?;
    text("/chain", &b.chain, 32, false)?;
    text("/address", &b.address, 200, false)?;
    if let Some(s) = &b.subject {
        text("/subject", s, 128, false)?;
    }
    let req = screening::AddressRequest {
        chain: b.chain.clone(),
        address: b.address.clone(),
        subject: b.subject.clone(),
    };
    let asked = req.clone();
    let r = screening(&st, move |s| screening::address(s, &asked))
        .await?
        .map_err(|e| screen_error(e, ""))?;
    let wanted = b.record_alerts.unwrap_or(true) && r.is_hit();
    let (r, alerts_recorded) = record_alerts(&st, &a, wanted, r, move |s, feed, r| {
        alerts::record_into(s, feed, &r.alerts(&req))
    })
    .await?;
    Ok(Json(ScreenAddressResponse {
        chain: r.chain,
        address: r.address,
        lists: versions(&r.lists),
        hits: r.hits,
        alerts_recorded,
    }))
}

/// The list versions in force: the service result `floodgate lists show --format json`
/// prints, read from the index every screening of this server uses.
#[utoipa::path(get, path = "/v1/lists", tag = "screening", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<ListVersion>), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn lists(
    State(st): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Vec<ListInfo>>> {
    require(&a, WORKER, "see the lists")?;
    let lists =
        floodgate_app::lists::in_force(&ApiScreening::new(&st)).map_err(|e| screen_error(e, ""))?;
    Ok(Json(lists))
}

// ---------------------------------------------------------------------------------------
// KYT

/// The decision on one transfer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionResponse {
    /// Allow, review, hold or block, with the score, every rule that fired with its reason and
    /// evidence, reports due and notes: the record `floodgate monitor` writes
    /// (docs/formats/monitor.md).
    #[schema(value_type = Object)]
    pub decision: floodgate_monitor::decision::Decision,
}

/// Decides on one transfer (a ledger line as JSON: docs/formats/ledger.md and the monitor
/// keys of docs/formats/monitor.md). The decision is committed to the tenant's monitor state
/// and its alerts and reports to the case store before the answer; a transfer id decided
/// before gets 409 `already_decided`.
#[utoipa::path(post, path = "/v1/kyt/decisions", tag = "kyt", request_body(content = Object, description = "a ledger entry"),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = DecisionResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn kyt_decide(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<DecisionResponse>> {
    require(&a, WORKER, "ask for KYT decisions")?;
    if !body.is_object() {
        return Err(ApiError::invalid("/", "the body must be a JSON object (one ledger entry)"));
    }
    let line = body.to_string();
    let ev = floodgate_monitor::input::parse_event(
        Path::new("request body"),
        1,
        &line,
        &st.0.cfg.assets,
        Some(floodgate_types::Timestamp::now()),
    )
    .map_err(|r| {
        let field = r
            .reason
            .split(['`', '\''])
            .nth(1)
            .filter(|f| {
                body.get(*f).is_some()
                    || ["id", "time", "customer_id", "direction", "asset", "amount"].contains(f)
            })
            .map(|f| format!("/{f}"))
            .unwrap_or_else(|| "/".into());
        ApiError::invalid(&field, r.reason)
    })?;
    let id = ev.entry.id.clone();
    match st.decide(&a.tenant, ev).await? {
        KytOutcome::Decided(d) => {
            let rules: Vec<&str> = d.hits.iter().map(|h| h.rule_id.as_str()).collect();
            st.0.metrics.decision(d.action.as_str(), &rules);
            Ok(Json(DecisionResponse { decision: *d }))
        }
        KytOutcome::Duplicate => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_decided",
            format!("transfer '{id}' was decided before; its decision stands"),
        )
        .with_field("/id")),
    }
}

// ---------------------------------------------------------------------------------------
// Tracing (floodgate-app's Tracer, the service `floodgate trace` calls)

fn app_error(e: floodgate_app::AppError) -> ApiError {
    match &e {
        floodgate_app::AppError::Invalid { field, .. } => {
            ApiError::invalid(&format!("/{field}"), e.to_string())
        }
        floodgate_app::AppError::Graph(floodgate_graph::GraphError::NotInGraph { .. }) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_in_graph", e.to_string())
        }
        _ => ApiError::internal(e.code(), e),
    }
}

pub(crate) async fn trace<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&floodgate_app::trace::Tracer) -> Result<T, floodgate_app::AppError> + Send + 'static,
) -> ApiResult<T> {
    let t = st.tracer()?;
    tokio::task::spawn_blocking(move || {
        let g = t.lock().map_err(|_| ApiError::unavailable("tracer"))?;
        f(&g).map_err(app_error)
    })
    .await
    .map_err(|e| ApiError::internal("trace task", e))?
}

/// Exposure reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExposureResponse {
    /// One report per asset, as `floodgate trace exposure --format json` writes them.
    #[schema(value_type = Vec<Object>)]
    pub reports: serde_json::Value,
}

/// Exposure of an address or entity to each risk category (`floodgate trace exposure`).
/// Body: `{target, direction?: in|out, hops?, model?, min_amount?, since?, until?, asset?,
/// peel_chains?, ignore_time?, cluster?, no_index?}`; the data directory's tags are used (no
/// extra tag files). Answered from the exposure index (`floodgate trace build`) when it is
/// current and holds the request (haircut or poison, `in`, hops 1, 2, 3 or 6, no window or
/// minimum): each report then carries `"from_index": true`; `no_index` forces a per-query trace.
#[utoipa::path(post, path = "/v1/trace/exposure", tag = "trace", request_body(content = Object, description = "an exposure request"),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ExposureResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn trace_exposure(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<floodgate_app::trace::ExposureRequest>,
) -> ApiResult<Json<ExposureResponse>> {
    require(&a, WORKER, "trace")?;
    if req.sources != floodgate_app::trace::TagSources::default() {
        return Err(ApiError::invalid("/sources", "extra tag files cannot be named over HTTP"));
    }
    text("/target", &req.target, 200, false)?;
    let r = trace(&st, move |t| t.exposure(&req)).await?;
    let reports = serde_json::to_value(&r).map_err(|e| ApiError::internal("exposure", e))?;
    Ok(Json(ExposureResponse { reports }))
}

/// Fund paths.
#[derive(Debug, Serialize, ToSchema)]
pub struct PathsResponse {
    /// The shortest paths, as `floodgate trace path --format json` writes them.
    #[schema(value_type = Vec<Object>)]
    pub paths: serde_json::Value,
}

/// The shortest fund paths between two addresses (`floodgate trace path`).
/// Body: `{from, to, max_hops?, limit?}`.
#[utoipa::path(post, path = "/v1/trace/paths", tag = "trace", request_body(content = Object, description = "a path request"),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = PathsResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn trace_paths(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<floodgate_app::trace::PathRequest>,
) -> ApiResult<Json<PathsResponse>> {
    require(&a, WORKER, "trace")?;
    text("/from", &req.from, 200, false)?;
    text("/to", &req.to, 200, false)?;
    if req.max_hops == 0 || req.max_hops > 64 || req.limit == 0 || req.limit > 1000 {
        return Err(ApiError::invalid("/max_hops", "max_hops must be 1-64 and limit 1-1000"));
    }
    let r = trace(&st, move |t| t.paths(&req)).await?;
    let paths = serde_json::to_value(&r).map_err(|e| ApiError::internal("paths", e))?;
    Ok(Json(PathsResponse { paths }))
}

// ---------------------------------------------------------------------------------------
// Alerts and cases

/// Listing filter.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Case state: open, escalated, pending_approval, snoozed, closed.
    pub state: Option<String>,
    /// Customer or entity.
    pub subject: Option<String>,
    /// Case number (alerts only).
    #[serde(default, deserialize_with = "crate::extract::opt_num")]
    pub case: Option<i64>,
    /// At most this many (1–1000, default 100).
    #[serde(default, deserialize_with = "crate::extract::opt_num")]
    pub limit: Option<u32>,
}

fn filter(q: ListQuery) -> Result<ListFilter, ApiError> {
    let state = q
        .state
        .map(|s| CaseState::parse(&s).map_err(|e| ApiError::invalid("state", e.to_string())))
        .transpose()?;
    if let Some(s) = &q.subject {
        text("subject", s, 128, false)?;
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1-1000"));
    }
    Ok(ListFilter { state, subject: q.subject, case: q.case.map(CaseId), limit: Some(limit) })
}

/// Alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsResponse {
    /// Newest first.
    #[schema(value_type = Vec<Object>)]
    pub alerts: Vec<Alert>,
}

/// The tenant's alerts, newest first, with reasons and evidence.
#[utoipa::path(get, path = "/v1/alerts", tag = "cases", params(ListQuery),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = AlertsResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn alerts(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<AlertsResponse>> {
    require(&a, WORKER, "see alerts")?;
    let f = filter(q)?;
    let alerts = st.cases(move |s| s.alerts(&a, &f)).await?;
    Ok(Json(AlertsResponse { alerts }))
}

/// Cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CasesResponse {
    /// Newest first.
    #[schema(value_type = Vec<Object>)]
    pub cases: Vec<Case>,
}

/// The tenant's cases, newest first.
#[utoipa::path(get, path = "/v1/cases", tag = "cases", params(ListQuery),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CasesResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn cases(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<CasesResponse>> {
    require(&a, WORKER, "see cases")?;
    let f = filter(q)?;
    let cases = st.cases(move |s| s.cases(&a, &f)).await?;
    Ok(Json(CasesResponse { cases }))
}

/// A case after an action.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseResponse {
    /// The case.
    #[schema(value_type = Object)]
    pub case: Case,
}

/// A case with its alerts, notes, evidence and audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseViewResponse {
    /// The case.
    #[schema(value_type = Object)]
    pub case: Case,
    /// Its alerts.
    #[schema(value_type = Vec<Object>)]
    pub alerts: Vec<Alert>,
    /// Notes and evidence.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<CaseItem>,
    /// Audit trail, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub trail: Vec<floodgate_cases::audit::AuditEntry>,
}

/// One case with everything that belongs to it.
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", params(("id" = i64, Path, description = "case number")),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseViewResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_show(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
) -> ApiResult<Json<CaseViewResponse>> {
    require(&a, WORKER, "see cases")?;
    let v = st.cases(move |s| s.case(&a, CaseId(id))).await?;
    Ok(Json(CaseViewResponse { case: v.case, alerts: v.alerts, items: v.items, trail: v.trail }))
}

/// Open a case by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCaseRequest {
    /// Customer or entity id.
    pub subject: String,
    /// Why.
    pub reason: String,
}

/// Opens a case for a subject (or returns its open case).
#[utoipa::path(post, path = "/v1/cases", tag = "cases", request_body = OpenCaseRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_open(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<OpenCaseRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, WORKER, "open cases")?;
    text("/subject", &b.subject, 128, false)?;
    text("/reason", &b.reason, MAX_TEXT, true)?;
    let case = st.cases(move |s| s.open_case(&a, &b.subject, &b.reason)).await?;
    Ok(Json(CaseResponse { case }))
}

/// Assign.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The user to assign.
    pub user: String,
}

/// Assigns a case.
#[utoipa::path(post, path = "/v1/cases/{id}/assign", tag = "cases", params(("id" = i64, Path)), request_body = AssignRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_assign(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<AssignRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, WORKER, "assign cases")?;
    text("/user", &b.user, 128, false)?;
    let to = user_id("/user", b.user)?;
    let case = st.cases(move |s| s.assign(&a, CaseId(id), &to)).await?;
    Ok(Json(CaseResponse { case }))
}

/// A note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The note.
    pub text: String,
}

/// Adds a note.
#[utoipa::path(post, path = "/v1/cases/{id}/notes", tag = "cases", params(("id" = i64, Path)), request_body = NoteRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_note(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<NoteRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, WORKER, "add notes")?;
    text("/text", &b.text, MAX_TEXT, true)?;
    let case = st.cases(move |s| s.note(&a, CaseId(id), &b.text)).await?;
    Ok(Json(CaseResponse { case }))
}

/// Evidence.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    /// Kind: `screening_hit`, `trace_path`, `exposure`, `document`, …
    pub label: String,
    /// The evidence document (JSON).
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

/// Attaches an evidence document.
#[utoipa::path(post, path = "/v1/cases/{id}/evidence", tag = "cases", params(("id" = i64, Path)), request_body = EvidenceRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_attach(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<EvidenceRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, WORKER, "attach evidence")?;
    text("/label", &b.label, 64, false)?;
    let case = st.cases(move |s| s.attach(&a, CaseId(id), &b.label, b.document)).await?;
    Ok(Json(CaseResponse { case }))
}

/// A reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why.
    pub reason: String,
}

/// Escalates a case to approvers.
#[utoipa::path(post, path = "/v1/cases/{id}/escalate", tag = "cases", params(("id" = i64, Path)), request_body = ReasonRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_escalate(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<ReasonRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, WORKER, "escalate cases")?;
    text("/reason", &b.reason, MAX_TEXT, true)?;
    let case = st.cases(move |s| s.escalate(&a, CaseId(id), &b.reason)).await?;
    Ok(Json(CaseResponse { case }))
}

/// Reopens a closed or snoozed case.
#[utoipa::path(post, path = "/v1/cases/{id}/reopen", tag = "cases", params(("id" = i64, Path)), request_body = ReasonRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_reopen(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<ReasonRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, APPROVER, "reopen cases")?;
    text("/reason", &b.reason, MAX_TEXT, true)?;
    let case = st.cases(move |s| s.reopen(&a, CaseId(id), &b.reason)).await?;
    Ok(Json(CaseResponse { case }))
}

/// Sends a pending decision back (approver).
#[utoipa::path(post, path = "/v1/cases/{id}/reject", tag = "cases", params(("id" = i64, Path)), request_body = ReasonRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_reject(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<ReasonRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, APPROVER, "reject decisions")?;
    text("/reason", &b.reason, MAX_TEXT, true)?;
    let case = st.cases(move |s| s.reject(&a, CaseId(id), &b.reason)).await?;
    Ok(Json(CaseResponse { case }))
}

/// A decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// `no_action`, `report`, `exit_relationship` or `freeze`.
    pub decision: String,
    /// Why.
    pub reason: String,
}

/// Decides a case (four-eyes decisions wait for an approver).
#[utoipa::path(post, path = "/v1/cases/{id}/decide", tag = "cases", params(("id" = i64, Path)), request_body = DecideRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_decide(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<DecideRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, WORKER, "decide cases")?;
    let kind = DecisionKind::parse(&b.decision)
        .map_err(|e| ApiError::invalid("/decision", e.to_string()))?;
    text("/reason", &b.reason, MAX_TEXT, true)?;
    let case = st.cases(move |s| s.decide(&a, CaseId(id), kind, &b.reason)).await?;
    Ok(Json(CaseResponse { case }))
}

/// Nothing.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Approves a pending decision (another person than the decider).
#[utoipa::path(post, path = "/v1/cases/{id}/approve", tag = "cases", params(("id" = i64, Path)), request_body = Empty,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_approve(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(_): ApiJson<Empty>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, APPROVER, "approve decisions")?;
    let case = st.cases(move |s| s.approve(&a, CaseId(id))).await?;
    Ok(Json(CaseResponse { case }))
}

/// Snooze until.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeRequest {
    /// RFC 3339 time (`2026-01-31T00:00:00Z`).
    pub until: String,
}

/// Puts a case aside until a time (or a new alert).
#[utoipa::path(post, path = "/v1/cases/{id}/snooze", tag = "cases", params(("id" = i64, Path)), request_body = SnoozeRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CaseResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn case_snooze(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<SnoozeRequest>,
) -> ApiResult<Json<CaseResponse>> {
    require(&a, WORKER, "snooze cases")?;
    let until = chrono::DateTime::parse_from_rfc3339(&b.until)
        .map_err(|e| {
            ApiError::invalid("/until", format!("'{}' is not an RFC 3339 time: {e}", b.until))
        })?
        .timestamp();
    let case = st.cases(move |s| s.snooze(&a, CaseId(id), UnixTime(until))).await?;
    Ok(Json(CaseResponse { case }))
}

// ---------------------------------------------------------------------------------------
// Reports

/// Report filter.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `due`, `overdue` or `filed`.
    pub status: Option<String>,
}

/// A report obligation with its status now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportItem {
    /// due, overdue or filed.
    pub status: String,
    /// The obligation (kind, subjects, deadline, reason).
    #[schema(value_type = Object)]
    pub report: ReportObligation,
}

/// Reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportsResponse {
    /// Reports.
    pub reports: Vec<ReportItem>,
}

/// The tenant's report obligations with their deadlines.
#[utoipa::path(get, path = "/v1/reports", tag = "reports", params(ReportQuery),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ReportsResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn reports(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<ReportsResponse>> {
    require(&a, WORKER, "see reports")?;
    if let Some(s) = &q.status {
        if !["due", "overdue", "filed"].contains(&s.as_str()) {
            return Err(ApiError::invalid(
                "status",
                format!("'{s}': expected due, overdue or filed"),
            ));
        }
    }
    let all = st.cases(move |s| s.reports(&a)).await?;
    let now = UnixTime::now();
    let reports = all
        .into_iter()
        .map(|r| {
            let status = match r.status(now) {
                ReportStatus::Due => "due",
                ReportStatus::Overdue => "overdue",
                ReportStatus::Filed => "filed",
            };
            ReportItem { status: status.into(), report: r }
        })
        .filter(|r| q.status.as_deref().is_none_or(|s| s == r.status))
        .collect();
    Ok(Json(ReportsResponse { reports }))
}

/// A filed report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileReportRequest {
    /// SHA-256 (hex) of the document sent to the authority.
    pub document_sha256: String,
}

/// Records a report as filed.
#[utoipa::path(post, path = "/v1/reports/{id}/file", tag = "reports", params(("id" = i64, Path)), request_body = FileReportRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ReportItem), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn report_file(
    State(st): State<AppState>,
    Auth(a): Auth,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<FileReportRequest>,
) -> ApiResult<Json<ReportItem>> {
    require(&a, WORKER, "file reports")?;
    if b.document_sha256.len() != 64 || !b.document_sha256.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::invalid("/document_sha256", "must be 64 hex digits"));
    }
    let r = st.cases(move |s| s.file_report(&a, ReportId(id), &b.document_sha256)).await.map_err(
        |e| {
            // The store names an unknown (or another tenant's) report as an invalid id.
            if e.field.as_deref() == Some("report id") {
                ApiError::not_found(e.message)
            } else {
                e
            }
        },
    )?;
    Ok(Json(ReportItem { status: "filed".into(), report: r }))
}

// ---------------------------------------------------------------------------------------
// Admin

/// A list file to load.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadListRequest {
    /// A file or directory name inside the server's import directory (`--import-dir`).
    pub file: String,
    /// Load even when the new version drops more than the allowed share of entries.
    #[serde(default)]
    pub allow_shrink: bool,
}

/// What a load did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoadListResponse {
    /// Version, counts, delta re-screen hits.
    #[schema(value_type = Object)]
    pub load: floodgate_screen::LoadReport,
    /// The lists now in force.
    pub lists: Vec<ListVersion>,
}

/// Loads a list file from the import directory (admin); the new index is swapped in
/// atomically, screening requests in flight finish on the old one.
#[utoipa::path(post, path = "/v1/admin/lists/load", tag = "admin", request_body = LoadListRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = LoadListResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn admin_load_list(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<LoadListRequest>,
) -> ApiResult<Json<LoadListResponse>> {
    require(&a, ADMIN, "load lists")?;
    text("/file", &b.file, 255, false)?;
    let rel = Path::new(&b.file);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(ApiError::invalid("/file", "must be a plain name inside the import directory"));
    }
    let path = st.0.cfg.import_dir.join(rel);
    if !path.exists() {
        return Err(ApiError::invalid(
            "/file",
            format!("no such file in the import directory: {}", b.file),
        ));
    }
    let st2 = st.clone();
    let req = floodgate_app::lists::LoadRequest {
        paths: vec![path],
        allow_shrink: b.allow_shrink,
        loaded_by: format!("{}@{}", a.user, a.tenant),
        ..Default::default()
    };
    let loaded = tokio::task::spawn_blocking(move || {
        let mut s =
            st2.0.screener.lock().map_err(|_| ApiError::unavailable("screening database"))?;
        floodgate_app::lists::load_into(
            &mut s,
            &req,
            &Default::default(),
            &floodgate_app::NoProgress,
        )
        .map_err(|e| match e.root() {
            AppError::ListFile { source, .. } => {
                ApiError::invalid("/file", format!("{source} (nothing was changed)"))
            }
            root if root.code() == "list_refused" => ApiError::new(
                StatusCode::CONFLICT,
                "list_refused",
                format!("{root} (nothing was changed)"),
            )
            .with_field("/file"),
            _ => ApiError::internal("storing the list", e),
        })
    })
    .await
    .map_err(|e| ApiError::internal("list load task", e))??;
    st.reload_screen()?;
    let Some(row) = loaded.rows.into_iter().next() else {
        return Err(ApiError::internal("list load", "no list was loaded"));
    };
    Ok(Json(LoadListResponse { load: row.report, lists: versions(&st.screen().lists) }))
}

/// A supervisor to grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// The supervisor's user id.
    pub supervisor: String,
}

/// Grants a supervisor read access to this tenant's cases (admin).
#[utoipa::path(post, path = "/v1/admin/supervisor-grants", tag = "admin", request_body = GrantRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn admin_grant(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<GrantRequest>,
) -> ApiResult<StatusCode> {
    require(&a, ADMIN, "grant supervisors")?;
    text("/supervisor", &b.supervisor, 128, false)?;
    let sup = user_id("/supervisor", b.supervisor)?;
    st.cases(move |s| s.grant_supervisor(&a, &sup)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// Supervisor

/// Exposure of a tenant's transfers to listed counterparties in one month.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ExposureMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Risk category (`sanctioned`, `scam`, `unlicensed_vasp`, `investor_alert`).
    pub category: String,
    /// Transfers.
    pub transfers: u64,
    /// Their value in US cents, where a rate was known.
    pub usd_cents: u64,
}

/// One tenant's aggregates: counts only.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantAggregate {
    /// Tenant.
    pub tenant: String,
    /// Alerts, cases by state, decisions by kind, reports filed and overdue.
    #[schema(value_type = Object)]
    pub cases: TenantSummary,
    /// KYT alerts (rules that fired on non-allow decisions served by this API) by rule.
    pub alerts_by_rule: BTreeMap<String, u64>,
    /// Exposure to sanctioned, scam and unlicensed-platform counterparties by month.
    pub exposure: Vec<ExposureMonth>,
}

/// Sector aggregates.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupervisorSummary {
    /// One row per tenant.
    pub tenants: Vec<TenantAggregate>,
}

/// Aggregates over every tenant (supervisor): counts, report timeliness, alert volumes by
/// rule, exposure by month; no customer-level field.
#[utoipa::path(get, path = "/v1/supervisor/summary", tag = "supervisor",
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = SupervisorSummary), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn supervisor_summary(
    State(st): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<SupervisorSummary>> {
    require(&a, SUPERVISOR, "see sector aggregates")?;
    let sums = st.cases(move |s| s.supervisor_summary(&a)).await?;
    let data_dir = st.0.cfg.data_dir.clone();
    let tenants = tokio::task::spawn_blocking(move || {
        sums.into_iter()
            .map(|s| {
                let (alerts_by_rule, exposure) = TenantId::new(s.tenant.clone())
                    .ok()
                    .map(|t| kyt_aggregates(&tenant_dir(&data_dir, &t)))
                    .unwrap_or_default();
                TenantAggregate { tenant: s.tenant.clone(), cases: s, alerts_by_rule, exposure }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::internal("aggregates", e))?;
    Ok(Json(SupervisorSummary { tenants }))
}

/// Counts over a tenant's decided transfers (read-only; a missing state is empty).
fn kyt_aggregates(dir: &Path) -> (BTreeMap<String, u64>, Vec<ExposureMonth>) {
    let mut by_rule = BTreeMap::new();
    let mut exp: BTreeMap<(String, String), ExposureMonth> = BTreeMap::new();
    // Read-only, with every decision's JSON wherever the store keeps it (inline in an old
    // row, in `monitor.log` since schema version 3); a store that cannot be read is empty.
    let read = floodgate_monitor::store::for_each_stored_decision(dir, &mut |json| {
        let Ok(d) = serde_json::from_str::<floodgate_monitor::decision::Decision>(json) else {
            return;
        };
        if d.action != floodgate_monitor::pack::Action::Allow {
            for h in &d.hits {
                *by_rule.entry(h.rule_id.clone()).or_insert(0) += 1;
            }
        }
        let month = d.time.to_rfc3339().chars().take(7).collect::<String>();
        for h in &d.hits {
            let cat =
                h.evidence.pointer("/list/category").and_then(|c| c.as_str()).unwrap_or_default();
            if ["sanctioned", "scam", "unlicensed_vasp", "investor_alert"].contains(&cat) {
                let e =
                    exp.entry((month.clone(), cat.to_owned())).or_insert_with(|| ExposureMonth {
                        month: month.clone(),
                        category: cat.to_owned(),
                        ..Default::default()
                    });
                e.transfers += 1;
                e.usd_cents += d.amount_usd_cents.unwrap_or(0);
            }
        }
    });
    if let Err(e) = read {
        tracing::warn!(target: "floodgate::api", "monitor state not read for aggregates: {e}");
        return (BTreeMap::new(), Vec::new());
    }
    (by_rule, exp.into_values().collect())
}

/// A tenant's cases, for a supervisor that tenant granted access to.
#[utoipa::path(get, path = "/v1/supervisor/tenants/{tenant}/cases", tag = "supervisor", params(("tenant" = String, Path)),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = CasesResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn supervisor_cases(
    State(st): State<AppState>,
    Auth(a): Auth,
    axum::extract::Path(tenant): axum::extract::Path<String>,
) -> ApiResult<Json<CasesResponse>> {
    require(&a, SUPERVISOR, "read a tenant's cases")?;
    let t = TenantId::new(tenant).map_err(|e| ApiError::invalid("tenant", e.to_string()))?;
    let cases = st.cases(move |s| s.supervised_cases(&a, &t)).await?;
    Ok(Json(CasesResponse { cases }))
}
