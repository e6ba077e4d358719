//! Counters exposed at `/metrics` in the Prometheus text format.

use std::{
    collections::VecDeque,
    fmt::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Access-check durations kept for percentiles.
const RECENT_SAMPLES: usize = 4096;

/// The provider's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Download requests received.
    pub download_requests: AtomicU64,
    /// Downloads whose response started streaming.
    pub downloads_started: AtomicU64,
    /// Downloads streamed to the end.
    pub downloads_completed: AtomicU64,
    /// Downloads that failed after the response started.
    pub downloads_failed: AtomicU64,
    /// Requests refused, any reason.
    pub refusals: AtomicU64,
    /// Requests refused because the provider was at its download limit.
    pub overloaded: AtomicU64,
    /// Content bytes sent.
    pub bytes_served: AtomicU64,
    /// Downloads streaming right now.
    pub in_flight: AtomicU64,
    /// Sum of access-check durations, microseconds.
    pub access_check_micros: AtomicU64,
    /// Number of access checks timed.
    pub access_checks: AtomicU64,
    /// The latest access-check durations, microseconds.
    recent_access_checks: Mutex<VecDeque<u32>>,
}

impl Metrics {
    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one access check's duration.
    pub fn record_access_check(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.access_check_micros.fetch_add(micros, Ordering::Relaxed);
        Self::inc(&self.access_checks);
        let mut recent = self.recent_access_checks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() == RECENT_SAMPLES {
            recent.pop_front();
        }
        recent.push_back(u32::try_from(micros).unwrap_or(u32::MAX));
    }

    /// The latest access-check durations (up to 4096), oldest first.
    pub fn recent_access_checks(&self) -> Vec<Duration> {
        let recent = self.recent_access_checks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.iter().map(|&micros| Duration::from_micros(u64::from(micros))).collect()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 10] = [
            (
                "agora_provider_download_requests_total",
                "counter",
                "Download requests received.",
                &self.download_requests,
            ),
            (
                "agora_provider_downloads_started_total",
                "counter",
                "Downloads that started streaming.",
                &self.downloads_started,
            ),
            (
                "agora_provider_downloads_completed_total",
                "counter",
                "Downloads streamed to the end.",
                &self.downloads_completed,
            ),
            (
                "agora_provider_downloads_failed_total",
                "counter",
                "Downloads that failed mid-stream.",
                &self.downloads_failed,
            ),
            ("agora_provider_refusals_total", "counter", "Requests refused.", &self.refusals),
            (
                "agora_provider_overloaded_total",
                "counter",
                "Requests refused at the download limit.",
                &self.overloaded,
            ),
            ("agora_provider_bytes_served_total", "counter", "Content bytes sent.", &self.bytes_served),
            ("agora_provider_downloads_in_flight", "gauge", "Downloads streaming now.", &self.in_flight),
            (
                "agora_provider_access_check_seconds_sum",
                "counter",
                "Total access-check time.",
                &self.access_check_micros,
            ),
            (
                "agora_provider_access_check_seconds_count",
                "counter",
                "Access checks timed.",
                &self.access_checks,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            if name.ends_with("_seconds_sum") {
                let _ = writeln!(out, "{name} {}", value as f64 / 1e6);
            } else {
                let _ = writeln!(out, "{name} {value}");
            }
        }
        out
    }
}
