//! The seed's eleven steps (000, "Operator Reconciliation Flow") as the dashboard shows them:
//! which step each planned resource belongs to, and a step's state from its resources' health
//! and the capability's phase. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::Health;
use crate::model::plan::{Kind, Resource};
use crate::model::spec::Phase;
use crate::reconcile::decide::{AWS_PHASES, KUBERNETES_PHASES};

/// The eleven steps, in order, with the phase each runs in.
pub const STEPS: [(&str, Phase); 11] = [
    ("DynamoDB", Phase::ProvisioningDataServices),
    ("S3", Phase::ProvisioningDataServices),
    ("Glue", Phase::ProvisioningDataServices),
    ("SSM", Phase::ProvisioningSsm),
    ("Secrets", Phase::ProvisioningSecrets),
    ("IAM", Phase::ProvisioningIam),
    ("Namespace", Phase::Deploying),
    ("ServiceAccount", Phase::Deploying),
    ("Backend", Phase::DeployingBackend),
    ("Frontend", Phase::DeployingFrontend),
    ("Ingress", Phase::DeployingFrontend),
];

/// The step (1–11) a planned resource is made in. Cognito goes with IAM (the phase it is made
/// in); the pods' Secret and the NetworkPolicies with the service account (the rest of
/// `Deploying`); autoscalers, budgets and Services with their component's Deployment.
pub fn step_of(r: &Resource) -> usize {
    match r.kind {
        Kind::DynamoTable => 1,
        Kind::S3Bucket => 2,
        Kind::GlueDatabase | Kind::GlueTable => 3,
        Kind::SsmParameter => 4,
        Kind::Secret => 5,
        Kind::IamOidcProvider
        | Kind::IamRole
        | Kind::CognitoUserPool
        | Kind::CognitoUserPoolClient
        | Kind::CognitoUserPoolDomain
        | Kind::CognitoGroup => 6,
        Kind::Namespace => 7,
        Kind::Ingress => 11,
        _ => match r.phase {
            Phase::DeployingBackend => 9,
            Phase::DeployingFrontend => 10,
            _ => 8,
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepState {
    /// Not reached yet.
    Pending,
    /// Its phase is the capability's, or one of its resources is coming up.
    Running,
    /// Every resource of it is healthy.
    Done,
    /// One of its resources failed (or a workload went missing).
    Failed,
    /// The spec plans nothing for it (Glue off, no ingress).
    Skipped,
}

/// The state of a step from its resources' health and the capability's phase.
pub fn state(health: &[Health], phase: Option<Phase>, step_phase: Phase) -> StepState {
    if health.is_empty() {
        StepState::Skipped
    } else if health.contains(&Health::Failed) {
        StepState::Failed
    } else if health.iter().all(|h| *h == Health::Ok) {
        StepState::Done
    } else if phase == Some(step_phase) || health.contains(&Health::Waiting) {
        StepState::Running
    } else {
        StepState::Pending
    }
}

/// When each phase of a capability's current generation was first seen (ms since the epoch):
/// the steps' start times and durations. Kept by whoever watches the capability (the daemon's
/// feed); the status has no times of its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    generation: Option<i64>,
    seen: BTreeMap<usize, u64>,
}

/// Where `p` comes in a pass: the reconciler's AWS phases, then its Kubernetes phases, then
/// Running.
fn position(p: Phase) -> Option<usize> {
    AWS_PHASES.iter().chain(&KUBERNETES_PHASES).chain(&[Phase::Running]).position(|q| *q == p)
}

impl Timeline {
    /// Notes that the capability at `generation` is in `phase` at `now`; a new generation
    /// starts a new timeline.
    pub fn observe(&mut self, generation: Option<i64>, phase: Option<Phase>, now: u64) {
        if generation != self.generation {
            *self = Self { generation, seen: BTreeMap::new() };
        }
        if let Some(i) = phase.and_then(position) {
            self.seen.entry(i).or_insert(now);
        }
    }

    /// When `phase` started, and how long it took (ms) once a later phase was seen.
    pub fn times(&self, phase: Phase) -> (Option<u64>, Option<u64>) {
        let Some(i) = position(phase) else { return (None, None) };
        let Some(&start) = self.seen.get(&i) else { return (None, None) };
        let end = self.seen.range(i + 1..).next().map(|(_, t)| *t);
        (Some(start), end.map(|e| e.saturating_sub(start)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_planned_resource_of_the_full_example_has_a_step_and_every_step_has_one() {
        let plan = crate::model::plan::build(
            &crate::input::examples::example("nexus-ai-complete"),
            &crate::input::examples::profile("local"),
        );
        let mut used: Vec<usize> = plan.resources.iter().map(step_of).collect();
        used.sort_unstable();
        used.dedup();
        assert_eq!(used, (1..=11).collect::<Vec<_>>());
        for r in &plan.resources {
            assert_eq!(STEPS[step_of(r) - 1].1, r.phase, "{}: a step runs in its resources' phase", r.id());
        }
    }

    #[test]
    fn a_step_is_failed_before_done_before_running_before_pending() {
        use Health::*;
        let p = Phase::DeployingBackend;
        assert_eq!(state(&[], Some(p), p), StepState::Skipped);
        assert_eq!(state(&[Ok, Failed], Some(Phase::Running), p), StepState::Failed);
        assert_eq!(state(&[Ok, Ok], Some(Phase::Deploying), p), StepState::Done);
        assert_eq!(state(&[Ok, Pending], Some(p), p), StepState::Running);
        assert_eq!(state(&[Ok, Waiting], Some(Phase::Running), p), StepState::Running, "replicas coming up");
        assert_eq!(state(&[Pending], Some(Phase::ProvisioningSsm), p), StepState::Pending);
        assert_eq!(state(&[Pending], None, p), StepState::Pending);
    }

    #[test]
    fn a_timeline_times_each_phase_until_the_next_and_restarts_with_a_new_generation() {
        let mut t = Timeline::default();
        t.observe(Some(1), Some(Phase::ProvisioningDataServices), 1_000);
        t.observe(Some(1), Some(Phase::ProvisioningDataServices), 1_500);
        assert_eq!(t.times(Phase::ProvisioningDataServices), (Some(1_000), None), "still running");
        t.observe(Some(1), Some(Phase::ProvisioningSsm), 1_800);
        assert_eq!(t.times(Phase::ProvisioningDataServices), (Some(1_000), Some(800)));
        // A pass that skips phases (a resync) ends the last one seen at the next one seen.
        t.observe(Some(1), Some(Phase::Running), 3_000);
        assert_eq!(t.times(Phase::ProvisioningSsm), (Some(1_800), Some(1_200)));
        assert_eq!(t.times(Phase::Deploying), (None, None));
        t.observe(Some(1), Some(Phase::Failed), 3_100);
        assert_eq!(t.times(Phase::Running), (Some(3_000), None), "Failed is no phase of the walk");
        t.observe(Some(2), Some(Phase::ProvisioningDataServices), 5_000);
        assert_eq!(t.times(Phase::ProvisioningSsm), (None, None));
        assert_eq!(t.times(Phase::ProvisioningDataServices), (Some(5_000), None));
    }
}
