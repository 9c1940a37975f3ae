//! `nexus-dev operator`: the controller process itself, and its life in a cluster (issue 19):
//! `image`, `manifests`, `install`, `upgrade`, `status`, `uninstall`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::ProfileArgs;
use super::output::Output;
use crate::operator::{self, Manifests, image};
use crate::reconcile::lease;

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
    /// Build the operator's image (this binary on a minimal base, non-root, OCI labels) through
    /// the Docker Engine; `--push REGISTRY` pushes it and prints its digest.
    Image(ImageArgs),
    /// Print the manifests that run the operator in a cluster (namespace, CRD, RBAC, Deployment
    /// with probes, Service for /metrics).
    Manifests(ManifestArgs),
    /// Install the operator in the profile's cluster and wait until it is ready.
    Install(InstallArgs),
    /// Roll the operator out at a new image; the CRD only in backward-compatible ways.
    Upgrade(InstallArgs),
    /// The operator's version, digest, readiness, leader, and the capabilities by phase.
    Status(StatusArgs),
    /// Remove the operator; capabilities and their AWS resources stay (`--full`: the CRD too).
    Uninstall(UninstallArgs),
    /// The operator's IAM role (NexusAIOperatorRole): IRSA trust for its service account and a
    /// policy exactly as broad as its calls. Shows the plan; `--apply` creates or corrects it.
    Role(RoleArgs),
}

#[derive(Debug, Args)]
pub struct RoleArgs {
    /// Create the role, or put its trust, policy and tags back to the plan.
    #[arg(long)]
    pub apply: bool,
    /// The operator's namespace (its service account's, in the trust).
    #[arg(long, default_value = operator::NAMESPACE)]
    pub namespace: String,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Push to this registry (`REGISTRY/nexus-dev-operator`), such as localhost:5001 or an ECR
    /// registry; without it the image stays in the local Docker Engine.
    #[arg(long, value_name = "REGISTRY")]
    pub push: Option<String>,
    #[command(flatten)]
    pub build: BuildArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args, Clone)]
pub struct BuildArgs {
    /// The base image (a glibc base: the binary is linked against it).
    #[arg(long, default_value = image::DEFAULT_BASE, env = "NEXUS_DEV_OPERATOR_BASE")]
    pub base: String,
    /// An extra image label, KEY=VALUE. Repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
    pub labels: Vec<(String, String)>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Operator image.
    #[arg(long, default_value = concat!("ghcr.io/nexus-dev/nexus-dev:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    /// Namespace of the operator.
    #[arg(long, default_value = operator::NAMESPACE)]
    pub namespace: String,
    /// IAM role of the operator (IRSA), such as arn:aws:iam::ACCOUNT:role/NexusAIOperatorRole.
    #[arg(long)]
    pub role_arn: Option<String>,
    /// Replicas: one reconciles, the others stand by (a Lease decides).
    #[arg(long, default_value_t = 1)]
    pub replicas: i32,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The operator image, by digest. Default: built from this binary and pushed to the
    /// profile's registry (local profiles).
    #[arg(long)]
    pub image: Option<String>,
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// How long to wait for every replica to be ready.
    #[arg(long, default_value = "180s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, default_value = operator::NAMESPACE)]
    pub namespace: String,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Also remove the CRD and the operator's namespace, only when no capability is left.
    #[arg(long)]
    pub full: bool,
    /// With --full: delete every capability first (their deletionPolicy decides what happens to
    /// their AWS resources) and wait for them to go.
    #[arg(long, requires = "full")]
    pub delete_capabilities: bool,
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub async fn run(args: OperatorArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => run_controller(args.profile, args.resync, args.namespace, args.listen).await,
        Some(OperatorCommand::Image(a)) => run_image(a).await,
        Some(OperatorCommand::Manifests(a)) => {
            print!("{}", operator::manifests::yaml(&manifests(&a.target, a.image)?)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(OperatorCommand::Install(a)) => run_install(a, false).await,
        Some(OperatorCommand::Upgrade(a)) => run_install(a, true).await,
        Some(OperatorCommand::Status(a)) => run_status(a).await,
        Some(OperatorCommand::Role(a)) => run_role(a).await,
        Some(OperatorCommand::Uninstall(a)) => {
            let profile = super::load_profile(&a.target.profile, None)?;
            let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
            let how =
                operator::Uninstall { full: a.full, delete_capabilities: a.delete_capabilities, timeout: a.timeout };
            let m = manifests(&a.target, String::new())?;
            for line in operator::uninstall(&client, &m, how).await? {
                eprintln!("  ✓ {line}");
            }
            if !a.full {
                eprintln!("  capabilities, their AWS resources and the CRD are kept; `--full` removes the CRD too");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn manifests(t: &TargetArgs, image: String) -> anyhow::Result<Manifests> {
    let profile = super::load_profile(&t.profile, None)?;
    Ok(Manifests {
        image,
        namespace: t.namespace.clone(),
        role_arn: t.role_arn.clone(),
        profile: profile.profile,
        replicas: t.replicas,
    })
}

async fn build(b: &BuildArgs, repository: String, push: bool) -> anyhow::Result<image::Image> {
    let docker = bollard::Docker::connect_with_defaults()?.negotiate_version().await?;
    let req = image::Request {
        binary: std::env::current_exe()?,
        base: b.base.clone(),
        repository,
        labels: b.labels.iter().cloned().collect::<BTreeMap<_, _>>(),
    };
    eprintln!("building the operator image on {} …", req.base);
    Ok(image::build_image(&docker, &req, push).await?)
}

async fn run_image(a: ImageArgs) -> anyhow::Result<ExitCode> {
    let repository = match &a.push {
        Some(registry) => format!("{}/{}", registry.trim_end_matches('/'), image::REPOSITORY),
        None => image::REPOSITORY.to_owned(),
    };
    let built = build(&a.build, repository, a.push.is_some()).await?;
    match a.output {
        Output::Text => println!("{}", built.reference.as_deref().unwrap_or(&built.tag)),
        other => other.document(&built)?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_install(a: InstallArgs, upgrade: bool) -> anyhow::Result<ExitCode> {
    let profile = super::load_profile(&a.target.profile, None)?;
    let image = match a.image.clone() {
        Some(i) => i,
        None => {
            let registry = profile.profile.registry.as_ref().map(|r| r.host.clone()).with_context(|| {
                format!("profile {} has no local registry to push the operator image to; give --image REPOSITORY@sha256:… (see `nexus-dev operator image --push`)", profile.profile.name)
            })?;
            let built = build(&a.build, format!("{registry}/{}", image::REPOSITORY), true).await?;
            built.reference.context("the pushed image has no digest")?
        }
    };
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let m = Manifests { image, ..manifests(&a.target, String::new())? };
    eprintln!("{} the operator in {} at {} …", if upgrade { "upgrading" } else { "installing" }, m.namespace, m.image);
    let applied = operator::install(&client, &m, upgrade, a.timeout).await?;
    match a.output {
        Output::Text => {
            for o in &applied.objects {
                eprintln!("  ✓ {o}");
            }
            eprintln!("operator ready ({}) at {} in {} ms", applied.ready, applied.image, applied.ms);
        }
        other => other.document(&applied)?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_role(a: RoleArgs) -> anyhow::Result<ExitCode> {
    let profile = super::load_profile(&a.profile, None)?;
    let (role, done) = operator::iam::ensure(&profile.profile, &a.namespace, a.apply).await?;
    let arn = done.outputs.iter().find(|(k, _)| *k == "arn").map(|(_, v)| v.clone()).unwrap_or(role.arn.clone());
    if !a.output.is_text() {
        a.output.document(&serde_json::json!({
            "role": role,
            "outcome": done.outcome.to_string(),
            "changes": done.changes,
            "arn": arn,
            "applied": a.apply,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if a.apply { "" } else { "would be " };
    println!("iam.role {}: {verb}{}", operator::iam::ROLE, done.outcome);
    for c in &done.changes {
        println!("  ~ {c}");
    }
    println!("  trust: {} (audience {}) via {}", role.trust.subject, role.trust.audience, role.trust.issuer);
    for st in &role.statements {
        println!("  allow {} on {}", st.actions.join(", "), st.resources.join(", "));
    }
    if a.apply {
        println!(
            "{arn}\n  hint: `nexus-dev operator install --role-arn {arn}` annotates the operator's service account"
        );
    } else {
        println!("  (a plan: `--apply` makes it so)");
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let profile = super::load_profile(&a.profile, None)?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let s = operator::status(&client, &a.namespace).await?;
    if !a.output.is_text() {
        a.output.document(&s)?;
        return Ok(if s.installed { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    if !s.installed {
        println!("the operator is not installed in {} (`nexus-dev operator install`)", s.namespace);
        return Ok(ExitCode::FAILURE);
    }
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("namespace  {}", s.namespace);
    println!("version    {}", or_none(&s.version));
    println!("image      {}", or_none(&s.image));
    for r in &s.running {
        println!("running    {r}");
    }
    println!("ready      {}", or_none(&s.ready));
    println!("leader     {}", s.leader.clone().unwrap_or_else(|| "nobody holds the lease".into()));
    let phases: Vec<String> = s.phases.iter().map(|(p, n)| format!("{n} {p}")).collect();
    println!("capabilities {}", if phases.is_empty() { "none".into() } else { phases.join(", ") });
    for e in &s.errors {
        println!("error      {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The controller, writing only while it holds the operator's Lease.
async fn run_controller(
    profile: ProfileArgs,
    resync: Duration,
    namespace: Option<String>,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let profile = super::load_profile(&profile, None)?;
    let client = match std::env::var_os("KUBERNETES_SERVICE_HOST") {
        // In a pod: the in-cluster service account.
        Some(_) => kube::Client::try_default().await?,
        None => crate::provision::kube::client::for_profile(&profile.profile).await?,
    };
    let ctx =
        crate::reconcile::Context::new(client.clone(), profile.profile.clone()).with(resync, Duration::from_secs(2));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if let Some(addr) = listen {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let mut stopped = stopped.clone();
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        tokio::spawn(crate::reconcile::metrics::serve(listener, ctx.metrics.clone(), shutdown));
        eprintln!("nexus-dev operator: /healthz, /readyz and /metrics on http://{addr}");
    }
    // One writer: the replica holding the Lease (reconcile::lease).
    let lease_ns = crate::input::settings::lease_namespace();
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| format!("{}/{}", hostname(), std::process::id()));
    let claim = lease::Claim::operator(&lease_ns, &identity);
    crate::provision::kube::ensure_namespace(&client, &lease_ns).await?;
    let metrics = ctx.metrics.clone();
    let leadership = lease::acquire(&client, &claim, |holder| {
        eprintln!("nexus-dev operator: waiting: the lease {lease_ns}/{} is held by {holder}", lease::OPERATOR);
        metrics.set_standby(holder);
    })
    .await?;
    eprintln!("nexus-dev operator: {identity} holds the lease {lease_ns}/{}", lease::OPERATOR);
    crate::provision::kube::install_crd(&client).await?;
    let scope = namespace.as_deref().map(|n| format!("namespace {n}")).unwrap_or("every namespace".into());
    eprintln!("nexus-dev operator: reconciling NexusAICapability in {scope} (profile {})", profile.profile.name);
    let mut lost = leadership.lost.clone();
    let lost_it = async move {
        let _ = lost.wait_for(|l| *l).await;
    };
    let shutdown = async move {
        tokio::select! {
            _ = crate::session::shutdown_signal() => {}
            _ = lost_it => {}
        }
    };
    crate::reconcile::controller::run_in(ctx, namespace.as_deref(), shutdown).await;
    let _ = stop.send(true);
    let was_lost = *leadership.lost.borrow();
    drop(leadership);
    lease::release(&client, &claim).await;
    if was_lost {
        eprintln!("nexus-dev operator: lost the lease; stopped writing (a restart waits for it again)");
        return Ok(ExitCode::FAILURE);
    }
    eprintln!("nexus-dev operator: stopped");
    Ok(ExitCode::SUCCESS)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}
