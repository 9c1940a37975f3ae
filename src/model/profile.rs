//! Profiles: where a spec goes (DESIGN.md §5). A profile names the cluster, the AWS endpoint
//! and account, the registry, the ingress class and the IRSA issuer; the spec never changes
//! between profiles. How a profile is found and checked is `input::profile`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// Name of the profile, as given to `--profile`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A production profile: promotion to it asks for confirmation.
    #[serde(default)]
    pub production: bool,
    pub cluster: Cluster,
    pub aws: Aws,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    #[serde(default)]
    pub ingress: IngressProfile,
    #[serde(default)]
    pub irsa: Irsa,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// `kind` (a local KinD cluster nexus-dev manages), `existing` (a kubeconfig context of
    /// yours) or `eks`.
    pub provider: ClusterProvider,
    /// Cluster name (KinD or EKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// KinD cluster config, relative to the profile file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// KinD node image (`kind create cluster --image`), such as `kindest/node:v1.34.0` or a
    /// mirror's copy; absent: the `kind` release's default. `NEXUS_DEV_KIND_IMAGE` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Kubeconfig file; defaults to $KUBECONFIG or ~/.kube/config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// Kubeconfig context; required for `existing`, defaults to `kind-{name}` for KinD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClusterProvider {
    Kind,
    Existing,
    Eks,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Aws {
    /// The AWS emulator to run, if any: `localstack` or `moto`. Absent for real AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<Emulator>,
    /// Endpoint for AWS calls from this machine; absent for real AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Endpoint for AWS calls from pods (on the cluster network); defaults to `endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_endpoint: Option<String>,
    /// The STS endpoint an EKS cluster verifies its tokens with, which the tokens name;
    /// defaults to `endpoint`, else STS's regional endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_endpoint: Option<String>,
    /// AWS account ID, twelve digits.
    pub account: String,
    /// Named AWS CLI profile for credentials on real AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_profile: Option<String>,
    /// Name of the environment variable holding the LocalStack auth token (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token_env: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Emulator {
    /// LocalStack: needs an auth token (its free tier lacks Glue and Cognito).
    Localstack,
    /// MiniStack: LocalStack's protocol (health, init hooks, port 4566), no token, persistence.
    Ministack,
    /// moto: every service a capability uses, no token, state in memory only.
    Moto,
}

impl Emulator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Localstack => "localstack",
            Self::Ministack => "ministack",
            Self::Moto => "moto",
        }
    }

    /// Whether it speaks LocalStack's protocol: `/_localstack/health` listing its services, and
    /// init hooks from `/etc/localstack/init/ready.d`.
    pub fn speaks_localstack(self) -> bool {
        matches!(self, Self::Localstack | Self::Ministack)
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registry {
    /// Registry host images are pushed to, such as `localhost:5001` or an ECR host.
    pub host: String,
    /// Replace the registry part of the spec's images with `host` (the same repository and
    /// tag), so that what was built and pushed here is what runs.
    #[serde(default)]
    pub rewrite_images: bool,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressProfile {
    /// Ingress class: `nginx` locally, `alb` on EKS.
    #[serde(default = "default_class")]
    pub class: String,
    /// Domain for ingress hosts (`{cap}-{env}.{domain}`) when the spec names no host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Serve HTTPS (with the spec's or this profile's certificate).
    #[serde(default)]
    pub tls: bool,
    /// Default ACM certificate when the spec names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// Extra annotations for every ingress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Default for IngressProfile {
    fn default() -> Self {
        Self { class: default_class(), domain: None, tls: false, certificate_arn: None, annotations: BTreeMap::new() }
    }
}

fn default_class() -> String {
    "nginx".into()
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Irsa {
    /// The cluster's service-account issuer URL. Absent: discovered from the EKS cluster (or the
    /// local cluster) at apply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Register the issuer as an IAM OIDC provider (locally yes; on EKS the platform team
    /// usually has).
    #[serde(default)]
    pub register_oidc_provider: bool,
}

impl Profile {
    /// Endpoint pods use for AWS, if the profile targets an emulator.
    pub fn pod_endpoint(&self) -> Option<&str> {
        self.aws.pod_endpoint.as_deref().or(self.aws.endpoint.as_deref())
    }

    /// Whether AWS calls go to an emulator, which takes any credentials: a profile with an
    /// emulator, or an endpoint on a non-EKS cluster. An EKS profile is real AWS wherever its
    /// endpoint points (a VPC endpoint, or the test bed's stand-ins), signed with the usual
    /// credential chain, and its pods use their IRSA role.
    pub fn is_emulated(&self) -> bool {
        self.aws.emulator.is_some() || (self.aws.endpoint.is_some() && self.cluster.provider != ClusterProvider::Eks)
    }
}
