//! `status`: phase and progress of capabilities in the cluster, one (`NS/NAME`), a namespace's
//! or all; `-w` follows them (the seed's `monitor [ns/name]`), a row per change with the steps
//! done and the ready replicas of the backend and the frontend (issue 19).

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use clap::Args;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ListParams;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::ProfileArgs;
use crate::model::ownership::{MANAGED_BY, MANAGED_BY_KEY};
use crate::model::spec::NexusAICapability;
use crate::provision::kube::objects::{Replicas, deployment_replicas};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One capability already in the cluster, as NAMESPACE/NAME (NAME alone with `-n`).
    #[arg(value_name = "NS/NAME")]
    pub capability: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Only this namespace (default: every namespace).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Keep watching and print every change (the seed's `monitor`).
    #[arg(short, long)]
    pub watch: bool,
    /// Every project of this machine with its capabilities (the default outside a project,
    /// when projects are recorded and no profile is given).
    #[arg(short = 'A', long, conflicts_with_all = ["watch", "namespace", "capability"])]
    pub all: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = super::output::Output::Text)]
    pub output: super::output::Output,
}

/// `NS/NAME`, or `NAME` in `namespace`: the custom resource's namespace and name.
pub(super) fn capability_ref(arg: &str, namespace: Option<&str>) -> anyhow::Result<(String, String)> {
    match (arg.split_once('/'), namespace) {
        (Some((ns, name)), None) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns.to_owned(), name.to_owned()))
        }
        (Some((ns, name)), Some(n)) if ns == n && !name.is_empty() => Ok((ns.to_owned(), name.to_owned())),
        (None, Some(ns)) if !arg.is_empty() => Ok((ns.to_owned(), arg.to_owned())),
        _ => anyhow::bail!(
            "capability {arg:?}: give it as NAMESPACE/NAME (or NAME with -n NAMESPACE), such as myapp-dev/myapp-dev"
        ),
    }
}

const HEADER: [&str; 8] = ["NAMESPACE", "NAME", "PHASE", "STEPS", "READY", "BACKEND", "FRONTEND", "MESSAGE"];

fn line(cols: [&str; 8]) -> String {
    let [ns, name, phase, steps, ready, backend, frontend, message] = cols;
    format!("{ns:<20} {name:<22} {phase:<26} {steps:>5} {ready:>7} {backend:>8} {frontend:>8}  {message}")
}

/// One row: the phase, the steps done, the resources Ready, the ready replicas.
fn row(cr: &NexusAICapability, replicas: Option<&Replicas>) -> String {
    let st = cr.status.clone().unwrap_or_default();
    let ready = st.resources.iter().filter(|r| r.state == "Ready").count();
    let steps = crate::reconcile::decide::steps_done(st.phase).map(|(d, t)| format!("{d}/{t}")).unwrap_or("-".into());
    let pods = |component: &str| {
        replicas.and_then(|r| r.get(component)).map(|(r, d)| format!("{r}/{d}")).unwrap_or_else(|| "-".into())
    };
    line([
        &cr.namespace().unwrap_or_default(),
        &cr.name_any(),
        st.phase.map(|p| p.as_str()).unwrap_or("Pending"),
        &steps,
        &format!("{ready}/{}", st.resources.len()),
        &pods("backend"),
        &pods("frontend"),
        st.message.as_deref().unwrap_or_default(),
    ])
}

/// The custom resource with its progress, for `status -o json`.
fn document(cr: &NexusAICapability, replicas: Option<&Replicas>) -> serde_json::Value {
    let phase = cr.status.as_ref().and_then(|s| s.phase);
    let steps = crate::reconcile::decide::steps_done(phase)
        .map(|(done, total)| serde_json::json!({"done": done, "total": total}));
    let replicas: BTreeMap<&str, serde_json::Value> = replicas
        .into_iter()
        .flatten()
        .map(|(c, (ready, desired))| (c.as_str(), serde_json::json!({"ready": ready, "desired": desired})))
        .collect();
    serde_json::json!({"namespace": cr.namespace(), "name": cr.name_any(), "spec": cr.spec, "status": cr.status, "steps": steps, "replicas": replicas})
}

pub async fn run_status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let outside_a_project = || crate::input::project::discover(&std::env::current_dir().unwrap_or_default()).is_err();
    let one = args.capability.as_deref().map(|c| capability_ref(c, args.namespace.as_deref())).transpose()?;
    if args.all
        || (args.profile.profile.is_none()
            && !args.watch
            && args.namespace.is_none()
            && one.is_none()
            && outside_a_project()
            && !crate::daemon::machine::list().is_empty())
    {
        return print_projects(&args).await;
    }
    // In a project whose daemon runs, the daemon answers (issue #6).
    if !args.watch
        && args.namespace.is_none()
        && one.is_none()
        && let Some(answer) = super::env::status_via_daemon().await
    {
        let caps = answer?;
        if !args.output.is_text() {
            args.output.document(&dashboard_documents(&caps).await)?;
        } else {
            print_capabilities(&caps, "");
            for c in caps.iter().filter(|c| !c.forwards.is_empty()) {
                println!("{}:", c.name);
                super::env::print_forwards(c);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let profile = super::load_profile(&args.profile, None)?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let namespace = one.as_ref().map(|(ns, _)| ns.clone()).or(args.namespace.clone());
    let (api, deployments): (Api<NexusAICapability>, Api<Deployment>) = match &namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client, ns)),
        None => (Api::all(client.clone()), Api::all(client)),
    };
    let ours = format!("{MANAGED_BY_KEY}={MANAGED_BY}");
    if !args.watch {
        let items = match &one {
            Some((ns, name)) => match api.get_opt(name).await? {
                Some(cr) => vec![cr],
                None => anyhow::bail!(
                    "capability {ns}/{name} not found (`nexus-dev status -n {ns}` lists that namespace's)"
                ),
            },
            None => api.list(&Default::default()).await?.items,
        };
        let mut replicas: HashMap<String, Replicas> = HashMap::new();
        for d in
            deployments.list(&ListParams::default().labels(&ours)).await?.items.iter().filter_map(deployment_replicas)
        {
            replicas.entry(d.0).or_default().insert(d.1, d.2);
        }
        let of = |cr: &NexusAICapability| replicas.get(&crate::reconcile::key(cr));
        if !args.output.is_text() {
            let docs: Vec<_> = items.iter().map(|c| document(c, of(c))).collect();
            match &one {
                Some(_) => args.output.documents(&docs)?,
                None => args.output.document(&docs)?,
            }
        } else if items.is_empty() {
            println!("no capabilities found");
        } else {
            println!("{}", line(HEADER));
            for cr in &items {
                println!("{}", row(cr, of(cr)));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    watch(api, deployments, one.map(|(_, name)| name), &ours, args.output).await
}

/// Follows the capabilities and their Deployments: a row (or a JSON line) whenever one's
/// phase, steps, resources or ready replicas change.
async fn watch(
    api: Api<NexusAICapability>,
    deployments: Api<Deployment>,
    only: Option<String>,
    ours: &str,
    output: super::output::Output,
) -> anyhow::Result<ExitCode> {
    enum Event {
        Capability(Box<NexusAICapability>),
        Deployment(Box<Deployment>),
    }
    let mut config = watcher::Config::default();
    if let Some(name) = &only {
        config = config.fields(&format!("metadata.name={name}"));
    }
    let capabilities = watcher(api, config).applied_objects().map(|r| r.map(|c| Event::Capability(Box::new(c))));
    let workloads = watcher(deployments, watcher::Config::default().labels(ours))
        .applied_objects()
        .map(|r| r.map(|d| Event::Deployment(Box::new(d))));
    let mut stream = futures::stream::select(capabilities.boxed(), workloads.boxed());
    if output.is_text() {
        println!("{}", line(HEADER));
    }
    let mut capabilities: HashMap<String, NexusAICapability> = HashMap::new();
    let mut replicas: HashMap<String, Replicas> = HashMap::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    while let Some(event) = stream.next().await {
        let key = match event? {
            Event::Capability(cr) => {
                let key = crate::reconcile::key(&cr);
                capabilities.insert(key.clone(), *cr);
                key
            }
            Event::Deployment(d) => match deployment_replicas(&d) {
                Some((owner, component, counts)) => {
                    replicas.entry(owner.clone()).or_default().insert(component, counts);
                    owner
                }
                None => continue,
            },
        };
        let Some(cr) = capabilities.get(&key) else { continue };
        let text = row(cr, replicas.get(&key));
        if seen.insert(key.clone(), text.clone()).as_ref() != Some(&text) {
            match output {
                super::output::Output::Text => println!("{text}"),
                _ => output.item(&document(cr, replicas.get(&key)))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `status -o json` through the daemon: the dashboard's capability objects (what the page, `get`
/// and `wait` read), with the daemon's port-forwards and the count of resources Ready added,
/// so the fields of the daemon's own answer are all still there except `resources`, which is
/// the list of resources instead of their number (docs/design/ui.md, "Also through the CLI").
/// A daemon without a dashboard gives its own answer, as before, and says so on stderr.
async fn dashboard_documents(caps: &[crate::daemon::protocol::CapabilityStatus]) -> serde_json::Value {
    let paths = match super::env::session(None, None) {
        Ok(s) => s.paths(),
        Err(_) => return serde_json::json!(caps),
    };
    let snapshot = match crate::ui::client::Client::discover(&paths) {
        Ok(client) => client.snapshot().await,
        Err(e) => Err(e),
    };
    match snapshot {
        Ok(s) => serde_json::Value::Array(
            s.capabilities
                .iter()
                .map(|c| {
                    let daemon = caps.iter().find(|d| d.namespace.as_deref() == Some(&c.namespace) && d.name == c.name);
                    document_of(c, daemon.map(|d| d.forwards.as_slice()).unwrap_or_default())
                })
                .collect(),
        ),
        Err(e) => {
            eprintln!("warning: the daemon's answer without the dashboard's steps and resources: {e}");
            serde_json::json!(caps)
        }
    }
}

/// The dashboard's object of `cap`, with `forwards` and `ready` (its resources Ready).
fn document_of(cap: &crate::ui::model::Capability, forwards: &[crate::daemon::forward::Forward]) -> serde_json::Value {
    let mut doc = serde_json::json!(cap);
    doc["forwards"] = serde_json::json!(forwards);
    doc["ready"] = serde_json::json!(cap.resources.iter().filter(|r| r.state.as_deref() == Some("Ready")).count());
    doc
}

fn print_capabilities(caps: &[crate::daemon::protocol::CapabilityStatus], indent: &str) {
    println!("{indent}{:<20} {:<22} {:<26} {:>7}  MESSAGE", "NAMESPACE", "NAME", "PHASE", "READY");
    for c in caps {
        let ready = format!("{}/{}", c.ready, c.resources);
        println!(
            "{indent}{:<20} {:<22} {:<26} {:>7}  {}",
            c.namespace.as_deref().unwrap_or(""),
            c.name,
            c.phase,
            ready,
            c.message.as_deref().unwrap_or("")
        );
    }
}

/// `status --all`: every project of the machine, and the capabilities of those that are up.
async fn print_projects(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let all = crate::daemon::machine::overview().await;
    if !args.output.is_text() {
        args.output.document(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("no projects on this machine (`nexus-dev up` in a project records it)");
    }
    for p in &all {
        let state = match (p.project.up, p.project.exists) {
            (_, false) => "gone (its nexus-dev.yaml no longer exists)",
            (true, _) => "up",
            (false, _) => "down",
        };
        let env = p.project.record.environment.as_ref().map(|e| format!(", environment {e}")).unwrap_or_default();
        println!("{}  ({state}; profile {}{env})", p.project.record.dir.display(), p.project.record.profile);
        if let Some(e) = &p.error {
            println!("  its daemon does not answer: {e}");
        } else if !p.capabilities.is_empty() {
            print_capabilities(&p.capabilities, "  ");
            for c in p.capabilities.iter().filter(|c| !c.forwards.is_empty()) {
                super::env::print_forwards(c);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::{NexusAICapabilityStatus, Phase, ResourceStatus};

    #[test]
    fn a_capability_is_named_ns_slash_name_or_name_with_its_namespace() {
        let ok = |a, n| capability_ref(a, n).unwrap();
        assert_eq!(ok("app-dev/app-dev", None), ("app-dev".into(), "app-dev".into()));
        assert_eq!(ok("app-dev", Some("ns")), ("ns".into(), "app-dev".into()));
        assert_eq!(ok("ns/app", Some("ns")), ("ns".into(), "app".into()));
        for bad in [("app", None), ("/app", None), ("ns/", None), ("a/b/c", None), ("ns/app", Some("other"))] {
            let e = capability_ref(bad.0, bad.1).unwrap_err().to_string();
            assert!(e.contains("NAMESPACE/NAME"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn status_json_through_the_daemon_is_the_dashboards_object_with_the_daemons_fields() {
        use crate::ui::model::tests::{all, minimal};
        let (_, plan) = minimal(None);
        let (cr, plan) = minimal(Some(all(&plan, "Ready", Phase::Running)));
        let cap = crate::ui::model::capability(&cr, &plan, None, &crate::ui::steps::Timeline::default());
        let forward = crate::daemon::forward::Forward {
            component: "backend".into(),
            namespace: "myapp-dev".into(),
            service: "myapp-dev-backend".into(),
            url: "http://127.0.0.1:4000/".into(),
            local_port: 4000,
        };
        let doc = document_of(&cap, std::slice::from_ref(&forward));
        // Every field of the daemon's answer that scripts and tests read (tests/it/up.rs,
        // projects.rs, kind_e2e.rs read phase and forwards).
        for field in [
            "namespace",
            "name",
            "capability",
            "environment",
            "generation",
            "observedGeneration",
            "phase",
            "message",
            "ready",
            "endpoints",
            "forwards",
        ] {
            assert!(doc.get(field).is_some(), "{field}: {doc:#}");
        }
        assert_eq!(doc["phase"], "Running");
        assert_eq!(doc["forwards"][0]["url"], "http://127.0.0.1:4000/");
        assert_eq!(doc["ready"], plan.resources.len());
        assert_eq!(doc["steps"].as_array().unwrap().len(), 11, "the dashboard's steps");
        assert_eq!(doc["resources"].as_array().unwrap().len(), plan.resources.len());
        assert_eq!(doc["key"], "myapp-dev/myapp-dev");
    }

    #[test]
    fn a_row_shows_the_phase_the_steps_done_and_the_ready_replicas() {
        let mut cr = crate::input::examples::example("minimal");
        cr.metadata.namespace = Some("myapp-dev".into());
        cr.metadata.name = Some("myapp-dev".into());
        let resource = |state: &str| ResourceStatus {
            kind: "s3.bucket".into(),
            name: "b".into(),
            state: state.into(),
            id: None,
            message: None,
        };
        cr.status = Some(NexusAICapabilityStatus {
            phase: Some(Phase::DeployingBackend),
            message: Some("deploying the backend".into()),
            resources: vec![resource("Ready"), resource("Pending")],
            ..Default::default()
        });
        let replicas: Replicas = [("backend".to_owned(), (1, 2))].into_iter().collect();
        let r = row(&cr, Some(&replicas));
        let cols: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(cols[..7], ["myapp-dev", "myapp-dev", "DeployingBackend", "5/7", "1/2", "1/2", "-"], "{r}");
        assert!(r.ends_with("  deploying the backend"));
        let doc = document(&cr, Some(&replicas));
        assert_eq!(doc["steps"], serde_json::json!({"done": 5, "total": 7}));
        assert_eq!(doc["replicas"]["backend"], serde_json::json!({"ready": 1, "desired": 2}));
        cr.status = None;
        assert_eq!(row(&cr, None).split_whitespace().collect::<Vec<_>>()[2..7], ["Pending", "0/7", "0/0", "-", "-"]);
    }
}
