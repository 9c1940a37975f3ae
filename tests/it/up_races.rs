//! Issue #11, item 15, through the binary on the test bed: two `up` of one fresh project at once
//! both succeed (the second waits for the first instead of failing on a Docker conflict), and a
//! daemon that cannot start is reported at once with its own error; an orphaned daemon stops.
//!
//! These tests own the fixed container names (`nexus-dev-aws`, `nexus-dev-registry`): they run
//! in the nextest test group of the `up` tests, and one at a time under `cargo test`.

use std::path::Path;
use std::process::Stdio;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};

use crate::support::TestBed;
use crate::support::project::{ScratchProject, files_under, text};

static FIXED_NAMES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn two_ups_of_one_fresh_project_at_once_both_succeed() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "twoup");
    let start = || {
        p.command(&["up", "--no-watch", "--timeout", "120s", "-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "first: {}", text(&a));
    assert!(b.status.success(), "second: {}", text(&b));
    let waited = format!("{}{}", String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    assert!(waited.contains("is bringing this project up"), "one of them waited, saying so:\n{waited}");
}

#[tokio::test]
async fn a_daemon_that_cannot_start_is_reported_with_its_own_error() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "nodaemon");
    // A Unix socket path longer than the 108 bytes the kernel takes.
    let long = p.state.join("x".repeat(120));
    let out = p.command(&["up", "--no-watch", "--timeout", "60s"]).env("NEXUS_DEV_STATE_DIR", &long).output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("the daemon exited"), "{all}");
    assert!(all.contains("cannot listen on"), "the daemon's own error is shown: {all}");
    let _ = p.command(&["down", "--purge"]).env("NEXUS_DEV_STATE_DIR", &long).output();
}

/// Issue #11, item 14: after the emulator lost its state, `up` does not say Running until the
/// daemon has provisioned the capability again.
#[tokio::test]
async fn up_waits_for_a_lost_emulator_state_to_be_provisioned_again() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "lost");
    let first = p.nexus(&["up", "--no-watch", "--timeout", "120s"]);
    assert!(first.status.success(), "{}", text(&first));
    let profile = std::fs::read_to_string(p.profile()).unwrap();
    let endpoint = profile.split("endpoint: \"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_owned();
    // moto forgets everything, as a recreated emulator container would.
    let reset = reqwest::Client::new().post(format!("{endpoint}/moto-api/reset")).send().await.unwrap();
    assert!(reset.status().is_success());
    let again = p.nexus(&["up", "--no-watch", "--timeout", "120s"]);
    assert!(again.status.success(), "{}", text(&again));
    let config = nexus_dev::provision::aws::sdk_config(&nexus_dev::provision::aws::Target::emulator(
        &endpoint,
        "ap-southeast-1",
    ))
    .await;
    let buckets = nexus_dev::provision::aws::s3_client(&config, true).list_buckets().send().await.unwrap();
    let ours = buckets.buckets().iter().filter(|b| b.name().is_some_and(|n| n.starts_with(&p.capability))).count();
    assert_eq!(ours, 4, "up said Running: the capability's buckets are back");
}

/// `nexus-dev daemon` of `p`, started by hand; its socket is there when this returns.
async fn start_daemon(p: &ScratchProject) -> std::process::Child {
    let profile = p.profile();
    let daemon = p
        .command(&["daemon", "--project-dir", p.dir.to_str().unwrap(), "--profile", profile.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    crate::support::eventually("the daemon's socket", std::time::Duration::from_secs(30), || async {
        let found = files_under(&p.state).iter().any(|f| f.ends_with("daemon.sock"));
        if found { Ok(()) } else { Err("no socket yet".to_owned()) }
    })
    .await;
    daemon
}

/// Waits for the daemon to stop by itself, asserts it stopped cleanly saying why, and returns
/// what it logged.
fn stopped_by_itself(mut daemon: std::process::Child, case: &str) -> String {
    let gone = std::time::Instant::now();
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        assert!(gone.elapsed() < std::time::Duration::from_secs(20), "{case}: the daemon still runs");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut daemon.stderr.take().unwrap(), &mut err).unwrap();
    eprintln!("{case}: the daemon stopped {:?} after:\n{err}", gone.elapsed());
    assert!(status.success(), "{case}: a clean stop: {status:?}\n{err}");
    assert!(err.contains("daemon orphaned"), "{case}: it says why:\n{err}");
    err
}

/// Issue 21, item 3: a daemon whose state directory is deleted, whose project file is gone, or
/// whose emulator's name another container took, notices within seconds and stops cleanly,
/// saying why, instead of serving on for a project that no longer knows it; a new `up` then
/// works at once.
#[tokio::test]
async fn an_orphaned_daemon_stops_saying_why() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let bin = Path::new(env!("CARGO_BIN_EXE_nexus-dev"));

    let p = ScratchProject::new(&bed, bin, "orphan");
    let daemon = start_daemon(&p).await;
    std::fs::remove_dir_all(&p.state).unwrap();
    stopped_by_itself(daemon, "its state directory deleted");
    let t = std::time::Instant::now();
    let up = p.nexus(&["up", "--no-watch", "--timeout", "120s"]);
    assert!(up.status.success(), "a new up works at once: {}", text(&up));
    eprintln!("the next up took {:?}", t.elapsed());
    drop(p);

    let p = ScratchProject::new(&bed, bin, "orphan");
    let daemon = start_daemon(&p).await;
    std::fs::remove_file(p.dir.join("nexus-dev.yaml")).unwrap();
    stopped_by_itself(daemon, "its project file deleted");

    // The emulator container's name taken by a container that is not nexus-dev's.
    let p = ScratchProject::new(&bed, bin, "orphan");
    let daemon = start_daemon(&p).await;
    let docker = bed.docker().await;
    let _ = docker
        .remove_container("nexus-dev-aws", Some(RemoveContainerOptionsBuilder::default().force(true).build()))
        .await;
    let body = ContainerCreateBody {
        image: Some(bed.base_image.clone()),
        cmd: Some(vec!["sleep".into(), "600".into()]),
        ..Default::default()
    };
    docker
        .create_container(Some(CreateContainerOptionsBuilder::default().name("nexus-dev-aws").build()), body)
        .await
        .unwrap();
    let err = stopped_by_itself(daemon, "its emulator's name taken");
    let _ = docker
        .remove_container("nexus-dev-aws", Some(RemoveContainerOptionsBuilder::default().force(true).build()))
        .await;
    assert!(
        err.contains("the emulator container nexus-dev-aws now belongs to something other than nexus-dev"),
        "{err}"
    );
}

/// Issue 21, item 3: a daemon of the project that lost its lock and does not notice (frozen
/// here with SIGSTOP) is found and stopped by the next `up`, which says so.
#[tokio::test]
async fn up_stops_an_orphaned_daemon_of_its_project() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "frozen");
    let first = p.nexus(&["up", "--no-watch", "--timeout", "120s"]);
    assert!(first.status.success(), "{}", text(&first));
    let lock = files_under(&p.state).into_iter().find(|f| f.ends_with("daemon.lock")).unwrap();
    let pid: i32 = std::fs::read_to_string(&lock).unwrap().trim().parse().unwrap();
    // SAFETY: kill(2) on the daemon this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    std::fs::remove_dir_all(&p.state).unwrap();
    let again = p.nexus(&["up", "--no-watch", "--timeout", "120s"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains(&format!("stopped an orphaned daemon of this project (pid {pid})")),
        "{}",
        text(&again)
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.rsplit(')').next().unwrap().trim_start().starts_with('Z'), "still there: {stat}");
}
