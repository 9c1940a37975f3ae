//! The KinD path of `up` and `down --purge`: the cluster config (`config`), the `kind` CLI
//! invocations (`command`), the registry wiring and the KEP-1755 ConfigMap (`wiring`), and the
//! steps that combine them. KinD cannot run on the project's machines (privileged containers
//! fail), so the CLI sits behind a `Runner` whose commands are asserted exactly in tests, while
//! everything done through Docker and the API server runs for real against stand-ins
//! (docs/design/environment.md says what was not run).

pub mod command;
pub mod config;
pub mod wiring;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use command::{INSTALL_HINT, KindCli, ProcessRunner, Runner};
pub use wiring::LocalRegistryHosting;

use crate::env::docker::{DockerError, Engine, Outcome};
use crate::env::registry::{KIND_NETWORK, RegistryConfig};

/// How long `kind create cluster` waits for the control plane.
pub const CREATE_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum KindError {
    #[error("`kind` is not installed (not found on PATH)\n  fix: {INSTALL_HINT}")]
    NotInstalled,
    #[error("cannot run `{command}`: {source}")]
    Run { command: String, source: std::io::Error },
    #[error("`{command}` failed (exit code {code:?}): {}", stderr.trim())]
    Failed { command: String, code: Option<i32>, stderr: String },
    #[error("cannot read the KinD cluster config {path}: {source}")]
    ReadConfig { path: PathBuf, source: std::io::Error },
    #[error("invalid KinD cluster config {origin}: {reason}")]
    InvalidConfig { origin: String, reason: String },
    #[error("cannot write the KinD cluster config {path}: {source}")]
    WriteConfig { path: PathBuf, source: std::io::Error },
    #[error("cannot list the nodes of KinD cluster {cluster}: {source}")]
    ListNodes { cluster: String, source: Box<DockerError> },
    #[error(
        "KinD cluster {cluster} has no running node containers\n  hint: `docker ps -a --filter label=io.x-k8s.kind.cluster={cluster}`; start Docker's containers or recreate the cluster"
    )]
    NoNodes { cluster: String },
    #[error("cannot configure node {node}: {source}")]
    WireNode { node: String, source: Box<DockerError> },
    #[error("cannot connect the registry to the `kind` network: {source}")]
    ConnectRegistry { source: Box<DockerError> },
    #[error("cannot apply the local-registry-hosting ConfigMap in kube-public: {source}")]
    ApplyConfigMap { source: kube::Error },
    #[error(
        "KinD cluster {cluster} was not created by nexus-dev for this project{}; it is left alone\n  hint: delete it yourself with `kind delete cluster --name {cluster}` if you mean to",
        owner.as_ref().map(|o| format!(" (it belongs to project {o})")).unwrap_or_default()
    )]
    NotOurs { cluster: String, owner: Option<String> },
}

/// Creates KinD cluster `name` from `config` (rendered text) unless a cluster of that name
/// exists, and marks a new cluster as this project's. `state_dir` receives the config file
/// `kind` reads; `image` is the node image (`--image`; `None`: kind's default). `Created` or
/// `Unchanged` (an existing cluster is kept whatever its image).
#[tracing::instrument(skip(cli, engine, config))]
pub async fn ensure_cluster<R: Runner>(
    cli: &KindCli<R>,
    engine: &Engine,
    name: &str,
    config: &str,
    image: Option<&str>,
    state_dir: &Path,
    kubeconfig: Option<&Path>,
) -> Result<Outcome, KindError> {
    if cli.clusters().await?.iter().any(|c| c == name) {
        return Ok(Outcome::Unchanged);
    }
    let path = state_dir.join(format!("kind-{name}.yaml"));
    std::fs::create_dir_all(state_dir)
        .and_then(|()| std::fs::write(&path, config))
        .map_err(|source| KindError::WriteConfig { path: path.clone(), source })?;
    cli.create(name, &path, CREATE_WAIT, image, kubeconfig).await?;
    // Right after creation, so that `down --purge` can later prove the cluster is ours.
    wiring::mark_owned(engine, name).await?;
    Ok(Outcome::Created)
}

/// What wiring the registry into a cluster did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryWiring {
    /// `docker network connect kind <registry>`: `Connected` or `Unchanged`.
    pub network: Outcome,
    /// `hosts.toml` per node.
    pub nodes: Vec<(String, Outcome)>,
}

/// Connects the registry container to the `kind` network and writes `hosts.toml` into every
/// node of `cluster`. The ConfigMap is `wiring::apply_local_registry_hosting` (it needs the
/// cluster's API client).
pub async fn wire_registry(
    engine: &Engine,
    cluster: &str,
    registry: &RegistryConfig,
    network: &str,
) -> Result<RegistryWiring, KindError> {
    let connected = engine
        .connect_network(&registry.name, network)
        .await
        .map_err(|source| KindError::ConnectRegistry { source: Box::new(source) })?;
    let nodes = wiring::wire_nodes(engine, cluster, &registry.host, &registry.cluster_address()).await?;
    Ok(RegistryWiring { network: connected, nodes })
}

/// `wire_registry` on KinD's own network.
pub async fn wire_registry_kind(
    engine: &Engine,
    cluster: &str,
    registry: &RegistryConfig,
) -> Result<RegistryWiring, KindError> {
    wire_registry(engine, cluster, registry, KIND_NETWORK).await
}

/// `down --purge`: deletes KinD cluster `name` if this project created it; `NotFound` when
/// there is no such cluster, `NotOurs` (and nothing deleted) when it is someone else's.
#[tracing::instrument(skip(cli, engine))]
pub async fn delete_cluster<R: Runner>(
    cli: &KindCli<R>,
    engine: &Engine,
    name: &str,
    kubeconfig: Option<&Path>,
) -> Result<Outcome, KindError> {
    if !cli.clusters().await?.iter().any(|c| c == name) {
        return Ok(Outcome::NotFound);
    }
    match wiring::owner(engine, name).await? {
        Some(owner) if &owner == engine.project() => {
            cli.delete(name, kubeconfig).await?;
            Ok(Outcome::Removed)
        }
        owner => Err(KindError::NotOurs { cluster: name.to_owned(), owner: owner.map(|o| o.to_string()) }),
    }
}
