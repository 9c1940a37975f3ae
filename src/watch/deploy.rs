//! Pointing the workload at a new image. For a capability, the image is first recorded on the
//! custom resource (`nexus.ai/built-image.<component>`; the plan then pins it — see
//! `plan::BUILT_IMAGE_ANNOTATION`), then the Deployment the plan computes from that resource is
//! server-side applied with nexus-dev's field manager: exactly what the reconciler applies next,
//! so neither fights the other. A whole object, not just the image: an apply by the same field
//! manager that omits fields it owned would remove them.
//!
//! A Deployment outside any capability gets only its container's image, through a field manager
//! of its own (`nexus-dev-watch`), for the same reason.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

use crate::model::plan::{self, BUILT_IMAGE_ANNOTATION, Kind};
use crate::model::profile::Profile;
use crate::model::project::Tier;
use crate::model::spec::NexusAICapability;
use crate::provision::kube::FIELD_MANAGER;
use crate::provision::kube::objects::{self, Object};

/// Field manager for Deployments nexus-dev does not otherwise manage.
pub const WATCH_FIELD_MANAGER: &str = "nexus-dev-watch";

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(
        "capability {namespace}/{name} is not in the cluster\n  hint: apply it first (`nexus-dev apply -f SPEC`), then watch"
    )]
    CapabilityMissing { namespace: String, name: String },
    #[error("cannot record the image on capability {namespace}/{name}: {source}")]
    RecordImage { namespace: String, name: String, source: kube::Error },
    #[error("the plan of capability {name} has no {component} Deployment")]
    NotPlanned { name: String, component: String },
    #[error("cannot apply Deployment {namespace}/{name}: {source}")]
    ApplyDeployment { namespace: String, name: String, source: kube::Error },
}

/// Where a component's image runs.
#[derive(Clone)]
pub enum Deploy {
    /// Build and deliver only.
    Nowhere,
    /// A component of a NexusAICapability (the custom resource's namespace and name), planned
    /// with `profile` — the reconciler's profile, so that both compute the same Deployment.
    Capability { namespace: String, name: String, workload: Tier, profile: Box<Profile> },
    /// Any Deployment: its `container` gets the image.
    Deployment { namespace: String, name: String, container: String },
}

impl std::fmt::Debug for Deploy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Deploy::Nowhere => write!(f, "Nowhere"),
            Deploy::Capability { namespace, name, workload, .. } => {
                write!(f, "Capability({namespace}/{name}, {})", workload.as_str())
            }
            Deploy::Deployment { namespace, name, container } => {
                write!(f, "Deployment({namespace}/{name}/{container})")
            }
        }
    }
}

/// The Deployment that was updated, and the generation its rollout must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub namespace: String,
    pub name: String,
    pub generation: i64,
}

/// The merge patch recording `image` for `workload` on a capability.
pub fn record_patch(workload: Tier, image: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"annotations": {format!("{BUILT_IMAGE_ANNOTATION}{}", workload.as_str()): image}}})
}

/// The apply configuration that sets one container's image and nothing else.
pub fn image_only(namespace: &str, name: &str, container: &str, image: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}
    })
}

/// The Deployment of `workload` as the reconciler would apply it for `cr`.
pub fn planned(cr: &NexusAICapability, profile: &Profile, workload: Tier) -> Option<Deployment> {
    let plan = plan::build(cr, profile);
    let names = crate::model::names::Names::of(&cr.spec);
    let want = names.deployment(workload.as_str());
    let r = plan.of_kind(Kind::Deployment).find(|r| r.name == want)?;
    match objects::object(r, &crate::reconcile::key(cr))? {
        Object::Deployment(d) => Some(*d),
        _ => None,
    }
}

/// Points `deploy` at `image`. `Ok(None)` for [`Deploy::Nowhere`].
#[tracing::instrument(skip(client), fields(deploy = ?deploy))]
pub async fn deploy(client: &Client, deploy: &Deploy, image: &str) -> Result<Option<Applied>, DeployError> {
    match deploy {
        Deploy::Nowhere => Ok(None),
        Deploy::Capability { namespace, name, workload, profile } => {
            let api: Api<NexusAICapability> = Api::namespaced(client.clone(), namespace);
            let record_err =
                |source| DeployError::RecordImage { namespace: namespace.clone(), name: name.clone(), source };
            let cr = match api.patch(name, &PatchParams::default(), &Patch::Merge(record_patch(*workload, image))).await
            {
                Ok(cr) => cr,
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    return Err(DeployError::CapabilityMissing { namespace: namespace.clone(), name: name.clone() });
                }
                Err(e) => return Err(record_err(e)),
            };
            let Some(mut d) = planned(&cr, profile, *workload) else {
                return Err(DeployError::NotPlanned { name: cr.name_any(), component: workload.as_str().into() });
            };
            let ns = d.namespace().unwrap_or_default();
            let dname = d.name_any();
            d.metadata.managed_fields = None;
            let mut body = serde_json::to_value(&d).unwrap_or_default();
            if let Some(o) = body.as_object_mut() {
                o.insert("apiVersion".into(), "apps/v1".into());
                o.insert("kind".into(), "Deployment".into());
            }
            apply(client, &ns, &dname, FIELD_MANAGER, &body).await
        }
        Deploy::Deployment { namespace, name, container } => {
            apply(client, namespace, name, WATCH_FIELD_MANAGER, &image_only(namespace, name, container, image)).await
        }
    }
}

async fn apply(
    client: &Client,
    namespace: &str,
    name: &str,
    manager: &str,
    body: &serde_json::Value,
) -> Result<Option<Applied>, DeployError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let applied =
        api.patch(name, &PatchParams::apply(manager).force(), &Patch::Apply(body)).await.map_err(|source| {
            DeployError::ApplyDeployment { namespace: namespace.to_owned(), name: name.to_owned(), source }
        })?;
    Ok(Some(Applied {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        generation: applied.metadata.generation.unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::examples::example;

    #[test]
    fn the_record_patch_uses_the_plan_annotation() {
        let p = record_patch(Tier::Backend, "r/api@sha256:x");
        assert_eq!(p["metadata"]["annotations"]["nexus.ai/built-image.backend"], "r/api@sha256:x");
    }

    #[test]
    fn the_planned_deployment_carries_the_recorded_image() {
        let digest = format!("localhost:5001/api@sha256:{}", "b".repeat(64));
        let mut cr = example("minimal");
        cr.spec.capability_name = "wt".into();
        cr.metadata.name = Some(format!("wt-{}", cr.spec.environment));
        cr.metadata.namespace = cr.metadata.name.clone();
        let profile = crate::input::profile::resolve("local", std::path::Path::new("/")).unwrap().profile;
        let before = planned(&cr, &profile, Tier::Backend).unwrap();
        let image =
            |d: &Deployment| d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone();
        assert_ne!(image(&before).as_deref(), Some(digest.as_str()));
        cr.metadata.annotations =
            Some([(format!("{BUILT_IMAGE_ANNOTATION}backend"), digest.clone())].into_iter().collect());
        let after = planned(&cr, &profile, Tier::Backend).unwrap();
        assert_eq!(image(&after).as_deref(), Some(digest.as_str()));
        assert_eq!(after.metadata.name.as_deref(), Some("wt-dev-backend"));
        // Everything else is the reconciler's object, field for field.
        let mut b = before.clone();
        b.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image = Some(digest);
        assert_eq!(b, after);
        assert!(planned(&cr, &profile, Tier::Frontend).is_some());
    }

    #[test]
    fn a_foreign_deployment_gets_only_the_image() {
        let v = image_only("ns", "web", "app", "img@sha256:1");
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"][0],
            serde_json::json!({"name": "app", "image": "img@sha256:1"})
        );
        assert!(v["spec"].get("replicas").is_none());
    }
}
