//! Hindsight over HTTP: the web UI, the REST API under `/api/v1`, its OpenAPI document, and the
//! operational endpoints, built as one axum [`Router`] by [`app`].
//!
//! Handlers are thin: they parse the request, call the domain for rules and the [`Store`] for
//! data, and render. They never see SQL or a concrete backend, and never read the system clock
//! directly: time comes from the [`Clock`] in [`AppState`], so tests can fix it.

pub mod error;
pub mod extract;
mod incidents;
pub mod metrics;
mod openapi;
mod ops;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
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

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<metrics::Metrics>,
    pub limits: Limits,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            metrics: Arc::default(),
            limits: Limits::default(),
        }
    }
}

/// The whole application: every route, with metrics, limits and security headers.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(incidents::router())
        .merge(pages::router())
        .merge(ops::router())
        .merge(openapi::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(middleware::map_response(security_headers))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state)
}

/// Headers that keep pages from being framed, sniffed or running injected script.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Serves the application on `listener` until `shutdown` completes, then finishes the requests
/// under way.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
