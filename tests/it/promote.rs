//! Issue 14, identity first, against the test bed's EKS stand-ins (docs/design/testbed.md, "EKS
//! and ECR stand-ins"): moto answers STS and EKS `DescribeCluster`, and the test bed's API server
//! checks EKS tokens through a webhook the way EKS does (signature, cluster header, age), then
//! maps the caller to a user.

use std::sync::Arc;

use aws_credential_types::Credentials;
use k8s_openapi::api::core::v1::Namespace;
use nexus_dev::model::profile::{ClusterProvider, Profile};
use nexus_dev::promote::ecr::{Ecr, Repository};
use nexus_dev::promote::eks_token::TokenSource;
use nexus_dev::promote::registry::{Copied, Registry, copy, digest_of};
use nexus_dev::promote::target::{self, TargetError};

use crate::support::TestBed;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("${name} is not set; start the test bed (scripts/testbed up)"))
}

/// The test bed's EKS admin: account 123456789012, cluster-admin on the stand-in cluster.
fn admin() -> Credentials {
    Credentials::new(
        var("NEXUS_TESTBED_EKS_ACCESS_KEY_ID"),
        var("NEXUS_TESTBED_EKS_SECRET_ACCESS_KEY"),
        None,
        None,
        "testbed",
    )
}

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

async fn clients(region: &str) -> (aws_sdk_sts::Client, aws_sdk_eks::Client) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(var("NEXUS_TESTBED_AWS_ENDPOINT"))
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(admin())
        .load()
        .await;
    (aws_sdk_sts::Client::new(&config), aws_sdk_eks::Client::new(&config))
}

/// The stand-in cluster in moto, described as EKS would (moto is shared: it may exist).
async fn ensure_cluster(eks: &aws_sdk_eks::Client) {
    let made = eks
        .create_cluster()
        .name(var("NEXUS_TESTBED_EKS_CLUSTER"))
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(aws_sdk_eks::types::VpcConfigRequest::builder().subnet_ids("subnet-1").build())
        .tags("nexus-testbed/endpoint", var("NEXUS_TESTBED_EKS_ENDPOINT"))
        .tags("nexus-testbed/ca", var("NEXUS_TESTBED_EKS_CA_DATA"))
        .tags("nexus-testbed/oidc-issuer", var("NEXUS_TESTBED_SA_ISSUER"))
        .send()
        .await;
    if let Err(e) = made {
        let code = e.as_service_error().map(|s| s.is_resource_in_use_exception());
        assert_eq!(code, Some(true), "CreateCluster: {e:?}");
    }
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

/// A small image in `repo` of `registry`: an index with two platforms, each a config and a
/// layer of its own plus one layer both share. Its digest.
async fn synthetic_image(registry: &Registry, repo: &str, tag: &str) -> String {
    use bytes::Bytes;
    let mut platforms = Vec::new();
    let shared = Bytes::from(format!("shared layer {tag}"));
    registry.upload(repo, &digest_of(&shared), shared.clone()).await.unwrap();
    for arch in ["amd64", "arm64"] {
        let config = Bytes::from(format!(r#"{{"architecture":"{arch}","os":"linux","tag":"{tag}"}}"#));
        let layer = Bytes::from(format!("layer of {arch} {tag}").repeat(1000));
        registry.upload(repo, &digest_of(&config), config.clone()).await.unwrap();
        registry.upload(repo, &digest_of(&layer), layer.clone()).await.unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(&config), "size": config.len()},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(&shared), "size": shared.len()},
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(&layer), "size": layer.len()}
            ]
        });
        let body = Bytes::from(serde_json::to_vec(&manifest).unwrap());
        let d = digest_of(&body);
        registry.put_manifest(repo, &d, "application/vnd.oci.image.manifest.v1+json", body.clone()).await.unwrap();
        platforms.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": body.len(),
            "platform": {"architecture": arch, "os": "linux"}
        }));
    }
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": platforms});
    let body = Bytes::from(serde_json::to_vec(&index).unwrap());
    registry.put_manifest(repo, tag, "application/vnd.oci.image.index.v1+json", body.clone()).await.unwrap();
    digest_of(&body)
}

/// The ECR registry stand-in, started for this test (basic auth with moto's ECR credentials);
/// its address. Stopped when the guard drops.
struct EcrStandIn(String);

impl EcrStandIn {
    fn start(name: &str) -> (Self, String) {
        let out =
            std::process::Command::new(var("NEXUS_TESTBED_ECR_REGISTRY_CTL")).args(["start", name]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let url = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ECR_URL="))
            .unwrap_or_else(|| panic!("no ECR_URL in {text}"))
            .to_owned();
        (Self(name.to_owned()), url)
    }
}

impl Drop for EcrStandIn {
    fn drop(&mut self) {
        let _ = std::process::Command::new(var("NEXUS_TESTBED_ECR_REGISTRY_CTL")).args(["stop", &self.0]).output();
    }
}

#[tokio::test]
async fn images_are_copied_by_digest_with_every_platform_and_a_second_copy_moves_nothing() {
    let (bed, engine, _cleanup) = crate::support::env::setup("promote-copy").await;
    let source_cfg = crate::support::fixtures::standin_registry(&bed, vec![]);
    let source = nexus_dev::env::registry::ensure(&engine, &source_cfg).await.unwrap();
    let src = Registry::new(&source.endpoint, None, None).unwrap();
    let digest = synthetic_image(&src, "myapp-backend", "v1").await;

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
