//! The controller: watches every NexusAICapability and the objects it owns, and reconciles
//! through a finalizer (apply, or cleanup on delete). The same controller runs in the local
//! daemon and as the in-cluster operator (kube-rs controller-rs is the model).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};

use crate::model::spec::NexusAICapability;
use crate::provision::kube::objects::OWNER_ANNOTATION;
use crate::reconcile::{self, Context, Error, FINALIZER, Readiness};

/// Reconciles one capability.
#[tracing::instrument(skip_all, fields(capability = %reconcile::key(&cr)))]
pub async fn reconcile(
    cr: Arc<NexusAICapability>,
    ctx: Arc<Context>,
) -> Result<Action, kube::runtime::finalizer::Error<Error>> {
    let api: Api<NexusAICapability> = Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    let key = reconcile::key(&cr);
    let c = ctx.clone();
    let started = std::time::Instant::now();
    let result = finalizer(&api, FINALIZER, cr, |event| async move {
        match event {
            // Boxed: the reconcile future is large, and debug builds keep it on the stack.
            Finalizer::Apply(cr) => match Box::pin(reconcile::converge(&cr, &c)).await?.readiness {
                Readiness::Running => Ok(Action::requeue(c.resync)),
                Readiness::RollingOut(_) => Ok(Action::requeue(c.poll)),
            },
            Finalizer::Cleanup(cr) => {
                Box::pin(reconcile::cleanup(&cr, &c)).await?;
                Ok(Action::await_change())
            }
        }
    })
    .await;
    ctx.metrics.pass(started.elapsed(), result.as_ref().err().map(label));
    if result.is_ok()
        && let Ok(mut f) = ctx.failures.lock()
    {
        f.remove(&key);
    }
    result
}

/// The short label of a failed pass, for metrics.
fn label(e: &kube::runtime::finalizer::Error<Error>) -> &'static str {
    use kube::runtime::finalizer::Error as F;
    match e {
        F::ApplyFailed(e) | F::CleanupFailed(e) => e.label(),
        _ => "FinalizerFailed",
    }
}

/// Failed reconciles are retried with exponential backoff per capability (1 s doubling to 5
/// min), so a broken one never hot-loops.
pub fn error_policy(
    cr: Arc<NexusAICapability>,
    err: &kube::runtime::finalizer::Error<Error>,
    ctx: Arc<Context>,
) -> Action {
    let key = reconcile::key(&cr);
    let n = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        })
        .unwrap_or(1);
    let delay = Duration::from_secs(1u64 << n.min(8)).min(Duration::from_secs(300));
    tracing::warn!(capability = %key, error = %err, attempt = n, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// Maps an owned object back to its capability through the owner annotation.
fn owner<K: Resource>(obj: K) -> Option<ObjectRef<NexusAICapability>> {
    let owner = obj.annotations().get(OWNER_ANNOTATION)?;
    let (ns, name) = owner.split_once('/')?;
    Some(ObjectRef::new(name).within(ns))
}

/// What a pass acts on: the spec (generation), the finalizers, deletion, labels and
/// annotations (watch mode records built images there). The controller's own status writes
/// change none of these, so they do not trigger another pass; rollouts of the owned
/// Deployments, requeues and the periodic resync still do.
fn worth_a_pass(cr: &NexusAICapability) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let m = &cr.metadata;
    (m.generation, m.deletion_timestamp.is_some(), &m.finalizers, &m.labels, &m.annotations).hash(&mut h);
    Some(h.finish())
}

/// Runs the controller over every namespace until `shutdown` resolves.
pub async fn run(ctx: Arc<Context>, shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static) {
    run_in(ctx, None, shutdown).await
}

/// Runs the controller over the capabilities of one namespace (or all), until `shutdown`.
pub async fn run_in(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    run_with(ctx, namespace, watcher::Config::default(), futures::stream::pending(), shutdown).await
}

/// Runs the controller over the capabilities `selection` picks (a project's daemon selects its
/// own by label), until `shutdown`. `retrigger` asks for a pass of a capability from outside
/// (the daemon's emulator healer): it runs as the controller's own, never beside one.
pub async fn run_with(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    selection: watcher::Config,
    retrigger: impl futures::Stream<Item = ObjectRef<NexusAICapability>> + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let caps: Api<NexusAICapability> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let managed = watcher::Config::default().labels("app.kubernetes.io/managed-by=nexus-dev");
    let (reader, writer) = reflector::store();
    let triggers = watcher(caps, selection)
        .default_backoff()
        .reflect(writer)
        // Ready once every capability was read: from then on the controller acts on what is.
        .inspect({
            let metrics = ctx.metrics.clone();
            let store = reader.clone();
            move |e| {
                if matches!(e, Ok(watcher::Event::InitDone)) && !metrics.ready() {
                    tracing::info!("controller ready: every capability read");
                    metrics.set_ready();
                }
                // Capabilities by phase, on every change the reflector has just taken in
                // (status writes included, which never trigger a pass).
                if metrics.ready() {
                    let mut phases = std::collections::BTreeMap::<String, i64>::new();
                    for cr in store.state() {
                        let phase = cr.status.as_ref().and_then(|s| s.phase).map(|p| p.to_string());
                        *phases.entry(phase.unwrap_or_else(|| "Pending".into())).or_default() += 1;
                    }
                    metrics.set_phases(&phases);
                }
            }
        })
        .applied_objects()
        .predicate_filter(worth_a_pass, PredicateConfig::default());
    // Boxed: the controller's stream is a large value, kept off the (small, in tests) stack.
    let stream = Controller::for_stream(triggers, reader)
        .watches(Api::<Deployment>::all(client.clone()), managed.clone(), owner)
        .watches(Api::<Service>::all(client.clone()), managed.clone(), owner)
        .watches(Api::<Ingress>::all(client.clone()), managed.clone(), owner)
        // A policy deleted or loosened by hand is put back at once; autoscalers and budgets,
        // whose status changes all the time, wait for the resync.
        .watches(Api::<NetworkPolicy>::all(client.clone()), managed.clone(), owner)
        .watches(Api::<ServiceAccount>::all(client.clone()), managed, owner)
        .reconcile_on(retrigger)
        .graceful_shutdown_on(shutdown)
        .run(|cr, ctx| Box::pin(reconcile(cr, ctx)), error_policy, ctx);
    Box::pin(stream)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(capability = %obj.name, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile error"),
            }
        })
        .await;
}
