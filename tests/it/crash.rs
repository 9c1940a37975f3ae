//! Issue #11: a real `nexus-dev apply` process killed with SIGKILL at any moment, alone or while
//! another process applies the same spec, leaves nothing that the next apply cannot converge:
//! no duplicate user pool, nothing foreign-looking, and a second apply changes nothing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::emulators;
use crate::support::Emulator;
use crate::support::fixtures::testbed_profile_file;
use crate::support::{TestBed, unique};
use rstest_reuse::apply;

fn apply(dir: &Path, profile: &str, spec: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["apply", "--only", "aws", "-f", spec.to_str().unwrap(), "-p", profile, "-o", "json"])
        .env("NEXUS_DEV_STATE_DIR", dir.join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finished(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn kill_after(mut child: Child, after: Duration) {
    std::thread::sleep(after);
    // SAFETY: the pid is our own child, not yet reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

#[apply(emulators)]
#[tokio::test]
async fn applies_killed_with_sigkill_at_any_moment_converge_with_nothing_duplicated(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    let cap = unique("kill");
    let spec = dir.path().join("cap.yaml");
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/with-cognito.yaml")).unwrap();
    std::fs::write(&spec, example.replace("portal", &cap).replace("deletionPolicy: Retain", "deletionPolicy: Delete"))
        .unwrap();

    // Alone, killed at moments spread over a cold apply (~0.5–1 s here).
    for ms in [30, 80, 150, 250, 400, 600] {
        kill_after(apply(dir.path(), &profile, &spec), Duration::from_millis(ms));
    }
    // Two racing, one of them killed.
    let (a, b) = (apply(dir.path(), &profile, &spec), apply(dir.path(), &profile, &spec));
    kill_after(a, Duration::from_millis(120));
    let b = finished(b);
    assert_eq!(b["resources"].as_array().unwrap().iter().filter(|r| r["outcome"] == "failed").count(), 0, "{b:#}");

    let again = finished(apply(dir.path(), &profile, &spec));
    assert_eq!(again["mutatingCalls"], 0, "converged: {again:#}");
    let pools = nexus_dev::provision::aws::Clients::connect(&nexus_dev::provision::aws::Target::emulator(
        &bed.aws_endpoint,
        "eu-west-1",
    ))
    .await
    .cognito
    .list_user_pools()
    .max_results(60)
    .send()
    .await
    .unwrap();
    let ours = pools.user_pools().iter().filter(|p| p.name().is_some_and(|n| n.starts_with(&cap))).count();
    assert_eq!(ours, 1, "one user pool, however the runs were killed");

    let out = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["delete", "--only", "aws", "-f", spec.to_str().unwrap(), "-p", &profile])
        .env("NEXUS_DEV_STATE_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
