//! Ready-made commands for a capability (issue 16, "Copy a ready-made command (logs,
//! port-forward, promote)"): what a person would type next, with this capability's names filled
//! in. Only commands that read, or that plan without writing: nothing destructive, and nothing
//! that writes to an EKS profile (`promote` is offered with `--plan-only`). Pure.

use serde::{Deserialize, Serialize};

use crate::model::plan::{Kind, Plan, Settings};

/// One command to copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// What it does, in a few words.
    pub label: String,
    /// The command line, ready to paste into a shell.
    pub command: String,
}

/// What the commands need besides the plan: the daemon's setting, not the capability's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// The kubeconfig context of the daemon's profile, for `kubectl --context`.
    pub kube_context: Option<String>,
    /// The project environment the daemon runs (`up --env`), for `--env`.
    pub environment: Option<String>,
    /// The spec file of each capability (`capabilityName/environment` → a path relative to the
    /// project), for `promote -f`.
    pub spec_files: std::collections::BTreeMap<String, String>,
    /// The EKS profile `promote --to` names: one of the project's, else [`EXAMPLE_EKS_PROFILE`].
    pub promote_to: Option<String>,
}

/// The EKS profile named when the project has none: an example to edit, said so in the label.
pub const EXAMPLE_EKS_PROFILE: &str = "eks-staging";

/// Quotes a word for a POSIX shell when it needs it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | '@' | ','));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

fn line(words: &[&str]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// The commands for the capability planned as `plan`.
pub fn commands(plan: &Plan, hints: &Hints) -> Vec<Command> {
    let cap = plan.capability.as_str();
    let mut out = vec![Command { label: "status".into(), command: line(&["nexus-dev", "status", cap]) }];
    for d in plan.of_kind(Kind::Deployment) {
        if let Settings::Deployment(s) = &d.settings {
            out.push(Command {
                label: format!("follow the {} logs", s.component),
                command: line(&["nexus-dev", "logs", cap, &s.component, "-f"]),
            });
        }
    }
    let context: Vec<&str> = match &hints.kube_context {
        Some(c) => vec!["--context", c],
        None => vec![],
    };
    for svc in plan.of_kind(Kind::Service) {
        if let Settings::Service(s) = &svc.settings {
            let ports = format!("{}:{}", s.port, s.port);
            let target = format!("svc/{}", svc.name);
            let words =
                [&["kubectl"], context.as_slice(), &["-n", &s.namespace, "port-forward", &target, &ports]].concat();
            out.push(Command { label: format!("port-forward {} ({})", svc.name, s.component), command: line(&words) });
        }
    }
    let context_words = context.clone();
    let pods = [&["kubectl"], context_words.as_slice(), &["-n", &plan.namespace, "get", "pods,events"]].concat();
    out.push(Command { label: "pods and events with kubectl".into(), command: line(&pods) });
    let spec = hints.spec_files.get(&format!("{cap}/{}", plan.environment)).map(String::as_str).unwrap_or("SPEC.yaml");
    let to = hints.promote_to.as_deref().unwrap_or(EXAMPLE_EKS_PROFILE);
    let env: Vec<&str> = match &hints.environment {
        Some(e) => vec!["--env", e],
        None => vec![],
    };
    let promote = [&["nexus-dev", "promote", "-f", spec], env.as_slice(), &["--to", to, "--plan-only"]].concat();
    let label = match hints.promote_to {
        Some(_) => format!("plan a promotion to {to} (writes nothing)"),
        None => format!("plan a promotion to an EKS profile ({to} is an example; writes nothing)"),
    };
    out.push(Command { label, command: line(&promote) });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        crate::model::plan::build(
            &crate::input::examples::example("minimal"),
            &crate::input::examples::profile("local"),
        )
    }

    #[test]
    fn logs_port_forwards_and_a_promotion_plan_with_the_capabilitys_names() {
        let hints = Hints {
            kube_context: Some("kind-nexus-dev".into()),
            environment: None,
            spec_files: [("myapp/dev".to_owned(), "minimal.yaml".to_owned())].into(),
            promote_to: Some("eks-prod".into()),
        };
        let cmds = commands(&plan(), &hints);
        let lines: Vec<&str> = cmds.iter().map(|c| c.command.as_str()).collect();
        assert_eq!(lines[0], "nexus-dev status myapp");
        assert!(lines.contains(&"nexus-dev logs myapp backend -f"), "{lines:?}");
        assert!(lines.contains(&"nexus-dev logs myapp frontend -f"), "{lines:?}");
        let forward = lines.iter().find(|l| l.contains("port-forward")).unwrap();
        assert!(
            forward.starts_with("kubectl --context kind-nexus-dev -n myapp-dev port-forward svc/myapp-dev-"),
            "{forward}"
        );
        assert_eq!(*lines.last().unwrap(), "nexus-dev promote -f minimal.yaml --to eks-prod --plan-only");
        assert!(cmds.last().unwrap().label.contains("writes nothing"));
        let labels: std::collections::BTreeSet<&str> = cmds.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels.len(), cmds.len(), "one label per command");
        for c in &cmds {
            for never in ["delete", "down", " -y", "--yes", "apply"] {
                assert!(!c.command.contains(never), "nothing destructive or writing: {}", c.command);
            }
        }
    }

    #[test]
    fn without_hints_the_placeholders_say_what_to_fill_in() {
        let hints = Hints { environment: Some("staging".into()), ..Default::default() };
        let cmds = commands(&plan(), &hints);
        let promote = cmds.last().unwrap();
        assert_eq!(promote.command, "nexus-dev promote -f SPEC.yaml --env staging --to eks-staging --plan-only");
        assert!(promote.label.contains("is an example"));
        assert!(cmds.iter().all(|c| !c.command.contains("--context")));
        assert_eq!(quote("it's here"), r"'it'\''s here'");
    }
}
