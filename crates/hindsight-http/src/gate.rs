//! The gate every request passes: who is asking (an API token or a session cookie), whether
//! the route's rule lets them, whether a cookie-carrying change came from our own pages; then,
//! on the way out, security headers, metrics and the log line. It is the one place where
//! authorization is decided; handlers read the [`Actor`] it leaves in the request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::access::{Actor, Credential, Permission};
use jiff::SignedDuration;
use tower::{Layer, Service};

use crate::AppState;
use crate::credentials::{TOKEN_PREFIX, hash_secret};
use crate::error::ApiError;
use crate::pages::PageError;
use crate::routes::{Rule, RuleTable};

/// The session cookie's name on plain HTTP; behind TLS it carries the `__Host-` prefix, which
/// browsers accept only with `Secure`, `Path=/` and no `Domain`.
pub const SESSION_COOKIE: &str = "hindsight_session";
pub const SECURE_SESSION_COOKIE: &str = "__Host-hindsight_session";

/// How stale a session's or token's last-use time may get before a request refreshes it: one
/// write a minute per credential at most, not one per request.
const TOUCH_INTERVAL: SignedDuration = SignedDuration::from_secs(60);

#[derive(Clone)]
pub struct GateLayer {
    state: AppState,
    rules: Arc<RuleTable>,
}

impl GateLayer {
    pub fn new(state: AppState, rules: RuleTable) -> Self {
        Self {
            state,
            rules: Arc::new(rules),
        }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            state: self.state.clone(),
            rules: Arc::clone(&self.rules),
        }
    }
}

#[derive(Clone)]
pub struct Gate<S> {
    inner: S,
    state: AppState,
    rules: Arc<RuleTable>,
}

/// Why a request was turned away, before reaching its handler.
enum Refusal {
    /// No credentials, or ones that do not work.
    Unauthenticated,
    /// Credentials that work but do not allow this.
    Forbidden,
    /// A state change with a session cookie from another site.
    CrossSite,
    /// The route is missing from the table: refuse rather than guess (a bug, logged).
    NoRule,
    /// The credentials could not be checked, because the database did not answer.
    Unavailable,
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

fn refuse(refusal: Refusal, path: &str, query: Option<&str>) -> Response {
    match refusal {
        Refusal::Unauthenticated if is_api(path) => {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "sign in, or send an API token as `Authorization: Bearer <token>`",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Refusal::Unauthenticated => {
            let next = match query {
                Some(query) => format!("{path}?{query}"),
                None => path.to_owned(),
            };
            let next = serde_urlencoded::to_string([("next", next)]).expect("strings encode");
            Redirect::to(&format!("/login?{next}")).into_response()
        }
        Refusal::Forbidden if is_api(path) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role or your token's scope does not allow this",
        )
        .into_response(),
        Refusal::Forbidden => PageError {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            message: "Your role does not allow this. Ask an admin if you need it.".into(),
        }
        .into_response(),
        Refusal::CrossSite => ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "this change came from another site with your session cookie, and was refused",
        )
        .into_response(),
        Refusal::Unavailable => {
            let mut response = if is_api(path) {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database did not answer, so your credentials could not be checked; \
                     try again shortly",
                )
                .into_response()
            } else {
                PageError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    title: "Unavailable",
                    message: "Hindsight cannot reach its database just now, so it could not \
                              check who you are. Try again in a few seconds."
                        .into(),
                }
                .into_response()
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        Refusal::NoRule => {
            tracing::error!(http.path = path, "route has no authorization rule; refused");
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this route is not open")
                .into_response()
        }
    }
}

/// The secret of a bearer token, if the request carries one of ours.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let text = value.to_str().map_err(|_| ());
    Some(text.and_then(|text| {
        let token = text.strip_prefix("Bearer ").ok_or(())?.trim();
        token.starts_with(TOKEN_PREFIX).then_some(token).ok_or(())
    }))
}

/// The secret of the session cookie, under either name.
pub fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE || *name == SECURE_SESSION_COOKIE)
        .map(|(_, secret)| secret.to_owned())
}

/// Why credentials did not give an actor.
enum NotAuthenticated {
    /// Credentials that do not work: unknown, revoked, malformed, or a disabled user's.
    Refused,
    /// The store could not be asked; whether they work is not known.
    Unavailable(hindsight_store::StoreError),
}

/// Who is asking: `Ok(None)` for nobody, `Err` for credentials that do not work or could not
/// be checked.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Actor>, NotAuthenticated> {
    use NotAuthenticated::{Refused, Unavailable};
    let now = state.clock.now();
    if let Some(token) = bearer(headers) {
        let hash = hash_secret(token.map_err(|()| Refused)?);
        let (token, user) = state
            .store
            .find_api_token(&hash)
            .await
            .map_err(Unavailable)?
            .ok_or(Refused)?;
        if user.disabled {
            return Err(Refused);
        }
        let stale = token
            .last_used_at
            .is_none_or(|last| now.duration_since(last) > TOUCH_INTERVAL);
        if stale {
            let store = Arc::clone(&state.store);
            tokio::spawn(async move {
                if let Err(error) = store.touch_api_token(token.id, now).await {
                    tracing::warn!(error = %error, "could not record a token's use");
                }
            });
        }
        return Ok(Some(Actor {
            user,
            credential: Credential::Token {
                id: token.id,
                scope: token.scope,
            },
        }));
    }
    let Some(secret) = session_secret(headers) else {
        return Ok(None);
    };
    let hash = hash_secret(&secret);
    let Some((session, user)) = state
        .store
        .find_session(&hash)
        .await
        .map_err(NotAuthenticated::Unavailable)?
    else {
        // A cookie for a session that ended is not an error: the person signs in again.
        return Ok(None);
    };
    if user.disabled || session.expired(now) {
        return Ok(None);
    }
    if now.duration_since(session.last_seen_at) > TOUCH_INTERVAL {
        let store = Arc::clone(&state.store);
        let hash = hash.clone();
        tokio::spawn(async move {
            if let Err(error) = store.touch_session(&hash, now).await {
                tracing::warn!(error = %error, "could not record a session's use");
            }
        });
    }
    Ok(Some(Actor {
        user,
        credential: Credential::Session { id_hash: hash },
    }))
}

/// A browser tells where a request came from (`Sec-Fetch-Site`, else `Origin`); a change made
/// with a session cookie must come from our own pages. Every browser sends one of the two with
/// a change, so a cookie-carrying change with neither is refused too: only API tokens, which
/// no other site can make a browser send, work without them.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or_default();
            let host = host.to_str().unwrap_or_default();
            origin
                .split_once("://")
                .is_some_and(|(_, rest)| rest == host)
        }
        _ => false,
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl<S> Service<Request> for Gate<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        // The clone is ready because routes always are; this is tower's usual dance.
        let inner = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, inner);
        let state = self.state.clone();
        let rules = Arc::clone(&self.rules);
        let request_id = request_id(request.headers());
        let span = tracing::info_span!("request", request.id = %request_id);
        let future = Box::pin(async move {
            let method = request.method().clone();
            let has_body = request.headers().contains_key(header::TRANSFER_ENCODING)
                || request
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .is_some_and(|length| length.as_bytes() != b"0");
            let route = request.extensions().get::<MatchedPath>().cloned();
            let route_name = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            // No matched route means the fallback (a 404): nothing to protect.
            let permission = match &route {
                Some(route) => match rules.rule(method.as_str(), route.as_str()) {
                    Rule::Needs(permission) => Some(permission),
                    Rule::NoSuchMethod => {
                        let allowed = rules.allowed(route.as_str());
                        let uri = request.uri().clone();
                        if has_body {
                            drain(request.into_body()).await;
                        }
                        let mut response = crate::method_not_allowed(method.clone(), uri).await;
                        if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
                            response.headers_mut().insert(header::ALLOW, allow);
                        }
                        crate::add_security_headers(&mut response);
                        if has_body {
                            response
                                .headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        }
                        state
                            .metrics
                            .record(&method, route_name, 405, started.elapsed());
                        return Ok(response);
                    }
                    Rule::Unknown => None,
                },
                None => Some(Permission::Public),
            };
            let actor = authenticate(&state, request.headers()).await;
            let path = request.uri().path().to_owned();
            let query = request.uri().query().map(str::to_owned);
            if let Err(NotAuthenticated::Unavailable(error)) = &actor {
                match error {
                    hindsight_store::StoreError::Unavailable(outage, detail) => {
                        crate::error::report_outage(*outage, detail);
                        state.note_outage(*outage);
                    }
                    other => tracing::error!(
                        http.route = route_name,
                        error = %other,
                        "credentials could not be checked: the database did not answer"
                    ),
                }
            }
            let actor = actor.map_err(|error| matches!(error, NotAuthenticated::Unavailable(_)));
            let refusal = match (permission, &actor) {
                (None, _) => Some(Refusal::NoRule),
                (Some(Permission::Public), _) => None,
                // Not known whether the credentials work: say so, rather than "sign in".
                (Some(_), Err(true)) => Some(Refusal::Unavailable),
                (Some(_), Err(false)) | (Some(_), Ok(None)) => Some(Refusal::Unauthenticated),
                (Some(needed), Ok(Some(actor))) if !actor.can(needed) => Some(Refusal::Forbidden),
                (Some(_), Ok(Some(actor))) => {
                    let cookie = matches!(actor.credential, Credential::Session { .. });
                    (cookie && !is_safe(&method) && !same_origin(request.headers()))
                        .then_some(Refusal::CrossSite)
                }
            };
            let user_id = actor
                .as_ref()
                .ok()
                .and_then(|actor| actor.as_ref())
                .map(|actor| actor.user.id);
            let mut response = match refusal {
                Some(refusal) => {
                    if matches!(refusal, Refusal::Forbidden | Refusal::CrossSite) {
                        tracing::warn!(http.route = route_name, user.id = ?user_id, "permission denied");
                        let actor = actor.as_ref().ok().and_then(Option::as_ref);
                        crate::audit::record(
                            &state,
                            hindsight_domain::access::NewAuditEvent {
                                occurred_at: state.clock.now(),
                                user_id,
                                actor: actor.map_or("anonymous".to_owned(), |actor| {
                                    actor.user.email.clone()
                                }),
                                action: "permission.denied",
                                target: format!("{method} {route_name}"),
                                detail: match refusal {
                                    Refusal::CrossSite => {
                                        "a change with the session cookie from another site".into()
                                    }
                                    _ => "role or token scope too narrow".into(),
                                },
                                address: crate::audit::client_address(request.extensions()),
                            },
                        )
                        .await;
                    }
                    if has_body {
                        drain(request.into_body()).await;
                    }
                    refuse(refusal, &path, query.as_deref())
                }
                None => {
                    if let Ok(Some(actor)) = actor {
                        request.extensions_mut().insert(actor);
                    }
                    let seen = std::cell::Cell::new(None);
                    let (response, seen) = crate::error::OUTAGE_SEEN
                        .scope(seen, async {
                            let response = inner.call(request).await;
                            (
                                response,
                                crate::error::OUTAGE_SEEN.with(std::cell::Cell::get),
                            )
                        })
                        .await;
                    let response = response?;
                    match seen {
                        Some(outage) => state.note_outage(outage),
                        None if !is_safe(&method) && response.status().is_success() => {
                            state.clear_outage();
                        }
                        None => {}
                    }
                    response
                }
            };
            crate::add_security_headers(&mut response);
            // A refusal may leave the body unread, and then the connection cannot carry another
            // request: say so, rather than let the client's next request meet a closed socket.
            let status = response.status();
            if has_body && (status.is_client_error() || status.is_server_error()) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            let elapsed = started.elapsed();
            let status = response.status().as_u16();
            state.metrics.record(&method, route_name, status, elapsed);
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-request-id", value);
            }
            tracing::info!(
                http.method = %method,
                http.route = route_name,
                http.status = status,
                user.id = user_id.map(|id| id.get()),
                elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                "request"
            );
            Ok(response)
        });
        Box::pin(tracing::Instrument::instrument(future, span))
    }
}

/// Reads and discards a refused request's body, when it is small and comes quickly, so that
/// closing the connection after the answer does not reset it under a client still writing (the
/// client would then lose the answer). A large or slow one is left; `Connection: close` tells
/// the client not to reuse the connection.
async fn drain(body: axum::body::Body) {
    const MAX_DRAINED: usize = 64 * 1024;
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        axum::body::to_bytes(body, MAX_DRAINED),
    )
    .await;
}

/// The id that ties a request's log lines together: the caller's `X-Request-Id` when it sends
/// a sensible one (a proxy's, say), else a new one. It is sent back in `X-Request-Id`.
fn request_id(headers: &HeaderMap) -> String {
    let given = headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte))
        });
    match given {
        Some(id) => id.to_owned(),
        // A random prefix drawn once per process and a counter: unique across instances
        // without a system call on every request.
        None => {
            static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let prefix = PREFIX.get_or_init(|| {
                use rand_core::RngCore;
                let mut bytes = [0u8; 4];
                rand_core::OsRng.fill_bytes(&mut bytes);
                hex::encode(bytes)
            });
            let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("{prefix}{next:08x}")
        }
    }
}

/// The signed-in actor, for handlers behind a rule that requires one.
pub struct CurrentActor(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for CurrentActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(CurrentActor)
            .ok_or_else(|| {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first")
            })
    }
}

/// The signed-in actor if there is one, for public pages that greet them.
pub struct MaybeActor(pub Option<Actor>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeActor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(MaybeActor(parts.extensions.get::<Actor>().cloned()))
    }
}
