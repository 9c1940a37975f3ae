//! The commit nexus-dev is built from, for the operator image's `org.opencontainers.image.revision`
//! label: `NEXUS_DEV_COMMIT` when set (a release pipeline), else, in a release build from a
//! checkout, `git rev-parse HEAD`; else nothing (the label says `unknown`). Debug builds do not
//! ask git: every commit would otherwise rebuild the crate, doc-only ones too.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=NEXUS_DEV_COMMIT");
    if std::env::var_os("NEXUS_DEV_COMMIT").is_some() {
        return;
    }
    let git = Path::new(".git");
    if std::env::var("PROFILE").as_deref() != Ok("release") || !git.is_dir() {
        return;
    }
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
        && let Some(reference) = head.trim().strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{reference}");
    }
    let out = Command::new("git").args(["rev-parse", "HEAD"]).output();
    if let Ok(out) = out
        && out.status.success()
    {
        let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        println!("cargo:rustc-env=NEXUS_DEV_COMMIT={commit}");
    }
}
