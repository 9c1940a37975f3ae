//! `nexus-dev get` and `nexus-dev wait` (issue 16, "Also through the CLI"): the real binary in a
//! temporary project and state directory, against the in-process dashboard. The test holds the
//! daemon's lock and writes its `ui.json`, so the binary finds this server as it finds a
//! daemon's.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use nexus_dev::model::spec::{NexusAICapabilityStatus, Phase};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{Dashboard, minimal};

/// A project whose "daemon" (the lock this holds) serves `d`.
struct Project {
    _base: tempfile::TempDir,
    dir: PathBuf,
    state: PathBuf,
    /// Held: the daemon runs.
    lock: Option<nexus_dev::daemon::Lock>,
}

impl Project {
    fn serving(d: &Dashboard) -> Self {
        let base = tempfile::tempdir().unwrap();
        let (dir, state) = (base.path().join("project"), base.path().join("state"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml"), dir.join("minimal.yaml"))
            .unwrap();
        std::fs::write(dir.join("nexus-dev.yaml"), "specs: [minimal.yaml]\nprofile: local\n").unwrap();
        let id = nexus_dev::env::ProjectId::from_dir(&dir);
        let paths = nexus_dev::daemon::Paths::in_state_dir(&state, id.as_str());
        let lock = nexus_dev::daemon::lock(&paths).unwrap();
        let record = nexus_dev::ui::record::Record { url: d.server.url(), pid: std::process::id() };
        nexus_dev::ui::record::write(&paths.ui_record(), &record).unwrap();
        Self { _base: base, dir, state, lock: Some(lock) }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_nexus-dev"));
        c.args(args).current_dir(&self.dir).env("NEXUS_DEV_STATE_DIR", &self.state).kill_on_drop(true);
        c
    }

    /// Runs the binary to its end (on the runtime, which also serves the dashboard).
    async fn run(&self, args: &[&str]) -> Output {
        tokio::time::timeout(Duration::from_secs(60), self.command(args).output()).await.expect("within 60 s").unwrap()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The minimal example in `phase` for its current spec (observedGeneration = generation).
fn settled(phase: Phase) -> nexus_dev::model::spec::NexusAICapability {
    let mut cr = minimal(None);
    cr.status = Some(NexusAICapabilityStatus {
        phase: Some(phase),
        observed_generation: Some(1),
        message: Some(format!("now {}", phase.as_str())),
        ..Default::default()
    });
    cr
}

#[tokio::test]
async fn get_prints_tables_for_people_and_the_apis_objects_for_scripts() {
    let mut d = Dashboard::start(16).await;
    d.publish_cr(settled(Phase::DeployingBackend), 2_000);
    let p = Project::serving(&d);

    let caps = p.run(&["get"]).await;
    assert!(caps.status.success(), "{}", stderr(&caps));
    let text = stdout(&caps);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAMESPACE", "NAME", "PHASE", "STEPS", "READY", "MESSAGE"]
    );
    assert_eq!(lines[1].split_whitespace().take(3).collect::<Vec<_>>(), ["myapp-dev", "myapp-dev", "DeployingBackend"]);
    assert!(lines[1].ends_with("now DeployingBackend"), "{text}");
    // Aligned: every column starts where its header does.
    assert_eq!(lines[0].find("PHASE"), lines[1].find("DeployingBackend"), "{text}");

    let steps = p.run(&["get", "steps"]).await;
    assert!(steps.status.success(), "{}", stderr(&steps));
    let text = stdout(&steps);
    assert_eq!(text.lines().count(), 12, "a header and the eleven steps: {text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..4] == ["9", "Backend", "DeployingBackend", "running"]),
        "{text}"
    );

    // `-o json`: the API's objects, unchanged.
    let api = d.json("/api/v1/capabilities/myapp-dev/myapp-dev").await;
    let one = p.run(&["get", "capabilities", "myapp-dev", "-o", "json"]).await;
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&one.stdout).unwrap(), api);
    let all = p.run(&["get", "-o", "json"]).await;
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&all.stdout).unwrap(), serde_json::json!([api.clone()]));
    let resources = p.run(&["get", "resources", "myapp-dev/myapp-dev", "-o", "json"]).await;
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&resources.stdout).unwrap(), api["resources"]);
    let graph = p.run(&["get", "graph", "-o", "yaml"]).await;
    let graph: serde_json::Value = serde_yaml::from_slice(&graph.stdout).unwrap();
    assert_eq!(graph, d.json("/api/v1/capabilities/myapp-dev/myapp-dev/graph").await);
    let text = stdout(&p.run(&["get", "resources"]).await);
    assert_eq!(text.lines().count(), api["resources"].as_array().unwrap().len() + 1, "{text}");

    let unknown = p.run(&["get", "steps", "nope"]).await;
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no capability \"nope\" in this project; it has: myapp-dev/myapp-dev"),
        "{}",
        stderr(&unknown)
    );
    let kind = p.run(&["get", "pods"]).await;
    assert_eq!(kind.status.code(), Some(2), "a usage error");
    assert!(stderr(&kind).contains("[possible values: capabilities, steps, resources, graph]"), "{}", stderr(&kind));
}

#[tokio::test]
async fn wait_returns_when_a_published_change_meets_the_condition() {
    let mut d = Dashboard::start(16).await;
    d.publish_cr(settled(Phase::DeployingBackend), 2_000);
    let p = Project::serving(&d);

    let mut wait = p.command(&["wait", "--for", "phase=Running", "--timeout", "30s", "-o", "json"]);
    let mut child = wait.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut progress = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), progress.next_line()).await.unwrap().unwrap().unwrap();
    assert_eq!(first, "waiting for myapp-dev/myapp-dev: phase=Running (phase DeployingBackend: now DeployingBackend)");

    let published = Instant::now();
    d.publish_cr(settled(Phase::Running), 3_000);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("met within 10 s").unwrap();
    eprintln!("wait returned {:?} after the change", published.elapsed());
    assert!(status.success());
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stdout.take().unwrap(), &mut out).await.unwrap();
    let caps: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((caps[0]["key"].as_str(), caps[0]["phase"].as_str()), (Some("myapp-dev/myapp-dev"), Some("Running")));

    let met = p.run(&["wait", "myapp-dev", "--for", "phase=running", "--for", "step=1=pending"]).await;
    assert!(met.status.success(), "{}", stderr(&met));
    assert_eq!(stdout(&met), "myapp-dev/myapp-dev condition met\n");
}

#[tokio::test]
async fn wait_times_out_or_fails_early_naming_what_was_not_met() {
    let mut d = Dashboard::start(16).await;
    d.publish_cr(settled(Phase::DeployingBackend), 2_000);
    let p = Project::serving(&d);

    let started = Instant::now();
    let late = p.run(&["wait", "--for", "step=Backend", "--timeout", "1s"]).await;
    assert_eq!(late.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20));
    let e = stderr(&late);
    assert!(e.contains("error: timed out after 1s waiting for:\n  myapp-dev/myapp-dev: step=Backend=done (step Backend is running (0/"), "{e}");

    d.publish_cr(settled(Phase::Failed), 3_000);
    let failed = p.run(&["wait", "--for", "phase=Running", "--timeout", "30s"]).await;
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stderr(&failed).contains("myapp-dev/myapp-dev: phase=Running cannot be met: phase Failed: now Failed"),
        "{}",
        stderr(&failed)
    );
    let awaited = p.run(&["wait", "--for", "phase=failed", "--timeout", "30s"]).await;
    assert!(awaited.status.success(), "the failure is the condition: {}", stderr(&awaited));

    let bad = p.run(&["wait", "--for", "phase=Runing"]).await;
    assert_eq!(bad.status.code(), Some(2), "a usage error");
    let e = stderr(&bad);
    assert!(e.contains("'--for <CONDITION>'") && e.contains("no phase \"Runing\"; phases: Pending,"), "{e}");

    let unknown = p.run(&["wait", "nope", "--for", "ready"]).await;
    assert!(stderr(&unknown).contains("it has: myapp-dev/myapp-dev"), "{}", stderr(&unknown));
}

#[tokio::test]
async fn get_and_wait_without_a_daemon_say_to_start_one() {
    let d = Dashboard::start(16).await;
    let mut p = Project::serving(&d);
    p.lock.take();
    for args in [&["get"][..], &["wait", "--for", "ready"]] {
        let o = p.run(args).await;
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("no daemon runs for this project") && stderr(&o).contains("nexus-dev up"),
            "{}",
            stderr(&o)
        );
    }
}
