//! Watch mode for a project: its components (from the project file), delivered and deployed
//! as the profile says, until `shutdown` or, with `once`, each built once. `watch` and `up`
//! run it; what it does is reported as events to the caller.

use std::future::Future;

use super::{Engine, EngineError, Event, Settings, Summary, setup};
use crate::input::spec::LoadedSpec;
use crate::model::profile::Profile;
use crate::model::project::LoadedProject;

/// How [`run`] runs: `watch`'s flags, and what `up` passes.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub once: bool,
    pub rollout_timeout: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot connect to the Docker Engine: {0}\n  hint: is Docker running? check `docker info`")]
    Docker(#[source] bollard::errors::Error),
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Watches the project's components, calling `report` with every event.
pub async fn run(
    project: &LoadedProject,
    specs: &[LoadedSpec],
    profile: &Profile,
    kube: kube::Client,
    options: Options,
    report: impl Fn(&Event) + Send + 'static,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, ProjectError> {
    let docker = bollard::Docker::connect_with_defaults().map_err(ProjectError::Docker)?;
    let components = setup::components(project, specs, profile, &kube)?;
    let settings = Settings {
        debounce: project.debounce(),
        delivery: setup::delivery(profile),
        rollout_timeout: options.rollout_timeout,
        once: options.once,
        ..Settings::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let reporter = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            report(&e);
        }
    });
    let engine = Engine::new(docker, Some(kube), settings, components, tx);
    let result = engine.run(shutdown).await;
    let _ = reporter.await;
    Ok(result?)
}
