//! A long-running service container (the registry, the AWS emulator): ensure it, start it,
//! wait until it answers; stop it (`down`); remove it with its data (`down --purge`). One
//! lifecycle for every such service, named in errors by what it is for.

use std::time::Duration;

use super::{ContainerInfo, ContainerSpec, DockerError, Engine, Outcome, Probe, Removal};

/// A running, ready service.
#[derive(Clone, Debug)]
pub struct ServiceStatus {
    /// What ensuring the container did (created, reused, recreated and why).
    pub outcome: Outcome,
    /// Whether it was started now (`Started`) or already ran (`Unchanged`).
    pub started: Outcome,
    /// Networks connected now.
    pub connected: Vec<String>,
    /// The service's base URL on the host, such as `http://127.0.0.1:5001`.
    pub endpoint: String,
    pub container: ContainerInfo,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot run the {what} {name}: {source}")]
    Run { what: &'static str, name: String, source: Box<DockerError> },
    #[error("the {what} {name} is not ready: {source}")]
    WaitReady { what: &'static str, name: String, source: Box<DockerError> },
    #[error("cannot stop the {what} {name}: {source}")]
    Stop { what: &'static str, name: String, source: Box<DockerError> },
    #[error("cannot remove the {what} {name}: {source}")]
    Remove { what: &'static str, name: String, source: Box<DockerError> },
}

impl Engine {
    /// Creates or reuses the container of `spec`, starts it and waits until `probe` answers.
    pub async fn ensure_service(
        &self,
        what: &'static str,
        spec: &ContainerSpec,
        probe: &Probe,
        timeout: Duration,
    ) -> Result<ServiceStatus, ServiceError> {
        let name = &spec.name;
        let run = |source| ServiceError::Run { what, name: name.clone(), source: Box::new(source) };
        let ensured = self.ensure_container(spec).await.map_err(run)?;
        let started = self.start(name).await.map_err(run)?;
        let endpoint = self.wait_healthy(name, probe, timeout).await.map_err(|source| ServiceError::WaitReady {
            what,
            name: name.clone(),
            source: Box::new(source),
        })?;
        let container = self.container_info(name).await.map_err(run)?.unwrap_or(ensured.container);
        Ok(ServiceStatus { outcome: ensured.outcome, started, connected: ensured.connected, endpoint, container })
    }

    /// `down`: stops the service; its container and data stay.
    pub async fn stop_service(&self, what: &'static str, name: &str) -> Result<Outcome, ServiceError> {
        self.stop(name).await.map_err(|source| ServiceError::Stop {
            what,
            name: name.to_owned(),
            source: Box::new(source),
        })
    }

    /// `down --purge`: removes the service and its data volume.
    pub async fn purge_service(&self, what: &'static str, name: &str) -> Result<Removal, ServiceError> {
        self.remove(name, true).await.map_err(|source| ServiceError::Remove {
            what,
            name: name.to_owned(),
            source: Box::new(source),
        })
    }
}
