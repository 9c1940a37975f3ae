//! Commands that read the cluster: `status`, `verify`.

use std::process::ExitCode;

use clap::Args;
use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::{ProfileArgs, SpecArgs, load_profile, load_specs};
use crate::model::spec::NexusAICapability;

#[derive(Debug, Args)]
pub struct StatusArgs {
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
    #[arg(short = 'A', long, conflicts_with_all = ["watch", "namespace"])]
    pub all: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = super::output::Output::Text)]
    pub output: super::output::Output,
}

fn row(cr: &NexusAICapability) -> String {
    let st = cr.status.clone().unwrap_or_default();
    let ready = st.resources.iter().filter(|r| r.state == "Ready").count();
    format!(
        "{:<20} {:<22} {:<26} {:>7}  {}",
        cr.namespace().unwrap_or_default(),
        cr.name_any(),
        st.phase.map(|p| p.to_string()).unwrap_or_else(|| "Pending".into()),
        format!("{ready}/{}", st.resources.len()),
        st.message.unwrap_or_default()
    )
}

pub async fn run_status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let outside_a_project = || crate::input::project::discover(&std::env::current_dir().unwrap_or_default()).is_err();
    if args.all
        || (args.profile.profile.is_none()
            && !args.watch
            && args.namespace.is_none()
            && outside_a_project()
            && !crate::daemon::machine::list().is_empty())
    {
        return print_projects(&args).await;
    }
    // In a project whose daemon runs, the daemon answers (issue #6).
    if !args.watch
        && args.namespace.is_none()
        && let Some(answer) = super::env::status_via_daemon().await
    {
        let caps = answer?;
        if !args.output.is_text() {
            println!("{}", serde_json::to_string_pretty(&caps)?);
        } else {
            print_capabilities(&caps, "");
            for c in caps.iter().filter(|c| !c.forwards.is_empty()) {
                println!("{}:", c.name);
                super::env::print_forwards(c);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let profile = load_profile(&args.profile, None)?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let api: Api<NexusAICapability> = match &args.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let header = format!("{:<20} {:<22} {:<26} {:>7}  {}", "NAMESPACE", "NAME", "PHASE", "READY", "MESSAGE");
    if !args.watch {
        let list = api.list(&Default::default()).await?;
        if !args.output.is_text() {
            let items: Vec<_> = list.items.iter().map(|c| serde_json::json!({"namespace": c.namespace(), "name": c.name_any(), "spec": c.spec, "status": c.status})).collect();
            println!("{}", serde_json::to_string_pretty(&items)?);
        } else if list.items.is_empty() {
            println!("no capabilities found");
        } else {
            println!("{header}");
            for cr in &list.items {
                println!("{}", row(cr));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!("{header}");
    let mut seen = std::collections::HashMap::new();
    let mut stream = watcher(api, watcher::Config::default()).applied_objects().boxed();
    while let Some(ev) = stream.next().await {
        let cr = ev?;
        let line = row(&cr);
        if seen.insert(crate::reconcile::key(&cr), line.clone()).as_ref() != Some(&line) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
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

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = super::output::Output::Text)]
    pub output: super::output::Output,
}

pub async fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let specs = load_specs(&args.specs)?;
    let profile = load_profile(&args.profile, args.specs.environment.as_deref())?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let mut all_ok = true;
    let mut json = Vec::new();
    for s in &specs {
        // Images built by nexus-dev are pinned on the live capability (watch mode, `up`): the
        // plan to compare with is the one the reconciler applies, with those pins.
        let mut cr = s.cr.clone();
        let names = crate::model::names::Names::of(&cr.spec);
        let namespace = cr.metadata.namespace.clone().unwrap_or_else(|| names.namespace());
        let live: Api<NexusAICapability> = Api::namespaced(client.clone(), &namespace);
        if let Ok(Some(live)) = live.get_opt(&cr.name_any()).await {
            let pins =
                live.annotations().iter().filter(|(k, _)| k.starts_with(crate::model::plan::BUILT_IMAGE_ANNOTATION));
            cr.annotations_mut().extend(pins.map(|(k, v)| (k.clone(), v.clone())));
        }
        let plan = crate::model::plan::build(&cr, &profile.profile);
        crate::provision::aws::coverage::check(&profile.profile, &plan.aws_services()).await?;
        let clients = crate::provision::aws::Clients::connect(&crate::provision::aws::Target::of(
            &profile.profile,
            &plan.target.region,
        ))
        .await;
        let aws = crate::provision::aws::Ctx::new(clients, profile.profile.aws.account.clone());
        let checks = crate::reconcile::verify::verify(&plan, &aws, &client, &crate::reconcile::key(&s.cr)).await;
        let failed = checks.iter().filter(|c| !c.ok).count();
        all_ok &= failed == 0;
        if args.output.is_text() {
            println!(
                "{} ({}) on {}: {} checks, {} failed",
                plan.capability,
                plan.environment,
                profile.profile.name,
                checks.len(),
                failed
            );
            for c in checks.iter().filter(|c| !c.ok) {
                println!("  FAIL {}: {}", c.check, c.detail);
            }
        } else {
            json.push(serde_json::json!({"capability": plan.capability, "environment": plan.environment, "ok": failed == 0, "checks": checks}));
        }
    }
    if !args.output.is_text() {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
