//! A narrow, typed layer over bollard for what `up` and `down` need: networks, volumes and
//! containers that carry the project's labels (see `owner`), ensured idempotently, health-waited,
//! and stopped or removed only when they are this project's.
//!
//! Files: `spec` (the wanted container and the pure comparison), `container` (ensure, start,
//! stop, remove, list), `resources` (networks, volumes), `health` (waits, logs), `exec`.

mod container;
mod error;
pub mod exec;
mod health;
mod resources;
mod service;
mod spec;

use std::fmt;

use bollard::Docker;

pub use container::{ContainerInfo, Ensured, ListedContainer, Owned, Removal};
pub use error::{DockerError, LastLogs};
pub use exec::ExecOutput;
pub use health::Probe;
pub use service::{ServiceError, ServiceStatus};
pub use spec::{ContainerSpec, EnvValue, MountSpec, PortSpec, Restart, Secret, differences};

use crate::env::owner::ProjectId;

/// What an operation did. `Unchanged` and `NotFound` mean no mutating call was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Created,
    /// Replaced because its configuration differed from the spec; the reasons name the fields.
    Recreated {
        reasons: Vec<String>,
    },
    /// Changed in place (an object that can be updated without replacing it).
    Updated,
    Started,
    Stopped,
    Connected,
    Removed,
    /// Nothing to stop or remove.
    NotFound,
}

impl Outcome {
    pub fn changed(&self) -> bool {
        !matches!(self, Self::Unchanged | Self::NotFound)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchanged => f.write_str("unchanged"),
            Self::Created => f.write_str("created"),
            Self::Recreated { reasons } => write!(f, "recreated ({})", reasons.join("; ")),
            Self::Updated => f.write_str("updated"),
            Self::Started => f.write_str("started"),
            Self::Stopped => f.write_str("stopped"),
            Self::Connected => f.write_str("connected"),
            Self::Removed => f.write_str("removed"),
            Self::NotFound => f.write_str("not found"),
        }
    }
}

/// A Docker Engine client acting for one project.
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    project: ProjectId,
    engine_version: String,
    api_version: String,
    /// Who else uses what this engine manages (other projects on a shared environment): a
    /// container they use is never recreated (`DockerError::InUse`).
    users: Vec<String>,
}

impl Engine {
    /// Connects as the `docker` CLI would (DOCKER_HOST, else the local socket) and agrees on an
    /// API version.
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn connect(project: ProjectId) -> Result<Self, DockerError> {
        let docker = Docker::connect_with_defaults().map_err(|source| DockerError::Connect { source })?;
        Self::with_client(docker, project).await
    }

    /// Uses `docker`, after negotiating the API version: bollard 0.21 defaults to API 1.53,
    /// which older Engines (Debian's docker.io 20.10 speaks 1.41) refuse as "too new" on any
    /// versioned path. bollard currently sends unversioned paths, which the Engine serves at
    /// its own version, so this is a guard against that changing, and it reads the version
    /// `doctor` reports.
    pub async fn with_client(docker: Docker, project: ProjectId) -> Result<Self, DockerError> {
        let docker = docker.negotiate_version().await.map_err(|source| DockerError::Negotiate { source })?;
        let version = docker.version().await.map_err(|source| DockerError::Negotiate { source })?;
        Ok(Self {
            docker,
            project,
            engine_version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            users: Vec::new(),
        })
    }

    /// The same connection, acting for `project`.
    pub fn acting_for(&self, project: ProjectId) -> Self {
        Self { project, users: Vec::new(), ..self.clone() }
    }

    /// The same engine, knowing that `users` (other projects, as they should be named to a
    /// user) use its containers: `ensure_container` then refuses to recreate one that differs.
    pub fn used_by(mut self, users: Vec<String>) -> Self {
        self.users = users;
        self
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn project(&self) -> &ProjectId {
        &self.project
    }

    /// The Engine's release, such as `20.10.24+dfsg1`.
    pub fn engine_version(&self) -> &str {
        &self.engine_version
    }

    /// The API version both sides speak, such as `1.41`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }
}
