//! One `nexus-dev ci` run at a time on a machine, and what a dead one left behind.
//!
//! The environment's names are fixed (the `nexus-dev-aws` and `nexus-dev-registry` containers,
//! their host ports, the kind cluster), so two runs at once would take each other's: a run holds
//! an exclusive lock (`flock`) on `STATE/ci/run.lock` while it lives, and a second run refuses,
//! saying which run holds it. The kernel drops the lock when the process dies, even by SIGKILL;
//! the run's record (`run.json`) stays, and the next run reads it and tears down what that run
//! had created before it starts.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a run writes about itself before it creates anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: String,
    pub pid: u32,
    pub project_dir: PathBuf,
    /// What `--profile` loads it again.
    pub profile: String,
    /// Whether the project's environment was down when the run began: then the run made it,
    /// and tearing down removes all of it; otherwise the run reused it and leaves it.
    pub created_environment: bool,
    /// The kind cluster the run may make: it did not exist when the run began. A cluster cut
    /// short while kind made it carries no ownership marker yet; this is how it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_cluster: Option<String>,
    /// The project environment of the run (`--env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// Another run holds the machine.
#[derive(Debug, thiserror::Error)]
#[error(
    "another `nexus-dev ci` run ({}, pid {}) is running on this machine; its environment uses the same fixed names (the nexus-dev-aws and nexus-dev-registry containers, their ports, the kind cluster), so this run does not start\n  hint: wait for it to finish, or run the jobs one after the other (one runner per machine)",
    .0.as_ref().map(|r| r.id.as_str()).unwrap_or("its id unknown"),
    .0.as_ref().map(|r| r.pid.to_string()).unwrap_or_else(|| "unknown".into())
)]
pub struct Busy(pub Option<Box<Run>>);

/// The machine, held for one run; released when dropped.
#[derive(Debug)]
pub struct Claim {
    _lock: File,
    record: PathBuf,
}

/// A new run id: the time and the process, such as `ci-1764748800-3f2a`.
pub fn new_id() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("ci-{secs}-{:x}", std::process::id())
}

/// Takes the machine for a run, with `dir` the runs' directory (created if missing). Returns the
/// record a dead run left, for the caller to reap, or [`Busy`] when a live run holds it.
pub fn claim(dir: &Path) -> Result<(Claim, Option<Run>), ClaimError> {
    std::fs::create_dir_all(dir).map_err(|e| ClaimError::Io(dir.to_owned(), e))?;
    let lock_path = dir.join("run.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| ClaimError::Io(lock_path.clone(), e))?;
    let record = dir.join("run.json");
    // SAFETY: flock on a descriptor this function owns; no memory is passed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(ClaimError::Busy(Busy(read(&record).map(Box::new))));
    }
    let dead = read(&record);
    Ok((Claim { _lock: lock, record }, dead))
}

fn read(record: &Path) -> Option<Run> {
    serde_json::from_slice(&std::fs::read(record).ok()?).ok()
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("cannot use the runs' directory {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

impl Claim {
    /// Writes the run's record (replacing a reaped one's).
    pub fn record(&self, run: &Run) -> std::io::Result<()> {
        let tmp = self.record.with_extension("json.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(run).unwrap_or_default())?;
        f.sync_all()?;
        std::fs::rename(tmp, &self.record)
    }

    /// The run is over and nothing of it needs reaping.
    pub fn finish(self) {
        let _ = std::fs::remove_file(&self.record);
    }
}

/// How many runs' directories (env.json, summary.json, build.log) are kept.
pub const KEPT: usize = 20;

/// Removes the directories of all but the newest `keep` runs in `dir`.
pub fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut runs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ci-") && e.path().is_dir())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    runs.sort();
    let old = runs.len().saturating_sub(keep);
    for (_, path) in runs.into_iter().take(old) {
        let _ = std::fs::remove_dir_all(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str) -> Run {
        Run {
            id: id.into(),
            pid: 1,
            project_dir: "/p".into(),
            profile: "local".into(),
            created_environment: true,
            new_cluster: None,
            environment: None,
        }
    }

    #[test]
    fn a_live_run_refuses_a_second_and_a_dead_ones_record_is_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let (first, dead) = claim(dir.path()).unwrap();
        assert!(dead.is_none());
        first.record(&run("ci-1-a")).unwrap();
        // flock is per open file description: a second open in this process conflicts too.
        let Err(ClaimError::Busy(busy)) = claim(dir.path()) else { panic!("a second run must be refused") };
        assert!(busy.to_string().contains("ci-1-a"), "{busy}");
        // The first dies without finishing: its record is there for the next run.
        drop(first);
        let (second, dead) = claim(dir.path()).unwrap();
        assert_eq!(dead, Some(run("ci-1-a")));
        second.record(&run("ci-2-b")).unwrap();
        second.finish();
        let (_third, dead) = claim(dir.path()).unwrap();
        assert!(dead.is_none(), "a finished run leaves nothing to reap");
    }

    #[test]
    fn only_the_newest_runs_directories_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::create_dir(dir.path().join(format!("ci-{i}"))).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::write(dir.path().join("run.lock"), "").unwrap();
        prune(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["ci-3", "ci-4", "run.lock"]);
    }
}
