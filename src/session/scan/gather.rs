//! Collecting `scan`'s facts: the API server and what it answers (nodes, IngressClasses, the
//! operator's Deployment, SelfSubjectAccessReviews), the OIDC issuer and its IAM provider, the
//! registry, and who the AWS credentials are. Everything reads; nothing is changed.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::Api;
use kube::api::{ListParams, PostParams};

use super::{
    Access, ClusterFacts, Facts, Identity, IssuerFact, NEEDED_ACCESS, OPERATOR_DEPLOYMENT, OPERATOR_NAMESPACE,
    Operator, RegistryFact,
};
use crate::model::profile::{ClusterProvider, Profile};

/// How long the API server, or the registry, may take to answer one request.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Everything `evaluate` needs about `profile`'s cluster and AWS account.
#[tracing::instrument(skip_all, fields(profile = %profile.name))]
pub async fn gather(profile: &Profile) -> Facts {
    // IAM and STS are global; the region matters for EKS and ECR, whose profile context names it.
    let fallback = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION"));
    let region = crate::promote::target::region(profile, fallback.as_deref().unwrap_or("us-east-1"));
    let config = crate::provision::aws::sdk_config(&crate::provision::aws::Target::of(profile, &region)).await;
    let (cluster, issuer, registry, identity) =
        futures::join!(cluster(profile), issuer(profile, &config), registry(profile, &config), identity(&config));
    Facts { cluster, issuer, registry, identity }
}

async fn cluster(profile: &Profile) -> Result<ClusterFacts, String> {
    let client = crate::provision::kube::client::for_profile(profile).await.map_err(|e| crate::error_chain(&e))?;
    let version = tokio::time::timeout(TIMEOUT, client.apiserver_version())
        .await
        .map_err(|_| format!("no answer in {} s", TIMEOUT.as_secs()))?
        .map_err(|e| crate::error_chain(&e))?;
    let (nodes, ingress_classes, operator, access) =
        futures::join!(nodes(&client), ingress_classes(&client), operator(&client), access(&client));
    Ok(ClusterFacts {
        context: crate::provision::kube::client::context(profile),
        version: version.git_version,
        nodes,
        ingress_classes,
        operator,
        access,
    })
}

async fn nodes(client: &kube::Client) -> Result<Vec<(String, bool)>, String> {
    let list = Api::<Node>::all(client.clone()).list(&ListParams::default()).await.map_err(|e| e.to_string())?;
    Ok(list
        .items
        .into_iter()
        .map(|n| {
            let ready = n
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            (n.metadata.name.unwrap_or_default(), ready)
        })
        .collect())
}

async fn ingress_classes(client: &kube::Client) -> Result<Vec<String>, String> {
    let list =
        Api::<IngressClass>::all(client.clone()).list(&ListParams::default()).await.map_err(|e| e.to_string())?;
    Ok(list.items.into_iter().filter_map(|c| c.metadata.name).collect())
}

async fn operator(client: &kube::Client) -> Result<Option<Operator>, String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    let Some(d) = api.get_opt(OPERATOR_DEPLOYMENT).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let image = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let label = d.metadata.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/version")).cloned();
    let tag = image.rsplit('/').next().and_then(|last| last.split_once(':')).map(|(_, t)| t.to_owned());
    let status = d.status.unwrap_or_default();
    Ok(Some(Operator {
        version: label.or(tag),
        replicas: d.spec.and_then(|s| s.replicas).unwrap_or(1),
        ready: status.ready_replicas.unwrap_or(0),
        image,
    }))
}

async fn access(client: &kube::Client) -> Vec<Access> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let asks = NEEDED_ACCESS.iter().map(|(group, resource)| {
        let api = api.clone();
        async move {
            // No namespace: in every namespace, as each capability gets its own.
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some("create".into()),
                        group: Some((*group).into()),
                        resource: Some((*resource).into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let allowed = api
                .create(&PostParams::default(), &review)
                .await
                .map(|r| r.status.is_some_and(|s| s.allowed))
                .map_err(|e| e.to_string());
            Access { group: (*group).into(), resource: (*resource).into(), allowed }
        }
    });
    futures::future::join_all(asks).await
}

async fn issuer(profile: &Profile, config: &aws_config::SdkConfig) -> IssuerFact {
    let (url, from) = match (&profile.irsa.issuer, profile.cluster.provider, &profile.cluster.name) {
        (Some(url), _, _) => (url.clone(), "irsa.issuer"),
        (None, ClusterProvider::Eks, Some(name)) => {
            let described = aws_sdk_eks::Client::new(config).describe_cluster().name(name).send().await;
            match described {
                Ok(out) => match out.cluster.and_then(|c| c.identity).and_then(|i| i.oidc).and_then(|o| o.issuer) {
                    Some(url) => (url, "EKS DescribeCluster"),
                    None => return IssuerFact::Unknown(format!("cluster {name} reports no OIDC issuer")),
                },
                Err(e) => return IssuerFact::Unknown(crate::error_chain(&e)),
            }
        }
        _ => return IssuerFact::Unset,
    };
    let host = crate::provision::aws::iam::issuer_host_path(&url).to_owned();
    let provider = aws_sdk_iam::Client::new(config)
        .list_open_id_connect_providers()
        .send()
        .await
        .map(|out| {
            out.open_id_connect_provider_list()
                .iter()
                .filter_map(|p| p.arn())
                .any(|arn| arn.ends_with(&format!(":oidc-provider/{host}")))
        })
        .map_err(|e| crate::error_chain(&e));
    IssuerFact::Known { url, from: from.into(), provider }
}

async fn registry(profile: &Profile, config: &aws_config::SdkConfig) -> Option<RegistryFact> {
    let host = profile.registry.as_ref()?.host.clone();
    if profile.cluster.provider == ClusterProvider::Eks {
        let answer = aws_sdk_ecr::Client::new(config)
            .get_authorization_token()
            .send()
            .await
            .map(|_| ())
            .map_err(|e| crate::error_chain(&e));
        return Some(RegistryFact::Ecr { host, answer });
    }
    let url = format!("{}/v2/", crate::promote::registry::base_url(&host));
    let answer = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(http) => http.get(&url).send().await.map(|r| r.status().as_u16()).map_err(|e| crate::error_chain(&e)),
        Err(e) => Err(e.to_string()),
    };
    Some(RegistryFact::Local { host, answer })
}

async fn identity(config: &aws_config::SdkConfig) -> Result<Identity, String> {
    let me = aws_sdk_sts::Client::new(config).get_caller_identity().send().await.map_err(|e| crate::error_chain(&e))?;
    Ok(Identity { account: me.account().unwrap_or_default().into(), arn: me.arn().unwrap_or_default().into() })
}
