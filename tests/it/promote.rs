//! Issue 14, identity first, against the test bed's EKS stand-ins (docs/design/testbed.md, "EKS
//! and ECR stand-ins"): moto answers STS and EKS `DescribeCluster`, and the test bed's API server
//! checks EKS tokens through a webhook the way EKS does (signature, cluster header, age), then
//! maps the caller to a user.

use std::sync::Arc;

use aws_credential_types::Credentials;
use k8s_openapi::api::core::v1::Namespace;
use nexus_dev::model::profile::{ClusterProvider, Profile};
use nexus_dev::promote::eks_token::TokenSource;
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
