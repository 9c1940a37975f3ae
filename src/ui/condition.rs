//! What `nexus-dev wait --for` waits on (issue 16: "so scripts and agents wait on the same
//! conditions the page shows"): a condition is parsed from the flag once and then judged against
//! each capability object the dashboard's stream delivers. Pure.
//!
//! The grammar follows `kubectl wait --for` (a key, `=`, a value), with the keys of the
//! dashboard's objects (docs/design/ui.md, "Also through the CLI"):
//!
//! | condition | met when |
//! |---|---|
//! | `phase=PHASE` | the capability's phase is PHASE for its current spec |
//! | `ready` (or `condition=Ready`) | every step is done or skipped, for the current spec |
//! | `step=STEP[=STATE]` | the step (name or number 1–11) is in STATE (default `done`) |
//! | `resource=KIND/NAME[=HEALTH]` | the planned resource has that health (default `ok`) |
//! | `delete` | the capability is gone |

use std::fmt;

use super::model::{Capability, Health};
use super::steps::{STEPS, StepState};
use crate::model::spec::Phase;

/// One `--for`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Phase(Phase),
    Ready,
    Step { step: usize, state: StepState },
    Resource { id: String, health: Health },
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{problem}\n  conditions: phase=PHASE, ready, step=STEP[=STATE], resource=KIND/NAME[=HEALTH], delete (see `nexus-dev wait --help`)"
)]
pub struct ParseError {
    pub given: String,
    pub problem: String,
}

/// Every phase, for parsing and for the error that lists them.
const PHASES: [Phase; 11] = [
    Phase::Pending,
    Phase::ProvisioningDataServices,
    Phase::ProvisioningSsm,
    Phase::ProvisioningSecrets,
    Phase::ProvisioningIam,
    Phase::Deploying,
    Phase::DeployingBackend,
    Phase::DeployingFrontend,
    Phase::Running,
    Phase::Failed,
    Phase::Deleting,
];

const STEP_STATES: [(&str, StepState); 5] = [
    ("pending", StepState::Pending),
    ("running", StepState::Running),
    ("done", StepState::Done),
    ("failed", StepState::Failed),
    ("skipped", StepState::Skipped),
];

const HEALTHS: [(&str, Health); 4] =
    [("ok", Health::Ok), ("pending", Health::Pending), ("waiting", Health::Waiting), ("failed", Health::Failed)];

fn names<T>(table: &[(&str, T)]) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

impl std::str::FromStr for Condition {
    type Err = ParseError;

    fn from_str(given: &str) -> Result<Self, ParseError> {
        let bad = |problem: String| ParseError { given: given.to_owned(), problem };
        let (key, value) = match given.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (given.trim().to_ascii_lowercase(), None),
        };
        match (key.as_str(), value) {
            ("ready", None) => Ok(Condition::Ready),
            ("condition", Some(v)) if v.eq_ignore_ascii_case("ready") => Ok(Condition::Ready),
            ("delete" | "deleted", None) => Ok(Condition::Delete),
            ("phase", Some(v)) => {
                PHASES.iter().find(|p| p.as_str().eq_ignore_ascii_case(v)).map(|p| Condition::Phase(*p)).ok_or_else(
                    || {
                        let all: Vec<&str> = PHASES.iter().map(|p| p.as_str()).collect();
                        bad(format!("no phase {v:?}; phases: {}", all.join(", ")))
                    },
                )
            }
            ("step", Some(v)) => {
                let (name, state) = match v.split_once('=') {
                    Some((n, s)) => (n, Some(s)),
                    None => (v, None),
                };
                let step = match name.parse::<usize>() {
                    Ok(n) if (1..=STEPS.len()).contains(&n) => Some(n),
                    Ok(_) => None,
                    Err(_) => STEPS.iter().position(|(s, _)| s.eq_ignore_ascii_case(name)).map(|i| i + 1),
                }
                .ok_or_else(|| {
                    let all: Vec<&str> = STEPS.iter().map(|(s, _)| *s).collect();
                    bad(format!("no step {name:?}; steps (or 1-11): {}", all.join(", ")))
                })?;
                let state = match state {
                    None => StepState::Done,
                    Some(s) => STEP_STATES
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(s))
                        .map(|(_, st)| *st)
                        .ok_or_else(|| bad(format!("no step state {s:?}; states: {}", names(&STEP_STATES))))?,
                };
                Ok(Condition::Step { step, state })
            }
            ("resource", Some(v)) => {
                // KIND/NAME[=HEALTH]: names never hold `=`, so the last one splits off the health.
                let (id, health) = match v.rsplit_once('=') {
                    Some((id, h)) => (id, Some(h)),
                    None => (v, None),
                };
                if !matches!(id.split_once('/'), Some((k, n)) if !k.is_empty() && !n.is_empty()) {
                    return Err(bad(format!(
                        "a resource is KIND/NAME as `nexus-dev get resources` lists it, such as k8s.deployment/myapp-dev-backend, not {id:?}"
                    )));
                }
                let health = match health {
                    None => Health::Ok,
                    Some(h) => HEALTHS
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(h))
                        .map(|(_, x)| *x)
                        .ok_or_else(|| bad(format!("no health {h:?}; healths: {}", names(&HEALTHS))))?,
                };
                Ok(Condition::Resource { id: id.to_owned(), health })
            }
            ("phase" | "step" | "resource" | "condition", None) => Err(bad(format!("{key} needs a value: {key}=…"))),
            _ => Err(bad(format!("unknown condition {key:?}"))),
        }
    }
}

fn step_state_name(s: StepState) -> &'static str {
    STEP_STATES.iter().find(|(_, x)| *x == s).map(|(n, _)| *n).unwrap_or("?")
}

fn health_name(h: Health) -> &'static str {
    HEALTHS.iter().find(|(_, x)| *x == h).map(|(n, _)| *n).unwrap_or("?")
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Phase(p) => write!(f, "phase={}", p.as_str()),
            Condition::Ready => write!(f, "ready"),
            Condition::Step { step, state } => {
                write!(f, "step={}={}", STEPS[step - 1].0, step_state_name(*state))
            }
            Condition::Resource { id, health } => write!(f, "resource={id}={}", health_name(*health)),
            Condition::Delete => write!(f, "delete"),
        }
    }
}

/// How a condition stands for one capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Met,
    /// Not yet; what it is now, for people.
    Waiting(String),
    /// It cannot come without a change of spec: the capability settled at Failed (as
    /// `kubectl rollout status` gives up on a failed rollout), or names no such resource.
    Never(String),
}

impl Condition {
    /// Whether the condition is about failing, so that a failure meets it instead of ending
    /// the wait.
    fn wants_failure(&self) -> bool {
        matches!(
            self,
            Condition::Phase(Phase::Failed)
                | Condition::Step { state: StepState::Failed, .. }
                | Condition::Resource { health: Health::Failed, .. }
        )
    }

    /// The condition for `cap` (`None`: the capability is not, or no longer, there).
    pub fn judge(&self, cap: Option<&Capability>) -> Verdict {
        let Some(cap) = cap else {
            return match self {
                Condition::Delete => Verdict::Met,
                _ => Verdict::Waiting("the capability is not there".into()),
            };
        };
        // The status must be for the spec as it is now, or a script that waits after `apply`
        // would see the previous spec's Running.
        let current = cap.observed_generation == cap.generation;
        let now = || {
            let mut s = format!("phase {}", cap.phase.as_str());
            if !current {
                s.push_str(" (for an older spec: the controller has not seen the new one yet)");
            }
            if let Some(m) = cap.message.as_deref().filter(|m| !m.is_empty()) {
                s.push_str(&format!(": {m}"));
            }
            s
        };
        let met = match self {
            Condition::Delete => false,
            Condition::Phase(p) => current && cap.phase == *p,
            Condition::Ready => {
                current && cap.steps.iter().all(|s| matches!(s.state, StepState::Done | StepState::Skipped))
            }
            Condition::Step { step, state } => cap.steps.iter().any(|s| {
                s.number == *step && (s.state == *state || (*state == StepState::Done && s.state == StepState::Skipped))
            }),
            Condition::Resource { id, health } => match cap.resources.iter().find(|r| r.id == *id) {
                Some(r) => r.health == *health,
                None => {
                    let ids: Vec<&str> = cap.resources.iter().map(|r| r.id.as_str()).collect();
                    return Verdict::Never(format!("{} plans no resource {id}; it plans: {}", cap.key, ids.join(", ")));
                }
            },
        };
        if met {
            return Verdict::Met;
        }
        if current && cap.phase == Phase::Failed && !self.wants_failure() {
            return Verdict::Never(now());
        }
        let detail = match self {
            Condition::Step { step, .. } => match cap.steps.iter().find(|s| s.number == *step) {
                Some(s) => {
                    let mut d =
                        format!("step {} is {} ({}/{} ready)", s.name, step_state_name(s.state), s.ready, s.resources);
                    if let Some(e) = &s.error {
                        d.push_str(&format!(": {e}"));
                    }
                    format!("{d}; {}", now())
                }
                None => now(),
            },
            Condition::Resource { id, .. } => match cap.resources.iter().find(|r| r.id == *id) {
                Some(r) => {
                    let mut d = format!("{id} is {}", health_name(r.health));
                    if let Some(m) = &r.message {
                        d.push_str(&format!(": {m}"));
                    }
                    d
                }
                None => now(),
            },
            Condition::Ready => {
                let open: Vec<String> = cap
                    .steps
                    .iter()
                    .filter(|s| !matches!(s.state, StepState::Done | StepState::Skipped))
                    .map(|s| format!("{} {}", s.name, step_state_name(s.state)))
                    .collect();
                if open.is_empty() { now() } else { format!("{}; {}", open.join(", "), now()) }
            }
            Condition::Phase(_) | Condition::Delete => now(),
        };
        Verdict::Waiting(detail)
    }
}

/// Every condition for every capability: met when all are; `Never` as soon as one cannot come.
/// `caps` are the capabilities waited on, by key (`None`: gone).
pub fn judge_all(
    conditions: &[Condition],
    caps: &[(String, Option<&Capability>)],
) -> Vec<(String, Condition, Verdict)> {
    caps.iter().flat_map(|(key, cap)| conditions.iter().map(move |c| (key.clone(), c.clone(), c.judge(*cap)))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::model::tests::{all, minimal};
    use crate::ui::steps::Timeline;

    fn parse(s: &str) -> Result<Condition, ParseError> {
        s.parse()
    }

    fn cap(status: Option<crate::model::spec::NexusAICapabilityStatus>) -> Capability {
        let (cr, plan) = minimal(status);
        crate::ui::model::capability(&cr, &plan, None, &Timeline::default())
    }

    /// Every resource in `state` and the capability in `phase`, for generation 1.
    fn at(state: &str, phase: Phase) -> Capability {
        let (_, plan) = minimal(None);
        let mut st = all(&plan, state, phase);
        st.observed_generation = Some(1);
        st.message = Some(format!("in {}", phase.as_str()));
        cap(Some(st))
    }

    #[test]
    fn conditions_parse_in_the_kubectl_manner_and_print_back() {
        let ok = |s: &str| parse(s).unwrap().to_string();
        assert_eq!(ok("phase=Running"), "phase=Running");
        assert_eq!(ok("PHASE=running"), "phase=Running");
        assert_eq!(ok("ready"), "ready");
        assert_eq!(ok("condition=Ready"), "ready");
        assert_eq!(ok("step=Backend"), "step=Backend=done");
        assert_eq!(ok("step=9"), "step=Backend=done");
        assert_eq!(ok("step=s3=failed"), "step=S3=failed");
        assert_eq!(ok("resource=k8s.deployment/app-backend"), "resource=k8s.deployment/app-backend=ok");
        assert_eq!(ok("resource=s3.bucket/b=FAILED"), "resource=s3.bucket/b=failed");
        assert_eq!(ok("delete"), "delete");
        assert_eq!(parse("phase=Failed").unwrap(), Condition::Phase(Phase::Failed));
    }

    #[test]
    fn a_bad_condition_says_what_exists() {
        for (given, says) in [
            ("phase=Runing", "phases: Pending,"),
            ("phase", "phase needs a value"),
            ("step=Database", "steps (or 1-11): DynamoDB, S3"),
            ("step=12", "steps (or 1-11)"),
            ("step=S3=green", "states: pending, running, done, failed, skipped"),
            ("resource=backend", "KIND/NAME"),
            ("resource=s3.bucket/b=red", "healths: ok, pending, waiting, failed"),
            ("jsonpath={.phase}=Running", "unknown condition \"jsonpath\""),
            ("", "unknown condition"),
        ] {
            let e = parse(given).unwrap_err().to_string();
            assert_eq!(parse(given).unwrap_err().given, given);
            assert!(e.contains(says), "{given}: {e}");
            assert!(e.contains("conditions: phase=PHASE, ready"), "{e}");
        }
    }

    #[test]
    fn phase_and_ready_are_met_only_for_the_current_spec() {
        let running = at("Ready", Phase::Running);
        assert_eq!(parse("phase=Running").unwrap().judge(Some(&running)), Verdict::Met);
        assert_eq!(parse("ready").unwrap().judge(Some(&running)), Verdict::Met);
        let mut stale = running.clone();
        stale.generation = Some(2);
        match parse("phase=Running").unwrap().judge(Some(&stale)) {
            Verdict::Waiting(why) => assert!(why.contains("older spec"), "{why}"),
            other => panic!("{other:?}"),
        }
        let pending = cap(None);
        match parse("ready").unwrap().judge(Some(&pending)) {
            Verdict::Waiting(why) => assert!(why.starts_with("DynamoDB pending, S3 pending"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_settled_failure_ends_the_wait_unless_the_failure_is_awaited() {
        let failed = at("Failed", Phase::Failed);
        for c in ["phase=Running", "ready", "step=Backend", "resource=k8s.namespace/myapp-dev"] {
            match parse(c).unwrap().judge(Some(&failed)) {
                Verdict::Never(why) => assert_eq!(why, "phase Failed: in Failed", "{c}"),
                other => panic!("{c}: {other:?}"),
            }
        }
        for c in ["phase=Failed", "step=Backend=failed", "resource=k8s.namespace/myapp-dev=failed"] {
            assert_eq!(parse(c).unwrap().judge(Some(&failed)), Verdict::Met, "{c}");
        }
        let mut retrying = failed.clone();
        retrying.generation = Some(2);
        assert!(matches!(parse("phase=Running").unwrap().judge(Some(&retrying)), Verdict::Waiting(_)), "a new spec");
    }

    #[test]
    fn steps_and_resources_say_where_they_are() {
        let (_, plan) = minimal(None);
        let mut st = all(&plan, "Pending", Phase::DeployingBackend);
        st.observed_generation = Some(1);
        for r in &mut st.resources {
            if r.kind.starts_with("dynamodb") {
                r.state = "Ready".into();
            }
            if r.kind == "s3.bucket" {
                r.state = "Failed".into();
                r.message = Some("AccessDenied".into());
            }
        }
        let c = cap(Some(st));
        assert_eq!(parse("step=DynamoDB").unwrap().judge(Some(&c)), Verdict::Met);
        assert_eq!(parse("step=S3=failed").unwrap().judge(Some(&c)), Verdict::Met);
        match parse("step=S3").unwrap().judge(Some(&c)) {
            Verdict::Waiting(why) => assert!(why.starts_with("step S3 is failed (0/4 ready): s3.bucket/"), "{why}"),
            other => panic!("{other:?}"),
        }
        let bucket = c.resources.iter().find(|r| r.kind == "s3.bucket").unwrap().id.clone();
        assert_eq!(parse(&format!("resource={bucket}=failed")).unwrap().judge(Some(&c)), Verdict::Met);
        match parse(&format!("resource={bucket}")).unwrap().judge(Some(&c)) {
            Verdict::Waiting(why) => assert_eq!(why, format!("{bucket} is failed: AccessDenied")),
            other => panic!("{other:?}"),
        }
        match parse("resource=s3.bucket/nope").unwrap().judge(Some(&c)) {
            Verdict::Never(why) => assert!(why.contains("plans no resource s3.bucket/nope; it plans: "), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn delete_is_met_when_the_capability_is_gone_and_others_wait_for_it() {
        let c = at("Ready", Phase::Running);
        assert_eq!(parse("delete").unwrap().judge(None), Verdict::Met);
        assert!(matches!(parse("delete").unwrap().judge(Some(&c)), Verdict::Waiting(_)));
        assert!(matches!(parse("ready").unwrap().judge(None), Verdict::Waiting(_)));
        let conds = [parse("ready").unwrap(), parse("phase=Running").unwrap()];
        let v = judge_all(&conds, &[("a".into(), Some(&c)), ("b".into(), None)]);
        assert_eq!(v.len(), 4);
        assert_eq!(v.iter().filter(|(_, _, v)| *v == Verdict::Met).count(), 2);
    }
}
