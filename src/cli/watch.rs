//! `watch`: rebuild and redeploy each component on every save (issue #7), from the project file
//! (`nexus-dev.yaml`). Progress goes to stderr; `-o json` adds one JSON event per line on stdout
//! (`-o yaml`, one YAML document each).

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::output::Output;
use crate::watch::project::{self, Options};
use crate::watch::{Event, event};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Profile (default: the project file's `profile`).
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
    /// The project environment (nexus-dev.yaml `environments:`): its settings layered under
    /// each spec's, its name the specs' `environment`, its profile the default profile.
    #[arg(long = "env", value_name = "NAME", env = crate::input::settings::ENVIRONMENT_ENV)]
    pub environment: Option<String>,
    /// Build and deploy every component once, then exit (non-zero if any failed).
    #[arg(long)]
    pub once: bool,
    /// How long a rollout may take before it is reported as failed, such as 90s or 5m.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    pub rollout_timeout: std::time::Duration,
    /// `text` for people (stderr); `json` adds one event per line on stdout.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub async fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let session = crate::session::Session::discover(&cwd, args.profile.as_deref(), args.environment.as_deref())?;
    let specs = session.specs()?;
    let daemon = Some(session.paths().socket);
    let crate::session::Session { project, profile, .. } = session;
    let profile = profile.profile;
    if project.project.components.is_empty() {
        anyhow::bail!(
            "{} lists no components to watch\n  hint: add `components:` (see README)",
            project.file.display()
        );
    }
    let kube = crate::provision::kube::client::for_profile(&profile).await?;
    let options = Options { once: args.once, rollout_timeout: args.rollout_timeout, daemon };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let output = args.output;
    let summary =
        project::run(&project, &specs, &profile, kube, options, move |e| print_event(e, output), shutdown).await?;
    Ok(if args.once && summary.failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Prints a watch event: a line on stderr for people, and for scripts one JSON line (or YAML
/// document) on stdout.
pub fn print_event(e: &Event, output: Output) {
    eprintln!("{}", event::human(e));
    let _ = output.item(e);
}
