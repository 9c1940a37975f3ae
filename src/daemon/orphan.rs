//! A daemon notices when it is orphaned (issue 21): its lock or socket removed or replaced (the
//! state directory deleted, another daemon started in its place), or its project file gone. It
//! then stops cleanly, with a log line saying why, instead of going on healing "its" emulator
//! for a project that no longer knows it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the daemon looks.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// What the daemon made when it started, by file identity (device and inode): a file of the
/// same name made later by someone else is not the daemon's.
#[derive(Debug, Clone)]
pub struct Identity {
    files: Vec<(&'static str, PathBuf, (u64, u64))>,
    project_file: PathBuf,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl Identity {
    /// The lock and socket as they are now (the daemon has just made them), and the project file.
    pub fn now(lock: &Path, socket: &Path, project_file: &Path) -> std::io::Result<Self> {
        let mut files = Vec::new();
        for (what, path) in [("lock", lock), ("socket", socket)] {
            let id = identity(path).ok_or_else(|| std::io::Error::other(format!("{} is missing", path.display())))?;
            files.push((what, path.to_owned(), id));
        }
        Ok(Self { files, project_file: project_file.to_owned() })
    }

    /// Why the daemon is orphaned, if it is.
    pub fn orphaned(&self) -> Option<String> {
        for (what, path, id) in &self.files {
            match identity(path) {
                None => return Some(format!("its {what} {} was removed", path.display())),
                Some(now) if now != *id => return Some(format!("its {what} {} was replaced", path.display())),
                Some(_) => {}
            }
        }
        (!self.project_file.is_file()).then(|| format!("its project file {} is gone", self.project_file.display()))
    }
}

/// Resolves once the daemon is orphaned, with the reason.
pub async fn watch(identity: Identity) -> String {
    let mut every = tokio::time::interval(CHECK_EVERY);
    loop {
        every.tick().await;
        if let Some(why) = identity.orphaned() {
            return why;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_or_replaced_files_and_a_missing_project_file_orphan_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, socket, project) =
            (dir.path().join("daemon.lock"), dir.path().join("daemon.sock"), dir.path().join("nexus-dev.yaml"));
        for f in [&lock, &socket, &project] {
            std::fs::write(f, "").unwrap();
        }
        let id = Identity::now(&lock, &socket, &project).unwrap();
        assert_eq!(id.orphaned(), None);
        // Replaced: a new file under the same name (as a second daemon would make).
        std::fs::remove_file(&socket).unwrap();
        std::fs::write(dir.path().join("other"), "").unwrap();
        std::fs::write(&socket, "").unwrap();
        let why = id.orphaned().unwrap();
        assert!(why.contains("socket") && (why.contains("replaced") || why.contains("removed")), "{why}");
        let id = Identity::now(&lock, &socket, &project).unwrap();
        std::fs::remove_file(&lock).unwrap();
        assert!(id.orphaned().unwrap().contains("lock") && id.orphaned().unwrap().contains("removed"));
        std::fs::write(&lock, "").unwrap();
        let id = Identity::now(&lock, &socket, &project).unwrap();
        std::fs::remove_file(&project).unwrap();
        assert!(id.orphaned().unwrap().contains("project file"));
    }
}
