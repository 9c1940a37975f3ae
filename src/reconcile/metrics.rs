//! What the operator tells Prometheus (the way controller-rs does it): reconcile passes, their
//! failures by error label, and how long they take; and whether the controller is ready.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The error's short label (`Error::label`).
    pub error: String,
}

/// The controller's metrics and readiness, shared with the health server.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    reconciliations: Counter,
    failures: Family<ErrorLabels, Counter>,
    duration: Histogram,
    phases: Family<PhaseLabels, Gauge>,
    phases_seen: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    ready: Arc<AtomicBool>,
    /// Who holds the Lease while this process stands by.
    standby: Arc<std::sync::Mutex<Option<String>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconciliations = Counter::default();
        let failures = Family::<ErrorLabels, Counter>::default();
        let duration = Histogram::new([0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0]);
        let mut registry = Registry::with_prefix("nexus_dev");
        registry.register("reconciliations", "Reconcile passes run", reconciliations.clone());
        registry.register("reconcile_failures", "Reconcile passes that failed, by error", failures.clone());
        registry.register("reconcile_duration_seconds", "How long a reconcile pass took", duration.clone());
        let phases = Family::<PhaseLabels, Gauge>::default();
        registry.register("capabilities", "Capabilities this controller reconciles, by phase", phases.clone());
        registry.register(
            "aws_calls",
            "AWS requests sent, by service.Operation and whether they change anything",
            crate::provision::aws::calls().clone(),
        );
        Self {
            registry: Arc::new(registry),
            reconciliations,
            failures,
            duration,
            phases,
            phases_seen: Arc::default(),
            ready: Arc::default(),
            standby: Arc::default(),
        }
    }
}

impl Metrics {
    /// One pass done in `took`; `error` is the label of its failure.
    pub fn pass(&self, took: Duration, error: Option<&str>) {
        self.reconciliations.inc();
        self.duration.observe(took.as_secs_f64());
        if let Some(error) = error {
            self.failures.get_or_create(&ErrorLabels { error: error.to_owned() }).inc();
        }
    }

    /// How many capabilities are in each phase now (every phase seen so far is reported, 0 when
    /// none is left in it).
    pub fn set_phases(&self, counts: &std::collections::BTreeMap<String, i64>) {
        let mut seen = self.phases_seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend(counts.keys().cloned());
        for phase in seen.iter() {
            let n = counts.get(phase).copied().unwrap_or(0);
            self.phases.get_or_create(&PhaseLabels { phase: phase.clone() }).set(n);
        }
    }

    /// The controller has read every capability once and reconciles from here on.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// The process waits for the Lease `holder` holds: ready to take over, so ready as a
    /// standby (a rolling update needs its new replica ready while the old one still writes).
    pub fn set_standby(&self, holder: &str) {
        *self.standby.lock().unwrap_or_else(|e| e.into_inner()) = Some(holder.to_owned());
    }

    /// What `/readyz` says: `None` while starting.
    pub fn readiness(&self) -> Option<String> {
        if self.ready() {
            return Some("ready\n".to_owned());
        }
        let standby = self.standby.lock().unwrap_or_else(|e| e.into_inner()).clone();
        standby.map(|h| format!("standby: the lease is held by {h}\n"))
    }

    /// The Prometheus text format (OpenMetrics).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Serves `/healthz` (the process answers), `/readyz` (the controller is ready, or stands by for
/// the Lease) and `/metrics`
/// on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|axum::extract::State(m): axum::extract::State<Metrics>| async move {
                match m.readiness() {
                    Some(said) => (StatusCode::OK, said),
                    None => (StatusCode::SERVICE_UNAVAILABLE, "starting\n".to_owned()),
                }
            }),
        )
        .route(
            "/metrics",
            get(|axum::extract::State(m): axum::extract::State<Metrics>| async move {
                ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], m.encode())
            }),
        )
        .with_state(metrics);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_and_failures_are_counted_by_label() {
        let m = Metrics::default();
        m.pass(Duration::from_millis(20), None);
        m.pass(Duration::from_millis(30), Some("AwsFailed"));
        let text = m.encode();
        assert!(text.contains("nexus_dev_reconciliations_total 2"), "{text}");
        assert!(text.contains("nexus_dev_reconcile_failures_total{error=\"AwsFailed\"} 1"), "{text}");
        assert!(text.contains("nexus_dev_reconcile_duration_seconds_count 2"), "{text}");
        m.set_phases(&[("Running".to_owned(), 2), ("Failed".to_owned(), 1)].into());
        m.set_phases(&[("Running".to_owned(), 3)].into());
        let text = m.encode();
        assert!(text.contains("nexus_dev_capabilities{phase=\"Running\"} 3"), "{text}");
        assert!(text.contains("nexus_dev_capabilities{phase=\"Failed\"} 0"), "{text}");
        assert!(!m.ready());
        assert_eq!(m.readiness(), None);
        m.set_standby("pod-a");
        assert_eq!(m.readiness().as_deref(), Some("standby: the lease is held by pod-a\n"));
        m.set_ready();
        assert!(m.ready());
        assert_eq!(m.readiness().as_deref(), Some("ready\n"));
    }
}
