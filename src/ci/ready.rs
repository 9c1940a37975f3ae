//! Readiness for `nexus-dev ci`: what in the capabilities' namespaces will not get better by
//! waiting (an image that cannot be pulled, a container that crashes, a failed Pod or Job), and
//! whether every Job has completed. `Watch` remembers when each problem was first seen, so
//! that one blip (a pull retried once) fails nothing within the grace period.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};

/// Waiting reasons that only a change fixes.
const FATAL_WAITING: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// One object that is not going to be ready, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `pod/NAMESPACE/NAME` or `job/NAMESPACE/NAME`.
    pub object: String,
    /// The container, for a container's problem.
    pub container: Option<String>,
    pub reason: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.container {
            Some(c) => write!(f, "{} (container {c}): {}", self.object, self.reason)?,
            None => write!(f, "{}: {}", self.object, self.reason)?,
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// The problems of `pods` and `jobs` now.
pub fn problems(pods: &[Pod], jobs: &[Job]) -> Vec<Problem> {
    let mut found = Vec::new();
    for p in pods {
        let object = format!(
            "pod/{}/{}",
            p.metadata.namespace.as_deref().unwrap_or_default(),
            p.metadata.name.as_deref().unwrap_or_default()
        );
        let Some(status) = &p.status else { continue };
        if status.phase.as_deref() == Some("Failed") {
            found.push(Problem {
                object: object.clone(),
                container: None,
                reason: status.reason.clone().unwrap_or_else(|| "Failed".into()),
                message: status.message.clone().unwrap_or_default(),
            });
            continue;
        }
        let containers =
            status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
        for c in containers {
            let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) else { continue };
            let reason = waiting.reason.clone().unwrap_or_default();
            if FATAL_WAITING.contains(&reason.as_str()) {
                found.push(Problem {
                    object: object.clone(),
                    container: Some(c.name.clone()),
                    reason,
                    message: waiting.message.clone().unwrap_or_default(),
                });
            }
        }
    }
    for j in jobs {
        let failed = j
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .find(|c| c.type_ == "Failed" && c.status == "True");
        if let Some(c) = failed {
            found.push(Problem {
                object: format!(
                    "job/{}/{}",
                    j.metadata.namespace.as_deref().unwrap_or_default(),
                    j.metadata.name.as_deref().unwrap_or_default()
                ),
                container: None,
                reason: c.reason.clone().unwrap_or_else(|| "Failed".into()),
                message: c.message.clone().unwrap_or_default(),
            });
        }
    }
    found
}

/// Jobs that have not completed yet, as `job/NAMESPACE/NAME`.
pub fn incomplete_jobs(jobs: &[Job]) -> Vec<String> {
    jobs.iter()
        .filter(|j| {
            !j.status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
        .map(|j| {
            format!(
                "job/{}/{}",
                j.metadata.namespace.as_deref().unwrap_or_default(),
                j.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// Deployments whose rollout has not finished, as `deployment/NAMESPACE/NAME`: a capability
/// is Running while its old Pods serve, but the tests must meet the new ones.
pub fn unrolled(deployments: &[Deployment]) -> Vec<String> {
    deployments
        .iter()
        .filter(|d| {
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let s = d.status.clone().unwrap_or_default();
            s.observed_generation != d.metadata.generation
                || s.updated_replicas.unwrap_or(0) < want
                || s.available_replicas.unwrap_or(0) < want
                || s.replicas.unwrap_or(0) > want
        })
        .map(|d| {
            format!(
                "deployment/{}/{}",
                d.metadata.namespace.as_deref().unwrap_or_default(),
                d.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// What the namespaces hold now (a namespace not there yet holds nothing).
#[derive(Debug, Default)]
pub struct Workloads {
    pub pods: Vec<Pod>,
    pub jobs: Vec<Job>,
    pub deployments: Vec<Deployment>,
}

impl Workloads {
    pub async fn read(client: &Client, namespaces: &[String]) -> Result<Self, kube::Error> {
        let mut w = Self::default();
        for ns in namespaces {
            w.pods.extend(Api::<Pod>::namespaced(client.clone(), ns).list(&Default::default()).await?.items);
            w.jobs.extend(Api::<Job>::namespaced(client.clone(), ns).list(&Default::default()).await?.items);
            w.deployments
                .extend(Api::<Deployment>::namespaced(client.clone(), ns).list(&Default::default()).await?.items);
        }
        Ok(w)
    }

    pub fn problems(&self) -> Vec<Problem> {
        problems(&self.pods, &self.jobs)
    }

    /// What is still on its way: rollouts, then Jobs.
    pub fn waiting(&self) -> Vec<String> {
        let mut w = unrolled(&self.deployments);
        w.extend(incomplete_jobs(&self.jobs));
        w
    }
}

/// Problems seen over time: each fails the run once it has lasted `grace`.
pub struct Watch {
    grace: Duration,
    first_seen: HashMap<(String, Option<String>, String), Instant>,
}

impl Watch {
    pub fn new(grace: Duration) -> Self {
        Self { grace, first_seen: HashMap::new() }
    }

    /// Takes the problems seen `now`; returns those that lasted the grace period. A problem
    /// no longer seen is forgotten.
    pub fn observe(&mut self, seen: Vec<Problem>, now: Instant) -> Vec<Problem> {
        let key = |p: &Problem| (p.object.clone(), p.container.clone(), p.reason.clone());
        self.first_seen.retain(|k, _| seen.iter().any(|p| &key(p) == k));
        seen.into_iter()
            .filter(|p| {
                let since = *self.first_seen.entry(key(p)).or_insert(now);
                now.duration_since(since) >= self.grace
            })
            .collect()
    }
}

/// Polls the namespaces every second until a problem lasts `grace`; returns it. Never returns
/// otherwise (the caller races it against the work it watches). A cluster that does not answer
/// yet (kind still being made) is tried again.
pub async fn first_lasting_problem(
    client: impl Fn() -> futures::future::BoxFuture<'static, Option<Client>>,
    namespaces: &[String],
    grace: Duration,
) -> Vec<Problem> {
    let mut watch = Watch::new(grace);
    let mut connected: Option<Client> = None;
    loop {
        if connected.is_none() {
            connected = client().await;
        }
        if let Some(c) = &connected
            && let Ok(w) = Workloads::read(c, namespaces).await
        {
            let lasting = watch.observe(w.problems(), Instant::now());
            if !lasting.is_empty() {
                return lasting;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, waiting: Option<&str>, phase: &str) -> Pod {
        let state = match waiting {
            Some(r) => serde_json::json!({"waiting": {"reason": r, "message": "pull access denied"}}),
            None => serde_json::json!({"running": {}}),
        };
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "app-dev"},
            "status": {"phase": phase, "containerStatuses": [{
                "name": "main", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": state
            }]}
        }))
        .unwrap()
    }

    fn job(name: &str, condition: Option<&str>) -> Job {
        let conditions: Vec<_> = condition
            .map(|c| serde_json::json!({"type": c, "status": "True", "reason": "BackoffLimitExceeded"}))
            .into_iter()
            .collect();
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "app-dev"},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    #[test]
    fn pull_and_crash_failures_name_the_pod_container_and_reason() {
        let pods = [
            pod("a", Some("ImagePullBackOff"), "Pending"),
            pod("b", Some("ContainerCreating"), "Pending"),
            pod("c", None, "Running"),
            pod("d", Some("CrashLoopBackOff"), "Running"),
            pod("e", None, "Failed"),
        ];
        let found = problems(&pods, &[]);
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "pod/app-dev/a (container main): ImagePullBackOff: pull access denied",
                "pod/app-dev/d (container main): CrashLoopBackOff: pull access denied",
                "pod/app-dev/e: Failed",
            ]
        );
    }

    #[test]
    fn jobs_fail_complete_or_are_waited_for() {
        let jobs = [job("done", Some("Complete")), job("bad", Some("Failed")), job("running", None)];
        assert_eq!(problems(&[], &jobs)[0].to_string(), "job/app-dev/bad: BackoffLimitExceeded");
        assert_eq!(incomplete_jobs(&jobs), ["job/app-dev/bad", "job/app-dev/running"]);
    }

    #[test]
    fn a_rollout_is_done_when_every_replica_is_new_and_available() {
        let d = |generation: i64, observed: i64, updated: i32, available: i32, total: i32| -> Deployment {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "b", "namespace": "app-dev", "generation": generation},
                "spec": {"replicas": 2, "selector": {}, "template": {}},
                "status": {"observedGeneration": observed, "updatedReplicas": updated,
                           "availableReplicas": available, "replicas": total}
            }))
            .unwrap()
        };
        assert!(unrolled(&[d(2, 2, 2, 2, 2)]).is_empty());
        assert_eq!(unrolled(&[d(3, 2, 2, 2, 2)]), ["deployment/app-dev/b"], "not observed yet");
        assert_eq!(unrolled(&[d(2, 2, 1, 2, 3)]), ["deployment/app-dev/b"], "old Pods still serve");
    }

    #[test]
    fn a_problem_fails_only_once_it_has_lasted_the_grace_period() {
        let mut w = Watch::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let p = || problems(&[pod("a", Some("ErrImagePull"), "Pending")], &[]);
        assert!(w.observe(p(), t0).is_empty());
        assert!(w.observe(p(), t0 + Duration::from_secs(9)).is_empty());
        assert_eq!(w.observe(p(), t0 + Duration::from_secs(10)).len(), 1);
        // Gone, then back: the clock starts again.
        assert!(w.observe(Vec::new(), t0 + Duration::from_secs(11)).is_empty());
        assert!(w.observe(p(), t0 + Duration::from_secs(12)).is_empty());
    }
}
