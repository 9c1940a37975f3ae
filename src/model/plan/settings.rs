//! Typed settings of each planned resource: what the executor converges and what `plan` prints.
//! Secret values never appear here: secrets carry only the keys of their placeholder.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Kind;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Settings {
    DynamoTable(DynamoTable),
    S3Bucket(S3Bucket),
    GlueDatabase(GlueDatabase),
    GlueTable(GlueTable),
    SsmParameter(SsmParameter),
    Secret(Secret),
    IamOidcProvider(IamOidcProvider),
    IamRole(IamRole),
    CognitoUserPool(CognitoUserPool),
    CognitoUserPoolClient(CognitoUserPoolClient),
    CognitoUserPoolDomain(CognitoUserPoolDomain),
    CognitoGroup(CognitoGroup),
    Namespace(Namespace),
    ServiceAccount(ServiceAccount),
    Deployment(Box<Deployment>),
    Service(Service),
    Ingress(Ingress),
    Autoscaler(Autoscaler),
    DisruptionBudget(DisruptionBudget),
    NetworkPolicy(NetworkPolicy),
    PodSecret(PodSecret),
}

impl Settings {
    pub fn kind(&self) -> Kind {
        match self {
            Settings::DynamoTable(_) => Kind::DynamoTable,
            Settings::S3Bucket(_) => Kind::S3Bucket,
            Settings::GlueDatabase(_) => Kind::GlueDatabase,
            Settings::GlueTable(_) => Kind::GlueTable,
            Settings::SsmParameter(_) => Kind::SsmParameter,
            Settings::Secret(_) => Kind::Secret,
            Settings::IamOidcProvider(_) => Kind::IamOidcProvider,
            Settings::IamRole(_) => Kind::IamRole,
            Settings::CognitoUserPool(_) => Kind::CognitoUserPool,
            Settings::CognitoUserPoolClient(_) => Kind::CognitoUserPoolClient,
            Settings::CognitoUserPoolDomain(_) => Kind::CognitoUserPoolDomain,
            Settings::CognitoGroup(_) => Kind::CognitoGroup,
            Settings::Namespace(_) => Kind::Namespace,
            Settings::ServiceAccount(_) => Kind::ServiceAccount,
            Settings::Deployment(_) => Kind::Deployment,
            Settings::Service(_) => Kind::Service,
            Settings::Ingress(_) => Kind::Ingress,
            Settings::Autoscaler(_) => Kind::Autoscaler,
            Settings::DisruptionBudget(_) => Kind::DisruptionBudget,
            Settings::NetworkPolicy(_) => Kind::NetworkPolicy,
            Settings::PodSecret(_) => Kind::PodSecret,
        }
    }
}

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyAttribute {
    pub name: String,
    /// DynamoDB attribute type: `S`, `N` or `B`.
    #[serde(rename = "type")]
    pub attr_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamoTable {
    pub region: String,
    /// Always `PAY_PER_REQUEST` (on-demand, seed 000).
    pub billing_mode: String,
    pub partition_key: KeyAttribute,
    pub sort_key: KeyAttribute,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Bucket {
    pub region: String,
    /// Default server-side encryption algorithm (`AES256`).
    pub encryption: String,
    pub versioning: bool,
    pub block_public_access: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GlueDatabase {
    pub region: String,
    pub description: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GlueColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GlueTable {
    pub region: String,
    pub database: String,
    pub table_type: String,
    /// `s3://{call-data bucket}/call-records/`.
    pub location: String,
    pub input_format: String,
    pub output_format: String,
    pub serde_library: String,
    pub columns: Vec<GlueColumn>,
    pub partition_keys: Vec<GlueColumn>,
    pub parameters: Tags,
}

/// A parameter's value: known at plan time, or read from another resource once it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Literal {
        value: String,
    },
    From {
        #[serde(rename = "valueFrom")]
        value_from: ValueFrom,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueFrom {
    /// Id of the resource (`kind/name`).
    pub resource: String,
    /// Attribute of it: `id`, `arn` or `domain`.
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SsmParameter {
    pub region: String,
    /// Always `String`: configuration only; sensitive values live in Secrets Manager.
    #[serde(rename = "type")]
    pub param_type: String,
    #[serde(flatten)]
    pub value: ParamValue,
    pub description: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub region: String,
    pub description: String,
    /// Keys of the placeholder JSON object the secret is created with. Values are never shown.
    pub placeholder_keys: Vec<String>,
    /// Always `never`: an existing secret's value is not overwritten (DESIGN.md §4).
    pub overwrite: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IamOidcProvider {
    pub url: String,
    pub client_ids: Vec<String>,
    pub tags: Tags,
}

/// Where the IRSA trust comes from: a known issuer URL, or the EKS cluster's, looked up when
/// applying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrsaTrust {
    /// Issuer URL, or `eks:{cluster}` when discovered from the cluster at apply time.
    pub issuer: String,
    /// ARN of the IAM OIDC provider of that issuer (filled in at apply time for `eks:`).
    pub provider_arn: Option<String>,
    pub subject: String,
    pub audience: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatement {
    pub sid: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IamRole {
    pub arn: String,
    pub trust: IrsaTrust,
    pub policy_name: String,
    pub statements: Vec<PolicyStatement>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoUserPool {
    pub region: String,
    pub username_attributes: Vec<String>,
    pub auto_verified_attributes: Vec<String>,
    pub password_min_length: i32,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoUserPoolClient {
    pub user_pool: String,
    /// Authorization code with PKCE; a public client with no secret.
    pub oauth_flows: Vec<String>,
    pub generate_secret: bool,
    pub scopes: Vec<String>,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
    pub identity_providers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoUserPoolDomain {
    pub user_pool: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoGroup {
    pub user_pool: String,
    pub description: String,
    pub precedence: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub labels: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    pub namespace: String,
    pub labels: Tags,
    /// `eks.amazonaws.com/role-arn` (profile-scoped: the account).
    pub annotations: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceQuantities {
    pub cpu: String,
    pub memory: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub path: String,
    pub port: i32,
    pub initial_delay_seconds: i32,
    pub period_seconds: i32,
    pub timeout_seconds: i32,
    pub failure_threshold: i32,
}

/// The hardened defaults of seed 004 (and 001's operator pod).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Security {
    pub run_as_non_root: bool,
    pub run_as_user: i64,
    pub run_as_group: i64,
    pub fs_group: i64,
    pub allow_privilege_escalation: bool,
    pub read_only_root_filesystem: bool,
    pub drop_capabilities: Vec<String>,
    pub seccomp_profile: String,
    /// Directories that are writable emptyDirs (`/tmp` first), since the root filesystem is
    /// read-only.
    pub writable_paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub namespace: String,
    /// `backend` or `frontend`.
    pub component: String,
    /// The spec's image, with the profile's registry when it rewrites images.
    pub image: String,
    /// The replicas applied; with an autoscaler, its minimum, and the Deployment leaves the
    /// count to the autoscaler.
    pub replicas: i32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub autoscaled: bool,
    pub port: i32,
    pub service_account: String,
    pub labels: Tags,
    /// The same everywhere: names of resources, region, SSM prefix, then the spec's own.
    pub env: Vec<EnvVar>,
    /// Profile-scoped: the emulator's endpoint and dummy credentials locally, nothing on EKS.
    pub aws_env: Vec<EnvVar>,
    pub requests: ResourceQuantities,
    pub limits: ResourceQuantities,
    pub startup_probe: Probe,
    pub readiness_probe: Probe,
    pub liveness_probe: Probe,
    pub max_surge: i32,
    pub max_unavailable: i32,
    pub security: Security,
    pub termination_grace_period_seconds: i64,
    /// Replicas preferably on different nodes, by this topology key.
    pub spread_by: String,
    /// The capability's secret values, when the spec hands them to pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsMount>,
}

/// How a Deployment's pods get the pods' Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretsMount {
    /// The Kubernetes Secret.
    pub secret: String,
    /// `env` or `file`.
    pub mount: String,
    /// Where the files are, in `file` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A Kubernetes Secret holding the values of the capability's Secrets Manager secrets, copied
/// at apply time (the plan never holds a value): each key of a secret's JSON becomes
/// `{TYPE}_{KEY}`, such as `OPENAI_API_KEY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecret {
    pub namespace: String,
    /// The Secrets Manager secrets, by name, with the variable prefix of each.
    pub sources: Vec<SecretSource>,
    /// `env` or `file`.
    pub mount: String,
    pub labels: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSource {
    pub secret: String,
    /// `OPENAI` for `myapp/dev/openai`.
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub namespace: String,
    pub component: String,
    #[serde(rename = "type")]
    pub service_type: String,
    pub port: i32,
    pub target_port: i32,
    pub selector: Tags,
    pub labels: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressPath {
    pub path: String,
    pub path_type: String,
    pub service: String,
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    pub namespace: String,
    pub ingress_class_name: String,
    /// Absent: every host.
    pub host: Option<String>,
    pub tls: bool,
    pub annotations: Tags,
    pub labels: Tags,
    /// `/api` → backend first, then `/` → frontend (the most specific prefix first).
    pub paths: Vec<IngressPath>,
}

/// A HorizontalPodAutoscaler (autoscaling/v2) of one Deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Autoscaler {
    pub namespace: String,
    pub component: String,
    pub deployment: String,
    pub min_replicas: i32,
    pub max_replicas: i32,
    /// Target average utilization of the requests, percent.
    pub cpu_percent: i32,
    pub memory_percent: i32,
    /// Seed 004's stabilization windows: scale up after a minute of load, down after five quiet.
    pub scale_up_window_seconds: i32,
    pub scale_down_window_seconds: i32,
    pub labels: Tags,
}

/// A PodDisruptionBudget: a drain takes at most one replica at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisruptionBudget {
    pub namespace: String,
    pub component: String,
    pub max_unavailable: i32,
    pub selector: Tags,
    pub labels: Tags,
}

/// A NetworkPolicy. An empty `podSelector` is every pod of the namespace; a policy type with
/// no rules denies that direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicy {
    pub namespace: String,
    pub pod_selector: Tags,
    /// `Ingress`, `Egress`.
    pub policy_types: Vec<String>,
    pub ingress: Vec<NetworkRule>,
    pub egress: Vec<NetworkRule>,
    /// Profile-scoped: egress to AWS on the emulator's port locally, HTTPS on EKS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aws_egress: Vec<NetworkRule>,
    pub labels: Tags,
}

/// One allow rule: these ports, to or from these peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRule {
    /// What it is for, for people reading the plan.
    pub purpose: String,
    pub peer: NetworkPeer,
    /// `(protocol, port)`.
    pub ports: Vec<(String, i32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NetworkPeer {
    /// Any source or destination: pods, nodes (kubelet probes, the API server's proxy) and
    /// addresses outside the cluster.
    Anywhere,
    /// The capability's own pods.
    SamePods(Tags),
    /// An address block, such as `0.0.0.0/0`.
    Addresses(String),
}
