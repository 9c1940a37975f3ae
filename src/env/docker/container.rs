//! Containers: ensure (create, reuse, or recreate when the configuration differs; then read
//! back), start, stop, remove, list. Only this project's containers are ever changed; anything
//! else with the name is an error that names it and is left alone.

use std::collections::{BTreeMap, HashMap};

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder,
};
use futures::StreamExt;

use super::error::{is_not_found, is_not_modified};
use super::{ContainerSpec, DockerError, Engine, Outcome, differences};
use crate::env::owner::ROLE_KEY;

/// A container as the Engine reports it, in the terms `up` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    pub running: bool,
    /// The Engine's `State.StartedAt` (RFC 3339); it changes on every (re)start.
    pub started_at: String,
    /// Container port → (host IP, host port) as bound.
    pub ports: BTreeMap<u16, (String, u16)>,
    /// Networks the container is attached to.
    pub networks: Vec<String>,
}

impl ContainerInfo {
    pub(crate) fn from_inspect(c: &ContainerInspectResponse) -> Self {
        let state = c.state.clone().unwrap_or_default();
        let settings = c.network_settings.clone().unwrap_or_default();
        let ports = settings
            .ports
            .iter()
            .flatten()
            .filter_map(|(port, bindings)| {
                let container_port: u16 = port.split('/').next()?.parse().ok()?;
                let b = bindings.as_ref()?.first()?;
                Some((container_port, (b.host_ip.clone().unwrap_or_default(), b.host_port.as_ref()?.parse().ok()?)))
            })
            .collect();
        let mut networks: Vec<String> = settings.networks.iter().flatten().map(|(n, _)| n.clone()).collect();
        networks.sort();
        Self {
            id: c.id.clone().unwrap_or_default(),
            name: c.name.clone().unwrap_or_default().trim_start_matches('/').to_owned(),
            image: c.config.as_ref().and_then(|c| c.image.clone()).unwrap_or_default(),
            running: state.running.unwrap_or(false),
            started_at: state.started_at.unwrap_or_default(),
            ports,
            networks,
        }
    }

    /// Where the host reaches `container_port`: `(ip, port)`, with a wildcard bind given as
    /// loopback.
    pub fn host_address(&self, container_port: u16) -> Option<(String, u16)> {
        let (ip, port) = self.ports.get(&container_port)?;
        let ip = match ip.as_str() {
            "" | "0.0.0.0" => "127.0.0.1".to_owned(),
            "::" => "::1".to_owned(),
            other => other.to_owned(),
        };
        Some((ip, *port))
    }
}

/// The result of `ensure_container`.
#[derive(Clone, Debug)]
pub struct Ensured {
    pub outcome: Outcome,
    /// Networks of `spec.attach` that were connected just now.
    pub connected: Vec<String>,
    /// The container read back from the Engine after any change.
    pub container: ContainerInfo,
}

/// The result of `remove`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    pub container: Outcome,
    /// This project's named volumes that were removed with the container.
    pub volumes_removed: Vec<String>,
    /// Volumes the container used that are not this project's, and so were kept.
    pub volumes_kept: Vec<String>,
}

/// A container from `list_owned` or `list_labelled`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedContainer {
    pub name: String,
    pub id: String,
    pub role: String,
    pub image: String,
    /// The Engine's state: running, exited, created, …
    pub state: String,
}

/// Everything the Engine holds for this project.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owned {
    pub containers: Vec<ListedContainer>,
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
}

impl Engine {
    /// The container named `name`, or `None`.
    pub async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspectResponse>, DockerError> {
        match self.docker.inspect_container(name, None::<InspectContainerOptions>).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(source) => Err(DockerError::Inspect { kind: "container", name: name.to_owned(), source }),
        }
    }

    /// The container named `name` as `up` sees it, or `None`. Reading is allowed on any
    /// container; only changes need ownership.
    pub async fn container_info(&self, name: &str) -> Result<Option<ContainerInfo>, DockerError> {
        Ok(self.inspect_container(name).await?.as_ref().map(ContainerInfo::from_inspect))
    }

    /// Fails unless the container is this project's.
    fn check_ours(&self, name: &str, c: &ContainerInspectResponse) -> Result<(), DockerError> {
        self.check_labels("container", name, c.config.as_ref().and_then(|c| c.labels.as_ref()))
    }

    /// The image's ID, pulling the image first when the Engine does not have it.
    #[tracing::instrument(skip(self))]
    pub async fn ensure_image(&self, image: &str) -> Result<String, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => return Ok(i.id.unwrap_or_default()),
            Err(e) if is_not_found(&e) => {}
            Err(source) => return Err(DockerError::Inspect { kind: "image", name: image.to_owned(), source }),
        }
        // Without a tag the Engine would pull every tag of the repository.
        let reference = if has_tag_or_digest(image) { image.to_owned() } else { format!("{image}:latest") };
        tracing::info!(image = %reference, "pulling image");
        let opts = CreateImageOptionsBuilder::default().from_image(&reference).build();
        let mut pull = self.docker.create_image(Some(opts), None, None);
        while let Some(item) = pull.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        return Err(DockerError::PullImage { image: reference, detail });
                    }
                }
                Err(e) => return Err(DockerError::PullImage { image: reference, detail: e.to_string() }),
            }
        }
        match self.docker.inspect_image(&reference).await {
            Ok(i) => Ok(i.id.unwrap_or_default()),
            Err(source) => Err(DockerError::Inspect { kind: "image", name: reference, source }),
        }
    }

    /// Makes the container named `spec.name` match `spec`: creates it when absent, leaves it
    /// when it matches, recreates it (saying why) when it differs, and connects the networks of
    /// `spec.attach`. A container of that name that is not this project's is an error and is
    /// not touched. Does not start the container. The named volumes are ensured first, so that
    /// they carry the project's labels (an implicitly created volume would not, and `down
    /// --purge` could then not prove it is ours).
    #[tracing::instrument(skip(self, spec), fields(container = %spec.name, image = %spec.image))]
    pub async fn ensure_container(&self, spec: &ContainerSpec) -> Result<Ensured, DockerError> {
        // Ownership first: nothing is created for a name that is not ours to manage.
        let existing = self.inspect_container(&spec.name).await?;
        if let Some(c) = &existing {
            self.check_ours(&spec.name, c)?;
        }
        for volume in spec.volumes() {
            self.ensure_volume(volume).await?;
        }
        let image_id = self.ensure_image(&spec.image).await?;
        let outcome = match existing {
            None => {
                self.create(spec).await?;
                Outcome::Created
            }
            Some(existing) => {
                let reasons = differences(spec, &existing, Some(&image_id));
                if reasons.is_empty() {
                    Outcome::Unchanged
                } else if !self.users.is_empty() {
                    return Err(DockerError::InUse { name: spec.name.clone(), reasons, users: self.users.clone() });
                } else {
                    tracing::info!(reasons = %reasons.join("; "), "recreating container: its configuration differs");
                    self.force_remove(&spec.name, false).await?;
                    self.create(spec).await?;
                    Outcome::Recreated { reasons }
                }
            }
        };
        let mut connected = Vec::new();
        for network in &spec.attach {
            if self.connect_network(&spec.name, network).await? == Outcome::Connected {
                connected.push(network.clone());
            }
        }
        let container = self.read_back(&spec.name).await?;
        Ok(Ensured { outcome, connected, container })
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<(), DockerError> {
        let opts = CreateContainerOptionsBuilder::default().name(&spec.name).build();
        self.docker
            .create_container(Some(opts), spec.create_body(&self.project))
            .await
            .map_err(|source| DockerError::CreateContainer { name: spec.name.clone(), source })?;
        Ok(())
    }

    async fn read_back(&self, name: &str) -> Result<ContainerInfo, DockerError> {
        match self.docker.inspect_container(name, None::<InspectContainerOptions>).await {
            Ok(c) => Ok(ContainerInfo::from_inspect(&c)),
            Err(source) => Err(DockerError::Inspect { kind: "container", name: name.to_owned(), source }),
        }
    }

    async fn force_remove(&self, name: &str, anonymous_volumes: bool) -> Result<(), DockerError> {
        let opts = RemoveContainerOptionsBuilder::default().force(true).v(anonymous_volumes).build();
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(DockerError::RemoveContainer { name: name.to_owned(), source }),
        }
    }

    /// Starts this project's container `name`; `Unchanged` when it already runs.
    #[tracing::instrument(skip(self))]
    pub async fn start(&self, name: &str) -> Result<Outcome, DockerError> {
        let Some(c) = self.inspect_container(name).await? else {
            return Err(DockerError::Missing { kind: "container", name: name.to_owned() });
        };
        self.check_ours(name, &c)?;
        if c.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
            return Ok(Outcome::Unchanged);
        }
        match self.docker.start_container(name, None::<StartContainerOptions>).await {
            Ok(()) => Ok(Outcome::Started),
            Err(e) if is_not_modified(&e) => Ok(Outcome::Unchanged),
            Err(source) => Err(DockerError::StartContainer { name: name.to_owned(), source }),
        }
    }

    /// Stops this project's container `name` (10 s grace, then SIGKILL); `NotFound` when there
    /// is none, `Unchanged` when it is not running.
    #[tracing::instrument(skip(self))]
    pub async fn stop(&self, name: &str) -> Result<Outcome, DockerError> {
        let Some(c) = self.inspect_container(name).await? else { return Ok(Outcome::NotFound) };
        self.check_ours(name, &c)?;
        if !c.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
            return Ok(Outcome::Unchanged);
        }
        let opts = StopContainerOptionsBuilder::default().t(10).build();
        match self.docker.stop_container(name, Some(opts)).await {
            Ok(()) => Ok(Outcome::Stopped),
            Err(e) if is_not_modified(&e) => Ok(Outcome::Unchanged),
            Err(e) if is_not_found(&e) => Ok(Outcome::NotFound),
            Err(source) => Err(DockerError::StopContainer { name: name.to_owned(), source }),
        }
    }

    /// Removes this project's container `name` (stopping it first). With `remove_volumes`,
    /// also its anonymous volumes and those of its named volumes that are this project's;
    /// without, every volume is kept (`down` keeps data; `down --purge` does not).
    #[tracing::instrument(skip(self))]
    pub async fn remove(&self, name: &str, remove_volumes: bool) -> Result<Removal, DockerError> {
        let Some(c) = self.inspect_container(name).await? else {
            return Ok(Removal { container: Outcome::NotFound, volumes_removed: vec![], volumes_kept: vec![] });
        };
        self.check_ours(name, &c)?;
        let volumes: Vec<String> = c
            .mounts
            .iter()
            .flatten()
            .filter(|m| m.typ.as_ref().map(|t| t.to_string()).as_deref() == Some("volume"))
            .filter_map(|m| m.name.clone())
            .collect();
        self.force_remove(name, remove_volumes).await?;
        let mut removal = Removal { container: Outcome::Removed, volumes_removed: vec![], volumes_kept: vec![] };
        for volume in volumes {
            if !remove_volumes {
                removal.volumes_kept.push(volume);
                continue;
            }
            match self.remove_volume(&volume).await {
                Ok(Outcome::Removed) => removal.volumes_removed.push(volume),
                // Anonymous volumes went with the container.
                Ok(_) => {}
                Err(DockerError::NotOurs { .. } | DockerError::OtherProject { .. }) => {
                    removal.volumes_kept.push(volume)
                }
                // Still mounted by another container: kept, and said so, rather than failing a
                // purge whose container is already gone.
                Err(DockerError::RemoveVolume {
                    source: bollard::errors::Error::DockerResponseServerError { status_code: 409, .. },
                    ..
                }) => {
                    tracing::warn!(volume = %volume, "volume kept: another container uses it");
                    removal.volumes_kept.push(volume)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(removal)
    }

    /// Containers (running or not) that carry `label` (`key=value` or `key`), anyone's:
    /// reading is harmless, and KinD's nodes are found this way.
    pub async fn list_labelled(&self, label: &str) -> Result<Vec<ListedContainer>, DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        self.list_containers(&filters).await
    }

    /// The running container that publishes host port `port`, with its labels.
    pub async fn publisher_of(&self, port: u16) -> Result<Option<(String, HashMap<String, String>)>, DockerError> {
        let filters = HashMap::from([("publish".to_owned(), vec![port.to_string()])]);
        let found = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::default().filters(&filters).build()))
            .await
            .map_err(|source| DockerError::List { kind: "containers", source })?;
        Ok(found.into_iter().next().map(|c| {
            let name =
                c.names.iter().flatten().next().map(|n| n.trim_start_matches('/').to_owned()).unwrap_or_default();
            (name, c.labels.unwrap_or_default())
        }))
    }

    async fn list_containers(
        &self,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<ListedContainer>, DockerError> {
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(filters).build()))
            .await
            .map_err(|source| DockerError::List { kind: "containers", source })?;
        let mut listed: Vec<ListedContainer> = containers
            .into_iter()
            .map(|c| ListedContainer {
                name: c.names.iter().flatten().next().map(|n| n.trim_start_matches('/').to_owned()).unwrap_or_default(),
                id: c.id.unwrap_or_default(),
                role: c.labels.as_ref().and_then(|l| l.get(ROLE_KEY).cloned()).unwrap_or_default(),
                image: c.image.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            })
            .collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// This project's containers, volumes and networks.
    #[tracing::instrument(skip(self), fields(project = %self.project))]
    pub async fn list_owned(&self) -> Result<Owned, DockerError> {
        let filters = self.project.filters();
        let containers = self.list_containers(&filters).await?;
        let volumes = self
            .docker
            .list_volumes(Some(ListVolumesOptionsBuilder::default().filters(&filters).build()))
            .await
            .map_err(|source| DockerError::List { kind: "volumes", source })?;
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build()))
            .await
            .map_err(|source| DockerError::List { kind: "networks", source })?;
        let mut owned = Owned {
            containers,
            volumes: volumes.volumes.into_iter().flatten().map(|v| v.name).collect(),
            networks: networks.into_iter().filter_map(|n| n.name).collect(),
        };
        owned.volumes.sort();
        owned.networks.sort();
        Ok(owned)
    }

    /// `down`: stops every container of this project; returns what each did.
    pub async fn stop_owned(&self) -> Result<Vec<(String, Outcome)>, DockerError> {
        let mut done = Vec::new();
        for c in self.list_owned().await?.containers {
            let outcome = self.stop(&c.name).await?;
            done.push((c.name, outcome));
        }
        Ok(done)
    }

    /// `down --purge`: removes every container, volume and network of this project. Returns
    /// `(kind name, outcome)` per object.
    pub async fn purge_owned(&self) -> Result<Vec<(String, Outcome)>, DockerError> {
        let owned = self.list_owned().await?;
        let mut done = Vec::new();
        for c in owned.containers {
            let removal = self.remove(&c.name, true).await?;
            done.push((format!("container {}", c.name), removal.container));
            done.extend(removal.volumes_removed.into_iter().map(|v| (format!("volume {v}"), Outcome::Removed)));
        }
        // Volumes no container mounts any more (a container removed earlier without purge).
        for v in self.list_owned().await?.volumes {
            let outcome = self.remove_volume(&v).await?;
            done.push((format!("volume {v}"), outcome));
        }
        for n in owned.networks {
            let outcome = self.remove_network(&n).await?;
            done.push((format!("network {n}"), outcome));
        }
        Ok(done)
    }
}

/// Whether an image reference names a tag or digest (`registry:2`, `x@sha256:…`), as opposed
/// to a repository (`registry`, `localhost:5001/app`).
fn has_tag_or_digest(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.contains(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_told_from_registry_ports() {
        assert!(has_tag_or_digest("registry:2"));
        assert!(has_tag_or_digest("localhost:5001/app:1"));
        assert!(has_tag_or_digest("app@sha256:abc"));
        assert!(!has_tag_or_digest("localhost:5001/app"));
        assert!(!has_tag_or_digest("motoserver/moto"));
    }

    #[test]
    fn info_reads_ports_networks_and_state() {
        let c: ContainerInspectResponse = serde_json::from_value(serde_json::json!({
            "Id": "abc", "Name": "/nexus-dev-registry",
            "Config": {"Image": "registry:2"},
            "State": {"Running": true, "StartedAt": "2026-01-01T00:00:00Z"},
            "NetworkSettings": {
                "Ports": {"5000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "5001"}], "5001/tcp": null},
                "Networks": {"kind": {}, "bridge": {}}
            }
        }))
        .unwrap();
        let info = ContainerInfo::from_inspect(&c);
        assert_eq!(info.name, "nexus-dev-registry");
        assert!(info.running);
        assert_eq!(info.networks, ["bridge", "kind"]);
        assert_eq!(info.host_address(5000), Some(("127.0.0.1".into(), 5001)));
        assert_eq!(info.host_address(5001), None);
    }
}
