//! `doctor`: what `up` needs, checked without changing anything, each problem with its fix.

use serde::Serialize;

use super::{Error, Result};
use crate::daemon::machine::{self, Project};
use crate::daemon::orphan::{self, DaemonProcess};
use crate::env::ProjectId;
use crate::env::preflight::{self, Check, GatherOptions, Status};

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
    let mut checks = preflight::evaluate(&profile, &facts);
    let orphans: Vec<(DaemonProcess, String)> =
        orphan::processes().into_iter().filter_map(|p| p.orphaned().map(|why| (p, why))).collect();
    checks.extend(machine_checks(&machine::list(), &orphans));
    Ok(Report { profile: profile.name, ok: !preflight::blocks_up(&checks), checks })
}

/// The projects of this machine (the environment they share), records of projects that are gone,
/// and daemons that outlived their project: none of them blocks `up`.
fn machine_checks(projects: &[Project], orphans: &[(DaemonProcess, String)]) -> Vec<Check> {
    let check = |name: String, status, detail: String, fix: Option<String>| Check {
        name,
        status,
        detail,
        fix,
        blocks_up: false,
    };
    let live: Vec<String> = projects
        .iter()
        .filter(|p| p.exists)
        .map(|p| {
            let state = if p.up { "up" } else { "down" };
            format!("{} ({state}, profile {})", p.record.dir.display(), p.record.profile)
        })
        .collect();
    let detail = match live.len() {
        0 => "none recorded yet (`up` records its project)".to_owned(),
        n => format!("{n} on this machine, sharing its cluster, registry and emulator: {}", live.join("; ")),
    };
    let mut checks = vec![check("projects".into(), Status::Ok, detail, None)];
    for p in projects.iter().filter(|p| !p.exists) {
        checks.push(check(
            format!("project {}", p.id),
            Status::Warn,
            format!(
                "recorded for {}, whose nexus-dev.yaml is gone: `down` keeps the shared environment for it",
                p.record.dir.display()
            ),
            Some(format!("remove its record: rm -r {}", p.paths(&crate::input::settings::state_dir()).dir.display())),
        ));
    }
    for (process, why) in orphans {
        checks.push(check(
            format!("daemon pid {}", process.pid),
            Status::Warn,
            format!("orphaned daemon of {}: {why}", process.project_dir.display()),
            Some(format!("kill {} (or `nexus-dev up` in that project, which stops it)", process.pid)),
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::machine::Record;

    #[test]
    fn projects_gone_records_and_orphaned_daemons_are_reported_without_blocking_up() {
        let project = |id: &str, dir: &str, up, exists| Project {
            id: id.into(),
            record: Record {
                dir: dir.into(),
                file: format!("{dir}/nexus-dev.yaml").into(),
                profile: "local".into(),
                environment: None,
            },
            up,
            exists,
        };
        let projects = [
            project("a", "/w/api", true, true),
            project("b", "/w/web", false, true),
            project("c", "/w/old", false, false),
        ];
        let orphan = DaemonProcess { pid: 4242, project_dir: "/w/api".into(), state_dir: "/s".into() };
        let checks = machine_checks(&projects, &[(orphan, "it holds no lock of its project".into())]);
        assert!(checks.iter().all(|c| !c.blocks_up));
        assert_eq!(checks[0].status, Status::Ok);
        assert!(
            checks[0].detail.contains("2 on this machine")
                && checks[0].detail.contains("/w/api (up, profile local); /w/web (down"),
            "{}",
            checks[0].detail
        );
        let gone = checks.iter().find(|c| c.name == "project c").unwrap();
        assert_eq!(gone.status, Status::Warn);
        assert!(
            gone.detail.contains("/w/old") && gone.fix.as_deref().unwrap().starts_with("remove its record: rm -r ")
        );
        let daemon = checks.iter().find(|c| c.name == "daemon pid 4242").unwrap();
        assert!(daemon.detail.contains("/w/api") && daemon.fix.as_deref().unwrap().starts_with("kill 4242"));
        assert_eq!(machine_checks(&[], &[])[0].detail, "none recorded yet (`up` records its project)");
    }
}
