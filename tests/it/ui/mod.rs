//! The dashboard (issue 16), served in-process on capabilities built from a real plan of
//! examples/minimal.yaml, as the daemon's feed builds them: no cluster is needed to check the
//! token, the Origin, the REST snapshots and the stream's snapshot, deltas and resume.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use nexus_dev::model::spec::{NexusAICapability, NexusAICapabilityStatus, Phase};
use nexus_dev::ui::builds::Builds;
use nexus_dev::ui::environments::Environments;
use nexus_dev::ui::logs::Logs;
use nexus_dev::ui::{feed, hub::Live, server};
// The page tests of this module and its children drive the browser the same way.
pub(crate) use crate::support::browser::browser;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

mod builds;
mod cli;
mod detail;
mod environments;
mod logs;

/// `examples/minimal.yaml` as the custom resource `myapp-dev/myapp-dev` in `phase`.
fn minimal(phase: Option<Phase>) -> NexusAICapability {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml");
    let sources = nexus_dev::input::spec::read_sources(&[path]).unwrap();
    let mut cr = nexus_dev::input::spec::load_specs(&sources).unwrap().remove(0).cr;
    cr.metadata.namespace = Some("myapp-dev".into());
    cr.metadata.name = Some("myapp-dev".into());
    cr.metadata.generation = Some(1);
    cr.status = phase.map(|p| NexusAICapabilityStatus { phase: Some(p), ..Default::default() });
    cr
}

/// A dashboard of one capability; the live hub, to publish changes, the logs, to push lines,
/// and the builds of components `api` and `web`, for watch sessions.
struct Dashboard {
    server: server::Server,
    live: Arc<Live>,
    logs: Arc<Logs>,
    builds: Arc<Builds>,
    /// What the environments view reads from the local cluster, to observe as the feed does.
    environments: Arc<Environments>,
    timelines: HashMap<String, nexus_dev::ui::steps::Timeline>,
    http: reqwest::Client,
}

impl Dashboard {
    async fn start(keep: usize) -> Self {
        Self::start_in(keep, None).await
    }

    /// A dashboard whose daemon's project is in `project` (its profiles and release records).
    async fn start_in(keep: usize, project: Option<std::path::PathBuf>) -> Self {
        nexus_dev::init_tls();
        let live = Arc::new(Live::new(keep));
        let logs = Arc::new(Logs::default());
        let builds = Arc::new(Builds::new(vec!["api".into(), "web".into()]));
        let local = nexus_dev::input::profile::built_in("local").unwrap();
        let environments = Arc::new(Environments::new(project, local));
        let parts = server::Parts {
            logs: logs.clone(),
            builds: builds.clone(),
            actions: None,
            environments: environments.clone(),
        };
        let server = server::start(live.clone(), parts).await.unwrap();
        let mut d =
            Self { server, live, logs, builds, environments, timelines: HashMap::new(), http: reqwest::Client::new() };
        d.publish(None, 1_000);
        d
    }

    /// Publishes the capability in `phase` at `now`, as the daemon's feed does.
    fn publish(&mut self, phase: Option<Phase>, now: u64) {
        self.publish_cr(minimal(phase), now);
    }

    fn publish_cr(&mut self, cr: NexusAICapability, now: u64) {
        let profile = nexus_dev::input::profile::built_in("local").unwrap();
        let caps = feed::capabilities(&[Arc::new(cr)], None, &profile, &mut self.timelines, now);
        self.live.publish(caps);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.origin())
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    async fn json(&self, path: &str) -> serde_json::Value {
        let res = self.get(path, Some(self.server.token.as_str())).await;
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.unwrap()
    }

    /// Opens the stream with `origin` (none: not a browser) and `since`.
    async fn stream(
        &self,
        origin: Option<&str>,
        since: Option<u64>,
    ) -> Result<
        tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
        tungstenite::Error,
    > {
        let since = since.map(|s| format!("&since={s}")).unwrap_or_default();
        let url = format!("ws://{}/api/v1/stream?token={}{since}", self.server.addr, self.server.token.as_str());
        let mut req = url.into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", HeaderValue::from_str(o).unwrap());
        }
        Ok(tokio_tungstenite::connect_async(req).await?.0)
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(ws: &mut Ws) -> serde_json::Value {
    let m = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await.expect("a message within 5 s");
    serde_json::from_str(m.unwrap().unwrap().to_text().unwrap()).unwrap()
}

#[tokio::test]
async fn ui_refuses_every_request_without_the_session_token() {
    let d = Dashboard::start(16).await;
    assert!(d.server.addr.ip().is_loopback(), "127.0.0.1 only");
    for path in ["/", "/assets/main.js", "/api/v1/snapshot", "/api/v1/capabilities/myapp-dev/myapp-dev", "/nothing"] {
        assert_eq!(d.get(path, None).await.status(), 401, "{path} without a token");
        assert_eq!(d.get(path, Some("0123")).await.status(), 401, "{path} with another token");
    }
    let no_token = format!("ws://{}/api/v1/stream", d.server.addr);
    match tokio_tungstenite::connect_async(no_token).await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401),
        other => panic!("a stream without a token: {other:?}"),
    }
    let by_query = d.http.get(d.url(&format!("/api/v1/snapshot?token={}", d.server.token.as_str()))).send().await;
    assert_eq!(by_query.unwrap().status(), 200, "the token in the URL");
    assert_eq!(d.get("/nothing", Some(d.server.token.as_str())).await.status(), 404);
}

#[tokio::test]
async fn ui_stream_refuses_a_foreign_origin() {
    let d = Dashboard::start(16).await;
    for foreign in ["http://evil.example", "http://127.0.0.1:1"] {
        match d.stream(Some(foreign), None).await {
            Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403, "{foreign}"),
            other => panic!("{foreign}: {:?}", other.map(|_| "connected")),
        }
    }
    let mut own = d.stream(Some(&d.server.origin()), None).await.expect("its own page may");
    assert_eq!(next(&mut own).await["type"], "snapshot");
    let mut script = d.stream(None, None).await.expect("a script sends no Origin; the token decides");
    assert_eq!(next(&mut script).await["type"], "snapshot");
}

#[tokio::test]
async fn ui_rest_serves_the_snapshot_a_capability_and_its_graph_from_the_plan() {
    let d = Dashboard::start(16).await;
    let profile = nexus_dev::input::profile::built_in("local").unwrap();
    let plan = nexus_dev::model::plan::build(&minimal(None), &profile);

    let snap = d.json("/api/v1/snapshot").await;
    assert_eq!(snap["seq"], 1);
    let caps = snap["capabilities"].as_array().unwrap();
    assert_eq!(caps.len(), 1);
    assert_eq!(caps[0]["key"], "myapp-dev/myapp-dev");
    assert_eq!(caps[0]["phase"], "Pending");

    let cap = d.json("/api/v1/capabilities/myapp-dev/myapp-dev").await;
    let steps = cap["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "DynamoDB",
            "S3",
            "Glue",
            "SSM",
            "Secrets",
            "IAM",
            "Namespace",
            "ServiceAccount",
            "Backend",
            "Frontend",
            "Ingress"
        ]
    );
    for s in steps {
        assert!(["pending", "skipped"].contains(&s["state"].as_str().unwrap()), "{s}");
        for field in ["number", "phase", "resources", "ready", "startedAt", "durationMs", "error"] {
            assert!(s.get(field).is_some(), "step field {field}: {s}");
        }
    }
    let ids: Vec<String> = plan.resources.iter().map(|r| r.id()).collect();
    let listed: Vec<&str> = cap["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids);

    let graph = d.json("/api/v1/capabilities/myapp-dev/myapp-dev/graph").await;
    let nodes: Vec<&str> = graph["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(nodes, ids, "one node per planned resource");
    let edges = graph["edges"].as_array().unwrap();
    let planned_edges: usize = plan.resources.iter().map(|r| r.depends_on.len()).sum();
    assert_eq!(edges.len(), planned_edges, "one edge per dependsOn");
    for r in &plan.resources {
        for dep in &r.depends_on {
            assert!(
                edges.iter().any(|e| e["from"] == dep.as_str() && e["to"] == r.id().as_str()),
                "{dep} → {}",
                r.id()
            );
        }
    }

    let missing = d.get("/api/v1/capabilities/myapp-dev/nope/graph", Some(d.server.token.as_str())).await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("no capability myapp-dev/nope"));
}

#[tokio::test]
async fn ui_page_and_its_modules_come_from_the_binary_with_the_token() {
    let d = Dashboard::start(16).await;
    let token = d.server.token.as_str();
    let page = d.get("/", Some(token)).await;
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("/assets/main.js?token={token}")), "the import map carries the token");
    let js = d.get(&format!("/assets/main.js?token={token}"), None).await;
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
}

#[tokio::test]
async fn ui_stream_sends_a_snapshot_then_numbered_deltas_and_resumes_after_a_reconnect() {
    let mut d = Dashboard::start(2).await;
    let origin = d.server.origin();
    let mut ws = d.stream(Some(&origin), None).await.unwrap();
    let first = next(&mut ws).await;
    assert_eq!((first["type"].as_str(), first["seq"].as_u64()), (Some("snapshot"), Some(1)));
    assert_eq!(first["capabilities"][0]["phase"], "Pending");

    d.publish(Some(Phase::ProvisioningDataServices), 2_000);
    let delta = next(&mut ws).await;
    assert_eq!((delta["type"].as_str(), delta["seq"].as_u64()), (Some("delta"), Some(2)));
    assert_eq!(delta["upsert"][0]["phase"], "ProvisioningDataServices");
    assert_eq!(delta["upsert"][0]["steps"][0]["state"], "running");
    assert_eq!(delta["remove"], serde_json::json!([]));
    ws.close(None).await.unwrap();

    // Missed while away: one change, then a resume from seq 2 gets just that delta.
    d.publish(Some(Phase::ProvisioningSsm), 2_500);
    let mut back = d.stream(Some(&origin), Some(2)).await.unwrap();
    let missed = next(&mut back).await;
    assert_eq!((missed["type"].as_str(), missed["seq"].as_u64()), (Some("delta"), Some(3)));
    assert_eq!(missed["upsert"][0]["steps"][0]["durationMs"], 500, "the data services took 2.0 s → 2.5 s");
    d.publish(Some(Phase::ProvisioningSecrets), 3_000);
    assert_eq!(next(&mut back).await["seq"], 4, "then live deltas on the same connection");

    // Two deltas are kept (3 and 4): a client at seq 1 is too far behind for them.
    let mut late = d.stream(Some(&origin), Some(1)).await.unwrap();
    let fresh = next(&mut late).await;
    assert_eq!((fresh["type"].as_str(), fresh["seq"].as_u64()), (Some("snapshot"), Some(4)));
    assert_eq!(fresh["capabilities"][0]["phase"], "ProvisioningSecrets");
}

/// The page in headless Chromium (tests/browser/dashboard.cjs): the overview matrix, a change
/// shown live, the capability's timeline and resources, the graph with one node per planned
/// resource. Screenshots go to `target/tmp/ui-screenshots/` (kept as CI artifacts).
#[tokio::test]
async fn ui_page_in_headless_chromium_shows_the_matrix_live_the_capability_and_the_graph() {
    let mut d = Dashboard::start(16).await;
    let profile = nexus_dev::input::profile::built_in("local").unwrap();
    let plan = nexus_dev::model::plan::build(&minimal(None), &profile);
    let (mut node, mut lines, shots) = browser("dashboard.cjs", &d.server.url());
    let bucket = plan.of_kind(nexus_dev::model::plan::Kind::S3Bucket).next().unwrap().id();
    let mut stages: HashMap<String, serde_json::Value> = HashMap::new();
    loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await;
        let Some(line) = line.expect("the browser answers within 60 s").unwrap() else { break };
        let stage: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let name = stage["stage"].as_str().unwrap().to_owned();
        assert_ne!(name, "failed", "{}", stage["error"].as_str().unwrap_or_default());
        // The capability with its DynamoDB tables Ready and the resource `failed` Failed.
        let progress = |phase: Phase, failed: Option<&str>| {
            let mut cr = minimal(Some(phase));
            let status = cr.status.as_mut().unwrap();
            for r in plan.resources.iter() {
                let state = match r.kind {
                    nexus_dev::model::plan::Kind::DynamoTable => "Ready",
                    _ if Some(r.id().as_str()) == failed => "Failed",
                    _ => "Pending",
                };
                status.resources.push(nexus_dev::model::spec::ResourceStatus {
                    kind: r.kind.as_str().into(),
                    name: r.name.clone(),
                    state: state.into(),
                    id: None,
                    message: failed.filter(|_| state == "Failed").map(|_| "AccessDenied".into()),
                });
            }
            cr
        };
        match name.as_str() {
            // The page must turn the DynamoDB cell green by itself.
            "overview" => d.publish_cr(progress(Phase::ProvisioningSsm, None), 2_000),
            // And a failed bucket's node red.
            "graph" => d.publish_cr(progress(Phase::Failed, Some(&bucket)), 3_000),
            _ => {}
        }
        stages.insert(name, stage);
    }
    assert!(node.wait().await.unwrap().success(), "the browser script failed: {stages:?}");
    assert_eq!(stages["done"]["errors"], serde_json::json!([]), "no error in the page's console");

    let overview = &stages["overview"];
    assert_eq!(overview["connection"], "live");
    assert_eq!(overview["rows"][0]["key"], "myapp-dev/myapp-dev");
    assert_eq!(overview["rows"][0]["steps"].as_array().unwrap().len(), 11);
    assert_eq!(overview["rows"][0]["steps"][0], serde_json::json!(["DynamoDB", "pending"]));
    assert!(stages["live"]["ms"].as_u64().unwrap() < 2_000, "the change shows within 2 s: {}", stages["live"]);

    let capability = &stages["capability"];
    assert_eq!(capability["hash"], "#/capability/myapp-dev/myapp-dev");
    assert_eq!(capability["timeline"][0], serde_json::json!(["DynamoDB", "done"]));
    assert_eq!(capability["timeline"][3], serde_json::json!(["SSM", "running"]));
    let ids: Vec<String> = plan.resources.iter().map(|r| r.id()).collect();
    assert_eq!(capability["resources"], serde_json::json!(ids));

    let graph = &stages["graph"];
    let nodes: Vec<&str> = graph["nodes"].as_array().unwrap().iter().map(|n| n[0].as_str().unwrap()).collect();
    assert_eq!(nodes, ids, "one node per planned resource");
    let planned_edges: usize = plan.resources.iter().map(|r| r.depends_on.len()).sum();
    assert_eq!(graph["edges"], planned_edges, "one edge per dependsOn");
    assert!(!graph["waiting"].as_array().unwrap().is_empty(), "pending nodes say what they wait on");
    assert_eq!(stages["graph-live"]["failed"], serde_json::json!([bucket]), "the failed bucket turns red");
    assert!(stages["graph-live"]["ms"].as_u64().unwrap() < 2_000, "{}", stages["graph-live"]);
    for shot in ["overview.png", "overview-live.png", "capability.png", "graph.png", "graph-failed.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1_000, "{shot}");
    }
}

/// `nexus-dev ui` in a project: refused without a daemon, the recorded URL with one (the lock
/// held by this test stands for the daemon), never failing for want of a browser.
#[test]
fn ui_command_prints_the_url_the_daemon_recorded() {
    let base = tempfile::tempdir().unwrap();
    let (project, state) = (base.path().join("project"), base.path().join("state"));
    std::fs::create_dir_all(&project).unwrap();
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml"), project.join("minimal.yaml"))
        .unwrap();
    std::fs::write(project.join("nexus-dev.yaml"), "specs: [minimal.yaml]\nprofile: local\n").unwrap();
    let ui = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
            .arg("ui")
            .args(args)
            .current_dir(&project)
            .env("NEXUS_DEV_STATE_DIR", &state)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .unwrap()
    };
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    let none = ui(&["--no-open"]);
    assert!(!none.status.success());
    assert!(text(&none).contains("no daemon runs for this project"), "{}", text(&none));
    assert!(text(&none).contains("nexus-dev up"), "with the way out: {}", text(&none));

    let id = nexus_dev::env::ProjectId::from_dir(&project);
    let paths = nexus_dev::daemon::Paths::in_state_dir(&state, id.as_str());
    let _daemon = nexus_dev::daemon::lock(&paths).unwrap();
    let unrecorded = ui(&["--no-open"]);
    assert!(!unrecorded.status.success());
    assert!(text(&unrecorded).contains("has not recorded a dashboard"), "{}", text(&unrecorded));

    let record = nexus_dev::ui::record::Record { url: "http://127.0.0.1:4321/?token=ab12".into(), pid: 42 };
    nexus_dev::ui::record::write(&paths.ui_record(), &record).unwrap();
    let printed = ui(&["--no-open"]);
    assert!(printed.status.success(), "{}", text(&printed));
    assert_eq!(String::from_utf8_lossy(&printed.stdout), "http://127.0.0.1:4321/?token=ab12\n");
    let json = ui(&["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"url": "http://127.0.0.1:4321/?token=ab12", "pid": 42}));
    let headless = ui(&[]);
    assert!(headless.status.success(), "no browser is no failure: {}", text(&headless));
    assert!(text(&headless).contains("open the URL above yourself"), "{}", text(&headless));
}
