//! One pass of the create/update flow (seed 000's eleven steps): AWS phase by phase, then the
//! Kubernetes objects, then the rollouts; the status written as it goes. What to do at each
//! point is decided in `decide`.

use std::time::Instant;

use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::{Context, Error, Pass, Readiness, decide, key, status};
use crate::model::outcome::Outcome;
use crate::model::plan::{self, Kind, Plan};
use crate::model::spec::{Endpoint, NexusAICapability, NexusAICapabilityStatus, Phase, ResourceStatus};
use crate::provision::kube::apply as k8s_apply;
use crate::provision::kube::objects::{self};
use crate::provision::{self, Report};

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

    // The IDs the last pass found (issue 20), kept in the status: read by ID in the first wave.
    let options = provision::Options { remembered: remembered(&status), ..ctx.options.clone() };
    let runs = if aws_recent { Vec::new() } else { decide::aws_runs(show_phases) };
    // What the spec no longer wants (a data service turned off), found by ownership, looked for
    // beside the runs: deleted under Delete, kept and reported under Retain (issue #11, item 4).
    let orphans = (!aws_recent).then(|| {
        let unplanned = plan::unplanned(cr, &ctx.profile);
        provision::OrphanProbe::start(&plan.owner(), unplanned, &aws, &options, cr.spec.deletion_policy)
    });
    for phases in runs {
        let resources: Vec<&plan::Resource> =
            plan.resources.iter().filter(|r| r.kind.is_aws() && phases.contains(&r.phase)).collect();
        if resources.is_empty() {
            continue;
        }
        if show_phases {
            for phase in &phases {
                step(&api, &mut current, &mut status, *phase, generation).await?;
            }
        }
        let phase = if phases.len() == 1 { phases[0].as_str() } else { "ProvisioningAws" };
        let report = Box::pin(provision::apply_resources(&plan.owner(), &resources, &aws, &options)).await;
        // The cause, rather than what was skipped because of it.
        let failed = report
            .failures()
            .find(|f| f.error_code.as_deref() != Some(crate::model::outcome::DEPENDENCY_FAILED))
            .or_else(|| report.failures().next())
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
            ctx.event(cr, EventType::Normal, phase, format!("{changed} AWS resources created or updated")).await;
        }
        reports.push(report);
    }
    if let Some(probe) = orphans {
        let mut orphans = Report::default();
        Box::pin(probe.finish(&mut orphans, true)).await;
        let pruned = orphans.count(Outcome::Pruned);
        if pruned > 0 {
            ctx.event(cr, EventType::Normal, "Pruned", format!("{pruned} AWS resources no longer in the spec deleted"))
                .await;
        }
        let kept = orphans.count(Outcome::Orphaned);
        if kept > 0 {
            tracing::info!(capability = %owner, kept, "AWS resources no longer in the spec kept (deletionPolicy Retain)");
        }
        // It ran beside the last run.
        match reports.last_mut() {
            Some(last) => last.merge_alongside(orphans),
            None => reports.push(orphans),
        }
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
    let mut objs = objects::objects(&plan, &owner);
    if let Err(e) = crate::provision::kube::secrets::fill(&mut objs, &aws).await {
        let (kind, name) =
            (Kind::PodSecret, plan.of_kind(Kind::PodSecret).next().map(|r| r.name.clone()).unwrap_or_default());
        let message = format!("reading the values for the pods: {e}");
        fail(&api, &mut current, &mut status, generation, &format!("{kind} {name}: {message}"), ctx).await?;
        return Err(Error::Aws { kind, name, message, done: Box::new(merged(reports)) });
    }
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
    if !aws_recent {
        prune_objects(cr, &owner, ctx).await;
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
pub(super) async fn step(
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

pub(super) async fn fail(
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
        // The ID found this pass, else the one found before (AWS not read, or the resource failed).
        let before = || status.resources.iter().find(|s| s.kind == r.kind.as_str() && s.name == r.name);
        let id = aws.and_then(|a| a.id.clone()).or_else(|| before().and_then(|s| s.id.clone()));
        out.push(ResourceStatus { kind: r.kind.to_string(), name: r.name.clone(), state: state.into(), id, message });
    }
    status.resources = out;
}

/// The IDs a status remembers, by resource id.
fn remembered(status: &NexusAICapabilityStatus) -> provision::provisioner::Hints {
    status.resources.iter().filter_map(|r| Some((format!("{}/{}", r.kind, r.name), r.id.clone()?))).collect()
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

/// Deletes the Kubernetes objects the spec no longer wants (an autoscaler, a disruption budget,
/// the NetworkPolicies, the ingress), those that are the capability's. Checked when the AWS part
/// is, so that an unchanged capability pays no reads for it; a failure is logged and retried then.
async fn prune_objects(cr: &NexusAICapability, owner: &str, ctx: &Context) {
    for r in plan::unplanned_objects(cr, &ctx.profile) {
        let Some(obj) = objects::object(&r, owner) else { continue };
        match k8s_apply::delete(&ctx.client, &obj, false).await {
            Ok(done) if done.outcome == Outcome::Deleted => {
                let message = format!("{} {} no longer in the spec: deleted", r.kind, r.name);
                ctx.event(cr, EventType::Normal, "Pruned", message).await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(capability = %owner, error = %e, "pruning {} {}", r.kind, r.name),
        }
    }
}
