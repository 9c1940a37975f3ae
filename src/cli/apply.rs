//! `apply`, `diff` and `delete`: the one-shot front end of the executor.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde::Serialize;

pub use super::output::Output;
use super::{ProfileArgs, SpecArgs, load_profile, load_specs};
use crate::input::profile::LoadedProfile;
use crate::input::spec::LoadedSpec;
use crate::model::outcome::Outcome;
use crate::model::plan::{self, Plan};
use crate::model::spec::DeletionPolicy;
use crate::provision::aws::{Clients, Ctx, Target, coverage};
use crate::provision::{self, Options, Report, ResourceReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Only {
    /// Only the AWS resources (seed steps 1–6).
    Aws,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Apply only one part of the plan.
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    /// Resources converged at once (throttled calls are retried with backoff).
    #[arg(long, default_value_t = crate::provision::aws::DEFAULT_IN_FLIGHT as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Wait until every capability is Running (or Failed).
    #[arg(long)]
    pub wait: bool,
    /// Take over existing resources that have the planned names but were not created by
    /// nexus-dev (no ownership tags or labels). Resources of another capability are never
    /// taken; an existing namespace is used but never labelled. Try `diff --adopt` first.
    #[arg(long)]
    pub adopt: bool,
    /// How long `--wait` waits, such as 90s or 5m.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// `text` for people (progress on stderr); `json` for scripts (stdout).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Show what `apply --adopt` would take over.
    #[arg(long)]
    pub adopt: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Show every deletion, Kubernetes and AWS, with the reason each is nexus-dev's; change
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation on a production profile.
    #[arg(short, long)]
    pub yes: bool,
    /// Delete only one part: `aws` leaves the cluster alone.
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// The report of one capability, as printed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CapabilityReport<'a> {
    capability: &'a str,
    environment: &'a str,
    profile: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(flatten)]
    report: &'a Report,
}

async fn connect(plan: &Plan, profile: &LoadedProfile, dry_run: bool) -> anyhow::Result<Ctx> {
    coverage::check(&profile.profile, &plan.aws_services()).await?;
    let clients = Clients::connect(&Target::of(&profile.profile, &plan.target.region)).await;
    Ok(Ctx::new(clients, profile.profile.aws.account.clone()).dry_run(dry_run))
}

/// A report that starts with the emulator's health check, so that it counts every request.
fn checked(profile: &LoadedProfile) -> Report {
    Report { read_calls: coverage::requests(&profile.profile), ..Report::default() }
}

fn progress(output: Output, verb: &'static str) -> Option<provision::Progress> {
    if !output.is_text() || !std::io::stderr().is_terminal() && !crate::input::settings::progress_forced() {
        return None;
    }
    Some(Arc::new(move |r: &ResourceReport| {
        let detail = match (&r.error, r.changes.is_empty()) {
            (Some(e), _) => format!(": {e}"),
            (None, false) => format!(" ({})", r.changes.join("; ")),
            (None, true) => String::new(),
        };
        eprintln!("  {verb} {:<9} {} {}{detail}  [{} ms]", r.outcome, r.kind, r.name, r.duration_ms);
    }))
}

fn print(output: Output, reports: &[CapabilityReport<'_>]) -> anyhow::Result<()> {
    match output {
        Output::Json | Output::Yaml => output.documents(reports)?,
        Output::Text => {
            for c in reports {
                let r = c.report;
                let mut counts: Vec<String> = Outcome::ALL
                    .iter()
                    .map(|o| (o, r.count(*o)))
                    .filter(|(_, n)| *n > 0)
                    .map(|(o, n)| format!("{n} {o}"))
                    .collect();
                if counts.is_empty() {
                    counts.push("nothing to do".into());
                }
                println!(
                    "{} ({}) on {}: {}; {} mutating calls, {} ms",
                    c.capability,
                    c.environment,
                    c.profile,
                    counts.join(", "),
                    r.mutating_calls,
                    r.duration_ms
                );
                for f in r.failures().filter(|f| !f.not_attempted()) {
                    println!("  failed {} {}: {}", f.kind, f.name, f.error.as_deref().unwrap_or(""));
                }
                let skipped: Vec<_> = r.failures().filter(|f| f.not_attempted()).collect();
                if let Some(first) = skipped.first() {
                    let why = first.error.as_deref().unwrap_or_default().trim_start_matches("not attempted: ");
                    println!(
                        "  {} more not attempted: {why}\n  hint: check that the emulator runs (`nexus-dev up`, `nexus-dev doctor`) or the profile's aws.endpoint",
                        skipped.len()
                    );
                }
                if let Some(n) = &c.note {
                    println!("  {n}");
                }
            }
        }
    }
    Ok(())
}

fn exit(reports: &[Report]) -> ExitCode {
    if reports.iter().all(Report::ok) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

struct Loaded {
    specs: Vec<LoadedSpec>,
    profile: LoadedProfile,
    plans: Vec<Plan>,
}

fn load(specs_args: &SpecArgs, profile: &ProfileArgs) -> anyhow::Result<Loaded> {
    // Everything is read and validated before anything is touched.
    let specs = load_specs(specs_args)?;
    let profile = load_profile(profile, specs_args.environment.as_deref())?;
    let plans = specs.iter().map(|s| plan::build(&s.cr, &profile.profile)).collect();
    Ok(Loaded { specs, profile, plans })
}

pub async fn run_apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let l = load(&args.specs, &args.profile)?;
    let text = args.output.is_text();
    let opts = Options {
        concurrency: args.concurrency.into(),
        progress: progress(args.output, ""),
        adopt: args.adopt,
        ..Options::default()
    };
    let mut reports = Vec::new();
    let mut notes: Vec<Option<String>> = vec![None; l.plans.len()];
    let mut failed = false;
    match args.only {
        // The AWS part alone: the executor.
        Some(Only::Aws) => {
            for (p, s) in l.plans.iter().zip(&l.specs) {
                if text {
                    eprintln!("applying {} ({}) to {}", p.capability, p.environment, l.profile.profile.name);
                }
                reports.push(apply_aws(s, p, &l, false, &opts).await?);
            }
        }
        // Everything: the reconciler, which provisions AWS once, then the cluster.
        None => {
            // What can be checked is checked before any AWS write (issue #11, item 5): the
            // emulator covers the services, the cluster answers, the CRD is served, no
            // capability's namespace is being deleted.
            for p in &l.plans {
                coverage::check(&l.profile.profile, &p.aws_services()).await?;
            }
            let client = prepare_cluster(&l, args.timeout, text).await?;
            let mut rctx = crate::reconcile::Context::new(client.clone(), l.profile.profile.clone());
            if let Some(c) = Arc::get_mut(&mut rctx) {
                c.options = opts.clone();
            }
            for (i, (p, s)) in l.plans.iter().zip(&l.specs).enumerate() {
                if text {
                    eprintln!("applying {} ({}) to {}", p.capability, p.environment, l.profile.profile.name);
                }
                let mut report = checked(&l.profile);
                // Whatever fails, the report of what was done so far is printed below.
                let how = Converging { output: args.output, wait: args.wait, timeout: args.timeout };
                match converge_in_cluster(&client, &rctx, &s.cr, how, &mut report).await {
                    Ok(note) => {
                        report.merge(orphans_elsewhere(s, p, &l, false, &opts).await?);
                        notes[i] = Some(note);
                    }
                    Err(e) => {
                        notes[i] = Some(format!("Failed: {e:#}"));
                        failed = true;
                    }
                }
                reports.push(report);
                if failed {
                    break;
                }
            }
        }
    }
    let shown: Vec<_> =
        l.plans.iter().zip(&reports).zip(notes).map(|((p, r), n)| capability_report(p, &l, r, n)).collect();
    print(args.output, &shown)?;
    Ok(if failed { ExitCode::FAILURE } else { exit(&reports) })
}

/// The AWS part of one capability, as `apply --only aws` and `diff` run it. Three things go at
/// once, so that a warm apply is one round trip, the process's own checks included (issue 20):
/// the emulator's coverage check, the plan's apply (which writes nothing before that check
/// passes), and the look for what the spec's changes left behind in its region (issue #11,
/// item 4: the resources of parts it turned off, found by ownership). What that finds is pruned
/// under `deletionPolicy: Delete` once the plan applied cleanly; under `Retain`, and in a dry
/// run, it is only reported. Then the regions the capability was applied to before.
async fn apply_aws(s: &LoadedSpec, p: &Plan, l: &Loaded, dry_run: bool, opts: &Options) -> anyhow::Result<Report> {
    use futures::FutureExt;
    let profile = &l.profile.profile;
    let check = {
        let (profile, needed) = (profile.clone(), p.aws_services());
        async move { coverage::check(&profile, &needed).await.map_err(|e| e.to_string()) }.boxed().shared()
    };
    let ctx = Ctx::new(Clients::connect(&Target::of(profile, &p.target.region)).await, profile.aws.account.clone())
        .dry_run(dry_run);
    let unplanned = plan::unplanned(&s.cr, profile);
    let orphans = provision::OrphanProbe::start(&p.owner(), unplanned, &ctx, opts, s.spec().deletion_policy);
    let applied = provision::apply(p, &ctx, &Options { gate: Some(check.clone()), ..opts.clone() }).await;
    // When it failed, nothing was written.
    check.await.map_err(|e| anyhow::anyhow!(e))?;
    let mut report = checked(&l.profile);
    report.merge(applied);
    let clean = report.ok();
    orphans.finish(&mut report, clean).await;
    if clean || dry_run {
        report.merge(orphans_elsewhere(s, p, l, dry_run, opts).await?);
    }
    Ok(report)
}

/// The capability's resources in the regions it was applied to before, other than its own (the
/// reconciler prunes its own region).
async fn orphans_elsewhere(
    s: &LoadedSpec,
    p: &Plan,
    l: &Loaded,
    dry_run: bool,
    opts: &Options,
) -> anyhow::Result<Report> {
    use crate::provision::lock;
    let profile = &l.profile.profile;
    let owner = p.owner();
    let policy = s.spec().deletion_policy;
    let mut report = Report::default();
    for region in lock::regions(&owner, &profile.aws.account).into_iter().filter(|r| *r != p.target.region) {
        let mut moved = s.cr.clone();
        moved.spec.region = region.clone();
        // IAM is global and bucket names are too: the role and the buckets the current plan
        // names are the same ones, wherever they were made. The rest is regional.
        use crate::model::plan::Kind;
        let candidates: Vec<_> = plan::build(&moved, profile)
            .resources
            .into_iter()
            .filter(|r| r.kind.is_aws() && !matches!(r.kind, Kind::IamOidcProvider | Kind::IamRole | Kind::S3Bucket))
            .collect();
        let there = Ctx::new(Clients::connect(&Target::of(profile, &region)).await, profile.aws.account.clone())
            .dry_run(dry_run);
        let found = provision::prune(&owner, &candidates, &there, opts, policy).await;
        if found.resources.is_empty() && !dry_run {
            lock::forget(&owner, &profile.aws.account, &region);
        }
        report.merge(found);
    }
    Ok(report)
}

/// The cluster's side of `apply`, checked before AWS is touched: a client that answers within
/// a few seconds, the CRD served, and no capability namespace terminating (waited for, with a
/// message, up to `timeout`).
async fn prepare_cluster(l: &Loaded, timeout: std::time::Duration, text: bool) -> anyhow::Result<kube::Client> {
    use anyhow::Context as _;
    let profile = &l.profile.profile;
    let client = crate::provision::kube::client::for_profile(profile).await?;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), client.apiserver_version()).await;
    match answer {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => anyhow::bail!(
            "the cluster of profile {} does not answer: {}; nothing was changed\n  hint: check that the cluster runs (`nexus-dev up`, `kubectl cluster-info`) and the profile's cluster settings",
            profile.name,
            crate::provision::kube::describe(&e)
        ),
        Err(_) => anyhow::bail!(
            "the cluster of profile {} did not answer within 10s; nothing was changed\n  hint: check that the cluster runs (`kubectl cluster-info`)",
            profile.name
        ),
    }
    crate::provision::kube::install_crd(&client).await.context("nothing was changed")?;
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    let deadline = std::time::Instant::now() + timeout;
    for p in &l.plans {
        loop {
            let ns = namespaces.get_opt(&p.namespace).await?;
            if ns.is_none_or(|n| n.metadata.deletion_timestamp.is_none()) {
                break;
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!(
                    "namespace {} is still being deleted after {}; nothing was changed\n  hint: `kubectl get namespace {} -o yaml` shows what holds it",
                    p.namespace,
                    humantime::format_duration(timeout),
                    p.namespace
                );
            }
            if text {
                eprintln!("  waiting: namespace {} is being deleted", p.namespace);
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
    Ok(client)
}

/// How `converge_in_cluster` reports and waits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Converging {
    pub output: Output,
    /// Until Running (or `timeout`), not only one pass.
    pub wait: bool,
    pub timeout: std::time::Duration,
}

/// Puts one capability into the cluster and converges it (until Running with `--wait`): the
/// first pass provisions AWS, later ones only the cluster. Fills in `report` with what was done,
/// and returns the note shown under it.
pub(super) async fn converge_in_cluster(
    client: &kube::Client,
    rctx: &crate::reconcile::Context,
    cr: &crate::model::spec::NexusAICapability,
    how: Converging,
    report: &mut Report,
) -> anyhow::Result<String> {
    let text = how.output.is_text();
    let deadline = std::time::Instant::now() + how.timeout;
    loop {
        let live = crate::provision::kube::put_capability(client, cr).await?;
        let pass = match crate::reconcile::converge(&live, rctx).await {
            Ok(pass) => pass,
            Err(e) => {
                if let crate::reconcile::Error::Aws { done, .. } = &e {
                    add_aws(report, (**done).clone());
                }
                // Named after the resource that failed, not the capability's namespace.
                if let Some((kind, name)) = e.resource() {
                    report.resources.retain(|r| !(r.kind == kind && r.name == name));
                    report.resources.push(ResourceReport::failure(kind, name, e.to_string(), Some(e.label())));
                }
                anyhow::bail!(e);
            }
        };
        if let Some(p) = progress(how.output, "") {
            pass.kubernetes.iter().filter(|r| r.outcome != Outcome::Unchanged).for_each(|r| p(r));
        }
        let waiting = match &pass.readiness {
            crate::reconcile::Readiness::RollingOut(why) => Some(why.clone()),
            crate::reconcile::Readiness::Running => None,
        };
        report.resources.retain(|r| r.kind.is_aws());
        add_aws(report, pass.aws);
        report.resources.extend(pass.kubernetes);
        if waiting.is_none() || !how.wait {
            return Ok(match waiting {
                None => "Running".into(),
                Some(w) => format!("applied; {w} (use --wait to wait for Running)"),
            });
        }
        if std::time::Instant::now() > deadline {
            report
                .resources
                .iter_mut()
                .filter(|r| r.kind == crate::model::plan::Kind::Deployment)
                .for_each(|r| r.outcome = Outcome::Failed);
            return Ok(format!(
                "not Running after {}: {}",
                humantime::format_duration(how.timeout),
                waiting.unwrap_or_default()
            ));
        }
        if text {
            eprintln!("  waiting: {}", waiting.unwrap_or_default());
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// Adds a pass's AWS part to `report`: its resources replace those of an earlier pass (a long
/// `--wait` checks AWS again), and every call counts.
fn add_aws(report: &mut Report, aws: Report) {
    if !aws.resources.is_empty() {
        report.resources.retain(|r| !r.kind.is_aws());
    }
    report.merge(aws);
}

pub async fn run_diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let l = load(&args.specs, &args.profile)?;
    let mut reports = Vec::new();
    for (p, s) in l.plans.iter().zip(&l.specs) {
        let opts = Options { adopt: args.adopt, ..Options::default() };
        let report = apply_aws(s, p, &l, true, &opts).await?;
        debug_assert_eq!(report.mutating_calls, 0, "a diff must not change anything");
        reports.push(report);
    }
    match args.output {
        Output::Json | Output::Yaml => {
            let shown: Vec<_> = l.plans.iter().zip(&reports).map(|(p, r)| capability_report(p, &l, r, None)).collect();
            print(args.output, &shown)?;
        }
        Output::Text => {
            for (p, r) in l.plans.iter().zip(&reports) {
                let pending: Vec<_> = r.resources.iter().filter(|x| x.outcome != Outcome::Unchanged).collect();
                println!(
                    "{} ({}) on {}: {} of {} resources would change",
                    p.capability,
                    p.environment,
                    l.profile.profile.name,
                    pending.len(),
                    r.resources.len()
                );
                for x in pending {
                    let what = match x.outcome {
                        Outcome::Created => "+ create".to_owned(),
                        Outcome::Updated => "~ update".to_owned(),
                        other => format!("! {other}"),
                    };
                    let detail = x.error.clone().unwrap_or_else(|| x.changes.join("; "));
                    println!(
                        "  {what} {} {}{}",
                        x.kind,
                        x.name,
                        if detail.is_empty() { String::new() } else { format!(": {detail}") }
                    );
                }
            }
        }
    }
    Ok(exit(&reports))
}

pub async fn run_delete(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let l = load(&args.specs, &args.profile)?;
    if l.profile.profile.production && !args.yes && !args.dry_run {
        confirm(&format!("delete {} capabilities from production profile {}?", l.plans.len(), l.profile.profile.name))?;
    }
    let opts = Options { progress: progress(args.output, "delete"), ..Options::default() };
    let rctx = match args.only {
        None => {
            let client = crate::provision::kube::client::for_profile(&l.profile.profile).await?;
            let mut rctx = crate::reconcile::Context::new(client, l.profile.profile.clone());
            if let Some(c) = Arc::get_mut(&mut rctx) {
                c.options = opts.clone();
            }
            Some(rctx)
        }
        Some(Only::Aws) => None,
    };
    let mut reports = Vec::new();
    let mut notes = Vec::new();
    for (p, s) in l.plans.iter().zip(&l.specs) {
        let policy = s.spec().deletion_policy;
        let mut report = checked(&l.profile);
        match &rctx {
            // Through the reconciler's delete flow (seed 001): Kubernetes first, then AWS. Only
            // what is the capability's goes; the namespace only when nexus-dev created it and
            // nothing of others is in it.
            Some(rctx) => {
                coverage::check(&l.profile.profile, &p.aws_services()).await?;
                let cleaned = crate::reconcile::delete(&s.cr, rctx, args.dry_run).await?;
                report.merge(cleaned.aws);
                report.resources.extend(cleaned.kubernetes);
            }
            None => {
                let ctx = connect(p, &l.profile, args.dry_run).await?;
                report.merge(provision::delete(p, &ctx, &opts, policy).await);
            }
        }
        notes.push(match policy {
            DeletionPolicy::Retain => Some(format!(
                "deletionPolicy is Retain: no AWS resource was deleted ({} kept). Set deletionPolicy: Delete to remove them.",
                report.resources.iter().filter(|r| r.kind.is_aws()).count()
            )),
            DeletionPolicy::Delete if args.dry_run => Some("dry run: nothing was deleted".into()),
            DeletionPolicy::Delete => None,
        });
        reports.push(report);
    }
    let shown: Vec<_> =
        l.plans.iter().zip(&reports).zip(notes).map(|((p, r), n)| capability_report(p, &l, r, n)).collect();
    print(args.output, &shown)?;
    Ok(exit(&reports))
}

fn capability_report<'a>(p: &'a Plan, l: &'a Loaded, r: &'a Report, note: Option<String>) -> CapabilityReport<'a> {
    CapabilityReport {
        capability: &p.capability,
        environment: &p.environment,
        profile: &l.profile.profile.name,
        note,
        report: r,
    }
}

/// Asks on the terminal; refuses without one (scripts pass --yes).
pub(super) fn confirm(question: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question} Refusing without confirmation: no terminal to ask on. Pass --yes to confirm.");
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { anyhow::bail!("cancelled; nothing was changed") }
}
