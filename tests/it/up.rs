//! Issue #6 end to end through the binary, on the test bed: `up` with an existing cluster (the
//! test bed's control plane) and the emulator container (the stand-in moto image) brings a
//! capability to Running; a second `up` changes nothing; `status`, `logs` and `down` go through
//! the daemon's 0600 socket; a second daemon is refused; `down` stops only what `up` started.
//! With `components` in the project file, `up` goes on to watch mode: it starts the registry,
//! builds, pushes and deploys each component, and Ctrl-C ends watching, not the environment.
//!
//! Both tests own the fixed container names (`nexus-dev-aws`, `nexus-dev-registry`), so they run
//! one at a time: a nextest test group (`.config/nextest.toml`) and, under `cargo test`, a lock.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::project::{self, ScratchProject, files_under, text};
use crate::support::{TestBed, eventually, unique};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};

/// Under `cargo test` the tests of this file share a process; nextest runs them in a test group.
/// `support::fixed_names_lock` keeps other processes (tests/it/kind_e2e.rs) out as well.
static FIXED_NAMES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn up_status_logs_down_through_the_daemon() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    // A container nexus-dev did not make: `down` must leave it alone.
    let foreign = unique("foreign");
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&foreign).build()),
            ContainerCreateBody {
                image: Some(bed.base_image.clone()),
                cmd: Some(vec!["sleep".into(), "600".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    docker.start_container(&foreign, None::<bollard::query_parameters::StartContainerOptions>).await.unwrap();

    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "up");
    let cap = p.capability.clone();
    // Seed data (issue 17): loaded by the first up, kept by the second.
    std::fs::write(
        p.dir.as_path().join("nexus-dev.yaml"),
        format!("specs: [capabilities/]\nprofile: dev\nseed:\n  {cap}:\n    parameters: {{app/greeting: hi}}\n"),
    )
    .unwrap();
    let seed_step = |v: &serde_json::Value| {
        v["steps"].as_array().unwrap().iter().find(|s| s["step"] == "seed data").map(|s| s["result"].to_string())
    };
    let first = p.nexus(&["up", "-o", "json", "--timeout", "120s", "--no-watch"]);
    assert!(first.status.success(), "{}", text(&first));
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(v["capabilities"][0]["phase"], "Running", "{v:#}");
    assert_eq!(seed_step(&v), Some(format!("\"{cap}: 1 loaded, 0 kept\"")), "{v:#}");
    let generation = v["capabilities"][0]["generation"].clone();

    // Warm: nothing changes, the daemon is reused.
    let second = p.nexus(&["up", "-o", "json"]);
    assert!(second.status.success(), "{}", text(&second));
    let v: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let steps: Vec<(String, String)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_owned(), s["result"].as_str().unwrap().to_owned()))
        .collect();
    assert!(steps.iter().any(|(s, r)| s == "daemon" && r == "running"), "{steps:?}");
    assert!(steps.iter().any(|(s, r)| s == "aws emulator" && r.ends_with("unchanged")), "{steps:?}");
    assert_eq!(v["capabilities"][0]["generation"], generation, "a second up must not change the capability");
    assert_eq!(seed_step(&v), Some(format!("\"{cap}: 0 loaded, 1 kept\"")), "{v:#}");

    // The socket is the owner's only; a second daemon is refused.
    let sockets: Vec<_> = files_under(p.state.as_path()).into_iter().filter(|f| f.ends_with("daemon.sock")).collect();
    assert_eq!(sockets.len(), 1);
    assert_eq!(std::fs::metadata(&sockets[0]).unwrap().permissions().mode() & 0o777, 0o600);
    let profile = p.profile();
    let again = p.nexus(&[
        "daemon",
        "--project-dir",
        p.dir.as_path().to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(text(&again).contains("another nexus-dev daemon runs for this project"), "{}", text(&again));

    let status = p.nexus(&["status", "-o", "json"]);
    assert!(status.status.success(), "{}", text(&status));
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(s[0]["phase"], "Running");
    let logs = p.nexus(&["logs", &cap, "backend"]);
    assert!(logs.status.success(), "{}", text(&logs));
    assert!(text(&logs).contains("simulated node with no container runtime"), "{}", text(&logs));

    // Clean the capability up, then `down`: the daemon and the emulator stop, nothing else.
    let spec = p.spec();
    let del = p.nexus(&["delete", "-f", spec.to_str().unwrap(), "-p", profile.to_str().unwrap()]);
    assert!(del.status.success(), "{}", text(&del));
    let down = p.nexus(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    let logs = p.nexus(&["logs"]);
    assert!(!logs.status.success() && text(&logs).contains("no daemon answers"), "{}", text(&logs));
    let emulator = docker
        .inspect_container("nexus-dev-aws", None::<bollard::query_parameters::InspectContainerOptions>)
        .await
        .unwrap();
    assert_eq!(emulator.state.unwrap().running, Some(false), "down stops the emulator and keeps it");
    let purge = p.nexus(&["down", "--purge"]);
    assert!(purge.status.success(), "{}", text(&purge));
    assert!(
        docker
            .inspect_container("nexus-dev-aws", None::<bollard::query_parameters::InspectContainerOptions>)
            .await
            .is_err(),
        "purged"
    );
    let f =
        docker.inspect_container(&foreign, None::<bollard::query_parameters::InspectContainerOptions>).await.unwrap();
    assert_eq!(f.state.unwrap().running, Some(true), "a foreign container is never touched");
    let _ = docker.remove_container(&foreign, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_goes_on_to_watch_mode_and_ctrl_c_leaves_the_environment_running() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "upw");
    let cap = p.capability.clone();
    let registry = format!("localhost:{}", project::free_port());
    let _images = crate::support::watch::Images { docker: docker.clone(), repository: format!("{registry}/api") };
    crate::support::watch::copy_example("api", p.dir.as_path());
    let profile = p.profile();
    let with_registry = std::fs::read_to_string(&profile).unwrap() + &format!("registry: {{host: \"{registry}\"}}\n");
    std::fs::write(&profile, with_registry).unwrap();
    std::fs::write(
        p.dir.as_path().join("nexus-dev.yaml"),
        format!(
            "specs: [capabilities/]\nprofile: dev\ncomponents:\n  - name: api\n    component: backend\n    context: api\n    buildArgs: {{BASE_IMAGE: \"{}\"}}\nwatch: {{debounce: 200ms}}\n",
            bed.base_image
        ),
    )
    .unwrap();

    let mut up = p
        .command(&["up", "--timeout", "120s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nexus-dev runs");
    let stderr = up.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    // The first `up` builds and deploys the components before it waits for Running; watch mode
    // then builds them again (from Docker's cache) and deploys.
    let watch_deployed = |seen: &[String]| {
        seen.iter().skip_while(|l| !l.contains("watch mode: api")).any(|l| l.contains("api: deployed"))
    };
    while !watch_deployed(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = up.kill();
                panic!("no deploy from watch mode within 240 s:\n{}", seen.join("\n"));
            }
        }
    }
    let log = seen.join("\n");
    assert!(log.contains("registry") && log.contains("watch mode: api"), "{log}");
    // A fresh moto container: `up` says, once, that what is put in it does not last.
    assert_eq!(log.matches("moto keeps its state in memory").count(), 1, "{log}");
    let images = seen.iter().position(|l| l.contains("images") && l.contains("built and deployed"));
    let running = seen.iter().position(|l| l.contains("✓ running"));
    assert!(images.is_some() && images < running, "the images are built before up waits for Running:\n{log}");

    // The Deployment runs what watch mode built and pushed to the registry `up` started.
    let client = bed.kube().await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client, &format!("{cap}-dev"));
    let d = deployments.get(&format!("{cap}-dev-backend")).await.unwrap();
    let image = d.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert!(image.starts_with(&format!("{registry}/api@sha256:")), "{image}");

    // Ctrl-C ends watching; `up` exits cleanly and the environment stays up.
    // SAFETY: kill(2) on our own child's pid, no memory involved.
    assert_eq!(unsafe { libc::kill(up.id() as libc::pid_t, libc::SIGINT) }, 0);
    let status = up.wait().unwrap();
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(status.success(), "up after Ctrl-C: {status:?}\n{log}\n{}", rest.join("\n"));
    // The daemon still answers; the capability settles at Running on the image watch mode built.
    eventually("the capability to be Running through the daemon", Duration::from_secs(60), || async {
        let st = p.nexus(&["status", "-o", "json"]);
        if !st.status.success() {
            return Err(text(&st));
        }
        let s: serde_json::Value = serde_json::from_slice(&st.stdout).map_err(|e| e.to_string())?;
        if s[0]["phase"] == "Running" { Ok(()) } else { Err(format!("{s:#}")) }
    })
    .await;

    let spec = p.spec();
    let del = p.nexus(&["delete", "-f", spec.to_str().unwrap(), "-p", profile.to_str().unwrap()]);
    assert!(del.status.success(), "{}", text(&del));
    let purge = p.nexus(&["down", "--purge"]);
    assert!(purge.status.success(), "{}", text(&purge));
    for name in ["nexus-dev-aws", "nexus-dev-registry"] {
        let gone =
            docker.inspect_container(name, None::<bollard::query_parameters::InspectContainerOptions>).await.is_err();
        assert!(gone, "{name} purged");
    }
}

/// Issue #11, item 6: at the highest verbosity the Docker client logs the container's create
/// body, environment included; the LocalStack token never shows, anywhere `up` writes.
#[tokio::test]
async fn the_localstack_token_never_shows_even_at_trace_level() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "tok");
    let profile = format!(
        "name: dev\ncluster: {{provider: existing, kubeconfig: \"{}\", context: {}}}\naws: {{emulator: localstack, endpoint: \"http://127.0.0.1:{}\", account: \"000000000000\"}}\n",
        bed.kubeconfig,
        bed.context,
        project::free_port()
    );
    std::fs::write(p.profile(), profile).unwrap();
    let token = format!("ls-{}", unique("secret-token"));
    // The base image stands in for LocalStack's (which cannot be pulled): its container is
    // created, with the token, and exits at once, so `up` fails fast after the create.
    let out = p
        .command(&["-vvv", "up", "--no-watch", "--timeout", "20s"])
        .env("LOCALSTACK_AUTH_TOKEN", &token)
        .env("NEXUS_DEV_EMULATOR_IMAGE", &bed.base_image)
        .output()
        .unwrap();
    let all = text(&out);
    assert!(all.contains("LOCALSTACK_AUTH_TOKEN=<redacted>"), "the create body was logged, masked:\n{all}");
    let mut seen = all.matches(&token).count();
    for f in files_under(&p.state) {
        seen += std::fs::read_to_string(&f).unwrap_or_default().matches(&token).count();
    }
    assert_eq!(seen, 0, "the token appears {seen} times in the output or the state directory");
}

/// Issue 17: with MiniStack, what a developer puts in the emulator survives `down` then `up`;
/// `down --purge` deletes it.
#[tokio::test]
async fn with_ministack_data_survives_down_and_up_and_purge_deletes_it() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "mini");
    let port = project::free_port();
    std::fs::write(
        p.profile(),
        format!(
            "name: dev\ncluster: {{provider: existing, kubeconfig: \"{}\", context: {}}}\naws: {{emulator: ministack, endpoint: \"http://127.0.0.1:{port}\", podEndpoint: \"http://nexus-dev-aws:4566\", account: \"000000000000\"}}\nirsa: {{issuer: \"{}\", registerOidcProvider: true}}\n",
            bed.kubeconfig, bed.context, bed.sa_issuer
        ),
    )
    .unwrap();
    let nexus = |args: &[&str]| p.command(args).env("NEXUS_DEV_EMULATOR_IMAGE", &bed.ministack_image).output().unwrap();
    let up = nexus(&["up", "--no-watch", "--timeout", "120s", "-o", "json"]);
    assert!(up.status.success(), "{}", text(&up));

    let endpoint = format!("http://127.0.0.1:{port}");
    let ssm = || async {
        let target = nexus_dev::provision::aws::Target::emulator(&endpoint, "us-east-1");
        aws_sdk_ssm::Client::new(&nexus_dev::provision::aws::sdk_config(&target).await)
    };
    let name = format!("/{}/kept", p.capability);
    ssm()
        .await
        .put_parameter()
        .name(&name)
        .value("a developer's value")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let down = nexus(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    let again = nexus(&["up", "--no-watch", "--timeout", "120s", "-o", "json"]);
    assert!(again.status.success(), "{}", text(&again));
    let got = ssm().await.get_parameter().name(&name).send().await.unwrap();
    assert_eq!(got.parameter().and_then(|p| p.value()), Some("a developer's value"), "kept across down and up");

    // `delete` just before: the next `up` waits for the capability's namespace to go.
    let spec = p.spec();
    let del = nexus(&["delete", "-f", spec.to_str().unwrap(), "-p", p.profile().to_str().unwrap()]);
    assert!(del.status.success(), "{}", text(&del));
    let purge = nexus(&["down", "--purge"]);
    assert!(purge.status.success(), "{}", text(&purge));
    let purged = nexus(&["up", "--no-watch", "--timeout", "120s", "-o", "json"]);
    assert!(purged.status.success(), "{}", text(&purged));
    let gone = ssm().await.get_parameter().name(&name).send().await;
    assert!(gone.is_err(), "down --purge deleted the emulator's data");
    let spec = p.spec();
    let _ = nexus(&["delete", "-f", spec.to_str().unwrap(), "-p", p.profile().to_str().unwrap()]);
    let purge = nexus(&["down", "--purge"]);
    assert!(purge.status.success(), "{}", text(&purge));
}
