//! `nexus-dev ci`: the integration-test harness. One run: claim the machine (reaping what a
//! dead run left), bring the project's environment up as `up` does, wait until everything is
//! ready (failing fast on what waiting cannot fix), run the test command with the environment
//! in its variables, report (JUnit, JSON, GitHub's step summary), snapshot on failure, and tear
//! down what the run created. Design: docs/design/ci.md; for users: docs/ci.md.

mod environment;
pub mod ready;
pub mod report;
pub mod runs;
pub mod snapshot;
pub mod vars;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::env::Engine;
use crate::input::spec::LoadedSpec;
use crate::session::{self, Progress, Session, StepRow};
pub use environment::{Environment, Failed};
use report::{Case, Suite};

/// The defaults of the budgets, shared by the flags and [`Options::default`].
pub mod defaults {
    pub const TIMEOUT: &str = "30m";
    pub const UP_TIMEOUT: &str = "10m";
    pub const READY_TIMEOUT: &str = "5m";
    pub const GRACE: &str = "20s";
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// The whole run, setup and tests; at the end of it the run snapshots and tears down.
    pub timeout: Duration,
    /// Bringing the environment up: cluster, containers, images, every capability Running.
    pub up_timeout: Duration,
    /// After `up`: every Job complete.
    pub ready_timeout: Duration,
    /// How long an image that cannot be pulled, a crash loop or a failed Pod may last before
    /// the run fails on it.
    pub grace: Duration,
    pub junit: Option<PathBuf>,
    /// Where the snapshot of a failed run goes.
    pub snapshot_dir: PathBuf,
    /// Leave the environment up at the end.
    pub keep: bool,
    /// Tear down this project's environment first, so that nothing is reused.
    pub fresh: bool,
    /// The test command and its arguments.
    pub command: Vec<String>,
    /// Send the command's standard output to standard error (stdout carries `-o json`).
    pub command_stdout_to_stderr: bool,
    /// Run the project's daemon in this process (the library's [`Environment`]: a test binary
    /// cannot start `nexus-dev daemon`) instead of in the background.
    pub daemon_in_process: bool,
    /// The project environment (`--env`) of the library's [`Environment`]; `nexus-dev ci`
    /// gives it to the session.
    pub environment: Option<String>,
}

/// How a run ended; each has its exit code (docs/ci.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The tests passed: 0.
    Passed,
    /// The tests failed: 1.
    TestsFailed,
    /// Usage or configuration: 2.
    Usage,
    /// The environment failed, not the tests: 3.
    Environment,
    /// A time budget ran out: 4.
    Timeout,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Passed => "passed",
            Verdict::TestsFailed => "the tests failed",
            Verdict::Usage => "usage or configuration error",
            Verdict::Environment => "the environment failed",
            Verdict::Timeout => "out of time",
        })
    }
}

impl Verdict {
    pub fn code(self) -> u8 {
        match self {
            Verdict::Passed => 0,
            Verdict::TestsFailed => 1,
            Verdict::Usage => 2,
            Verdict::Environment => 3,
            Verdict::Timeout => 4,
        }
    }
}

/// What a run did (`-o json`, and `summary.json` in the run's directory).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub run_id: String,
    pub project: String,
    pub profile: String,
    pub verdict: Verdict,
    pub exit_code: u8,
    /// Why it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The run's phases: reap, up, ready, test, snapshot, teardown.
    pub phases: Vec<Case>,
    /// The steps of `up`.
    pub steps: Vec<Case>,
    /// Each capability's resources and conditions, as the reconciler reported them.
    pub reconcile: Vec<Case>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_exit: Option<i32>,
    /// The run's directory: env.json, summary.json, build.log, kubeconfig.
    pub dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub junit: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<PathBuf>,
    pub ms: u128,
}

/// What a run tells as it goes, beyond `up`'s steps.
pub trait Reporter: Progress {
    /// A phase ended; `left` of the global budget remains.
    fn phase(&self, _case: &Case, _left: Duration) {}
}

/// The run's failure: its verdict and why.
struct Stop(Verdict, String);

/// Where runs keep their claim and their directories: `STATE/ci`.
pub fn runs_dir() -> PathBuf {
    crate::input::settings::state_dir().join("ci")
}

/// One run of the harness in `session`'s project.
pub async fn run(session: Session, options: Options, reporter: Arc<dyn Reporter>) -> Summary {
    let mut r = Run::new(session, options, reporter);
    let stop = match r.setup().await {
        Ok(()) => r.test().await.err(),
        Err(stop) => Some(stop),
    };
    r.finish(stop).await
}

/// A run in progress.
struct Run {
    session: Arc<Session>,
    o: Arc<Options>,
    reporter: Arc<dyn Reporter>,
    id: String,
    dir: PathBuf,
    start: Instant,
    deadline: Instant,
    phases: Vec<Case>,
    steps: Arc<Mutex<Vec<Case>>>,
    reconcile: Vec<Case>,
    specs: Vec<LoadedSpec>,
    claim: Option<runs::Claim>,
    created_environment: bool,
    new_cluster: Option<String>,
    client: Option<kube::Client>,
    command_exit: Option<i32>,
    build_log: Arc<Mutex<Option<std::fs::File>>>,
}

impl Run {
    fn new(session: Session, o: Options, reporter: Arc<dyn Reporter>) -> Self {
        let start = Instant::now();
        let id = runs::new_id();
        let dir = runs_dir().join(&id);
        let deadline = start + o.timeout;
        Self {
            session: Arc::new(session),
            o: Arc::new(o),
            reporter,
            id,
            dir,
            start,
            deadline,
            phases: Vec::new(),
            steps: Arc::default(),
            reconcile: Vec::new(),
            specs: Vec::new(),
            claim: None,
            created_environment: false,
            new_cluster: None,
            client: None,
            command_exit: None,
            build_log: Arc::default(),
        }
    }

    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn record(&mut self, case: Case) {
        self.reporter.phase(&case, self.left());
        self.phases.push(case);
    }

    /// Runs `phase` within `budget` (and what is left of the run's), recording it.
    async fn phase<T>(
        &mut self,
        name: &str,
        budget: Duration,
        f: impl std::future::Future<Output = Result<(T, String), Stop>>,
    ) -> Result<T, Stop> {
        let t = Instant::now();
        let global = self.left() <= budget;
        let result = match tokio::time::timeout(budget.min(self.left()), f).await {
            Ok(r) => r,
            Err(_) if global => Err(Stop(
                Verdict::Timeout,
                format!("{name}: the run's --timeout of {} ran out", humantime::format_duration(self.o.timeout)),
            )),
            Err(_) => Err(Stop(
                Verdict::Timeout,
                format!("{name}: not done within its budget of {}", humantime::format_duration(budget)),
            )),
        };
        let ms = t.elapsed().as_millis();
        match result {
            Ok((v, detail)) => {
                self.record(Case::passed(name, ms).with(detail));
                Ok(v)
            }
            Err(Stop(verdict, why)) => {
                self.record(Case::failed(name, ms, why.clone()));
                Err(Stop(verdict, why))
            }
        }
    }

    /// Everything before the test command: the machine claimed, the environment up and ready.
    async fn setup(&mut self) -> Result<(), Stop> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Stop(Verdict::Environment, format!("cannot create {}: {e}", self.dir.display())))?;
        *self.build_log.lock().unwrap_or_else(|e| e.into_inner()) =
            std::fs::File::create(self.dir.join("build.log")).ok();
        self.specs = self.session.specs().map_err(|e| Stop(Verdict::Usage, e.to_string()))?;

        // Claim the machine; reap what a dead run left.
        let (claim, dead) = runs::claim(&runs_dir()).map_err(|e| Stop(Verdict::Environment, e.to_string()))?;
        self.claim = Some(claim);
        runs::prune(&runs_dir(), runs::KEPT);
        self.phase("reap", Duration::from_secs(180), reap(dead)).await?;
        if self.o.fresh {
            let s = self.session.clone();
            self.phase("fresh", Duration::from_secs(180), async move {
                let done = session::down::down(&s, session::down::Options { purge: true, force: false })
                    .await
                    .map_err(|e| Stop(Verdict::Environment, e.to_string()))?;
                Ok(((), format!("{} removed", done.lines.len())))
            })
            .await?;
        }
        self.created_environment = environment_down(&self.session).await;
        self.new_cluster = new_cluster(&self.session).await;
        let record = runs::Run {
            id: self.id.clone(),
            pid: std::process::id(),
            project_dir: self.session.project.dir.clone(),
            profile: self.session.profile.origin_arg(),
            created_environment: self.created_environment,
            new_cluster: self.new_cluster.clone(),
            environment: self.session.environment.clone(),
        };
        if let Some(c) = &self.claim {
            c.record(&record).map_err(|e| Stop(Verdict::Environment, format!("cannot write the run's record: {e}")))?;
        }

        self.up().await?;
        self.ready().await
    }

    /// `up`, raced against the watch for what waiting cannot fix.
    async fn up(&mut self) -> Result<(), Stop> {
        let options = session::up::Options {
            foreground: self.o.daemon_in_process,
            rollout_timeout: self.o.up_timeout,
            timeout: self.o.up_timeout,
            reseed: false,
        };
        let profile = self.session.profile.profile.clone();
        let namespaces = self.namespaces();
        let grace = self.o.grace;
        let session = self.session.clone();
        let recorder =
            Recorder { reporter: self.reporter.clone(), steps: self.steps.clone(), build_log: self.build_log.clone() };
        let watched = async {
            let connect = || {
                let profile = profile.clone();
                Box::pin(async move { crate::provision::kube::client::for_profile(&profile).await.ok() })
                    as futures::future::BoxFuture<'static, Option<kube::Client>>
            };
            tokio::select! {
                up = session::up::up(&session, &options, &recorder) => match up {
                    Ok(up) => {
                        let failed: Vec<String> = up.report.capabilities.iter()
                            .filter(|c| c.phase == crate::model::spec::Phase::Failed)
                            .map(|c| format!("{} Failed: {}", c.name, c.message.as_deref().unwrap_or("")))
                            .collect();
                        if failed.is_empty() {
                            let running = up.report.capabilities.len();
                            Ok((up.client, format!("{running} capabilities Running")))
                        } else {
                            Err(Stop(Verdict::Environment, failed.join("; ")))
                        }
                    }
                    Err(e @ session::Error::Input(_)) => Err(Stop(Verdict::Usage, e.to_string())),
                    Err(e) => Err(Stop(Verdict::Environment, e.to_string())),
                },
                problems = ready::first_lasting_problem(connect, &namespaces, grace) => Err(Stop(
                    Verdict::Environment,
                    format!("not going to be ready (seen for {}): {}", humantime::format_duration(grace),
                        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
                )),
            }
        };
        let budget = self.o.up_timeout;
        let client = self.phase("up", budget, watched).await;
        match client {
            Ok(c) => {
                self.client = Some(c);
                Ok(())
            }
            Err(stop) => {
                // The snapshot reads the cluster when there is one.
                self.client = crate::provision::kube::client::for_profile(&self.session.profile.profile).await.ok();
                Err(stop)
            }
        }
    }

    fn namespaces(&self) -> Vec<String> {
        self.specs.iter().map(|s| crate::model::plan::build(&s.cr, &self.session.profile.profile).namespace).collect()
    }

    /// Every Job complete, nothing failing; then the capabilities' own report.
    async fn ready(&mut self) -> Result<(), Stop> {
        let Some(client) = self.client.clone() else { return Ok(()) };
        let namespaces = self.namespaces();
        let grace = self.o.grace;
        let wait = async {
            let mut watch = ready::Watch::new(grace);
            loop {
                let w = ready::Workloads::read(&client, &namespaces)
                    .await
                    .map_err(|e| Stop(Verdict::Environment, format!("cannot read the cluster: {e}")))?;
                let lasting = watch.observe(w.problems(), Instant::now());
                if !lasting.is_empty() {
                    let shown: Vec<String> = lasting.iter().map(ToString::to_string).collect();
                    return Err(Stop(Verdict::Environment, shown.join("; ")));
                }
                if w.waiting().is_empty() {
                    let (d, p, j) = (w.deployments.len(), w.pods.len(), w.jobs.len());
                    return Ok(((), format!("{d} deployments rolled out, {p} pods, {j} jobs complete")));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        };
        let budget = self.o.ready_timeout;
        let done = self.phase("ready", budget, wait).await;
        self.reconcile = reconcile_cases(&client, &self.specs).await;
        done
    }

    /// The environment as variables (docs/ci.md), written to `env.json` too.
    async fn variables(&self) -> Result<(vars::Environment, BTreeMap<String, String>), Stop> {
        let env = self.environment().await?;
        let env_file = self.dir.join("env.json");
        std::fs::write(&env_file, serde_json::to_vec_pretty(&env).unwrap_or_default())
            .map_err(|e| Stop(Verdict::Environment, format!("cannot write {}: {e}", env_file.display())))?;
        let junit = self.dir.join("junit-command.xml");
        let vars = env.variables(&env_file.display().to_string(), &junit.display().to_string());
        Ok((env, vars))
    }

    /// The test command, with the environment in its variables.
    async fn test(&mut self) -> Result<(), Stop> {
        let (_, vars) = self.variables().await?;
        let command = self.o.command.clone();
        let t = Instant::now();
        let Some((program, args)) = command.split_first() else {
            return Err(Stop(Verdict::Usage, "no test command: give it after `--`".into()));
        };
        let mut child = Group::spawn(program, args, &vars, self.o.command_stdout_to_stderr)
            .map_err(|e| Stop(Verdict::Usage, format!("cannot run `{program}`: {e}")))?;
        let name = "test";
        let status = tokio::time::timeout(self.left(), child.wait()).await;
        let ms = t.elapsed().as_millis();
        match status {
            Err(_) => {
                child.kill();
                let why = format!("the run's --timeout of {} ran out", humantime::format_duration(self.o.timeout));
                self.record(Case::failed(name, ms, why.clone()));
                Err(Stop(Verdict::Timeout, format!("test: {why}")))
            }
            Ok(Err(e)) => Err(Stop(Verdict::Environment, format!("waiting for the test command: {e}"))),
            Ok(Ok(status)) => {
                self.command_exit = status.code();
                if status.success() {
                    self.record(Case::passed(name, ms).with(command.join(" ")));
                    Ok(())
                } else {
                    let why = format!("exited with {status}");
                    self.record(Case::failed(name, ms, why.clone()));
                    Err(Stop(Verdict::TestsFailed, format!("the test command {why}")))
                }
            }
        }
    }

    /// The environment as the test command sees it.
    async fn environment(&self) -> Result<vars::Environment, Stop> {
        let profile = &self.session.profile.profile;
        let status = match self.session.paths() {
            p if crate::daemon::running(&p) => crate::daemon::protocol::status(&p.socket).await.unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut capabilities = Vec::new();
        for s in &self.specs {
            let spec = s.spec();
            let plan = crate::model::plan::build(&s.cr, profile);
            let target = crate::provision::aws::Target::of(profile, &spec.region);
            let ssm = crate::provision::aws::Clients::connect(&target).await.ssm;
            let root = format!("/{}/{}/", spec.capability_name, spec.environment);
            let parameters = parameters(&ssm, &root)
                .await
                .map_err(|e| Stop(Verdict::Environment, format!("cannot read the parameters under {root}: {e}")))?;
            let urls = status
                .iter()
                .filter(|c| c.capability == spec.capability_name)
                .flat_map(|c| c.forwards.iter().map(|f| (f.component.clone(), f.url.clone())))
                .collect();
            capabilities.push(vars::Capability {
                name: spec.capability_name.clone(),
                environment: spec.environment.clone(),
                namespace: plan.namespace,
                region: spec.region.clone(),
                parameters,
                urls,
            });
        }
        let region = self.specs.first().map(|s| s.spec().region.clone()).unwrap_or_else(|| "us-east-1".into());
        Ok(vars::Environment {
            run_id: self.id.clone(),
            profile: self.session.profile.origin_arg(),
            kubeconfig: self.kubeconfig().await?,
            aws: vars::Aws { endpoint: profile.aws.endpoint.clone(), region, account: profile.aws.account.clone() },
            capabilities,
        })
    }

    /// A kubeconfig for the test command: kind's for a kind cluster, written to the run's
    /// directory; else the profile's, or the one the user's tools use.
    async fn kubeconfig(&self) -> Result<String, Stop> {
        let profile = &self.session.profile.profile;
        if let Some(k) = &profile.cluster.kubeconfig {
            return Ok(k.clone());
        }
        if profile.cluster.provider == crate::model::profile::ClusterProvider::Kind {
            let name = profile.cluster.name.clone().unwrap_or_else(|| "nexus-dev".into());
            let cli = crate::env::kind::KindCli::locate().map_err(|e| Stop(Verdict::Environment, e.to_string()))?;
            let text = cli.kubeconfig(&name).await.map_err(|e| Stop(Verdict::Environment, e.to_string()))?;
            let path = self.dir.join("kubeconfig");
            std::fs::write(&path, text)
                .map_err(|e| Stop(Verdict::Environment, format!("cannot write {}: {e}", path.display())))?;
            return Ok(path.display().to_string());
        }
        Ok(std::env::var("KUBECONFIG").ok().filter(|k| !k.is_empty()).unwrap_or_else(|| {
            std::env::var("HOME").map(|h| format!("{h}/.kube/config")).unwrap_or_else(|_| ".kube/config".into())
        }))
    }

    /// Snapshot (when it failed), tear down (unless `--keep`), report.
    async fn finish(mut self, stop: Option<Stop>) -> Summary {
        let (verdict, message) = match stop {
            None => (Verdict::Passed, None),
            Some(Stop(v, m)) => (v, Some(m)),
        };
        let summary_file = self.dir.join("summary.json");
        let mut snapshot = None;
        // A run that did not get the machine has nothing of its own to snapshot.
        if verdict != Verdict::Passed && verdict != Verdict::Usage && self.claim.is_some() {
            let t = Instant::now();
            let _ = std::fs::write(
                &summary_file,
                serde_json::to_vec_pretty(&self.summary(verdict, &message, None)).unwrap_or_default(),
            );
            let engine = Engine::connect(crate::env::ProjectId::shared()).await.ok();
            let subject = snapshot::Subject {
                run_id: &self.id,
                profile: &self.session.profile.profile,
                specs: &self.specs,
                client: self.client.clone(),
                engine: engine.as_ref(),
                daemon_log: &self.session.paths().log,
                run_files: &[self.dir.join("build.log"), summary_file.clone(), self.dir.join("env.json")],
            };
            let taken =
                tokio::time::timeout(Duration::from_secs(120), snapshot::take(&subject, &self.o.snapshot_dir)).await;
            let ms = t.elapsed().as_millis();
            match taken {
                Ok(Ok(path)) => {
                    self.record(Case::passed("snapshot", ms).with(path.display().to_string()));
                    snapshot = Some(path);
                }
                Ok(Err(e)) => self.record(Case::failed("snapshot", ms, e.to_string())),
                Err(_) => self.record(Case::failed("snapshot", ms, "not taken within 2 min")),
            }
        }
        if self.claim.is_some() {
            self.teardown().await;
        }
        if let Some(claim) = self.claim.take() {
            claim.finish();
        }
        let summary = self.summary(verdict, &message, snapshot);
        let _ = std::fs::write(&summary_file, serde_json::to_vec_pretty(&summary).unwrap_or_default());
        if let Some(path) = &self.o.junit {
            let merged = std::fs::read_to_string(self.dir.join("junit-command.xml")).ok();
            let suites = [
                Suite { name: "nexus-dev ci".into(), cases: summary.phases.clone() },
                Suite { name: "nexus-dev up".into(), cases: summary.steps.clone() },
                Suite { name: "reconcile".into(), cases: summary.reconcile.clone() },
            ];
            if let Err(e) = std::fs::write(path, report::junit(&suites, merged.as_deref())) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the JUnit file");
            }
        }
        if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
            use std::io::Write as _;
            let md = report::step_summary(&format!("nexus-dev ci: {}", self.session.id), &summary.phases);
            if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(path) {
                let _ = f.write_all(md.as_bytes());
            }
        }
        summary
    }

    /// Removes what the run created, and nothing else: the whole environment when the run
    /// brought it up, nothing when it reused one that was up.
    async fn teardown(&mut self) {
        let t = Instant::now();
        if self.o.keep {
            self.record(Case::passed("teardown", 0).with("kept (--keep)"));
            return;
        }
        if !self.created_environment {
            self.record(Case::passed("teardown", 0).with("the environment was up before this run: left as it was"));
            return;
        }
        let removal = remove_environment(&self.session, self.new_cluster.as_deref());
        let done = tokio::time::timeout(Duration::from_secs(300), removal).await;
        let ms = t.elapsed().as_millis();
        match done {
            Ok(Ok(n)) => self.record(Case::passed("teardown", ms).with(format!("{n} removed"))),
            Ok(Err(e)) => self.record(Case::failed("teardown", ms, e.to_string())),
            Err(_) => self.record(Case::failed("teardown", ms, "not done within 5 min")),
        }
    }

    fn summary(&self, verdict: Verdict, message: &Option<String>, snapshot: Option<PathBuf>) -> Summary {
        Summary {
            run_id: self.id.clone(),
            project: self.session.id.as_str().to_owned(),
            profile: self.session.profile.profile.name.clone(),
            verdict,
            exit_code: verdict.code(),
            message: message.clone(),
            phases: self.phases.clone(),
            steps: self.steps.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            reconcile: self.reconcile.clone(),
            command_exit: self.command_exit,
            dir: self.dir.clone(),
            junit: self.o.junit.clone(),
            snapshot,
            ms: self.start.elapsed().as_millis(),
        }
    }
}

/// Tears down what a dead run had created.
async fn reap(dead: Option<runs::Run>) -> Result<((), String), Stop> {
    let Some(dead) = dead else { return Ok(((), "no run left anything".into())) };
    if !dead.created_environment {
        return Ok(((), format!("run {} had reused the environment: nothing of its own to remove", dead.id)));
    }
    let s = Session::discover(&dead.project_dir, Some(&dead.profile), dead.environment.as_deref())
        .map_err(|e| Stop(Verdict::Environment, format!("cannot reap run {}: {e}", dead.id)))?;
    let n = remove_environment(&s, dead.new_cluster.as_deref())
        .await
        .map_err(|e| Stop(Verdict::Environment, format!("cannot reap run {}: {e}", dead.id)))?;
    Ok(((), format!("run {} (pid {} gone): {n} removed", dead.id, dead.pid)))
}

/// `down --purge`, and the kind cluster `new_cluster` when it is still there: a cluster whose
/// making was cut short (a timeout, SIGKILL) has no ownership marker, so `down` does not take
/// it, but the run that began without it made it. How many things were removed.
async fn remove_environment(session: &Session, new_cluster: Option<&str>) -> Result<usize, session::Error> {
    let down = session::down::down(session, session::down::Options { purge: true, force: false }).await;
    let Some(name) = new_cluster else { return down.map(|r| r.lines.len()) };
    let cli = crate::env::kind::KindCli::locate()
        .map_err(|e| session::Error::Step { step: "kind cluster", error: e.into() })?;
    let step = |e: crate::env::kind::KindError| session::Error::Step { step: "kind cluster", error: e.into() };
    if cli.clusters().await.map_err(step)?.iter().any(|c| c == name) {
        let kubeconfig = session.profile.profile.cluster.kubeconfig.as_ref().map(PathBuf::from);
        cli.delete(name, kubeconfig.as_deref()).await.map_err(step)?;
        return Ok(down.map(|r| r.lines.len()).unwrap_or(0) + 1);
    }
    down.map(|r| r.lines.len())
}

/// The profile's kind cluster when it does not exist yet (the run may make it).
async fn new_cluster(session: &Session) -> Option<String> {
    let profile = &session.profile.profile;
    if profile.cluster.provider != crate::model::profile::ClusterProvider::Kind {
        return None;
    }
    let name = profile.cluster.name.clone().unwrap_or_else(|| "nexus-dev".into());
    let cli = crate::env::kind::KindCli::locate().ok()?;
    let exists = cli.clusters().await.ok()?.contains(&name);
    (!exists).then_some(name)
}

/// Whether the project's environment is down: no daemon, no container of the shared environment.
async fn environment_down(session: &Session) -> bool {
    if crate::daemon::running(&session.paths()) {
        return false;
    }
    match Engine::connect(crate::env::ProjectId::shared()).await {
        Ok(engine) => engine.list_owned().await.map(|o| o.containers.is_empty()).unwrap_or(true),
        Err(_) => true,
    }
}

/// Every SSM parameter under `root`, with its value.
pub(crate) async fn parameters(
    ssm: &aws_sdk_ssm::Client,
    root: &str,
) -> Result<
    BTreeMap<String, String>,
    aws_sdk_ssm::error::SdkError<aws_sdk_ssm::operation::get_parameters_by_path::GetParametersByPathError>,
> {
    let mut found = BTreeMap::new();
    let mut pages = ssm.get_parameters_by_path().path(root).recursive(true).into_paginator().send();
    while let Some(page) = pages.next().await {
        for p in page?.parameters() {
            if let (Some(n), Some(v)) = (p.name(), p.value()) {
                found.insert(n.to_owned(), v.to_owned());
            }
        }
    }
    Ok(found)
}

/// Each capability's resources and conditions as test cases.
async fn reconcile_cases(client: &kube::Client, specs: &[LoadedSpec]) -> Vec<Case> {
    let mut cases = Vec::new();
    for s in specs {
        let (Some(name), Some(ns)) = (s.cr.metadata.name.as_deref(), s.cr.metadata.namespace.as_deref()) else {
            continue;
        };
        let api: kube::Api<crate::model::spec::NexusAICapability> = kube::Api::namespaced(client.clone(), ns);
        let Ok(Some(cr)) = api.get_opt(name).await else {
            cases.push(Case::failed(name, 0, "not in the cluster"));
            continue;
        };
        let status = cr.status.unwrap_or_default();
        for c in &status.conditions {
            let case = format!("{name}: condition {}", c.type_);
            cases.push(match c.status.as_str() {
                "True" => Case::passed(case, 0).with(&c.message),
                _ => Case::failed(case, 0, format!("{}: {}", c.reason, c.message)),
            });
        }
        for r in &status.resources {
            let case = format!("{name}: {} {}", r.kind, r.name);
            cases.push(match r.state.as_str() {
                "Ready" => Case::passed(case, 0),
                state => Case::failed(case, 0, format!("{state}: {}", r.message.as_deref().unwrap_or(""))),
            });
        }
    }
    cases
}

/// `up`'s progress, passed on, with each step a case of the run and what watch mode built
/// written to `build.log`.
struct Recorder {
    reporter: Arc<dyn Reporter>,
    steps: Arc<Mutex<Vec<Case>>>,
    build_log: Arc<Mutex<Option<std::fs::File>>>,
}

impl Progress for Recorder {
    fn begin(&self, project: &str, capabilities: usize, profile: &str) {
        self.reporter.begin(project, capabilities, profile);
    }

    fn step(&self, row: &StepRow) {
        self.reporter.step(row);
        let case = Case::passed(&row.step, row.ms).with(&row.result);
        self.steps.lock().unwrap_or_else(|e| e.into_inner()).push(case);
    }

    fn step_failed(&self, step: &str, ms: u128) {
        self.reporter.step_failed(step, ms);
        self.steps.lock().unwrap_or_else(|e| e.into_inner()).push(Case::failed(step, ms, "failed"));
    }

    fn check(&self, check: &crate::env::preflight::Check) {
        self.reporter.check(check);
    }

    fn warning(&self, what: &str, detail: &str, fix: &str) {
        self.reporter.warning(what, detail, fix);
    }

    fn event(&self, event: &crate::watch::Event) {
        self.reporter.event(event);
        if let Some(f) = self.build_log.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            use std::io::Write as _;
            let _ = writeln!(f, "{}", crate::watch::event::human(event));
        }
    }
}

/// The test command in a process group of its own, so that a timeout kills what it started too.
struct Group {
    child: tokio::process::Child,
}

impl Group {
    fn spawn(
        program: &str,
        args: &[String],
        vars: &BTreeMap<String, String>,
        stdout_to_stderr: bool,
    ) -> std::io::Result<Self> {
        let mut command = tokio::process::Command::new(program);
        command.args(args).envs(vars).stdin(std::process::Stdio::null()).process_group(0).kill_on_drop(true);
        if stdout_to_stderr {
            use std::os::fd::AsFd as _;
            command.stdout(std::io::stderr().as_fd().try_clone_to_owned()?);
        }
        Ok(Self { child: command.spawn()? })
    }

    async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    fn kill(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) with a process group id this run created; no memory is passed.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}
