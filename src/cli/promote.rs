//! `nexus-dev promote`: one capability's release, from the environment it was made in to an EKS
//! profile, in the fixed order of `promote` (identity, release, plan, confirmation, images by
//! digest, apply through the reconciler, verify, history).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::apply::{Converging, converge_in_cluster};
use super::output::Output;
use super::{ProfileArgs, SpecArgs, load_profile, load_specs};
use crate::promote::plan::{self, Plan, Step};
use crate::promote::release::{self, Promotion, Release};
use crate::promote::{self as promotion, ImageCopy};
use crate::provision::Report;
use crate::reconcile::verify::Check;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    /// The EKS profile to promote to: a name (profiles/NAME.yaml, or a built-in) or a path.
    #[arg(long, value_name = "NAME|PATH")]
    pub to: String,
    /// The profile whose running images make the release. Default: the project's profile,
    /// else `local`.
    #[arg(long, value_name = "NAME|PATH")]
    pub from: Option<String>,
    /// Promote this release record (`nexus-dev release`) instead of what runs in --from now.
    #[arg(long, value_name = "FILE", conflicts_with = "plan")]
    pub release: Option<PathBuf>,
    /// Show the plan and stop; nothing is written.
    #[arg(long)]
    pub plan_only: bool,
    /// Write the plan to FILE for review and stop; `--plan FILE` applies exactly that plan.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["plan", "plan_only"])]
    pub plan_out: Option<PathBuf>,
    /// Apply a plan written by --plan-out, without asking again; refused if the target has
    /// changed since it was made.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(short, long)]
    pub yes: bool,
    /// How long to wait for the capability to be Running on the target, such as 90s or 10m.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// `text` for people (progress on stderr); `json` or `yaml` for scripts (stdout).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// What a promotion did after the plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Applied {
    images: Vec<ImageCopy>,
    /// AWS calls that change something, the repositories made included.
    mutating_calls: u64,
    resources: Report,
    /// `Running`, or why not.
    state: String,
    verify: Vec<Check>,
    outcome: String,
    history: PathBuf,
}

/// How long each step took, in order (a JSON object in that order).
#[derive(Debug, Default)]
struct Laps {
    last: Option<std::time::Instant>,
    ms: Vec<(&'static str, u64)>,
}

impl Serialize for Laps {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(self.ms.len()))?;
        for (step, ms) in &self.ms {
            map.serialize_entry(step, ms)?;
        }
        map.end()
    }
}

impl Laps {
    /// Records the time since the previous lap (or the start) as `step`'s; its milliseconds.
    fn lap(&mut self, step: &'static str, start: std::time::Instant) -> u64 {
        let from = self.last.unwrap_or(start);
        let now = std::time::Instant::now();
        let ms = now.duration_since(from).as_millis() as u64;
        self.ms.push((step, ms));
        self.last = Some(now);
        ms
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown<'a> {
    plan: &'a Plan,
    /// Milliseconds per step: target, release, plan, images, apply, verify.
    timings_ms: &'a Laps,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan_file: Option<&'a PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<&'a Applied>,
}

pub async fn run(args: PromoteArgs) -> anyhow::Result<ExitCode> {
    let text = args.output.is_text();
    let say = |line: String| {
        if text {
            eprintln!("{line}");
        }
    };
    let specs = load_specs(&args.specs)?;
    let [spec] = specs.as_slice() else {
        anyhow::bail!(
            "-f names {} capabilities; promote takes one at a time (a release is one capability's)",
            specs.len()
        );
    };
    let to = load_profile(&ProfileArgs { profile: Some(args.to.clone()) }, None)?;
    let (start, mut laps) = (std::time::Instant::now(), Laps::default());
    let saved = args.plan.as_deref().map(Plan::read).transpose()?;

    // Identity first: nothing is read from the cluster or written before it holds.
    say(format!("checking the target: profile {}", to.profile.name));
    let conn = promotion::connect(&to.profile, &spec.spec().region).await?;
    say(format!(
        "  account {} ({}), cluster {} ACTIVE in {}  [{} ms]",
        conn.target.account,
        conn.target.caller,
        conn.target.cluster,
        conn.target.region,
        laps.lap("target", start)
    ));

    // The release, and the environment it was made in.
    let dir = super::release::releases_dir()?;
    let from_name = args.from.clone().or_else(|| saved.as_ref().map(|p| p.from.clone()));
    let from = load_profile(&ProfileArgs { profile: from_name }, args.specs.environment.as_deref())?;
    let release = match (&saved, &args.release) {
        (Some(p), _) => p.release.clone(),
        (None, Some(file)) => Release::read(file)?,
        (None, None) => {
            let client = crate::provision::kube::client::for_profile(&from.profile).await?;
            let r = release::make(&spec.cr, &from.profile, &client).await?;
            say(format!("release {} (from what runs in {})", r.write(&dir)?.display(), from.profile.name));
            r
        }
    };
    promotion::check_release(&release, &spec.cr)?;
    laps.lap("release", start);

    // One plan, observed read-only.
    say("planning: images, AWS (dry run), Kubernetes (server-side dry run)".into());
    let cr = promotion::pinned_capability(&spec.cr, &release, &conn.registry)?;
    let source = crate::model::plan::build(&promotion::released_capability(&spec.cr, &release), &from.profile);
    let plan = plan::observe(&conn, &cr, &release, &source).await?;
    say(format!("  planned  [{} ms]", laps.lap("plan", start)));
    if let Some(reviewed) = &saved {
        reviewed.still_holds(&plan)?;
    }
    if text {
        print_plan(&plan);
    }
    if args.plan_only || args.plan_out.is_some() {
        if let Some(file) = &args.plan_out {
            plan.write(file)?;
            say(format!(
                "plan written to {}; apply exactly it with: nexus-dev promote -f … --to {} --plan {}",
                file.display(),
                args.to,
                file.display()
            ));
        }
        args.output.document(&Shown {
            plan: &plan,
            timings_ms: &laps,
            plan_file: args.plan_out.as_ref(),
            applied: None,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if saved.is_none() && !args.yes {
        confirm(&plan)?;
    }

    // Images by digest, then the capability through the reconciler, then verify. A target that
    // runs this release already, Running, has nothing to copy or apply: only verify.
    let mut copied = Vec::new();
    let mut resources = Report::default();
    let state = match promotion::running(&conn.kube, &cr).await {
        Some(state) if plan.nothing_to_do() => {
            say(format!("nothing to copy or apply: {} runs release {}", conn.target.cluster, plan.release_id));
            state
        }
        _ => {
            say(format!("copying {} images by digest to {}", plan.images.len(), conn.registry));
            copied = promotion::copy_images(&conn, &plan.images).await?;
            for c in &copied {
                say(format!(
                    "  {}: {} blobs copied ({}), {} mounted, {} present",
                    c.component,
                    c.copied.blobs_copied,
                    size(c.copied.bytes_copied),
                    c.copied.blobs_mounted,
                    c.copied.blobs_present
                ));
            }
            say(format!("  copied  [{} ms]", laps.lap("images", start)));
            say(format!("applying {} to {}", release.capability, conn.target.cluster_arn));
            crate::provision::kube::install_crd(&conn.kube).await?;
            let rctx = crate::reconcile::Context::new(conn.kube.clone(), conn.profile.clone());
            let how = Converging { output: args.output, wait: true, timeout: args.timeout };
            let state = match converge_in_cluster(&conn.kube, &rctx, &cr, how, &mut resources).await {
                Ok(state) => state,
                Err(e) => format!("Failed: {e:#}"),
            };
            say(format!("  {state}  [{} ms]", laps.lap("apply", start)));
            state
        }
    };
    let planned = crate::model::plan::build(&cr, &conn.profile);
    let aws = crate::provision::aws::Ctx::new(
        crate::provision::aws::Clients::connect(&crate::provision::aws::Target::of(
            &conn.profile,
            &planned.target.region,
        ))
        .await,
        conn.target.account.clone(),
    );
    say("verifying".into());
    let verify = crate::reconcile::verify::verify(&planned, &aws, &conn.kube, &crate::reconcile::key(&cr)).await;
    // The apps' HTTP health through the API server's service proxy, where the API server can
    // reach the pods; where it cannot at all (a control plane with no route to the pod
    // network), the readiness probes that made the rollout available stand for it.
    let failed = failures(&verify).len();
    say(format!("  {} checks, {failed} failed  [{} ms]", verify.len(), laps.lap("verify", start)));
    if http_unreachable(&verify) {
        say("  HTTP health not checked: the API server cannot reach the pods; the readiness probes passed".into());
    }
    let outcome = match (state.as_str(), failed) {
        ("Running", 0) => "succeeded".to_owned(),
        ("Running", n) => format!("failed: {n} of {} checks failed", verify.len()),
        (s, _) => format!("failed: {s}"),
    };
    let history = Promotion {
        time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        release: plan.release_id.clone(),
        profile: plan.profile.clone(),
        account: conn.target.account.clone(),
        region: conn.target.region.clone(),
        cluster_arn: conn.target.cluster_arn.clone(),
        outcome: outcome.clone(),
    }
    .append(&dir)?;
    let repositories = copied.iter().filter(|c| c.repository == crate::promote::ecr::Repository::Created).count();
    let applied = Applied {
        mutating_calls: resources.mutating_calls + repositories as u64,
        images: copied,
        resources,
        state,
        verify,
        outcome,
        history,
    };
    if text {
        print_applied(&applied);
    }
    args.output.document(&Shown { plan: &plan, timings_ms: &laps, plan_file: None, applied: Some(&applied) })?;
    Ok(if applied.outcome == "succeeded" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Whether every HTTP check failed because the API server could not connect to the pods at all.
fn http_unreachable(checks: &[Check]) -> bool {
    let http: Vec<&Check> = checks.iter().filter(|c| c.check.starts_with("http ")).collect();
    let cannot_connect =
        |d: &str| ["denied destination", "dial tcp", "no route to host", "i/o timeout"].iter().any(|m| d.contains(m));
    !http.is_empty() && http.iter().all(|c| !c.ok && cannot_connect(&c.detail))
}

/// The checks that failed, HTTP ones excused where the API server cannot reach any pod.
fn failures(checks: &[Check]) -> Vec<&Check> {
    let excused = http_unreachable(checks);
    checks.iter().filter(|c| !(c.ok || excused && c.check.starts_with("http "))).collect()
}

/// Without `--yes`, the user types the cluster's name; without a terminal, refused.
fn confirm(plan: &Plan) -> anyhow::Result<()> {
    let cluster = &plan.target.cluster;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "promoting to cluster {cluster} needs confirmation, and there is no terminal to ask on; nothing was changed\n  hint: pass --yes, or review with --plan-out FILE and apply with --plan FILE"
        );
    }
    if plan.nothing_to_do() {
        return Ok(());
    }
    eprint!("type the cluster's name ({cluster}) to promote: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != cluster {
        anyhow::bail!("cancelled; nothing was changed");
    }
    Ok(())
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

/// A value for a table: whole when short, else its start (`-o json` shows it whole).
fn brief(v: &serde_json::Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn short(reference: &str) -> String {
    // repository@sha256:0123456789ab…: enough to tell digests apart in a table.
    match reference.split_once("@sha256:") {
        Some((name, hex)) => format!("{name}@sha256:{}…", &hex[..hex.len().min(12)]),
        None => reference.to_owned(),
    }
}

fn print_steps(section: &str, steps: &[Step]) {
    let changing: Vec<&Step> = steps.iter().filter(|s| s.changes_anything()).collect();
    println!("{section}: {} of {} change", changing.len(), steps.len());
    for s in changing {
        let sign = match s.action.as_str() {
            "created" => "+ create",
            "updated" => "~ update",
            _ => "! cannot read",
        };
        let detail = if s.changes.is_empty() { String::new() } else { format!(": {}", s.changes.join("; ")) };
        println!("  {sign} {} {}{detail}", s.kind, s.name);
    }
}

fn print_plan(plan: &Plan) {
    let t = &plan.target;
    println!(
        "promote {} ({}), release {}, from {} to {}",
        plan.release.capability, plan.release.environment, plan.release_id, plan.from, plan.profile
    );
    println!("target: account {}, region {}, cluster {}", t.account, t.region, t.cluster_arn);
    let to_copy = plan.images.iter().filter(|i| !i.present).count();
    println!("images: {to_copy} of {} to copy", plan.images.len());
    for i in &plan.images {
        let state = if i.present { "present".to_owned() } else { format!("copy {}", size(i.size)) };
        println!("  {:<9} {} → {}  {state}", i.component, short(&i.source), short(&i.target));
    }
    print_steps("aws", &plan.aws);
    print_steps("kubernetes", &plan.kubernetes);
    println!("differences from {}: {} profile-scoped fields, nothing else", plan.from, plan.parity.len());
    for d in &plan.parity {
        println!("  {} {}: {} → {}", d.resource, d.field, brief(&d.from), brief(&d.to));
    }
    if plan.nothing_to_do() {
        println!("nothing to do: the target runs this release already");
    }
}

fn print_applied(a: &Applied) {
    let failed = failures(&a.verify);
    println!(
        "{}: {} ({} mutating AWS calls, {} images: {} blobs copied), {} verify checks, {} failed",
        a.outcome,
        a.state,
        a.mutating_calls,
        a.images.len(),
        a.images.iter().map(|i| i.copied.blobs_copied).sum::<usize>(),
        a.verify.len(),
        failed.len()
    );
    for c in failed {
        println!("  FAIL {}: {}", c.check, c.detail);
    }
    println!("history: {}", a.history.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_show_sizes_and_values_briefly() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1_048_576), "3.0 MiB");
        assert_eq!(brief(&serde_json::json!("alb")), "\"alb\"");
        let long = brief(&serde_json::json!("x".repeat(100)));
        assert_eq!(long.chars().count(), 61);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn http_checks_count_unless_the_api_server_cannot_reach_any_pod() {
        let c = |check: &str, ok, detail: &str| Check { check: check.into(), ok, detail: detail.into() };
        let denied = "resolve_deny: denied destination (403)";
        assert!(http_unreachable(&[c("http a/health", false, denied), c("rollout a", true, "available")]));
        assert!(!http_unreachable(&[c("http a/health", false, denied), c("http b/health", true, "answers")]));
        assert!(!http_unreachable(&[c("http a/health", false, "HTTP 500")]));
        assert!(!http_unreachable(&[c("rollout a", true, "available")]), "no HTTP check: nothing to excuse");
    }
}
