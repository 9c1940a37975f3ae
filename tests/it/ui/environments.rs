//! The Environments view (issue 16) on an in-process server: a temporary project with its own
//! EKS profile, a release record and a promotion history; the local images observed as the feed
//! observes them. Nothing contacts a cluster: local is what the test observes, EKS is recorded.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use nexus_dev::promote::release::{self, Promotion, Release};

use super::{Dashboard, browser, minimal};

const ECR: &str = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// A project with `profiles/eks-dev.yaml`, one release of the minimal example promoted to it
/// (then a failed attempt), and nothing promoted to the built-in EKS profiles.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nexus-dev.yaml"), "").unwrap();
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    std::fs::write(
        dir.path().join("profiles/eks-dev.yaml"),
        format!(
            "name: eks-dev\ndescription: the team's dev cluster\ncluster:\n  provider: eks\n  name: team-dev\n  context: arn:aws:eks:eu-west-1:210987654321:cluster/team-dev\naws:\n  account: \"210987654321\"\nregistry:\n  host: {ECR}\n  rewriteImages: true\ningress:\n  class: alb\n  domain: dev.example.com\n  tls: true\n  certificateArn: arn:aws:acm:eu-west-1:210987654321:certificate/1\n"
        ),
    )
    .unwrap();
    let records = release::dir_of(dir.path());
    let cr = minimal(None);
    let r = Release {
        capability: "myapp".into(),
        environment: "dev".into(),
        spec_hash: release::spec_hash(&cr.spec),
        plan_hash: "sha256:p".into(),
        profile: "local".into(),
        images: BTreeMap::from([
            ("backend".into(), format!("localhost:5001/myapp-backend@{}", digest('a'))),
            ("frontend".into(), format!("localhost:5001/myapp-frontend@{}", digest('b'))),
        ]),
    };
    r.write(&records).unwrap();
    let promotion = |outcome: &str, time: &str| Promotion {
        time: time.into(),
        release: r.id(),
        profile: "eks-dev".into(),
        account: "210987654321".into(),
        region: "eu-west-1".into(),
        cluster_arn: "arn:aws:eks:eu-west-1:210987654321:cluster/team-dev".into(),
        outcome: outcome.into(),
    };
    promotion("succeeded", "2026-12-03T10:00:00Z").append(&records).unwrap();
    promotion("failed: 1 of 9 checks failed", "2026-12-03T11:00:00Z").append(&records).unwrap();
    dir
}

/// The images the local Deployments run: the backend as promoted, the frontend rebuilt since.
fn observe(d: &Dashboard) {
    let images = HashMap::from([(
        "myapp-dev/myapp-dev".to_owned(),
        BTreeMap::from([
            ("backend".to_owned(), format!("localhost:5001/myapp-backend@{}", digest('a'))),
            ("frontend".to_owned(), format!("localhost:5001/myapp-frontend@{}", digest('c'))),
        ]),
    )]);
    d.environments.observe(vec![Arc::new(minimal(None))], images);
}

#[tokio::test]
async fn ui_environments_set_local_beside_each_eks_profile_with_plan_differences_digests_and_drift() {
    let dir = project();
    let d = Dashboard::start_in(16, Some(dir.path().to_path_buf())).await;
    assert_eq!(d.get("/api/v1/environments", None).await.status(), 401, "the token, as everywhere");
    let empty = d.json("/api/v1/environments").await;
    assert_eq!(empty["capabilities"], serde_json::json!([]), "nothing observed yet");
    observe(&d);
    let v = d.json("/api/v1/environments").await;
    assert_eq!(v["problems"], serde_json::json!([]));

    // The environments: the daemon's own, live; every EKS profile `promote --to` can name, recorded.
    assert_eq!((v["local"]["profile"].as_str(), v["local"]["source"].as_str()), (Some("local"), Some("live")));
    assert_eq!(v["local"]["context"], "kind-nexus-dev");
    assert_eq!(v["local"]["emulator"], "ministack");
    let eks: Vec<&str> = v["eks"].as_array().unwrap().iter().map(|e| e["profile"].as_str().unwrap()).collect();
    assert_eq!(eks, ["eks-dev", "eks-prod", "eks-staging"], "the project's and the built-in EKS profiles");
    let dev = &v["eks"][0];
    assert!(dev["origin"].as_str().unwrap().ends_with("profiles/eks-dev.yaml"), "{dev}");
    assert_eq!((dev["source"].as_str(), dev["region"].as_str()), (Some("recorded"), Some("eu-west-1")));
    assert_eq!((dev["account"].as_str(), dev["registry"].as_str()), (Some("210987654321"), Some(ECR)));
    assert_eq!((dev["ingressClass"].as_str(), dev["tls"].as_bool()), (Some("alb"), Some(true)));
    assert_eq!(v["eks"][2]["origin"], "built-in:eks-staging");

    let cap = &v["capabilities"][0];
    assert_eq!(cap["key"], "myapp-dev/myapp-dev");
    let compared: Vec<&str> =
        cap["comparisons"].as_array().unwrap().iter().map(|c| c["profile"].as_str().unwrap()).collect();
    assert_eq!(compared, eks);

    // eks-dev: promoted once, then a failed attempt; the backend is the same, the frontend ahead.
    let x = &cap["comparisons"][0];
    assert_eq!(x["promoted"]["time"], "2026-12-03T10:00:00Z");
    assert_eq!(x["promoted"]["sameSpec"], true);
    assert_eq!(x["failedSince"][0]["outcome"], "failed: 1 of 9 checks failed");
    let drift: Vec<(&str, &str)> = x["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["component"].as_str().unwrap(), c["drift"].as_str().unwrap()))
        .collect();
    assert_eq!(drift, [("frontend", "differs"), ("backend", "same")]);
    let backend = &x["components"][1];
    assert_eq!(backend["eks"], format!("{ECR}/myapp-backend@{}", digest('a')), "the digest in the profile's registry");
    assert_eq!(backend["local"], format!("localhost:5001/myapp-backend@{}", digest('a')));

    // Its plan differences: the OIDC provider only locally; the ingress and the images.
    let plan = &x["plan"];
    assert_eq!(plan["onlyIn"][0]["kind"], "iam.oidc-provider");
    assert_eq!(plan["onlyIn"][0]["profile"], "local");
    assert_eq!(plan["outsideScope"], serde_json::json!([]));
    let setting = |resource: &str, field: &str| {
        plan["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["resource"].as_str().unwrap().ends_with(resource) && s["field"] == field)
            .unwrap_or_else(|| panic!("{resource} {field}: {plan}"))
            .clone()
    };
    let class = setting("-app-ingress", "settings.ingressClassName");
    assert_eq!((class["from"].as_str(), class["to"].as_str()), (Some("nginx"), Some("alb")));
    assert_eq!(
        setting("-backend", "settings.image")["to"],
        format!("{ECR}/myapp-backend@{}", digest('a')),
        "as promoted"
    );

    // eks-prod: never promoted, so nothing to compare.
    let prod = &cap["comparisons"][1];
    assert!(prod["promoted"].is_null());
    assert!(
        prod["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["drift"] == "unknown" && c["why"] == "never promoted to eks-prod" && c["eks"].is_null())
    );

    let one = d.json("/api/v1/environments/myapp-dev/myapp-dev").await;
    assert_eq!(one["capabilities"].as_array().unwrap().len(), 1);
    let missing = d.get("/api/v1/environments/myapp-dev/nope", Some(d.server.token.as_str())).await;
    assert_eq!(missing.status(), 404);
}

/// The view in headless Chromium (tests/browser/environments.cjs): local beside eks-dev with
/// the drift coloured, then beside eks-prod, never promoted. Screenshots: `environments.png`,
/// `environments-never.png`.
#[tokio::test]
async fn ui_environments_in_headless_chromium_show_local_beside_eks_with_drift() {
    let dir = project();
    let d = Dashboard::start_in(16, Some(dir.path().to_path_buf())).await;
    observe(&d);
    let url = format!("{}#/environments", d.server.url());
    let (mut node, mut lines, shots) = browser("environments.cjs", &url);
    let mut stages: HashMap<String, serde_json::Value> = HashMap::new();
    loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await;
        let Some(line) = line.expect("the browser answers within 60 s").unwrap() else { break };
        let stage: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let name = stage["stage"].as_str().unwrap().to_owned();
        // "done", with the page's errors, comes before "failed".
        assert_ne!(name, "failed", "{}\n{:?}", stage["error"].as_str().unwrap_or_default(), stages.get("done"));
        stages.insert(name, stage);
    }
    assert!(node.wait().await.unwrap().success(), "the browser script failed: {stages:?}");
    assert_eq!(stages["done"]["errors"], serde_json::json!([]), "no error in the page's console");
    let shown = &stages["environments"];
    assert_eq!(shown["chosen"], "eks-dev", "the profile promoted to comes first");
    assert_eq!(shown["facts"], serde_json::json!(["local", "eks-dev"]));
    assert_eq!(shown["drift"], serde_json::json!([["frontend", "differs"], ["backend", "same"]]));
    assert!(shown["note"].as_str().unwrap().contains("EKS is recorded, not live"), "{shown}");
    assert!(shown["promoted"].as_str().unwrap().contains("2026-12-03T10:00:00Z"), "{shown}");
    assert!(shown["planRows"].as_u64().unwrap() >= 3, "{shown}");
    let never = &stages["never"];
    assert_eq!(never["drift"], serde_json::json!([["frontend", "unknown"], ["backend", "unknown"]]));
    assert!(never["promoted"].as_str().unwrap().contains("never promoted to eks-prod"), "{never}");
    for shot in ["environments.png", "environments-never.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1_000, "{shot}");
    }
}
