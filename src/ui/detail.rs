//! The capability view's live detail (issue 16: "pod (phase, restarts, containers)",
//! "Kubernetes object (readiness, recent events)"): the pods of a capability's Deployments and
//! the recent Events of its namespace, summarised from what the daemon's feed watches. Pure.
//!
//! A pod is a capability's when nexus-dev manages it and its `nexus.ai/owner` annotation names
//! the capability ([`owner`]); the log collector follows the same pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use crate::provision::kube::objects::OWNER_ANNOTATION;

/// Recent events kept per capability, newest first.
pub const EVENTS: usize = 20;

/// One container of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub ready: bool,
    pub restarts: i32,
    /// `running`, `waiting`, `terminated`, or `unknown` before the kubelet reports it.
    pub state: String,
    /// Why it waits or ended: `CrashLoopBackOff`, `ImagePullBackOff`, `Error`, `Completed`…
    pub reason: Option<String>,
    pub message: Option<String>,
    /// How its previous run ended (`OOMKilled`, `Error (exit 1)`), after a restart.
    pub last_termination: Option<String>,
}

/// One pod of a capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    pub name: String,
    /// Its Deployment, `namespace/name`.
    pub workload: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: String,
    /// Every container ready (the pod's `Ready` condition).
    pub ready: bool,
    /// Restarts of all its containers.
    pub restarts: i32,
    pub node: Option<String>,
    /// When it started (ms since the epoch).
    pub started_at: Option<u64>,
    /// The most telling reason it is not well: a container's (`CrashLoopBackOff`) or the pod's
    /// (`Unschedulable`).
    pub reason: Option<String>,
    pub containers: Vec<ContainerView>,
}

/// One recent Kubernetes Event of a capability's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    pub message: String,
    /// What it is about: `Pod/myapp-dev-backend-7c9d-x2x9z`.
    pub object: String,
    pub count: i32,
    /// When it was last seen (ms since the epoch).
    pub last_seen: Option<u64>,
}

/// The capability (`namespace/name`) that owns a pod, from its annotation.
pub fn owner(pod: &Pod) -> Option<&str> {
    pod.metadata.annotations.as_ref()?.get(OWNER_ANNOTATION).map(String::as_str)
}

/// The Deployment a pod belongs to: its ReplicaSet's name without the pod template's hash.
pub fn workload(pod: &Pod) -> String {
    let hash = pod.labels().get("pod-template-hash");
    pod.owner_references()
        .iter()
        .find(|o| o.kind == "ReplicaSet")
        .map(|rs| match hash.and_then(|h| rs.name.strip_suffix(&format!("-{h}"))) {
            Some(deployment) => deployment.to_owned(),
            None => rs.name.clone(),
        })
        .unwrap_or_else(|| pod.name_any())
}

fn ms(t: &Time) -> u64 {
    t.0.as_millisecond().max(0) as u64
}

fn container(spec_image: Option<&str>, s: Option<&ContainerStatus>, name: &str) -> ContainerView {
    let state = s.and_then(|s| s.state.as_ref());
    let (state_name, reason, message) = match state {
        Some(ContainerState { waiting: Some(w), .. }) => ("waiting", w.reason.clone(), w.message.clone()),
        Some(ContainerState { terminated: Some(t), .. }) => ("terminated", t.reason.clone(), t.message.clone()),
        Some(ContainerState { running: Some(_), .. }) => ("running", None, None),
        _ => ("unknown", None, None),
    };
    let last_termination = s.and_then(|s| s.last_state.as_ref()).and_then(|l| l.terminated.as_ref()).map(|t| {
        let reason = t.reason.clone().unwrap_or_else(|| "Terminated".into());
        if t.exit_code != 0 { format!("{reason} (exit {})", t.exit_code) } else { reason }
    });
    ContainerView {
        name: name.to_owned(),
        image: s
            .map(|s| s.image.clone())
            .filter(|i| !i.is_empty())
            .or(spec_image.map(str::to_owned))
            .unwrap_or_default(),
        ready: s.is_some_and(|s| s.ready),
        restarts: s.map_or(0, |s| s.restart_count),
        state: state_name.to_owned(),
        reason,
        message,
        last_termination,
    }
}

/// What the page shows of a pod: its phase, readiness, restarts and containers (init
/// containers only while one of them has not finished: a pod stuck there says why).
pub fn pod(p: &Pod) -> PodView {
    let spec = p.spec.as_ref();
    let status = p.status.as_ref();
    let statuses = status.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
    let inits = status.and_then(|s| s.init_container_statuses.as_deref()).unwrap_or_default();
    let mut containers: Vec<ContainerView> = spec
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| container(c.image.as_deref(), statuses.iter().find(|s| s.name == c.name), &c.name))
        .collect();
    let stuck_init = inits.iter().filter(|s| s.state.as_ref().is_none_or(|st| st.terminated.is_none()));
    let init_image = |name: &str| {
        spec.and_then(|s| s.init_containers.as_ref()).and_then(|c| c.iter().find(|c| c.name == name)?.image.clone())
    };
    let stuck: Vec<ContainerView> =
        stuck_init.map(|s| container(init_image(&s.name).as_deref(), Some(s), &format!("{} (init)", s.name))).collect();
    containers.splice(0..0, stuck);
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    let unscheduled = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False"))
        .and_then(|c| c.reason.clone());
    let reason = containers
        .iter()
        .filter(|c| c.state != "running")
        .find_map(|c| c.reason.clone().filter(|r| r != "Completed"))
        .or(unscheduled)
        .or_else(|| status.and_then(|s| s.reason.clone()));
    PodView {
        name: p.name_any(),
        workload: format!("{}/{}", p.namespace().unwrap_or_default(), workload(p)),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into()),
        ready,
        restarts: containers.iter().map(|c| c.restarts).sum(),
        node: spec.and_then(|s| s.node_name.clone()),
        started_at: status.and_then(|s| s.start_time.as_ref()).map(ms),
        reason,
        containers,
    }
}

/// The pods of every capability, by its key, each list in name order.
pub fn pods_by_owner(pods: &[Arc<Pod>]) -> BTreeMap<String, Vec<PodView>> {
    let mut out: BTreeMap<String, Vec<PodView>> = BTreeMap::new();
    for p in pods {
        if let Some(owner) = owner(p) {
            out.entry(owner.to_owned()).or_default().push(pod(p));
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

/// When an event was last seen: its series', else its last time, else when it happened or
/// was made (the events.k8s.io API and core/v1 fill different fields).
fn last_seen(e: &Event) -> Option<u64> {
    e.series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0.as_millisecond().max(0) as u64)
        .or_else(|| e.last_timestamp.as_ref().map(ms))
        .or_else(|| e.event_time.as_ref().map(|t| t.0.as_millisecond().max(0) as u64))
        .or_else(|| e.first_timestamp.as_ref().map(ms))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(ms))
}

/// The newest [`EVENTS`] events of `namespace`, newest first.
pub fn recent_events<'a>(events: impl IntoIterator<Item = &'a Event>, namespace: &str) -> Vec<EventView> {
    let mut out: Vec<EventView> = events
        .into_iter()
        .filter(|e| e.metadata.namespace.as_deref() == Some(namespace))
        .map(|e| EventView {
            type_: e.type_.clone().unwrap_or_else(|| "Normal".into()),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            object: format!(
                "{}/{}",
                e.involved_object.kind.as_deref().unwrap_or("?"),
                e.involved_object.name.as_deref().unwrap_or("?")
            ),
            count: e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1),
            last_seen: last_seen(e),
        })
        .collect();
    // Newest first; events of the same time in a stable order.
    out.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.object.cmp(&b.object)));
    out.truncate(EVENTS);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ObjectReference,
        PodCondition, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    /// A pod of `owner`'s backend Deployment with one container `app` in `state`, restarted
    /// `restarts` times.
    pub(crate) fn pod_of(name: &str, owner: &str, state: ContainerState, restarts: i32) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("myapp-dev".into());
        p.metadata.annotations = Some([(OWNER_ANNOTATION.to_owned(), owner.to_owned())].into());
        p.metadata.labels = Some([("pod-template-hash".to_owned(), "5d8f".to_owned())].into());
        p.metadata.owner_references = Some(vec![OwnerReference {
            kind: "ReplicaSet".into(),
            name: "myapp-dev-backend-5d8f".into(),
            ..Default::default()
        }]);
        let running = state.running.is_some();
        p.spec = Some(PodSpec {
            node_name: Some("kwok-node-0".into()),
            containers: vec![Container { name: "app".into(), image: Some("backend:1".into()), ..Default::default() }],
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            start_time: Some(Time("2026-12-03T18:30:00Z".parse().unwrap())),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if running { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                image: "backend:1".into(),
                ready: running,
                restart_count: restarts,
                state: Some(state),
                last_state: (restarts > 0).then(|| ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 1,
                        reason: Some("Error".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p
    }

    pub(crate) fn waiting(reason: &str, message: &str) -> ContainerState {
        ContainerState {
            waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message: Some(message.into()) }),
            ..Default::default()
        }
    }

    pub(crate) fn running() -> ContainerState {
        ContainerState { running: Some(ContainerStateRunning::default()), ..Default::default() }
    }

    pub(crate) fn event(ns: &str, object: &str, reason: &str, at: &str, count: i32) -> Event {
        let mut e = Event::default();
        e.metadata.namespace = Some(ns.into());
        e.metadata.name = Some(format!("{object}.{at}"));
        e.involved_object =
            ObjectReference { kind: Some("Pod".into()), name: Some(object.into()), ..Default::default() };
        e.reason = Some(reason.into());
        e.message = Some(format!("{reason} of {object}"));
        e.type_ = Some(if reason == "BackOff" { "Warning" } else { "Normal" }.into());
        e.count = Some(count);
        e.last_timestamp = Some(Time(at.parse().unwrap()));
        e
    }

    #[test]
    fn a_crash_looping_container_says_why_with_its_restarts_and_last_exit() {
        let p =
            pod_of("myapp-dev-backend-5d8f-a", "myapp-dev/myapp-dev", waiting("CrashLoopBackOff", "back-off 40s"), 3);
        let v = pod(&p);
        assert_eq!(v.workload, "myapp-dev/myapp-dev-backend");
        assert_eq!((v.phase.as_str(), v.ready, v.restarts), ("Running", false, 3));
        assert_eq!(v.reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(v.node.as_deref(), Some("kwok-node-0"));
        assert_eq!(v.started_at, Some(1_796_322_600_000));
        let c = &v.containers[0];
        assert_eq!((c.name.as_str(), c.image.as_str(), c.state.as_str()), ("app", "backend:1", "waiting"));
        assert_eq!(c.message.as_deref(), Some("back-off 40s"));
        assert_eq!(c.last_termination.as_deref(), Some("Error (exit 1)"));

        let fine = pod(&pod_of("b", "myapp-dev/myapp-dev", running(), 0));
        assert!(fine.ready);
        assert_eq!(
            (fine.reason, fine.containers[0].state.as_str(), fine.containers[0].last_termination.clone()),
            (None, "running", None)
        );
    }

    #[test]
    fn a_pod_without_statuses_yet_lists_its_containers_and_a_stuck_init_container_first() {
        let mut p = pod_of("c", "myapp-dev/myapp-dev", running(), 0);
        p.status = Some(PodStatus {
            phase: Some("Pending".into()),
            init_container_statuses: Some(vec![ContainerStatus {
                name: "migrate".into(),
                state: Some(waiting("ImagePullBackOff", "no such image")),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p.spec.as_mut().unwrap().init_containers =
            Some(vec![Container { name: "migrate".into(), image: Some("migrate:1".into()), ..Default::default() }]);
        let v = pod(&p);
        let names: Vec<_> =
            v.containers.iter().map(|c| (c.name.as_str(), c.state.as_str(), c.image.as_str())).collect();
        assert_eq!(names, [("migrate (init)", "waiting", "migrate:1"), ("app", "unknown", "backend:1")]);
        assert_eq!(v.reason.as_deref(), Some("ImagePullBackOff"));
        assert!(!v.ready);
    }

    #[test]
    fn pods_go_to_the_capability_their_annotation_names() {
        let pods: Vec<Arc<Pod>> = [
            pod_of("z", "myapp-dev/myapp-dev", running(), 0),
            pod_of("a", "myapp-dev/myapp-dev", running(), 1),
            pod_of("o", "other/other", running(), 0),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let mut unowned = (*pods[0]).clone();
        unowned.metadata.annotations = None;
        let mut all = pods.clone();
        all.push(Arc::new(unowned));
        let by = pods_by_owner(&all);
        assert_eq!(by.keys().collect::<Vec<_>>(), ["myapp-dev/myapp-dev", "other/other"]);
        assert_eq!(by["myapp-dev/myapp-dev"].iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["a", "z"]);
    }

    #[test]
    fn the_newest_events_of_the_namespace_come_first_and_only_twenty() {
        let mut events: Vec<Event> = (0..30)
            .map(|i| event("myapp-dev", &format!("p{i}"), "Scheduled", &format!("2026-12-03T18:{i:02}:00Z"), 1))
            .collect();
        events.push(event("other", "p", "Scheduled", "2026-12-03T19:00:00Z", 1));
        events.push(event("myapp-dev", "crash", "BackOff", "2026-12-03T18:45:00Z", 7));
        let v = recent_events(&events, "myapp-dev");
        assert_eq!(v.len(), EVENTS);
        assert_eq!((v[0].object.as_str(), v[0].type_.as_str(), v[0].count), ("Pod/crash", "Warning", 7));
        assert_eq!(v[1].object, "Pod/p29");
        assert!(v.windows(2).all(|w| w[0].last_seen >= w[1].last_seen), "newest first");
        assert!(v.iter().all(|e| e.object != "Pod/p"), "not another namespace's");
        assert_eq!(v[0].message, "BackOff of crash");
        assert!(recent_events(&events, "nowhere").is_empty());
    }
}
