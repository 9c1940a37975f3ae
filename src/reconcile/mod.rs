//! Reconciling one NexusAICapability: the seed operator's eleven steps (000) and its create,
//! update and delete flows (001), as a library used by the controller, the one-shot `apply`,
//! and the in-cluster operator. Level-triggered: every run recomputes from the spec, so a crash
//! at any point followed by a new run converges, nothing leaked or duplicated.
//!
//! `converge` is one pass, `cleanup` and `delete` the delete flow, `decide` the pure decisions
//! both make, `status` the status they write, `verify` the read-only check, and `controller`
//! runs passes on events. This module holds what they share: the context, the error and the
//! pass's result.

mod cleanup;
pub mod controller;
mod converge;
pub mod decide;
pub mod lease;
pub mod metrics;
pub mod status;
pub mod verify;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use tokio::sync::Mutex;

use crate::model::plan::Kind;
use crate::model::profile::Profile;
use crate::model::spec::NexusAICapability;
use crate::provision::aws::{Clients, Ctx as AwsCtx, Target};
use crate::provision::kube::apply as k8s_apply;
use crate::provision::{Options, Report};

/// The finalizer that holds a capability until its cleanup is done.
pub const FINALIZER: &str = "nexus.ai/cleanup";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    /// An AWS resource failed; `done` reports the AWS part as far as it went.
    #[error("AWS: {kind} {name}: {message}")]
    Aws { kind: Kind, name: String, message: String, done: Box<Report> },
    #[error("Kubernetes: {source}")]
    Kube { kind: Kind, name: String, source: Box<k8s_apply::ApplyError> },
    /// A Deployment's rollout cannot be read, or will not finish.
    #[error("{0}")]
    Rollout(String),
    #[error("cannot write the status: {0}")]
    Status(#[source] kube::Error),
    #[error("{0}")]
    Cleanup(String),
}

impl Error {
    /// A short label, for metrics and events.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "InvalidSpec",
            Error::Aws { .. } => "AwsFailed",
            Error::Kube { .. } => "KubernetesFailed",
            Error::Rollout(_) => "RolloutFailed",
            Error::Status(_) => "StatusFailed",
            Error::Cleanup(_) => "CleanupFailed",
        }
    }

    /// The resource the error is about, when it is about one.
    pub fn resource(&self) -> Option<(Kind, &str)> {
        match self {
            Error::Aws { kind, name, .. } | Error::Kube { kind, name, .. } => Some((*kind, name)),
            _ => None,
        }
    }
}

/// What a reconcile needs: clients, the profile it targets, and how often to recheck AWS.
pub struct Context {
    pub client: Client,
    pub profile: Profile,
    /// AWS clients per region (a spec names its own region).
    aws: Mutex<HashMap<String, Clients>>,
    recorder: Recorder,
    /// Periodic recheck of AWS drift while Running.
    pub resync: Duration,
    /// Recheck while a rollout is in progress.
    pub poll: Duration,
    pub options: Options,
    /// What the operator's `/metrics` and `/readyz` report.
    pub metrics: metrics::Metrics,
    /// Reconcile failures per object, for backoff.
    pub failures: std::sync::Mutex<HashMap<String, u32>>,
    /// How long a full AWS check stays good for passes that change nothing on the AWS side
    /// (the same generation and plan, e.g. a Deployment's status moving during a rollout).
    /// Defaults to `resync`, so the periodic requeue always rechecks AWS for drift.
    pub aws_recheck: Duration,
    /// The last full AWS check that found everything as planned, per capability: the AWS part
    /// of the plan it checked (a fingerprint) and when it started.
    aws_checked: std::sync::Mutex<HashMap<String, (u64, Instant)>>,
}

impl Context {
    pub fn new(client: Client, profile: Profile) -> Arc<Self> {
        let reporter = Reporter { controller: "nexus-dev".into(), instance: std::env::var("HOSTNAME").ok() };
        Arc::new(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            profile,
            aws: Mutex::new(HashMap::new()),
            resync: Duration::from_secs(60),
            poll: Duration::from_secs(2),
            options: Options::default(),
            metrics: metrics::Metrics::default(),
            failures: std::sync::Mutex::new(HashMap::new()),
            aws_recheck: Duration::from_secs(60),
            aws_checked: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Sets the periodic resync (and with it how long an AWS check stays good) and the poll
    /// interval during rollouts.
    pub fn with(mut self: Arc<Self>, resync: Duration, poll: Duration) -> Arc<Self> {
        if let Some(ctx) = Arc::get_mut(&mut self) {
            ctx.resync = resync;
            ctx.aws_recheck = resync;
            ctx.poll = poll;
        }
        self
    }

    /// AWS requests made through this context's clients so far, reads and writes.
    pub async fn aws_calls(&self) -> u64 {
        self.aws.lock().await.values().map(|c| c.counter.reads() + c.counter.mutating()).sum()
    }

    /// Whether the AWS part of a plan (fingerprint `print`) was fully checked for `key` less
    /// than `aws_recheck` ago.
    /// The fingerprint of the AWS plan last fully checked for `key`, and how long ago.
    fn aws_checked(&self, key: &str) -> Option<(u64, Duration)> {
        self.aws_checked.lock().ok()?.get(key).map(|(p, at)| (*p, at.elapsed()))
    }

    fn aws_checked_now(&self, key: &str, print: u64, started: Instant) {
        if let Ok(mut m) = self.aws_checked.lock() {
            m.insert(key.to_owned(), (print, started));
        }
    }

    /// The next pass for `key` checks every AWS resource again (after a failure, a deletion,
    /// or when the emulator may have lost its state).
    pub fn forget_aws_check(&self, key: &str) {
        if let Ok(mut m) = self.aws_checked.lock() {
            m.remove(key);
        }
    }

    /// The AWS context for `region`, its clients made once and kept.
    pub async fn aws(&self, region: &str) -> AwsCtx {
        let mut cache = self.aws.lock().await;
        let clients = match cache.get(region) {
            Some(c) => c.clone(),
            None => {
                let c = Clients::connect(&Target::of(&self.profile, region)).await;
                cache.insert(region.to_owned(), c.clone());
                c
            }
        };
        AwsCtx::new(clients, self.profile.aws.account.clone())
    }

    async fn event(&self, cr: &NexusAICapability, type_: EventType, reason: &str, note: String) {
        // The same words in the log of the process (the daemon's log file, the operator's pod).
        match type_ {
            EventType::Normal => tracing::info!(capability = %key(cr), reason, "{note}"),
            EventType::Warning => tracing::warn!(capability = %key(cr), reason, "{note}"),
        }
        let ev = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
        if let Err(e) = self.recorder.publish(&ev, &cr.object_ref(&())).await {
            tracing::debug!(error = %e, "cannot publish event");
        }
    }
}

/// `namespace/name` of a capability.
pub fn key(cr: &NexusAICapability) -> String {
    format!("{}/{}", cr.namespace().unwrap_or_default(), cr.name_any())
}

/// Where one apply pass left the capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Everything exists and every workload is available.
    Running,
    /// Objects are applied; rollouts are still going.
    RollingOut(String),
}

/// One pass: how it ended, and what it did to each Kubernetes object.
#[derive(Debug, Clone)]
pub struct Pass {
    pub readiness: Readiness,
    /// The AWS part of this pass, every call counted; empty when the pass did not sweep AWS
    /// (it was checked recently).
    pub aws: Report,
    pub kubernetes: Vec<crate::provision::ResourceReport>,
}

pub use cleanup::{Cleaned, cleanup, delete};
pub use converge::converge;
