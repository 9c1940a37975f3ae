//! The socket server and the daemon's background duties.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use futures::{AsyncBufReadExt as _, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::{Api, ResourceExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use super::protocol::{CapabilityStatus, Data, Reply, Request};
use super::{Daemon, DaemonError, PROJECT_LABEL};
use crate::model::spec::{NexusAICapability, Phase};

/// Binds the socket, readable and writable by its owner only.
pub(super) fn listen(path: &Path) -> Result<UnixListener, DaemonError> {
    // A socket left by a daemon that died: the lock (held by now) proves nobody serves it.
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).map_err(|source| DaemonError::Listen { path: path.display().to_string(), source })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|source| DaemonError::Listen { path: path.display().to_string(), source })?;
    Ok(listener)
}

/// Connections served at once; more wait in the kernel's backlog (issue #11: 20,000 idle
/// connections must not starve `ping`).
const MAX_CONNECTIONS: usize = 256;
/// A client that sends no complete request line within this is dropped (clients write their
/// request as soon as they connect).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// The longest request line: requests are a few dozen bytes of JSON.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;

pub(super) async fn serve(
    d: Arc<Daemon>,
    listener: UnixListener,
    stop: watch::Sender<bool>,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = std::time::Duration::from_millis(5);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stopped.wait_for(|s| *s) => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|s| *s) => return,
        };
        match accepted {
            Ok((stream, _)) => {
                backoff = std::time::Duration::from_millis(5);
                let (d, stop) = (d.clone(), stop.clone());
                tokio::spawn(async move {
                    handle(d, stream, stop).await;
                    drop(permit);
                });
            }
            // Out of file descriptors, for instance: wait instead of spinning.
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
            }
        }
    }
}

/// Reads one request line: bounded in length and in time.
/// Bytes after the line may be read and dropped: a client that goes on writing on the same
/// connection (a watch session) waits for the answer first.
async fn request_line(r: &mut tokio::net::unix::OwnedReadHalf) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let mut line = Vec::new();
    let mut bounded = BufReader::new(r.take(MAX_REQUEST_BYTES + 1));
    match tokio::time::timeout(REQUEST_TIMEOUT, bounded.read_until(b'\n', &mut line)).await {
        Err(_) => Err(format!("no request within {}s", REQUEST_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(_)) if line.len() as u64 > MAX_REQUEST_BYTES => {
            Err(format!("request longer than {} KiB", MAX_REQUEST_BYTES / 1024))
        }
        Ok(Ok(_)) => String::from_utf8(line).map_err(|_| "request is not UTF-8".to_owned()),
    }
}

async fn send(w: &mut (impl AsyncWriteExt + Unpin), r: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r).unwrap_or_default();
    line.push(b'\n');
    w.write_all(&line).await
}

async fn handle(d: Arc<Daemon>, stream: UnixStream, stop: watch::Sender<bool>) {
    let (mut r, mut w) = stream.into_split();
    let line = match request_line(&mut r).await {
        Ok(l) if l.trim().is_empty() => return,
        Ok(l) => l,
        Err(e) => {
            let _ = send(&mut w, &Reply::error(e)).await;
            return;
        }
    };
    let req: Request = match serde_json::from_str(line.trim_end()) {
        Ok(r) => r,
        Err(e) => {
            let _ = send(&mut w, &Reply::error(format!("unknown request: {e}"))).await;
            return;
        }
    };
    tracing::debug!(?req, "request");
    let reply = match req {
        Request::Ping => Reply::data(Data::Pong {
            project: d.project_id.clone(),
            pid: std::process::id(),
            profile: d.profile.name.clone(),
        }),
        Request::Apply => match super::apply_project(&d).await {
            Ok(applied) => Reply::data(Data::Applied { applied }),
            Err(e) => Reply::error(e),
        },
        Request::Status => match status(&d).await {
            Ok(caps) => Reply::data(Data::Status(caps)),
            Err(e) => Reply::error(e.to_string()),
        },
        Request::Logs { capability, component, follow } => {
            if let Err(e) = logs(&d, capability.as_deref(), component.as_deref(), follow, &mut w).await {
                Reply::error(e)
            } else {
                Reply::done()
            }
        }
        Request::Watch { components } => {
            super::watching::serve(&d.builds, &d.logs, components, r, w).await;
            return;
        }
        Request::Shutdown => {
            let _ = send(&mut w, &Reply::data(Data::Stopping { stopping: true })).await;
            let _ = stop.send(true);
            return;
        }
    };
    let _ = send(&mut w, &reply).await;
}

pub(super) async fn capabilities(d: &Daemon) -> Result<Vec<NexusAICapability>, kube::Error> {
    let api: Api<NexusAICapability> = Api::all(d.client.clone());
    Ok(api.list(&ListParams::default().labels(&format!("{PROJECT_LABEL}={}", d.project_id))).await?.items)
}

/// A forward for the frontend and backend Service of each of the project's capabilities.
async fn ensure_forwards(d: &Daemon, caps: &[NexusAICapability]) {
    for c in caps {
        let names = crate::model::names::Names::of(&c.spec);
        let namespace = c.namespace().unwrap_or_else(|| names.namespace());
        for component in super::forward::COMPONENTS {
            if let Err(e) = d.forwards.ensure(&d.client, &namespace, &names.service(component), component).await {
                tracing::warn!(%namespace, component, error = %e, "cannot listen for a port-forward");
            }
        }
    }
}

/// Keeps a forward for every capability of the project (also those applied by hand).
pub(super) async fn keep_forwards(d: Arc<Daemon>) {
    loop {
        if let Ok(caps) = capabilities(&d).await {
            ensure_forwards(&d, &caps).await;
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

async fn status(d: &Daemon) -> Result<Vec<CapabilityStatus>, kube::Error> {
    let caps = capabilities(d).await?;
    ensure_forwards(d, &caps).await;
    Ok(caps
        .iter()
        .map(|c| {
            let st = c.status.clone().unwrap_or_default();
            CapabilityStatus {
                forwards: d.forwards.of(&c.namespace().unwrap_or_default()),
                namespace: c.namespace(),
                name: c.name_any(),
                capability: c.spec.capability_name.clone(),
                environment: c.spec.environment.clone(),
                generation: c.metadata.generation,
                observed_generation: st.observed_generation,
                phase: st.phase.unwrap_or(Phase::Pending),
                message: st.message,
                ready: st.resources.iter().filter(|r| r.state == "Ready").count(),
                resources: st.resources.len(),
                endpoints: st.endpoints,
            }
        })
        .collect())
}

/// Streams the logs of the selected workloads' pods. Pods on nodes without a container runtime
/// (kwok) have none; that is said plainly.
async fn logs(
    d: &Daemon,
    capability: Option<&str>,
    component: Option<&str>,
    follow: bool,
    w: &mut (impl AsyncWriteExt + Unpin),
) -> Result<(), String> {
    let caps = capabilities(d).await.map_err(|e| e.to_string())?;
    let chosen: Vec<_> = caps.iter().filter(|c| capability.is_none_or(|n| c.spec.capability_name == n)).collect();
    if chosen.is_empty() {
        let known: Vec<_> = caps.iter().map(|c| c.spec.capability_name.clone()).collect();
        return Err(format!(
            "no capability {} in this project (it has: {})",
            capability.unwrap_or("at all"),
            known.join(", ")
        ));
    }
    let mut streams = Vec::new();
    for c in chosen {
        let names = crate::model::names::Names::of(&c.spec);
        let pods: Api<Pod> = Api::namespaced(d.client.clone(), &names.namespace());
        let mut selector = format!("app.kubernetes.io/instance={}", names.stem());
        if let Some(comp) = component {
            selector.push_str(&format!(",app.kubernetes.io/component={comp}"));
        }
        let list = pods.list(&ListParams::default().labels(&selector)).await.map_err(|e| e.to_string())?;
        if list.items.is_empty() {
            let _ = send(w, &Reply::line(format!("{}: no pods yet", names.stem()))).await;
        }
        for pod in list.items {
            let pod_name = pod.name_any();
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
            let params = LogParams { follow, tail_lines: Some(100), ..Default::default() };
            match pods.log_stream(&pod_name, &params).await {
                Ok(stream) => streams.push((pod_name, stream)),
                Err(e) => {
                    let why = if node.starts_with("kwok") {
                        format!(
                            "pod {pod_name} runs on {node}, a simulated node with no container runtime: it has no logs"
                        )
                    } else {
                        format!("cannot read the logs of pod {pod_name} on {node}: {e}")
                    };
                    let _ = send(w, &Reply::line(why)).await;
                }
            }
        }
    }
    let mut merged = futures::stream::select_all(
        streams.into_iter().map(|(pod, s)| s.lines().map(move |l| (pod.clone(), l)).boxed()),
    );
    while let Some((pod, line)) = merged.next().await {
        let Ok(line) = line else { break };
        if send(w, &Reply::line(format!("{pod} | {line}"))).await.is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_from(send: Vec<u8>, close: bool) -> Result<String, String> {
        let (a, mut b) = UnixStream::pair().unwrap();
        let writer = tokio::spawn(async move {
            let _ = b.write_all(&send).await;
            if !close {
                tokio::time::sleep(REQUEST_TIMEOUT * 2).await;
            }
        });
        let (mut r, _w) = a.into_split();
        let out = request_line(&mut r).await;
        writer.abort();
        out
    }

    #[tokio::test]
    async fn request_lines_are_bounded_in_length_and_time() {
        assert_eq!(read_from(b"{\"request\":\"ping\"}\n".to_vec(), false).await.unwrap(), "{\"request\":\"ping\"}\n");
        let huge = vec![b'x'; MAX_REQUEST_BYTES as usize * 4];
        let err = read_from(huge, true).await.unwrap_err();
        assert!(err.contains("longer than 64 KiB"), "{err}");
        let err = read_from(b"{\"request\"".to_vec(), false).await.unwrap_err();
        assert!(err.contains("no request within 2s"), "{err}");
    }
}
