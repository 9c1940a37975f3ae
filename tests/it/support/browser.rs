//! Headless Chromium for the dashboard's page tests and benchmark (issue 16): the test bed's
//! browser (`scripts/testbed browser`) driven by a script of `tests/browser/` through
//! playwright-core.

use std::path::{Path, PathBuf};

use tokio::io::AsyncBufReadExt;

/// The variable the test bed sets for the page tests, or a failure saying how to get it.
fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("${name} is not set: install the browser with `scripts/testbed browser` and export `eval \"$(scripts/testbed env)\"`")
    })
}

/// A script's stdout: one JSON line per stage.
pub type Stages = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// Where the page tests keep their screenshots (CI keeps them as artifacts).
pub fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
}

/// Runs `node tests/browser/SCRIPT URL target/tmp/ui-screenshots/` with the test bed's browser:
/// the process (killed when dropped; its stdin is a pipe, for scripts that take commands), its
/// stdout and the screenshots' directory.
pub fn browser(script: &str, url: &str) -> (tokio::process::Child, Stages, PathBuf) {
    let shots = screenshots();
    std::fs::create_dir_all(&shots).unwrap();
    let mut node = tokio::process::Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(script))
        .arg(url)
        .arg(&shots)
        .env("NEXUS_TESTBED_PLAYWRIGHT", var("NEXUS_TESTBED_PLAYWRIGHT"))
        .env("NEXUS_TESTBED_CHROMIUM", var("NEXUS_TESTBED_CHROMIUM"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    (node, lines, shots)
}
