use std::time::Duration;

/// Errors of the Docker layer, named after the operation that failed. `Connect`/`Negotiate` are
/// fatal for `up` (no Docker, no environment); the others name the object and keep the source.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot connect to the Docker Engine: {source}\n  hint: start Docker, or point DOCKER_HOST at it (`docker version` must work)"
    )]
    Connect { source: bollard::errors::Error },
    #[error(
        "the Docker Engine does not answer: {source}\n  hint: start Docker, or point DOCKER_HOST at it (`docker version` must work)"
    )]
    Negotiate { source: bollard::errors::Error },
    #[error("cannot inspect {kind} {name}: {source}")]
    Inspect { kind: &'static str, name: String, source: bollard::errors::Error },
    #[error("{kind} {name} does not exist")]
    Missing { kind: &'static str, name: String },
    #[error("cannot list {kind}: {source}")]
    List { kind: &'static str, source: bollard::errors::Error },
    #[error("cannot pull image {image}: {detail}\n  hint: check the network, or `docker pull {image}` to see why")]
    PullImage { image: String, detail: String },
    #[error("cannot create container {name}: {source}")]
    CreateContainer { name: String, source: bollard::errors::Error },
    #[error("cannot start container {name}: {source}")]
    StartContainer { name: String, source: bollard::errors::Error },
    #[error("cannot stop container {name}: {source}")]
    StopContainer { name: String, source: bollard::errors::Error },
    #[error("cannot remove container {name}: {source}")]
    RemoveContainer { name: String, source: bollard::errors::Error },
    #[error("cannot create network {name}: {source}")]
    CreateNetwork { name: String, source: bollard::errors::Error },
    #[error("cannot remove network {name}: {source}")]
    RemoveNetwork { name: String, source: bollard::errors::Error },
    #[error("cannot connect container {container} to network {network}: {source}")]
    ConnectNetwork { container: String, network: String, source: bollard::errors::Error },
    #[error("cannot create volume {name}: {source}")]
    CreateVolume { name: String, source: bollard::errors::Error },
    #[error("cannot remove volume {name}: {source}")]
    RemoveVolume { name: String, source: bollard::errors::Error },
    #[error(
        "{kind} {name} exists but was not created by nexus-dev; it is left alone\n  hint: remove or rename it yourself (`docker rm -f {name}` for a container), or change the name nexus-dev uses"
    )]
    NotOurs { kind: &'static str, name: String },
    #[error(
        "{kind} {name} belongs to another nexus-dev project (id {project}); it is left alone\n  hint: run `nexus-dev down` in that project first (or, if that project is gone, `docker rm -f {name}`)"
    )]
    OtherProject { kind: &'static str, name: String, project: String },
    #[error(
        "container {name} is shared with {}, which run it differently ({}); it is left alone\n  hint: use the same profile as they do, or run `nexus-dev down` in them first",
        users.join(", "), reasons.join("; ")
    )]
    InUse { name: String, reasons: Vec<String>, users: Vec<String> },
    #[error("container {name} did not become healthy within {waited:?}: {last_error}{logs}")]
    Unhealthy { name: String, waited: Duration, last_error: String, logs: LastLogs },
    #[error("container {name} stopped while starting ({state}){logs}")]
    Exited { name: String, state: String, logs: LastLogs },
    #[error("container {name} publishes no host port for {container_port}/tcp")]
    NoPublishedPort { name: String, container_port: u16 },
    #[error(transparent)]
    Exec(#[from] super::exec::ExecError),
    #[error("`{cmd}` in container {container} failed with exit code {code}: {output}")]
    ExecFailed { container: String, cmd: String, code: i64, output: String },
}

impl DockerError {
    /// Fatal for `up`: there is no Docker Engine to talk to (the daemon's critical/runtime split).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::Negotiate { .. })
    }
}

/// The last lines a container logged, attached to start-up failures: the reason is nearly
/// always there (a missing token, a port in use, a bad config).
#[derive(Debug, Clone, Default)]
pub struct LastLogs(pub Vec<String>);

impl std::fmt::Display for LastLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("\n  (the container logged nothing)");
        }
        write!(f, "\n  last {} log lines:", self.0.len())?;
        for line in &self.0 {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

/// Whether a bollard error is the Engine's 404.
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

/// Whether a bollard error is the Engine's 304 (already started / already stopped).
pub(crate) fn is_not_modified(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 304, .. })
}
