//! Wiring the local registry into a KinD cluster (kind-with-registry.sh, TESTBED-NOTES §5):
//! containerd's `hosts.toml` on every node maps the registry host of this machine
//! (`localhost:5001`, which inside a node is the node itself) to the registry container on the
//! `kind` network; the KEP-1755 ConfigMap tells other tools where the registry is. Plus the
//! marker that proves a cluster is nexus-dev's before `down --purge` deletes it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};

use super::KindError;
use crate::env::docker::{Engine, Outcome};
use crate::env::owner::{MANAGED_BY, MANAGED_BY_KEY, ProjectId};
use crate::provision::kube::FIELD_MANAGER;

/// Docker label KinD puts on its node containers, valued with the cluster name.
pub const NODE_CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
pub const NODE_ROLE_LABEL: &str = "io.x-k8s.kind.role";
pub const CERTS_DIR: &str = "/etc/containerd/certs.d";
/// Inside a node nexus-dev created: the project's id.
pub const OWNER_FILE: &str = "/etc/nexus-dev/project";
pub const HOSTING_NAMESPACE: &str = "kube-public";
pub const HOSTING_NAME: &str = "local-registry-hosting";
pub const HOSTING_KEY: &str = "localRegistryHosting.v1";
pub const HOSTING_HELP: &str = "https://kind.sigs.k8s.io/docs/user/local-registry/";

/// The directory for `registry_host` (`localhost:5001`).
pub fn hosts_dir(registry_host: &str) -> String {
    format!("{CERTS_DIR}/{registry_host}")
}

/// `hosts.toml`: pulls of `registry_host/…` go to the registry container (`http://NAME:5000`).
pub fn hosts_toml(registry_cluster_address: &str) -> String {
    format!("[host.\"http://{registry_cluster_address}\"]\n")
}

/// The names of the running node containers of cluster `cluster`.
pub async fn nodes(engine: &Engine, cluster: &str) -> Result<Vec<String>, KindError> {
    let listed = engine
        .list_labelled(&format!("{NODE_CLUSTER_LABEL}={cluster}"))
        .await
        .map_err(|source| KindError::ListNodes { cluster: cluster.to_owned(), source: Box::new(source) })?;
    Ok(listed.into_iter().filter(|c| c.state == "running").map(|c| c.name).collect())
}

/// Writes `hosts.toml` into `node` unless it already holds exactly that; `Unchanged` or
/// `Created`. The exec body is KinD's (`mkdir -p`, then `cp /dev/stdin` with the file on stdin).
#[tracing::instrument(skip(engine))]
pub async fn write_hosts_toml(
    engine: &Engine,
    node: &str,
    registry_host: &str,
    registry_cluster_address: &str,
) -> Result<Outcome, KindError> {
    let dir = hosts_dir(registry_host);
    let file = format!("{dir}/hosts.toml");
    let want = hosts_toml(registry_cluster_address);
    let wire = |source| KindError::WireNode { node: node.to_owned(), source: Box::new(source) };
    let current = engine.exec(node, &["cat", &file], None).await.map_err(wire)?;
    if current.code == 0 && current.stdout == want {
        return Ok(Outcome::Unchanged);
    }
    engine.exec_ok(node, &["mkdir", "-p", &dir], None).await.map_err(wire)?;
    engine.exec_ok(node, &["cp", "/dev/stdin", &file], Some(want.as_bytes())).await.map_err(wire)?;
    Ok(Outcome::Created)
}

/// Writes `hosts.toml` into every running node of `cluster`; returns `(node, outcome)`.
pub async fn wire_nodes(
    engine: &Engine,
    cluster: &str,
    registry_host: &str,
    registry_cluster_address: &str,
) -> Result<Vec<(String, Outcome)>, KindError> {
    let nodes = nodes(engine, cluster).await?;
    if nodes.is_empty() {
        return Err(KindError::NoNodes { cluster: cluster.to_owned() });
    }
    let mut done = Vec::new();
    for node in nodes {
        let outcome = write_hosts_toml(engine, &node, registry_host, registry_cluster_address).await?;
        done.push((node, outcome));
    }
    Ok(done)
}

/// Marks every node of a cluster nexus-dev just created as this project's.
pub async fn mark_owned(engine: &Engine, cluster: &str) -> Result<(), KindError> {
    let id = format!("{}\n", engine.project());
    for node in nodes(engine, cluster).await? {
        let wire = |source| KindError::WireNode { node: node.clone(), source: Box::new(source) };
        engine.exec_ok(&node, &["mkdir", "-p", "/etc/nexus-dev"], None).await.map_err(wire)?;
        engine.exec_ok(&node, &["cp", "/dev/stdin", OWNER_FILE], Some(id.as_bytes())).await.map_err(wire)?;
    }
    Ok(())
}

/// Whose cluster it is: the project id in the first node's marker, if any.
pub async fn owner(engine: &Engine, cluster: &str) -> Result<Option<ProjectId>, KindError> {
    let Some(node) = nodes(engine, cluster).await?.into_iter().next() else { return Ok(None) };
    let out = engine
        .exec(&node, &["cat", OWNER_FILE], None)
        .await
        .map_err(|source| KindError::WireNode { node: node.clone(), source: Box::new(source) })?;
    Ok(if out.code == 0 { ProjectId::new(out.stdout.trim()) } else { None })
}

/// The KEP-1755 description of the local registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalRegistryHosting {
    /// Where tools on this machine push: `localhost:5001`.
    pub host: String,
    /// What image fields name; containerd maps it through `hosts.toml`, so it is `host` too.
    pub host_from_container_runtime: String,
    /// Where pods reach it: `nexus-dev-registry:5000` on the `kind` network.
    pub host_from_cluster_network: String,
    pub help: String,
}

impl LocalRegistryHosting {
    pub fn new(registry_host: &str, registry_cluster_address: &str) -> Self {
        Self {
            host: registry_host.to_owned(),
            host_from_container_runtime: registry_host.to_owned(),
            host_from_cluster_network: registry_cluster_address.to_owned(),
            help: HOSTING_HELP.to_owned(),
        }
    }

    /// The `localRegistryHosting.v1` value, with the KEP's field names.
    pub fn to_yaml(&self) -> String {
        format!(
            "host: \"{}\"\nhostFromContainerRuntime: \"{}\"\nhostFromClusterNetwork: \"{}\"\nhelp: \"{}\"\n",
            self.host, self.host_from_container_runtime, self.host_from_cluster_network, self.help
        )
    }

    pub fn config_map(&self) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(HOSTING_NAME.into()),
                namespace: Some(HOSTING_NAMESPACE.into()),
                labels: Some(BTreeMap::from([(MANAGED_BY_KEY.to_owned(), MANAGED_BY.to_owned())])),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(HOSTING_KEY.to_owned(), self.to_yaml())])),
            ..Default::default()
        }
    }
}

/// Puts the ConfigMap in `kube-public` by server-side apply, but only when it differs (a warm
/// `up` makes no write). `Created`, `Updated` or `Unchanged`.
#[tracing::instrument(skip_all, fields(host = %hosting.host))]
pub async fn apply_local_registry_hosting(
    client: &Client,
    hosting: &LocalRegistryHosting,
) -> Result<Outcome, KindError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), HOSTING_NAMESPACE);
    let want = hosting.config_map();
    let fail = |source| KindError::ApplyConfigMap { source };
    let current = api.get_opt(HOSTING_NAME).await.map_err(fail)?;
    let outcome = match &current {
        None => Outcome::Created,
        Some(cm) => {
            let labelled =
                cm.metadata.labels.as_ref().and_then(|l| l.get(MANAGED_BY_KEY)).map(String::as_str) == Some(MANAGED_BY);
            if cm.data == want.data && labelled {
                return Ok(Outcome::Unchanged);
            }
            Outcome::Updated
        }
    };
    api.patch(HOSTING_NAME, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&want)).await.map_err(fail)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_toml_is_kinds() {
        assert_eq!(hosts_dir("localhost:5001"), "/etc/containerd/certs.d/localhost:5001");
        assert_eq!(hosts_toml("nexus-dev-registry:5000"), "[host.\"http://nexus-dev-registry:5000\"]\n");
    }

    #[test]
    fn the_config_map_follows_kep_1755() {
        let h = LocalRegistryHosting::new("localhost:5001", "nexus-dev-registry:5000");
        let cm = h.config_map();
        assert_eq!(cm.metadata.name.as_deref(), Some("local-registry-hosting"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("kube-public"));
        let value: serde_yaml::Value = serde_yaml::from_str(&cm.data.unwrap()["localRegistryHosting.v1"]).unwrap();
        assert_eq!(value["host"], "localhost:5001");
        assert_eq!(value["hostFromContainerRuntime"], "localhost:5001");
        assert_eq!(value["hostFromClusterNetwork"], "nexus-dev-registry:5000");
        assert_eq!(value["help"], "https://kind.sigs.k8s.io/docs/user/local-registry/");
    }
}
