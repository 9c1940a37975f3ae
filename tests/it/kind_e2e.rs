//! Issue #12 end to end on a real kind cluster with running pods: `nexus-dev up` on a copy of
//! `examples/apps` with the shipped `local` profile (MiniStack), only the images replaced by the test
//! bed's (`NEXUS_DEV_KIND_IMAGE`, `NEXUS_DEV_EMULATOR_IMAGE`, `NEXUS_DEV_REGISTRY_IMAGE`) and the
//! Dockerfiles' `BASE_IMAGE` build argument (nothing can be pulled). Then every flow a user sees,
//! on real processes behind real probes:
//!
//! - HTTP through the daemon's port-forwards (frontend and backend), also across a rollout;
//! - a second `up` changes nothing;
//! - `logs` shows the real process's output; `verify` passes (its HTTP checks included);
//! - a pod reads its own DynamoDB table through the emulator, by the injected endpoint;
//! - in `watch`: a source edit → the new answer (rebuild path); a broken build → the old answer
//!   stays; a synced file → served without a rebuild (sync path);
//! - seed 004's hardening (issue 18): a `restricted` namespace, a slow starter kept alive by its
//!   startup probe, a read-only image writing to its writable path, and the default-deny
//!   NetworkPolicy letting the frontend reach the backend and the backend the emulator; a secret
//!   value set in the emulator in the pods' environment, and a change of it reaching them;
//! - `down --purge` leaves no container, network or cluster of ours behind.
//!
//! One kind cluster serves all of it (creating one takes about 15 s of the 2 cores), so this is
//! one test, in steps. It owns fixed names (`nexus-dev-aws`, `nexus-dev-registry`, ports 4566
//! and 5001, the kind cluster `nexus-dev` and its host ports 80/443): a nextest test group with
//! `tests/it/up.rs`, and a lock across processes under `cargo test`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::support::kind::{CLUSTER, Env};
use crate::support::project::text;
use crate::support::{TestBed, eventually, fixed_names_lock};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::ListParams;

const NAMESPACE: &str = "myapp-dev";

async fn get(url: &str) -> Result<(u16, String), String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let r = client.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let code = r.status().as_u16();
    Ok((code, r.text().await.map_err(|e| e.to_string())?))
}

/// The body of `GET url`, which must answer 200.
async fn body(url: &str) -> String {
    match get(url).await {
        Ok((200, b)) => b,
        other => panic!("GET {url}: {other:?}"),
    }
}

/// Waits until `GET url` answers 200 with a body containing `want`; how long it took.
async fn until_served(url: &str, want: &str, timeout: Duration) -> Duration {
    let t = Instant::now();
    eventually(&format!("{url} to serve `{want}`"), timeout, || async {
        match get(url).await {
            Ok((200, b)) if b.contains(want) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    t.elapsed()
}

/// `nexus-dev watch -o json`: its JSON events, one per line, through a channel.
pub(crate) struct Watch {
    child: Child,
    events: Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Watch {
    pub(crate) fn start(env: &Env) -> Self {
        let mut child = env
            .command(&["watch", "-o", "json", "--rollout-timeout", "90s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nexus-dev watch runs");
        let (tx, events) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let stderr_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = stderr_lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line);
            }
        });
        Self { child, events, seen: Vec::new(), stderr: stderr_lines }
    }

    /// The next event (after those already seen) of `component` and kind `event`; panics with
    /// the watch output after `timeout`.
    pub(crate) fn wait_for(&mut self, event: &str, component: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if v["event"] == event && v["component"] == component {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "no `{event}` event of {component} within {timeout:?}; events: {:#?}\nstderr:\n{}",
                    self.seen,
                    self.stderr.lock().unwrap().join("\n")
                ),
            }
        }
    }

    /// Waits for `event` of every one of `components`, in any order.
    pub(crate) fn wait_for_each(&mut self, event: &str, components: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut missing: Vec<&str> = components.to_vec();
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if v["event"] == event {
                        missing.retain(|c| v["component"] != *c);
                    }
                }
                Err(_) => panic!(
                    "no `{event}` event of {missing:?} within {timeout:?}; events: {:#?}\nstderr:\n{}",
                    self.seen,
                    self.stderr.lock().unwrap().join("\n")
                ),
            }
        }
    }

    /// Events that arrived so far without waiting.
    fn drain(&mut self) -> Vec<serde_json::Value> {
        let fresh: Vec<_> = self.events.try_iter().collect();
        self.seen.extend(fresh.iter().cloned());
        fresh
    }

    pub(crate) fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid, no memory involved.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        let _ = self.child.wait();
    }
}

/// Writes `text` to `path` the way an editor saves: a new file renamed over the old one.
pub(crate) fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("nexus-e2e-tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn forward_url(up: &serde_json::Value, component: &str) -> String {
    let forwards = up["capabilities"][0]["forwards"].as_array().unwrap_or_else(|| panic!("no forwards: {up:#}"));
    let f = forwards.iter().find(|f| f["component"] == component).unwrap_or_else(|| panic!("no {component} forward"));
    let url = f["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "forwards listen on loopback only: {url}");
    url
}

/// A DynamoDB call to the emulator from this machine (MiniStack checks no signature).
async fn dynamodb(target: &str, body: serde_json::Value) -> serde_json::Value {
    aws_json("dynamodb", "application/x-amz-json-1.0", &format!("DynamoDB_20120810.{target}"), body).await
}

/// A call of an AWS JSON-protocol service to the emulator from this machine.
async fn aws_json(service: &str, content_type: &str, target: &str, body: serde_json::Value) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post("http://127.0.0.1:4566/")
        .header("Content-Type", content_type)
        .header("X-Amz-Target", target)
        .header(
            "Authorization",
            format!("AWS4-HMAC-SHA256 Credential=test/20260101/ap-southeast-1/{service}/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(status.is_success(), "{target}: {status} {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_the_example_on_real_pods_and_every_user_flow_works() {
    let _lock = fixed_names_lock();
    let bed = TestBed::from_env();
    let node_image = TestBed::kind_node_image();
    let docker = bed.docker().await;
    let env = Env::prepare("nexus-dev-kind-e2e", &bed, node_image);
    assert!(
        !env.clusters().iter().any(|c| c == CLUSTER),
        "a kind cluster `{CLUSTER}` exists that this test did not create; delete it (`kind delete cluster --name {CLUSTER}`) or run `nexus-dev down --purge` in its project"
    );

    // ---- up, cold: the cluster through the real kind, registry, emulator, CRD, daemon, images
    let t = Instant::now();
    let up = env.nexus(&["up", "--no-watch", "-o", "json", "--timeout", "5m"]);
    let cold = t.elapsed();
    assert!(up.status.success(), "{}", text(&up));
    let up: serde_json::Value = serde_json::from_slice(&up.stdout).unwrap();
    eprintln!("cold up: {cold:?}");
    assert_eq!(up["capabilities"][0]["phase"], "Running", "{up:#}");
    let step = |v: &serde_json::Value, name: &str| -> String {
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .map(|s| s["result"].to_string())
            .unwrap_or_else(|| panic!("no step {name}: {v:#}"))
    };
    assert!(step(&up, "kind cluster").contains("created"), "{up:#}");
    assert!(step(&up, "images").contains("2 components"), "{up:#}");
    let images_ms = up["steps"].as_array().unwrap().iter().find(|s| s["step"] == "images").unwrap()["ms"].as_u64();
    assert!(images_ms.is_some_and(|ms| ms > 1000), "building and rolling out two images is timed: {up:#}");
    assert!(env.clusters().iter().any(|c| c == CLUSTER));
    let client = env.kube().await;

    // Wiring: hosts.toml in the node, the KEP-1755 ConfigMap, both containers on the kind network.
    let node = format!("{CLUSTER}-control-plane");
    let hosts = Command::new("docker")
        .args(["exec", &node, "cat", "/etc/containerd/certs.d/localhost:5001/hosts.toml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&hosts.stdout).contains("http://nexus-dev-registry:5000"), "{}", text(&hosts));
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-public");
    let hosting = cms.get("local-registry-hosting").await.unwrap();
    assert!(hosting.data.unwrap()["localRegistryHosting.v1"].contains("localhost:5001"));
    for name in ["nexus-dev-aws", "nexus-dev-registry"] {
        let c =
            docker.inspect_container(name, None::<bollard::query_parameters::InspectContainerOptions>).await.unwrap();
        assert_eq!(c.state.as_ref().and_then(|s| s.running), Some(true), "{name} runs");
        let networks = c.network_settings.and_then(|n| n.networks).unwrap_or_default();
        assert!(networks.contains_key("kind"), "{name} is on the kind network: {:?}", networks.keys());
    }

    // Every pod runs the image `up` built, really: Ready by real probes, a started container.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let list = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).count(), 4, "2 + 2 replicas");
    for p in list.items.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let st = p.status.as_ref().unwrap();
        assert_eq!(st.phase.as_deref(), Some("Running"));
        let cs = &st.container_statuses.as_ref().unwrap()[0];
        assert!(cs.ready && cs.started == Some(true), "{cs:?}");
        let image = p.spec.as_ref().unwrap().containers[0].image.clone().unwrap_or_default();
        assert!(image.starts_with("localhost:5001/") && image.contains("@sha256:"), "runs the pushed image: {image}");
        assert!(cs.container_id.as_deref().unwrap_or("").starts_with("containerd://"), "a real container");
    }

    // ---- HTTP through the port-forwards
    let web = forward_url(&up, "frontend");
    let api = forward_url(&up, "backend");
    assert!(body(&web).await.contains("Hello from the example web frontend"));
    assert_eq!(body(&format!("{api}health")).await, "ok\n");
    assert_eq!(body(&format!("{api}api/hello")).await, "hello from the example api\n");

    // ---- a second up changes nothing
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let generations = || async {
        let mut g = Vec::new();
        for d in ["myapp-dev-frontend", "myapp-dev-backend"] {
            g.push(deployments.get(d).await.unwrap().metadata.generation);
        }
        g
    };
    let before = generations().await;
    let t = Instant::now();
    let again = env.nexus(&["up", "--no-watch", "-o", "json"]);
    let warm = t.elapsed();
    assert!(again.status.success(), "{}", text(&again));
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    eprintln!("warm up: {warm:?}");
    for (s, want) in
        [("kind cluster", "unchanged"), ("registry", "unchanged"), ("aws emulator", "unchanged"), ("daemon", "running")]
    {
        assert!(step(&again, s).contains(want), "{s}: {again:#}");
    }
    assert_eq!(again["capabilities"][0]["generation"], up["capabilities"][0]["generation"]);
    assert_eq!(generations().await, before, "a second up must not roll anything out");
    assert_eq!(forward_url(&again, "backend"), api, "the daemon keeps its forwards");

    // In text: the local URLs, and the ingress controller's install command (none is installed).
    let shown = env.nexus(&["up", "--no-watch"]);
    let shown_text = text(&shown);
    assert!(shown.status.success(), "{shown_text}");
    assert!(shown_text.contains(&format!("{api} (port-forward to Service myapp-dev-backend-svc)")), "{shown_text}");
    assert!(shown_text.contains(&format!("{web} (port-forward to Service myapp-dev-frontend-svc)")), "{shown_text}");
    assert!(
        shown_text.contains("no IngressClass `nginx`") && shown_text.contains("deploy-ingress-nginx.yaml"),
        "{shown_text}"
    );
    let status = env.nexus(&["status"]);
    assert!(text(&status).contains(&format!("backend  {api}")), "{}", text(&status));
    let status = env.nexus(&["status", "-o", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status[0]["forwards"][1]["url"], api.as_str(), "{status:#}");

    // ---- logs: the real process's output
    let _ = body(&format!("{api}api/hello")).await;
    eventually("the request in the backend's logs", Duration::from_secs(30), || async {
        let logs = env.nexus(&["logs", "myapp", "backend"]);
        let t = text(&logs);
        if logs.status.success() && t.contains("api listening on :8000") && t.contains("GET /api/hello") {
            Ok(())
        } else {
            Err(t)
        }
    })
    .await;

    // ---- verify, its HTTP checks of the health paths included
    let verify = env.nexus(&["verify", "-f", "../minimal.yaml", "-p", "local", "-o", "json"]);
    assert!(verify.status.success(), "{}", text(&verify));
    let v: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    let checks = v[0]["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["ok"] == true), "{v:#}");
    assert!(checks.iter().filter(|c| c["check"].as_str().unwrap().starts_with("http ")).count() >= 2, "{v:#}");

    // ---- a pod reads its own DynamoDB table through the emulator, by the injected endpoint
    let d = deployments.get("myapp-dev-backend").await.unwrap();
    let container = &d.spec.unwrap().template.spec.unwrap().containers[0];
    let endpoint = container.env.iter().flatten().find(|e| e.name == "AWS_ENDPOINT_URL").and_then(|e| e.value.clone());
    assert_eq!(endpoint.as_deref(), Some("http://nexus-dev-aws:4566"), "the emulator by name on the kind network");
    let table = "myapp-dev-license";
    let marker = format!("e2e-{}", std::process::id());
    dynamodb("PutItem", serde_json::json!({"TableName": table, "Item": {"pk": {"S": &marker}, "sk": {"S": "e2e"}}}))
        .await;
    // The pod resolves the emulator's name through CoreDNS and the node's Docker DNS, which on a
    // cluster minutes old can still miss a lookup: the read is retried, as a client would.
    eventually(&format!("the pod's Scan of {table} to find {marker}"), Duration::from_secs(30), || async {
        match get(&format!("{api}api/table")).await {
            Ok((200, b)) if b.contains("\"Count\": 1") && b.contains(&marker) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // ---- watch: rebuild path, broken build, sync path
    let mut watch = Watch::start(&env);
    watch.wait_for_each("deployed", &["web", "api"], Duration::from_secs(180));
    let server = env.project.join("api/server.pl");
    let original = std::fs::read_to_string(&server).unwrap();
    let saved = Instant::now();
    save(&server, &original.replace("hello from the example api", "hello again, rebuilt"));
    watch.wait_for("deployed", "api", Duration::from_secs(180));
    let rebuilt = saved.elapsed();
    until_served(&format!("{api}api/hello"), "hello again, rebuilt", Duration::from_secs(60)).await;
    let served = saved.elapsed();
    eprintln!("save → deployed {rebuilt:?}, → new answer over HTTP {served:?}");

    // A broken build: reported, and the running version keeps answering.
    let dockerfile = env.project.join("api/Dockerfile");
    let good = std::fs::read_to_string(&dockerfile).unwrap();
    save(&dockerfile, &good.replace("CMD [", "RUN exit 3\nCMD ["));
    let failed = watch.wait_for("failed", "api", Duration::from_secs(120));
    assert_eq!(failed["stage"], "build", "{failed:#}");
    assert_eq!(body(&format!("{api}api/hello")).await, "hello again, rebuilt\n", "the old answer keeps being served");
    save(&dockerfile, &good);
    watch.wait_for("deployed", "api", Duration::from_secs(180));
    assert_eq!(body(&format!("{api}api/hello")).await, "hello again, rebuilt\n");

    // A synced file: served without a rebuild.
    watch.drain();
    let index = env.project.join("web/static/index.html");
    let page = std::fs::read_to_string(&index).unwrap();
    let saved = Instant::now();
    save(&index, &page.replace("Hello from the example web frontend", "Synced, not rebuilt"));
    let synced = watch.wait_for("synced", "web", Duration::from_secs(60));
    until_served(&web, "Synced, not rebuilt", Duration::from_secs(30)).await;
    let sync_served = saved.elapsed();
    eprintln!("sync save → served file {sync_served:?} (synced event: {synced})");
    let events = watch.drain();
    let since_save: Vec<_> = watch.seen.iter().rev().take_while(|e| **e != synced).chain(events.iter()).collect();
    assert!(
        !since_save.iter().chain(std::iter::once(&&synced)).any(|e| e["component"] == "web" && e["event"] == "built"),
        "a synced file is not rebuilt: {:#?}",
        watch.seen
    );
    watch.stop();

    // ---- seed 004 on real pods (issue 18): the namespace enforces `restricted`; a slow starter
    // (12 s) kept alive by its startup probe under a liveness probe that alone would kill it
    // after 6 s; a
    // read-only image writing to its writable path; the default-deny NetworkPolicy still lets
    // the frontend reach the backend and the backend reach the emulator.
    let spec = env.project.join("../minimal.yaml");
    let minimal = std::fs::read_to_string(&spec).unwrap();
    let hardened = minimal
        .replace(
            "  deletionPolicy: Delete\n",
            "  deletionPolicy: Delete\n  networkPolicy: default-deny\n  secrets: {mount: env}\n",
        )
        .replace(
            "    image: \"ACCOUNT.dkr.ecr.REGION.amazonaws.com/myapp-frontend:latest\"\n",
            "    image: \"ACCOUNT.dkr.ecr.REGION.amazonaws.com/myapp-frontend:latest\"\n    env: [{name: BACKEND_URL, value: \"http://myapp-dev-backend-svc-internal:8000\"}]\n",
        )
        .replace(
            "    image: \"ACCOUNT.dkr.ecr.REGION.amazonaws.com/myapp-backend:latest\"\n",
            "    image: \"ACCOUNT.dkr.ecr.REGION.amazonaws.com/myapp-backend:latest\"
    env: [{name: START_DELAY, value: \"12\"}, {name: WRITE_TO, value: /app/cache}]
    probes:
      startup: {periodSeconds: 2, failureThreshold: 30}
      liveness: {periodSeconds: 2, failureThreshold: 3}
    securityContext: {writablePaths: [/app/cache]}
",
        );
    assert_eq!(hardened.matches("networkPolicy").count() + hardened.matches("BACKEND_URL").count(), 2, "{hardened}");
    assert!(hardened.contains("START_DELAY"), "{hardened}");
    save(&spec, &hardened);
    // A secret value set in Secrets Manager (the emulator), for the pods' environment.
    let put_openai = |value: &str| {
        let body =
            serde_json::json!({"SecretId": "myapp/dev/openai", "SecretString": format!(r#"{{"api_key": "{value}"}}"#)});
        aws_json("secretsmanager", "application/x-amz-json-1.1", "secretsmanager.PutSecretValue", body)
    };
    put_openai("sk-e2e-0123456789").await;
    let applied = env.nexus(&["apply", "-f", "../minimal.yaml", "-p", "local", "--wait", "--timeout", "3m"]);
    assert!(applied.status.success(), "{}", text(&applied));
    let ns = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone()).get(NAMESPACE).await.unwrap();
    let labels = ns.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("pod-security.kubernetes.io/enforce").map(String::as_str), Some("restricted"));
    eventually("the slow backend to be Ready with no restart", Duration::from_secs(120), || async {
        let list = pods.list(&ListParams::default().labels("app.kubernetes.io/component=backend")).await;
        let list = list.map_err(|e| e.to_string())?;
        let live: Vec<_> = list.items.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
        let states: Vec<(bool, i32, bool)> = live
            .iter()
            .map(|p| {
                let cs = &p.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
                let env = p.spec.as_ref().unwrap().containers[0].env.clone().unwrap_or_default();
                let slow = env.iter().any(|e| e.name == "START_DELAY");
                cs.first().map(|c| (c.ready, c.restart_count, slow)).unwrap_or((false, 0, slow))
            })
            .collect();
        if states.len() == 2 && states.iter().all(|(ready, restarts, slow)| *ready && *restarts == 0 && *slow) {
            Ok(())
        } else {
            Err(format!("{states:?} (ready, restarts, slow)"))
        }
    })
    .await;
    let (status, cache) = get(&format!("{api}api/cache")).await.unwrap();
    assert!(
        status == 200 && cache.starts_with("started at"),
        "the read-only image wrote to /app/cache: {status} {cache}"
    );
    eventually("the frontend to reach the backend through the policy", Duration::from_secs(60), || async {
        match get(&format!("{web}backend/api/hello")).await {
            Ok((200, b)) if b.contains("hello again, rebuilt") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    eventually("the backend to reach the emulator through the policy", Duration::from_secs(30), || async {
        match get(&format!("{api}api/table")).await {
            Ok((200, b)) if b.contains(&marker) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let policies = Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::namespaced(client.clone(), NAMESPACE);
    assert_eq!(policies.list(&ListParams::default()).await.unwrap().items.len(), 2);
    // The secret is in the pods' environment (the app shows its length only), and a change in
    // Secrets Manager reaches the pods at the next pass (the resync is a minute), rolling them.
    let length = format!("{api}api/env-length/OPENAI_API_KEY");
    assert_eq!(body(&length).await, "17\n", "sk-e2e-0123456789 in the backend's environment");
    put_openai("sk-e2e-changed-0123456789").await;
    until_served(&length, "25", Duration::from_secs(180)).await;

    // ---- down --purge: nothing of ours is left, the cluster is gone
    let purge = env.nexus(&["down", "--purge"]);
    assert!(purge.status.success(), "{}", text(&purge));
    assert!(!env.clusters().iter().any(|c| c == CLUSTER), "the cluster is deleted");
    for name in ["nexus-dev-aws", "nexus-dev-registry", node.as_str()] {
        let gone =
            docker.inspect_container(name, None::<bollard::query_parameters::InspectContainerOptions>).await.is_err();
        assert!(gone, "{name} is removed");
    }
    let id = nexus_dev::env::ProjectId::from_dir(&env.project);
    let label = format!("nexus.ai/project={}", id.as_str());
    let filters = std::collections::HashMap::from([("label".to_owned(), vec![label.clone()])]);
    let containers = docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build(),
        ))
        .await
        .unwrap();
    assert!(containers.is_empty(), "containers of the project are left: {containers:?}");
    let networks = docker
        .list_networks(Some(bollard::query_parameters::ListNetworksOptionsBuilder::default().filters(&filters).build()))
        .await
        .unwrap();
    assert!(networks.is_empty(), "networks of the project are left: {networks:?}");
    let kind_filters =
        std::collections::HashMap::from([("label".to_owned(), vec![format!("io.x-k8s.kind.cluster={CLUSTER}")])]);
    let nodes = docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&kind_filters).build(),
        ))
        .await
        .unwrap();
    assert!(nodes.is_empty(), "kind node containers are left: {nodes:?}");
    let kind_net = docker.inspect_network("kind", None::<bollard::query_parameters::InspectNetworkOptions>).await;
    if let Ok(n) = kind_net {
        assert!(n.containers.unwrap_or_default().is_empty(), "nothing is left on the kind network");
    }
    assert!(!env.state.join("projects").join(id.as_str()).exists(), "the daemon's state is removed");
    let _ = std::fs::remove_dir_all(&env.root);
}
