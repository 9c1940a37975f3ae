//! Issue 15: `nexus-dev ci` on a real kind cluster with the example project, through the
//! binary, as a pipeline runs it. In order (each step's environment is what the one before
//! left):
//!
//! 1. an image that cannot be pulled: exit 3 once the grace period has passed, a snapshot that
//!    names the pod and the reason, and nothing left behind;
//! 2. a run killed with SIGKILL while its tests run; a second run meanwhile is refused;
//! 3. `-- false`: the dead run's environment is reaped first; exit 1 and a snapshot;
//! 4. the example's integration tests pass: exit 0, a JUnit file with the phases and the
//!    command's own cases, the documented variables with the right values, nothing left;
//! 5. `--timeout 5s`: exit 4, a snapshot, and a clean teardown.
//!
//! It owns the machine's fixed names (a nextest test group with `up` and `kind_e2e`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::kind::{CLUSTER, Env};
use crate::support::project::text;
use crate::support::{TestBed, eventually, fixed_names_lock};

fn ci(env: &Env, args: &[&str]) -> (i32, serde_json::Value, Output) {
    let mut all = vec!["ci", "-o", "json"];
    all.extend_from_slice(args);
    let out = env.nexus(&all);
    let summary = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (out.status.code().unwrap_or(-1), summary, out)
}

/// What a failed run says, shortest first: its verdict and message, the phases, then what it
/// and the command printed (the summary's JSON whole would push the command's output out of a
/// CI log's excerpt).
fn why(summary: &serde_json::Value, out: &Output) -> String {
    let phases: Vec<String> = summary["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("{} {}ms {}", p["name"], p["ms"], p.get("failure").or(p.get("detail")).unwrap_or(&"".into())))
        .collect();
    format!(
        "{}: {}\n{}\n{}",
        summary["verdict"],
        summary["message"],
        phases.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The names of the machine's containers.
fn containers() -> Vec<String> {
    let out = Command::new("docker").args(["ps", "-a", "--format", "{{.Names}}"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

fn assert_nothing_left(env: &Env, after: &str) {
    let left: Vec<String> = containers()
        .into_iter()
        .filter(|c| ["nexus-dev-aws", "nexus-dev-registry", &format!("{CLUSTER}-control-plane")].contains(&c.as_str()))
        .collect();
    assert!(left.is_empty(), "{after}: left behind: {left:?}");
    assert!(!env.clusters().iter().any(|c| c == CLUSTER), "{after}: the kind cluster is left");
}

/// The files of a snapshot tarball, and the text of those whose path contains `wanted`.
fn snapshot(summary: &serde_json::Value, wanted: &str) -> (Vec<String>, String) {
    let path = summary["snapshot"].as_str().unwrap_or_else(|| panic!("no snapshot: {summary:#}"));
    let list = Command::new("tar").args(["tzf", path]).output().unwrap();
    let files: Vec<String> = String::from_utf8_lossy(&list.stdout).lines().map(str::to_owned).collect();
    let mut texts = String::new();
    for f in files.iter().filter(|f| f.contains(wanted) && !f.ends_with('/')) {
        let out = Command::new("tar").args(["xzf", path, "-O", f]).output().unwrap();
        texts.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    (files, texts)
}

fn phase<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no phase {name}: {summary:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_reports_fails_fast_snapshots_reaps_and_leaves_nothing_behind() {
    let _lock = fixed_names_lock();
    let bed = TestBed::from_env();
    let env = Env::prepare("nexus-dev-ci-harness", &bed, TestBed::kind_node_image());
    let project_file = env.project.join("nexus-dev.yaml");
    let spec_file = env.root.join("examples/minimal.yaml");
    let (project, spec) =
        (std::fs::read_to_string(&project_file).unwrap(), std::fs::read_to_string(&spec_file).unwrap());

    // ---- 1. an image that cannot be pulled (no component builds it): exit 3, named
    std::fs::write(&project_file, "specs: [../minimal.yaml]\nprofile: local\n").unwrap();
    std::fs::write(&spec_file, spec.replace("myapp-backend:latest", "nexus-dev-missing:1")).unwrap();
    let (code, summary, out) = ci(&env, &["--grace", "10s", "--", "true"]);
    assert_eq!(code, 3, "{}", text(&out));
    assert_eq!(summary["verdict"], "environment");
    let message = summary["message"].as_str().unwrap();
    assert!(message.contains("seen for 10s"), "{message}");
    // Neither image can be pulled here (no component builds the frontend's either, and no
    // registry runs): whichever pod's problem lasted the grace first is named.
    assert!(
        message.contains("pod/myapp-dev/myapp-dev-backend-") || message.contains("pod/myapp-dev/myapp-dev-frontend-"),
        "names the pod: {message}"
    );
    assert!(message.contains("ErrImagePull") || message.contains("ImagePullBackOff"), "{message}");
    let (files, events) = snapshot(&summary, "events.txt");
    assert!(events.contains("nexus-dev-missing:1"), "{events}");
    assert!(files.iter().any(|f| f.contains("describe/myapp-dev/pod-myapp-dev-backend-")), "{files:#?}");
    for part in ["daemon.log", "build.log", "emulator-inventory.json", "containers/nexus-dev-aws.log", "summary.json"] {
        assert!(files.iter().any(|f| f.ends_with(part)), "{part} in {files:#?}");
    }
    assert_nothing_left(&env, "a failed setup");
    std::fs::write(&project_file, &project).unwrap();
    std::fs::write(&spec_file, &spec).unwrap();

    // ---- 2. a run killed while its tests run; a second run meanwhile is refused
    let started = env.root.join("started");
    let mut killed = env
        .command(&["ci", "--", "sh", "-c", &format!("echo $$ > {}; exec sleep 600", started.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sleeper: i32 = eventually("the killed run's tests to start", Duration::from_secs(300), || async {
        std::fs::read_to_string(&started).ok().and_then(|s| s.trim().parse().ok()).ok_or("not yet".to_owned())
    })
    .await;
    let (code, refused, out) = ci(&env, &["--", "true"]);
    assert_eq!(code, 3, "{}", text(&out));
    assert!(refused["message"].as_str().unwrap().contains("another `nexus-dev ci` run"), "{refused:#}");
    killed.kill().unwrap();
    killed.wait().unwrap();
    // SAFETY: kill(2) of the killed run's test command, a process this test started.
    unsafe { libc::kill(sleeper, libc::SIGKILL) };

    // ---- 3. `-- false`: the dead run's environment is reaped first; exit 1, a snapshot
    let (code, summary, out) = ci(&env, &["--", "false"]);
    assert_eq!(code, 1, "{}", text(&out));
    assert_eq!(summary["verdict"], "tests-failed");
    let reaped = phase(&summary, "reap")["detail"].as_str().unwrap();
    assert!(reaped.contains("pid") && reaped.contains("removed"), "{reaped}");
    let (files, _) = snapshot(&summary, "");
    assert!(files.iter().any(|f| f.contains("/logs/myapp-dev/myapp-dev-backend-")), "{files:#?}");
    assert_nothing_left(&env, "a failed test command");

    // ---- 4. the example's integration tests: exit 0, JUnit, the documented variables
    let junit = env.root.join("report.xml");
    let dump = env.root.join("env.txt");
    let command = format!("env > {} && tests/integration.sh", dump.display());
    let (code, summary, out) = ci(&env, &["--junit", junit.to_str().unwrap(), "--", "sh", "-c", &command]);
    assert_eq!(code, 0, "{}", why(&summary, &out));
    let report = std::fs::read_to_string(&junit).unwrap();
    for case in ["reap", "up", "ready", "test", "teardown", "kind cluster", "images", "running"] {
        assert!(report.contains(&format!("name=\"{case}\"")), "case {case}: {report}");
    }
    assert!(report.contains(r#"<testsuite name="examples/apps integration" tests="3" failures="0">"#), "{report}");
    assert!(report.contains("an object round-trips through the call-data bucket"), "{report}");
    assert_variables(&env, &std::fs::read_to_string(&dump).unwrap(), &summary);
    assert_nothing_left(&env, "a passing run");

    // ---- 5. out of time: exit 4, a snapshot, a clean teardown
    let (code, summary, out) = ci(&env, &["--timeout", "5s", "--", "true"]);
    assert_eq!(code, 4, "{}", text(&out));
    assert!(summary["message"].as_str().unwrap().contains("--timeout of 5s ran out"), "{summary:#}");
    assert!(Path::new(summary["snapshot"].as_str().unwrap()).is_file(), "{summary:#}");
    assert_nothing_left(&env, "a run out of time");
    let _ = std::fs::remove_dir_all(&env.root);
}

/// The variables the command got are exactly the documented ones (docs/ci.md), with the
/// capability's names, and they work.
fn assert_variables(env: &Env, dump: &str, summary: &serde_json::Value) {
    let ours = |k: &str| {
        k.starts_with("NEXUS_MYAPP_")
            || k.starts_with("AWS_")
            || k == "KUBECONFIG"
            || ["NEXUS_DEV_RUN_ID", "NEXUS_DEV_PROFILE", "NEXUS_DEV_ENV_FILE", "NEXUS_DEV_JUNIT"].contains(&k)
    };
    // What the run added or changed: the rest is this process's environment, passed on.
    let inherited = |k: &str, v: &str| std::env::var(k).ok().as_deref() == Some(v);
    let got: std::collections::BTreeMap<&str, &str> =
        dump.lines().filter_map(|l| l.split_once('=')).filter(|(k, v)| ours(k) && !inherited(k, v)).collect();
    let plan = env.nexus(&["plan", "-f", "../minimal.yaml", "-p", "local", "-o", "json"]);
    assert!(plan.status.success(), "{}", text(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let mut want: BTreeSet<String> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "ssm.parameter")
        .map(|r| {
            let rest = r["name"].as_str().unwrap().trim_start_matches("/myapp/dev/");
            format!("NEXUS_MYAPP_{}", rest.replace(['/', '-'], "_").to_uppercase())
        })
        .collect();
    for k in [
        "NEXUS_MYAPP_NAMESPACE",
        "NEXUS_MYAPP_REGION",
        "NEXUS_MYAPP_URL_BACKEND",
        "NEXUS_MYAPP_URL_FRONTEND",
        "NEXUS_DEV_RUN_ID",
        "NEXUS_DEV_PROFILE",
        "NEXUS_DEV_ENV_FILE",
        "NEXUS_DEV_JUNIT",
        "KUBECONFIG",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        want.insert(k.to_owned());
    }
    let names: BTreeSet<String> = got.keys().map(|k| (*k).to_owned()).collect();
    assert_eq!(names, want, "exactly the documented variables");
    assert_eq!(got["NEXUS_MYAPP_DYNAMODB_LICENSE_TABLE"], "myapp-dev-license");
    assert_eq!(got["NEXUS_MYAPP_IAM_APP_ROLE_ARN"], "arn:aws:iam::000000000000:role/myapp-dev-app-role");
    assert_eq!(got["NEXUS_MYAPP_NAMESPACE"], "myapp-dev");
    assert_eq!(got["AWS_ENDPOINT_URL"], "http://localhost:4566");
    assert_eq!(got["AWS_REGION"], "ap-southeast-1");
    assert_eq!(got["NEXUS_DEV_RUN_ID"], summary["runId"].as_str().unwrap());
    assert!(got["NEXUS_MYAPP_URL_BACKEND"].starts_with("http://127.0.0.1:"), "{got:?}");
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(got["NEXUS_DEV_ENV_FILE"]).unwrap()).unwrap();
    assert_eq!(file["capabilities"][0]["parameters"]["/myapp/dev/dynamodb/license-table"], "myapp-dev-license");
    assert_eq!(file["runId"], summary["runId"]);
}

/// Issue 15, item 3: the library entry. A Rust test gets the environment and the variables
/// `nexus-dev ci` gives a command, holds the machine while it lives, and dropping it tears
/// down what it made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_environment_serves_a_rust_test_and_drop_tears_it_down() {
    let _lock = fixed_names_lock();
    let bed = TestBed::from_env();
    let env = Env::prepare("nexus-dev-ci-library", &bed, TestBed::kind_node_image());
    for (k, v) in env.settings() {
        // SAFETY: nextest runs each test in a process of its own, and nothing else in this one
        // reads the environment while it is set.
        unsafe { std::env::set_var(k, v) };
    }
    let lib = nexus_dev::ci::Environment::up(&env.project).await.unwrap_or_else(|e| panic!("{e}"));
    let vars = lib.vars();
    assert_eq!(vars["NEXUS_MYAPP_DYNAMODB_LICENSE_TABLE"], "myapp-dev-license");
    assert_eq!(lib.info().capabilities[0].namespace, "myapp-dev");
    let hello = reqwest::get(format!("{}api/hello", vars["NEXUS_MYAPP_URL_BACKEND"])).await.unwrap();
    assert!(hello.text().await.unwrap().contains("hello from the example api"));
    let (code, refused, _) = ci(&env, &["--", "true"]);
    assert_eq!(code, 3, "the machine is held while the environment lives: {refused:#}");
    drop(lib);
    assert_nothing_left(&env, "a dropped environment");
    let _ = std::fs::remove_dir_all(&env.root);
}
