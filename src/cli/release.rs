//! `nexus-dev release`: the record of what a promotion sends (issue 14): per capability, the
//! spec's hash, the plan's, and each workload's image by digest, as it runs in the profile's
//! cluster. Written under `.nexus-dev/releases/` of the project (or of this directory).

use std::process::ExitCode;

use clap::Args;

use super::output::Output;
use super::{ProfileArgs, SpecArgs, load_profile, load_specs};
use crate::promote::release;

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// `text`: the path of each record; `json` or `yaml`: the records, with their paths.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(serde::Serialize)]
struct Written {
    path: std::path::PathBuf,
    #[serde(flatten)]
    release: release::Release,
}

/// `.nexus-dev/releases/` of the project around the current directory, or of the current
/// directory: where release records and the promotion history are kept.
pub(super) fn releases_dir() -> std::io::Result<std::path::PathBuf> {
    let cwd = std::env::current_dir()?;
    let root = crate::input::project::discover(&cwd).map(|p| p.dir).unwrap_or(cwd);
    Ok(release::dir_of(&root))
}

pub async fn run(args: ReleaseArgs) -> anyhow::Result<ExitCode> {
    let specs = load_specs(&args.specs)?;
    let profile = load_profile(&args.profile, args.specs.environment.as_deref())?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let dir = releases_dir()?;
    let mut written = Vec::new();
    for s in &specs {
        let r = release::make(&s.cr, &profile.profile, &client).await?;
        let path = r.write(&dir)?;
        written.push(Written { path, release: r });
    }
    match args.output {
        Output::Text => written.iter().for_each(|w| println!("{}", w.path.display())),
        _ => args.output.documents(&written)?,
    }
    Ok(ExitCode::SUCCESS)
}
