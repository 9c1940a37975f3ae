//! `get`: the dashboard's objects on the command line (issue 16, "Also through the CLI"):
//! tables for people, the API's objects unchanged for `-o json|yaml`. Read from the project's
//! daemon through the same REST API the page reads.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::output::{Output, table};
use crate::ui::client::{self, Client};
use crate::ui::model::{Capability, Health};
use crate::ui::steps::StepState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// The project's capabilities: phase, steps done, resources ready.
    #[value(aliases = ["capability", "cap", "caps"])]
    Capabilities,
    /// A capability's eleven steps: state, resources ready, duration, error.
    #[value(alias = "step")]
    Steps,
    /// A capability's planned resources: step, state, health, message.
    #[value(aliases = ["resource", "res"])]
    Resources,
    /// A capability's dependency graph: each resource's layer, health and what it waits on.
    Graph,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  nexus-dev get                                  # the capabilities
  nexus-dev get steps                            # the steps of the project's one capability
  nexus-dev get steps myapp-dev/myapp-dev        # ... or of the one named (NAME alone if unique)
  nexus-dev get resources myapp-dev -o json      # the API's resource objects, for scripts
  nexus-dev get graph myapp-dev

The objects are the dashboard's (docs/design/ui.md); they come from the project's daemon, \
which `nexus-dev up` starts. `nexus-dev wait` waits on them.")]
pub struct GetArgs {
    /// What to list.
    #[arg(value_enum, default_value_t = Kind::Capabilities, hide_default_value = true)]
    pub kind: Kind,
    /// The capability: NAMESPACE/NAME, or NAME when no other capability has it. Steps,
    /// resources and the graph need it when the project has several.
    pub name: Option<String>,
    /// `text` (a table), or `json` or `yaml` (the API's objects).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub async fn run(args: GetArgs) -> anyhow::Result<ExitCode> {
    let client = Client::discover(&super::env::session(None, None)?.paths())?;
    let snapshot = client.snapshot().await?;
    let caps = snapshot.capabilities;
    let one = |what: &str| -> anyhow::Result<&Capability> {
        let keys = caps.iter().map(|c| c.key.as_str());
        let key = match (&args.name, caps.as_slice()) {
            (Some(n), _) => client::find(n, keys).map_err(anyhow::Error::msg)?,
            (None, [c]) => c.key.as_str(),
            (None, []) => anyhow::bail!("the project has no capabilities yet, so no {what}"),
            (None, _) => anyhow::bail!(
                "the project has several capabilities: name the one whose {what} to show: {}",
                keys.collect::<Vec<_>>().join(", ")
            ),
        };
        Ok(caps.iter().find(|c| c.key == key).expect("find returns one of the keys"))
    };
    match args.kind {
        Kind::Capabilities => {
            let chosen: Vec<&Capability> = match &args.name {
                Some(_) => vec![one("capabilities")?],
                None => caps.iter().collect(),
            };
            if !args.output.is_text() {
                match (&args.name, chosen.as_slice()) {
                    (Some(_), [c]) => args.output.document(c)?,
                    _ => args.output.document(&chosen)?,
                }
            } else if chosen.is_empty() {
                eprintln!("the project has no capabilities yet");
            } else {
                print!("{}", table(&capability_rows(&chosen)));
            }
        }
        Kind::Steps => {
            let c = one("steps")?;
            if args.output.is_text() {
                print!("{}", table(&step_rows(c)));
            } else {
                args.output.document(&c.steps)?;
            }
        }
        Kind::Resources => {
            let c = one("resources")?;
            if args.output.is_text() {
                print!("{}", table(&resource_rows(c)));
            } else {
                args.output.document(&c.resources)?;
            }
        }
        Kind::Graph => {
            let key = one("graph")?.key.clone();
            let graph = client.graph(&key).await?;
            if args.output.is_text() {
                print!("{}", table(&graph_rows(&graph)));
            } else {
                args.output.document(&graph)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cells<const N: usize>(c: [&str; N]) -> Vec<String> {
    c.iter().map(|s| (*s).to_owned()).collect()
}

pub(super) fn step_state(s: StepState) -> &'static str {
    match s {
        StepState::Pending => "pending",
        StepState::Running => "running",
        StepState::Done => "done",
        StepState::Failed => "failed",
        StepState::Skipped => "skipped",
    }
}

fn health(h: Health) -> &'static str {
    match h {
        Health::Ok => "ok",
        Health::Pending => "pending",
        Health::Waiting => "waiting",
        Health::Failed => "failed",
    }
}

/// `850ms`, `12.3s`, `2m05s`.
fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Steps done of the steps planned (skipped steps plan nothing), and healthy resources.
pub(super) fn progress(c: &Capability) -> (String, String) {
    let planned = c.steps.iter().filter(|s| s.state != StepState::Skipped).count();
    let done = c.steps.iter().filter(|s| s.state == StepState::Done).count();
    let ready = c.resources.iter().filter(|r| r.health == Health::Ok).count();
    (format!("{done}/{planned}"), format!("{ready}/{}", c.resources.len()))
}

fn capability_rows(caps: &[&Capability]) -> Vec<Vec<String>> {
    let mut rows = vec![cells(["NAMESPACE", "NAME", "PHASE", "STEPS", "READY", "MESSAGE"])];
    for c in caps {
        let (steps, ready) = progress(c);
        let mut message = c.message.clone().unwrap_or_default();
        if let Some(e) = c.steps.iter().find_map(|s| s.error.as_deref()).filter(|_| message.is_empty()) {
            message = e.to_owned();
        }
        rows.push(vec![c.namespace.clone(), c.name.clone(), c.phase.as_str().into(), steps, ready, message]);
    }
    rows
}

fn step_rows(c: &Capability) -> Vec<Vec<String>> {
    let mut rows = vec![cells(["#", "STEP", "PHASE", "STATE", "READY", "DURATION", "ERROR"])];
    for s in &c.steps {
        let took = match (s.duration_ms, s.started_at) {
            (Some(ms), _) => duration(ms),
            (None, Some(_)) if s.state == StepState::Running => "running".into(),
            _ => "-".into(),
        };
        rows.push(vec![
            s.number.to_string(),
            s.name.clone(),
            s.phase.as_str().into(),
            step_state(s.state).into(),
            format!("{}/{}", s.ready, s.resources),
            took,
            s.error.clone().unwrap_or_default(),
        ]);
    }
    rows
}

fn resource_rows(c: &Capability) -> Vec<Vec<String>> {
    let mut rows = vec![cells(["KIND", "NAME", "STEP", "STATE", "HEALTH", "MESSAGE"])];
    for r in &c.resources {
        let step = c.steps.iter().find(|s| s.number == r.step).map(|s| s.name.clone()).unwrap_or_default();
        rows.push(vec![
            r.kind.clone(),
            r.name.clone(),
            step,
            r.state.clone().unwrap_or_else(|| "-".into()),
            health(r.health).into(),
            r.message.clone().unwrap_or_default(),
        ]);
    }
    rows
}

/// The graph's nodes in layer order, from the API's object (read as JSON: it is shown as the
/// API gives it).
fn graph_rows(graph: &serde_json::Value) -> Vec<Vec<String>> {
    let mut rows = vec![cells(["LAYER", "NODE", "HEALTH", "WAITING ON"])];
    let mut nodes: Vec<&serde_json::Value> = graph["nodes"].as_array().into_iter().flatten().collect();
    nodes.sort_by_key(|n| (n["layer"].as_u64(), n["order"].as_u64()));
    for n in nodes {
        let waiting: Vec<&str> = n["waitingOn"].as_array().into_iter().flatten().filter_map(|w| w.as_str()).collect();
        rows.push(vec![
            n["layer"].to_string(),
            n["id"].as_str().unwrap_or_default().to_owned(),
            n["health"].as_str().unwrap_or_default().to_owned(),
            waiting.join(", "),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::Phase;
    use crate::ui::model::tests::{all, minimal};
    use crate::ui::steps::Timeline;

    fn deploying() -> Capability {
        let (_, plan) = minimal(None);
        let mut st = all(&plan, "Ready", Phase::DeployingBackend);
        st.message = Some("deploying the backend".into());
        for r in &mut st.resources {
            if r.kind == "k8s.deployment" {
                r.state = "Pending".into();
            }
        }
        let (cr, plan) = minimal(Some(st));
        let mut t = Timeline::default();
        t.observe(Some(1), Some(Phase::ProvisioningDataServices), 1_000);
        t.observe(Some(1), Some(Phase::ProvisioningSsm), 2_200);
        t.observe(Some(1), Some(Phase::DeployingBackend), 3_000);
        crate::ui::model::capability(&cr, &plan, None, &t)
    }

    #[test]
    fn the_capabilities_table_has_the_phase_steps_done_and_resources_ready() {
        let c = deploying();
        let text = table(&capability_rows(&[&c]));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAMESPACE   NAME        PHASE              STEPS   READY"), "{text}");
        let cols: Vec<&str> = lines[1].split_whitespace().collect();
        let ready = c.resources.iter().filter(|r| r.health == Health::Ok).count();
        assert_eq!(
            cols[..5],
            ["myapp-dev", "myapp-dev", "DeployingBackend", "9/11", &format!("{ready}/{}", c.resources.len())]
        );
        assert!(lines[1].ends_with("deploying the backend"), "{text}");
    }

    #[test]
    fn the_steps_table_has_state_ready_duration_and_error() {
        let c = deploying();
        let text = table(&step_rows(&c));
        let row = |name: &str| text.lines().find(|l| l.split_whitespace().nth(1) == Some(name)).unwrap().to_owned();
        assert_eq!(
            row("DynamoDB").split_whitespace().collect::<Vec<_>>(),
            ["1", "DynamoDB", "ProvisioningDataServices", "done", "3/3", "1.2s"]
        );
        assert_eq!(row("Backend").split_whitespace().collect::<Vec<_>>()[3..], ["running", "3/4", "running"]);
        assert_eq!(duration(125_000), "2m05s");
        assert_eq!(duration(850), "850ms");
    }

    #[test]
    fn the_resources_table_names_each_step_and_health() {
        let c = deploying();
        let text = table(&resource_rows(&c));
        assert!(text.starts_with("KIND "), "{text}");
        let backend = text.lines().find(|l| l.starts_with("k8s.deployment") && l.contains("backend")).unwrap();
        assert_eq!(backend.split_whitespace().collect::<Vec<_>>()[2..5], ["Backend", "Pending", "pending"]);
        assert_eq!(text.lines().count(), c.resources.len() + 1);
    }

    #[test]
    fn the_graph_table_lists_nodes_by_layer_with_what_they_wait_on() {
        let c = deploying();
        let graph = serde_json::to_value(crate::ui::graph::layout(&c)).unwrap();
        let text = table(&graph_rows(&graph));
        let layers: Vec<u64> =
            text.lines().skip(1).map(|l| l.split_whitespace().next().unwrap().parse().unwrap()).collect();
        assert!(layers.windows(2).all(|w| w[0] <= w[1]), "{text}");
        assert_eq!(layers.len(), c.resources.len());
        assert!(text.lines().any(|l| l.contains("k8s.deployment/") && l.contains("pending")), "{text}");
    }
}
