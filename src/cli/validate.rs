use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::output::Output;
use super::{SpecArgs, load_specs};
use crate::input::diag::Diagnostics;
use crate::input::profile::ProfileError;
use crate::input::spec::LoadError;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    /// Also validate this profile (name or path).
    #[arg(short = 'p', long, value_name = "NAME|PATH")]
    pub profile: Option<String>,
    /// `text` for people, `json` or `yaml` for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let specs = load_specs(&args.specs);
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let profile = args.profile.as_ref().map(|p| crate::input::profile::resolve(p, &cwd));
    let mut problems = Diagnostics::default();
    let mut fatal = Vec::new();
    match &specs {
        Ok(_) => {}
        Err(LoadError::Invalid(d)) => problems.0.extend(d.0.iter().cloned()),
        Err(e) => fatal.push(e.to_string()),
    }
    match &profile {
        None | Some(Ok(_)) => {}
        Some(Err(ProfileError::Invalid(d))) => problems.0.extend(d.0.iter().cloned()),
        Some(Err(e)) => fatal.push(e.to_string()),
    }
    let valid = problems.is_empty() && fatal.is_empty();
    match args.output {
        Output::Json | Output::Yaml => {
            let capabilities: Vec<_> = specs
                .as_ref()
                .map(|s| {
                    s.iter()
                        .map(|s| json!({"file": s.doc.source.name, "line": s.doc.root.pos.line, "capabilityName": s.spec().capability_name, "environment": s.spec().environment}))
                        .collect()
                })
                .unwrap_or_default();
            let problems: Vec<_> = problems
                .iter()
                .map(|d| json!({"file": d.file, "line": d.pos.line, "column": d.pos.col, "path": d.path, "message": d.message, "hint": d.hint}))
                .chain(fatal.iter().map(|m| json!({"message": m})))
                .collect();
            args.output.document(&json!({"valid": valid, "capabilities": capabilities, "problems": problems}))?;
        }
        Output::Text => {
            for f in &fatal {
                eprintln!("error: {f}");
            }
            if !problems.is_empty() {
                eprintln!("{problems}");
            }
            if let (true, Ok(specs)) = (valid, &specs) {
                for s in specs {
                    eprintln!("ok  {}  {} ({})", s.origin(), s.spec().capability_name, s.spec().environment);
                }
                if let Some(Ok(p)) = &profile {
                    eprintln!("ok  {}  profile {}", p.origin, p.profile.name);
                }
            }
        }
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
