//! The dashboard's objects (issue 16, "API first"): a capability with its eleven steps and its
//! resources, built from what the rest of nexus-dev already computes — the plan (resources and
//! their `dependsOn`), the status the reconciler writes (each resource Ready, Pending or Failed,
//! with its error), and the live replicas of its Deployments (what `status -w` shows). Pure.

use serde::{Deserialize, Serialize};

use super::commands::Command;
use super::detail::{EventView, PodView};
use super::steps::{self, StepState, Timeline};
use crate::model::plan::{Plan, Settings};
use crate::model::spec::{Endpoint, NexusAICapability, Phase, ResourceStatus};
use crate::provision::kube::objects::Replicas;

/// How a resource is doing, as the page colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Health {
    /// Ready (and, for a Deployment, every replica ready).
    Ok,
    /// Not made yet, or not reported yet.
    Pending,
    /// Made, and coming up: a Deployment with replicas not ready yet.
    Waiting,
    /// Failed, or a Deployment the status says is Ready is gone from the cluster.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaCount {
    pub ready: i32,
    pub desired: i32,
}

/// One planned resource with its live state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceView {
    /// `kind/name`, as the plan's `dependsOn` names it.
    pub id: String,
    pub kind: String,
    pub name: String,
    /// The step (1–11) that makes it.
    pub step: usize,
    pub phase: Phase,
    /// What the status says: Ready, Pending or Failed; none before the first pass.
    pub state: Option<String>,
    pub health: Health,
    /// The error of a failed resource, or why it waits.
    pub message: Option<String>,
    /// The ARN or AWS id, when there is one.
    pub aws_id: Option<String>,
    pub depends_on: Vec<String>,
    /// Live replicas, for a Deployment.
    pub replicas: Option<ReplicaCount>,
}

/// One of the eleven steps of a capability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// 1 to 11.
    pub number: usize,
    pub name: String,
    pub phase: Phase,
    pub state: StepState,
    /// Its resources, and how many of them are healthy.
    pub resources: usize,
    pub ready: usize,
    /// When its phase was first seen in this generation (ms since the epoch).
    pub started_at: Option<u64>,
    /// Until the next phase was seen; steps of one phase share it.
    pub duration_ms: Option<u64>,
    /// The first error among its resources.
    pub error: Option<String>,
}

/// A capability as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    /// `namespace/name` of the custom resource: the key of deltas.
    pub key: String,
    pub namespace: String,
    pub name: String,
    /// `capabilityName`.
    pub capability: String,
    pub environment: String,
    pub profile: String,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    pub phase: Phase,
    pub message: Option<String>,
    pub steps: Vec<Step>,
    pub resources: Vec<ResourceView>,
    pub endpoints: Vec<Endpoint>,
    /// Its pods, live (filled by the feed, [`super::detail`]).
    pub pods: Vec<PodView>,
    /// The recent Events of its namespace, newest first (filled by the feed).
    pub events: Vec<EventView>,
    /// Commands to copy (filled by the feed, [`super::commands`]).
    pub commands: Vec<Command>,
}

/// The health of a planned resource from its status entry and, for a Deployment, its live
/// replicas (`None`: not known, nothing is judged from them).
fn health(status: Option<&ResourceStatus>, live: Option<Option<ReplicaCount>>) -> (Health, Option<String>) {
    let message = status.and_then(|s| s.message.clone());
    match (status.map(|s| s.state.as_str()), live) {
        (Some("Failed"), _) => (Health::Failed, message),
        (Some("Ready"), Some(None)) => (Health::Failed, Some("the Deployment is not in the cluster".into())),
        (Some("Ready"), Some(Some(r))) if r.ready < r.desired => {
            (Health::Waiting, Some(format!("{}/{} replicas ready", r.ready, r.desired)))
        }
        (Some("Ready"), _) => (Health::Ok, message),
        _ => (Health::Pending, message),
    }
}

/// The capability `cr` planned as `plan`, with `replicas` the live replicas of its Deployments
/// by component (`None`: not watched) and `timeline` the phases seen.
pub fn capability(cr: &NexusAICapability, plan: &Plan, replicas: Option<&Replicas>, timeline: &Timeline) -> Capability {
    let st = cr.status.clone().unwrap_or_default();
    let namespace = cr.metadata.namespace.clone().unwrap_or_default();
    let name = cr.metadata.name.clone().unwrap_or_default();
    let resources: Vec<ResourceView> = plan
        .resources
        .iter()
        .map(|r| {
            let status = st.resources.iter().find(|s| s.kind == r.kind.as_str() && s.name == r.name);
            let live = match &r.settings {
                Settings::Deployment(d) => replicas.map(|all| {
                    all.get(&d.component).map(|(ready, desired)| ReplicaCount { ready: *ready, desired: *desired })
                }),
                _ => None,
            };
            let (health, message) = health(status, live);
            ResourceView {
                id: r.id(),
                kind: r.kind.as_str().to_owned(),
                name: r.name.clone(),
                step: steps::step_of(r),
                phase: r.phase,
                state: status.map(|s| s.state.clone()),
                health,
                message,
                aws_id: status.and_then(|s| s.id.clone()),
                depends_on: r.depends_on.clone(),
                replicas: live.flatten(),
            }
        })
        .collect();
    let steps = steps::STEPS
        .iter()
        .enumerate()
        .map(|(i, (step_name, step_phase))| {
            let mine: Vec<&ResourceView> = resources.iter().filter(|r| r.step == i + 1).collect();
            let health: Vec<Health> = mine.iter().map(|r| r.health).collect();
            let (started_at, duration_ms) = timeline.times(*step_phase);
            Step {
                number: i + 1,
                name: (*step_name).to_owned(),
                phase: *step_phase,
                state: steps::state(&health, st.phase, *step_phase),
                resources: mine.len(),
                ready: health.iter().filter(|h| **h == Health::Ok).count(),
                started_at,
                duration_ms,
                error: mine
                    .iter()
                    .find(|r| r.health == Health::Failed)
                    .and_then(|r| r.message.as_ref().map(|m| format!("{}: {m}", r.id)).or_else(|| Some(r.id.clone()))),
            }
        })
        .collect();
    Capability {
        key: format!("{namespace}/{name}"),
        namespace,
        name,
        capability: cr.spec.capability_name.clone(),
        environment: cr.spec.environment.clone(),
        profile: plan.profile.clone(),
        generation: cr.metadata.generation,
        observed_generation: st.observed_generation,
        phase: st.phase.unwrap_or(Phase::Pending),
        message: st.message,
        steps,
        resources,
        endpoints: st.endpoints,
        pods: Vec::new(),
        events: Vec::new(),
        commands: Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::spec::NexusAICapabilityStatus;

    /// The minimal example as the custom resource `myapp-dev/myapp-dev`, with `status`.
    pub(crate) fn minimal(status: Option<NexusAICapabilityStatus>) -> (NexusAICapability, Plan) {
        let mut cr = crate::input::examples::example("minimal");
        cr.metadata.namespace = Some("myapp-dev".into());
        cr.metadata.name = Some("myapp-dev".into());
        cr.metadata.generation = Some(1);
        cr.status = status;
        let plan = crate::model::plan::build(&cr, &crate::input::examples::profile("local"));
        (cr, plan)
    }

    /// The minimal example as `myapp-dev/NAME` in `phase`, every resource Pending.
    pub(crate) fn named(name: &str, phase: Phase) -> Capability {
        let (_, plan) = minimal(None);
        let (mut cr, plan) = minimal(Some(all(&plan, "Pending", phase)));
        cr.metadata.name = Some(name.into());
        capability(&cr, &plan, None, &Timeline::default())
    }

    /// A status with every planned resource in `state`.
    pub(crate) fn all(plan: &Plan, state: &str, phase: Phase) -> NexusAICapabilityStatus {
        NexusAICapabilityStatus {
            phase: Some(phase),
            resources: plan
                .resources
                .iter()
                .map(|r| ResourceStatus {
                    kind: r.kind.as_str().into(),
                    name: r.name.clone(),
                    state: state.into(),
                    id: None,
                    message: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn before_the_first_pass_every_resource_is_pending_and_steps_without_resources_skipped() {
        let (cr, plan) = minimal(None);
        let c = capability(&cr, &plan, None, &Timeline::default());
        assert_eq!(c.key, "myapp-dev/myapp-dev");
        assert_eq!(c.phase, Phase::Pending);
        assert_eq!(c.resources.len(), plan.resources.len());
        assert!(c.resources.iter().all(|r| r.health == Health::Pending && r.state.is_none()));
        assert_eq!(c.steps.len(), 11);
        for s in &c.steps {
            let expected = if s.resources == 0 { StepState::Skipped } else { StepState::Pending };
            assert_eq!(s.state, expected, "{}", s.name);
        }
    }

    #[test]
    fn a_failed_resource_fails_its_step_with_its_error_and_a_deployment_gone_turns_it_red() {
        let (_, plan) = minimal(None);
        let mut status = all(&plan, "Ready", Phase::Running);
        let bucket = status.resources.iter_mut().find(|r| r.kind == "s3.bucket").unwrap();
        bucket.state = "Failed".into();
        bucket.message = Some("AccessDenied".into());
        let bucket_id = format!("s3.bucket/{}", bucket.name);
        let (cr, plan) = minimal(Some(status));
        let live: Replicas = [("backend".to_owned(), (1, 1)), ("frontend".to_owned(), (0, 2))].into_iter().collect();
        let c = capability(&cr, &plan, Some(&live), &Timeline::default());
        let step = |name: &str| c.steps.iter().find(|s| s.name == name).unwrap();
        assert_eq!(step("S3").state, StepState::Failed);
        assert_eq!(step("S3").error.as_deref(), Some(format!("{bucket_id}: AccessDenied").as_str()));
        assert_eq!(step("DynamoDB").state, StepState::Done);
        assert_eq!(step("Backend").state, StepState::Done);
        assert_eq!(step("Frontend").state, StepState::Running, "replicas coming up");
        let frontend = c.resources.iter().find(|r| r.kind == "k8s.deployment" && r.name.ends_with("frontend")).unwrap();
        assert_eq!(frontend.replicas, Some(ReplicaCount { ready: 0, desired: 2 }));
        assert_eq!(frontend.message.as_deref(), Some("0/2 replicas ready"));
        let gone: Replicas = [("frontend".to_owned(), (2, 2))].into_iter().collect();
        let c = capability(&cr, &plan, Some(&gone), &Timeline::default());
        let backend = c.steps.iter().find(|s| s.name == "Backend").unwrap();
        assert_eq!(backend.state, StepState::Failed, "deleted by hand");
        assert!(backend.error.as_deref().unwrap().contains("not in the cluster"));
    }
}
