//! `wait`: until capabilities meet conditions the dashboard shows (issue 16: "so scripts and
//! agents wait on the same conditions the page shows"). It follows the dashboard's stream (no
//! polling), says on stderr what is still awaited, and ends early when a capability settles at
//! Failed, as `kubectl rollout status` does, unless the failure is what it waits for.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::output::Output;
use crate::ui::client::{self, Client, Held};
use crate::ui::condition::{Condition, Verdict, judge_all};
use crate::ui::model::Capability;

#[derive(Debug, Args)]
#[command(after_help = "Conditions (--for, repeatable: all must hold; names in any case):
  phase=PHASE                  the phase, for the current spec (observedGeneration = generation):
                               Running, Failed, DeployingBackend, …
  ready                        every step done or skipped, for the current spec (also condition=Ready)
  step=STEP[=STATE]            a step, by name (DynamoDB, S3, Glue, SSM, Secrets, IAM, Namespace,
                               ServiceAccount, Backend, Frontend, Ingress) or number 1-11, in STATE:
                               done (the default; a skipped step counts), running, pending, failed, skipped
  resource=KIND/NAME[=HEALTH]  a planned resource (as `nexus-dev get resources` lists it) with
                               HEALTH: ok (the default), waiting, pending, failed
  delete                       the capability is gone

A capability that settles at Failed for its current spec ends the wait at once with its error \
(exit 1), unless the condition is that failure (phase=Failed, step=S3=failed, resource=…=failed). \
A timeout exits 1 and names what was not met and where it stands.

Examples:
  nexus-dev wait --for phase=Running                       # every capability of the project
  nexus-dev wait myapp-dev --for ready --timeout 10m
  nexus-dev wait myapp-dev/myapp-dev --for step=Backend
  nexus-dev wait --for resource=k8s.deployment/myapp-dev-backend
  nexus-dev wait --for step=S3=failed -o json              # the capability objects once met")]
pub struct WaitArgs {
    /// The capability: NAMESPACE/NAME, or NAME when no other capability has it. Without it,
    /// every capability of the project.
    pub capability: Option<String>,
    /// What to wait for (see below); repeat it to wait for several.
    #[arg(long = "for", value_name = "CONDITION", required = true)]
    pub conditions: Vec<Condition>,
    /// How long to wait (`90s`, `5m`, `1h`).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// `text` says "condition met"; `json` or `yaml` print the capability objects once met.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Where a wait stands after a message of the stream.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    /// Every condition holds for these capabilities (none: they are all gone, as awaited).
    Met(Vec<Capability>),
    /// Still awaited, one line each.
    Waiting(Vec<String>),
    /// It cannot come: why.
    Never(String),
}

/// What the wait for `conditions` on `named` (or every capability) says of `held`. The name is
/// resolved against the first state seen and kept in `key`, so a capability deleted meanwhile
/// is waited for as gone, not looked up again.
pub(super) fn decide(conditions: &[Condition], named: Option<&str>, key: &mut Option<String>, held: &Held) -> Outcome {
    let only_delete = conditions.iter().all(|c| *c == Condition::Delete);
    let keys: Vec<String> = match (named, key.as_ref()) {
        (Some(_), Some(k)) => vec![k.clone()],
        (Some(n), None) => match client::find(n, held.capabilities.keys().map(String::as_str)) {
            Ok(k) => {
                *key = Some(k.to_owned());
                vec![k.to_owned()]
            }
            Err(_) if only_delete => return Outcome::Met(Vec::new()),
            Err(e) => return Outcome::Never(e),
        },
        (None, _) => held.capabilities.keys().cloned().collect(),
    };
    if keys.is_empty() {
        return match only_delete {
            true => Outcome::Met(Vec::new()),
            false => Outcome::Waiting(vec!["the project has no capabilities yet".into()]),
        };
    }
    let caps: Vec<(String, Option<&Capability>)> = keys.iter().map(|k| (k.clone(), held.capabilities.get(k))).collect();
    let verdicts = judge_all(conditions, &caps);
    if let Some((k, c, Verdict::Never(why))) = verdicts.iter().find(|(_, _, v)| matches!(v, Verdict::Never(_))) {
        return Outcome::Never(format!("{k}: {c} cannot be met: {why}"));
    }
    let open: Vec<String> = verdicts
        .iter()
        .filter_map(|(k, c, v)| match v {
            Verdict::Waiting(why) => Some(format!("{k}: {c} ({why})")),
            _ => None,
        })
        .collect();
    if open.is_empty() {
        Outcome::Met(caps.iter().filter_map(|(_, c)| c.cloned()).collect())
    } else {
        Outcome::Waiting(open)
    }
}

pub async fn run(args: WaitArgs) -> anyhow::Result<ExitCode> {
    let client = Client::discover(&super::env::session(None, None)?.paths())?;
    let mut key = None;
    let mut last: Vec<String> = Vec::new();
    let named = args.capability.as_deref();
    let follow = client.follow(
        |held| match decide(&args.conditions, named, &mut key, held) {
            Outcome::Waiting(open) => {
                if open != last {
                    for line in &open {
                        eprintln!("waiting for {line}");
                    }
                    last = open;
                }
                None
            }
            done => Some(done),
        },
        |why| eprintln!("the dashboard's stream dropped ({why}); resuming"),
    );
    let outcome = match tokio::time::timeout(args.timeout, follow).await {
        Ok(outcome) => outcome?,
        Err(_) => {
            let what = if last.is_empty() { vec!["the dashboard's first state".to_owned()] } else { last };
            anyhow::bail!(
                "timed out after {} waiting for:\n  {}",
                humantime::format_duration(args.timeout),
                what.join("\n  ")
            );
        }
    };
    match outcome {
        Outcome::Met(caps) => {
            if !args.output.is_text() {
                match (named, caps.as_slice()) {
                    (Some(_), [one]) => args.output.document(one)?,
                    _ => args.output.document(&caps)?,
                }
            } else if caps.is_empty() {
                println!("condition met");
            } else {
                for c in &caps {
                    println!("{} condition met", c.key);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Never(why) => anyhow::bail!("{why}"),
        Outcome::Waiting(_) => unreachable!("follow returns only what the closure returns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::Phase;
    use crate::ui::hub::{Delta, Message, Snapshot};
    use crate::ui::model::tests::{all, minimal};
    use crate::ui::steps::Timeline;

    fn cap(name: &str, phase: Phase) -> Capability {
        let (_, plan) = minimal(None);
        let mut st = all(&plan, if phase == Phase::Running { "Ready" } else { "Pending" }, phase);
        st.observed_generation = Some(1);
        let (mut cr, plan) = minimal(Some(st));
        cr.metadata.name = Some(name.into());
        crate::ui::model::capability(&cr, &plan, None, &Timeline::default())
    }

    fn held(caps: Vec<Capability>) -> Held {
        let mut h = Held::default();
        h.apply(Message::Snapshot(Snapshot { seq: 1, capabilities: caps }));
        h
    }

    fn running() -> Vec<Condition> {
        vec!["phase=Running".parse().unwrap()]
    }

    #[test]
    fn every_capability_must_meet_it_and_each_open_one_is_named() {
        let mut key = None;
        let h = held(vec![cap("a", Phase::Running), cap("b", Phase::DeployingBackend)]);
        assert_eq!(
            decide(&running(), None, &mut key, &h),
            Outcome::Waiting(vec!["myapp-dev/b: phase=Running (phase DeployingBackend)".into()])
        );
        let h = held(vec![cap("a", Phase::Running), cap("b", Phase::Running)]);
        assert!(matches!(decide(&running(), None, &mut key, &h), Outcome::Met(c) if c.len() == 2));
        let empty = held(vec![]);
        assert_eq!(
            decide(&running(), None, &mut key, &empty),
            Outcome::Waiting(vec!["the project has no capabilities yet".into()])
        );
    }

    #[test]
    fn a_named_capability_is_resolved_once_and_an_unknown_one_is_an_error() {
        let mut key = None;
        let mut h = held(vec![cap("a", Phase::Pending), cap("b", Phase::Running)]);
        assert!(matches!(decide(&running(), Some("a"), &mut key, &h), Outcome::Waiting(_)));
        assert_eq!(key.as_deref(), Some("myapp-dev/a"));
        h.apply(Message::Delta(Delta { seq: 2, upsert: vec![cap("a", Phase::Running)], remove: vec![] }));
        assert!(matches!(decide(&running(), Some("a"), &mut key, &h), Outcome::Met(c) if c[0].key == "myapp-dev/a"));
        match decide(&running(), Some("nope"), &mut None, &h) {
            Outcome::Never(why) => assert!(why.contains("it has: myapp-dev/a, myapp-dev/b"), "{why}"),
            other => panic!("{other:?}"),
        }
        let delete = vec![Condition::Delete];
        assert_eq!(decide(&delete, Some("nope"), &mut None, &h), Outcome::Met(vec![]), "already gone");
        h.apply(Message::Delta(Delta { seq: 3, upsert: vec![], remove: vec!["myapp-dev/a".into()] }));
        assert_eq!(decide(&delete, Some("a"), &mut key, &h), Outcome::Met(vec![]));
    }

    #[test]
    fn a_settled_failure_ends_the_wait_with_its_message() {
        let mut failed = cap("a", Phase::Failed);
        failed.message = Some("s3.bucket/b: AccessDenied".into());
        match decide(&running(), None, &mut None, &held(vec![failed.clone()])) {
            Outcome::Never(why) => {
                assert_eq!(why, "myapp-dev/a: phase=Running cannot be met: phase Failed: s3.bucket/b: AccessDenied")
            }
            other => panic!("{other:?}"),
        }
        let fail = vec!["phase=Failed".parse().unwrap()];
        assert!(matches!(decide(&fail, None, &mut None, &held(vec![failed])), Outcome::Met(_)));
    }
}
