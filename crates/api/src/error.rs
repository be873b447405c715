//! The one mapping from every failure to an HTTP status and the stable JSON error body
//! `{"error": {"code", "message", "field"?, "request_id"}}` (docs/api.md).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use floodgate_cases::CasesError;
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The request id of the request being served (set by the request-id middleware), so an
    /// error built anywhere below it names the request.
    pub(crate) static REQUEST_ID: String;
}

/// The current request's id, or empty outside a request.
pub(crate) fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// An API failure: status, stable snake_case code, a message for people, and the offending
/// field (a JSON pointer into the body, or a path/query parameter name) when there is one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code clients switch on.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The field at fault.
    pub field: Option<String>,
    /// Seconds to wait (429).
    pub retry_after: Option<u64>,
}

/// The error body.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (`unauthorized`, `forbidden`, `not_found`, `invalid_json`,
    /// `unknown_field`, `invalid_field`, `body_too_large`, `conflict`, `rate_limited`, `timeout`,
    /// `unavailable`, `internal`).
    pub code: String,
    /// For people.
    pub message: String,
    /// JSON pointer into the request body, or the name of a path or query parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request's id (also in the `x-request-id` response header and the logs).
    pub request_id: String,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), field: None, retry_after: None }
    }
    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }
    /// 400 `invalid_field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", message).with_field(field)
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 500: the detail goes to the log, not to the client.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
        tracing::error!(target: "floodgate::api", request_id = %current_request_id(), "{context}: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{context} failed; see the server log"),
        )
    }
    /// 503.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<CasesError> for ApiError {
    fn from(e: CasesError) -> ApiError {
        let msg = e.to_string();
        match e {
            CasesError::UnknownCase { .. } | CasesError::UnknownAlert { .. } => {
                ApiError::not_found(msg)
            }
            CasesError::Forbidden { .. } => ApiError::forbidden(msg),
            CasesError::Transition { .. } => {
                ApiError::new(StatusCode::CONFLICT, "invalid_transition", msg)
            }
            CasesError::SameApprover { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "four_eyes", msg)
            }
            CasesError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", msg),
            CasesError::Invalid { field, .. } => ApiError::invalid(&field, msg),
            CasesError::Retention { .. } => ApiError::new(StatusCode::CONFLICT, "retention", msg),
            _ => ApiError::internal("case store", msg),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
                request_id: current_request_id(),
            },
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case-store variant the API can meet maps to its status and code.
    #[test]
    fn every_cases_error_has_its_status() {
        let t = |e: CasesError| {
            let a = ApiError::from(e);
            (a.status.as_u16(), a.code)
        };
        assert_eq!(t(CasesError::UnknownCase { tenant: "a".into(), case: 1 }), (404, "not_found"));
        assert_eq!(
            t(CasesError::UnknownAlert { tenant: "a".into(), alert: 1 }),
            (404, "not_found")
        );
        assert_eq!(
            t(CasesError::Forbidden {
                user: "u".into(),
                role: "analyst".into(),
                action: "x".into()
            }),
            (403, "forbidden")
        );
        assert_eq!(
            t(CasesError::Transition { case: 1, action: "x".into(), state: "closed".into() }),
            (409, "invalid_transition")
        );
        assert_eq!(t(CasesError::SameApprover { case: 1, user: "u".into() }), (403, "four_eyes"));
        assert_eq!(t(CasesError::Conflict { case: 1 }), (409, "conflict"));
        assert_eq!(
            t(CasesError::Invalid { field: "note".into(), value: "".into(), reason: "r".into() }),
            (400, "invalid_field")
        );
        assert_eq!(
            t(CasesError::Retention { tenant: "a".into(), reason: "r".into() }),
            (409, "retention")
        );
        assert_eq!(t(CasesError::Db { db: "x".into(), message: "m".into() }), (500, "internal"));
    }
}
