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
    match args.output {
        Output::Json | Output::Yaml => args.output.document(&report)?,
        Output::Text => {
            println!("scan of profile {}:", report.profile);
            super::output::print_checks(&report.checks);
            println!(
                "{}",
                if report.ok {
                    "nothing blocks capabilities on this cluster"
                } else {
                    "capabilities cannot run here until the ✗ items above are fixed"
                }
            );
        }
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
