//! Issue #11, item 15, through the binary on the test bed: two `up` of one fresh project at once
//! both succeed (the second waits for the first instead of failing on a Docker conflict), and a
//! daemon that cannot start is reported at once with its own error; an orphaned daemon stops.
//!
//! These tests own the fixed container names (`nexus-dev-aws`, `nexus-dev-registry`): they run
//! in the nextest test group of the `up` tests, and one at a time under `cargo test`.

use std::path::Path;
use std::process::Stdio;

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

/// Issue 21, item 3: a daemon whose state directory is deleted, or whose project file is gone,
/// notices within seconds and stops cleanly, saying why, instead of serving on for a project that
/// no longer knows it.
#[tokio::test]
async fn an_orphaned_daemon_stops_saying_why() {
    let _serial = FIXED_NAMES.lock().await;
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    for (case, orphan) in [
        ("its state directory deleted", (|p: &ScratchProject| std::fs::remove_dir_all(&p.state)) as fn(&_) -> _),
        ("its project file deleted", |p: &ScratchProject| std::fs::remove_file(p.dir.join("nexus-dev.yaml"))),
    ] {
        let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "orphan");
        let profile = p.profile();
        let mut daemon = p
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
        orphan(&p).unwrap();
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
        eprintln!("{case}: the daemon stopped {:?} after", gone.elapsed());
        assert!(status.success(), "{case}: a clean stop: {status:?}\n{err}");
        assert!(err.contains("daemon orphaned"), "{case}: it says why:\n{err}");
    }
}
