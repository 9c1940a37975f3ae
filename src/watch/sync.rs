//! Live sync: files under a component's sync rules are copied into its running containers
//! without a rebuild, deleted files are removed there, then the `afterSync` command runs.
//! Mapping files to container paths is pure; the archive is built from the files as they are
//! when the sync starts.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot read {path} for sync: {source}")]
    ReadFile { path: String, source: std::io::Error },
    #[error("no running container to sync {component} into{detail}")]
    NoTarget { component: String, detail: String },
    #[error("cannot find the containers of {component}: {source}")]
    ListTargets { component: String, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("cannot copy files into {target}: {detail}")]
    Upload { target: String, detail: String },
    #[error("cannot remove deleted files in {target}: {detail}")]
    Remove { target: String, detail: String },
    #[error("afterSync `{command}` failed in {target} (exit {exit_code}):\n{output}")]
    AfterSync { target: String, command: String, exit_code: i64, output: String },
    #[error("cannot run afterSync `{command}` in {target}: {detail}")]
    RunAfterSync { target: String, command: String, detail: String },
}

/// A sync rule resolved against the component: `from` relative to the context, `to` absolute
/// in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRule {
    pub from: PathBuf,
    pub to: String,
}

impl SyncRule {
    /// From the project file's rule (`from: ./static/` and `from: static` are the same).
    pub fn of(r: &crate::model::project::SyncRule) -> Self {
        let from: PathBuf =
            Path::new(&r.from).components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect();
        Self { from, to: r.to.clone() }
    }

    /// The container path of `rel`, when this rule covers it.
    pub fn destination(&self, rel: &Path) -> Option<String> {
        let rest = rel.strip_prefix(&self.from).ok()?;
        let to = self.to.trim_end_matches('/');
        Some(if rest.as_os_str().is_empty() {
            if to.is_empty() { "/".into() } else { to.to_owned() }
        } else {
            format!("{to}/{}", slash(rest))
        })
    }
}

/// Whether a sync rule covers `rel` (relative to the context). The first rule that covers a
/// file decides where it goes, as in Tilt's live_update.
pub fn covered(rules: &[SyncRule], rel: &Path) -> bool {
    rules.iter().any(|r| r.destination(rel).is_some())
}

/// What one sync does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Local file (absolute) → container path.
    pub copy: Vec<(PathBuf, String)>,
    /// Container paths of files deleted locally.
    pub remove: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.copy.is_empty() && self.remove.is_empty()
    }
}

/// Maps changed files (relative to `context`) to container paths; `exists` tells whether a
/// local file is still there (else it is removed in the container). Files no rule covers are
/// left out: the decision sent them to a rebuild instead.
pub fn plan(context: &Path, rules: &[SyncRule], files: &[PathBuf], exists: impl Fn(&Path) -> bool) -> Plan {
    let mut out = Plan::default();
    for rel in files {
        let Some(dest) = rules.iter().find_map(|r| r.destination(rel)) else { continue };
        let local = context.join(rel);
        if exists(&local) {
            out.copy.push((local, dest));
        } else {
            out.remove.push(dest);
        }
    }
    out
}

/// A tar archive to unpack at `/` in the container: each file under its container path. A
/// directory copies as an empty directory entry (its files arrive as their own events).
pub fn archive(plan: &Plan) -> Result<Vec<u8>, SyncError> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for (local, dest) in &plan.copy {
        let name = dest.trim_start_matches('/');
        let err = |source| SyncError::ReadFile { path: local.display().to_string(), source };
        let meta = std::fs::symlink_metadata(local).map_err(err)?;
        if meta.is_dir() {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_mtime(mtime(&meta));
            tar.append_data(&mut h, name, std::io::empty()).map_err(err)?;
        } else {
            tar.append_path_with_name(local, name).map_err(err)?;
        }
    }
    tar.into_inner().map_err(|source| SyncError::ReadFile { path: "(archive)".into(), source })
}

fn mtime(meta: &std::fs::Metadata) -> u64 {
    meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs()).unwrap_or(0)
}

fn slash(p: &Path) -> String {
    p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<SyncRule> {
        vec![
            SyncRule::of(&crate::model::project::SyncRule { from: "./static/".into(), to: "/app/static".into() }),
            SyncRule::of(&crate::model::project::SyncRule { from: "conf/app.toml".into(), to: "/etc/app.toml".into() }),
            SyncRule::of(&crate::model::project::SyncRule { from: "static/special".into(), to: "/elsewhere/".into() }),
        ]
    }

    #[test]
    fn rules_map_files_and_directories_to_container_paths() {
        let r = rules();
        assert_eq!(r[0].from, PathBuf::from("static"));
        assert_eq!(r[0].destination(Path::new("static/css/a.css")).as_deref(), Some("/app/static/css/a.css"));
        assert_eq!(r[0].destination(Path::new("static")).as_deref(), Some("/app/static"));
        assert_eq!(r[1].destination(Path::new("conf/app.toml")).as_deref(), Some("/etc/app.toml"));
        assert_eq!(r[1].destination(Path::new("conf/app.toml.bak")), None);
        assert_eq!(r[0].destination(Path::new("staticx/a")), None);
        assert!(covered(&r, Path::new("static/x")));
        assert!(!covered(&r, Path::new("Dockerfile")));
        let everything = SyncRule::of(&crate::model::project::SyncRule { from: ".".into(), to: "/".into() });
        assert_eq!(everything.destination(Path::new("a/b")).as_deref(), Some("/a/b"));
    }

    #[test]
    fn the_first_covering_rule_wins_and_deleted_files_are_removed() {
        let r = rules();
        let files = vec![
            PathBuf::from("static/special/x"),
            PathBuf::from("static/gone.css"),
            PathBuf::from("conf/app.toml"),
            PathBuf::from("Dockerfile"),
        ];
        let p = plan(Path::new("/ctx"), &r, &files, |p| !p.ends_with("gone.css"));
        assert_eq!(
            p.copy,
            vec![
                (PathBuf::from("/ctx/static/special/x"), "/app/static/special/x".to_owned()),
                (PathBuf::from("/ctx/conf/app.toml"), "/etc/app.toml".to_owned()),
            ]
        );
        assert_eq!(p.remove, vec!["/app/static/gone.css".to_owned()]);
    }

    #[test]
    fn the_archive_holds_files_under_their_container_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("static/sub")).unwrap();
        std::fs::write(dir.path().join("static/a.css"), "body{}").unwrap();
        let p = Plan {
            copy: vec![
                (dir.path().join("static/a.css"), "/app/static/a.css".into()),
                (dir.path().join("static/sub"), "/app/static/sub".into()),
            ],
            remove: vec![],
        };
        let bytes = archive(&p).unwrap();
        let mut a = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> =
            a.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, vec!["app/static/a.css", "app/static/sub"]);
        let missing = Plan { copy: vec![(dir.path().join("nope"), "/x".into())], remove: vec![] };
        assert!(matches!(archive(&missing), Err(SyncError::ReadFile { .. })));
    }
}
