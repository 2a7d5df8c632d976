//! Hindsight over HTTP: the web UI, the REST API under `/api/v1`, its OpenAPI document, and the
//! operational endpoints, built as one axum [`Router`] by [`app`].
//!
//! Handlers are thin: they parse the request, call the domain for rules and the [`Store`] for
//! data, and render. They never see SQL or a concrete backend, and never read the system clock
//! directly: time comes from the [`Clock`] in [`AppState`], so tests can fix it.

pub mod accounts;
pub mod action_items;
pub mod audit;
pub mod credentials;
pub mod error;
pub mod extract;
pub mod follow_up;
pub mod gate;
mod incidents;
mod lookup;
pub mod markdown;
pub mod meetings;
pub mod metrics;
pub(crate) mod openapi;
mod ops;
pub mod paced;
mod pages;
pub mod policy;
pub mod postmortems;
pub mod routes;
pub mod signin;
pub mod timeline;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use hindsight_domain::Clock;
use hindsight_store::Store;
use jiff::Timestamp;

pub use openapi::openapi_document;

/// Request limits; every one answers with a clear 4xx when crossed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The system's clock, for production.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        hindsight_domain::to_stored_precision(Timestamp::now())
    }
}

/// What every handler may use. Handlers receive it by cloning, on every request, so it is one
/// `Arc`: one reference count to touch rather than one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts, and what the server keeps between requests for speed alone.
struct Shared {
    parts: AppParts,
    /// Postmortems as the reading view renders them, by version.
    documents: postmortems::reading::DocumentCache,
    /// The last outage (a full disk, a lock, …) a request met, and when: readiness reports it.
    last_outage: std::sync::Mutex<Option<(std::time::Instant, hindsight_store::Outage)>>,
}

pub struct AppParts {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: metrics::Metrics,
    pub limits: Limits,
    /// Served behind TLS: the session cookie is `Secure` and `__Host-` prefixed.
    pub secure_cookies: bool,
    pub login_throttle: signin::Throttle,
    /// The one client for requests to the outside (webhooks, Slack, …).
    pub outbound: hindsight_outbound::OutboundClient,
    /// The factor taxonomy and the organisation's lint rules.
    pub postmortems: postmortems::PostmortemSettings,
    pub timeline: timeline::TimelineSettings,
    pub follow_through: policy::FollowThroughSettings,
    /// Every team's meeting rules and who sends the invites.
    pub meetings: meetings::MeetingConfig,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::from_parts(AppParts {
            store,
            clock: Arc::new(SystemClock),
            metrics: metrics::Metrics::default(),
            limits: Limits::default(),
            secure_cookies: false,
            login_throttle: signin::Throttle::default(),
            outbound: default_outbound(),
            postmortems: postmortems::PostmortemSettings::default(),
            timeline: timeline::TimelineSettings::default(),
            follow_through: policy::FollowThroughSettings::default(),
            meetings: meetings::MeetingConfig::default(),
        })
    }

    pub fn from_parts(parts: AppParts) -> Self {
        Self(Arc::new(Shared {
            parts,
            documents: postmortems::reading::DocumentCache::default(),
            last_outage: std::sync::Mutex::new(None),
        }))
    }

    /// Remembers that a request met `outage` just now.
    pub(crate) fn note_outage(&self, outage: hindsight_store::Outage) {
        if let Ok(mut last) = self.0.last_outage.lock() {
            *last = Some((std::time::Instant::now(), outage));
        }
    }

    /// A change went through: writes work again, whatever failed before.
    pub(crate) fn clear_outage(&self) {
        if let Ok(mut last) = self.0.last_outage.lock()
            && last.take().is_some()
        {
            tracing::info!("writes succeed again");
        }
    }

    /// The outage a request met within `within`, if any.
    pub(crate) fn recent_outage(
        &self,
        within: std::time::Duration,
    ) -> Option<hindsight_store::Outage> {
        let last = *self.0.last_outage.lock().ok()?;
        last.filter(|(at, _)| at.elapsed() < within)
            .map(|(_, outage)| outage)
    }

    pub(crate) fn documents(&self) -> &postmortems::reading::DocumentCache {
        &self.0.documents
    }

    /// Today's date as due dates count it (UTC), from the clock.
    pub fn today(&self) -> jiff::civil::Date {
        self.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date()
    }
}

/// An outbound client that opens no internal range, with a timeout that suits webhooks.
pub fn default_outbound() -> hindsight_outbound::OutboundClient {
    hindsight_outbound::OutboundClient::new(
        hindsight_outbound::OutboundPolicy::default(),
        std::time::Duration::from_secs(10),
    )
    .expect("the HTTP client builds")
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0.parts
    }
}

/// Every route with the permission it needs.
fn routes() -> routes::Routes {
    routes::Routes::new()
        .merge(incidents::routes())
        .merge(postmortems::routes())
        .merge(timeline::routes())
        .merge(policy::routes())
        .merge(action_items::routes())
        .merge(follow_up::routes())
        .merge(meetings::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(signin::routes())
        .merge(pages::routes())
        .merge(ops::routes())
        .merge(openapi::routes())
}

/// The authorization table: every route, and what it needs.
pub fn route_rules() -> Vec<routes::RouteRule> {
    routes().into_parts().1
}

/// The whole application: every route behind the gate, with limits and fallbacks.
pub fn app(state: AppState) -> Router {
    let (router, rules) = routes().into_parts();
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            extract::refuse_nul,
        ))
        .layer(gate::GateLayer::new(
            state.clone(),
            routes::RuleTable::new(&rules),
        ))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state)
}

/// Unknown paths: the JSON error under `/api/`, a page elsewhere.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/api/") {
        error::ApiError::not_found(format!("there is no API route {}", uri.path())).into_response()
    } else {
        pages::PageError::not_found("There is no page at this address.").into_response()
    }
}

pub(crate) async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}", uri.path()),
    )
    .into_response()
}

/// Headers that keep answers from being framed, sniffed or running injected script. Pages get
/// the full set; JSON answers, which no browser renders as a document, get the two that matter
/// to them (OWASP's REST security cheat sheet), keeping every API answer smaller.
fn add_security_headers(response: &mut axum::response::Response) {
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !is_page {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
        return;
    }
    // A page that set its own (the standalone printable export) keeps it.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// How long clients may take, how many may be connected, and how long a stop may wait.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// From the first byte of a request to the end of its head.
    pub header_timeout: std::time::Duration,
    /// The longest pause while a request body arrives.
    pub body_idle_timeout: std::time::Duration,
    /// The longest a whole request body may take.
    pub body_timeout: std::time::Duration,
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// After a stop signal, how long requests under way may finish before they are dropped.
    pub shutdown_grace: std::time::Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_timeout: std::time::Duration::from_secs(10),
            body_idle_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(60),
            max_connections: 1024,
            shutdown_grace: std::time::Duration::from_secs(30),
        }
    }
}

/// Serves the application on `listener` until `shutdown` completes. Then it stops accepting,
/// lets the requests under way finish for at most `limits.shutdown_grace`, and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use tower::ServiceExt;
    let router = app(state);
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait, rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tokio::spawn(refuse_busy(stream, limits.max_connections));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(remote));
                let request = request.map(|body| {
                    axum::body::Body::new(paced::Paced::new(
                        body,
                        limits.body_idle_timeout,
                        limits.body_timeout,
                    ))
                });
                router.clone().oneshot(request)
            },
        );
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(
        grace_seconds = limits.shutdown_grace.as_secs(),
        "stopping: no new connections; requests under way may finish within the grace period"
    );
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(
                grace_seconds = limits.shutdown_grace.as_secs(),
                "requests still under way when the grace period ended were dropped"
            );
        }
    }
    Ok(())
}

/// One connection more than the server serves at once: a short 503 and the connection closes.
async fn refuse_busy(mut stream: tokio::net::TcpStream, max: usize) {
    use tokio::io::AsyncWriteExt;
    static REFUSED: error::Quietly = error::Quietly::new();
    REFUSED.log(|more_since_last| {
        tracing::warn!(
            max_connections = max,
            more_since_last,
            "a connection was refused: the server is at its connection limit"
        );
    });
    let body = r#"{"error":{"code":"unavailable","message":"the server has as many connections as it serves at once; try again shortly"}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}
