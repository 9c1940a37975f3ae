//! `doctor`: what `up` needs, checked without changing anything, each problem with its fix.

use serde::Serialize;

use super::{Error, Result};
use crate::env::ProjectId;
use crate::env::preflight::{self, Check, GatherOptions};

/// What `doctor` found (`doctor -o json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub profile: String,
    /// Nothing blocks `up`.
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// Checks for the project found from `dir` (its profile and the services its specs use), or,
/// outside a project, for the profile alone.
pub async fn doctor(dir: &std::path::Path, profile: Option<&str>, environment: Option<&str>) -> Result<Report> {
    let (profile, id, needed) = match crate::input::project::discover(dir) {
        Ok(project) => {
            let name = crate::input::settings::profile_name(profile, Some(&project), environment);
            let profile = crate::input::profile::resolve(&name, &project.dir).map_err(Error::input)?.profile;
            let needed = crate::input::project::specs(&project, environment)
                .ok()
                .map(|specs| {
                    specs
                        .iter()
                        .flat_map(|s| crate::model::plan::build(&s.cr, &profile).aws_services())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            (profile, ProjectId::from_dir(&project.dir), needed)
        }
        Err(_) => {
            let name = crate::input::settings::profile_name(profile, None, None);
            let profile = crate::input::profile::resolve(&name, dir).map_err(Error::input)?.profile;
            (profile, ProjectId::from_dir(dir), Vec::new())
        }
    };
    let facts = preflight::gather(&profile, &GatherOptions::new(id, needed)).await;
    let checks = preflight::evaluate(&profile, &facts);
    Ok(Report { profile: profile.name, ok: !preflight::blocks_up(&checks), checks })
}
