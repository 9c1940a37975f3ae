//! Where live sync copies files: running Docker containers (the Docker API's archive upload and
//! exec) or Kubernetes pods (exec of `tar -x` with the archive on stdin, what `kubectl cp`
//! does). One narrow interface — upload, run — so the engine does not care which.

use bollard::Docker;
use bollard::query_parameters::UploadToContainerOptionsBuilder;
use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, ListParams};
use kube::{Api, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::exec::{self, Output};
use super::sync::SyncError;

/// Where a component's running version can be found, for sync.
#[derive(Clone)]
pub enum SyncTo {
    /// Nothing to sync into: sync changes rebuild instead.
    Nowhere,
    /// Named Docker containers (a Docker Compose-style setup, or a test's stand-in for a pod).
    Docker { docker: Docker, containers: Vec<String> },
    /// The running pods of a Deployment, in their `container`.
    Pods { client: Client, namespace: String, deployment: String, container: String },
}

impl std::fmt::Debug for SyncTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncTo::Nowhere => write!(f, "Nowhere"),
            SyncTo::Docker { containers, .. } => write!(f, "Docker({containers:?})"),
            SyncTo::Pods { namespace, deployment, container, .. } => {
                write!(f, "Pods({namespace}/{deployment}, container {container})")
            }
        }
    }
}

/// One running container to sync into.
pub enum SyncTarget {
    Docker { docker: Docker, container: String },
    Pod { pods: Box<Api<Pod>>, pod: String, container: String },
}

impl SyncTarget {
    pub fn describe(&self) -> String {
        match self {
            SyncTarget::Docker { container, .. } => format!("container {container}"),
            SyncTarget::Pod { pod, container, .. } => format!("pod {pod} ({container})"),
        }
    }

    /// Unpacks `archive` at `/`.
    pub async fn upload(&self, archive: Bytes) -> Result<(), SyncError> {
        match self {
            SyncTarget::Docker { docker, container } => docker
                .upload_to_container(
                    container,
                    Some(UploadToContainerOptionsBuilder::default().path("/").build()),
                    bollard::body_full(archive),
                )
                .await
                .map_err(|e| SyncError::Upload { target: self.describe(), detail: e.to_string() }),
            SyncTarget::Pod { .. } => {
                let cmd = ["tar", "-xmf", "-", "-C", "/"].map(String::from);
                let out = self.run_with(&cmd, Some(archive)).await?;
                if out.success() {
                    Ok(())
                } else {
                    Err(SyncError::Upload { target: self.describe(), detail: pod_hint(&out) })
                }
            }
        }
    }

    /// Runs a command to the end, as the container's user.
    pub async fn run(&self, cmd: &[String]) -> Result<Output, SyncError> {
        self.run_with(cmd, None).await
    }

    /// Removes `paths`. In a Docker container as root: the daemon unpacked the uploads as root.
    /// In a pod as its user, who unpacked them.
    pub async fn remove(&self, paths: &[String]) -> Result<(), SyncError> {
        let cmd: Vec<String> = ["rm", "-rf", "--"].iter().map(|s| s.to_string()).chain(paths.iter().cloned()).collect();
        let out = match self {
            SyncTarget::Docker { docker, container } => exec::run(docker, container, &cmd, Some("0"), exec::no_stdin())
                .await
                .map_err(|e| SyncError::Remove { target: self.describe(), detail: e.to_string() })?,
            SyncTarget::Pod { .. } => self.run(&cmd).await?,
        };
        if out.success() { Ok(()) } else { Err(SyncError::Remove { target: self.describe(), detail: out.tail(5) }) }
    }

    async fn run_with(&self, cmd: &[String], stdin: Option<Bytes>) -> Result<Output, SyncError> {
        let fail = |detail: String| SyncError::RunAfterSync { target: self.describe(), command: cmd.join(" "), detail };
        match self {
            SyncTarget::Docker { docker, container } => {
                let input = stdin.map(|b| futures::stream::iter([Ok::<_, std::io::Error>(b)]));
                exec::run(docker, container, cmd, None, input).await.map_err(|e| fail(e.to_string()))
            }
            SyncTarget::Pod { pods, pod, container } => {
                let params =
                    AttachParams::default().container(container).stdin(stdin.is_some()).stdout(true).stderr(true);
                let mut attached = pods.exec(pod, cmd.to_vec(), &params).await.map_err(|e| fail(e.to_string()))?;
                if let (Some(bytes), Some(mut w)) = (stdin, attached.stdin()) {
                    w.write_all(&bytes).await.map_err(|e| fail(e.to_string()))?;
                    w.shutdown().await.map_err(|e| fail(e.to_string()))?;
                }
                let mut text = String::new();
                if let Some(mut r) = attached.stdout() {
                    let _ = r.read_to_string(&mut text).await;
                }
                if let Some(mut r) = attached.stderr() {
                    let _ = r.read_to_string(&mut text).await;
                }
                let status = match attached.take_status() {
                    Some(s) => s.await,
                    None => None,
                };
                let _ = attached.join().await;
                Ok(Output { exit_code: pod_exit_code(status.as_ref()), output: text })
            }
        }
    }
}

/// The exit code of a pod exec from its final status (`Success`, or a `NonZeroExitCode` cause).
pub fn pod_exit_code(status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> i64 {
    let Some(s) = status else { return -1 };
    if s.status.as_deref() == Some("Success") {
        return 0;
    }
    s.details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_ref())
        .and_then(|m| m.parse().ok())
        .unwrap_or(1)
}

/// Hardened pods mount the root file system read-only; say so when that is why a copy failed.
fn pod_hint(out: &Output) -> String {
    let mut s = out.tail(5);
    if s.contains("Read-only file system") {
        s.push_str(
            "\n  hint: the pod's root file system is read-only (readOnlyRootFilesystem); sync to a writable volume such as /tmp",
        );
    }
    s
}

/// The running containers of `to`.
pub async fn resolve(to: &SyncTo, component: &str) -> Result<Vec<SyncTarget>, SyncError> {
    let list_err = |e: Box<dyn std::error::Error + Send + Sync>| SyncError::ListTargets {
        component: component.to_owned(),
        source: e,
    };
    let targets = match to {
        SyncTo::Nowhere => Vec::new(),
        SyncTo::Docker { docker, containers } => {
            let mut out = Vec::new();
            for c in containers {
                let info = docker
                    .inspect_container(c, None::<bollard::query_parameters::InspectContainerOptions>)
                    .await
                    .map_err(|e| list_err(Box::new(e)))?;
                if info.state.and_then(|s| s.running).unwrap_or(false) {
                    out.push(SyncTarget::Docker { docker: docker.clone(), container: c.clone() });
                }
            }
            out
        }
        SyncTo::Pods { client, namespace, deployment, container } => {
            let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), namespace);
            let d = deployments.get(deployment).await.map_err(|e| list_err(Box::new(e)))?;
            let selector = crate::provision::kube::apply::pod_selector(&d);
            let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
            let list = pods.list(&ListParams::default().labels(&selector)).await.map_err(|e| list_err(Box::new(e)))?;
            list.items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .filter_map(|p| p.metadata.name)
                .map(|pod| SyncTarget::Pod { pods: Box::new(pods.clone()), pod, container: container.clone() })
                .collect()
        }
    };
    if targets.is_empty() {
        let detail = match to {
            SyncTo::Nowhere => String::new(),
            other => format!(" ({other:?})"),
        };
        return Err(SyncError::NoTarget { component: component.to_owned(), detail });
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

    #[test]
    fn pod_exec_exit_codes_come_from_the_final_status() {
        assert_eq!(pod_exit_code(None), -1);
        let ok = Status { status: Some("Success".into()), ..Default::default() };
        assert_eq!(pod_exit_code(Some(&ok)), 0);
        let failed = Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some("2".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(pod_exit_code(Some(&failed)), 2);
    }

    #[test]
    fn read_only_root_file_systems_get_a_hint() {
        let out = Output { exit_code: 2, output: "tar: app/x: Cannot open: Read-only file system\n".into() };
        assert!(pod_hint(&out).contains("sync to a writable volume"));
    }
}
