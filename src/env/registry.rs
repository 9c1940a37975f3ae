//! The local image registry: KinD's local-registry pattern (TESTBED-NOTES §5). One container,
//! `nexus-dev-registry`, publishing the profile's `registry.host` port (`localhost:5001` →
//! `127.0.0.1:5001->5000`), its data in a named volume, `--restart=always`, attached to the
//! `kind` network so that containerd on the nodes reaches it as `nexus-dev-registry:5000`.

use std::time::Duration;

use crate::env::docker::{ContainerSpec, Engine, Outcome, Probe, Removal, Restart, ServiceError, ServiceStatus};
use crate::model::profile::{ClusterProvider, Profile};

pub const NAME: &str = "nexus-dev-registry";
/// The image real users get; KinD's script has moved to `registry:3`, but distribution 2.8
/// is the version the test bed's stand-in runs, so the two behave alike.
pub const IMAGE: &str = "registry:2";
/// Where `registry:2` keeps its data.
pub const DATA_DIR: &str = "/var/lib/registry";
pub const VOLUME: &str = "nexus-dev-registry-data";
pub const CONTAINER_PORT: u16 = 5000;
pub const ROLE: &str = "registry";
/// The network KinD creates for its nodes.
pub const KIND_NETWORK: &str = "kind";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "registry.host `{host}` names no port\n  hint: use HOST:PORT, such as localhost:5001 (the port the registry is published on)"
    )]
    NoPort { host: String },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The registry image and where it keeps its data (an input: tests run a stand-in image that
/// stores elsewhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryImage {
    pub reference: String,
    pub data_dir: String,
}

impl Default for RegistryImage {
    fn default() -> Self {
        Self { reference: IMAGE.into(), data_dir: DATA_DIR.into() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryConfig {
    pub name: String,
    pub image: RegistryImage,
    /// `registry.host` as the profile gives it: what images are tagged with on this machine.
    pub host: String,
    pub host_ip: String,
    /// `None`: any free port (tests).
    pub host_port: Option<u16>,
    pub volume: String,
    /// Networks to connect after creation (`kind` for a KinD cluster).
    pub attach: Vec<String>,
    pub ready_timeout: Duration,
}

impl RegistryConfig {
    /// The registry a profile asks for, or `None` when its registry is not on this machine
    /// (ECR) or it names none.
    pub fn from_profile(profile: &Profile, image: RegistryImage) -> Result<Option<Self>, RegistryError> {
        let Some(registry) = &profile.registry else { return Ok(None) };
        let Some((ip, port)) = local_binding(&registry.host)? else { return Ok(None) };
        let attach = match profile.cluster.provider {
            ClusterProvider::Kind => vec![KIND_NETWORK.to_owned()],
            ClusterProvider::Existing | ClusterProvider::Eks => vec![],
        };
        Ok(Some(Self {
            name: NAME.into(),
            image,
            host: registry.host.clone(),
            host_ip: ip,
            host_port: Some(port),
            volume: VOLUME.into(),
            attach,
            ready_timeout: Duration::from_secs(60),
        }))
    }

    pub fn spec(&self) -> ContainerSpec {
        let mut spec = ContainerSpec::new(&self.name, &self.image.reference, ROLE)
            .port(CONTAINER_PORT, &self.host_ip, self.host_port)
            .volume(&self.volume, &self.image.data_dir)
            .restart(Restart::Always);
        spec.attach = self.attach.clone();
        spec
    }

    /// How containers on the cluster network reach the registry (`nexus-dev-registry:5000`).
    pub fn cluster_address(&self) -> String {
        format!("{}:{CONTAINER_PORT}", self.name)
    }
}

/// `(IP to bind, port)` for a registry host on this machine; `None` for a remote registry.
fn local_binding(host: &str) -> Result<Option<(String, u16)>, RegistryError> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') => (name.trim_matches(['[', ']']), port.parse::<u16>().ok()),
        _ => (host, None),
    };
    let ip = match name {
        "localhost" | "127.0.0.1" => "127.0.0.1",
        "::1" => "::1",
        "0.0.0.0" => "0.0.0.0",
        _ => return Ok(None),
    };
    let port = port.ok_or_else(|| RegistryError::NoPort { host: host.to_owned() })?;
    Ok(Some((ip.to_owned(), port)))
}

/// A running, ready registry.
pub type RegistryStatus = ServiceStatus;

/// What errors call the registry.
const WHAT: &str = "local registry";

/// Creates or reuses the registry container, starts it and waits until `GET /v2/` answers.
#[tracing::instrument(skip_all, fields(registry = %cfg.name))]
pub async fn ensure(engine: &Engine, cfg: &RegistryConfig) -> Result<RegistryStatus, RegistryError> {
    Ok(engine.ensure_service(WHAT, &cfg.spec(), &Probe::http(CONTAINER_PORT, "/v2/"), cfg.ready_timeout).await?)
}

/// `down`: stops the registry; its container and data stay.
pub async fn stop(engine: &Engine, name: &str) -> Result<Outcome, RegistryError> {
    Ok(engine.stop_service(WHAT, name).await?)
}

/// `down --purge`: removes the registry and its data volume.
pub async fn purge(engine: &Engine, name: &str) -> Result<Removal, RegistryError> {
    Ok(engine.purge_service(WHAT, name).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        crate::input::profile::built_in(name).unwrap()
    }

    #[test]
    fn the_local_profile_gives_kinds_registry() {
        let cfg = RegistryConfig::from_profile(&profile("local"), RegistryImage::default()).unwrap().unwrap();
        assert_eq!(cfg.name, "nexus-dev-registry");
        assert_eq!((cfg.host_ip.as_str(), cfg.host_port), ("127.0.0.1", Some(5001)));
        assert_eq!(cfg.attach, ["kind"]);
        assert_eq!(cfg.cluster_address(), "nexus-dev-registry:5000");
        let spec = cfg.spec();
        assert_eq!(spec.image, "registry:2");
        assert_eq!(spec.restart, Restart::Always);
        assert_eq!(spec.volumes().collect::<Vec<_>>(), ["nexus-dev-registry-data"]);
        assert_eq!(spec.ports[0].container_port, 5000);
    }

    #[test]
    fn remote_registries_get_no_container_and_ports_are_required() {
        assert!(RegistryConfig::from_profile(&profile("eks-prod"), RegistryImage::default()).unwrap().is_none());
        assert_eq!(local_binding("ghcr.io").unwrap(), None);
        assert_eq!(local_binding("0.0.0.0:5000").unwrap(), Some(("0.0.0.0".into(), 5000)));
        assert_eq!(local_binding("[::1]:5002").unwrap(), Some(("::1".into(), 5002)));
        assert!(matches!(local_binding("localhost"), Err(RegistryError::NoPort { .. })));
    }
}
