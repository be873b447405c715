//! Request extractors whose failures are [`ApiError`]s naming the field: JSON bodies (unknown
//! fields refused, the path of a bad value as a JSON pointer), queries, path ids, and the
//! authenticated actor.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use floodgate_cases::model::{Actor, Role};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut p = String::new();
    for s in path.iter() {
        p.push('/');
        match s {
            Segment::Seq { index } => p.push_str(&index.to_string()),
            Segment::Map { key } => p.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => p.push_str(variant),
            Segment::Unknown => p.push('?'),
        }
    }
    p
}

/// Parses a JSON body into `T` with the error naming the field as a JSON pointer.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let mut ptr = pointer(e.path());
        let inner = e.into_inner();
        let msg = inner.to_string();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {msg}"),
            ),
            serde_json::error::Category::Data => {
                if let Some(rest) = msg.strip_prefix("unknown field `") {
                    let name = rest.split('`').next().unwrap_or_default();
                    if !ptr.ends_with(&format!("/{name}")) {
                        ptr.push('/');
                        ptr.push_str(name);
                    }
                    ApiError::new(StatusCode::BAD_REQUEST, "unknown_field", msg).with_field(ptr)
                } else {
                    if let Some(rest) = msg.strip_prefix("missing field `") {
                        let name = rest.split('`').next().unwrap_or_default();
                        ptr.push('/');
                        ptr.push_str(name);
                    }
                    let field = if ptr.is_empty() { "/".to_owned() } else { ptr };
                    ApiError::invalid(&field, msg)
                }
            }
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(v)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is larger than the server's limit",
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Query parameters.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        // Every value is a JSON string; numeric fields parse them with [`opt_num`].
        let mut map = serde_json::Map::new();
        for (k, v) in form_pairs(q) {
            if map.insert(k.clone(), serde_json::Value::String(v)).is_some() {
                return Err(ApiError::invalid(&k, "query parameter given twice"));
            }
        }
        serde_path_to_error::deserialize(serde_json::Value::Object(map)).map(ApiQuery).map_err(
            |e| {
                let mut field = e.path().to_string();
                let msg = e.into_inner().to_string();
                if field == "." || field == "?" {
                    field = msg.split('`').nth(1).unwrap_or("query").to_owned();
                }
                ApiError::invalid(&field, format!("query parameter: {msg}"))
            },
        )
    }
}

/// Deserializes an optional number given as a query string value.
pub(crate) fn opt_num<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    s.map(|s| s.parse::<T>().map_err(|e| serde::de::Error::custom(format!("'{s}': {e}"))))
        .transpose()
}

/// Decodes `a=1&b=x%20y` (percent-decoding, `+` as space); a pair that is not UTF-8 keeps
/// its raw text.
fn form_pairs(q: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = |c: u8| (c as char).to_digit(16);
                    match (hex(b[i + 1]), hex(b[i + 2])) {
                        (Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
    }
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

/// A numeric id in the path (`/v1/cases/{id}`).
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(s) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::invalid("id", e.body_text()))?;
        match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(IdPath(n)),
            _ => Err(ApiError::invalid("id", format!("'{s}' is not a positive integer id"))),
        }
    }
}

/// The authenticated actor (API key or browser session); 401 without one.
#[derive(Debug, Clone)]
pub struct Auth(pub Actor);

/// Set by the auth middleware.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) actor: Actor,
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Principal>().map(|p| Auth(p.actor.clone())).ok_or_else(|| {
            ApiError::unauthorized(
                "an API key (Authorization: Bearer fgk_…) or a session cookie is required",
            )
        })
    }
}

/// Roles that work a tenant's alerts and cases.
pub(crate) const WORKER: &[Role] = &[Role::Analyst, Role::Approver, Role::Admin];
/// Roles that approve.
pub(crate) const APPROVER: &[Role] = &[Role::Approver, Role::Admin];
/// Tenant administrators.
pub(crate) const ADMIN: &[Role] = &[Role::Admin];
/// Supervisors.
pub(crate) const SUPERVISOR: &[Role] = &[Role::Supervisor];

/// 403 unless the actor has one of `roles`.
pub(crate) fn require(a: &Actor, roles: &[Role], what: &str) -> Result<(), ApiError> {
    if roles.contains(&a.role) {
        Ok(())
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "role {} may not {what}; needs {}",
            a.role,
            names.join(" or ")
        )))
    }
}
