//! Issue 14, identity first, against the test bed's EKS stand-ins (docs/design/testbed.md, "EKS
//! and ECR stand-ins"): moto answers STS and EKS `DescribeCluster`, and the test bed's API server
//! checks EKS tokens through a webhook the way EKS does (signature, cluster header, age), then
//! maps the caller to a user.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use nexus_dev::model::profile::{ClusterProvider, Profile};
use nexus_dev::promote::ecr::{Ecr, Repository};
use nexus_dev::promote::eks_token::TokenSource;
use nexus_dev::promote::registry::{Copied, Registry, copy, digest_of};
use nexus_dev::promote::target::{self, TargetError};

use crate::support::TestBed;
use crate::support::eks::{
    EcrStandIn, admin, clients, ensure_cluster, json, promote, release_of, standin_profile, synthetic_image, var,
};

/// The shipped eks-staging profile, its cluster the stand-in's and every AWS call to moto.
fn profile(account: &str) -> Profile {
    let mut p = nexus_dev::input::profile::built_in("eks-staging").unwrap();
    assert_eq!(p.cluster.provider, ClusterProvider::Eks);
    p.cluster.name = Some(var("NEXUS_TESTBED_EKS_CLUSTER"));
    p.cluster.context = None;
    p.aws.endpoint = Some(var("NEXUS_TESTBED_AWS_ENDPOINT"));
    p.aws.account = account.into();
    p
}

#[tokio::test]
async fn the_target_is_checked_first_and_its_client_authenticates_with_eks_tokens() {
    let _bed = TestBed::from_env();
    let region = var("NEXUS_TESTBED_EKS_REGION");
    let (sts, eks) = clients(&region).await;
    ensure_cluster(&eks).await;

    let t = target::resolve(&profile("123456789012"), &region, &sts, &eks).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.account, "123456789012");
    assert_eq!(t.caller, "arn:aws:iam::123456789012:user/nexus-testbed-eks-admin");
    assert_eq!(t.endpoint, var("NEXUS_TESTBED_EKS_ENDPOINT"), "the endpoint comes from DescribeCluster");
    assert_eq!(t.oidc_issuer.as_deref(), Some(var("NEXUS_TESTBED_SA_ISSUER").as_str()));
    assert!(t.ca_pem.contains("BEGIN CERTIFICATE"));

    // The client's token goes through the webhook's checks, the signature included.
    let tokens = TokenSource::new(admin(), &region, &t.cluster, Some(&var("NEXUS_TESTBED_AWS_ENDPOINT")));
    let client = target::kube_client(&t, Arc::new(tokens)).unwrap();
    let namespaces: kube::Api<Namespace> = kube::Api::all(client);
    let list = namespaces.list(&Default::default()).await.unwrap_or_else(|e| panic!("the EKS token was refused: {e}"));
    assert!(list.items.iter().any(|n| n.metadata.name.as_deref() == Some("default")));

    // A token signed for another cluster is refused, as EKS refuses it.
    let wrong = TokenSource::new(admin(), &region, "another-cluster", Some(&var("NEXUS_TESTBED_AWS_ENDPOINT")));
    let client = target::kube_client(&t, Arc::new(wrong)).unwrap();
    let refused = kube::Api::<Namespace>::all(client).list(&Default::default()).await.unwrap_err();
    assert!(refused.to_string().contains("401") || refused.to_string().contains("Unauthorized"), "{refused}");
}

#[tokio::test]
async fn a_wrong_account_or_a_missing_cluster_stops_before_anything_is_written() {
    let _bed = TestBed::from_env();
    let region = var("NEXUS_TESTBED_EKS_REGION");
    let (sts, eks) = clients(&region).await;
    ensure_cluster(&eks).await;
    let err = target::resolve(&profile("999999999999"), &region, &sts, &eks).await.unwrap_err();
    assert!(matches!(err, TargetError::WrongAccount { .. }), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("account 123456789012") && shown.contains("for account 999999999999"), "{shown}");
    assert!(shown.contains("nothing was changed"), "{shown}");

    let mut missing = profile("123456789012");
    missing.cluster.name = Some("no-such-cluster".into());
    let err = target::resolve(&missing, &region, &sts, &eks).await.unwrap_err();
    assert!(matches!(err, TargetError::NoSuchCluster { .. }), "{err}");

    let local = nexus_dev::input::profile::built_in("local").unwrap();
    assert!(matches!(target::resolve(&local, &region, &sts, &eks).await, Err(TargetError::NotEks { .. })));
}

#[tokio::test]
async fn images_are_copied_by_digest_with_every_platform_and_a_second_copy_moves_nothing() {
    let (bed, engine, _cleanup) = crate::support::env::setup("promote-copy").await;
    let source_cfg = crate::support::fixtures::standin_registry(&bed, vec![]);
    let source = nexus_dev::env::registry::ensure(&engine, &source_cfg).await.unwrap();
    let src = Registry::new(&source.endpoint, None, None).unwrap();
    let digest = synthetic_image(&src, "myapp-backend", "v1", 20_000).await;

    // The repository is made once; the credentials come from GetAuthorizationToken (moto's:
    // AWS / ACCOUNT-auth-token, which the stand-in takes).
    let (_ecr, url) = EcrStandIn::start(&crate::support::unique("ecr"));
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(var("NEXUS_TESTBED_AWS_ENDPOINT"))
        .region(aws_config::Region::new(var("NEXUS_TESTBED_EKS_REGION")))
        .credentials_provider(admin())
        .load()
        .await;
    let ecr = Ecr::new(aws_sdk_ecr::Client::new(&config), "123456789012", url.trim_start_matches("http://"));
    let repo = crate::support::unique("team/myapp-backend");
    assert_eq!(ecr.ensure_repository(&repo).await.unwrap(), Repository::Created);
    assert_eq!(ecr.ensure_repository(&repo).await.unwrap(), Repository::Present);
    let dst = ecr.registry().await.unwrap();
    let wrong = Registry::new(&url, Some(("AWS", "not-the-token")), None).unwrap();
    let refused = copy(&src, "myapp-backend", &digest, &wrong, &repo).await.unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");

    // Cold: two platform manifests and the index; five blobs (two configs, two layers, and the
    // layer both platforms share, sent once).
    let cold = copy(&src, "myapp-backend", &digest, &dst, &repo).await.unwrap();
    assert_eq!((cold.manifests_copied, cold.blobs_copied, cold.blobs_present), (3, 5, 0), "{cold:?}");
    let (body, media_type) = dst.manifest(&repo, &digest).await.unwrap();
    assert_eq!(digest_of(&body), digest, "the same digest on the other side");
    assert_eq!(media_type, "application/vnd.oci.image.index.v1+json");

    // Warm: one HEAD, nothing moved.
    let warm = copy(&src, "myapp-backend", &digest, &dst, &repo).await.unwrap();
    assert_eq!(warm, Copied { manifests_present: 1, ..Copied::default() });

    // Into another repository of the same registry: blobs are mounted, not sent again.
    let mounted = copy(&src, "myapp-backend", &digest, &dst, "team/other").await.unwrap();
    assert_eq!((mounted.blobs_copied, mounted.bytes_copied), (0, 0), "{mounted:?}");
    assert_eq!(mounted.blobs_mounted, 5, "{mounted:?}");

    // A manifest whose bytes do not match its digest is refused.
    let bad = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    assert!(copy(&src, "myapp-backend", bad, &dst, "team/x").await.is_err());
}

/// A Deployment named as the plan names `component`'s, running `image`.
fn deployment(name: &str, image: &str) -> k8s_openapi::api::apps::v1::Deployment {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": image}]}}
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn a_release_records_the_running_digests_once_and_refuses_a_tag() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    let dir = tempfile::tempdir().unwrap();
    let profile = crate::support::fixtures::testbed_profile_file(dir.path(), &bed);
    let cap = crate::support::unique("rel");
    let spec = dir.path().join("cap.yaml");
    let example =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml"))
            .unwrap()
            .replace("myapp", &cap);
    std::fs::write(&spec, example).unwrap();
    let ns = format!("{cap}-dev");
    let namespaces: kube::Api<Namespace> = kube::Api::all(client.clone());
    let made: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
    namespaces.create(&Default::default(), &made).await.unwrap();
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::namespaced(client.clone(), &ns);
    let api = format!("localhost:5001/api@sha256:{}", "1".repeat(64));
    let web = format!("localhost:5001/web@sha256:{}", "2".repeat(64));
    deployments.create(&Default::default(), &deployment(&format!("{cap}-dev-backend"), &api)).await.unwrap();
    deployments
        .create(&Default::default(), &deployment(&format!("{cap}-dev-frontend"), "localhost:5001/web:latest"))
        .await
        .unwrap();

    let release = |output: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
            .args(["release", "-f", spec.to_str().unwrap(), "-p", &profile, "-o", output])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let refused = release("text");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("frontend of") && err.contains("a tag, not a digest"), "{err}");

    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": web}]}}}});
    let params = kube::api::PatchParams::default();
    deployments.patch(&format!("{cap}-dev-frontend"), &params, &kube::api::Patch::Strategic(&patch)).await.unwrap();
    let first = release("json");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(v["images"]["backend"], api.as_str());
    assert_eq!(v["images"]["frontend"], web.as_str());
    assert!(v["specHash"].as_str().unwrap().starts_with("sha256:"));
    let path = v["path"].as_str().unwrap().to_owned();
    assert!(path.contains(".nexus-dev/releases/") && std::path::Path::new(&path).is_file(), "{path}");
    let again = release("text");
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), path, "the same record");
    let _ = namespaces.delete(&ns, &Default::default()).await;
}

#[tokio::test]
async fn promote_checks_the_target_plans_copies_by_digest_and_reaches_running_then_has_nothing_to_do() {
    let (bed, engine, _cleanup) = crate::support::env::setup("promote").await;
    let (_, eks) = clients(&var("NEXUS_TESTBED_EKS_REGION")).await;
    ensure_cluster(&eks).await;
    let client = bed.kube().await;
    let dir = tempfile::tempdir().unwrap();

    // The spec, and the release of it as built locally: both images in the source registry.
    let cap = crate::support::unique("prom");
    let spec = dir.path().join("cap.yaml");
    let example =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml"))
            .unwrap()
            .replace("myapp", &cap);
    std::fs::write(&spec, &example).unwrap();
    let source_cfg = crate::support::fixtures::standin_registry(&bed, vec![]);
    let source = nexus_dev::env::registry::ensure(&engine, &source_cfg).await.unwrap();
    let src = Registry::new(&source.endpoint, None, None).unwrap();
    let host = source.endpoint.trim_start_matches("http://").to_owned();
    let mut images = std::collections::BTreeMap::new();
    for component in ["backend", "frontend"] {
        let repo = format!("{cap}-{component}");
        let digest = synthetic_image(&src, &repo, component, 20_000).await;
        images.insert(component.to_owned(), format!("{host}/{repo}@{digest}"));
    }
    let release = release_of(&spec, images.clone(), "sha256:local");
    let release_file = release.write(&dir.path().join(".nexus-dev/releases")).unwrap();
    let (_ecr, url) = EcrStandIn::start(&crate::support::unique("ecr"));
    let ecr_host = url.trim_start_matches("http://").to_owned();
    let namespaces: kube::Api<Namespace> = kube::Api::all(client.clone());
    let ns = format!("{cap}-dev");
    let (spec_arg, release_arg) = (spec.to_str().unwrap(), release_file.to_str().unwrap());

    // A wrong account stops before anything is read from the cluster or written.
    let wrong = standin_profile(dir.path(), "999999999999", &ecr_host);
    let out = promote(dir.path(), &["-f", spec_arg, "--to", &wrong, "--release", release_arg, "--yes"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("for account 999999999999") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(namespaces.get_opt(&ns).await.unwrap().is_none(), "nothing was written");

    // The plan, reviewed and saved: two images to copy, everything to create.
    let to = standin_profile(dir.path(), "123456789012", &ecr_host);
    let common = ["-f", spec_arg, "--to", to.as_str(), "--release", release_arg];
    let plan_file = dir.path().join("plan.json");
    let planned =
        json(&promote(dir.path(), &[&common[..], &["--plan-out", plan_file.to_str().unwrap(), "-o", "json"]].concat()));
    let plan = &planned["plan"];
    assert_eq!(
        plan["target"]["clusterArn"].as_str().unwrap().rsplit('/').next(),
        Some(var("NEXUS_TESTBED_EKS_CLUSTER").as_str())
    );
    assert!(
        plan["images"].as_array().unwrap().iter().all(|i| i["present"] == false && i["size"].as_u64().unwrap() > 0),
        "{plan}"
    );
    assert!(plan["aws"].as_array().unwrap().iter().all(|s| s["action"] == "created"), "{}", plan["aws"]);
    assert!(
        plan["kubernetes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "k8s.deployment" && s["action"] == "created"),
        "{}",
        plan["kubernetes"]
    );
    assert!(plan["parity"].as_array().unwrap().iter().any(|d| d["field"] == "settings.image"), "{}", plan["parity"]);
    assert!(namespaces.get_opt(&ns).await.unwrap().is_none(), "a plan writes nothing");

    // No terminal and no --yes: refused.
    let out = promote(dir.path(), &common);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("needs confirmation") && err.contains("--yes"), "{err}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("target: account 123456789012") && shown.contains("images: 2 of 2 to copy"), "{shown}");

    // Promote: the same digests in the target's registry, Running on the stand-in cluster.
    let done = json(&promote(dir.path(), &[&common[..], &["--yes", "-o", "json"]].concat()));
    let applied = &done["applied"];
    assert_eq!(applied["outcome"], "succeeded", "{applied:#}");
    assert_eq!(applied["state"], "Running");
    let copied: u64 = applied["images"].as_array().unwrap().iter().map(|i| i["blobsCopied"].as_u64().unwrap()).sum();
    assert_eq!(copied, 10, "two images of five blobs each: {applied}");
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::namespaced(client.clone(), &ns);
    for (component, image) in &images {
        let digest = image.split_once('@').unwrap().1;
        let d = deployments.get(&format!("{cap}-dev-{component}")).await.unwrap();
        let running = d.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
        assert_eq!(running, format!("{ecr_host}/{cap}-{component}@{digest}"), "the digest, in the target's registry");
    }
    let history = std::fs::read_to_string(applied["history"].as_str().unwrap()).unwrap();
    assert!(history.lines().last().unwrap().contains("\"outcome\":\"succeeded\""), "{history}");

    // Again: nothing to copy, no AWS call that changes anything.
    let again = json(&promote(dir.path(), &[&common[..], &["--yes", "-o", "json"]].concat()));
    assert!(again["plan"]["images"].as_array().unwrap().iter().all(|i| i["present"] == true));
    assert!(
        again["plan"]["aws"].as_array().unwrap().iter().all(|s| s["action"] == "unchanged"),
        "{}",
        again["plan"]["aws"]
    );
    let kubernetes = again["plan"]["kubernetes"].as_array().unwrap();
    assert!(kubernetes.iter().all(|s| s["action"] == "unchanged"), "{kubernetes:?}");
    assert!(kubernetes.iter().any(|s| s["kind"] == "nexus.capability"), "the custom resource is in the plan");
    assert_eq!(again["applied"]["state"], "Running");
    assert_eq!(again["applied"]["mutatingCalls"], 0, "{}", again["applied"]);
    let moved: u64 =
        again["applied"]["images"].as_array().unwrap().iter().map(|i| i["blobsCopied"].as_u64().unwrap()).sum();
    assert_eq!(moved, 0);

    // The plan reviewed before the first promote no longer holds: refused, naming what changed.
    let out = promote(dir.path(), &["-f", spec_arg, "--to", &to, "--plan", plan_file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("the target changed since the plan was made"), "{err}");
    assert!(err.contains("planned: image backend") && err.contains("now:     image backend"), "{err}");
    let _ = namespaces.delete(&ns, &Default::default()).await;
}
