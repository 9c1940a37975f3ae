//! The local environment as library steps (DESIGN.md §6): `up`, `down` and `doctor` return
//! typed reports, and tell what they do as they go through a [`Progress`] their front end gives
//! (the CLI prints it; the dashboard can stream it).

pub mod doctor;
pub mod down;
pub mod scan;
pub mod up;

use std::time::Instant;

use serde::Serialize;

use crate::daemon::Paths;
use crate::env::ProjectId;
use crate::env::preflight::Check;
use crate::input::profile::LoadedProfile;
use crate::model::project::LoadedProject;
use crate::watch::Event;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the project, its profile or its specs, before anything is touched.
    #[error(transparent)]
    Input(BoxError),
    /// One step failed; what came before it stays.
    #[error("{step}: {error}")]
    Step { step: &'static str, error: BoxError },
    #[error("prerequisites missing; nothing was started (see `nexus-dev doctor`)")]
    Prerequisites,
    /// The images did not build or deploy (their events said why).
    #[error("{0}\n  hint: fix the build and run `nexus-dev up` again (or `nexus-dev watch`)")]
    Images(String),
    /// The capabilities did not reach Running in time.
    #[error(
        "{message}\n  hint: `nexus-dev status` shows the phases; `nexus-dev logs` the workloads; the daemon logs to {log}"
    )]
    NotRunning { message: String, log: String },
}

impl Error {
    fn input(e: impl Into<BoxError>) -> Self {
        Error::Input(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The project of a directory, the profile it uses, and its id.
#[derive(Debug, Clone)]
pub struct Session {
    pub project: LoadedProject,
    pub profile: LoadedProfile,
    pub id: ProjectId,
    /// The project environment `--env` selected, if any.
    pub environment: Option<String>,
}

impl Session {
    /// The project found from `dir` upwards, with `--profile` (or that of the environment
    /// `--env` selects, or the project's own).
    pub fn discover(dir: &std::path::Path, profile: Option<&str>, environment: Option<&str>) -> Result<Self> {
        let project = crate::input::project::discover(dir).map_err(Error::input)?;
        if let Some(name) = environment
            && !project.project.environments.contains_key(name)
        {
            // The same located error as for the specs.
            crate::input::project::specs(&project, Some(name)).map_err(Error::input)?;
        }
        let name = crate::input::settings::profile_name(profile, Some(&project), environment);
        let profile = crate::input::profile::resolve(&name, &project.dir).map_err(Error::input)?;
        let id = ProjectId::from_dir(&project.dir);
        Ok(Self { project, profile, id, environment: environment.map(str::to_owned) })
    }

    /// The project's specs with its layers merged in, for this session's environment.
    pub fn specs(&self) -> Result<Vec<crate::input::spec::LoadedSpec>, crate::input::spec::LoadError> {
        crate::input::project::specs(&self.project, self.environment.as_deref())
    }

    /// What the machine's list of projects says about this one.
    pub fn record(&self) -> crate::daemon::machine::Record {
        crate::daemon::machine::Record {
            dir: self.project.dir.clone(),
            file: self.project.file.clone(),
            profile: self.profile.profile.name.clone(),
            environment: self.environment.clone(),
        }
    }

    /// Where the project's daemon keeps its lock, socket and log.
    pub fn paths(&self) -> Paths {
        Paths::for_project(self.id.as_str())
    }
}

/// One step done: its name, what it did, how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRow {
    pub step: String,
    pub result: String,
    pub ms: u128,
}

/// What a session tells as it goes. Every method has a default that says nothing.
pub trait Progress: Send + Sync {
    /// `up` begins: the project, how many capabilities, the profile.
    fn begin(&self, _project: &str, _capabilities: usize, _profile: &str) {}
    fn step(&self, _row: &StepRow) {}
    fn step_failed(&self, _step: &str, _ms: u128) {}
    /// A preflight check that warns or blocks.
    fn check(&self, _check: &Check) {}
    /// Something that works but will not do what a user expects, and the fix.
    fn warning(&self, _what: &str, _detail: &str, _fix: &str) {}
    /// What watch mode does while `up` builds the images.
    fn event(&self, _event: &Event) {}
}

/// Runs steps, timing and reporting each.
struct Steps<'a> {
    progress: &'a dyn Progress,
    start: Instant,
    rows: Vec<StepRow>,
}

impl<'a> Steps<'a> {
    fn new(progress: &'a dyn Progress) -> Self {
        Self { progress, start: Instant::now(), rows: Vec::new() }
    }

    async fn run<T, E: Into<BoxError>>(
        &mut self,
        step: &'static str,
        f: impl std::future::Future<Output = Result<(T, String), E>>,
    ) -> Result<T> {
        let t = Instant::now();
        match f.await {
            Ok((v, result)) => {
                let row = StepRow { step: step.to_owned(), result, ms: t.elapsed().as_millis() };
                self.progress.step(&row);
                self.rows.push(row);
                Ok(v)
            }
            Err(e) => {
                self.progress.step_failed(step, t.elapsed().as_millis());
                Err(Error::Step { step, error: e.into() })
            }
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
