//! The daemon: one per project (a lock file), started in the background by `up` (or attached,
//! with `--foreground`). It runs the controller for the project's capabilities, re-provisions
//! when the emulator loses its state, and answers `status`, `logs`, `apply` and `down` on a Unix
//! socket only its user can open.

pub mod forward;
mod heal;
pub mod machine;
pub mod orphan;
pub mod protocol;
mod server;
pub mod watching;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::watcher;

use crate::model::profile::Profile;
use crate::model::project::LoadedProject;
use crate::model::spec::NexusAICapability;
use crate::reconcile::{Context, lease};

/// Label on every capability a project's daemon applies; its controller watches only these.
pub const PROJECT_LABEL: &str = "nexus.ai/project";

/// Where a project's daemon keeps its lock, socket, pid and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub dir: PathBuf,
    pub lock: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Paths {
    /// `$NEXUS_DEV_STATE_DIR`, else `$XDG_STATE_HOME/nexus-dev`, else `~/.local/state/nexus-dev`;
    /// then `projects/<id>`. Short, so the socket path stays within the 108-byte limit.
    pub fn for_project(id: &str) -> Self {
        Self::in_state_dir(&crate::input::settings::state_dir(), id)
    }

    /// The paths of project `id` under the state directory `state_dir`.
    pub fn in_state_dir(state_dir: &Path, id: &str) -> Self {
        let dir = state_dir.join("projects").join(id);
        Self { lock: dir.join("daemon.lock"), socket: dir.join("daemon.sock"), log: dir.join("daemon.log"), dir }
    }

    /// Creates the project's directory (and `projects/` above it) readable by its user only
    /// (0700), tightening them if they exist: logs and sockets are nobody else's business.
    pub fn prepare(&self) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)?;
        // `projects/` lists the ids of a user's projects; a parent of any other name is not ours.
        let projects = self.dir.parent().filter(|p| p.file_name().is_some_and(|n| n == "projects"));
        for d in [Some(self.dir.as_path()), projects].into_iter().flatten() {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    /// Where the daemon records its dashboard's URL and token (`nexus-dev ui` reads it), 0600.
    pub fn ui_record(&self) -> PathBuf {
        self.dir.join("ui.json")
    }

    /// Opens the daemon's log for appending, readable by its user only (0600).
    pub fn open_log(&self) -> std::io::Result<File> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        self.prepare()?;
        let file = File::options().create(true).append(true).mode(0o600).open(&self.log)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "another nexus-dev daemon runs for this project (lock {0})\n  hint: `nexus-dev status` talks to it; `nexus-dev down` stops it"
    )]
    AlreadyRunning(String),
    #[error("cannot prepare the daemon's directory {path}: {source}")]
    Prepare { path: String, source: std::io::Error },
    #[error("cannot listen on {path}: {source}")]
    Listen { path: String, source: std::io::Error },
    #[error("Kubernetes: {0}")]
    Kube(String),
}

/// The lock held for the daemon's whole life; released when dropped (or the process dies).
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] File);

/// Takes the project's lock, or says that another daemon has it.
pub fn lock(paths: &Paths) -> Result<Lock, DaemonError> {
    paths.prepare().map_err(|source| DaemonError::Prepare { path: paths.dir.display().to_string(), source })?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.lock)
        .map_err(|source| DaemonError::Prepare { path: paths.lock.display().to_string(), source })?;
    match file.try_lock() {
        Ok(()) => {
            // Which process holds it, for `up` and `doctor` to tell a live daemon from an orphan.
            use std::io::Write;
            let _ = file.set_len(0).and_then(|()| (&file).write_all(std::process::id().to_string().as_bytes()));
            Ok(Lock(file))
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(DaemonError::AlreadyRunning(paths.lock.display().to_string())),
        Err(std::fs::TryLockError::Error(source)) => {
            Err(DaemonError::Prepare { path: paths.lock.display().to_string(), source })
        }
    }
}

/// Is a daemon holding the project's lock?
pub fn running(paths: &Paths) -> bool {
    locked(&paths.lock)
}

/// The process holding the project's lock, as it wrote it there.
pub fn holder(paths: &Paths) -> Option<u32> {
    if !running(paths) {
        return None;
    }
    std::fs::read_to_string(&paths.lock).ok()?.trim().parse().ok()
}

/// Is the lock file `path` held by some process?
pub fn locked(path: &Path) -> bool {
    match File::options().write(true).open(path) {
        Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// What the daemon serves.
pub struct Daemon {
    pub project: LoadedProject,
    pub project_id: String,
    pub profile: Profile,
    pub client: kube::Client,
    pub paths: Paths,
    /// Recheck of every capability's AWS resources while Running.
    pub resync: Duration,
    /// How often to look for an emulator that lost its state.
    pub emulator_check: Duration,
    /// Port-forwards to the capabilities' frontend and backend Services (`status` lists them).
    pub forwards: forward::Forwards,
    /// The project environment whose layers the specs get (`up --env`).
    pub environment: Option<String>,
    /// The dashboard's logs (its collector fills them; watch sessions set build marks).
    pub logs: Arc<crate::ui::logs::Logs>,
    /// The dashboard's builds, which watch sessions send over the socket (`watching`).
    pub builds: Arc<crate::ui::builds::Builds>,
}

impl Daemon {
    /// A daemon for `project` with the usual timings: AWS rechecked every minute while Running,
    /// the emulator's state every 5 s.
    pub fn new(project: LoadedProject, project_id: &str, profile: Profile, client: kube::Client, paths: Paths) -> Self {
        let components = project.project.components.iter().map(|c| c.name.clone()).collect();
        Self {
            builds: Arc::new(crate::ui::builds::Builds::new(components)),
            logs: Default::default(),
            project,
            project_id: project_id.to_owned(),
            profile,
            client,
            paths,
            resync: Duration::from_secs(60),
            emulator_check: Duration::from_secs(5),
            forwards: Default::default(),
            environment: None,
        }
    }

    /// The same daemon for the project environment `environment`.
    pub fn in_environment(mut self, environment: Option<String>) -> Self {
        self.environment = environment;
        self
    }

    /// Runs until `shutdown` resolves or a client asks it to stop. The lock must be held.
    pub async fn run(
        self: Arc<Self>,
        _lock: &Lock,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), DaemonError> {
        crate::provision::kube::install_crd(&self.client).await.map_err(|e| DaemonError::Kube(e.to_string()))?;
        let listener = server::listen(&self.paths.socket)?;
        let made = orphan::Identity::now(&self.paths.lock, &self.paths.socket, &self.project.file)
            .map_err(|source| DaemonError::Prepare { path: self.paths.dir.display().to_string(), source })?;
        let emulator = orphan::emulator_of(&self.profile, &self.project.dir).await;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let ctx = Context::new(self.client.clone(), self.profile.clone()).with(self.resync, Duration::from_secs(1));
        let selector = format!("{PROJECT_LABEL}={}", self.project_id);
        let (retrigger, retriggered) = futures::channel::mpsc::unbounded();
        let controller = {
            let ctx = ctx.clone();
            let mut rx = stop_rx.clone();
            // One writer per cluster: an in-cluster operator's Lease comes first (reconcile::lease).
            let claim = lease::Claim::daemon(
                &crate::input::settings::lease_namespace(),
                &self.project_id,
                &format!("the nexus-dev daemon of project {} (pid {})", self.project_id, std::process::id()),
            );
            let client = self.client.clone();
            tokio::spawn(async move {
                let waiting = |holder: &str| tracing::warn!(%holder, "waiting: the in-cluster operator holds the lease; this daemon writes nothing until it lets go");
                let leadership = tokio::select! {
                    l = lease::acquire(&client, &claim, waiting) => l,
                    _ = rx.wait_for(|s| *s) => return,
                };
                let Ok(leadership) = leadership else { return };
                let mut lost = leadership.lost.clone();
                crate::reconcile::controller::run_with(
                    ctx,
                    None,
                    watcher::Config::default().labels(&selector),
                    retriggered,
                    async move {
                        tokio::select! {
                            _ = rx.wait_for(|s| *s) => {}
                            _ = lost.wait_for(|l| *l) => tracing::warn!(
                                "an in-cluster operator wants this cluster's lease: this daemon stops reconciling (`nexus-dev operator status` says who holds it)"
                            ),
                        }
                    },
                )
                .await;
                drop(leadership);
                lease::release(&client, &claim).await;
            })
        };
        let forwarding = tokio::spawn(server::keep_forwards(self.clone()));
        let serving = tokio::spawn(server::serve(self.clone(), listener, stop_tx.clone(), stop_rx.clone()));
        let healer = tokio::spawn(heal::heal(self.clone(), ctx.clone(), retrigger.clone(), stop_rx.clone()));
        let dashboard = self.start_dashboard(crate::ui::actions::Actions::new(ctx.clone(), retrigger.clone())).await;
        tracing::info!(project = %self.project_id, "daemon running");
        let mut rx = stop_rx.clone();
        let mut orphaned = false;
        tokio::select! {
            _ = shutdown => {}
            _ = rx.wait_for(|s| *s) => {}
            why = orphan::watch(made.clone(), emulator) => {
                tracing::warn!(project = %self.project_id, "daemon orphaned: {why}; stopping");
                orphaned = true;
            }
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), controller).await;
        serving.abort();
        healer.abort();
        forwarding.abort();
        if let Some((server, feed)) = dashboard {
            feed.abort();
            drop(server);
        }
        self.forwards.stop_all();
        // An orphan's socket path (and dashboard record) may be another daemon's by now: they
        // are left alone (also when an orphan is stopped by a signal before it noticed).
        if !orphaned && made.orphaned().is_none() {
            let _ = std::fs::remove_file(&self.paths.socket);
            let _ = std::fs::remove_file(self.paths.ui_record());
        }
        tracing::info!(project = %self.project_id, "daemon stopped");
        Ok(())
    }
}

impl Daemon {
    /// Starts the dashboard (`nexus-dev ui`, issue 16) with its `actions`, the watch that feeds
    /// it and the log collector, and records its URL. The daemon works without it: a dashboard
    /// that cannot start is a warning.
    async fn start_dashboard(
        &self,
        actions: crate::ui::actions::Actions,
    ) -> Option<(crate::ui::server::Server, tokio::task::JoinHandle<()>)> {
        let live = Arc::new(crate::ui::hub::Live::default());
        let logs = self.logs.clone();
        let environments =
            Arc::new(crate::ui::environments::Environments::new(Some(self.project.dir.clone()), self.profile.clone()));
        let parts = crate::ui::server::Parts {
            logs: logs.clone(),
            builds: self.builds.clone(),
            actions: Some(Arc::new(actions)),
            environments: environments.clone(),
        };
        let server = match crate::ui::server::start(live.clone(), parts).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "the dashboard cannot start; the daemon goes on without it");
                return None;
            }
        };
        let record = crate::ui::record::Record { url: server.url(), pid: std::process::id() };
        if let Err(e) = crate::ui::record::write(&self.paths.ui_record(), &record) {
            tracing::warn!(error = %e, "cannot record the dashboard's URL; `nexus-dev ui` will not find it");
        }
        tracing::info!(addr = %server.addr, "dashboard serving");
        // The collector follows the pods of the capabilities the feed publishes; both stop
        // with the returned task.
        let collector = crate::ui::logs::collect::run(self.client.clone(), live.clone(), logs);
        let feed = crate::ui::feed::run(
            self.client.clone(),
            self.project_id.clone(),
            self.profile.clone(),
            self.hints(),
            live,
            environments,
        );
        let feed = tokio::spawn(async move {
            futures::join!(feed, collector);
        });
        Some((server, feed))
    }
}

impl Daemon {
    /// What the dashboard's ready-made commands need from the daemon: its kube context, its
    /// environment, each capability's spec file, and an EKS profile of the project to name.
    fn hints(&self) -> crate::ui::commands::Hints {
        let specs = crate::input::project::specs(&self.project, self.environment.as_deref()).unwrap_or_default();
        let spec_files = specs
            .iter()
            .map(|s| {
                let path = Path::new(&s.doc.source.name);
                let relative = path.strip_prefix(&self.project.dir).unwrap_or(path).display().to_string();
                (format!("{}/{}", s.cr.spec.capability_name, s.cr.spec.environment), relative)
            })
            .collect();
        crate::ui::commands::Hints {
            kube_context: crate::provision::kube::client::context(&self.profile),
            environment: self.environment.clone(),
            spec_files,
            promote_to: eks_profile(&self.project.dir),
        }
    }
}

/// The first EKS profile in the project's `profiles/` (by name), to name in a `promote` command.
fn eks_profile(project_dir: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(project_dir.join("profiles"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_owned))
        .filter(|n| {
            crate::input::profile::resolve(n, project_dir)
                .is_ok_and(|p| p.profile.cluster.provider == crate::model::profile::ClusterProvider::Eks)
        })
        .collect();
    names.sort();
    names.into_iter().next()
}

/// Applies the project's capabilities to the cluster, labelled as this project's. None is
/// applied when one of them is another project's (issue 21): that project is named.
pub async fn apply_project(d: &Daemon) -> Result<Vec<String>, String> {
    let specs = crate::input::project::specs(&d.project, d.environment.as_deref()).map_err(|e| e.to_string())?;
    let live = kube::Api::<NexusAICapability>::all(d.client.clone()).list(&Default::default()).await;
    // No CRD yet means no capability yet.
    let live = live.map(|l| l.items).unwrap_or_default();
    for s in &specs {
        if let Some((theirs, project)) = claimed_by_other(&s.cr, &live, &d.project_id) {
            let whose = match machine::dir_of(project) {
                Some(dir) => format!("the project in {}", dir.display()),
                None => format!("project {project} (not recorded on this machine)"),
            };
            return Err(format!(
                "{}: capability {} ({}) derives the same names as {}/{} of {whose}: two projects cannot provision the same resources\n  hint: change capabilityName or environment here, or remove it there first (`nexus-dev delete -f SPEC` in that project)",
                s.origin(),
                s.cr.spec.capability_name,
                s.cr.spec.environment,
                theirs.namespace().unwrap_or_default(),
                theirs.name_any(),
            ));
        }
    }
    let mut applied = Vec::new();
    for s in &specs {
        let mut cr = s.cr.clone();
        cr.metadata.labels.get_or_insert_with(Default::default).insert(PROJECT_LABEL.into(), d.project_id.clone());
        let pinned = live
            .iter()
            .find(|l| l.spec.capability_name == cr.spec.capability_name && l.spec.environment == cr.spec.environment)
            .map(crate::model::plan::built_images)
            .unwrap_or_default();
        for c in d.project.project.components.iter() {
            let tier = c.component.as_str();
            let ours = crate::watch::setup::spec_of(c, &specs).is_ok_and(|o| std::ptr::eq(o, s));
            if ours && !pinned.contains_key(tier) {
                cr.annotations_mut()
                    .insert(format!("{}{tier}", crate::model::plan::AWAITING_BUILD_ANNOTATION), c.name.clone());
            }
        }
        let live =
            crate::provision::kube::put_capability(&d.client, &cr).await.map_err(|e| format!("{}: {e}", s.origin()))?;
        applied.push(crate::reconcile::key(&live));
    }
    Ok(applied)
}

/// The capability of another project that `cr` would take over, with that project's id: the
/// same custom resource, or the same capability name and environment (the pair that owns every
/// AWS resource and derives every name). Capabilities no project labelled are not a project's.
pub fn claimed_by_other<'a>(
    cr: &NexusAICapability,
    live: &'a [NexusAICapability],
    project: &str,
) -> Option<(&'a NexusAICapability, &'a str)> {
    live.iter().find_map(|other| {
        let theirs = other.labels().get(PROJECT_LABEL).filter(|p| p.as_str() != project)?;
        let same_object = other.name_any() == cr.name_any() && other.namespace() == cr.namespace();
        let same_names =
            other.spec.capability_name == cr.spec.capability_name && other.spec.environment == cr.spec.environment;
        (same_object || same_names).then_some((other, theirs.as_str()))
    })
}

/// The socket path of a project directory's daemon, for clients.
pub fn socket_of(project_id: &str) -> PathBuf {
    Paths::for_project(project_id).socket
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capability_another_project_labelled_is_theirs_by_object_or_by_derived_names() {
        let cap = |ns: &str, name: &str, capability: &str, env: &str, project: Option<&str>| {
            let mut cr = crate::model::spec::NexusAICapability::new(
                name,
                serde_json::from_value(serde_json::json!({"capabilityName": capability, "environment": env, "version": "1", "region": "us-east-1", "frontend": {"image": "f"}, "backend": {"image": "b"}})).unwrap(),
            );
            cr.metadata.namespace = Some(ns.into());
            if let Some(p) = project {
                cr.labels_mut().insert(PROJECT_LABEL.into(), p.into());
            }
            cr
        };
        let mine = cap("a", "orders", "orders", "dev", None);
        let live = [
            cap("a", "orders", "orders", "dev", Some("me")),
            cap("b", "billing", "billing", "dev", None),
            cap("c", "other-cr", "orders", "dev", Some("them")),
        ];
        let (theirs, project) = claimed_by_other(&mine, &live, "me").unwrap();
        assert_eq!((theirs.name_any().as_str(), project), ("other-cr", "them"), "same capability name and environment");
        assert!(claimed_by_other(&cap("a", "orders", "orders", "prod", None), &live, "me").is_none());
        assert!(claimed_by_other(&cap("b", "billing", "billing", "dev", None), &live, "me").is_none(), "no project's");
        let same_object = [cap("a", "orders", "renamed", "dev", Some("them"))];
        assert!(claimed_by_other(&mine, &same_object, "me").is_some(), "the same custom resource");
    }

    #[test]
    fn one_lock_per_project() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            dir: dir.path().to_path_buf(),
            lock: dir.path().join("daemon.lock"),
            socket: dir.path().join("daemon.sock"),
            log: dir.path().join("daemon.log"),
        };
        assert!(!running(&paths));
        let held = lock(&paths).unwrap();
        assert!(running(&paths));
        assert!(matches!(lock(&paths), Err(DaemonError::AlreadyRunning(_))));
        drop(held);
        assert!(!running(&paths));
        assert!(lock(&paths).is_ok());
    }

    #[test]
    fn the_state_directory_and_log_are_private_even_if_they_were_not() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = base.path().join("projects").join("abc");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("daemon.log"), "old").unwrap();
        std::fs::set_permissions(dir.join("daemon.log"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let paths = Paths {
            lock: dir.join("daemon.lock"),
            socket: dir.join("daemon.sock"),
            log: dir.join("daemon.log"),
            dir: dir.clone(),
        };
        paths.open_log().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&base.path().join("projects")), 0o700);
        assert_eq!(mode(&dir.join("daemon.log")), 0o600);
        assert_eq!(mode(base.path()), 0o755, "above projects/ nothing is touched");
    }
}
