//! The status written back to the custom resource: phase, message, conditions, resources and
//! endpoints (DESIGN.md §3). Built from values; written only when it changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::model::spec::{NexusAICapability, NexusAICapabilityStatus, Phase};

/// Condition types, each with a reason.
pub const READY: &str = "Ready";
pub const AWS_PROVISIONED: &str = "AwsProvisioned";
pub const WORKLOADS_AVAILABLE: &str = "WorkloadsAvailable";

/// Sets `type_` in `conds`, keeping the transition time when the status did not change.
pub fn set_condition(conds: &mut Vec<Condition>, type_: &str, ok: bool, reason: &str, message: &str, generation: i64) {
    let status = if ok { "True" } else { "False" };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now;
            }
            c.status = status.into();
            c.reason = reason.into();
            c.message = message.into();
            c.observed_generation = Some(generation);
        }
        None => conds.push(Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: Some(generation),
            last_transition_time: now,
        }),
    }
}

/// The status with conditions' times ignored, for "did anything change".
fn comparable(s: &NexusAICapabilityStatus) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(conds) = v.get_mut("conditions").and_then(|c| c.as_array_mut()) {
        for c in conds {
            if let Some(o) = c.as_object_mut() {
                o.remove("lastTransitionTime");
            }
        }
    }
    v
}

/// Writes `status` to the status subresource when it differs from what the object has.
pub async fn write(
    api: &Api<NexusAICapability>,
    cr: &NexusAICapability,
    status: &NexusAICapabilityStatus,
) -> Result<bool, kube::Error> {
    let current = cr.status.clone().unwrap_or_default();
    if comparable(&current) == comparable(status) {
        return Ok(false);
    }
    let patch = json!({"apiVersion": "nexus.ai/v1", "kind": "NexusAICapability", "status": status});
    api.patch_status(
        &cr.name_any(),
        &PatchParams::apply(crate::provision::kube::FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}

/// A short, human summary of a phase, for `status.message` and events.
pub fn describe(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "waiting to start",
        Phase::ProvisioningDataServices => "provisioning DynamoDB tables, S3 buckets and Glue",
        Phase::ProvisioningSsm => "writing SSM parameters",
        Phase::ProvisioningSecrets => "creating Secrets Manager secrets",
        Phase::ProvisioningIam => "creating the IAM role (and Cognito)",
        Phase::Deploying => "creating the namespace and service account",
        Phase::DeployingBackend => "deploying the backend",
        Phase::DeployingFrontend => "deploying the frontend and the ingress",
        Phase::Running => "running",
        Phase::Failed => "failed",
        Phase::Deleting => "deleting",
    }
}
