//! Where a promotion goes, checked before anything is written: the caller's account must be
//! the profile's (STS `GetCallerIdentity`), and the profile's cluster must be `ACTIVE` (EKS
//! `DescribeCluster`). The cluster's endpoint, CA and OIDC issuer come from `DescribeCluster`,
//! never from a kubeconfig context, and the Kubernetes client authenticates with EKS tokens
//! made from the same credentials.

use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::eks_token::TokenSource;
use crate::model::profile::{ClusterProvider, Profile};

/// The checked target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub account: String,
    /// Who is promoting (STS's ARN for the credentials).
    pub caller: String,
    pub region: String,
    pub cluster: String,
    pub cluster_arn: String,
    /// The API server, as DescribeCluster reports it.
    pub endpoint: String,
    /// The cluster CA (PEM), decoded from DescribeCluster's base64.
    #[serde(skip)]
    pub ca_pem: String,
    /// The cluster's OIDC issuer: what IRSA trust policies name.
    #[serde(default)]
    pub oidc_issuer: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "profile {profile} is not an EKS profile (cluster.provider: {provider})\n  hint: promote goes to a profile with `cluster: {{provider: eks, name: …}}`"
    )]
    NotEks { profile: String, provider: String },
    #[error("profile {profile} names no EKS cluster\n  hint: set cluster.name in the profile")]
    NoCluster { profile: String },
    #[error(
        "cannot tell who the AWS credentials belong to: {0}\n  hint: check AWS_PROFILE / AWS_ACCESS_KEY_ID, or `aws sts get-caller-identity`"
    )]
    Identity(String),
    #[error(
        "the AWS credentials belong to account {got} ({caller}), profile {profile} is for account {want}; nothing was changed\n  hint: use the credentials of account {want} (AWS_PROFILE, or aws.credentialsProfile in the profile)"
    )]
    WrongAccount { profile: String, want: String, got: String, caller: String },
    #[error(
        "EKS cluster {cluster} not found in {region} (account {account}): {reason}; nothing was changed\n  hint: check cluster.name in the profile and the region"
    )]
    NoSuchCluster { cluster: String, region: String, account: String, reason: String },
    #[error(
        "EKS cluster {cluster} is {status}, not ACTIVE; nothing was changed\n  hint: wait until `aws eks describe-cluster --name {cluster}` says ACTIVE"
    )]
    NotActive { cluster: String, status: String },
    #[error("EKS cluster {cluster}: DescribeCluster gave no {what}")]
    Incomplete { cluster: String, what: &'static str },
    #[error("cannot make a Kubernetes client for {cluster}: {reason}")]
    Client { cluster: String, reason: String },
}

/// The EKS cluster's region: the region of the profile's context ARN
/// (`arn:aws:eks:REGION:ACCOUNT:cluster/NAME`, what `aws eks update-kubeconfig` names
/// contexts), else `fallback` (the capability's region).
pub fn region(profile: &Profile, fallback: &str) -> String {
    profile
        .cluster
        .context
        .as_deref()
        .and_then(|c| c.strip_prefix("arn:aws:eks:"))
        .and_then(|rest| rest.split(':').next())
        .filter(|r| !r.is_empty())
        .unwrap_or(fallback)
        .to_owned()
}

/// Checks who the credentials are and that the cluster is there and ACTIVE, reading only.
pub async fn resolve(
    profile: &Profile,
    region: &str,
    sts: &aws_sdk_sts::Client,
    eks: &aws_sdk_eks::Client,
) -> Result<Target, TargetError> {
    if profile.cluster.provider != ClusterProvider::Eks {
        let provider = format!("{:?}", profile.cluster.provider).to_lowercase();
        return Err(TargetError::NotEks { profile: profile.name.clone(), provider });
    }
    let cluster =
        profile.cluster.name.clone().ok_or_else(|| TargetError::NoCluster { profile: profile.name.clone() })?;
    // Both read only, so both at once; the identity is judged first.
    let (me, described) =
        futures::join!(sts.get_caller_identity().send(), eks.describe_cluster().name(&cluster).send());
    let me = me.map_err(|e| TargetError::Identity(crate::error_chain(&e)))?;
    let account = me.account().unwrap_or_default().to_owned();
    let caller = me.arn().unwrap_or_default().to_owned();
    if account != profile.aws.account {
        return Err(TargetError::WrongAccount {
            profile: profile.name.clone(),
            want: profile.aws.account.clone(),
            got: account,
            caller,
        });
    }
    let described = described.map_err(|e| TargetError::NoSuchCluster {
        cluster: cluster.clone(),
        region: region.to_owned(),
        account: account.clone(),
        reason: crate::error_chain(&e),
    })?;
    let c = described.cluster.ok_or_else(|| TargetError::NoSuchCluster {
        cluster: cluster.clone(),
        region: region.to_owned(),
        account: account.clone(),
        reason: "no cluster in the answer".into(),
    })?;
    let status = c.status().map(|s| s.as_str().to_owned()).unwrap_or_default();
    if status != "ACTIVE" {
        return Err(TargetError::NotActive { cluster, status });
    }
    let incomplete = |what| TargetError::Incomplete { cluster: cluster.clone(), what };
    let endpoint = c.endpoint().ok_or_else(|| incomplete("endpoint"))?.to_owned();
    let ca_b64 = c.certificate_authority().and_then(|a| a.data()).ok_or_else(|| incomplete("certificate authority"))?;
    let ca =
        base64::engine::general_purpose::STANDARD.decode(ca_b64.trim()).map_err(|_| incomplete("valid CA data"))?;
    Ok(Target {
        account,
        caller,
        region: region.to_owned(),
        cluster_arn: c.arn().unwrap_or_default().to_owned(),
        endpoint,
        ca_pem: String::from_utf8_lossy(&ca).into_owned(),
        oidc_issuer: c.identity().and_then(|i| i.oidc()).and_then(|o| o.issuer()).map(str::to_owned),
        cluster,
    })
}

/// The DER certificates of a PEM bundle.
fn der_certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut certs = Vec::new();
    let mut body = None::<String>;
    for line in pem.lines().map(str::trim) {
        match (line, body.as_mut()) {
            ("-----BEGIN CERTIFICATE-----", _) => body = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(b)) => {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b.as_bytes()) {
                    certs.push(der);
                }
                body = None;
            }
            (l, Some(b)) => b.push_str(l),
            _ => {}
        }
    }
    certs
}

/// A Kubernetes client of the target cluster: its endpoint and CA from DescribeCluster, and on
/// every request a bearer token from `tokens` (made anew before it expires).
pub fn kube_client(target: &Target, tokens: Arc<TokenSource>) -> Result<kube::Client, TargetError> {
    let fail = |reason: String| TargetError::Client { cluster: target.cluster.clone(), reason };
    let url: http::Uri = target.endpoint.parse().map_err(|e: http::uri::InvalidUri| fail(e.to_string()))?;
    let mut config = kube::Config::new(url);
    config.root_cert = Some(der_certificates(&target.ca_pem));
    config.default_namespace = "default".into();
    let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| fail(e.to_string()))?;
    let layer = tower::util::MapRequestLayer::new(move |mut req: http::Request<kube::client::Body>| {
        match tokens.token() {
            Ok(token) => {
                if let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
                    let mut v = v;
                    v.set_sensitive(true);
                    req.headers_mut().insert(http::header::AUTHORIZATION, v);
                }
            }
            Err(e) => tracing::warn!(error = %e, "no EKS token for this request"),
        }
        req
    });
    Ok(builder.with_layer(&layer).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_the_context_arn_else_the_capability() {
        let mut p = crate::input::profile::built_in("eks-staging").unwrap();
        assert_eq!(region(&p, "eu-west-1"), "ap-southeast-1");
        p.cluster.context = None;
        assert_eq!(region(&p, "eu-west-1"), "eu-west-1");
    }

    #[test]
    fn a_pem_bundle_gives_its_certificates() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBAU=\n-----END CERTIFICATE-----\n";
        assert_eq!(der_certificates(pem), [vec![0, 1, 2, 3], vec![4, 5]]);
    }
}
