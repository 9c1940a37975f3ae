//! The cluster commands end to end through the binary, against the test bed: `apply --wait`,
//! `status`, `verify`, `delete`, and `operator manifests` applied to the API server.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::fixtures::{testbed_profile_file, testbed_profile_file_via};
use crate::support::project::text;
use crate::support::proxy::Proxy;
use crate::support::{TestBed, eventually, unique};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

fn nexus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nexus-dev")).args(args).output().expect("nexus-dev runs")
}

#[tokio::test]
async fn apply_wait_status_verify_delete_through_the_binary() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    let cap = unique("cli");
    let spec = dir.path().join("cap.yaml");
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml")).unwrap();
    std::fs::write(&spec, example.replace("myapp", &cap)).unwrap();
    let spec = spec.display().to_string();

    let out = nexus(&["apply", "-f", &spec, "-p", &profile, "--wait", "--timeout", "90s", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["capability"], cap);
    assert_eq!(v["note"], "Running");
    let kinds: Vec<&str> = v["resources"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"s3.bucket") && kinds.contains(&"k8s.deployment") && kinds.contains(&"k8s.ingress"));
    assert!(v["resources"].as_array().unwrap().iter().all(|r| r["outcome"] != "failed"));

    let again = nexus(&["apply", "-f", &spec, "-p", &profile, "-o", "json"]);
    assert!(again.status.success(), "{}", text(&again));
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["mutatingCalls"], 0);
    assert!(v["resources"].as_array().unwrap().iter().all(|r| r["outcome"] == "unchanged"), "{v:#}");

    let status = nexus(&["status", "-p", &profile, "-n", &format!("{cap}-dev")]);
    assert!(text(&status).contains("Running"), "{}", text(&status));
    // kwok's pods run no process: every check passes but the apps' HTTP answers, which pass on
    // real pods (tests/it/kind_e2e.rs).
    let verify = nexus(&["verify", "-f", &spec, "-p", &profile, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    let failed: Vec<&str> = v[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert!(!failed.is_empty() && failed.iter().all(|c| c.starts_with("http ")), "{}", text(&verify));

    let delete = nexus(&["delete", "-f", &spec, "-p", &profile]);
    assert!(delete.status.success(), "{}", text(&delete));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &format!("{cap}-dev"));
    eventually("the workloads to be gone", Duration::from_secs(30), || async {
        match deployments.get_opt(&format!("{cap}-dev-backend")).await {
            Ok(None) | Err(_) => Ok(()),
            Ok(Some(_)) => Err("still there".to_owned()),
        }
    })
    .await;
    let verify = nexus(&["verify", "-f", &spec, "-p", &profile]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(text(&verify).contains("missing"), "{}", text(&verify));
}

/// Issue 13: one `apply` reads AWS once (it used to sweep it twice, 123 requests for a warm
/// Cognito capability), and its report counts every request the emulator sees. (Multi-threaded:
/// the proxy serves while the test waits for the binary.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_apply_reads_aws_once_and_reports_every_request_it_makes() {
    let bed = TestBed::from_env();
    let proxy = Proxy::start(bed.aws_endpoint.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file_via(dir.path(), &bed, &proxy.url());
    let cap = unique("reads");
    let spec = dir.path().join("cap.yaml");
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/with-cognito.yaml")).unwrap();
    std::fs::write(&spec, example.replace("portal", &cap).replace("deletionPolicy: Retain", "deletionPolicy: Delete"))
        .unwrap();
    let spec = spec.display().to_string();
    let apply = |only_aws: bool| {
        let mut args = vec!["apply", "-f", &spec, "-p", &profile, "-o", "json"];
        if only_aws {
            args.extend(["--only", "aws"]);
        }
        let before = proxy.requests();
        let out = nexus(&args);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let reported = v["readCalls"].as_u64().unwrap() + v["mutatingCalls"].as_u64().unwrap();
        (proxy.requests() - before, reported, v)
    };
    let (_, _, cold) = apply(false);
    assert!(cold["mutatingCalls"].as_u64().unwrap() > 0, "{cold:#}");

    let (seen, reported, warm) = apply(false);
    assert_eq!(warm["mutatingCalls"], 0, "{warm:#}");
    assert_eq!(seen, reported, "every request the emulator saw is in the report: {warm:#}");
    let (aws_only, aws_reported, _) = apply(true);
    assert_eq!(aws_only, aws_reported);
    // The cluster part adds no AWS sweep of its own: a whole apply reads what `--only aws` reads.
    assert_eq!(seen, aws_only, "a warm apply reads AWS once");
    eprintln!("warm apply: {seen} requests to the emulator, {reported} reported");

    let delete = nexus(&["delete", "-f", &spec, "-p", &profile]);
    assert!(delete.status.success(), "{}", text(&delete));
}

#[tokio::test]
async fn operator_manifests_apply_and_the_operator_deployment_becomes_available() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    let ns = unique("op");
    let out = nexus(&[
        "operator",
        "manifests",
        "--namespace",
        &ns,
        "-p",
        "local-moto",
        "--role-arn",
        "arn:aws:iam::123456789012:role/NexusAIOperatorRole",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let kubectl = std::env::var("NEXUS_TESTBED_KUBECTL").expect("the test bed's kubectl");
    let mut apply = Command::new(kubectl)
        .args(["--kubeconfig", &bed.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    apply.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let applied = apply.wait_with_output().unwrap();
    assert!(applied.status.success(), "{}", text(&applied));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    eventually("the operator deployment to be available", Duration::from_secs(60), || async {
        let d = deployments.get("nexus-operator").await.map_err(|e| e.to_string())?;
        match nexus_dev::provision::kube::apply::rollout(&d) {
            nexus_dev::provision::kube::apply::Rollout::Available => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let d = deployments.get("nexus-operator").await.unwrap();
    let pod = d.spec.unwrap().template.spec.unwrap();
    let sc = pod.containers[0].security_context.clone().unwrap();
    assert_eq!((sc.read_only_root_filesystem, sc.allow_privilege_escalation), (Some(true), Some(false)));
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(&ns, &Default::default()).await;
}

/// Issue #11, item 5: a cluster that does not answer is found before any AWS write, and the
/// error says so; nothing is created.
#[tokio::test]
async fn an_unreachable_cluster_stops_apply_before_anything_is_created() {
    let bed = TestBed::from_env();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("dead.kubeconfig");
    let port = crate::support::project::free_port();
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: dead, cluster: {{server: \"https://127.0.0.1:{port}\"}}}}]\nusers: [{{name: u, user: {{token: x}}}}]\ncontexts: [{{name: dead, context: {{cluster: dead, user: u}}}}]\ncurrent-context: dead\n"
        ),
    )
    .unwrap();
    let profile = dir.path().join("dead.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: dead\ncluster: {{provider: existing, kubeconfig: \"{}\", context: dead}}\naws: {{emulator: moto, endpoint: \"{}\", account: \"123456789012\"}}\n",
            kubeconfig.display(),
            bed.aws_endpoint
        ),
    )
    .unwrap();
    let cap = unique("dead");
    let spec = dir.path().join("cap.yaml");
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml")).unwrap();
    std::fs::write(&spec, example.replace("myapp", &cap)).unwrap();
    let out = nexus(&["apply", "-f", spec.to_str().unwrap(), "-p", profile.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not answer") && text(&out).contains("nothing was changed"), "{}", text(&out));
    let config = nexus_dev::provision::aws::sdk_config(&nexus_dev::provision::aws::Target::emulator(
        &bed.aws_endpoint,
        "ap-southeast-1",
    ))
    .await;
    let tables = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await.unwrap();
    assert!(
        tables.table_names().iter().all(|t| !t.starts_with(&cap)),
        "no AWS resource was created: {:?}",
        tables.table_names()
    );
}

/// Issue 13: the operator serves /healthz, /readyz once its controller has read the
/// capabilities, and Prometheus metrics that count its passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_serves_health_readiness_and_metrics() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    let ns = crate::support::TestNamespace::create(&client, "op-metrics").await;
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    let port = crate::support::project::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut operator = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["operator", "-p", &profile, "-n", &ns.name, "--listen", &listen])
        .env("NEXUS_DEV_STATE_DIR", dir.path().join("state"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &'static str| {
        let url = format!("http://{listen}{path}");
        async move {
            let r = reqwest::get(&url).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((r.status().as_u16(), r.text().await.map_err(|e| e.to_string())?))
        }
    };
    eventually("the operator to be ready", Duration::from_secs(30), || async {
        match get("/readyz").await? {
            (200, body) => Ok(body),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(get("/healthz").await.unwrap(), (200, "ok\n".to_owned()));

    // A capability to reconcile: its passes show in the metrics.
    let cap = unique("opm");
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml")).unwrap();
    let spec = dir.path().join("cap.yaml");
    std::fs::write(&spec, example.replace("myapp", &cap)).unwrap();
    let cr = nexus_dev::input::spec::load_specs(&nexus_dev::input::spec::read_sources(&[spec]).unwrap())
        .unwrap()
        .remove(0)
        .cr;
    let mut cr = cr.clone();
    cr.metadata.namespace = Some(ns.name.clone());
    let api: Api<nexus_dev::model::spec::NexusAICapability> = Api::namespaced(client.clone(), &ns.name);
    api.create(&Default::default(), &cr).await.unwrap();
    let metrics = eventually("a pass in the metrics", Duration::from_secs(60), || async {
        let (code, body) = get("/metrics").await?;
        let passes = body
            .lines()
            .find_map(|l| l.strip_prefix("nexus_dev_reconciliations_total "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if code == 200 && passes > 0 { Ok(body) } else { Err(body) }
    })
    .await;
    assert!(metrics.contains("nexus_dev_reconcile_duration_seconds_count"), "{metrics}");

    let name = cr.metadata.name.clone().unwrap();
    api.delete(&name, &Default::default()).await.unwrap();
    eventually("the capability to be gone", Duration::from_secs(60), || async {
        match api.get_opt(&name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".to_owned()),
        }
    })
    .await;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(operator.id() as libc::pid_t, libc::SIGTERM) }, 0);
    assert!(operator.wait().unwrap().success());
}

/// Issue 19: `status -w` follows a capability being applied with a row per change, each with
/// the steps done and the ready replicas; then `status NS/NAME`, `verify NS/NAME` and
/// `verify -n NS` read the capability from the cluster (the seed's `monitor [ns/name]` and
/// `verify-capability [ns]`), without its spec file.
#[tokio::test]
async fn status_watch_shows_progress_and_replicas_and_status_verify_take_ns_slash_name() {
    use std::io::BufRead;
    let bed = TestBed::from_env();
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    let cap = unique("mon");
    let ns = format!("{cap}-dev");
    let spec = dir.path().join("cap.yaml");
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml")).unwrap();
    std::fs::write(&spec, example.replace("myapp", &cap)).unwrap();
    let spec = spec.display().to_string();

    let mut watcher = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["status", "-w", "-p", &profile, "-n", &ns])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watcher.stdout.take().unwrap();
    let (lines, rows) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // The watch is up before the capability exists: its header is printed first.
    let header = rows.recv_timeout(Duration::from_secs(30)).expect("the header");
    assert!(
        header.split_whitespace().eq([
            "NAMESPACE",
            "NAME",
            "PHASE",
            "STEPS",
            "READY",
            "BACKEND",
            "FRONTEND",
            "MESSAGE"
        ]),
        "{header}"
    );

    let out = nexus(&["apply", "-f", &spec, "-p", &profile, "--wait", "--timeout", "90s"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let done = |row: &str| {
        let cols: Vec<&str> = row.split_whitespace().collect();
        cols.len() >= 7 && cols[2] == "Running" && cols[3] == "7/7" && cols[5] == "2/2" && cols[6] == "2/2"
    };
    while !seen.last().is_some_and(|r: &String| done(r)) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rows.recv_timeout(left) {
            Ok(row) => seen.push(row),
            Err(_) => panic!("no row Running 7/7 with 2/2 replicas of each: {seen:#?}"),
        }
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    let cols = |r: &String| r.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert!(seen.iter().all(|r| cols(r)[0] == ns && cols(r)[1] == ns), "{seen:#?}");
    // Progress on the way: a provisioning or deploying phase with fewer steps done.
    assert!(
        seen.iter().any(|r| {
            let c = cols(r);
            c[2] != "Running" && c[3].ends_with("/7") && c[3] != "7/7"
        }),
        "a row with steps under way: {seen:#?}"
    );

    let one = nexus(&["status", &format!("{ns}/{ns}"), "-p", &profile, "-o", "json"]);
    assert!(one.status.success(), "{}", text(&one));
    let v: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!((v["name"].as_str(), v["status"]["phase"].as_str()), (Some(ns.as_str()), Some("Running")));
    assert_eq!(v["steps"], serde_json::json!({"done": 7, "total": 7}));
    assert_eq!(v["replicas"]["backend"], serde_json::json!({"ready": 2, "desired": 2}));
    let missing = nexus(&["status", &format!("{ns}/nope"), "-p", &profile]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).contains(&format!("capability {ns}/nope not found")), "{}", text(&missing));

    // kwok's pods run no process: only the apps' HTTP answers fail (as for `verify -f`).
    let only_http_fails = |out: &Output| {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(out)));
        let failed: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["checks"].as_array().unwrap().clone())
            .filter(|c| c["ok"] == false)
            .map(|c| c["check"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(v.as_array().unwrap().len(), 1, "{v:#}");
        assert_eq!(v[0]["capability"], cap);
        assert!(!failed.is_empty() && failed.iter().all(|c| c.starts_with("http ")), "{}", text(out));
    };
    only_http_fails(&nexus(&["verify", &format!("{ns}/{ns}"), "-p", &profile, "-o", "json"]));
    only_http_fails(&nexus(&["verify", "-n", &ns, "-p", &profile, "-o", "json"]));
    let nothing = nexus(&["verify", "-n", &unique("empty"), "-p", &profile]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(text(&nothing).contains("no capabilities in namespace"), "{}", text(&nothing));

    let delete = nexus(&["delete", "-f", &spec, "-p", &profile]);
    assert!(delete.status.success(), "{}", text(&delete));
}
