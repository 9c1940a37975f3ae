//! The test bed's EKS and ECR stand-ins as tests and benchmarks use them
//! (docs/design/testbed.md, "EKS and ECR stand-ins"): moto's STS and EKS with the test bed's
//! cluster, the ECR registry stand-in, small multi-platform images, and `nexus-dev promote` run
//! as the stand-in's admin.

use aws_credential_types::Credentials;
use nexus_dev::promote::registry::{Registry, digest_of};

pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("${name} is not set; start the test bed (scripts/testbed up)"))
}

/// The test bed's EKS admin: account 123456789012, cluster-admin on the stand-in cluster.
pub fn admin() -> Credentials {
    Credentials::new(
        var("NEXUS_TESTBED_EKS_ACCESS_KEY_ID"),
        var("NEXUS_TESTBED_EKS_SECRET_ACCESS_KEY"),
        None,
        None,
        "testbed",
    )
}

pub async fn clients(region: &str) -> (aws_sdk_sts::Client, aws_sdk_eks::Client) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(var("NEXUS_TESTBED_AWS_ENDPOINT"))
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(admin())
        .load()
        .await;
    (aws_sdk_sts::Client::new(&config), aws_sdk_eks::Client::new(&config))
}

/// The stand-in cluster in moto, described as EKS would (moto is shared: it may exist).
pub async fn ensure_cluster(eks: &aws_sdk_eks::Client) {
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

/// A small image in `repo` of `registry`: an index with two platforms, each a config and a
/// layer of its own plus one layer both share. Its digest.
pub async fn synthetic_image(registry: &Registry, repo: &str, tag: &str, layer_bytes: usize) -> String {
    use bytes::Bytes;
    let mut platforms = Vec::new();
    let shared = Bytes::from(format!("shared layer {tag}"));
    registry.upload(repo, &digest_of(&shared), shared.clone()).await.unwrap();
    for arch in ["amd64", "arm64"] {
        let config = Bytes::from(format!(r#"{{"architecture":"{arch}","os":"linux","tag":"{tag}"}}"#));
        let seed = format!("layer of {arch} {tag} ");
        let layer = Bytes::from(seed.repeat(layer_bytes / seed.len() + 1));
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
pub struct EcrStandIn(String);

impl EcrStandIn {
    pub fn start(name: &str) -> (Self, String) {
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

/// A profile file for the EKS stand-ins: the test bed's cluster in moto, every AWS call to
/// moto, images to the ECR stand-in at `registry`. Its path.
pub fn standin_profile(dir: &std::path::Path, account: &str, registry: &str) -> String {
    let cluster = var("NEXUS_TESTBED_EKS_CLUSTER");
    let region = var("NEXUS_TESTBED_EKS_REGION");
    let text = format!(
        "name: eks-standin\ncluster:\n  provider: eks\n  name: {cluster}\n  context: arn:aws:eks:{region}:{account}:cluster/{cluster}\naws:\n  account: \"{account}\"\n  endpoint: {}\nregistry:\n  host: {registry}\n  rewriteImages: true\ningress:\n  class: alb\n  domain: staging.example.com\n",
        var("NEXUS_TESTBED_AWS_ENDPOINT")
    );
    let path = dir.join(format!("eks-standin-{account}.yaml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `nexus-dev promote` in `dir` as the EKS admin (the usual credential chain: the environment),
/// with `args`, stdin not a terminal.
pub fn promote(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .arg("promote")
        .args(args)
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", var("NEXUS_TESTBED_EKS_ACCESS_KEY_ID"))
        .env("AWS_SECRET_ACCESS_KEY", var("NEXUS_TESTBED_EKS_SECRET_ACCESS_KEY"))
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove(nexus_dev::input::settings::PROFILE_ENV)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

pub fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "promote failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The release record of `spec` (a file) with `images` by component, as `nexus-dev release`
/// would write it for the local profile; `plan_hash` marks where it came from.
pub fn release_of(
    spec: &std::path::Path,
    images: std::collections::BTreeMap<String, String>,
    plan_hash: &str,
) -> nexus_dev::promote::release::Release {
    let loaded = nexus_dev::input::spec::load_specs(&nexus_dev::input::spec::read_sources(&[spec.to_owned()]).unwrap())
        .unwrap()
        .remove(0);
    nexus_dev::promote::release::Release {
        capability: loaded.cr.spec.capability_name.clone(),
        environment: loaded.cr.spec.environment.clone(),
        spec_hash: nexus_dev::promote::release::spec_hash(&loaded.cr.spec),
        plan_hash: plan_hash.into(),
        profile: "local".into(),
        images,
    }
}
