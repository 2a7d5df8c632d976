//! One error type for the API, rendered as `{"error": {"code", "message", "details"}}`.
//!
//! The policy: client errors say what is wrong in words a person can act on, with a stable
//! snake_case `code` that clients can match. Server errors are logged once, here at the
//! boundary, with their cause, and answered with a generic message: their details may hold
//! things a client must not see (SQL, paths, addresses).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hindsight_domain::ValidationErrors;
use hindsight_store::{Outage, StoreError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorContent,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorContent {
    /// Stable, snake_case: `malformed_json`, `invalid_fields`, `not_found`,
    /// `payload_too_large`, `unsupported_media_type`, `conflict`, `unauthenticated`,
    /// `forbidden`, `too_many_requests`, `request_timeout`, `internal`, `unavailable` (503,
    /// with `Retry-After`), `insufficient_storage` (507: the server's disk is full).
    #[schema(example = "invalid_fields")]
    pub code: &'static str,
    pub message: String,
    /// For `invalid_fields`: a list of `{field, message}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn malformed_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", message)
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    pub fn invalid(errors: ValidationErrors) -> Self {
        let details = serde_json::to_value(&errors.0).expect("field errors serialize");
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_fields",
            message: format!("invalid fields: {}", errors.summary()),
            details: Some(details),
        }
    }

    /// Maps a store error, answering `missing` where the store found nothing, so that the 404
    /// says what was looked for.
    pub fn or_missing(missing: impl FnOnce() -> ApiError) -> impl FnOnce(StoreError) -> ApiError {
        move |error| match error {
            StoreError::NotFound => missing(),
            other => other.into(),
        }
    }

    /// Logs the cause and answers with nothing of it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server; it has been logged",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::not_found("not found"),
            StoreError::Invalid(errors) => Self::invalid(errors),
            StoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::VersionConflict(current) => Self {
                status: StatusCode::CONFLICT,
                code: "stale_version",
                message: format!(
                    "the document changed since this edit was started; it is now at version \
                     {current}"
                ),
                details: Some(serde_json::json!({ "current_version": current })),
            },
            StoreError::Unavailable(outage, detail) => {
                report_outage(outage, &detail);
                let (status, code) = outage_status(outage);
                Self::new(status, code, outage_message(outage))
            }
            StoreError::Schema(_) | StoreError::Backend(_) => Self::internal(&error),
        }
    }
}

/// A query string that does not fit its type: 400 `malformed_query`, with serde's words.
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_query",
            rejection.body_text(),
        )
    }
}

/// How an outage is answered: 507 for a full disk (an operator must act), else 503.
pub(crate) fn outage_status(outage: Outage) -> (StatusCode, &'static str) {
    match outage {
        Outage::DiskFull => (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    }
}

/// What a client is told: the cause in words, that nothing was saved, and what to do.
pub(crate) fn outage_message(outage: Outage) -> &'static str {
    match outage {
        Outage::DiskFull => {
            "the server's disk is full, so nothing was changed; an operator must free space"
        }
        Outage::Busy => {
            "the database is busy (locked by another process), so nothing was changed; try again"
        }
        Outage::ReadOnly => "the database is read-only just now, so nothing was changed",
        Outage::Unreachable => {
            "the database cannot be reached just now, so nothing was changed; try again shortly"
        }
        Outage::Io => "the database's disk failed to read or write, so nothing was changed",
    }
}

tokio::task_local! {
    /// The outage the request under way met, for the gate to remember for readiness.
    pub(crate) static OUTAGE_SEEN: std::cell::Cell<Option<Outage>>;
}

/// Seconds a client should wait before trying again: longer for what needs an operator.
pub(crate) fn retry_after(status: StatusCode) -> Option<&'static str> {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => Some("5"),
        StatusCode::INSUFFICIENT_STORAGE => Some("60"),
        _ => None,
    }
}

/// Something logged when it first happens, then at most once every 10 seconds with how many
/// more there were: a failure repeated per request must not fill the log (or a full disk).
#[derive(Default)]
pub(crate) struct Quietly(std::sync::Mutex<Option<(std::time::Instant, u64)>>);

impl Quietly {
    pub(crate) const fn new() -> Self {
        Self(std::sync::Mutex::new(None))
    }

    /// Calls `log` with the count since the last line, when a line is due.
    pub(crate) fn log(&self, log: impl FnOnce(u64)) {
        let Ok(mut state) = self.0.lock() else {
            return;
        };
        match &mut *state {
            Some((last, since)) if last.elapsed() < std::time::Duration::from_secs(10) => {
                *since += 1;
            }
            Some((last, since)) => {
                log(*since);
                *last = std::time::Instant::now();
                *since = 0;
            }
            None => {
                log(0);
                *state = Some((std::time::Instant::now(), 0));
            }
        }
    }
}

/// Logs an outage, quietly per kind, and tells the gate the request met it (for readiness).
pub fn report_outage(outage: Outage, detail: &str) {
    static SEEN: [Quietly; 5] = [
        Quietly::new(),
        Quietly::new(),
        Quietly::new(),
        Quietly::new(),
        Quietly::new(),
    ];
    let _ = OUTAGE_SEEN.try_with(|seen| seen.set(Some(outage)));
    let index = match outage {
        Outage::DiskFull => 0,
        Outage::Busy => 1,
        Outage::ReadOnly => 2,
        Outage::Unreachable => 3,
        Outage::Io => 4,
    };
    SEEN[index].log(|more_since_last| {
        tracing::error!(
            cause = outage.describe(),
            error = detail,
            more_since_last,
            "the database is unavailable"
        );
    });
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorContent {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = retry_after(self.status) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(seconds),
            );
        }
        response
    }
}
