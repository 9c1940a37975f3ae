//! Networks and volumes. Ensuring reuses whatever has the name (a network or a volume someone
//! else made is harmless to join or mount); removing needs the project's labels.

use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{InspectContainerOptions, InspectNetworkOptions, RemoveVolumeOptionsBuilder};

use super::error::is_not_found;
use super::{DockerError, Engine, Outcome};
use crate::env::owner::{Ownership, ownership};

impl Engine {
    /// Creates the bridge network `name` with the project's labels unless a network of that
    /// name exists.
    #[tracing::instrument(skip(self))]
    pub async fn ensure_network(&self, name: &str) -> Result<Outcome, DockerError> {
        match self.docker.inspect_network(name, None::<InspectNetworkOptions>).await {
            Ok(_) => return Ok(Outcome::Unchanged),
            Err(e) if is_not_found(&e) => {}
            Err(source) => return Err(DockerError::Inspect { kind: "network", name: name.to_owned(), source }),
        }
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".into()),
            labels: Some(self.project.labels("network")),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(Outcome::Created),
            // Another `up` made it in the meantime: the Engine refuses duplicates by name.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(Outcome::Unchanged),
            Err(source) => Err(DockerError::CreateNetwork { name: name.to_owned(), source }),
        }
    }

    /// Removes this project's network `name`; `NotFound` when there is none.
    #[tracing::instrument(skip(self))]
    pub async fn remove_network(&self, name: &str) -> Result<Outcome, DockerError> {
        let network = match self.docker.inspect_network(name, None::<InspectNetworkOptions>).await {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => return Ok(Outcome::NotFound),
            Err(source) => return Err(DockerError::Inspect { kind: "network", name: name.to_owned(), source }),
        };
        self.check_labels("network", name, network.labels.as_ref())?;
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(Outcome::Removed),
            Err(e) if is_not_found(&e) => Ok(Outcome::NotFound),
            Err(source) => Err(DockerError::RemoveNetwork { name: name.to_owned(), source }),
        }
    }

    /// Connects this project's container to `network` (which may be anyone's, such as KinD's
    /// `kind`); `Unchanged` when it already is (`docker network connect kind nexus-dev-registry`
    /// made idempotent).
    #[tracing::instrument(skip(self))]
    pub async fn connect_network(&self, container: &str, network: &str) -> Result<Outcome, DockerError> {
        let Some(c) = self.inspect_container(container).await? else {
            return Err(DockerError::Missing { kind: "container", name: container.to_owned() });
        };
        let labels = c.config.as_ref().and_then(|c| c.labels.as_ref());
        self.check_labels("container", container, labels)?;
        let attached = |c: &bollard::models::ContainerInspectResponse| {
            c.network_settings.as_ref().and_then(|s| s.networks.as_ref()).is_some_and(|n| n.contains_key(network))
        };
        if attached(&c) {
            return Ok(Outcome::Unchanged);
        }
        let request = NetworkConnectRequest { container: container.to_owned(), endpoint_config: None };
        match self.docker.connect_network(network, request).await {
            Ok(()) => Ok(Outcome::Connected),
            Err(source) => {
                // A concurrent connect wins the race with a 403 ("already exists in network").
                let now = self.docker.inspect_container(container, None::<InspectContainerOptions>).await;
                if now.as_ref().is_ok_and(attached) {
                    Ok(Outcome::Unchanged)
                } else {
                    Err(DockerError::ConnectNetwork {
                        container: container.to_owned(),
                        network: network.to_owned(),
                        source,
                    })
                }
            }
        }
    }

    /// Creates the volume `name` with the project's labels unless it exists. An existing volume
    /// someone else made is used as is (and never removed by nexus-dev).
    #[tracing::instrument(skip(self))]
    pub async fn ensure_volume(&self, name: &str) -> Result<Outcome, DockerError> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => {
                match ownership(Some(&v.labels), &self.project) {
                    Ownership::Ours => {}
                    Ownership::Foreign => {
                        tracing::warn!(
                            volume = name,
                            "using a volume nexus-dev did not create; `down --purge` keeps it"
                        )
                    }
                    // A project's own volume from before the environment was shared: its `down --purge` removes it.
                    Ownership::OtherProject(_) | Ownership::Shared => {
                        tracing::debug!(volume = name, "using a volume another owner labelled")
                    }
                }
                return Ok(Outcome::Unchanged);
            }
            Err(e) if is_not_found(&e) => {}
            Err(source) => return Err(DockerError::Inspect { kind: "volume", name: name.to_owned(), source }),
        }
        let request = VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(self.project.labels("data")),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map_err(|source| DockerError::CreateVolume { name: name.to_owned(), source })?;
        Ok(Outcome::Created)
    }

    /// Whether a volume named `name` exists (anyone's).
    pub async fn volume_exists(&self, name: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_volume(name).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(source) => Err(DockerError::Inspect { kind: "volume", name: name.to_owned(), source }),
        }
    }

    /// Removes this project's volume `name` (its data is gone); `NotFound` when there is none.
    #[tracing::instrument(skip(self))]
    pub async fn remove_volume(&self, name: &str) -> Result<Outcome, DockerError> {
        let volume = match self.docker.inspect_volume(name).await {
            Ok(v) => v,
            Err(e) if is_not_found(&e) => return Ok(Outcome::NotFound),
            Err(source) => return Err(DockerError::Inspect { kind: "volume", name: name.to_owned(), source }),
        };
        self.check_labels("volume", name, Some(&volume.labels))?;
        match self.docker.remove_volume(name, Some(RemoveVolumeOptionsBuilder::default().build())).await {
            Ok(()) => Ok(Outcome::Removed),
            Err(e) if is_not_found(&e) => Ok(Outcome::NotFound),
            Err(source) => Err(DockerError::RemoveVolume { name: name.to_owned(), source }),
        }
    }

    pub(super) fn check_labels(
        &self,
        kind: &'static str,
        name: &str,
        labels: Option<&std::collections::HashMap<String, String>>,
    ) -> Result<(), DockerError> {
        match ownership(labels, &self.project) {
            Ownership::Ours => Ok(()),
            Ownership::OtherProject(project) => Err(DockerError::OtherProject { kind, name: name.to_owned(), project }),
            Ownership::Shared => Err(DockerError::OtherProject {
                kind,
                name: name.to_owned(),
                project: crate::env::owner::SHARED.into(),
            }),
            Ownership::Foreign => Err(DockerError::NotOurs { kind, name: name.to_owned() }),
        }
    }
}
