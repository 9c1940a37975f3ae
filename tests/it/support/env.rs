//! Shared by the `env_*` tests: an Engine for a project id unique to the test (so that tests in
//! parallel processes never see each other's containers), foreign containers made with plain
//! bollard, and a guard that removes everything the test made — by label and by name, with
//! plain bollard, so that cleanup does not depend on the code under test.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use crate::support::{TestBed, unique};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions,
};
use nexus_dev::env::{Engine, ProjectId};

/// The test bed, an Engine for a fresh project and the guard that cleans up after the test.
pub async fn setup(prefix: &str) -> (TestBed, Engine, Cleanup) {
    let bed = TestBed::from_env();
    // Fails (panics) when Docker is not there: a missing service is a failure, never a skip.
    let docker = bed.docker().await;
    let project = ProjectId::new(unique(prefix)).expect("a unique name is a valid project id");
    let engine = Engine::with_client(docker.clone(), project.clone())
        .await
        .unwrap_or_else(|e| panic!("cannot talk to the test bed's Docker Engine: {e}"));
    let cleanup =
        Cleanup { docker, project: project.to_string(), names: Vec::new(), networks: Vec::new(), volumes: Vec::new() };
    (bed, engine, cleanup)
}

/// Removes, when dropped (also on panic): every container, volume and network labelled with the
/// test's project, and the containers and networks registered by name.
pub struct Cleanup {
    docker: Docker,
    project: String,
    names: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

impl Cleanup {
    /// Also remove this volume (a foreign one the test made).
    pub fn volume(&mut self, name: &str) {
        self.volumes.push(name.to_owned());
    }

    /// Also remove this container (a foreign one the test made).
    pub fn container(&mut self, name: &str) {
        self.names.push(name.to_owned());
    }

    /// Also remove this network.
    pub fn network(&mut self, name: &str) {
        self.networks.push(name.to_owned());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let docker = self.docker.clone();
        let label = format!("nexus.ai/project={}", self.project);
        let names = self.names.clone();
        let networks = self.networks.clone();
        let mut volumes = self.volumes.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                let filters = HashMap::from([("label".to_owned(), vec![label])]);
                let force = || Some(RemoveContainerOptionsBuilder::default().force(true).v(true).build());
                let mut containers = names;
                if let Ok(list) = docker
                    .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
                    .await
                {
                    containers.extend(list.into_iter().filter_map(|c| c.id));
                }
                for c in containers {
                    let _ = docker.remove_container(&c, force()).await;
                }
                if let Ok(v) =
                    docker.list_volumes(Some(ListVolumesOptionsBuilder::default().filters(&filters).build())).await
                {
                    volumes.extend(v.volumes.into_iter().flatten().map(|v| v.name));
                }
                for v in volumes {
                    let _ = docker.remove_volume(&v, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
                }
                let mut nets = networks;
                if let Ok(n) =
                    docker.list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build())).await
                {
                    nets.extend(n.into_iter().filter_map(|n| n.name));
                }
                for n in nets {
                    let _ = docker.remove_network(&n).await;
                }
            });
        })
        .join();
    }
}

/// Starts a container nexus-dev did not make: `image` running `cmd`, with `labels`.
pub async fn foreign_container(
    docker: &Docker,
    name: &str,
    image: &str,
    cmd: &[&str],
    labels: HashMap<String, String>,
    host: Option<HostConfig>,
) -> String {
    // The API publishes only exposed ports (the CLI's `-p` exposes them itself).
    let exposed = host.as_ref().and_then(|h| h.port_bindings.as_ref()).map(|p| p.keys().cloned().collect());
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            ContainerCreateBody {
                image: Some(image.to_owned()),
                cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
                labels: Some(labels),
                exposed_ports: exposed,
                host_config: host,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("cannot create container {name}: {e}"));
    docker
        .start_container(&created.id, None::<StartContainerOptions>)
        .await
        .unwrap_or_else(|e| panic!("cannot start container {name}: {e}"));
    created.id
}

/// Whether container `name` exists and runs.
pub async fn running(docker: &Docker, name: &str) -> Option<bool> {
    docker
        .inspect_container(name, None::<bollard::query_parameters::InspectContainerOptions>)
        .await
        .ok()
        .map(|c| c.state.and_then(|s| s.running).unwrap_or(false))
}

/// A command that keeps a container of the base image alive (and stops at once on SIGTERM).
pub const SLEEP: &[&str] = &["sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"];

/// Bounded wait for health in tests.
pub const READY: Duration = Duration::from_secs(60);
