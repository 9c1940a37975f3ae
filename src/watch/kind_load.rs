//! Delivering an image without a registry: what `kind load docker-image` does (kind's
//! `pkg/cluster/nodeutils`), through the Docker API. The image is exported (`docker save`) and
//! streamed into each node container's `ctr --namespace=k8s.io images import … -` by a Docker
//! exec with stdin; the node's containerd then has the image and a Deployment naming its tag
//! starts without a pull (TESTBED-NOTES.md §5).

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::exec::{self, Output};

/// containerd's snapshotter in kind nodes (kind reads it from `containerd config dump`; every
/// kind node image uses overlayfs).
pub const SNAPSHOTTER: &str = "overlayfs";

/// The label kind puts on its node containers.
pub const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot list the nodes of kind cluster {cluster}: {source}")]
    ListNodes { cluster: String, source: bollard::errors::Error },
    #[error("kind cluster {cluster} has no running node containers\n  hint: start it with `nexus-dev up`")]
    NoNodes { cluster: String },
    #[error("cannot import {image} into node {node}: {source}")]
    Import { image: String, node: String, source: exec::ExecError },
    #[error("importing {image} into node {node} failed (exit {exit_code}): {output}")]
    ImportFailed { image: String, node: String, exit_code: i64, output: String },
}

/// The command that imports an image archive from stdin into a node's containerd.
pub fn import_command(snapshotter: &str) -> Vec<String> {
    [
        "ctr",
        "--namespace=k8s.io",
        "images",
        "import",
        "--all-platforms",
        "--digests",
        &format!("--snapshotter={snapshotter}"),
        "-",
    ]
    .map(String::from)
    .to_vec()
}

/// The running node containers of kind cluster `cluster`.
pub async fn nodes(docker: &Docker, cluster: &str) -> Result<Vec<String>, LoadError> {
    let filters: HashMap<String, Vec<String>> =
        [("label".to_owned(), vec![format!("{CLUSTER_LABEL}={cluster}")])].into();
    let list = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().filters(&filters).build()))
        .await
        .map_err(|source| LoadError::ListNodes { cluster: cluster.to_owned(), source })?;
    let mut names: Vec<String> = list
        .into_iter()
        .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
        .map(|n| n.trim_start_matches('/').to_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(LoadError::NoNodes { cluster: cluster.to_owned() });
    }
    Ok(names)
}

/// Streams `image` (as `docker save` writes it) into `command` in each node; `command` is
/// [`import_command`] for real nodes.
#[tracing::instrument(skip(docker, command))]
pub async fn load(docker: &Docker, image: &str, nodes: &[String], command: &[String]) -> Result<(), LoadError> {
    for node in nodes {
        // One export per node: the archive is streamed, never held in memory.
        let archive = Box::pin(docker.export_image(image));
        let out: Output = exec::run(docker, node, command, None, Some(archive))
            .await
            .map_err(|source| LoadError::Import { image: image.to_owned(), node: node.clone(), source })?;
        if !out.success() {
            return Err(LoadError::ImportFailed {
                image: image.to_owned(),
                node: node.clone(),
                exit_code: out.exit_code,
                output: out.tail(10),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_command_is_kinds() {
        assert_eq!(
            import_command(SNAPSHOTTER).join(" "),
            "ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -"
        );
    }
}
