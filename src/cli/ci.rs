//! `nexus-dev ci`: the integration-test harness (docs/ci.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::env::Printer;
use super::output::Output;
use crate::ci::{self, Reporter};
use crate::session::Session;

#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 the tests passed; 1 the tests failed; 2 usage or configuration error; \
                        3 the environment failed (not the tests); 4 a time budget ran out.\n\n\
                        The command gets the environment in its variables (AWS_ENDPOINT_URL, KUBECONFIG, \
                        NEXUS_<CAPABILITY>_…, NEXUS_DEV_ENV_FILE; see docs/ci.md). Example:\n  \
                        nexus-dev ci --junit report.xml -- pytest --junitxml \"$NEXUS_DEV_JUNIT\"")]
pub struct CiArgs {
    /// Profile (default: the environment's, else the project file's `profile`).
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
    /// The project environment (nexus-dev.yaml `environments:`): its settings layered under
    /// each spec's, its name the specs' `environment`, its profile the default profile.
    #[arg(long = "env", value_name = "NAME", env = crate::input::settings::ENVIRONMENT_ENV)]
    pub environment: Option<String>,
    /// The whole run; when it runs out the run snapshots, tears down and exits 4.
    #[arg(long, default_value = ci::defaults::TIMEOUT, value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Budget for bringing the environment up (cluster, containers, images, capabilities Running).
    #[arg(long, default_value = ci::defaults::UP_TIMEOUT, value_parser = humantime::parse_duration)]
    pub up_timeout: Duration,
    /// Budget for Jobs to complete once the environment is up.
    #[arg(long, default_value = ci::defaults::READY_TIMEOUT, value_parser = humantime::parse_duration)]
    pub ready_timeout: Duration,
    /// How long an image pull failure, a crash loop or a failed Pod may last before the run
    /// fails on it (exit 3).
    #[arg(long, default_value = ci::defaults::GRACE, value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// Write a JUnit XML report here: each phase and step a test case, with the command's own
    /// JUnit (written to $NEXUS_DEV_JUNIT) merged in.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Where the snapshot of a failed run goes (default: .nexus-dev/ci in the project).
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,
    /// Leave the environment up at the end.
    #[arg(long)]
    pub keep: bool,
    /// Tear down the project's environment first, so that nothing is reused.
    #[arg(long)]
    pub fresh: bool,
    /// `text` (progress on stderr), or `json` or `yaml` (the summary on stdout; the command's
    /// own output then goes to stderr).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The test command, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl Reporter for Printer {
    fn phase(&self, case: &ci::report::Case, left: Duration) {
        if !self.text {
            return;
        }
        let left = humantime::format_duration(Duration::from_secs(left.as_secs()));
        match &case.failure {
            None => eprintln!("● {:<60} {:>7} ms   ({left} left)", case.shown(), case.ms),
            Some(why) => eprintln!("✗ {} failed after {} ms: {why}", case.name, case.ms),
        }
    }
}

pub async fn run(args: CiArgs) -> anyhow::Result<ExitCode> {
    let session =
        match Session::discover(&std::env::current_dir()?, args.profile.as_deref(), args.environment.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(ci::Verdict::Usage.code()));
            }
        };
    let options = ci::Options {
        timeout: args.timeout,
        up_timeout: args.up_timeout,
        ready_timeout: args.ready_timeout,
        grace: args.grace,
        junit: args.junit,
        snapshot_dir: args.snapshot.unwrap_or_else(|| session.project.dir.join(".nexus-dev/ci")),
        keep: args.keep,
        fresh: args.fresh,
        command: args.command,
        command_stdout_to_stderr: !args.output.is_text(),
        daemon_in_process: false,
        environment: args.environment.clone(),
    };
    let text = args.output.is_text();
    if text {
        eprintln!(
            "nexus-dev ci: project {}, profile {}, timeout {}",
            session.id,
            session.profile.profile.name,
            humantime::format_duration(options.timeout)
        );
    }
    let summary = ci::run(session, options, std::sync::Arc::new(Printer { text })).await;
    args.output.document(&summary)?;
    if text {
        match &summary.message {
            None => eprintln!("passed in {:.1} s (run {})", summary.ms as f64 / 1000.0, summary.run_id),
            Some(m) => eprintln!("{} (exit {}): {m}", summary.verdict, summary.exit_code),
        }
        if let Some(j) = &summary.junit {
            eprintln!("junit: {}", j.display());
        }
        if let Some(s) = &summary.snapshot {
            eprintln!("snapshot: {}", s.display());
        }
    }
    Ok(ExitCode::from(summary.exit_code))
}
