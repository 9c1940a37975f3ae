//! Port-forwards from this machine to each capability's frontend and backend Services, kept by
//! the daemon while it runs (issue #12, item 3): on KinD no ingress controller may be installed,
//! and users expect to open the app.
//!
//! One listener per Service on `127.0.0.1` (never another address), on a port the kernel picks.
//! Each accepted connection resolves the Service again — its selector and target port, then a
//! Ready pod behind it that is not being deleted — and opens a Kubernetes port-forward to that
//! pod (`Api::<Pod>::portforward`, over WebSocket). So a forward survives pod restarts and
//! rollouts: the next connection goes to whichever pod serves now, as a Service would. (A
//! connection open while its pod goes away ends with the pod, as with `kubectl port-forward`.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};

/// The workloads that get a forward, in the order they are shown.
pub const COMPONENTS: [&str; 2] = ["frontend", "backend"];

/// One forward, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Forward {
    pub component: String,
    pub namespace: String,
    pub service: String,
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    pub local_port: u16,
}

/// A forward and its accept loop, by (namespace, Service name).
type Table = BTreeMap<(String, String), (Forward, tokio::task::AbortHandle)>;

/// The daemon's forwards.
#[derive(Clone, Default)]
pub struct Forwards {
    inner: Arc<Mutex<Table>>,
}

impl Forwards {
    /// Makes sure a forward exists for the `component` Service `service` in `namespace` (the
    /// Service itself may not exist yet: connections then fail until it does); returns it.
    pub async fn ensure(
        &self,
        client: &Client,
        namespace: &str,
        service: &str,
        component: &str,
    ) -> std::io::Result<Forward> {
        let key = (namespace.to_owned(), service.to_owned());
        if let Some((f, _)) = self.inner.lock().expect("forwards lock").get(&key) {
            return Ok(f.clone());
        }
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let forward = Forward {
            component: component.to_owned(),
            namespace: namespace.to_owned(),
            service: service.to_owned(),
            url: format!("http://127.0.0.1:{port}/"),
            local_port: port,
        };
        let mut map = self.inner.lock().expect("forwards lock");
        if let Some((f, _)) = map.get(&key) {
            return Ok(f.clone()); // another request won the race; this listener is dropped
        }
        let task = tokio::spawn(accept_loop(listener, client.clone(), namespace.to_owned(), service.to_owned()));
        tracing::info!(namespace, service, port, "port-forward listening");
        map.insert(key, (forward.clone(), task.abort_handle()));
        Ok(forward)
    }

    /// The forwards of `namespace`, frontend first.
    pub fn of(&self, namespace: &str) -> Vec<Forward> {
        let mut out: Vec<Forward> = self
            .inner
            .lock()
            .expect("forwards lock")
            .values()
            .filter(|(f, _)| f.namespace == namespace)
            .map(|(f, _)| f.clone())
            .collect();
        out.sort_by_key(|f| COMPONENTS.iter().position(|c| *c == f.component).unwrap_or(usize::MAX));
        out
    }

    /// Stops every forward (the daemon is stopping).
    pub fn stop_all(&self) {
        for (_, (_, task)) in std::mem::take(&mut *self.inner.lock().expect("forwards lock")) {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, client: Client, namespace: String, service: String) {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                let (client, namespace, service) = (client.clone(), namespace.clone(), service.clone());
                tokio::spawn(async move {
                    if let Err(e) = relay(conn, &client, &namespace, &service).await {
                        tracing::warn!(%namespace, %service, error = %e, "port-forward connection failed");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(%namespace, %service, error = %e, "port-forward accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}

/// Where a connection to the Service goes now: a Ready pod behind it and the pod's port.
pub async fn resolve(client: &Client, namespace: &str, service: &str) -> Result<(String, u16), String> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let svc = services.get(service).await.map_err(|e| format!("Service {namespace}/{service}: {e}"))?;
    let spec = svc.spec.unwrap_or_default();
    let selector = spec.selector.unwrap_or_default();
    if selector.is_empty() {
        return Err(format!("Service {namespace}/{service} has no selector"));
    }
    let port =
        spec.ports.unwrap_or_default().into_iter().next().ok_or_else(|| format!("Service {service} has no ports"))?;
    let labels = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods.list(&ListParams::default().labels(&labels)).await.map_err(|e| e.to_string())?;
    let pod = pick(&list.items).ok_or_else(|| format!("no Ready pod behind Service {namespace}/{service}"))?;
    let target = match port.target_port {
        Some(IntOrString::Int(p)) => Some(p),
        Some(IntOrString::String(name)) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
        None => Some(port.port),
    };
    let target = target
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("Service {service}: cannot resolve its target port on pod {}", pod.name_any()))?;
    Ok((pod.name_any(), target))
}

/// A Ready pod that is not being deleted, the newest first (after a rollout, the new version).
pub fn pick(pods: &[Pod]) -> Option<&Pod> {
    let ready = |p: &Pod| {
        p.metadata.deletion_timestamp.is_none()
            && p.status.as_ref().is_some_and(|s| {
                s.phase.as_deref() == Some("Running")
                    && s.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
            })
    };
    pods.iter().filter(|p| ready(p)).max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// How long a new connection waits for a Ready pod (a restart or rollout in progress) before
/// it is closed.
pub const WAIT_FOR_POD: std::time::Duration = std::time::Duration::from_secs(30);

async fn relay(mut conn: TcpStream, client: &Client, namespace: &str, service: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_POD;
    let (pod, port) = loop {
        match resolve(client, namespace, service).await {
            Ok(found) => break found,
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
        }
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut pf = pods.portforward(&pod, &[port]).await.map_err(|e| format!("port-forward to pod {pod}: {e}"))?;
    let mut upstream = pf.take_stream(port).ok_or("the port-forward has no stream")?;
    let copied = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
    drop(upstream);
    let _ = pf.join().await;
    match copied {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset || e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(())
        }
        Err(e) => Err(format!("pod {pod}:{port}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(name: &str, created: i64, phase: &str, ready: bool, deleting: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.creation_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::from_second(created).unwrap()));
        if deleting {
            p.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::from_second(created + 1).unwrap()));
        }
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p
    }

    #[test]
    fn a_ready_pod_not_being_deleted_the_newest_first() {
        let pods = [
            pod("old", 10, "Running", true, false),
            pod("terminating", 30, "Running", true, true),
            pod("starting", 40, "Running", false, false),
            pod("new", 20, "Running", true, false),
            pod("pending", 50, "Pending", false, false),
        ];
        assert_eq!(pick(&pods).and_then(|p| p.metadata.name.as_deref()), Some("new"));
        assert!(pick(&pods[1..3]).is_none(), "nothing Ready: the connection waits");
    }
}
