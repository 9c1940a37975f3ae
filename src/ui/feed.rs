//! What the daemon feeds the dashboard: its project's capabilities and their Deployments,
//! watched (the same objects `status -w` follows), turned into the dashboard's objects and
//! published to the hub on every change. With them, the pods nexus-dev manages and the
//! cluster's Events, for each capability's pods, recent events and commands
//! ([`detail`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};

use super::commands::{self, Hints};
use super::detail;
use super::hub::Live;
use super::model::{self, Capability};
use super::steps::Timeline;
use crate::model::ownership::{MANAGED_BY, MANAGED_BY_KEY};
use crate::model::profile::Profile;
use crate::model::spec::NexusAICapability;
use crate::provision::kube::objects::{Replicas, deployment_replicas};

/// Now, in ms since the epoch (the dashboard's times).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The dashboard's capabilities from the custom resources and the Deployments nexus-dev manages
/// (`deployments`: `None` when they are not watched), planned for `profile`; `timelines` keeps
/// each capability's phase times across calls.
pub fn capabilities(
    crs: &[Arc<NexusAICapability>],
    deployments: Option<&[Arc<Deployment>]>,
    profile: &Profile,
    timelines: &mut HashMap<String, Timeline>,
    now: u64,
) -> Vec<Capability> {
    let mut replicas: HashMap<String, Replicas> = HashMap::new();
    for (owner, component, counts) in deployments.into_iter().flatten().filter_map(|d| deployment_replicas(d)) {
        replicas.entry(owner).or_default().insert(component, counts);
    }
    let none = Replicas::new();
    timelines.retain(|key, _| crs.iter().any(|c| crate::reconcile::key(c) == *key));
    crs.iter()
        .map(|cr| {
            let key = crate::reconcile::key(cr);
            let timeline = timelines.entry(key.clone()).or_default();
            timeline.observe(cr.metadata.generation, cr.status.as_ref().and_then(|s| s.phase), now);
            let live = deployments.map(|_| replicas.get(&key).unwrap_or(&none));
            model::capability(cr, &crate::model::plan::build(cr, profile), live, timeline)
        })
        .collect()
}

/// Adds to each capability its pods, the recent events of its namespace (`None`: not listed
/// yet, none shown) and its commands, planned for `profile`.
pub fn detail(
    caps: &mut [Capability],
    crs: &[Arc<NexusAICapability>],
    pods: Option<&[Arc<Pod>]>,
    events: Option<&[Arc<Event>]>,
    profile: &Profile,
    hints: &Hints,
) {
    let mut pods = detail::pods_by_owner(pods.unwrap_or_default());
    for c in caps.iter_mut() {
        c.pods = pods.remove(&c.key).unwrap_or_default();
        c.events = detail::recent_events(events.unwrap_or_default().iter().map(|e| &**e), &c.namespace);
        if let Some(cr) = crs.iter().find(|cr| crate::reconcile::key(cr) == c.key) {
            c.commands = commands::commands(&crate::model::plan::build(cr, profile), hints);
        }
    }
}

/// A watch error is retried with backoff by the watcher; it is only logged here.
fn log_error<T>(r: Result<T, watcher::Error>) {
    if let Err(e) = r {
        tracing::debug!(error = %e, "the dashboard's watch failed; retrying");
    }
}

/// Whether a store has its first complete list (before it, a missing object proves nothing).
fn ready<K>(store: &reflector::Store<K>) -> bool
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    store.wait_until_ready().now_or_never().is_some_and(|r| r.is_ok())
}

/// Watches the capabilities labelled as project `project_id`'s, nexus-dev's Deployments and
/// pods, and the cluster's Events, publishing to `live` after every burst of changes. Runs until
/// dropped.
///
/// The Events are watched in every namespace (a capability's namespace is known only from its
/// resource), and the store holds them all: on a local cluster a few hundred, each gone after
/// the API server's hour. The pods and Events are shown once listed; the capabilities wait for
/// their own list and the Deployments'.
pub async fn run(
    client: Client,
    project_id: String,
    profile: Profile,
    hints: Hints,
    live: Arc<Live>,
    environments: Arc<super::environments::Environments>,
) {
    let selector = format!("{}={project_id}", crate::daemon::PROJECT_LABEL);
    let (caps, caps_writer) = reflector::store::<NexusAICapability>();
    let (deps, deps_writer) = reflector::store::<Deployment>();
    let cap_events = reflector(
        caps_writer,
        watcher(Api::<NexusAICapability>::all(client.clone()), watcher::Config::default().labels(&selector))
            .default_backoff(),
    )
    .map(log_error);
    let dep_events = reflector(
        deps_writer,
        watcher(
            Api::<Deployment>::all(client.clone()),
            watcher::Config::default().labels(&format!("{MANAGED_BY_KEY}={MANAGED_BY}")),
        )
        .default_backoff(),
    )
    .map(|_| ());
    let managed = format!("{MANAGED_BY_KEY}={MANAGED_BY}");
    let (pods, pods_writer) = reflector::store::<Pod>();
    let pod_events = reflector(
        pods_writer,
        watcher(Api::<Pod>::all(client.clone()), watcher::Config::default().labels(&managed)).default_backoff(),
    )
    .map(|_| ());
    let (kube_events, kube_events_writer) = reflector::store::<Event>();
    let event_events = reflector(
        kube_events_writer,
        watcher(Api::<Event>::all(client.clone()), watcher::Config::default()).default_backoff(),
    )
    .map(|_| ());
    let mut events =
        futures::stream::select_all([cap_events.boxed(), dep_events.boxed(), pod_events.boxed(), event_events.boxed()]);
    let mut timelines = HashMap::new();
    while events.next().await.is_some() {
        // A burst (a list, a rollout) is published once.
        while let Some(Some(())) = events.next().now_or_never() {}
        if !ready(&caps) || !ready(&deps) {
            continue;
        }
        let (crs, deployments) = (caps.state(), deps.state());
        let mut next = capabilities(&crs, Some(&deployments), &profile, &mut timelines, now_ms());
        let pods = ready(&pods).then(|| pods.state());
        let kube_events = ready(&kube_events).then(|| kube_events.state());
        detail(&mut next, &crs, pods.as_deref(), kube_events.as_deref(), &profile, &hints);
        live.publish(next);
        environments.observe(crs, super::environments::local_images(&deployments));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::Phase;
    use crate::ui::model::Health;
    use crate::ui::model::tests::{all, minimal};

    /// A Deployment of `owner`'s `component` as nexus-dev labels and annotates it.
    fn deployment(owner: &str, component: &str, ready: i32, desired: i32) -> Arc<Deployment> {
        let mut d = Deployment::default();
        d.metadata.annotations =
            Some([(crate::provision::kube::objects::OWNER_ANNOTATION.to_owned(), owner.to_owned())].into());
        d.metadata.labels = Some([("app.kubernetes.io/component".to_owned(), component.to_owned())].into());
        d.spec = Some(k8s_openapi::api::apps::v1::DeploymentSpec { replicas: Some(desired), ..Default::default() });
        d.status =
            Some(k8s_openapi::api::apps::v1::DeploymentStatus { ready_replicas: Some(ready), ..Default::default() });
        Arc::new(d)
    }

    #[test]
    fn live_replicas_go_to_the_capability_that_owns_them_and_timelines_follow_the_capabilities() {
        let (_, plan) = minimal(None);
        let (cr, _) = minimal(Some(all(&plan, "Ready", Phase::Running)));
        let profile = crate::input::examples::profile("local");
        let deployments =
            [deployment("myapp-dev/myapp-dev", "backend", 1, 2), deployment("other/other", "frontend", 1, 1)];
        let mut timelines = HashMap::new();
        let caps = capabilities(&[Arc::new(cr.clone())], Some(&deployments), &profile, &mut timelines, 5);
        let health = |c: &Capability, name: &str| {
            c.resources.iter().find(|r| r.kind == "k8s.deployment" && r.name.ends_with(name)).unwrap().health
        };
        assert_eq!(health(&caps[0], "backend"), Health::Waiting, "1/2 ready");
        assert_eq!(health(&caps[0], "frontend"), Health::Failed, "another capability's frontend is not ours");
        let unwatched = capabilities(&[Arc::new(cr)], None, &profile, &mut timelines, 6);
        assert_eq!(health(&unwatched[0], "frontend"), Health::Ok, "not watched: the status alone decides");
        assert_eq!(timelines.len(), 1);
        assert!(capabilities(&[], Some(&deployments), &profile, &mut timelines, 7).is_empty());
        assert!(timelines.is_empty(), "a capability gone takes its timeline");
    }
}
