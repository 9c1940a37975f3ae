//! The projects of this machine (issue 21). Every `up` records its project next to its daemon's
//! lock and socket (`projects/<id>/project.json` under the state directory: the project's
//! directory, project file, profile and environment). From these records and the daemons' locks,
//! `down` knows whether another project still uses the environment they share (the kind
//! cluster, the registry, the emulator), `status --all` lists every project, a capability that
//! another project already claims is refused with that project's directory, and `doctor` flags
//! records whose project is gone.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Paths;

const RECORD: &str = "project.json";

/// What `up` records about its project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub dir: PathBuf,
    /// Its `nexus-dev.yaml`.
    pub file: PathBuf,
    pub profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// A project of this machine as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub id: String,
    #[serde(flatten)]
    pub record: Record,
    /// Its daemon runs, or its `up` is under way.
    pub up: bool,
    /// Its project file still exists (a record of a deleted project is stale).
    pub exists: bool,
}

impl Project {
    /// How a user is told about it: by its directory, which is what they know it by.
    pub fn describe(&self) -> String {
        format!("the project in {} ({})", self.record.dir.display(), if self.up { "up" } else { "down" })
    }

    pub fn paths(&self, state_dir: &Path) -> Paths {
        Paths::in_state_dir(state_dir, &self.id)
    }
}

/// Records the project of `paths` (private, as the rest of its directory).
pub fn register(paths: &Paths, record: &Record) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    paths.prepare()?;
    let text = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    let tmp = paths.dir.join(format!(".{RECORD}.tmp"));
    let mut f = std::fs::File::options().create(true).write(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(&text)?;
    std::fs::rename(&tmp, paths.dir.join(RECORD))
}

/// Every project recorded under `state_dir`, by id.
pub fn list_in(state_dir: &Path) -> Vec<Project> {
    let mut projects: Vec<Project> = std::fs::read_dir(state_dir.join("projects"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let id = entry.file_name().to_str()?.to_owned();
            let record: Record = serde_json::from_slice(&std::fs::read(entry.path().join(RECORD)).ok()?).ok()?;
            let paths = Paths::in_state_dir(state_dir, &id);
            let up = super::running(&paths) || super::locked(&paths.dir.join("up.lock"));
            let exists = record.file.is_file();
            Some(Project { id, record, up, exists })
        })
        .collect();
    projects.sort_by(|a, b| a.record.dir.cmp(&b.record.dir));
    projects
}

/// Every project recorded in this machine's state directory.
pub fn list() -> Vec<Project> {
    list_in(&crate::input::settings::state_dir())
}

/// The projects other than `id` that still exist: those that share the environment with it.
pub fn others(id: &str) -> Vec<Project> {
    list().into_iter().filter(|p| p.id != id && p.exists).collect()
}

/// The directory of project `id`, when this machine knows it.
pub fn dir_of(id: &str) -> Option<PathBuf> {
    list().into_iter().find(|p| p.id == id).map(|p| p.record.dir)
}

/// A project with its capabilities as its daemon reports them (`status --all`).
#[derive(Debug, Clone, Serialize)]
pub struct ProjectStatus {
    #[serde(flatten)]
    pub project: Project,
    /// Empty when the project is down.
    pub capabilities: Vec<super::protocol::CapabilityStatus>,
    /// Why the daemon of a project that is up did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every project of this machine, the capabilities of those that are up asked of their daemons
/// at once.
pub async fn overview() -> Vec<ProjectStatus> {
    let state_dir = crate::input::settings::state_dir();
    let asked = list_in(&state_dir).into_iter().map(|project| {
        let socket = project.paths(&state_dir).socket;
        async move {
            let answer = match project.up {
                true => Some(super::protocol::status(&socket).await),
                false => None,
            };
            match answer {
                Some(Err(e)) => ProjectStatus { project, capabilities: Vec::new(), error: Some(e.to_string()) },
                Some(Ok(capabilities)) => ProjectStatus { project, capabilities, error: None },
                None => ProjectStatus { project, capabilities: Vec::new(), error: None },
            }
        }
    });
    futures::future::join_all(asked).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_listed_with_their_state_and_stale_ones_are_told() {
        let state = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let file = project.path().join("nexus-dev.yaml");
        std::fs::write(&file, "specs: []\n").unwrap();
        let live =
            Record { dir: project.path().into(), file: file.clone(), profile: "local".into(), environment: None };
        let gone = Record {
            dir: "/nonexistent/app".into(),
            file: "/nonexistent/app/nexus-dev.yaml".into(),
            profile: "dev".into(),
            environment: Some("ci".into()),
        };
        register(&Paths::in_state_dir(state.path(), "aaa"), &live).unwrap();
        register(&Paths::in_state_dir(state.path(), "bbb"), &gone).unwrap();
        // A directory without a record (a daemon's, from before records) is not a project.
        std::fs::create_dir_all(state.path().join("projects/ccc")).unwrap();
        let held = super::super::lock(&Paths::in_state_dir(state.path(), "aaa")).unwrap();
        let all = list_in(state.path());
        assert_eq!(all.len(), 2, "{all:?}");
        let a = all.iter().find(|p| p.id == "aaa").unwrap();
        assert!(a.up && a.exists && a.record == live);
        assert!(a.describe().ends_with("(up)"), "{}", a.describe());
        let b = all.iter().find(|p| p.id == "bbb").unwrap();
        assert!(!b.up && !b.exists && b.record == gone);
        drop(held);
        assert!(!list_in(state.path()).iter().any(|p| p.up));
    }
}
