//! A daemon notices when it is orphaned (issue 21): its lock or socket removed or replaced (the
//! state directory deleted, another daemon started in its place), its project file gone, or the
//! emulator container of its profile's name taken by one it did not start with (another image,
//! or another owner). It then stops cleanly, with a log line saying why, instead of going on
//! healing "its" emulator for a project that no longer knows it.
//!
//! From outside, [`processes`] finds every `nexus-dev daemon` of the user and tells a project's
//! live daemon (the one holding its lock) from an orphan: `up` stops the orphans of its project,
//! `doctor` lists them all.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::Paths;
use crate::env::owner::{self, Ownership, ProjectId};
use crate::env::{Engine, emulator};

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

/// The emulator container the daemon's profile runs, as the daemon expects it: its name, the
/// image of the profile, and the project (whose containers from before the environment was
/// shared still count as its own).
#[derive(Debug, Clone)]
pub struct Emulator {
    pub engine: Engine,
    pub name: String,
    pub image: String,
    pub project: ProjectId,
}

impl Emulator {
    /// Why the container of that name is no longer the one the daemon works with, if it is not.
    /// A container that is gone is not a reason: `up` makes it again, the same.
    pub async fn taken(&self) -> Option<String> {
        let c = self.engine.inspect_container(&self.name).await.ok()??;
        let config = c.config.unwrap_or_default();
        let owner = match owner::ownership(config.labels.as_ref(), &ProjectId::shared()) {
            Ownership::Ours => None,
            Ownership::OtherProject(p) if p == self.project.as_str() => None,
            Ownership::OtherProject(p) => Some(format!("project {p}")),
            Ownership::Shared => None,
            Ownership::Foreign => Some("something other than nexus-dev".to_owned()),
        };
        if let Some(owner) = owner {
            return Some(format!("the emulator container {} now belongs to {owner}", self.name));
        }
        let image = config.image.unwrap_or_default();
        (image != self.image).then(|| {
            format!(
                "another emulator container took the name {} (image {image}, not this profile's {})",
                self.name, self.image
            )
        })
    }
}

/// Resolves once the daemon is orphaned, with the reason.
pub async fn watch(identity: Identity, emulator: Option<Emulator>) -> String {
    let mut every = tokio::time::interval(CHECK_EVERY);
    loop {
        every.tick().await;
        if let Some(why) = identity.orphaned() {
            return why;
        }
        if let Some(e) = &emulator
            && let Some(why) = e.taken().await
        {
            return why;
        }
    }
}

/// The emulator container of `profile` as a daemon of `project_dir` watches it, when the profile
/// runs one and Docker answers.
pub async fn emulator_of(profile: &crate::model::profile::Profile, project_dir: &Path) -> Option<Emulator> {
    let cfg =
        emulator::EmulatorConfig::from_profile(profile, project_dir, crate::input::settings::emulator_image(), |v| {
            std::env::var(v).ok()
        })
        .ok()??;
    let engine = Engine::connect(ProjectId::shared()).await.ok()?;
    Some(Emulator {
        engine,
        name: cfg.name.clone(),
        image: cfg.image.clone(),
        project: ProjectId::from_dir(project_dir),
    })
}

/// A `nexus-dev daemon` process of this user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaemonProcess {
    pub pid: u32,
    pub project_dir: PathBuf,
    /// The state directory it was started with (from its environment).
    pub state_dir: PathBuf,
}

impl DaemonProcess {
    /// Why it is an orphan, or `None` when it is its project's daemon (it holds the lock).
    pub fn orphaned(&self) -> Option<String> {
        let paths = Paths::in_state_dir(&self.state_dir, ProjectId::from_dir(&self.project_dir).as_str());
        match super::holder(&paths) {
            Some(pid) if pid == self.pid => None,
            Some(pid) => Some(format!("the daemon with pid {pid} holds its project's lock")),
            None => Some("it holds no lock of its project (its state directory was removed or replaced)".to_owned()),
        }
    }

    /// Whether it serves the project in `project_dir` with the state directory `state_dir`.
    pub fn serves(&self, project_dir: &Path, state_dir: &Path) -> bool {
        ProjectId::from_dir(&self.project_dir) == ProjectId::from_dir(project_dir)
            && canonical(&self.state_dir) == canonical(state_dir)
    }
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Every `nexus-dev daemon` process of this user, from `/proc` (Linux; none elsewhere).
pub fn processes() -> Vec<DaemonProcess> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            // Another user's environment is not readable: their daemons are theirs.
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            parse_process(pid, &cmdline, &environ)
        })
        .collect()
}

/// A daemon process from its NUL-separated command line and environment: `nexus-dev daemon …
/// --project-dir DIR …`; its state directory as `settings::state_dir` resolves it in its
/// environment.
fn parse_process(pid: u32, cmdline: &[u8], environ: &[u8]) -> Option<DaemonProcess> {
    use std::os::unix::ffi::OsStrExt;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let program = Path::new(std::ffi::OsStr::from_bytes(args.first()?));
    if program.file_name()? != "nexus-dev" || args.get(1) != Some(&&b"daemon"[..]) {
        return None;
    }
    let at = args.iter().position(|a| *a == b"--project-dir")?;
    let project_dir = PathBuf::from(std::ffi::OsStr::from_bytes(args.get(at + 1)?));
    let vars: Vec<(&[u8], &[u8])> = environ
        .split(|b| *b == 0)
        .filter_map(|kv| kv.iter().position(|b| *b == b'=').map(|i| (&kv[..i], &kv[i + 1..])))
        .collect();
    let var = |k: &str| {
        vars.iter()
            .find(|(name, _)| *name == k.as_bytes())
            .map(|(_, v)| PathBuf::from(std::ffi::OsStr::from_bytes(v)))
            .filter(|v| !v.as_os_str().is_empty())
    };
    Some(DaemonProcess { pid, project_dir, state_dir: crate::input::settings::state_dir_from(var) })
}

/// Stops the orphaned daemons of the project in `project_dir` (SIGTERM, then SIGKILL after
/// 5 s); their pids.
pub async fn stop_orphans_of(project_dir: &Path, state_dir: &Path) -> Vec<u32> {
    let orphans: Vec<u32> = processes()
        .into_iter()
        .filter(|p| p.serves(project_dir, state_dir) && p.orphaned().is_some())
        .map(|p| p.pid)
        .collect();
    for pid in &orphans {
        tracing::info!(pid, "stopping an orphaned daemon of this project");
        signal(*pid, libc::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for pid in &orphans {
        while alive(*pid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if alive(*pid) {
            signal(*pid, libc::SIGKILL);
        }
    }
    orphans
}

fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a pid read from /proc and a constant signal; no memory involved.
        unsafe { libc::kill(pid, sig) };
    }
}

fn alive(pid: u32) -> bool {
    // A zombie (a child not yet reaped) counts as gone: it runs nothing.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
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

    #[test]
    fn daemon_processes_are_read_from_their_command_line_and_environment() {
        let cmd = b"/opt/bin/nexus-dev\0daemon\0--project-dir\0/home/a/app\0--profile\0local\0";
        let env = b"HOME=/home/a\0NEXUS_DEV_STATE_DIR=/tmp/s\0";
        let p = parse_process(7, cmd, env).unwrap();
        assert_eq!(
            (p.pid, p.project_dir.as_path(), p.state_dir.as_path()),
            (7, Path::new("/home/a/app"), Path::new("/tmp/s"))
        );
        let p = parse_process(7, cmd, b"HOME=/home/a\0NEXUS_DEV_STATE_DIR=\0").unwrap();
        assert_eq!(p.state_dir, Path::new("/home/a/.local/state/nexus-dev"), "an empty variable is unset");
        assert_eq!(parse_process(7, b"/opt/bin/nexus-dev\0up\0", env), None, "not a daemon");
        assert_eq!(parse_process(7, b"/usr/bin/python3\0daemon\0--project-dir\0/x\0", env), None);
        assert_eq!(parse_process(7, b"nexus-dev\0daemon\0", env), None, "no project");
    }

    #[test]
    fn a_daemon_process_is_live_only_while_it_holds_its_projects_lock() {
        let state = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let me = DaemonProcess {
            pid: std::process::id(),
            project_dir: project.path().into(),
            state_dir: state.path().into(),
        };
        assert!(me.orphaned().unwrap().contains("holds no lock"));
        let paths = Paths::in_state_dir(state.path(), ProjectId::from_dir(project.path()).as_str());
        let held = super::super::lock(&paths).unwrap();
        assert_eq!(me.orphaned(), None);
        let other = DaemonProcess { pid: 1, ..me.clone() };
        assert!(other.orphaned().unwrap().contains(&format!("pid {} holds", std::process::id())));
        assert!(me.serves(project.path(), state.path()) && !me.serves(state.path(), state.path()));
        drop(held);
    }
}
