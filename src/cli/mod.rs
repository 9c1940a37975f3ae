//! The command line: clap definitions and dispatch. Errors become messages with a hint here,
//! and nowhere else.

mod apply;
mod ci;
mod cluster;
mod crd;
mod env;
mod get;
mod operator;
mod output;
mod plan;
mod promote;
mod release;
mod scan;
mod status;
mod ui;
mod validate;
mod wait;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::input::profile::LoadedProfile;
use crate::input::spec::{LoadError, LoadedSpec};

#[derive(Debug, Parser)]
#[command(
    name = "nexus-dev",
    version,
    about = "Local-first development environment for NexusAICapability services on Kubernetes and AWS",
    long_about = "nexus-dev gives you, on your machine, the NexusAICapability that runs on EKS: a \
                  Kubernetes cluster, a local image registry and an AWS emulator, provisioned \
                  exactly as the production operator does it.\n\n\
                  Start with `nexus-dev validate -f SPEC` and `nexus-dev plan -f SPEC --profile local`.",
    propagate_version = true
)]
pub struct Cli {
    /// More log output (-v: debug, -vv: everything). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the NexusAICapability CustomResourceDefinition as YAML (for `kubectl apply -f -`).
    Crd,
    /// Check capability specs (and a profile) without touching anything.
    Validate(validate::ValidateArgs),
    /// Show every AWS and Kubernetes resource a capability needs for a profile.
    Plan(plan::PlanArgs),
    /// Create or converge a capability: its AWS resources, then the custom resource and its
    /// workloads in the profile's cluster; reports each resource (`--wait` for Running).
    Apply(apply::ApplyArgs),
    /// Show what `apply` would change, without changing anything.
    Diff(apply::DiffArgs),
    /// Delete a capability's resources, honouring its deletionPolicy (Retain deletes nothing).
    Delete(apply::DeleteArgs),
    /// Bring the environment up: cluster, registry, AWS emulator, the daemon, and every
    /// capability of the project Running; then watch mode for the project's components
    /// (`--no-watch` returns at once). A second `up` changes nothing.
    Up(env::UpArgs),
    /// Stop what `up` started: the project's daemon, and the environment it shares with the
    /// machine's other projects (emulator, registry) when none of them is up; `--purge` also
    /// deletes the cluster and the volumes when no other project has them. Never touches what
    /// nexus-dev did not create.
    Down(env::DownArgs),
    /// Check every prerequisite of `up`, with the exact fix for each problem.
    Doctor(env::DoctorArgs),
    /// Check the profile's cluster and AWS account for what capabilities need (API server,
    /// nodes, OIDC issuer and its IAM provider, ingress class, registry, AWS identity, the
    /// operator, permissions), with the exact fix for each problem; exits non-zero on any ✗.
    Scan(scan::ScanArgs),
    /// Stream the logs of a capability's workloads (through the project's daemon).
    Logs(env::LogsArgs),
    /// The project's daemon (started by `up`).
    #[command(hide = true)]
    Daemon(env::DaemonArgs),
    /// Phase and progress of the capabilities in the cluster, or of one (`status NS/NAME`): steps
    /// done, resources ready, ready replicas; `-w` follows them (the seed's `monitor`).
    Status(status::StatusArgs),
    /// The live dashboard of the project (served by its daemon on 127.0.0.1): print its URL,
    /// with the session token, and open a browser unless `--no-open`.
    Ui(ui::UiArgs),
    /// The dashboard's objects, from the project's daemon: `get` (capabilities), `get steps`,
    /// `get resources`, `get graph` [NAME]; tables, or the API's objects with `-o json`.
    Get(get::GetArgs),
    /// Wait until capabilities meet a condition the dashboard shows (`--for phase=Running`,
    /// `ready`, `step=Backend`, `resource=KIND/NAME`, `delete`), following its stream; exits
    /// non-zero on a timeout or a settled failure, naming what was not met.
    Wait(wait::WaitArgs),
    /// Check a capability end to end: AWS resources as planned, workloads available, services
    /// with endpoints, IRSA wired; exits non-zero on any failure.
    Verify(cluster::VerifyArgs),
    /// Run the controller (in a cluster, or against the profile's), one writer at a time (a
    /// Lease); `operator image|install|upgrade|status|uninstall|manifests` manage it in a cluster.
    Operator(operator::OperatorArgs),
    /// The integration-test harness for CI: bring the project's environment up, wait until it
    /// is ready, run the test command with the environment in its variables, report (JUnit,
    /// JSON), snapshot on failure, tear down. Exit 0 passed, 1 tests failed, 2 usage, 3
    /// environment, 4 timeout.
    Ci(ci::CiArgs),
    /// Rebuild and redeploy each component of the project file (nexus-dev.yaml) on every save,
    /// with live sync; build errors are shown and the running version is kept.
    Watch(watch::WatchArgs),
    /// Record what a promotion sends: each capability's spec hash, plan hash and workload
    /// images by digest, as they run in the profile's cluster (`.nexus-dev/releases/`).
    Release(release::ReleaseArgs),
    /// Promote one capability to an EKS profile: the same spec and the same image digests.
    /// Checks the target's identity first, shows one plan (images to copy, AWS and Kubernetes
    /// changes), asks, copies the images by digest, applies through the reconciler, verifies,
    /// and records the promotion beside the release records.
    Promote(promote::PromoteArgs),
    /// Print shell completions: `nexus-dev completions bash > /etc/bash_completion.d/nexus-dev`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `-f` inputs shared by every command that reads specs.
#[derive(Debug, Args, Clone)]
pub struct SpecArgs {
    /// Capability spec: a YAML file, a directory of them, or `-` for stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
    /// The project environment (nexus-dev.yaml `environments:`): its settings are layered under
    /// each spec's, it becomes the specs' `environment`, and its profile the default profile.
    #[arg(long = "env", value_name = "NAME", env = crate::input::settings::ENVIRONMENT_ENV)]
    pub environment: Option<String>,
}

/// `--profile`, shared by commands that target somewhere.
#[derive(Debug, Args, Clone)]
pub struct ProfileArgs {
    /// Profile name (profiles/NAME.yaml in this project, or a built-in: local (MiniStack),
    /// local-localstack, local-moto, eks-staging, eks-prod) or the path of a profile file. Default: the project file's
    /// `profile` when run inside a project, else `local`.
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
}

impl Command {
    /// A process that runs unattended, logging to a file: the daemon, the operator's controller.
    fn is_service(&self) -> bool {
        matches!(self, Command::Daemon(_) | Command::Operator(operator::OperatorArgs { command: None, .. }))
    }
}

/// Runs the program; the exit code says whether it worked (0), failed (1) or was misused (2).
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::init_tls();
    crate::logging::init(cli.verbose, cli.quiet, cli.command.is_service());
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Crd => crd::run(),
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::run_apply(args).await,
        Command::Diff(args) => apply::run_diff(args).await,
        Command::Delete(args) => apply::run_delete(args).await,
        Command::Up(args) => env::run_up(args).await,
        Command::Down(args) => env::run_down(args).await,
        Command::Doctor(args) => env::run_doctor(args).await,
        Command::Scan(args) => scan::run(args).await,
        Command::Logs(args) => env::run_logs(args).await,
        Command::Daemon(args) => env::run_daemon(args).await,
        Command::Status(args) => status::run_status(args).await,
        Command::Ui(args) => ui::run(args).await,
        Command::Get(args) => get::run(args).await,
        Command::Wait(args) => wait::run(args).await,
        Command::Verify(args) => cluster::run_verify(args).await,
        Command::Operator(args) => operator::run(args).await,
        Command::Watch(args) => watch::run(args).await,
        Command::Ci(args) => ci::run(args).await,
        Command::Release(args) => release::run(args).await,
        Command::Promote(args) => promote::run(args).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "nexus-dev", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads and validates the specs of `-f`, printing problems the way users read them; inside a
/// project, its layers (`defaults`, `environments`) are merged in.
pub(crate) fn load_specs(args: &SpecArgs) -> Result<Vec<LoadedSpec>, LoadError> {
    let sources = crate::input::spec::read_sources(&args.files)?;
    let mut specs = crate::input::spec::load_specs(&sources)?;
    let environment = args.environment.as_deref();
    match project_here() {
        Ok(Some(p)) => crate::input::layers::apply(&mut specs, &p, environment)?,
        Ok(None) => {
            if let Some(name) = environment {
                return Err(LoadError::NoProject { name: name.to_owned() });
            }
        }
        Err(crate::input::project::ProjectError::Invalid(d)) => return Err(LoadError::Invalid(d)),
        Err(crate::input::project::ProjectError::Read(e)) => return Err(e),
        // An untrusted project file is not used; `load_profile` says why.
        Err(_) => {}
    }
    Ok(specs)
}

/// The project around the current directory: `None` outside one; a project file that is there
/// but broken is an error, not a silent "no project" (issue #11).
fn project_here() -> Result<Option<crate::model::project::LoadedProject>, crate::input::project::ProjectError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    match crate::input::project::discover(&cwd) {
        Ok(p) => Ok(Some(p)),
        Err(crate::input::project::ProjectError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The profile of `--profile`, else of the project environment `environment`, else the
/// project's, else `local`.
pub(crate) fn load_profile(args: &ProfileArgs, environment: Option<&str>) -> anyhow::Result<LoadedProfile> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    // Inside a project, its profile is the default, as for `up` (issue #11: `status` without a
    // daemon used `local` whatever the project said).
    let project = match args.profile {
        Some(_) => None,
        None => project_here()?,
    };
    let name = crate::input::settings::profile_name(args.profile.as_deref(), project.as_ref(), environment);
    let p = crate::input::profile::resolve(&name, &cwd)?;
    tracing::debug!(profile = %p.profile.name, origin = %p.origin, "profile loaded");
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
