//! The reconciler's decisions, as pure functions of what a pass knows: whether to walk the
//! phases, whether AWS needs reading, where the rollouts leave the capability, and the status
//! each ending writes. `converge` does the I/O around them.

use std::time::Duration;

use super::{Readiness, status};
use crate::model::spec::{NexusAICapabilityStatus as Status, Phase};
use crate::provision::kube::apply::Rollout;

/// The steps of the seed's table that provision AWS, in order.
pub const AWS_PHASES: [Phase; 4] =
    [Phase::ProvisioningDataServices, Phase::ProvisioningSsm, Phase::ProvisioningSecrets, Phase::ProvisioningIam];

/// How a pass runs the AWS phases through the executor: one run per phase when the status walks
/// through them (a new or changed spec shows each), else one run of all of them, whose reads go
/// in one wave (issue 20: a warm reconcile in one round trip, not one per phase).
pub fn aws_runs(show_phases: bool) -> Vec<Vec<Phase>> {
    if show_phases { AWS_PHASES.into_iter().map(|p| vec![p]).collect() } else { vec![AWS_PHASES.to_vec()] }
}

/// The steps that apply the Kubernetes objects, in order.
pub const KUBERNETES_PHASES: [Phase; 3] = [Phase::Deploying, Phase::DeployingBackend, Phase::DeployingFrontend];

/// How far a capability in `phase` is through the steps that provision and deploy it
/// ([`AWS_PHASES`] then [`KUBERNETES_PHASES`]): the steps done and their number, for
/// `status`. `None` where the phase says nothing of it (failed, deleting).
pub fn steps_done(phase: Option<Phase>) -> Option<(usize, usize)> {
    let total = AWS_PHASES.len() + KUBERNETES_PHASES.len();
    match phase {
        None | Some(Phase::Pending) => Some((0, total)),
        Some(Phase::Running) => Some((total, total)),
        Some(Phase::Failed | Phase::Deleting) => None,
        Some(p) => AWS_PHASES.iter().chain(KUBERNETES_PHASES.iter()).position(|q| *q == p).map(|i| (i, total)),
    }
}

/// Whether a pass walks the status through every phase: a new or changed spec, or a retry
/// after a failure. A resync, or a pass waiting on a rollout of this generation, does not.
pub fn show_phases(status: &Status, generation: i64) -> bool {
    status.observed_generation != Some(generation)
        || matches!(status.phase, None | Some(Phase::Pending) | Some(Phase::Failed))
}

/// Whether a pass may leave AWS unread: it walks no phases, and the same AWS plan (`print`) was
/// fully checked less than `recheck` ago (`checked`: that plan's fingerprint and the check's
/// age). Every pass of a capability rolling out would otherwise read all of AWS (~50 calls) on
/// each event of its Deployments.
pub fn aws_fresh(show_phases: bool, checked: Option<(u64, Duration)>, print: u64, recheck: Duration) -> bool {
    !show_phases && checked.is_some_and(|(p, age)| p == print && age < recheck)
}

/// Where the Deployments' rollouts leave the capability; `Err` says which one will not finish.
pub fn readiness<'a>(rollouts: impl IntoIterator<Item = (&'a str, Rollout)>) -> Result<Readiness, String> {
    let mut waiting = Vec::new();
    for (name, rollout) in rollouts {
        match rollout {
            Rollout::Available => {}
            Rollout::Progressing(why) => waiting.push(format!("{name}: {why}")),
            Rollout::Stuck(why) => return Err(format!("deployment {name} does not progress: {why}")),
        }
    }
    Ok(if waiting.is_empty() {
        Readiness::Running
    } else {
        Readiness::RollingOut(format!("waiting for rollout: {}", waiting.join("; ")))
    })
}

/// The status moving to `phase`.
pub fn stepped(status: &mut Status, phase: Phase, generation: i64) {
    status.phase = Some(phase);
    status.message = Some(status::describe(phase).to_owned());
    status::set_condition(
        &mut status.conditions,
        status::READY,
        false,
        phase.as_str(),
        status::describe(phase),
        generation,
    );
}

/// The status at the end of a pass that applied everything: Running, or rolling out (a
/// capability that was Running shows its last deploying phase until the rollout is done).
/// `resources`: how many the plan has.
pub fn settled(status: &mut Status, readiness: &Readiness, generation: i64, resources: usize) {
    status.observed_generation = Some(generation);
    match readiness {
        Readiness::Running => {
            let ready = "every deployment is available";
            status::set_condition(
                &mut status.conditions,
                status::WORKLOADS_AVAILABLE,
                true,
                "Available",
                ready,
                generation,
            );
            let running = "the capability is running";
            status::set_condition(&mut status.conditions, status::READY, true, "Running", running, generation);
            status.phase = Some(Phase::Running);
            status.message = Some(format!("running: {resources} resources ready"));
        }
        Readiness::RollingOut(msg) => {
            status::set_condition(
                &mut status.conditions,
                status::WORKLOADS_AVAILABLE,
                false,
                "RollingOut",
                msg,
                generation,
            );
            status::set_condition(&mut status.conditions, status::READY, false, "RollingOut", msg, generation);
            if matches!(status.phase, None | Some(Phase::Running)) {
                status.phase = Some(Phase::DeployingFrontend);
            }
            status.message = Some(msg.clone());
        }
    }
}

/// The status after a failure: Failed, with the message, at this generation (a retry walks the
/// phases again).
pub fn failed(status: &mut Status, message: &str, generation: i64) {
    status.phase = Some(Phase::Failed);
    status.message = Some(message.to_owned());
    status.observed_generation = Some(generation);
    status::set_condition(&mut status.conditions, status::READY, false, "Failed", message, generation);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_done_count_the_phases_before_this_one() {
        assert_eq!(steps_done(None), Some((0, 7)));
        assert_eq!(steps_done(Some(Phase::ProvisioningDataServices)), Some((0, 7)));
        assert_eq!(steps_done(Some(Phase::ProvisioningSsm)), Some((1, 7)));
        assert_eq!(steps_done(Some(Phase::DeployingFrontend)), Some((6, 7)));
        assert_eq!(steps_done(Some(Phase::Running)), Some((7, 7)));
        assert_eq!(steps_done(Some(Phase::Failed)), None);
    }

    #[test]
    fn a_resync_runs_every_aws_phase_at_once_and_a_new_spec_one_after_another() {
        assert_eq!(aws_runs(false), vec![AWS_PHASES.to_vec()]);
        let shown = aws_runs(true);
        assert_eq!(shown.len(), AWS_PHASES.len());
        assert!(shown.iter().zip(AWS_PHASES).all(|(run, p)| run == &vec![p]));
    }

    fn at(phase: Option<Phase>, observed: Option<i64>) -> Status {
        Status { phase, observed_generation: observed, ..Status::default() }
    }

    fn condition<'a>(s: &'a Status, type_: &str) -> (&'a str, &'a str) {
        let c = s.conditions.iter().find(|c| c.type_ == type_).unwrap_or_else(|| panic!("no {type_}"));
        (c.status.as_str(), c.reason.as_str())
    }

    #[test]
    fn phases_follow_the_seed_table() {
        let order: Vec<Phase> = AWS_PHASES.into_iter().chain(KUBERNETES_PHASES).collect();
        let expected = [
            Phase::ProvisioningDataServices,
            Phase::ProvisioningSsm,
            Phase::ProvisioningSecrets,
            Phase::ProvisioningIam,
            Phase::Deploying,
            Phase::DeployingBackend,
            Phase::DeployingFrontend,
        ];
        assert_eq!(order, expected);
    }

    #[test]
    fn new_specs_and_failures_walk_the_phases_resyncs_do_not() {
        assert!(show_phases(&at(None, None), 1), "new");
        assert!(show_phases(&at(Some(Phase::Pending), Some(1)), 1), "pending");
        assert!(show_phases(&at(Some(Phase::Running), Some(1)), 2), "changed spec");
        assert!(show_phases(&at(Some(Phase::Failed), Some(2)), 2), "retry after a failure");
        assert!(!show_phases(&at(Some(Phase::Running), Some(2)), 2), "resync");
        assert!(!show_phases(&at(Some(Phase::DeployingFrontend), Some(2)), 2), "rolling out");
    }

    #[test]
    fn aws_is_read_again_after_the_recheck_on_a_new_plan_or_when_walking_phases() {
        let minute = Duration::from_secs(60);
        let recent = Some((7, Duration::from_secs(5)));
        assert!(aws_fresh(false, recent, 7, minute));
        assert!(!aws_fresh(true, recent, 7, minute), "walking the phases reads everything");
        assert!(!aws_fresh(false, recent, 8, minute), "another plan");
        assert!(!aws_fresh(false, Some((7, Duration::from_secs(61))), 7, minute), "too old");
        assert!(!aws_fresh(false, None, 7, minute), "never checked (or forgotten after a failure)");
    }

    #[test]
    fn rollouts_decide_running_rolling_out_or_stuck() {
        assert_eq!(readiness([("a", Rollout::Available), ("b", Rollout::Available)]), Ok(Readiness::Running));
        assert_eq!(
            readiness([("a", Rollout::Progressing("1 of 2 updated".into())), ("b", Rollout::Available)]),
            Ok(Readiness::RollingOut("waiting for rollout: a: 1 of 2 updated".into()))
        );
        let stuck = readiness([("a", Rollout::Progressing("x".into())), ("b", Rollout::Stuck("deadline".into()))]);
        assert_eq!(stuck, Err("deployment b does not progress: deadline".into()));
    }

    #[test]
    fn running_sets_phase_message_and_conditions() {
        let mut s = at(Some(Phase::DeployingFrontend), Some(1));
        settled(&mut s, &Readiness::Running, 2, 47);
        assert_eq!((s.phase, s.observed_generation), (Some(Phase::Running), Some(2)));
        assert_eq!(s.message.as_deref(), Some("running: 47 resources ready"));
        assert_eq!(condition(&s, status::READY), ("True", "Running"));
        assert_eq!(condition(&s, status::WORKLOADS_AVAILABLE), ("True", "Available"));
    }

    #[test]
    fn a_rollout_of_a_running_capability_shows_the_last_deploying_phase() {
        let mut s = at(Some(Phase::Running), Some(2));
        settled(&mut s, &Readiness::RollingOut("waiting".into()), 2, 10);
        assert_eq!(s.phase, Some(Phase::DeployingFrontend));
        assert_eq!(condition(&s, status::READY), ("False", "RollingOut"));
        // Walking the phases, the phase reached stays.
        let mut s = at(Some(Phase::DeployingBackend), Some(1));
        settled(&mut s, &Readiness::RollingOut("waiting".into()), 2, 10);
        assert_eq!(s.phase, Some(Phase::DeployingBackend));
    }

    #[test]
    fn a_failure_is_failed_with_its_message_at_this_generation() {
        let mut s = at(Some(Phase::ProvisioningIam), Some(1));
        stepped(&mut s, Phase::ProvisioningIam, 3);
        assert_eq!(condition(&s, status::READY), ("False", "ProvisioningIAM"));
        failed(&mut s, "s3.bucket b: not ours", 3);
        assert_eq!((s.phase, s.observed_generation), (Some(Phase::Failed), Some(3)));
        assert_eq!(s.message.as_deref(), Some("s3.bucket b: not ours"));
        assert_eq!(condition(&s, status::READY), ("False", "Failed"));
        assert!(show_phases(&s, 3), "the next pass is a retry");
    }
}
