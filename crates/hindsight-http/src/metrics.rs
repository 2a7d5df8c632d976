//! Request counts and latencies in Prometheus' text format, kept in memory.
//!
//! Labelled by the route's pattern (`/api/v1/incidents/{id}`), never by the raw path, so that
//! the number of series stays bounded whatever clients send.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;

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
    /// Requests per status code; a route answers with a handful of codes.
    statuses: Vec<(u16, u64)>,
}

/// Counts by route, then by method: looked up by `&str` without allocating.
type Shard = HashMap<String, Vec<(Method, Series)>>;

/// Request metrics, kept in one shard per thread that records them, so that threads serving
/// requests at once never wait for each other; `/metrics` adds the shards up.
#[derive(Default)]
pub struct Metrics {
    /// Tells this registry's shards apart from another's on the same thread (tests run many).
    id: MetricsId,
    shards: Mutex<Vec<Arc<Mutex<Shard>>>>,
}

struct MetricsId(u64);

impl Default for MetricsId {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

thread_local! {
    static SHARDS: RefCell<Vec<(u64, Arc<Mutex<Shard>>)>> = const { RefCell::new(Vec::new()) };
}

impl Metrics {
    /// Runs `work` on this thread's shard, which only `/metrics` ever waits for.
    fn with_shard(&self, work: impl FnOnce(&mut Shard)) {
        SHARDS.with(|shards| {
            let mut shards = shards.borrow_mut();
            let index = match shards.iter().position(|(id, _)| *id == self.id.0) {
                Some(index) => index,
                None => {
                    let shard = Arc::new(Mutex::new(Shard::new()));
                    self.shards
                        .lock()
                        .expect("metrics lock")
                        .push(Arc::clone(&shard));
                    shards.push((self.id.0, shard));
                    shards.len() - 1
                }
            };
            work(&mut shards[index].1.lock().expect("metrics lock"));
        });
    }

    pub fn record(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        // A method HTTP does not define is counted as one, so that a client inventing
        // methods cannot grow the series without bound.
        let other;
        let method = if is_standard(method) {
            method
        } else {
            other = Method::from_bytes(b"OTHER").expect("a valid method");
            &other
        };
        self.with_shard(|routes| Self::record_in(routes, method, route, status, elapsed));
    }

    fn record_in(routes: &mut Shard, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let methods = match routes.get_mut(route) {
            Some(methods) => methods,
            None => routes.entry(route.to_owned()).or_default(),
        };
        let index = match methods.iter().position(|(known, _)| known == method) {
            Some(index) => index,
            None => {
                methods.push((method.clone(), Series::default()));
                methods.len() - 1
            }
        };
        let series = &mut methods[index].1;
        let seconds = elapsed.as_secs_f64();
        series.count += 1;
        series.sum_seconds += seconds;
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        series.buckets[slot] += 1;
        match series
            .statuses
            .iter_mut()
            .find(|(known, _)| *known == status)
        {
            Some((_, count)) => *count += 1,
            None => series.statuses.push((status, 1)),
        }
    }

    /// Every shard added up, keyed and ordered by route then method.
    fn totals(&self) -> BTreeMap<(String, String), Series> {
        let mut totals: BTreeMap<(String, String), Series> = BTreeMap::new();
        for shard in self.shards.lock().expect("metrics lock").iter() {
            for (route, methods) in shard.lock().expect("metrics lock").iter() {
                for (method, series) in methods {
                    let total = totals
                        .entry((route.clone(), method.as_str().to_owned()))
                        .or_default();
                    total.count += series.count;
                    total.sum_seconds += series.sum_seconds;
                    for (sum, count) in total.buckets.iter_mut().zip(series.buckets) {
                        *sum += count;
                    }
                    for (status, count) in &series.statuses {
                        match total.statuses.iter_mut().find(|(known, _)| known == status) {
                            Some((_, sum)) => *sum += count,
                            None => total.statuses.push((*status, *count)),
                        }
                    }
                }
            }
        }
        totals
    }

    /// The exposition text for `/metrics`, in a stable order.
    pub fn render(&self) -> String {
        let totals = self.totals();
        let rows: Vec<(&str, &str, &Series)> = totals
            .iter()
            .map(|((route, method), series)| (route.as_str(), method.as_str(), series))
            .collect();
        let mut out = String::new();
        out.push_str("# HELP hindsight_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE hindsight_http_requests_total counter\n");
        for (route, method, series) in &rows {
            let mut statuses = series.statuses.clone();
            statuses.sort_unstable();
            for (status, count) in statuses {
                let _ = writeln!(
                    out,
                    "hindsight_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP hindsight_http_request_duration_seconds Time to answer HTTP requests.\n",
        );
        out.push_str("# TYPE hindsight_http_request_duration_seconds histogram\n");
        for (route, method, series) in &rows {
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

fn is_standard(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ]
    .contains(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record(&Method::GET, "/x", 200, Duration::from_micros(300));
        metrics.record(&Method::GET, "/x", 404, Duration::from_millis(30));
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
