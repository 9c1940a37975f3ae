//! The work the engine starts, each a task of its own: a rebuild (build → deliver → deploy →
//! rollout) and a sync (copy → remove → afterSync). Each reports progress as events and returns
//! how it ended; a failure says which step, with the output that explains it, and whether it is
//! critical (the Docker Engine is gone) or just this attempt's.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::RemoveImageOptionsBuilder;
use kube::Client;
use tokio::sync::mpsc::UnboundedSender;

use super::build::{self, BuildError};
use super::deploy::{self, Deploy};
use super::event::{Event, Stage, Timings};
use super::kind_load;
use super::push::{self, PushError};
use super::rollout;
use super::sync::{self, SyncError, SyncRule};
use super::target::{self, SyncTo};

/// Build output lines shown with a failure.
pub const FAILURE_LINES: usize = 25;

/// How built images reach the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Push to the registry the repository names; deploy by registry digest.
    Registry,
    /// Import into the nodes of a kind cluster (`kind load`); deploy by content tag.
    Kind { cluster: String },
    /// Leave the image in the local Docker Engine (a cluster sharing it, or build-only).
    Local,
}

/// One component, resolved from the project file and the profile.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub build: build::Request,
    /// Paths relative to the context (empty: all of it).
    pub watch: Vec<PathBuf>,
    pub ignore: Vec<String>,
    pub sync: Vec<SyncRule>,
    pub after_sync: Vec<String>,
    pub deploy: Deploy,
    pub sync_to: SyncTo,
}

/// What every worker shares.
pub struct Shared {
    pub docker: Docker,
    pub kube: Option<Client>,
    pub delivery: Delivery,
    pub rollout_timeout: Duration,
    pub events: UnboundedSender<Event>,
}

impl Shared {
    pub fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }
}

/// A failed step.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub stage: Stage,
    pub message: String,
    pub output: Vec<String>,
    /// The Docker Engine does not answer: the engine stops.
    pub critical: bool,
}

impl Failure {
    fn new(stage: Stage, e: &dyn std::fmt::Display) -> Self {
        Self { stage, message: e.to_string(), output: Vec::new(), critical: false }
    }
}

/// A successful rebuild.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebuilt {
    /// The reference the workload runs (registry digest, or content tag without a registry).
    pub image: String,
    /// The local content tag.
    pub tag: String,
    pub timings: Timings,
    pub unchanged: bool,
}

/// Builds, delivers and deploys `c`; `running` is what this session deployed before (an
/// unchanged image is not redeployed) and `previous_tag` its local tag (untagged once replaced).
#[tracing::instrument(skip_all, fields(component = %c.name))]
pub async fn rebuild(
    shared: Arc<Shared>,
    c: Arc<Component>,
    running: Option<String>,
    previous_tag: Option<String>,
    first_event: Instant,
) -> Result<Rebuilt, Failure> {
    let start = Instant::now();
    let mut t = Timings { detect: start.saturating_duration_since(first_event), ..Timings::default() };
    let built = match build::build(&shared.docker, &c.build).await {
        Ok(b) => b,
        Err(e) => {
            let critical = matches!(e, BuildError::Unreachable { .. }) && shared.docker.ping().await.is_err();
            let out = e.output();
            let tail = out[out.len().saturating_sub(FAILURE_LINES)..].to_vec();
            return Err(Failure { stage: Stage::Build, message: e.to_string(), output: tail, critical });
        }
    };
    t.build = start.elapsed();
    shared.emit(Event::Built {
        component: c.name.clone(),
        image: built.tag.clone(),
        cached_steps: built.cached_steps,
        took: t.build,
    });

    let delivered = Instant::now();
    let image = match &shared.delivery {
        Delivery::Registry => {
            let pushed = push::push(&shared.docker, &built.tag).await.map_err(|e| {
                let critical = matches!(e, PushError::Unreachable { .. });
                Failure { critical, ..Failure::new(Stage::Push, &e) }
            })?;
            shared.emit(Event::Delivered {
                component: c.name.clone(),
                reference: pushed.reference.clone(),
                layers_pushed: pushed.layers_pushed,
                layers_existing: pushed.layers_existing,
            });
            pushed.reference
        }
        Delivery::Kind { cluster } => {
            let load = async {
                let nodes = kind_load::nodes(&shared.docker, cluster).await?;
                kind_load::load(&shared.docker, &built.tag, &nodes, &kind_load::import_command(kind_load::SNAPSHOTTER))
                    .await
            };
            load.await.map_err(|e| Failure::new(Stage::Load, &e))?;
            built.tag.clone()
        }
        Delivery::Local => built.tag.clone(),
    };
    t.push = delivered.elapsed();

    let unchanged = running.as_deref() == Some(image.as_str());
    let rolled = Instant::now();
    if !unchanged && !matches!(c.deploy, Deploy::Nowhere) {
        let Some(kube) = &shared.kube else {
            return Err(Failure::new(Stage::Deploy, &"no Kubernetes client to deploy with"));
        };
        let applied = deploy::deploy(kube, &c.deploy, &image).await.map_err(|e| Failure::new(Stage::Deploy, &e))?;
        if let Some(a) = applied {
            rollout::wait(kube, &a.namespace, &a.name, a.generation, &image, shared.rollout_timeout)
                .await
                .map_err(|e| Failure::new(Stage::Rollout, &e))?;
        }
    }
    t.rollout = rolled.elapsed();
    if let Some(old) = previous_tag.filter(|old| *old != built.tag) {
        // Only the tag goes; layers still used by the new image stay.
        let opts = RemoveImageOptionsBuilder::default().noprune(false).build();
        if let Err(e) = shared.docker.remove_image(&old, Some(opts), None).await {
            tracing::debug!(image = %old, error = %e, "cannot untag the replaced image");
        }
    }
    Ok(Rebuilt { image, tag: built.tag, timings: t, unchanged })
}

/// How a sync failed.
#[derive(Debug)]
pub enum SyncFailure {
    /// Files could not be copied: a rebuild carries them instead.
    Fallback(String),
    /// They were copied but afterSync failed: reported; the next save rebuilds.
    Failed(Failure),
}

/// Copies `files` (relative to the context) into the running containers of `c`, removes the
/// deleted ones there, and runs afterSync.
#[tracing::instrument(skip_all, fields(component = %c.name))]
pub async fn sync(
    shared: Arc<Shared>,
    c: Arc<Component>,
    files: Vec<PathBuf>,
    first_event: Instant,
) -> Result<(), SyncFailure> {
    let start = Instant::now();
    let plan = sync::plan(&c.build.context, &c.sync, &files, |p| p.exists());
    let targets = target::resolve(&c.sync_to, &c.name).await.map_err(|e| SyncFailure::Fallback(e.to_string()))?;
    let archive = if plan.copy.is_empty() {
        None
    } else {
        let p = plan.clone();
        let built = tokio::task::spawn_blocking(move || sync::archive(&p))
            .await
            .map_err(|e| SyncFailure::Fallback(e.to_string()))?
            .map_err(|e| SyncFailure::Fallback(e.to_string()))?;
        Some(bytes::Bytes::from(built))
    };
    let one = |t: target::SyncTarget| {
        let archive = archive.clone();
        let remove = plan.remove.clone();
        let after = c.after_sync.clone();
        async move {
            if let Some(a) = archive {
                t.upload(a).await.map_err(|e| SyncFailure::Fallback(e.to_string()))?;
            }
            if !remove.is_empty() {
                t.remove(&remove).await.map_err(|e| SyncFailure::Fallback(e.to_string()))?;
            }
            if !after.is_empty() {
                let out = t.run(&after).await.map_err(|e| SyncFailure::Failed(Failure::new(Stage::Sync, &e)))?;
                if !out.success() {
                    let e = SyncError::AfterSync {
                        target: t.describe(),
                        command: after.join(" "),
                        exit_code: out.exit_code,
                        output: out.tail(10),
                    };
                    return Err(SyncFailure::Failed(Failure::new(Stage::Sync, &e)));
                }
            }
            Ok(t.describe())
        }
    };
    let results = futures::future::join_all(targets.into_iter().map(one)).await;
    let mut described = Vec::new();
    for r in results {
        described.push(r?);
    }
    shared.emit(Event::Synced {
        component: c.name.clone(),
        files: plan.copy.len(),
        removed: plan.remove.len(),
        targets: described,
        took: start.elapsed(),
        since_save: first_event.elapsed(),
    });
    Ok(())
}
