//! Commands that read or run against the cluster: `verify`, `operator` (`status` is status.rs).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use kube::{Api, ResourceExt};

use super::{ProfileArgs, SpecArgs, load_profile, load_specs};
use crate::model::spec::NexusAICapability;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A capability already in the cluster, as NAMESPACE/NAME (NAME alone with `-n`): its live
    /// spec is verified (the seed's `verify-capability`).
    #[arg(value_name = "NS/NAME", conflicts_with = "files")]
    pub capability: Option<String>,
    /// Capability spec: a YAML file, a directory of them, or `-` for stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required_unless_present_any = ["capability", "namespace"])]
    pub files: Vec<std::path::PathBuf>,
    /// Every capability of this namespace, as it is in the cluster (with NS/NAME: its namespace).
    #[arg(short, long, conflicts_with = "files")]
    pub namespace: Option<String>,
    /// The project environment (nexus-dev.yaml `environments:`), with `-f`: its settings are
    /// layered under each spec's, and its profile is the default profile.
    #[arg(long = "env", value_name = "NAME", env = crate::input::settings::ENVIRONMENT_ENV)]
    pub environment: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = super::output::Output::Text)]
    pub output: super::output::Output,
}

/// The capabilities to verify: the specs of `-f`, each with the built-image pins of its live
/// copy, or the live custom resources of NS/NAME or `-n`.
async fn capabilities_to_verify(args: &VerifyArgs, client: &kube::Client) -> anyhow::Result<Vec<NexusAICapability>> {
    if args.files.is_empty() {
        let one = args.capability.as_deref().map(|c| super::status::capability_ref(c, args.namespace.as_deref()));
        return match (one.transpose()?, &args.namespace) {
            (Some((ns, name)), _) => {
                let api: Api<NexusAICapability> = Api::namespaced(client.clone(), &ns);
                match api.get_opt(&name).await? {
                    Some(cr) => Ok(vec![cr]),
                    None => anyhow::bail!(
                        "capability {ns}/{name} not found (`nexus-dev status -n {ns}` lists that namespace's)"
                    ),
                }
            }
            (None, Some(ns)) => {
                let api: Api<NexusAICapability> = Api::namespaced(client.clone(), ns);
                let items = api.list(&Default::default()).await?.items;
                if items.is_empty() {
                    anyhow::bail!("no capabilities in namespace {ns}");
                }
                Ok(items)
            }
            (None, None) => anyhow::bail!("name a capability (NS/NAME), a namespace (-n) or specs (-f)"),
        };
    }
    let specs = load_specs(&SpecArgs { files: args.files.clone(), environment: args.environment.clone() })?;
    let mut crs = Vec::new();
    for s in specs {
        // Images built by nexus-dev are pinned on the live capability (watch mode, `up`): the
        // plan to compare with is the one the reconciler applies, with those pins.
        let mut cr = s.cr;
        let names = crate::model::names::Names::of(&cr.spec);
        let namespace = cr.metadata.namespace.clone().unwrap_or_else(|| names.namespace());
        let live: Api<NexusAICapability> = Api::namespaced(client.clone(), &namespace);
        if let Ok(Some(live)) = live.get_opt(&cr.name_any()).await {
            let pins =
                live.annotations().iter().filter(|(k, _)| k.starts_with(crate::model::plan::BUILT_IMAGE_ANNOTATION));
            let pins: Vec<(String, String)> = pins.map(|(k, v)| (k.clone(), v.clone())).collect();
            cr.annotations_mut().extend(pins);
        }
        crs.push(cr);
    }
    Ok(crs)
}

pub async fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let environment = if args.files.is_empty() { None } else { args.environment.as_deref() };
    let profile = load_profile(&args.profile, environment)?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let mut all_ok = true;
    let mut json = Vec::new();
    for cr in capabilities_to_verify(&args, &client).await? {
        let plan = crate::model::plan::build(&cr, &profile.profile);
        crate::provision::aws::coverage::check(&profile.profile, &plan.aws_services()).await?;
        let clients = crate::provision::aws::Clients::connect(&crate::provision::aws::Target::of(
            &profile.profile,
            &plan.target.region,
        ))
        .await;
        let aws = crate::provision::aws::Ctx::new(clients, profile.profile.aws.account.clone());
        let checks = crate::reconcile::verify::verify(&plan, &aws, &client, &crate::reconcile::key(&cr)).await;
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

#[derive(Debug, Args)]
pub struct OperatorArgs {
    #[command(subcommand)]
    pub command: Option<OperatorCommand>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// How often a Running capability's AWS resources are rechecked for drift.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub resync: Duration,
    /// Reconcile the capabilities of this namespace only (default: every namespace).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Serve /healthz, /readyz and /metrics (Prometheus) on this address, such as
    /// 0.0.0.0:8080 (what `operator manifests` sets). Off by default.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Print the manifests that run the operator in a cluster (namespace, CRD, RBAC, Deployment).
    Manifests(super::manifests::ManifestArgs),
}

pub async fn run_operator(args: OperatorArgs) -> anyhow::Result<ExitCode> {
    if let Some(OperatorCommand::Manifests(m)) = args.command {
        print!("{}", super::manifests::render(&m)?);
        return Ok(ExitCode::SUCCESS);
    }
    let profile = load_profile(&args.profile, None)?;
    let client = match std::env::var_os("KUBERNETES_SERVICE_HOST") {
        // In a pod: the in-cluster service account.
        Some(_) => kube::Client::try_default().await?,
        None => crate::provision::kube::client::for_profile(&profile.profile).await?,
    };
    crate::provision::kube::install_crd(&client).await?;
    let ctx = crate::reconcile::Context::new(client, profile.profile.clone()).with(args.resync, Duration::from_secs(2));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if let Some(addr) = args.listen {
        use anyhow::Context as _;
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let mut stopped = stopped.clone();
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        tokio::spawn(crate::reconcile::metrics::serve(listener, ctx.metrics.clone(), shutdown));
        eprintln!("nexus-dev operator: /healthz, /readyz and /metrics on http://{addr}");
    }
    let scope = args.namespace.as_deref().map(|n| format!("namespace {n}")).unwrap_or("every namespace".into());
    eprintln!("nexus-dev operator: reconciling NexusAICapability in {scope} (profile {})", profile.profile.name);
    crate::reconcile::controller::run_in(ctx, args.namespace.as_deref(), crate::session::shutdown_signal()).await;
    let _ = stop.send(true);
    eprintln!("nexus-dev operator: stopped");
    Ok(ExitCode::SUCCESS)
}
