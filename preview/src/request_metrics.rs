//! Request counts and latency by view and status, with the metric handles
//! looked up once: on the hot path a request costs two atomic updates, not
//! a registry lookup and a formatted status label.

use metrics::{Counter, Histogram};

/// The `view` label of each request path.
const VIEWS: [&str; 5] = ["live", "safe", "health", "metrics", "other"];

/// Statuses this server answers with; anything else is counted by lookup.
const STATUSES: [u16; 8] = [200, 301, 304, 404, 405, 410, 500, 503];

/// The handles, one per view and status.
pub struct RequestMetrics {
    counters: Vec<Counter>,
    latency: Vec<Histogram>,
}

impl RequestMetrics {
    pub fn new() -> Self {
        let mut counters = Vec::new();
        let mut latency = Vec::new();
        for view in VIEWS {
            for status in STATUSES {
                let (count, seconds) = handles(view, status);
                counters.push(count);
                latency.push(seconds);
            }
        }
        Self { counters, latency }
    }

    /// Records one request.
    pub fn record(&self, view: View, status: u16, seconds: f64) {
        let v = view as usize;
        match STATUSES.iter().position(|s| *s == status) {
            Some(s) => {
                self.counters[v * STATUSES.len() + s].increment(1);
                self.latency[v * STATUSES.len() + s].record(seconds);
            }
            None => {
                let (count, latency) = handles(VIEWS[v], status);
                count.increment(1);
                latency.record(seconds);
            }
        }
    }
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn handles(view: &'static str, status: u16) -> (Counter, Histogram) {
    let labels = [("view", view.to_owned()), ("status", status.to_string())];
    (
        metrics::counter!("pagesmith_preview_http_requests_total", &labels),
        metrics::histogram!("pagesmith_preview_http_request_duration_seconds", &labels),
    )
}

/// What a request asked for, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Live = 0,
    Safe = 1,
    Health = 2,
    Metrics = 3,
    Other = 4,
}

impl View {
    /// The view of a request path, as the router sees it: a catch-all
    /// (`/p/{*rest}`) needs something after the prefix.
    pub fn of(path: &str) -> Self {
        let below = |prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest: &str| !rest.is_empty())
        };
        match path {
            _ if below("/p/") => Self::Live,
            _ if below("/s/") => Self::Safe,
            "/health" => Self::Health,
            "/metrics" => Self::Metrics,
            _ => Self::Other,
        }
    }
}
