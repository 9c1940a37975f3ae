//! What the dashboard can do besides show (issue 16, "Actions"): re-run a capability's
//! reconcile, and check its AWS resources for drift. Nothing destructive, nothing that writes to
//! AWS or to an EKS profile.
//!
//! One way in (STYLE.md): a re-run goes through the controller's trigger, as the healer's does
//! (`daemon::heal`): the next pass forgets its last AWS check and compares every resource again.
//! The drift check is `verify`'s AWS dry run of the plan, which reads only.

use std::sync::Arc;
use std::time::Instant;

use futures::channel::mpsc::UnboundedSender;
use kube::Api;
use kube::runtime::reflector::ObjectRef;
use serde::Serialize;

use crate::model::outcome::Report;
use crate::model::plan::{self, Plan};
use crate::model::spec::NexusAICapability;
use crate::reconcile::Context;
use crate::reconcile::verify::{self, AwsState};

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("the daemon's controller has stopped: nothing takes the reconcile")]
    Retrigger,
    #[error("cannot read capability {key}: {source}")]
    ReadCapability { key: String, source: kube::Error },
    #[error("capability {0} is not in the cluster")]
    NotFound(String),
}

/// The daemon's controller context and its trigger.
pub struct Actions {
    ctx: Arc<Context>,
    retrigger: UnboundedSender<ObjectRef<NexusAICapability>>,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actions").field("profile", &self.ctx.profile.name).finish_non_exhaustive()
    }
}

/// One planned AWS resource against what is there.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDrift {
    /// `kind/name`, as the capability's resources name it.
    pub id: String,
    pub kind: String,
    pub name: String,
    pub state: AwsState,
    /// What differs, as an apply would change it (`field: live → planned`).
    pub changes: Vec<String>,
    pub error: Option<String>,
    /// The planned settings (secret values are never in a plan).
    pub planned: serde_json::Value,
}

/// A drift check of a capability's AWS resources.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub key: String,
    pub profile: String,
    pub region: String,
    /// When the check started (ms since the epoch), and how long it took.
    pub checked_at: u64,
    pub duration_ms: u64,
    /// Resources in sync, out of all checked.
    pub in_sync: usize,
    pub resources: Vec<ResourceDrift>,
}

/// The drift of `plan`'s AWS resources from a dry run's `report`, in plan order. Pure.
pub fn drift(key: &str, plan: &Plan, report: &Report, checked_at: u64, duration_ms: u64) -> Drift {
    let resources: Vec<ResourceDrift> = plan
        .resources
        .iter()
        .filter_map(|r| {
            let found = report.resources.iter().find(|x| x.kind == r.kind && x.name == r.name)?;
            let state = AwsState::of(found.outcome);
            Some(ResourceDrift {
                id: r.id(),
                kind: r.kind.as_str().to_owned(),
                name: r.name.clone(),
                state,
                changes: found.changes.clone(),
                error: match state {
                    AwsState::Error => Some(found.error.clone().unwrap_or_else(|| found.outcome.to_string())),
                    _ => None,
                },
                planned: serde_json::to_value(&r.settings).unwrap_or_default(),
            })
        })
        .collect();
    Drift {
        key: key.to_owned(),
        profile: plan.profile.clone(),
        region: plan.target.region.clone(),
        checked_at,
        duration_ms,
        in_sync: resources.iter().filter(|r| r.state == AwsState::InSync).count(),
        resources,
    }
}

impl Actions {
    pub fn new(ctx: Arc<Context>, retrigger: UnboundedSender<ObjectRef<NexusAICapability>>) -> Self {
        Self { ctx, retrigger }
    }

    /// Asks the controller for a pass over `namespace/name`, with a full AWS check. The pass
    /// runs when the controller takes it (at once, unless one for it is running; or once this
    /// daemon holds the cluster's lease).
    pub fn reconcile(&self, namespace: &str, name: &str) -> Result<(), ActionError> {
        self.ctx.forget_aws_check(&format!("{namespace}/{name}"));
        self.retrigger.unbounded_send(ObjectRef::new(name).within(namespace)).map_err(|_| ActionError::Retrigger)
    }

    /// Compares `namespace/name`'s planned AWS resources with what is there. Reads only.
    pub async fn drift(&self, namespace: &str, name: &str) -> Result<Drift, ActionError> {
        let key = format!("{namespace}/{name}");
        let api: Api<NexusAICapability> = Api::namespaced(self.ctx.client.clone(), namespace);
        let cr = api
            .get_opt(name)
            .await
            .map_err(|source| ActionError::ReadCapability { key: key.clone(), source })?
            .ok_or_else(|| ActionError::NotFound(key.clone()))?;
        let plan = plan::build(&cr, &self.ctx.profile);
        let aws = self.ctx.aws(&plan.target.region).await;
        let (at, started) = (super::feed::now_ms(), Instant::now());
        let report = verify::aws_dry_run(&plan, &aws).await;
        Ok(drift(&key, &plan, &report, at, started.elapsed().as_millis() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Outcome, ResourceReport};
    use crate::model::plan::Kind;

    #[test]
    fn each_planned_aws_resource_gets_its_state_changes_and_planned_settings() {
        let (_, plan) = crate::ui::model::tests::minimal(None);
        let outcome = |kind: Kind| match kind {
            Kind::S3Bucket => Outcome::Created,
            Kind::SsmParameter => Outcome::Updated,
            Kind::GlueTable => Outcome::Failed,
            _ => Outcome::Unchanged,
        };
        let aws: Vec<_> = plan.resources.iter().filter(|r| r.kind.is_aws()).collect();
        let report = Report {
            resources: aws
                .iter()
                .map(|r| ResourceReport {
                    kind: r.kind,
                    name: r.name.clone(),
                    outcome: outcome(r.kind),
                    changes: match r.kind {
                        Kind::SsmParameter => vec!["value: \"old\" → \"new\"".into()],
                        _ => vec![],
                    },
                    error: (r.kind == Kind::GlueTable).then(|| "AccessDenied".into()),
                    error_code: None,
                    attempts: 1,
                    duration_ms: 1,
                    id: None,
                })
                .collect(),
            mutating_calls: 0,
            read_calls: 0,
            duration_ms: 0,
            depth: 0,
        };
        let d = drift("myapp-dev/myapp-dev", &plan, &report, 5, 7);
        assert_eq!(d.resources.len(), aws.len(), "the AWS resources only, in plan order");
        assert_eq!(
            d.resources.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            aws.iter().map(|r| r.id()).collect::<Vec<_>>()
        );
        let of = |kind: &str| d.resources.iter().find(|r| r.kind == kind).unwrap();
        assert_eq!(of("s3.bucket").state, AwsState::Missing);
        assert_eq!(of("ssm.parameter").state, AwsState::Differs);
        assert_eq!(of("ssm.parameter").changes, ["value: \"old\" → \"new\""]);
        assert_eq!(
            (of("glue.table").state, of("glue.table").error.as_deref()),
            (AwsState::Error, Some("AccessDenied"))
        );
        assert_eq!(of("dynamodb.table").state, AwsState::InSync);
        assert!(of("dynamodb.table").planned.get("billingMode").is_some(), "{}", of("dynamodb.table").planned);
        assert_eq!(d.in_sync, d.resources.iter().filter(|r| r.state == AwsState::InSync).count());
        assert_eq!((d.region.as_str(), d.checked_at, d.duration_ms), (plan.target.region.as_str(), 5, 7));
    }
}
