//! Issue 16 on real pods: the dashboard of a real daemon in headless Chromium
//! (tests/browser/live.cjs), opened while `nexus-dev up` brings a copy of `examples/apps` up on
//! a real kind cluster:
//!
//! - the overview shows the capability reaching Running, step by step;
//! - a line a pod writes appears in the logs view within 1 s;
//! - a Deployment deleted by hand turns its step red within 2 s of the deletion, and green again
//!   within 2 s of the recreated Deployment being ready;
//! - a save, rebuilt by `nexus-dev watch`, shows in the builds view with the digest it deployed;
//! - a screenshot of each view on real pods (`target/tmp/ui-screenshots/real-*.png`).
//!
//! It owns the machine's fixed names, like `kind_e2e`: a nextest test group, and the lock.

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::DeleteParams;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::io::AsyncWriteExt;

use crate::support::kind::{CLUSTER, Env};
use crate::support::project::text;
use crate::support::{TestBed, eventually, fixed_names_lock};

const NAMESPACE: &str = "myapp-dev";
const KEY: &str = "myapp-dev/myapp-dev";
const BACKEND: &str = "myapp-dev-backend";

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The browser's stages, read as they come, with every one kept for the failure message.
struct Page {
    node: tokio::process::Child,
    stages: tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Page {
    fn open(url: &str) -> Self {
        let (node, mut lines, _) = crate::support::browser::browser("live.cjs", url);
        let (tx, stages) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let stage: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "stage": "text", "line": line }));
                if tx.send(stage).is_err() {
                    return;
                }
            }
        });
        Self { node, stages, seen: Vec::new() }
    }

    async fn command(&mut self, c: &str) {
        let stdin = self.node.stdin.as_mut().unwrap();
        stdin.write_all(format!("{c}\n").as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// The next stage for which `want` holds, within `timeout`; every stage read is kept.
    async fn until(
        &mut self,
        what: &str,
        timeout: Duration,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let stage = match tokio::time::timeout_at(deadline, self.stages.recv()).await {
                Ok(Some(s)) => s,
                Ok(None) => panic!("the browser ended before {what}; its stages: {:#?}", self.seen),
                Err(_) => panic!("no {what} within {timeout:?}; the browser's stages: {:#?}", self.seen),
            };
            assert_ne!(stage["stage"], "failed", "{}", stage["error"].as_str().unwrap_or_default());
            self.seen.push(stage.clone());
            if want(&stage) {
                return stage;
            }
        }
    }

    /// The states the page showed for `step` of the capability, with their times.
    fn step_states(&self, step: &str) -> Vec<(u64, String)> {
        self.seen
            .iter()
            .filter(|s| s["stage"] == "change")
            .filter_map(|s| {
                let row = s["rows"].as_array()?.iter().find(|r| r["key"] == KEY)?;
                Some((s["t"].as_u64()?, row["steps"][step].as_str()?.to_owned()))
            })
            .collect()
    }
}

fn backend_state(stage: &serde_json::Value) -> Option<&str> {
    let row = stage["rows"].as_array()?.iter().find(|r| r["key"] == KEY)?;
    row["steps"]["Backend"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_follows_real_pods_step_by_step_their_logs_and_a_deployment_deleted_by_hand() {
    let _lock = fixed_names_lock();
    let bed = TestBed::from_env();
    let env = Env::prepare("nexus-dev-kind-ui", &bed, TestBed::kind_node_image());
    assert!(
        !env.clusters().iter().any(|c| c == CLUSTER),
        "a kind cluster `{CLUSTER}` exists that this test did not create; delete it (`kind delete cluster --name {CLUSTER}`) or run `nexus-dev down --purge` in its project"
    );

    // ---- up in the background; the page opens as soon as the daemon serves it
    let up = env
        .command(&["up", "--no-watch", "-o", "json", "--timeout", "5m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up = tokio::task::spawn_blocking(move || up.wait_with_output().unwrap());
    let url = eventually("the daemon's dashboard", Duration::from_secs(300), || async {
        let out = env.nexus(&["ui", "--no-open", "-o", "json"]);
        match serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            Ok(v) if out.status.success() => Ok(v["url"].as_str().unwrap().to_owned()),
            _ => Err(text(&out)),
        }
    })
    .await;
    let mut page = Page::open(&url);
    page.until("Running with every step done", Duration::from_secs(420), |s| s["stage"] == "running").await;
    let up = up.await.unwrap();
    assert!(up.status.success(), "{}", text(&up));
    let up: serde_json::Value = serde_json::from_slice(&up.stdout).unwrap();

    // Step by step: the page saw the capability before it was done, the workloads come up, and
    // every step end done (or not planned).
    let changes: Vec<&serde_json::Value> = page.seen.iter().filter(|s| s["stage"] == "change").collect();
    let phases: Vec<&str> = changes
        .iter()
        .filter_map(|s| s["rows"].as_array()?.iter().find(|r| r["key"] == KEY)?["phase"].as_str())
        .collect();
    eprintln!("the overview showed {} states; phases {phases:?}", changes.len());
    assert!(changes.len() >= 3, "the page shows the steps as they go: {changes:#?}");
    for step in ["Backend", "Frontend"] {
        let states = page.step_states(step);
        assert!(states.iter().any(|(_, s)| s != "done"), "{step} was seen coming up: {states:?}");
        assert_eq!(states.last().map(|(_, s)| s.as_str()), Some("done"), "{step}: {states:?}");
    }
    let last = changes.last().unwrap()["rows"].as_array().unwrap().iter().find(|r| r["key"] == KEY).unwrap().clone();
    assert_eq!(last["phase"], "Running", "{last:#}");
    for (step, state) in last["steps"].as_object().unwrap() {
        assert!(state == "done" || state == "skipped", "{step} ends {state}");
    }

    // ---- a screenshot of each view on real pods
    page.command("views").await;
    let views = page.until("the views", Duration::from_secs(60), |s| s["stage"] == "views").await;
    assert!(views["nodes"].as_array().unwrap().iter().all(|n| n[1] == "ok"), "every node healthy: {views:#}");
    assert!(views["pods"].as_u64() >= Some(4), "the capability view lists its 2 + 2 real pods: {views:#}");

    // ---- a line a pod writes, in the logs view within 1 s
    let api = up["capabilities"][0]["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["component"] == "backend")
        .and_then(|f| f["url"].as_str())
        .unwrap_or_else(|| panic!("no backend forward: {up:#}"))
        .to_owned();
    page.command("logs").await;
    page.until("the logs view", Duration::from_secs(30), |s| s["stage"] == "logs-open").await;
    let probe = format!("probe={}", now_ms());
    let asked = now_ms();
    let answer = reqwest::get(format!("{api}api/hello?{probe}")).await.unwrap();
    assert!(answer.status().is_success(), "{answer:?}");
    let shown = page
        .until("the pod's log line", Duration::from_secs(30), |s| {
            s["stage"] == "log" && s["text"].as_str().is_some_and(|t| t.contains(&probe))
        })
        .await;
    let log_ms = shown["t"].as_u64().unwrap().saturating_sub(asked);
    eprintln!("a pod's log line shown {log_ms} ms after the request");
    page.command("logs-shot").await;
    page.until("the logs' screenshot", Duration::from_secs(30), |s| s["stage"] == "logs-shot").await;
    assert!(log_ms <= 1_000, "the pod's line appears within 1 s: {log_ms} ms");

    // ---- a Deployment deleted by hand: red, then green again once it is back
    let client = env.kube().await;
    let deployments: Api<Deployment> = Api::namespaced(client, NAMESPACE);
    let old = deployments.get(BACKEND).await.unwrap().metadata.uid;
    let mut events =
        watcher(deployments.clone(), watcher::Config::default().fields(&format!("metadata.name={BACKEND}")))
            .applied_objects()
            .boxed();
    let deleted = now_ms();
    deployments.delete(BACKEND, &DeleteParams::default()).await.unwrap();
    let red = page
        .until("the Backend step red", Duration::from_secs(30), |s| {
            s["stage"] == "change" && s["t"].as_u64() >= Some(deleted) && backend_state(s) == Some("failed")
        })
        .await;
    let red_ms = red["t"].as_u64().unwrap() - deleted;
    let ready = tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(d) = events.try_next().await.unwrap() {
            let (desired, ready) = (
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
            );
            if d.metadata.uid != old && desired > 0 && ready >= desired {
                return now_ms();
            }
        }
        panic!("the watch of {BACKEND} ended")
    })
    .await
    .expect("the Deployment is recreated and ready within 3 minutes");
    let green = page
        .until("the Backend step green again", Duration::from_secs(30), |s| {
            s["stage"] == "change" && s["t"].as_u64() > red["t"].as_u64() && backend_state(s) == Some("done")
        })
        .await;
    let green_ms = green["t"].as_u64().unwrap().saturating_sub(ready);
    eprintln!(
        "Deployment deleted: red after {red_ms} ms; recreated and ready after {} ms, green {green_ms} ms after that; Backend went {:?}",
        ready - deleted,
        page.step_states("Backend").iter().filter(|(t, _)| *t >= deleted).map(|(_, s)| s.as_str()).collect::<Vec<_>>()
    );
    assert!(red_ms <= 2_000, "red within 2 s of the deletion: {red_ms} ms");
    assert!(green_ms <= 2_000, "green within 2 s of the Deployment ready again: {green_ms} ms");

    // ---- a save shows a new build with its digest: watch mode sends its builds to the daemon
    let mut watch = crate::kind_e2e::Watch::start(&env);
    watch.wait_for_each("deployed", &["web", "api"], Duration::from_secs(180));
    page.command("builds").await;
    page.until("the builds view", Duration::from_secs(30), |s| s["stage"] == "builds-open").await;
    let server = env.project.join("api/server.pl");
    let original = std::fs::read_to_string(&server).unwrap();
    crate::kind_e2e::save(&server, &original.replace("hello from the example api", "hello from the dashboard test"));
    let deployed = watch.wait_for("deployed", "api", Duration::from_secs(180));
    let image = deployed["image"].as_str().unwrap().to_owned();
    let shown = page
        .until("the save's build deployed", Duration::from_secs(60), |s| {
            s["stage"] == "build"
                && s["component"] == "api"
                && s["result"] == "deployed"
                && s["trigger"].as_str().is_some_and(|t| t.contains("server.pl"))
        })
        .await;
    let digest = shown["digest"].as_str().unwrap_or_else(|| panic!("the build shows its digest: {shown}"));
    assert!(digest.starts_with("sha256:") && image.contains(digest), "the page shows {digest}; watch deployed {image}");
    eprintln!("a save's build shown with digest {digest}, the image deployed: {image}");
    page.command("builds-shot").await;
    page.until("the builds' screenshot", Duration::from_secs(30), |s| s["stage"] == "builds-shot").await;
    watch.stop();

    page.command("end").await;
    let done = page.until("the end", Duration::from_secs(30), |s| s["stage"] == "done").await;
    assert_eq!(done["errors"], serde_json::json!([]), "no error in the page's console");
    let down = env.nexus(&["down", "--purge"]);
    assert!(down.status.success(), "{}", text(&down));
    let _ = std::fs::remove_dir_all(&env.root);
}
