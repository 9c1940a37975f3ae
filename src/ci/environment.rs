//! The harness as a library, for a downstream project's Rust tests: the environment `nexus-dev
//! ci` sets up, without a test command, torn down when dropped.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let env = nexus_dev::ci::Environment::up("examples/apps").await?;
//! let table = &env.vars()["NEXUS_MYAPP_DYNAMODB_LICENSE_TABLE"];
//! let backend = &env.vars()["NEXUS_MYAPP_URL_BACKEND"];
//! // … the test, against `backend` and the emulator at env.vars()["AWS_ENDPOINT_URL"] …
//! env.down().await; // or let it drop
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{Options, Reporter, Run, Stop, Summary, Verdict, vars};
use crate::session::{Progress, Session};

/// The project's environment, up and ready, for as long as this value lives.
pub struct Environment {
    run: Option<Run>,
    info: vars::Environment,
    vars: BTreeMap<String, String>,
}

/// The environment did not come up; the summary says where, and its snapshot why.
#[derive(Debug, thiserror::Error)]
#[error("the environment did not come up ({:?}): {}{}", .0.verdict, .0.message.as_deref().unwrap_or(""), .0.snapshot.as_ref().map(|s| format!("; snapshot: {}", s.display())).unwrap_or_default())]
pub struct Failed(pub Box<Summary>);

/// Says nothing: a test's output is the test's.
struct Quiet;
impl Progress for Quiet {}
impl Reporter for Quiet {}

impl Environment {
    /// The environment of the project in `dir` (or a parent), with its own profile, under the
    /// harness's defaults (`nexus-dev ci --help`). The project's daemon (its port-forwards) runs
    /// in this process, on the caller's runtime: a multi-threaded one, so that it still answers
    /// while `Drop` waits for the teardown.
    pub async fn up(dir: impl AsRef<Path>) -> Result<Self, Failed> {
        Self::up_with(dir, None, Options { daemon_in_process: true, ..Options::default() }).await
    }

    /// [`Environment::up`] with a profile and options of its own (`options.command` is not run).
    pub async fn up_with(dir: impl AsRef<Path>, profile: Option<&str>, options: Options) -> Result<Self, Failed> {
        let session = Session::discover(dir.as_ref(), profile, options.environment.as_deref())
            .map_err(|e| Stop(Verdict::Usage, e.to_string()))?;
        // The futures of `up` are large; on the heap they fit a test thread's 2 MiB stack.
        let mut run = Run::new(session, options, Arc::new(Quiet));
        if let Err(stop) = Box::pin(run.setup()).await {
            return Err(Failed(Box::new(Box::pin(run.finish(Some(stop))).await)));
        }
        let (info, vars) = match Box::pin(run.variables()).await {
            Ok(v) => v,
            Err(stop) => return Err(Failed(Box::new(Box::pin(run.finish(Some(stop))).await))),
        };
        Ok(Self { run: Some(run), info, vars })
    }

    /// The variables a test command of `nexus-dev ci` gets (docs/ci.md).
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// The same, structured: endpoints, capabilities, parameters, URLs.
    pub fn info(&self) -> &vars::Environment {
        &self.info
    }

    /// Tears down what this environment created; what `Drop` does, awaited.
    pub async fn down(mut self) -> Summary {
        let run = self.run.take().expect("an environment is torn down once");
        Box::pin(run.finish(None)).await
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else { return };
        // Drop cannot await, and the test's runtime may be the one blocked here: the teardown
        // runs on a runtime of its own, on another thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(Box::pin(run.finish(None)));
        })
        .join();
    }
}

impl Default for Options {
    /// `nexus-dev ci`'s defaults, with no command.
    fn default() -> Self {
        let d = |s| humantime::parse_duration(s).unwrap_or_default();
        Self {
            timeout: d(super::defaults::TIMEOUT),
            up_timeout: d(super::defaults::UP_TIMEOUT),
            ready_timeout: d(super::defaults::READY_TIMEOUT),
            grace: d(super::defaults::GRACE),
            junit: None,
            snapshot_dir: super::runs_dir().join("snapshots"),
            keep: false,
            fresh: false,
            command: Vec::new(),
            command_stdout_to_stderr: false,
            daemon_in_process: false,
            environment: None,
        }
    }
}

/// A failure before a run began: a summary of its verdict and message only.
impl From<Stop> for Failed {
    fn from(Stop(verdict, message): Stop) -> Self {
        Failed(Box::new(Summary {
            run_id: String::new(),
            project: String::new(),
            profile: String::new(),
            verdict,
            exit_code: verdict.code(),
            message: Some(message),
            phases: Vec::new(),
            steps: Vec::new(),
            reconcile: Vec::new(),
            command_exit: None,
            dir: Default::default(),
            junit: None,
            snapshot: None,
            ms: 0,
        }))
    }
}
