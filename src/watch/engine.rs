//! The engine: a select loop (tilt's `internal/engine`) — an event arrives (a batch of file
//! changes, a finished build or sync, shutdown), the state is updated, the pure decision
//! (`State::next`) says what to start, and the work is spawned. Nothing blocks inside the loop.
//! Errors are split as in watchexec: a critical one (the Docker Engine is gone, the watcher
//! cannot start) stops the engine; a runtime one (a failed build, sync or rollout) is reported
//! and the loop goes on, the previous version still serving.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use kube::Client;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinSet;

use super::decide::Change;
use super::deploy::Deploy;
use super::event::{Action, Event, Stage};
use super::state::{Start, State};
use super::target::SyncTo;
use super::watcher::{self, WatchError, WatchMsg, Watcher};
use super::worker::{self, Component, Delivery, Failure, Rebuilt, Shared, SyncFailure};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "the Docker Engine does not answer: {detail}\n  hint: start Docker (`sudo systemctl start docker`) and check `docker info`"
    )]
    DockerUnreachable { detail: String },
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error("the file watcher did not start: {detail}")]
    StartWatcher { detail: String },
    #[error("component {component} deploys to Kubernetes but the engine has no Kubernetes client")]
    NoKubernetes { component: String },
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Quiet time after the last file event before a batch is acted on.
    pub debounce: Duration,
    pub delivery: Delivery,
    pub rollout_timeout: Duration,
    /// Build and deploy every component at start (else only on changes).
    pub initial_build: bool,
    /// Do the initial builds and stop (`watch --once`): no file watching.
    pub once: bool,
    pub max_parallel_builds: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(300),
            delivery: Delivery::Registry,
            rollout_timeout: Duration::from_secs(120),
            initial_build: true,
            once: false,
            max_parallel_builds: 2,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub builds: usize,
    pub syncs: usize,
    pub failures: usize,
    /// The image each component runs, by component name.
    pub running: Vec<(String, Option<String>)>,
}

pub struct Engine {
    shared: Arc<Shared>,
    settings: Settings,
    components: Vec<Arc<Component>>,
    /// Components someone asked to rebuild, by name (the dashboard, through the daemon).
    requests: Option<UnboundedReceiver<String>>,
}

/// The reason a requested rebuild gives (what the dashboard's history shows as its trigger).
pub const REQUESTED: &str = "requested from the dashboard";

enum Done {
    Built { component: usize, result: Result<Rebuilt, Failure> },
    Synced { component: usize, files: Vec<PathBuf>, first_event: Instant, result: Result<(), SyncFailure> },
}

impl Engine {
    /// `events` receives every report; `kube` is needed when a component deploys to Kubernetes.
    pub fn new(
        docker: Docker,
        kube: Option<Client>,
        settings: Settings,
        components: Vec<Component>,
        events: UnboundedSender<Event>,
    ) -> Self {
        let shared = Arc::new(Shared {
            docker,
            kube,
            delivery: settings.delivery.clone(),
            rollout_timeout: settings.rollout_timeout,
            events,
        });
        Self { shared, settings, components: components.into_iter().map(Arc::new).collect(), requests: None }
    }

    /// Rebuilds the component named by each message of `requests` (an external trigger, as a
    /// save is one), with the reason [`REQUESTED`].
    pub fn with_requests(mut self, requests: UnboundedReceiver<String>) -> Self {
        self.requests = Some(requests);
        self
    }

    fn specs(&self) -> Vec<watcher::Spec> {
        self.components
            .iter()
            .map(|c| watcher::Spec {
                name: c.name.clone(),
                context: c.build.context.clone(),
                dockerfile: c.build.dockerfile.clone(),
                watch: c.watch.clone(),
                ignore: c.ignore.clone(),
                sync: c.sync.clone(),
            })
            .collect()
    }

    /// Runs until `shutdown` completes (or, with `once`, until the initial builds are done).
    #[tracing::instrument(skip_all, fields(components = self.components.len()))]
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<Summary, EngineError> {
        if let Some(c) = self.components.iter().find(|c| !matches!(c.deploy, Deploy::Nowhere))
            && self.shared.kube.is_none()
        {
            return Err(EngineError::NoKubernetes { component: c.name.clone() });
        }
        self.shared.docker.ping().await.map_err(|e| EngineError::DockerUnreachable { detail: e.to_string() })?;
        let (watch_tx, mut watch_rx) = mpsc::unbounded_channel::<WatchMsg>();
        // Dropping the watcher (any return below) stops its thread.
        let _watcher = if self.settings.once {
            drop(watch_tx);
            None
        } else {
            // The first walk reads the whole tree: off the async threads.
            let (specs, debounce) = (self.specs(), self.settings.debounce);
            let w = tokio::task::spawn_blocking(move || Watcher::start(specs, debounce, watch_tx))
                .await
                .map_err(|e| EngineError::StartWatcher { detail: e.to_string() })??;
            self.shared.emit(Event::Watching {
                components: self.components.iter().map(|c| c.name.clone()).collect(),
                directories: w.directories,
            });
            Some(w)
        };
        let can_sync: Vec<bool> =
            self.components.iter().map(|c| !c.sync.is_empty() && !matches!(c.sync_to, SyncTo::Nowhere)).collect();
        let initial = self.settings.initial_build || self.settings.once;
        let mut state = State::new(&can_sync, initial, Instant::now(), self.settings.max_parallel_builds);
        let mut work: JoinSet<Done> = JoinSet::new();
        let mut requests = self.requests.take();
        tokio::pin!(shutdown);
        let stop_reason = loop {
            for s in state.next() {
                state.begin(&s);
                self.start(&s, &state, &mut work);
            }
            if self.settings.once && state.idle() {
                break "done".to_owned();
            }
            tokio::select! {
                _ = &mut shutdown => break "shutdown".to_owned(),
                Some(msg) = watch_rx.recv() => match msg {
                    WatchMsg::Changes(changes) => {
                        for c in changes {
                            self.announce(&c);
                            state.record(c);
                        }
                    }
                    WatchMsg::Warning(message) => self.shared.emit(Event::Warning { message }),
                },
                r = next_request(&mut requests) => match r {
                    Some(name) => match self.components.iter().position(|c| c.name == name) {
                        Some(i) => state.request(i, REQUESTED.to_owned(), Instant::now()),
                        None => tracing::debug!(component = %name, "a rebuild of a component this session does not watch"),
                    },
                    None => requests = None,
                },
                Some(done) = work.join_next(), if !work.is_empty() => {
                    let Ok(done) = done else { continue };
                    if let Some(critical) = self.finish(done, &mut state) {
                        self.shared.emit(Event::Stopped { reason: critical.to_string() });
                        return Err(critical);
                    }
                }
            }
        };
        work.abort_all();
        self.shared.emit(Event::Stopped { reason: stop_reason });
        Ok(Summary {
            builds: state.components.iter().map(|c| c.builds).sum(),
            syncs: state.components.iter().map(|c| c.syncs).sum(),
            failures: state.components.iter().map(|c| c.failures).sum(),
            running: self
                .components
                .iter()
                .zip(&state.components)
                .map(|(c, s)| (c.name.clone(), s.running.clone()))
                .collect(),
        })
    }

    /// Logs which files caused the coming work (the decision may still merge more into it).
    fn announce(&self, c: &Change) {
        tracing::debug!(component = %self.components[c.component].name, files = c.files.len(), need = ?c.need, "change");
    }

    fn start(&self, s: &Start, state: &State, work: &mut JoinSet<Done>) {
        let i = s.component();
        let c = self.components[i].clone();
        let shared = self.shared.clone();
        match s.clone() {
            Start::Build { files, first_event, reason, .. } => {
                shared.emit(Event::Changed {
                    component: c.name.clone(),
                    action: Action::Rebuild,
                    count: files.len(),
                    files: files.into_iter().take(super::event::SHOWN_FILES).collect(),
                    reason,
                });
                let running = state.components[i].running.clone();
                let tag = state.components[i].tag.clone();
                work.spawn(async move {
                    Done::Built { component: i, result: worker::rebuild(shared, c, running, tag, first_event).await }
                });
            }
            Start::Sync { files, first_event, .. } => {
                shared.emit(Event::Changed {
                    component: c.name.clone(),
                    action: Action::Sync,
                    count: files.len(),
                    files: files.iter().take(super::event::SHOWN_FILES).cloned().collect(),
                    reason: None,
                });
                work.spawn(async move {
                    let result = worker::sync(shared, c, files.clone(), first_event).await;
                    Done::Synced { component: i, files, first_event, result }
                });
            }
        }
    }

    /// Updates the state with finished work; a critical failure is returned.
    fn finish(&self, done: Done, state: &mut State) -> Option<EngineError> {
        match done {
            Done::Built { component, result } => {
                let name = self.components[component].name.clone();
                match result {
                    Ok(r) => {
                        self.shared.emit(Event::Deployed {
                            component: name,
                            image: r.image.clone(),
                            timings: r.timings,
                            unchanged: r.unchanged,
                        });
                        state.built(component, Some((r.image, r.tag)));
                    }
                    Err(f) => {
                        let critical = f.critical.then(|| EngineError::DockerUnreachable { detail: f.message.clone() });
                        self.shared.emit(Event::Failed {
                            component: name,
                            stage: f.stage,
                            message: f.message,
                            output: f.output,
                            running: state.components[component].running.clone(),
                        });
                        state.built(component, None);
                        return critical;
                    }
                }
            }
            Done::Synced { component, files, first_event, result } => {
                let name = self.components[component].name.clone();
                match result {
                    Ok(()) => state.synced(component, true, None),
                    Err(SyncFailure::Fallback(reason)) => {
                        self.shared.emit(Event::SyncFallback { component: name, reason: reason.clone() });
                        state.synced(component, false, Some((files, first_event, format!("sync failed: {reason}"))));
                    }
                    Err(SyncFailure::Failed(f)) => {
                        self.shared.emit(Event::Failed {
                            component: name,
                            stage: Stage::Sync,
                            message: f.message,
                            output: f.output,
                            running: state.components[component].running.clone(),
                        });
                        state.synced(component, false, None);
                    }
                }
            }
        }
        None
    }
}

/// The next requested rebuild; never, without a requester.
async fn next_request(requests: &mut Option<UnboundedReceiver<String>>) -> Option<String> {
    match requests {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing listens on port 1.
    fn unreachable_docker() -> Docker {
        Docker::connect_with_http("http://127.0.0.1:1", 2, bollard::API_DEFAULT_VERSION).unwrap()
    }

    fn component(deploy: Deploy) -> Component {
        Component {
            name: "api".into(),
            build: crate::watch::build::Request {
                context: "/nonexistent".into(),
                dockerfile: "Dockerfile".into(),
                target: None,
                build_args: Default::default(),
                repository: "r/api".into(),
            },
            watch: Vec::new(),
            ignore: Vec::new(),
            sync: Vec::new(),
            after_sync: Vec::new(),
            deploy,
            sync_to: crate::watch::SyncTo::Nowhere,
        }
    }

    #[tokio::test]
    async fn an_unreachable_docker_engine_is_critical() {
        let docker = unreachable_docker();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let engine = Engine::new(docker, None, Settings::default(), vec![component(Deploy::Nowhere)], tx);
        let err = engine.run(std::future::pending()).await.unwrap_err();
        assert!(matches!(err, EngineError::DockerUnreachable { .. }), "{err}");
        assert!(err.to_string().contains("hint: start Docker"), "{err}");
        assert!(rx.try_recv().is_err(), "nothing started");
    }

    #[tokio::test]
    async fn deploying_without_a_kubernetes_client_is_refused_up_front() {
        let docker = unreachable_docker();
        let (tx, _rx) = mpsc::unbounded_channel();
        let deploy = Deploy::Deployment { namespace: "ns".into(), name: "api".into(), container: "api".into() };
        let engine = Engine::new(docker, None, Settings::default(), vec![component(deploy)], tx);
        let err = engine.run(std::future::pending()).await.unwrap_err();
        assert_eq!(err.to_string(), "component api deploys to Kubernetes but the engine has no Kubernetes client");
    }
}
