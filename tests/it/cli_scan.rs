//! `scan` end to end through the binary, against the test bed (issue 19): its cluster and its
//! emulator pass, except what the test bed genuinely lacks; a broken profile fails, naming
//! each fix.

use std::io::{Read, Write};
use std::process::{Command, Output};

use crate::support::TestBed;
use crate::support::fixtures::testbed_profile_file;
use crate::support::project::{free_port, text};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

fn nexus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nexus-dev")).args(args).output().expect("nexus-dev runs")
}

/// A registry's base endpoint for `scan` to find: it answers every request (`GET /v2/`) with
/// 200, as a registry without authentication does. Its address.
fn registry_v2() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ =
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}");
        }
    });
    address
}

/// The profile file of the test bed with `extra` YAML lines appended (later keys win).
fn profile_with(dir: &std::path::Path, bed: &TestBed, extra: &str) -> String {
    let path = testbed_profile_file(dir, bed);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(extra);
    std::fs::write(&path, text).unwrap();
    path
}

fn checks(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {report:#}"))
}

#[tokio::test]
async fn scan_of_the_test_bed_passes_but_for_what_it_lacks() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_v2();
    let profile = profile_with(dir.path(), &bed, &format!("registry: {{host: \"{registry}\"}}\n"));

    let out = nexus(&["scan", "-p", &profile, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = checks(&out);
    assert_eq!(report["ok"], true);
    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "kubernetes api",
            "nodes",
            "oidc issuer",
            "ingress class",
            "registry",
            "aws identity",
            "operator",
            "permissions"
        ]
    );
    // What the test bed genuinely lacks, and only that:
    // - an ingress controller: it runs a bare control plane with kwok nodes, so no IngressClass
    //   exists (capabilities still reach Running; their ingress URLs would not answer);
    let ingress = check(&report, "ingress class");
    assert_eq!(ingress["status"], "warn", "{ingress:#}");
    assert!(ingress["detail"].as_str().unwrap().contains("IngressClass nginx"), "{ingress:#}");
    assert!(ingress["fix"].as_str().unwrap().contains("ingress-nginx"), "{ingress:#}");
    // - the operator, unless a test of `operator install` left one in nexus-system: a warning
    //   naming the install command when absent.
    let operator = check(&report, "operator");
    let installed = Api::<Deployment>::namespaced(client, "nexus-system").get_opt("nexus-operator").await.unwrap();
    if installed.is_none() {
        assert_eq!(operator["status"], "warn", "{operator:#}");
        assert_eq!(operator["fix"], "`nexus-dev operator install`");
    }
    for c in report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !["ingress class", "operator"].contains(&c["name"].as_str().unwrap()))
    {
        assert_eq!(c["status"], "ok", "{c:#}");
    }
    let account = bed.account();
    assert!(check(&report, "aws identity")["detail"].as_str().unwrap().contains(account), "{report:#}");
    assert!(check(&report, "nodes")["detail"].as_str().unwrap().ends_with(" Ready"), "{report:#}");
    assert!(check(&report, "registry")["detail"].as_str().unwrap().contains(&registry), "{report:#}");
    let permissions = check(&report, "permissions")["detail"].as_str().unwrap();
    assert!(permissions.contains("customresourcedefinitions") && permissions.contains("nexuscapabilities"));

    // The same in text, with doctor's marks.
    let out = nexus(&["scan", "-p", &profile]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("✓ kubernetes api") && stdout.contains("! ingress class"), "{stdout}");
    assert!(stdout.contains("fix: install ingress-nginx"), "{stdout}");
}

#[tokio::test]
async fn scan_of_a_broken_profile_fails_naming_each_fix() {
    let bed = TestBed::from_env();
    let dir = tempfile::tempdir().unwrap();
    let dead = free_port();
    let profile = profile_with(dir.path(), &bed, &format!("registry: {{host: \"127.0.0.1:{dead}\"}}\n"));
    // A class that does not exist and an account that is not the emulator's.
    let text_of = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        text_of
            .replace("class: nginx", "class: no-such-class")
            .replace(&format!("account: \"{}\"", bed.account()), "account: \"999999999999\""),
    )
    .unwrap();

    let out = nexus(&["scan", "-p", &profile]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("✗ aws identity"), "{stdout}");
    assert!(
        stdout.contains(&format!("credentials are of account {}", bed.account()))
            && stdout.contains("aws.account is 999999999999"),
        "both accounts are named: {stdout}"
    );
    assert!(stdout.contains("fix: use credentials of account 999999999999"), "{stdout}");
    assert!(stdout.contains("! ingress class") && stdout.contains("IngressClass no-such-class"), "{stdout}");
    assert!(stdout.contains("fix: install the ingress controller of class no-such-class"), "{stdout}");
    assert!(stdout.contains(&format!("✗ registry                 127.0.0.1:{dead}")), "{stdout}");
    assert!(stdout.contains("fix: `nexus-dev up` starts the local registry"), "{stdout}");
    assert!(stdout.contains("capabilities cannot run here until the ✗ items above are fixed"), "{stdout}");

    let report = checks(&nexus(&["scan", "-p", &profile, "-o", "json"]));
    assert_eq!(report["ok"], false);
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["registry", "aws identity"], "{report:#}");
}
