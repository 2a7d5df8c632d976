//! Request bodies, read strictly: the right content type, within the size limit, well-formed,
//! and of the expected shape, or an [`ApiError`] that says which of these failed and where.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// A JSON body, deserialized with the path of any field that did not fit.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        json_within(request, state.limits.max_body_bytes)
            .await
            .map(ApiJson)
    }
}

/// A JSON body of at most `limit` bytes; [`ApiJson`] with the server's limit, or a route's own
/// smaller one.
pub(crate) async fn json_within<T: DeserializeOwned>(
    request: Request,
    limit: usize,
) -> Result<T, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let is_json = mime.eq_ignore_ascii_case("application/json")
        || (mime.starts_with("application/") && mime.ends_with("+json"));
    if !is_json {
        // Read what was sent, if it is small, so that the answer is not lost to a reset.
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            axum::body::to_bytes(request.into_body(), limit.min(64 * 1024)),
        )
        .await;
        return Err(ApiError::unsupported_media_type(if mime.is_empty() {
            "the request needs `Content-Type: application/json`".to_owned()
        } else {
            format!("expected `Content-Type: application/json`, got `{mime}`")
        }));
    }
    let bytes = read_body(request.into_body(), limit).await?;
    parse_json(&bytes)
}

pub(crate) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        if is_length_limit(&error) {
            ApiError::payload_too_large(limit)
        } else if let Some(slow) = too_slow(&error) {
            ApiError::new(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                slow.to_string(),
            )
        } else {
            ApiError::malformed_json(format!("could not read the request body: {error}"))
        }
    })
}

/// The pacing limit a body broke, if that is why it could not be read.
fn too_slow(error: &axum::Error) -> Option<&crate::paced::BodyTooSlow> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if let Some(slow) = error.downcast_ref::<crate::paced::BodyTooSlow>() {
            return Some(slow);
        }
        source = error.source();
    }
    None
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.to_string().contains("length limit exceeded") {
            return true;
        }
        source = error.source();
    }
    false
}

/// No body Hindsight takes nests anywhere near this deep; a deeper one is refused before it is
/// parsed.
pub const MAX_JSON_DEPTH: usize = 32;

/// The deepest nesting of arrays and objects in `bytes`, not counting brackets inside strings.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses a JSON object: syntax errors are 400 `malformed_json`, shape errors 422 naming the
/// field. Every body the API takes is an object; serde would also take a struct's fields from an
/// array, by position, which no client means.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if nesting_depth(bytes) > MAX_JSON_DEPTH {
        return Err(ApiError::malformed_json(format!(
            "the body nests deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Err(error) => Err(ApiError::malformed_json(format!(
                "the body is not valid JSON: {error}"
            ))),
            Ok(_) => Err(ApiError::invalid(
                hindsight_domain::ValidationErrors::single(
                    "body",
                    "the body must be a JSON object",
                ),
            )),
        };
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::malformed_json(format!("the body is not valid JSON: {inner}"))
            }
            Category::Data => {
                let message = strip_position(&inner.to_string());
                // A missing field is reported at its parent; name the field itself.
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.strip_suffix('`'));
                let field = match (path.as_str(), missing) {
                    (".", Some(name)) => name.to_owned(),
                    (_, Some(name)) => format!("{path}.{name}"),
                    (".", None) => "body".to_owned(),
                    _ => path,
                };
                ApiError::invalid(hindsight_domain::ValidationErrors::single(field, message))
            }
        }
    })?;
    Ok(value)
}

/// serde_json appends "at line 1 column 9"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Answers with `value` as JSON. Unlike `axum::Json`, the buffer starts at a size that holds a
/// typical answer (an incident is well under 1 KiB), so that serializing rarely reallocates.
impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        let mut body = Vec::with_capacity(1024);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(error) => ApiError::internal(&error).into_response(),
        }
    }
}

/// Refuses a NUL character in any text a request carries (query string, JSON or form body)
/// with 422 naming the field, before any handler runs: neither backend ever sees one, so
/// both answer alike. Uploads (zip, multipart, images) are bytes, not text, and pass.
pub(crate) async fn refuse_nul(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let api = request.uri().path().starts_with("/api/");
    let refuse = |errors: hindsight_domain::ValidationErrors| {
        if api {
            ApiError::invalid(errors).into_response()
        } else {
            crate::pages::PageError {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                title: "Check what you entered",
                message: errors.summary(),
            }
            .into_response()
        }
    };
    if let Some(query) = request.uri().query()
        && let Err(errors) = nul_in_form(query.as_bytes())
    {
        return refuse(errors);
    }
    let mime = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let form = mime == "application/x-www-form-urlencoded";
    let json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if !form && !json {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, state.limits.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let found = if form {
        nul_in_form(&bytes)
    } else {
        nul_in_json_body(&bytes)
    };
    if let Err(errors) = found {
        return refuse(errors);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A form or query string with a NUL in a name or a value (`%00`, or the byte itself).
fn nul_in_form(bytes: &[u8]) -> Result<(), hindsight_domain::ValidationErrors> {
    if !bytes.contains(&0) && !contains_ignoring_case(bytes, b"%00") {
        return Ok(());
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).unwrap_or_default();
    hindsight_domain::validation::refuse_nul(
        pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
}

/// A JSON body with a NUL in a string or a key (written `\u0000`; a raw one is not JSON and is
/// refused as malformed by the parser).
fn nul_in_json_body(bytes: &[u8]) -> Result<(), hindsight_domain::ValidationErrors> {
    if !contains_ignoring_case(bytes, b"\\u0000") || nesting_depth(bytes) > MAX_JSON_DEPTH {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => match hindsight_domain::validation::nul_in_json(&value) {
            Some(field) => Err(hindsight_domain::ValidationErrors::single(
                field,
                hindsight_domain::validation::NUL_MESSAGE,
            )),
            None => Ok(()),
        },
        // Malformed JSON is the extractor's to describe.
        Err(_) => Ok(()),
    }
}

fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}
