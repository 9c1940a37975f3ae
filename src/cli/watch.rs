//! `watch`: rebuild and redeploy each component on every save (issue #7), from the project file
//! (`nexus-dev.yaml`). Progress goes to stderr; `-o json` adds one JSON event per line on stdout.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::apply::Output;
use crate::input::spec::LoadedSpec;
use crate::model::profile::Profile;
use crate::model::project::LoadedProject;
use crate::watch::{Engine, Event, Settings, Summary, event, setup};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Profile (default: the project file's `profile`).
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
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
    let project = crate::input::project::discover(&cwd)?;
    let profile_name = crate::input::settings::profile_name(args.profile.as_deref(), Some(&project));
    let profile = crate::input::profile::resolve(&profile_name, &project.dir)?.profile;
    let sources = crate::input::spec::read_sources(&project.spec_paths())?;
    let specs = crate::input::spec::load_specs(&sources)?;
    if project.project.components.is_empty() {
        anyhow::bail!(
            "{} lists no components to watch\n  hint: add `components:` (see README)",
            project.file.display()
        );
    }
    let kube = crate::provision::kube::client::for_profile(&profile).await?;
    let options = Options { once: args.once, rollout_timeout: args.rollout_timeout, json: args.output == Output::Json };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let summary = watch_project(&project, &specs, &profile, kube, options, shutdown).await?;
    Ok(if args.once && summary.failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// How [`watch_project`] runs: `watch`'s flags, and what `up` passes when it goes on watching.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub once: bool,
    pub rollout_timeout: std::time::Duration,
    /// One JSON event per line on stdout, besides the progress on stderr.
    pub json: bool,
}

/// Watches the project's components until `shutdown` (or, with `once`, builds each once):
/// progress on stderr, JSON events on stdout when asked.
pub async fn watch_project(
    project: &LoadedProject,
    specs: &[LoadedSpec],
    profile: &Profile,
    kube: kube::Client,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Summary> {
    let docker = bollard::Docker::connect_with_defaults()
        .context("cannot connect to the Docker Engine\n  hint: is Docker running? check `docker info`")?;
    let components = setup::components(project, specs, profile, &kube)?;
    let settings = Settings {
        debounce: project.debounce(),
        delivery: setup::delivery(profile),
        rollout_timeout: options.rollout_timeout,
        once: options.once,
        ..Settings::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let json = options.json;
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            eprintln!("{}", event::human(&e));
            if json && let Ok(line) = serde_json::to_string(&e) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
    });
    let engine = Engine::new(docker, Some(kube), settings, components, tx);
    let result = engine.run(shutdown).await;
    let _ = printer.await;
    Ok(result?)
}
