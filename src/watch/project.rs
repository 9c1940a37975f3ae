//! Watch mode for a project: its components (from the project file), delivered and deployed
//! as the profile says, until `shutdown` or, with `once`, each built once. `watch` and `up`
//! run it; what it does is reported as events to the caller.

use std::future::Future;

use super::{Engine, EngineError, Event, Settings, Summary, link, setup};
use crate::input::spec::LoadedSpec;
use crate::model::profile::Profile;
use crate::model::project::LoadedProject;

/// How [`run`] runs: `watch`'s flags, and what `up` passes.
#[derive(Clone, Debug)]
pub struct Options {
    pub once: bool,
    pub rollout_timeout: std::time::Duration,
    /// The project's daemon socket: the events go to its dashboard, which may ask for rebuilds
    /// (`link`). Without a daemon there, watching goes on alone.
    pub daemon: Option<std::path::PathBuf>,
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
    let names = components.iter().map(|c| c.name.clone()).collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let (requests_tx, requests) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (to_daemon, link) = match options.daemon {
        Some(socket) => {
            let (to_daemon, events) = tokio::sync::mpsc::unbounded_channel::<Event>();
            (Some(to_daemon), Some(tokio::spawn(link::run(socket, names, events, requests_tx))))
        }
        None => (None, None),
    };
    let reporter = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            report(&e);
            if let Some(d) = &to_daemon {
                let _ = d.send(e);
            }
        }
    });
    let engine = Engine::new(docker, Some(kube), settings, components, tx).with_requests(requests);
    let result = engine.run(shutdown).await;
    let _ = reporter.await;
    // The link sends what is left (the `stopped` event) and goes; a daemon that does not read
    // does not hold up the exit.
    if let Some(link) = link {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), link).await;
    }
    Ok(result?)
}
