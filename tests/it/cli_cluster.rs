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

/// Issues 13 and 19: the operator serves /healthz, /readyz once its controller has read the
/// capabilities, and Prometheus metrics that count its passes. Two operators share one Lease:
/// one reconciles, the other stands by (ready, saying who holds the Lease) and reconciles
/// nothing; when the holder stops it lets the Lease go and the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_serves_health_readiness_and_metrics_and_one_of_two_holds_the_lease() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    let ns = crate::support::TestNamespace::create(&client, "op-metrics").await;
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    let start = |name: &str| {
        let listen = format!("127.0.0.1:{}", crate::support::project::free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
            .args(["operator", "-p", &profile, "-n", &ns.name, "--listen", &listen])
            .env("NEXUS_DEV_STATE_DIR", dir.path().join("state"))
            // The Lease in the test's namespace: other tests' daemons and operators never see it.
            .env("NEXUS_DEV_LEASE_NAMESPACE", &ns.name)
            .env("POD_NAME", name)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        (child, listen)
    };
    let get = |listen: &str, path: &'static str| {
        let url = format!("http://{listen}{path}");
        async move {
            let r = reqwest::get(&url).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((r.status().as_u16(), r.text().await.map_err(|e| e.to_string())?))
        }
    };
    let ready = |listen: String, want: &'static str| async move {
        eventually(&format!("/readyz to say {want}"), Duration::from_secs(30), || async {
            match get(&listen, "/readyz").await? {
                (200, body) if body.starts_with(want) => Ok(body),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    };
    let passes = |body: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix("nexus_dev_reconciliations_total "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (mut first, first_at) = start("operator-a");
    ready(first_at.clone(), "ready").await;
    assert_eq!(get(&first_at, "/healthz").await.unwrap(), (200, "ok\n".to_owned()));
    let (mut second, second_at) = start("operator-b");
    let standby = ready(second_at.clone(), "standby").await;
    assert_eq!(standby, "standby: the lease is held by operator-a\n");

    // A capability to reconcile: the holder's passes show in its metrics, none in the other's.
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
        let (code, body) = get(&first_at, "/metrics").await?;
        if code == 200 && passes(&body) > 0 { Ok(body) } else { Err(body) }
    })
    .await;
    assert!(metrics.contains("nexus_dev_reconcile_duration_seconds_count"), "{metrics}");
    // AWS calls by operation and whether they change anything; capabilities by phase.
    eventually("AWS calls by operation and the capability by phase", Duration::from_secs(60), || async {
        let (_, body) = get(&first_at, "/metrics").await?;
        let counted: u64 = body
            .lines()
            .filter(|l| l.starts_with("nexus_dev_capabilities{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        let calls = body.contains(".CreateTable\",mutating=\"true\"}") && body.contains("mutating=\"false\"} ");
        if counted == 1 && calls { Ok(()) } else { Err(body) }
    })
    .await;
    let (_, standby_metrics) = get(&second_at, "/metrics").await.unwrap();
    assert_eq!(passes(&standby_metrics), 0, "the standby writes nothing: {standby_metrics}");
    let status = nexus(&["operator", "status", "--namespace", &ns.name, "-p", &profile, "-o", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    assert_eq!(s["leader"], "operator-a", "{}", text(&status));

    // The holder stops and lets the Lease go: the other takes over at once (not after expiry).
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(first.id() as libc::pid_t, libc::SIGTERM) }, 0);
    assert!(first.wait().unwrap().success());
    let took_over = std::time::Instant::now();
    ready(second_at.clone(), "ready").await;
    eprintln!("the standby took over {:?} after the holder stopped", took_over.elapsed());

    let name = cr.metadata.name.clone().unwrap();
    api.delete(&name, &Default::default()).await.unwrap();
    eventually("the capability to be gone", Duration::from_secs(60), || async {
        match api.get_opt(&name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".to_owned()),
        }
    })
    .await;
    assert_eq!(unsafe { libc::kill(second.id() as libc::pid_t, libc::SIGTERM) }, 0);
    assert!(second.wait().unwrap().success());
}

/// Issue 19: the operator's IAM role is planned and shown before it is created; created, it
/// trusts the operator's service account and grants no wildcard action; a second apply changes
/// nothing.
#[tokio::test]
async fn the_operators_role_is_planned_then_created_exactly_as_planned() {
    let bed = TestBed::from_env();
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    let config = nexus_dev::provision::aws::sdk_config(&nexus_dev::provision::aws::Target::emulator(
        &bed.aws_endpoint,
        "us-east-1",
    ))
    .await;
    let iam = aws_sdk_iam::Client::new(&config);
    // The role has a fixed name in the test bed's one account: start from none.
    let _ = iam.delete_role_policy().role_name("NexusAIOperatorRole").policy_name("nexus-dev-operator").send().await;
    let _ = iam.delete_role().role_name("NexusAIOperatorRole").send().await;
    let role = |apply: bool| {
        let mut args = vec!["operator", "role", "-p", &profile, "-o", "json"];
        if apply {
            args.push("--apply");
        }
        let out = nexus(&args);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let plan = role(false);
    assert_eq!((plan["outcome"].as_str(), plan["applied"].as_bool()), (Some("created"), Some(false)), "{plan:#}");
    assert!(iam.get_role().role_name("NexusAIOperatorRole").send().await.is_err(), "a plan creates nothing");
    let shown = nexus(&["operator", "role", "-p", &profile]);
    assert!(text(&shown).contains("iam.role NexusAIOperatorRole: would be created"), "{}", text(&shown));
    assert!(text(&shown).contains("system:serviceaccount:nexus-system:nexus-operator"), "{}", text(&shown));

    let made = role(true);
    assert_eq!(made["outcome"], "created", "{made:#}");
    let got = iam.get_role().role_name("NexusAIOperatorRole").send().await.unwrap().role.unwrap();
    let trust = urlencoding_decode(got.assume_role_policy_document.as_deref().unwrap());
    assert!(trust.contains("system:serviceaccount:nexus-system:nexus-operator"), "{trust}");
    let policy = iam
        .get_role_policy()
        .role_name("NexusAIOperatorRole")
        .policy_name("nexus-dev-operator")
        .send()
        .await
        .unwrap()
        .policy_document;
    let policy: serde_json::Value = serde_json::from_str(&urlencoding_decode(&policy)).unwrap();
    let actions: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()))
        .collect();
    assert!(
        actions.contains(&"dynamodb:CreateTable") && actions.contains(&"cognito-idp:CreateUserPool"),
        "{actions:?}"
    );
    assert!(actions.iter().all(|a| !a.contains('*')), "no wildcard action: {actions:?}");
    assert_eq!(role(true)["outcome"], "unchanged");
    let _ = iam.delete_role_policy().role_name("NexusAIOperatorRole").policy_name("nexus-dev-operator").send().await;
    let _ = iam.delete_role().role_name("NexusAIOperatorRole").send().await;
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
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
