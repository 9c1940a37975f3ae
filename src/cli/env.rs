//! The environment commands: `up`, `down`, `doctor`, `logs`, and the hidden `daemon`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::output::Output;
use crate::daemon::protocol::{self, CapabilityStatus, Request};
use crate::daemon::{self, Daemon, Paths};
use crate::env::ProjectId;
use crate::env::preflight::Check;
use crate::session::{self, Progress, Session, StepRow};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Profile (default: the environment's, else the project file's `profile`).
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
    /// The project environment (nexus-dev.yaml `environments:`): its settings layered under
    /// each spec's, its name the specs' `environment`, its profile the default profile.
    #[arg(long = "env", value_name = "NAME", env = crate::input::settings::ENVIRONMENT_ENV)]
    pub environment: Option<String>,
    /// Keep the daemon attached to this terminal (for CI); Ctrl-C stops it.
    #[arg(long)]
    pub foreground: bool,
    /// Return once the environment is up instead of going on to watch mode (which rebuilds and
    /// redeploys the project file's `components` on every save, until Ctrl-C).
    #[arg(long)]
    pub no_watch: bool,
    /// In watch mode, how long a rollout may take before it is reported as failed.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    pub rollout_timeout: Duration,
    /// How long to wait for every capability to be Running.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Load the project file's `seed:` data over what is there (by default, an item, object,
    /// parameter or secret that exists, or that someone changed, is kept).
    #[arg(long)]
    pub reseed: bool,
    /// `text` (progress on stderr), or `json` or `yaml` (a summary on stdout).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also delete the KinD cluster, the volumes (emulator and registry data) and the daemon's state.
    #[arg(long)]
    pub purge: bool,
    /// With --purge: delete the environment this project shares with the machine's other
    /// projects even though they still use it (it names them).
    #[arg(long, requires = "purge")]
    pub force: bool,
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
    /// The project environment (nexus-dev.yaml `environments:`): its settings layered under
    /// each spec's, its name the specs' `environment`, its profile the default profile.
    #[arg(long = "env", value_name = "NAME", env = crate::input::settings::ENVIRONMENT_ENV)]
    pub environment: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Capability (capabilityName); all when omitted.
    pub capability: Option<String>,
    /// Component: backend or frontend; both when omitted.
    pub component: Option<String>,
    /// Follow the logs.
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The project's directory.
    #[arg(long)]
    pub project_dir: PathBuf,
    #[arg(short = 'p', long)]
    pub profile: String,
    #[arg(long = "env")]
    pub environment: Option<String>,
}

pub(super) fn session(profile: Option<&str>, environment: Option<&str>) -> anyhow::Result<Session> {
    Ok(Session::discover(&std::env::current_dir()?, profile, environment)?)
}

/// Prints what a session does: steps and warnings on stderr, for people (`text`); what stops
/// `up` always.
pub(super) struct Printer {
    pub(super) text: bool,
}

impl Progress for Printer {
    fn begin(&self, project: &str, capabilities: usize, profile: &str) {
        if self.text {
            eprintln!("nexus-dev up: project {project} ({capabilities} capabilities), profile {profile}");
        }
    }

    fn step(&self, row: &StepRow) {
        if self.text {
            eprintln!("  ✓ {:<20} {:<40} {:>6} ms", row.step, row.result, row.ms);
        }
    }

    fn step_failed(&self, step: &str, ms: u128) {
        if self.text {
            eprintln!("  ✗ {step:<20} failed after {ms} ms");
        }
    }

    fn check(&self, c: &Check) {
        if c.blocks() {
            eprintln!("  ✗ {}: {}", c.name, c.detail);
            if let Some(f) = &c.fix {
                eprintln!("      fix: {f}");
            }
        } else if self.text {
            let fix = c.fix.as_ref().map(|f| format!(" (fix: {f})")).unwrap_or_default();
            eprintln!("  ! {}: {}{fix}", c.name, c.detail);
        }
    }

    fn warning(&self, what: &str, detail: &str, fix: &str) {
        if self.text {
            eprintln!("  ! {what}: {detail}\n      fix: {fix}");
        }
    }

    fn event(&self, e: &crate::watch::Event) {
        super::watch::print_event(e, Output::Text);
    }
}

pub async fn run_up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let text = args.output.is_text();
    let s = session(args.profile.as_deref(), args.environment.as_deref())?;
    let options = session::up::Options {
        foreground: args.foreground,
        rollout_timeout: args.rollout_timeout,
        timeout: args.timeout,
        reseed: args.reseed,
    };
    let up = match session::up::up(&s, &options, &Printer { text }).await {
        Ok(up) => up,
        // What the user reads: the failure and its hint, with the steps above it.
        Err(e @ (session::Error::Images(_) | session::Error::NotRunning { .. })) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let report = &up.report;
    let components = &s.project.project.components;
    let watching = !args.no_watch && !report.failed() && !components.is_empty();
    match args.output {
        // Watch mode's events follow one per line, so the summary is one line too.
        Output::Json if watching => args.output.item(report)?,
        Output::Json | Output::Yaml => args.output.document(report)?,
        Output::Text => {
            for c in &report.capabilities {
                println!("{} ({}) {}: {}", c.capability, c.environment, c.phase, c.message.as_deref().unwrap_or(""));
                for e in c.endpoints.iter().take(2) {
                    println!("  {:<8} {} (ingress)", e.name, e.url);
                }
                print_forwards(c);
            }
            if let Ok(ui) = crate::ui::record::read(&s.paths().ui_record()) {
                println!("dashboard: {} (`nexus-dev ui` opens it)", ui.url);
            }
            eprintln!("up in {} ms", report.ms);
        }
    }
    // The environment is up: another `up` may go on (watching is not bringing up).
    drop(up.lock);
    if watching {
        if text {
            let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
            eprintln!(
                "watch mode: {} ({}); Ctrl-C stops watching, {}",
                names.join(", "),
                s.project.file.display(),
                if up.foreground.is_some() {
                    "and the daemon"
                } else {
                    "the environment keeps running (`nexus-dev down` stops it)"
                }
            );
        }
        let options = crate::watch::project::Options {
            once: false,
            rollout_timeout: args.rollout_timeout,
            daemon: Some(s.paths().socket),
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let output = args.output;
        let profile = &s.profile.profile;
        crate::watch::project::run(
            &s.project,
            &up.specs,
            profile,
            up.client.clone(),
            options,
            move |e| super::watch::print_event(e, output),
            shutdown,
        )
        .await?;
    } else if !args.no_watch && components.is_empty() && text && std::io::stderr().is_terminal() {
        eprintln!(
            "watch mode: {} lists no `components` to rebuild on save (see README, \"Watch mode\")",
            s.project.file.display()
        );
    }
    if let Some(task) = up.foreground {
        if text && !watching {
            eprintln!("the daemon runs in the foreground; Ctrl-C stops it");
        }
        task.await??;
    }
    Ok(if report.failed() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The local URLs of a capability's port-forwards, one line each.
pub fn print_forwards(c: &CapabilityStatus) {
    for f in &c.forwards {
        println!("  {:<8} {} (port-forward to Service {})", f.component, f.url, f.service);
    }
}

pub async fn run_daemon(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let project = crate::input::project::discover(&args.project_dir)?;
    let profile = crate::input::profile::resolve(&args.profile, &project.dir)?;
    let id = ProjectId::from_dir(&project.dir);
    let paths = Paths::for_project(id.as_str());
    let lock = daemon::lock(&paths)?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let d =
        Arc::new(Daemon::new(project, id.as_str(), profile.profile, client, paths).in_environment(args.environment));
    d.run(&lock, crate::session::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_down(args: DownArgs) -> anyhow::Result<ExitCode> {
    let s = session(args.profile.as_deref(), None)?;
    for (mark, line) in
        session::down::down(&s, session::down::Options { purge: args.purge, force: args.force }).await?.lines
    {
        eprintln!("  {mark} {line}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_doctor(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let report =
        session::doctor::doctor(&std::env::current_dir()?, args.profile.as_deref(), args.environment.as_deref())
            .await?;
    let verdict = ["ready for `nexus-dev up`", "`nexus-dev up` cannot start until the ✗ items above are fixed"];
    super::output::checks_report(args.output, &report, &report.checks, report.ok, verdict)
}

pub async fn run_logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let paths = session(None, None)?.paths();
    let req = Request::Logs { capability: args.capability, component: args.component, follow: args.follow };
    protocol::call(&paths.socket, &req, |r| {
        if let Some(l) = &r.line {
            println!("{l}");
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `status` through the project's daemon, when one runs here.
pub async fn status_via_daemon() -> Option<anyhow::Result<Vec<CapabilityStatus>>> {
    let paths = session(None, None).ok()?.paths();
    if !daemon::running(&paths) {
        return None;
    }
    Some(protocol::status(&paths.socket).await.map_err(Into::into))
}
