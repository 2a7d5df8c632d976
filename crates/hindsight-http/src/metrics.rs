//! Request counts and latencies in Prometheus' text format, kept in memory.
//!
//! Labelled by the route's pattern (`/api/v1/incidents/{id}`), never by the raw path, so that
//! the number of series stays bounded whatever clients send.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Count per bucket (not cumulative); the last slot is +Inf.
    buckets: [u64; BUCKETS.len() + 1],
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → latency histogram.
    latencies: Mutex<BTreeMap<(String, String), Series>>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let mut latencies = self.latencies.lock().expect("metrics lock");
        let series = latencies
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        series.count += 1;
        series.sum_seconds += seconds;
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        series.buckets[slot] += 1;
    }

    /// The exposition text for `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP hindsight_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE hindsight_http_requests_total counter\n");
        for ((method, route, status), count) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "hindsight_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP hindsight_http_request_duration_seconds Time to answer HTTP requests.\n",
        );
        out.push_str("# TYPE hindsight_http_request_duration_seconds histogram\n");
        for ((method, route), series) in self.latencies.lock().expect("metrics lock").iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(series.buckets.iter()) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "hindsight_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "hindsight_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                series.count
            );
            let _ = writeln!(
                out,
                "hindsight_http_request_duration_seconds_sum{{{labels}}} {}",
                series.sum_seconds
            );
            let _ = writeln!(
                out,
                "hindsight_http_request_duration_seconds_count{{{labels}}} {}",
                series.count
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts and times every request, and logs it.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.record(&method, &route, status, elapsed);
    tracing::info!(
        http.method = %method,
        http.route = %route,
        http.status = status,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record("GET", "/x", 200, Duration::from_micros(300));
        metrics.record("GET", "/x", 404, Duration::from_millis(30));
        let text = metrics.render();
        assert!(text.contains(
            "hindsight_http_requests_total{method=\"GET\",route=\"/x\",status=\"404\"} 1"
        ));
        assert!(text.contains(
            "hindsight_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "hindsight_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.05\"} 2"
        ));
        assert!(text.contains(
            "hindsight_http_request_duration_seconds_count{method=\"GET\",route=\"/x\"} 2"
        ));
    }
}
