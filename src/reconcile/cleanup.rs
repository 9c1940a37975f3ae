//! The delete flow (seed 001): Kubernetes objects first, then AWS per `deletionPolicy`; run by
//! the finalizer, or by `nexus-dev delete` for a capability deleted from outside.

use kube::runtime::events::EventType;
use kube::{Api, Client, ResourceExt};

use super::{Context, Error, key};
use crate::model::outcome::Outcome;
use crate::model::plan::{self, Plan};
use crate::model::spec::{DeletionPolicy, NexusAICapability, Phase};
use crate::provision::kube::apply as k8s_apply;
use crate::provision::kube::objects::{self, Object};
use crate::provision::{self, Report};

use super::converge::step;

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
