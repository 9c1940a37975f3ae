//! Waiting for a rollout, and saying why one does not progress. The Deployment is watched (no
//! polling delay on the happy path); every couple of seconds the pods running the new image are
//! inspected, and a pod that cannot start (image pull back-off, crash loop, bad config) ends the
//! wait at once with the pod's own reason. The old ReplicaSet keeps serving meanwhile: a rolling
//! update only removes old pods once new ones are available.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as K8sEvent, Pod};
use kube::api::ListParams;
use kube::runtime::wait::await_condition;
use kube::{Api, Client};

use crate::provision::kube::apply::{Rollout, rollout};

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("the rollout of {namespace}/{name} failed: {reason}")]
    Failed { namespace: String, name: String, reason: String },
    #[error("the rollout of {namespace}/{name} did not finish within {secs}s: {state}")]
    TimedOut { namespace: String, name: String, secs: u64, state: String },
    #[error("cannot watch Deployment {namespace}/{name}: {detail}")]
    WatchDeployment { namespace: String, name: String, detail: String },
}

/// Container waiting reasons that will not resolve by waiting: Kubernetes is already backing off.
const HOPELESS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// What is wrong with the pods running `image`: `Err` when one cannot start (the rollout will
/// not finish), `Ok(Some)` for a problem that may still resolve (not ready yet, pulling),
/// `Ok(None)` when nothing is wrong.
pub fn pod_problem(pods: &[Pod], image: &str) -> Result<Option<String>, String> {
    let mut soft = None;
    for pod in pods {
        let runs_image =
            pod.spec.as_ref().is_some_and(|s| s.containers.iter().any(|c| c.image.as_deref() == Some(image)));
        if !runs_image {
            continue;
        }
        let name = pod.metadata.name.as_deref().unwrap_or("?");
        let Some(status) = &pod.status else { continue };
        for cs in status.container_statuses.iter().flatten() {
            if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
                let reason = w.reason.clone().unwrap_or_default();
                let msg = w.message.clone().filter(|m| !m.is_empty()).map(|m| format!(": {m}")).unwrap_or_default();
                let text = format!("pod {name} container {}: {reason}{msg}", cs.name);
                if HOPELESS.contains(&reason.as_str()) {
                    return Err(text);
                }
                soft.get_or_insert(text);
            } else if let Some(t) = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref())
                && cs.restart_count > 0
            {
                soft.get_or_insert(format!(
                    "pod {name} container {} restarted {} times (last exit {}{})",
                    cs.name,
                    cs.restart_count,
                    t.exit_code,
                    t.reason.as_ref().map(|r| format!(", {r}")).unwrap_or_default()
                ));
            } else if cs.state.as_ref().and_then(|s| s.running.as_ref()).is_some() && !cs.ready {
                soft.get_or_insert(format!(
                    "pod {name} container {} is running but not ready (readiness probe)",
                    cs.name
                ));
            }
        }
        if let Some(c) = status.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
            soft.get_or_insert(format!(
                "pod {name} is not scheduled: {}",
                c.message.clone().or_else(|| c.reason.clone()).unwrap_or_default()
            ));
        }
    }
    Ok(soft)
}

/// The latest `Unhealthy` event of the pods in `problem` (the failing probe's own message).
async fn probe_message(client: &Client, namespace: &str, problem: &str) -> Option<String> {
    let pod = problem.strip_prefix("pod ")?.split_whitespace().next()?;
    let events: Api<K8sEvent> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().fields(&format!("involvedObject.name={pod},reason=Unhealthy"));
    let list = events.list(&lp).await.ok()?;
    list.items.into_iter().filter_map(|e| e.message).next_back()
}

async fn diagnose(client: &Client, d: &Deployment, namespace: &str, image: &str) -> Result<Option<String>, String> {
    let selector = crate::provision::kube::apply::pod_selector(d);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await else { return Ok(None) };
    let problem = pod_problem(&list.items, image)?;
    if let Some(p) = &problem
        && p.contains("readiness probe")
        && let Some(m) = probe_message(client, namespace, p).await
    {
        return Ok(Some(format!("{p}: {m}")));
    }
    Ok(problem)
}

/// Waits until Deployment `namespace/name` has rolled out `generation` running `image`.
#[tracing::instrument(skip(client))]
pub async fn wait(
    client: &Client,
    namespace: &str,
    name: &str,
    generation: i64,
    image: &str,
    timeout: Duration,
) -> Result<(), RolloutError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let done = |d: Option<&Deployment>| {
        d.is_some_and(|d| {
            d.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0) >= generation
                && rollout(d) == Rollout::Available
        })
    };
    let available = await_condition(api.clone(), name, done);
    tokio::pin!(available);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut check =
        tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(2), Duration::from_secs(2));
    let mut last = "waiting for the Deployment controller".to_owned();
    loop {
        tokio::select! {
            r = &mut available => {
                return r.map(|_| ()).map_err(|e| RolloutError::WatchDeployment {
                    namespace: namespace.into(), name: name.into(), detail: e.to_string() });
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err(RolloutError::TimedOut {
                    namespace: namespace.into(), name: name.into(), secs: timeout.as_secs(), state: last });
            }
            _ = check.tick() => {
                let Ok(Some(d)) = api.get_opt(name).await else { continue };
                match rollout(&d) {
                    Rollout::Stuck(why) => {
                        let pods = diagnose(client, &d, namespace, image).await.unwrap_or_else(Some);
                        let reason = match pods { Some(p) => format!("{why}; {p}"), None => why };
                        return Err(RolloutError::Failed { namespace: namespace.into(), name: name.into(), reason });
                    }
                    Rollout::Progressing(why) => last = why,
                    Rollout::Available => {}
                }
                match diagnose(client, &d, namespace, image).await {
                    Err(reason) => {
                        return Err(RolloutError::Failed { namespace: namespace.into(), name: name.into(), reason });
                    }
                    Ok(Some(p)) => last = format!("{last}; {p}"),
                    Ok(None) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(image: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api-1"},
            "spec": {"containers": [{"name": "backend", "image": image}]},
            "status": status,
        }))
        .unwrap()
    }

    fn waiting(reason: &str, message: &str) -> serde_json::Value {
        serde_json::json!({"containerStatuses": [{
            "name": "backend", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": reason, "message": message}}
        }]})
    }

    #[test]
    fn image_pull_and_crash_loops_end_the_wait_with_the_pod_reason() {
        let p = pod("r/api@sha256:new", waiting("ImagePullBackOff", "Back-off pulling image"));
        let err = pod_problem(&[p], "r/api@sha256:new").unwrap_err();
        assert_eq!(err, "pod api-1 container backend: ImagePullBackOff: Back-off pulling image");
        let p = pod("r/api@sha256:new", waiting("CrashLoopBackOff", "back-off 10s restarting"));
        assert!(pod_problem(&[p], "r/api@sha256:new").unwrap_err().contains("CrashLoopBackOff"));
    }

    #[test]
    fn pods_of_the_old_image_are_not_blamed() {
        let old = pod("r/api@sha256:old", waiting("CrashLoopBackOff", ""));
        assert_eq!(pod_problem(&[old], "r/api@sha256:new"), Ok(None));
    }

    #[test]
    fn transient_states_and_failing_probes_are_reported_softly() {
        let pulling = pod("i", waiting("ContainerCreating", ""));
        assert_eq!(pod_problem(&[pulling], "i"), Ok(Some("pod api-1 container backend: ContainerCreating".into())));
        let unready = pod(
            "i",
            serde_json::json!({"containerStatuses": [{
                "name": "backend", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
            }]}),
        );
        assert!(pod_problem(&[unready], "i").unwrap().unwrap().contains("not ready (readiness probe)"));
        let restarted = pod(
            "i",
            serde_json::json!({"containerStatuses": [{
                "name": "backend", "image": "i", "imageID": "", "ready": true, "restartCount": 3,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
            }]}),
        );
        assert_eq!(
            pod_problem(&[restarted], "i"),
            Ok(Some("pod api-1 container backend restarted 3 times (last exit 137, OOMKilled)".into()))
        );
        let unscheduled = pod(
            "i",
            serde_json::json!({"conditions": [{"type": "PodScheduled", "status": "False", "message": "0/1 nodes"}]}),
        );
        assert_eq!(pod_problem(&[unscheduled], "i"), Ok(Some("pod api-1 is not scheduled: 0/1 nodes".into())));
        let healthy = pod(
            "i",
            serde_json::json!({"containerStatuses": [{
                "name": "backend", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                "state": {"running": {}}
            }]}),
        );
        assert_eq!(pod_problem(&[healthy], "i"), Ok(None));
    }
}
