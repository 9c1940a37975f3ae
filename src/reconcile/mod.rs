//! Reconciling one NexusAICapability: the seed operator's eleven steps (000) and its create,
//! update and delete flows (001), as a library used by the controller, the one-shot `apply`,
//! and the in-cluster operator. Level-triggered: every run recomputes from the spec, so a crash
//! at any point followed by a new run converges, nothing leaked or duplicated.

pub mod controller;
pub mod decide;
pub mod status;
pub mod verify;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::ObjectMeta;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::Mutex;

use crate::model::outcome::Outcome;
use crate::model::plan::{self, Kind, Plan};
use crate::model::profile::Profile;
use crate::model::spec::{DeletionPolicy, Endpoint, NexusAICapability, NexusAICapabilityStatus, Phase, ResourceStatus};
use crate::provision::aws::{Clients, Ctx as AwsCtx, Target};
use crate::provision::kube::apply as k8s_apply;
use crate::provision::kube::objects::{self, Object};
use crate::provision::{self, Options, Report};

/// The finalizer that holds a capability until its cleanup is done.
pub const FINALIZER: &str = "nexus.ai/cleanup";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    /// An AWS resource failed; `done` reports the AWS part as far as it went.
    #[error("AWS: {kind} {name}: {message}")]
    Aws { kind: Kind, name: String, message: String, done: Box<Report> },
    #[error("Kubernetes: {source}")]
    Kube { kind: Kind, name: String, source: Box<k8s_apply::ApplyError> },
    /// A Deployment's rollout cannot be read, or will not finish.
    #[error("{0}")]
    Rollout(String),
    #[error("cannot write the status: {0}")]
    Status(#[source] kube::Error),
    #[error("{0}")]
    Cleanup(String),
}

impl Error {
    /// A short label, for metrics and events.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "InvalidSpec",
            Error::Aws { .. } => "AwsFailed",
            Error::Kube { .. } => "KubernetesFailed",
            Error::Rollout(_) => "RolloutFailed",
            Error::Status(_) => "StatusFailed",
            Error::Cleanup(_) => "CleanupFailed",
        }
    }

    /// The resource the error is about, when it is about one.
    pub fn resource(&self) -> Option<(Kind, &str)> {
        match self {
            Error::Aws { kind, name, .. } | Error::Kube { kind, name, .. } => Some((*kind, name)),
            _ => None,
        }
    }
}

/// What a reconcile needs: clients, the profile it targets, and how often to recheck AWS.
pub struct Context {
    pub client: Client,
    pub profile: Profile,
    /// AWS clients per region (a spec names its own region).
    aws: Mutex<HashMap<String, Clients>>,
    recorder: Recorder,
    /// Periodic recheck of AWS drift while Running.
    pub resync: Duration,
    /// Recheck while a rollout is in progress.
    pub poll: Duration,
    pub options: Options,
    /// Reconcile failures per object, for backoff.
    pub failures: std::sync::Mutex<HashMap<String, u32>>,
    /// How long a full AWS check stays good for passes that change nothing on the AWS side
    /// (the same generation and plan, e.g. a Deployment's status moving during a rollout).
    /// Defaults to `resync`, so the periodic requeue always rechecks AWS for drift.
    pub aws_recheck: Duration,
    /// The last full AWS check that found everything as planned, per capability: the AWS part
    /// of the plan it checked (a fingerprint) and when it started.
    aws_checked: std::sync::Mutex<HashMap<String, (u64, Instant)>>,
}

impl Context {
    pub fn new(client: Client, profile: Profile) -> Arc<Self> {
        let reporter = Reporter { controller: "nexus-dev".into(), instance: std::env::var("HOSTNAME").ok() };
        Arc::new(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            profile,
            aws: Mutex::new(HashMap::new()),
            resync: Duration::from_secs(60),
            poll: Duration::from_secs(2),
            options: Options::default(),
            failures: std::sync::Mutex::new(HashMap::new()),
            aws_recheck: Duration::from_secs(60),
            aws_checked: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Sets the periodic resync (and with it how long an AWS check stays good) and the poll
    /// interval during rollouts.
    pub fn with(mut self: Arc<Self>, resync: Duration, poll: Duration) -> Arc<Self> {
        if let Some(ctx) = Arc::get_mut(&mut self) {
            ctx.resync = resync;
            ctx.aws_recheck = resync;
            ctx.poll = poll;
        }
        self
    }

    /// AWS requests made through this context's clients so far, reads and writes.
    pub async fn aws_calls(&self) -> u64 {
        self.aws.lock().await.values().map(|c| c.counter.reads() + c.counter.mutating()).sum()
    }

    /// Whether the AWS part of a plan (fingerprint `print`) was fully checked for `key` less
    /// than `aws_recheck` ago.
    /// The fingerprint of the AWS plan last fully checked for `key`, and how long ago.
    fn aws_checked(&self, key: &str) -> Option<(u64, Duration)> {
        self.aws_checked.lock().ok()?.get(key).map(|(p, at)| (*p, at.elapsed()))
    }

    fn aws_checked_now(&self, key: &str, print: u64, started: Instant) {
        if let Ok(mut m) = self.aws_checked.lock() {
            m.insert(key.to_owned(), (print, started));
        }
    }

    /// The next pass for `key` checks every AWS resource again (after a failure, a deletion,
    /// or when the emulator may have lost its state).
    pub fn forget_aws_check(&self, key: &str) {
        if let Ok(mut m) = self.aws_checked.lock() {
            m.remove(key);
        }
    }

    async fn aws(&self, region: &str) -> AwsCtx {
        let mut cache = self.aws.lock().await;
        let clients = match cache.get(region) {
            Some(c) => c.clone(),
            None => {
                let c = Clients::connect(&Target::of(&self.profile, region)).await;
                cache.insert(region.to_owned(), c.clone());
                c
            }
        };
        AwsCtx::new(clients, self.profile.aws.account.clone())
    }

    async fn event(&self, cr: &NexusAICapability, type_: EventType, reason: &str, note: String) {
        let ev = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
        if let Err(e) = self.recorder.publish(&ev, &cr.object_ref(&())).await {
            tracing::debug!(error = %e, "cannot publish event");
        }
    }
}

/// `namespace/name` of a capability.
pub fn key(cr: &NexusAICapability) -> String {
    format!("{}/{}", cr.namespace().unwrap_or_default(), cr.name_any())
}

/// Where one apply pass left the capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Everything exists and every workload is available.
    Running,
    /// Objects are applied; rollouts are still going.
    RollingOut(String),
}

/// One pass: how it ended, and what it did to each Kubernetes object.
#[derive(Debug, Clone)]
pub struct Pass {
    pub readiness: Readiness,
    /// The AWS part of this pass, every call counted; empty when the pass did not sweep AWS
    /// (it was checked recently).
    pub aws: Report,
    pub kubernetes: Vec<crate::provision::ResourceReport>,
}

/// One report of the AWS phases of a pass.
fn merged(reports: Vec<Report>) -> Report {
    reports.into_iter().fold(Report::default(), |mut all, r| {
        all.merge(r);
        all
    })
}

/// Validates a capability read from the cluster with the same rules as files (the API server
/// already checked the schema).
fn validate(cr: &NexusAICapability) -> Result<(), Error> {
    let yaml = serde_yaml::to_string(cr).map_err(|e| Error::Invalid(e.to_string()))?;
    let source = crate::input::diag::Source::new(key(cr), yaml);
    let docs = crate::input::yaml::parse_documents(&source).map_err(|d| Error::Invalid(d.message))?;
    let mut out = Vec::new();
    for doc in &docs {
        crate::input::validate::spec(doc, cr, &mut out);
    }
    match out.first() {
        None => Ok(()),
        Some(d) => Err(Error::Invalid(format!(
            "{}: {}{}",
            d.path,
            d.message,
            d.hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
        ))),
    }
}

/// One pass of the create/update flow: AWS phase by phase, then the Kubernetes objects, then
/// rollout state; status written as it goes. `show_phases` walks the status through every
/// phase (a new or changed spec); a resync of a Running capability stays Running unless
/// something fails.
pub async fn converge(cr: &NexusAICapability, ctx: &Context) -> Result<Pass, Error> {
    let api: Api<NexusAICapability> = Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    // The controller's cached copy can lag behind this reconciler's own status writes (another
    // object's event may trigger the next pass first); the status decides what to show, so it is
    // read fresh.
    let fresh = api.get_opt(&cr.name_any()).await.map_err(Error::Status)?;
    let cr = &fresh.unwrap_or_else(|| cr.clone());
    let generation = cr.metadata.generation.unwrap_or(0);
    let mut status = cr.status.clone().unwrap_or_default();
    let show_phases = decide::show_phases(&status, generation);
    let mut current = cr.clone();

    if let Err(e) = validate(cr) {
        fail(&api, &mut current, &mut status, generation, &e.to_string(), ctx).await?;
        return Err(e);
    }
    let plan = plan::build(cr, &ctx.profile);
    let aws = ctx.aws(&plan.target.region).await;
    let mut reports: Vec<Report> = Vec::new();
    let owner = key(cr);
    let print = aws_fingerprint(&plan);
    let aws_recent = decide::aws_fresh(show_phases, ctx.aws_checked(&owner), print, ctx.aws_recheck);
    let aws_started = Instant::now();

    for phase in decide::AWS_PHASES.into_iter().filter(|_| !aws_recent) {
        let resources: Vec<&plan::Resource> =
            plan.resources.iter().filter(|r| r.kind.is_aws() && r.phase == phase).collect();
        if resources.is_empty() {
            continue;
        }
        if show_phases {
            step(&api, &mut current, &mut status, phase, generation).await?;
        }
        let report = Box::pin(provision::apply_resources(&plan.owner(), &resources, &aws, &ctx.options)).await;
        let failed = report
            .failures()
            .next()
            .map(|f| (f.kind, f.name.clone(), f.error.clone().unwrap_or_else(|| "failed".into())));
        if let Some((kind, name, message)) = failed {
            let msg = format!("{kind} {name}: {message}");
            reports.push(report);
            record_resources(&mut status, &plan, &reports, &[], false);
            status::set_condition(
                &mut status.conditions,
                status::AWS_PROVISIONED,
                false,
                "ProvisioningFailed",
                &msg,
                generation,
            );
            ctx.forget_aws_check(&owner);
            fail(&api, &mut current, &mut status, generation, &msg, ctx).await?;
            return Err(Error::Aws { kind, name, message, done: Box::new(merged(reports)) });
        }
        let changed = report.resources.iter().filter(|r| r.outcome != Outcome::Unchanged).count();
        if changed > 0 {
            ctx.event(cr, EventType::Normal, phase.as_str(), format!("{changed} AWS resources created or updated"))
                .await;
        }
        reports.push(report);
    }
    if !aws_recent {
        // What the spec no longer wants (a data service turned off), found by ownership:
        // deleted under Delete, kept and reported under Retain (issue #11, item 4).
        let unplanned = plan::unplanned(cr, &ctx.profile);
        let orphans =
            Box::pin(provision::prune(&plan.owner(), &unplanned, &aws, &ctx.options, cr.spec.deletion_policy)).await;
        let pruned = orphans.count(Outcome::Pruned);
        if pruned > 0 {
            ctx.event(cr, EventType::Normal, "Pruned", format!("{pruned} AWS resources no longer in the spec deleted"))
                .await;
        }
        let kept = orphans.count(Outcome::Orphaned);
        if kept > 0 {
            tracing::info!(capability = %owner, kept, "AWS resources no longer in the spec kept (deletionPolicy Retain)");
        }
        reports.push(orphans);
        ctx.aws_checked_now(&owner, print, aws_started);
    }
    status::set_condition(
        &mut status.conditions,
        status::AWS_PROVISIONED,
        true,
        "Provisioned",
        "every AWS resource matches the plan",
        generation,
    );

    // Kubernetes, steps 7–11. Watch mode records built images on the resource while the AWS
    // part runs; planning the Deployments from the copy read before it would roll them back to
    // the previous image (and the next pass forward again), so they are planned from a fresh read.
    let latest = api.get_opt(&cr.name_any()).await.map_err(Error::Status)?;
    let plan = match latest {
        Some(l) if l.metadata.generation == cr.metadata.generation => plan::build(&l, &ctx.profile),
        _ => plan,
    };
    let objs = objects::objects(&plan, &owner);
    let mut applied: Vec<(plan::Resource, crate::model::outcome::Done)> = Vec::new();
    for phase in decide::KUBERNETES_PHASES {
        if show_phases {
            step(&api, &mut current, &mut status, phase, generation).await?;
        }
        for (r, obj) in objs.iter().filter(|(r, _)| r.phase == phase) {
            // A capability living in its own namespace: that namespace exists already.
            let mode = k8s_apply::Mode { dry_run: false, adopt: ctx.options.adopt };
            let done = match Box::pin(k8s_apply::apply(&ctx.client, obj, mode)).await {
                Ok(d) => d,
                Err(e) => {
                    let msg = format!("{} {}: {e}", r.kind, r.name);
                    status::set_condition(
                        &mut status.conditions,
                        status::WORKLOADS_AVAILABLE,
                        false,
                        "ApplyFailed",
                        &msg,
                        generation,
                    );
                    fail(&api, &mut current, &mut status, generation, &msg, ctx).await?;
                    return Err(Error::Kube { kind: r.kind, name: r.name.clone(), source: Box::new(e) });
                }
            };
            if done.outcome != crate::model::outcome::Outcome::Unchanged {
                ctx.event(
                    cr,
                    EventType::Normal,
                    phase.as_str(),
                    format!("{} {} {}", done.outcome.as_str(), r.kind, r.name),
                )
                .await;
            }
            applied.push((r.clone(), done));
        }
    }

    // Rollouts.
    let mut rollouts = Vec::new();
    for d in plan.of_kind(Kind::Deployment) {
        match k8s_apply::deployment_rollout(&ctx.client, &plan.namespace, &d.name).await {
            Ok(r) => rollouts.push((d.name.as_str(), r)),
            Err(e) => {
                let message = format!("deployment {}: {e}", d.name);
                fail(&api, &mut current, &mut status, generation, &message, ctx).await?;
                return Err(Error::Rollout(message));
            }
        }
    }
    let readiness = match decide::readiness(rollouts) {
        Ok(r) => r,
        Err(message) => {
            status::set_condition(
                &mut status.conditions,
                status::WORKLOADS_AVAILABLE,
                false,
                "RolloutStuck",
                &message,
                generation,
            );
            fail(&api, &mut current, &mut status, generation, &message, ctx).await?;
            return Err(Error::Rollout(message));
        }
    };
    record_resources(&mut status, &plan, &reports, &applied, aws_recent);
    let kubernetes =
        applied.iter().map(|(r, d)| crate::provision::ResourceReport::done(r.kind, &r.name, d.clone())).collect();
    status.endpoints = endpoints(&plan);
    let was = status.phase;
    decide::settled(&mut status, &readiness, generation, plan.resources.len());
    status::write(&api, &current, &status).await.map_err(Error::Status)?;
    if readiness == Readiness::Running && was != Some(Phase::Running) {
        ctx.event(cr, EventType::Normal, "Running", "every resource is ready and every workload available".into())
            .await;
    }
    Ok(Pass { readiness, aws: merged(reports), kubernetes })
}

/// Moves the status to `phase` and writes it.
async fn step(
    api: &Api<NexusAICapability>,
    current: &mut NexusAICapability,
    status: &mut NexusAICapabilityStatus,
    phase: Phase,
    generation: i64,
) -> Result<(), Error> {
    decide::stepped(status, phase, generation);
    if status::write(api, current, status).await.map_err(Error::Status)? {
        current.status = Some(status.clone());
    }
    Ok(())
}

async fn fail(
    api: &Api<NexusAICapability>,
    current: &mut NexusAICapability,
    status: &mut NexusAICapabilityStatus,
    generation: i64,
    message: &str,
    ctx: &Context,
) -> Result<(), Error> {
    let was = status.phase;
    decide::failed(status, message, generation);
    status::write(api, current, status).await.map_err(Error::Status)?;
    if was != Some(Phase::Failed) {
        ctx.event(current, EventType::Warning, "Failed", message.to_owned()).await;
    }
    Ok(())
}

fn record_resources(
    status: &mut NexusAICapabilityStatus,
    plan: &Plan,
    reports: &[Report],
    applied: &[(plan::Resource, crate::model::outcome::Done)],
    aws_recently_checked: bool,
) {
    let mut out = Vec::new();
    for r in &plan.resources {
        let aws = reports.iter().flat_map(|rep| rep.resources.iter()).find(|x| x.kind == r.kind && x.name == r.name);
        let k8s = applied.iter().find(|(x, _)| x.kind == r.kind && x.name == r.name);
        let (state, message) = match (aws, k8s) {
            (Some(a), _) if a.failed() => ("Failed", a.error.clone()),
            (Some(_), _) | (_, Some(_)) => ("Ready", None),
            (None, None) if aws_recently_checked && r.kind.is_aws() => ("Ready", None),
            (None, None) => ("Pending", None),
        };
        out.push(ResourceStatus {
            kind: r.kind.to_string(),
            name: r.name.clone(),
            state: state.into(),
            id: None,
            message,
        });
    }
    status.resources = out;
}

/// A fingerprint of the AWS part of a plan: a different one means something to change.
fn aws_fingerprint(plan: &Plan) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in plan.resources.iter().filter(|r| r.kind.is_aws()) {
        serde_json::to_string(r).unwrap_or_default().hash(&mut h);
    }
    h.finish()
}

fn endpoints(plan: &Plan) -> Vec<Endpoint> {
    let mut out = Vec::new();
    if let Some(plan::Settings::Ingress(i)) = plan.of_kind(Kind::Ingress).next().map(|r| &r.settings) {
        let scheme = if i.tls { "https" } else { "http" };
        let host = i.host.clone().unwrap_or_else(|| "localhost".into());
        out.push(Endpoint { name: "app".into(), url: format!("{scheme}://{host}/") });
        out.push(Endpoint { name: "api".into(), url: format!("{scheme}://{host}/api") });
    }
    for s in plan.of_kind(Kind::Service) {
        if let plan::Settings::Service(svc) = &s.settings {
            out.push(Endpoint {
                name: s.name.clone(),
                url: format!("http://{}.{}.svc:{}", s.name, svc.namespace, svc.port),
            });
        }
    }
    out
}

/// What a deletion did, or in a dry run would do.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub kubernetes: Vec<crate::provision::ResourceReport>,
    /// Every AWS resource of the plan: deleted, absent or retained, or why it stayed.
    pub aws: Report,
}

/// The delete flow (seed 001), as the finalizer runs it: Kubernetes objects first, then AWS per
/// `deletionPolicy`. A resource that could not be deleted is an error (the finalizer stays).
pub async fn cleanup(cr: &NexusAICapability, ctx: &Context) -> Result<Cleaned, Error> {
    let api: Api<NexusAICapability> = Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    let generation = cr.metadata.generation.unwrap_or(0);
    let mut status = cr.status.clone().unwrap_or_default();
    let mut current = cr.clone();
    step(&api, &mut current, &mut status, Phase::Deleting, generation).await.ok();
    let plan = plan::build(cr, &ctx.profile);
    // The capability's own namespace goes when its owner deletes it, not before the capability
    // itself is gone.
    let own_namespace = cr.namespace().as_deref() == Some(plan.namespace.as_str());
    let cleaned = remove(cr, &plan, ctx, own_namespace, false).await?;
    if let Some(f) = cleaned.aws.failures().next() {
        return Err(Error::Cleanup(format!("{} {}: {}", f.kind, f.name, f.error.as_deref().unwrap_or("failed"))));
    }
    let note = match cr.spec.deletion_policy {
        DeletionPolicy::Retain => {
            format!("workloads deleted; deletionPolicy Retain kept {} AWS resources", cleaned.aws.resources.len())
        }
        DeletionPolicy::Delete => {
            format!("workloads and {} AWS resources deleted", cleaned.aws.count(Outcome::Deleted))
        }
    };
    ctx.event(cr, EventType::Normal, "Deleted", note).await;
    Ok(cleaned)
}

/// Deletes a capability from outside the controller (`nexus-dev delete`): its Kubernetes
/// objects, namespace included when nexus-dev made it, then the capability object itself (its
/// cleanup is this), then AWS per `deletionPolicy`. AWS failures are in the report, not an
/// error. `dry_run` reports what would go and changes nothing.
pub async fn delete(cr: &NexusAICapability, ctx: &Context, dry_run: bool) -> Result<Cleaned, Error> {
    let plan = plan::build(cr, &ctx.profile);
    let mut cleaned = Cleaned {
        kubernetes: delete_kubernetes(&ctx.client, &plan, &key(cr), false, dry_run).await?,
        ..Cleaned::default()
    };
    if !dry_run {
        release(&ctx.client, cr, &plan.namespace).await?;
    }
    cleaned.aws = remove_aws(cr, &plan, ctx, dry_run).await;
    Ok(cleaned)
}

/// The Kubernetes objects, then the AWS resources.
async fn remove(
    cr: &NexusAICapability,
    plan: &Plan,
    ctx: &Context,
    keep_namespace: bool,
    dry_run: bool,
) -> Result<Cleaned, Error> {
    let kubernetes = delete_kubernetes(&ctx.client, plan, &key(cr), keep_namespace, dry_run).await?;
    Ok(Cleaned { kubernetes, aws: remove_aws(cr, plan, ctx, dry_run).await })
}

async fn remove_aws(cr: &NexusAICapability, plan: &Plan, ctx: &Context, dry_run: bool) -> Report {
    ctx.forget_aws_check(&key(cr));
    let aws = ctx.aws(&plan.target.region).await.dry_run(dry_run);
    Box::pin(provision::delete(plan, &aws, &ctx.options, cr.spec.deletion_policy)).await
}

/// Deletes the capability object, releasing its finalizer: its cleanup was done by the caller.
async fn release(client: &Client, cr: &NexusAICapability, namespace: &str) -> Result<(), Error> {
    use kube::api::{DeleteParams, Patch, PatchParams};
    let ns = cr.namespace().unwrap_or_else(|| namespace.to_owned());
    let api: Api<NexusAICapability> = Api::namespaced(client.clone(), &ns);
    let name = cr.name_any();
    let failed = |e: kube::Error| Error::Cleanup(format!("capability {ns}/{name}: {e}"));
    if api.get_opt(&name).await.map_err(failed)?.is_none() {
        return Ok(());
    }
    let unhold = serde_json::json!({"metadata": {"finalizers": null}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(unhold)).await.map_err(failed)?;
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

/// Deletes the Kubernetes objects of `plan` that are the capability's, dependents first, and
/// reports why each went or stayed; not-found is success. `dry_run` only reports.
async fn delete_kubernetes(
    client: &Client,
    plan: &Plan,
    owner: &str,
    keep_namespace: bool,
    dry_run: bool,
) -> Result<Vec<crate::provision::ResourceReport>, Error> {
    let mut out = Vec::new();
    for (r, obj) in objects::objects(plan, owner).iter().rev() {
        if matches!(obj, Object::Namespace(_)) && keep_namespace {
            continue;
        }
        let done = k8s_apply::delete(client, obj, dry_run)
            .await
            .map_err(|e| Error::Cleanup(format!("{} {}: {e}", r.kind, r.name)))?;
        out.push(crate::provision::ResourceReport::done(r.kind, &r.name, done));
    }
    Ok(out)
}

/// Metadata for a capability object created by nexus-dev.
pub fn meta(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: Some(namespace.into()), ..Default::default() }
}
