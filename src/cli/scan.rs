//! `scan`: whether the profile's cluster and AWS account have what capabilities need.

use std::process::ExitCode;

use clap::Args;

use super::output::Output;
use super::{ProfileArgs, load_profile};

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub async fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let profile = load_profile(&args.profile, None)?;
    let report = crate::session::scan::scan(&profile.profile).await;
    if args.output.is_text() {
        println!("scan of profile {}:", report.profile);
    }
    let verdict = [
        "nothing blocks capabilities on this cluster",
        "capabilities cannot run here until the ✗ items above are fixed",
    ];
    super::output::checks_report(args.output, &report, &report.checks, report.ok, verdict)
}
