//! One error type for the API, rendered as `{"error": {"code", "message", "details"}}`.
//!
//! The policy: client errors say what is wrong in words a person can act on, with a stable
//! snake_case `code` that clients can match. Server errors are logged once, here at the
//! boundary, with their cause, and answered with a generic message: their details may hold
//! things a client must not see (SQL, paths, addresses).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hindsight_domain::ValidationErrors;
use hindsight_store::StoreError;
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
    /// `forbidden`, `too_many_requests`, `internal`, `unavailable`.
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorContent {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}
