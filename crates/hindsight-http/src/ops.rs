//! Endpoints for the people and machines that run Hindsight: liveness, readiness, metrics.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use hindsight_domain::access::Permission::Public;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::Routes;

/// Public: probes and scrapers do not sign in, and nothing here is private (metrics are
/// counts per route pattern).
pub fn routes() -> Routes {
    Routes::new()
        .get("/healthz", Public, healthz)
        .get("/readyz", Public, readyz)
        .get("/metrics", Public, metrics)
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers")))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Free space below which a SQLite database's instance is not ready: writes are about to fail.
const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// How long after a request met an outage (a full disk, a lock, read-only, unreachable) the
/// instance stays not ready.
const OUTAGE_MEMORY: Duration = Duration::from_secs(10);

/// The instance can serve writes as well as reads: the database answers a read within 2 s, no
/// request met an outage in the last 10 s, and (SQLite) its disk has at least 1 MiB free.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready: reads answer and writes have not been failing"),
        (status = 503, description = "Not ready; `message` says why", body = crate::error::ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let not_ready =
        |message: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
    let ping = tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await;
    match ping {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness check failed");
            return Err(not_ready("the database does not answer".into()));
        }
        Err(_) => {
            return Err(not_ready(
                "the database did not answer within 2 seconds".into(),
            ));
        }
    }
    if let Some(free) = state.store.free_bytes()
        && free < MIN_FREE_BYTES
    {
        return Err(not_ready(format!(
            "the disk holding the database has {} KiB free, too little to write",
            free / 1024
        )));
    }
    if let Some(outage) = state.recent_outage(OUTAGE_MEMORY) {
        return Err(not_ready(format!(
            "writes failed in the last {} seconds: {}",
            OUTAGE_MEMORY.as_secs(),
            outage.describe()
        )));
    }
    Ok(Json(
        json!({"status": "ready", "database": state.store.backend()}),
    ))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
