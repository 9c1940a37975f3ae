//! Test-bed helpers for watch mode's integration tests and benchmark (as `nexus_dev::testing` is for
//! the rest): a stand-in registry on a free loopback port, containers removed when dropped, a
//! private copy of the example app to edit, and waiting for engine events. Like the harness,
//! these panic with what is missing: a test never passes by skipping.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use tokio::sync::mpsc::UnboundedReceiver;

use nexus_dev::watch::build;
use nexus_dev::watch::deploy::Deploy;
use nexus_dev::watch::engine::{Engine, EngineError, Settings, Summary};
use nexus_dev::watch::event::Event;
use nexus_dev::watch::target::SyncTo;
use nexus_dev::watch::worker::Component;

/// A container removed (forcefully) when dropped, also when the test panics.
pub struct Container {
    pub docker: Docker,
    pub id: String,
    pub name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let docker = self.docker.clone();
        let id = self.id.clone();
        // Drop cannot await; a short-lived runtime on another thread does the removal.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
                let _ = docker.remove_container(&id, Some(opts)).await;
            });
        })
        .join();
    }
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// The container's name (default: a unique one from the prefix).
    pub name: Option<String>,
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub labels: HashMap<String, String>,
    /// Container port published on a free loopback port.
    pub publish: Option<u16>,
    pub user: Option<String>,
}

impl Container {
    /// Creates and starts a container; returns it and the host port of `publish`, if any.
    pub async fn run(docker: &Docker, prefix: &str, spec: Run) -> (Self, Option<u16>) {
        let name = spec.name.clone().unwrap_or_else(|| crate::support::unique(prefix));
        let host = spec.publish.map(|p| HostConfig {
            port_bindings: Some(
                [(
                    format!("{p}/tcp"),
                    Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) }]),
                )]
                .into_iter()
                .collect(),
            ),
            ..Default::default()
        });
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.cmd.clone(),
            labels: Some(spec.labels.clone()),
            user: spec.user.clone(),
            host_config: host,
            ..Default::default()
        };
        let created = docker
            .create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), body)
            .await
            .unwrap_or_else(|e| panic!("cannot create a container of {}: {e}", spec.image));
        let c = Container { docker: docker.clone(), id: created.id.clone(), name };
        docker
            .start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>)
            .await
            .unwrap_or_else(|e| panic!("cannot start a container of {}: {e}", spec.image));
        let port = match spec.publish {
            None => None,
            Some(p) => {
                let info = docker
                    .inspect_container(&created.id, None::<bollard::query_parameters::InspectContainerOptions>)
                    .await
                    .unwrap_or_else(|e| panic!("cannot inspect container {}: {e}", c.name));
                info.network_settings
                    .and_then(|n| n.ports)
                    .and_then(|ports| ports.get(&format!("{p}/tcp")).cloned().flatten())
                    .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
                    .and_then(|p| p.parse().ok())
            }
        };
        (c, port)
    }
}

/// The stand-in registry (Debian's docker-registry) on a free loopback port. Docker treats
/// 127.0.0.0/8 registries as insecure, so pushes need no TLS.
pub struct Registry {
    pub container: Container,
    pub port: u16,
}

impl Registry {
    pub async fn start(docker: &Docker, image: &str) -> Self {
        let (container, port) =
            Container::run(docker, "registry", Run { image: image.into(), publish: Some(5000), ..Run::default() })
                .await;
        let port = port.unwrap_or_else(|| panic!("the registry container has no published port"));
        let url = format!("http://127.0.0.1:{port}/v2/");
        crate::support::eventually("the stand-in registry to answer /v2/", Duration::from_secs(30), || async {
            let r = reqwest::get(&url).await.map_err(|e| e.to_string())?;
            if r.status().is_success() { Ok(()) } else { Err(r.status().to_string()) }
        })
        .await;
        Self { container, port }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Removes every local image of `repository` when dropped.
pub struct Images {
    pub docker: Docker,
    pub repository: String,
}

impl Drop for Images {
    fn drop(&mut self) {
        let docker = self.docker.clone();
        let repo = self.repository.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(remove_images(&docker, &repo));
        })
        .join();
    }
}

/// Removes the local images of `repository`.
pub async fn remove_images(docker: &Docker, repository: &str) {
    let filters: HashMap<String, Vec<String>> = [("reference".to_owned(), vec![repository.to_owned()])].into();
    let Ok(list) = docker.list_images(Some(ListImagesOptionsBuilder::default().filters(&filters).build())).await else {
        return;
    };
    for img in list {
        let opts = RemoveImageOptionsBuilder::default().force(true).build();
        let _ = docker.remove_image(&img.id, Some(opts), None).await;
    }
}

/// Copies the example app `examples/apps/<name>` into `dest` (tests edit the copy, never the
/// repository's files) and returns the copy's canonical path.
pub fn copy_example(name: &str, dest: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/apps").join(name);
    let to = dest.join(name);
    crate::support::project::copy_dir(&src, &to);
    to.canonicalize().unwrap_or_else(|e| panic!("cannot resolve {}: {e}", to.display()))
}

/// A component building the example at `context` FROM `base_image`, into `repository`,
/// deployed nowhere and synced nowhere (tests change what they need).
pub fn component(context: &Path, repository: &str, base_image: &str) -> Component {
    Component {
        name: "api".into(),
        build: build::Request {
            context: context.to_path_buf(),
            dockerfile: PathBuf::from("Dockerfile"),
            target: None,
            build_args: [("BASE_IMAGE".to_owned(), base_image.to_owned())].into(),
            repository: repository.to_owned(),
        },
        watch: Vec::new(),
        ignore: Vec::new(),
        sync: Vec::new(),
        after_sync: Vec::new(),
        deploy: Deploy::Nowhere,
        sync_to: SyncTo::Nowhere,
    }
}

/// A watch engine running in the background, until [`EngineRun::stop`].
pub struct EngineRun {
    stop: tokio::sync::oneshot::Sender<()>,
    run: tokio::task::JoinHandle<Result<Summary, EngineError>>,
}

/// Starts an engine over `components`; returns its events and the handle that stops it.
pub fn spawn_engine(
    docker: Docker,
    kube: Option<kube::Client>,
    settings: Settings,
    components: Vec<Component>,
) -> (Events, EngineRun) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = Engine::new(docker, kube, settings, components, tx);
    let run = tokio::spawn(engine.run(async move {
        let _ = stopped.await;
    }));
    (Events::new(rx), EngineRun { stop, run })
}

impl EngineRun {
    /// Stops the engine and returns how its run ended; panics if it failed.
    pub async fn stop(self) -> Summary {
        let _ = self.stop.send(());
        self.run.await.expect("the engine task").expect("the engine")
    }
}

/// Events read so far, and waiting for the next one that matters.
pub struct Events {
    pub rx: UnboundedReceiver<Event>,
    pub seen: Vec<Event>,
}

impl Events {
    pub fn new(rx: UnboundedReceiver<Event>) -> Self {
        Self { rx, seen: Vec::new() }
    }

    /// The next event matching `pred` within `timeout`; panics with everything seen otherwise.
    pub async fn wait(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(e)) => {
                    eprintln!("{}", nexus_dev::watch::event::human(&e));
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return e;
                    }
                }
                Ok(None) => panic!("the engine stopped while waiting for {what}; events: {:#?}", self.seen),
                Err(_) => panic!("timed out after {timeout:?} waiting for {what}; events: {:#?}", self.seen),
            }
        }
    }

    /// Every event arriving within `period` (to assert that nothing happens).
    pub async fn quiet(&mut self, period: Duration) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + period;
        let mut out = Vec::new();
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            eprintln!("{}", nexus_dev::watch::event::human(&e));
            self.seen.push(e.clone());
            out.push(e);
        }
        out
    }
}

/// A deployed event's image, or a panic naming what came instead.
pub fn deployed_image(e: &Event) -> String {
    match e {
        Event::Deployed { image, .. } => image.clone(),
        other => panic!("expected a deployed event, got {other:?}"),
    }
}

/// Deployed, or a failure (so a test waiting for a deploy sees a failure at once).
pub fn deployed_or_failed(e: &Event) -> bool {
    matches!(e, Event::Deployed { .. } | Event::Failed { .. })
}
