//! Issue 18: layered configuration through the CLI. A project file's `defaults` and
//! `environments` reach the plan; `--env` selects an environment (and its profile); `plan
//! --explain` says which level each setting came from; a bad layer or an unknown environment is
//! refused, located, before anything runs.

use std::path::Path;
use std::process::{Command, Output};

const SPEC: &str = "apiVersion: nexus.ai/v1
kind: NexusAICapability
metadata: {name: shop}
spec:
  capabilityName: shop
  version: 1.0.0
  environment: dev
  region: eu-west-1
  frontend: {image: web:1}
  backend:
    image: api:1
    replicas: 5
";

const PROJECT: &str = "specs: [shop.yaml]
defaults:
  frontend: {replicas: 4}
  backend:
    env: {LOG_LEVEL: info}
environments:
  dev:
    frontend: {replicas: 3}
    backend:
      env: {LOG_LEVEL: debug}
  prod:
    profile: local-moto
    backend: {env: {LOG_LEVEL: warn}}
";

fn project(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.yaml"), SPEC).unwrap();
    std::fs::write(dir.path().join("nexus-dev.yaml"), text).unwrap();
    dir
}

fn nexus_dev(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(args)
        .current_dir(dir)
        .env_remove("NEXUS_DEV_PROFILE")
        .env_remove("NEXUS_DEV_ENV")
        .output()
        .unwrap()
}

fn plan(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = nexus_dev(dir, &[&["plan", "-f", "shop.yaml", "-o", "json", "--explain"], args].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn deployment<'v>(plan: &'v serde_json::Value, component: &str) -> &'v serde_json::Value {
    let name = format!("shop-{}-{component}", plan["environment"].as_str().unwrap());
    let r = plan["resources"].as_array().unwrap().iter().find(|r| r["kind"] == "k8s.deployment" && r["name"] == name);
    &r.unwrap_or_else(|| panic!("no deployment {name}"))["settings"]
}

fn origin<'v>(plan: &'v serde_json::Value, setting: &str) -> &'v serde_json::Value {
    plan["explain"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["setting"] == setting)
        .unwrap_or_else(|| panic!("no {setting}"))
}

#[test]
fn layers_reach_the_plan_and_explain_says_where_each_setting_came_from() {
    let dir = project(PROJECT);
    let dev = plan(dir.path(), &[]);
    assert_eq!(dev["profile"], "local");
    assert_eq!(deployment(&dev, "frontend")["replicas"], 3, "dev's, over the defaults' 4");
    assert_eq!(deployment(&dev, "backend")["replicas"], 5, "the spec's own");
    assert_eq!(origin(&dev, "frontend.replicas")["level"], "environment dev");
    assert_eq!(origin(&dev, "frontend.replicas")["at"], "nexus-dev.yaml:8", "relative to where it runs");
    assert_eq!(origin(&dev, "backend.replicas")["at"], "shop.yaml:12");
    assert_eq!(origin(&dev, "backend.env.LOG_LEVEL")["value"], "debug");
    assert_eq!(origin(&dev, "frontend.healthCheckPath")["level"], "built-in default");

    // --env prod: the names, the profile and the variables are prod's.
    let prod = plan(dir.path(), &["--env", "prod"]);
    assert_eq!(prod["environment"], "prod");
    assert_eq!(prod["profile"], "local-moto", "prod's profile");
    assert_eq!(deployment(&prod, "frontend")["replicas"], 4, "prod sets none: the defaults'");
    assert_eq!(origin(&prod, "backend.env.LOG_LEVEL")["value"], "warn");
    // --profile still wins over the environment's.
    assert_eq!(plan(dir.path(), &["--env", "prod", "--profile", "local"])["profile"], "local");

    // The table for people.
    let out = nexus_dev(dir.path(), &["plan", "-f", "shop.yaml", "--explain"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("where the layered settings come from"), "{text}");
    let line = text.lines().find(|l| l.starts_with("frontend.replicas")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("environment dev") && line.contains("nexus-dev.yaml:8"), "{line}");
}

#[test]
fn an_unknown_environment_or_a_bad_layer_is_refused_where_it_is_written() {
    let dir = project(PROJECT);
    let out = nexus_dev(dir.path(), &["plan", "-f", "shop.yaml", "--env", "prd"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("no environment `prd`") && err.contains("did you mean `prod`?"), "{err}");

    let dir = project("specs: [shop.yaml]\nenvironments:\n  dev:\n    backend: {replicas: many}\n");
    let out = nexus_dev(dir.path(), &["plan", "-f", "shop.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("nexus-dev.yaml:4"), "{err}");

    let dir = project("specs: [shop.yaml]\ndefaults:\n  frontend: {replicas: 2000}\n");
    let out = nexus_dev(dir.path(), &["plan", "-f", "shop.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("nexus-dev.yaml:3") && err.contains("replicas"), "{err}");

    // --env outside a project says there is none.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("shop.yaml"), SPEC).unwrap();
    let out = nexus_dev(elsewhere.path(), &["plan", "-f", "shop.yaml", "--env", "prod"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("nexus-dev.yaml"), "{err}");
}
