//! The `NexusAICapability` custom resource (DESIGN.md §3, a contract; fields from the seed's
//! examples in 000). Defaults live here, in one place, and are also written into the CRD schema
//! so the API server applies the same ones.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `apiVersion` of the custom resource.
pub const API_VERSION: &str = "nexus.ai/v1";
pub const KIND: &str = "NexusAICapability";

/// A NexusAI capability: its AWS data services, configuration, identity and workloads.
// kube-derive takes one `printcolumn(...)` per column, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "nexus.ai",
    version = "v1",
    kind = "NexusAICapability",
    plural = "nexuscapabilities",
    singular = "nexuscapability",
    shortname = "nxc",
    category = "nexus",
    namespaced,
    status = "NexusAICapabilityStatus",
    doc = "A NexusAI capability: AWS data services, SSM parameters, secrets, an IRSA role, optional Cognito, and frontend/backend workloads behind one ingress.",
    printcolumn(name = "Capability", type_ = "string", json_path = ".spec.capabilityName"),
    printcolumn(name = "Env", type_ = "string", json_path = ".spec.environment"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "size(self.capabilityName) + size(self.environment) <= 41",
    "message": "capabilityName and environment together must be at most 41 characters: the Service name {cap}-{env}-backend-svc-internal must fit the 63-character DNS label limit"
}]))]
pub struct NexusAICapabilitySpec {
    /// Name of the capability; a DNS label starting with a letter. Prefix of every derived name.
    #[schemars(regex(pattern = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"), length(min = 1, max = 40))]
    pub capability_name: String,
    /// Version of the capability, written to SSM and to the workloads' labels.
    #[schemars(length(min = 1, max = 63))]
    pub version: String,
    /// Environment: dev, staging, prod, or another DNS label.
    #[schemars(regex(pattern = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"), length(min = 1, max = 40))]
    pub environment: String,
    /// AWS region of the capability's resources, such as `ap-southeast-1`.
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub region: String,
    /// Provision a Cognito user pool, app client, domain and groups.
    #[serde(default)]
    pub enable_cognito: bool,
    pub frontend: Workload,
    pub backend: Workload,
    #[serde(default)]
    pub ingress: IngressSpec,
    #[serde(default)]
    pub data_services: DataServices,
    /// What happens to AWS resources when the capability is deleted. Retain (the default) keeps
    /// them: losing data must be opt-in.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `default-deny` (seed 004's zero-trust policy): the namespace's pods accept and open only
    /// the connections the capability needs. `none` (the default) adds no NetworkPolicy.
    #[serde(default, skip_serializing_if = "NetworkPolicyMode::is_none")]
    pub network_policy: NetworkPolicyMode,
    /// The capability's Secrets Manager values handed to its pods (seed 003), for services that
    /// expect them as environment variables or files: copied into a Kubernetes Secret the
    /// capability owns, refreshed when they change. Absent: pods call Secrets Manager themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsDelivery>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretsDelivery {
    pub mount: SecretMount,
}

/// How pods get the values: each key `{TYPE}_{KEY}` (`OPENAI_API_KEY`) as an environment
/// variable, or as a file of that name under `/var/run/secrets/nexus`.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SecretMount {
    #[serde(rename = "env")]
    Env,
    #[serde(rename = "file")]
    File,
}

impl SecretMount {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::File => "file",
        }
    }
}

/// Whether the capability's namespace gets NetworkPolicies.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum NetworkPolicyMode {
    #[default]
    #[serde(rename = "none")]
    None,
    /// Deny everything, then allow: traffic to the workloads' ports (the ingress controller and
    /// the frontend → backend path), DNS, and AWS (or the emulator) on its port.
    #[serde(rename = "default-deny")]
    DefaultDeny,
}

impl NetworkPolicyMode {
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
}

/// A frontend or backend workload.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workload {
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,
    /// Container image reference.
    #[schemars(length(min = 1))]
    pub image: String,
    /// Container port; defaults to 8080 for the frontend and 8000 for the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Path of the HTTP health endpoint used by readiness and liveness probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/"))]
    pub health_check_path: Option<String>,
    /// Startup, readiness and liveness probes; each on the health path unless it names its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<Probes>,
    /// The container's user, group and root filesystem; seed 004's hardened values by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<WorkloadSecurity>,
    /// A HorizontalPodAutoscaler between `min` and `max` replicas; `replicas` is then its to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Seconds a pod has to finish after SIGTERM before it is killed (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub termination_grace_period_seconds: Option<i64>,
}

/// The three probes of a workload; any left out keeps its default.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probes {
    /// Until it succeeds the other two wait: a slow starter is given `periodSeconds ×
    /// failureThreshold` (default 5 s × 24 = 2 minutes) instead of being killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<ProbeSpec>,
    /// Whether the pod gets traffic (default every 10 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ProbeSpec>,
    /// Whether the container is restarted (default every 30 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<ProbeSpec>,
}

/// One HTTP probe; unset fields keep the probe's defaults.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeSpec {
    /// HTTP path, such as `/ready` or `/live`; default the workload's health path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/"))]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub initial_delay_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub period_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub failure_threshold: Option<i32>,
}

/// What an image may need changed from the hardened defaults. Non-root, no privilege
/// escalation, no capabilities and the runtime's seccomp profile stay in every case (the
/// namespace enforces the `restricted` Pod Security Standard).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSecurity {
    /// Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub run_as_user: Option<i64>,
    /// Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub run_as_group: Option<i64>,
    /// Group owning the writable volumes; default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub fs_group: Option<i64>,
    /// Default true; `/tmp` and `writablePaths` are writable either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
    /// Directories the app writes to, each an emptyDir (`/tmp` always is one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(regex(pattern = r"^/[^:]*$")))]
    pub writable_paths: Vec<String>,
}

/// A HorizontalPodAutoscaler (autoscaling/v2) with seed 004's stabilization windows.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Autoscaling {
    #[schemars(range(min = 1, max = 1000))]
    pub min: i32,
    #[schemars(range(min = 1, max = 1000))]
    pub max: i32,
    /// Target average CPU use, percent of the request (default 70).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub cpu: Option<i32>,
    /// Target average memory use, percent of the request (default 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub memory: Option<i32>,
}

pub const DEFAULT_REPLICAS: i32 = 2;
pub const DEFAULT_FRONTEND_PORT: i32 = 8080;
pub const DEFAULT_BACKEND_PORT: i32 = 8000;
pub const DEFAULT_HEALTH_CHECK_PATH: &str = "/health";

fn default_replicas() -> i32 {
    DEFAULT_REPLICAS
}

/// A plain environment variable for a workload (values here are configuration, not secrets).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceList>,
}

/// CPU and memory as Kubernetes quantities (`250m`, `0.5`, `512Mi`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressSpec {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `internal` (the default, as for the AWS Load Balancer Controller) or `internet-facing`.
    #[serde(default)]
    pub scheme: IngressScheme,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/"))]
    pub health_check_path: Option<String>,
    /// ACM certificate for HTTPS on EKS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:acm:"))]
    pub certificate_arn: Option<String>,
    /// Host name the ingress answers; when absent the profile's ingress domain is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Default for IngressSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            scheme: IngressScheme::default(),
            health_check_path: None,
            certificate_arn: None,
            host: None,
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum IngressScheme {
    #[default]
    #[serde(rename = "internal")]
    Internal,
    #[serde(rename = "internet-facing")]
    InternetFacing,
}

impl IngressScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::InternetFacing => "internet-facing",
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
#[derive(Default)]
pub struct DataServices {
    #[serde(default)]
    pub dynamodb: Toggle,
    #[serde(default)]
    pub s3: Toggle,
    #[serde(default)]
    pub glue: Toggle,
}

/// `{ enabled: bool }`; data services are on unless turned off.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Self { enabled: true }
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    Delete,
    #[default]
    Retain,
}

impl DeletionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "Delete",
            Self::Retain => "Retain",
        }
    }
}

/// Phases of a capability, in the order of the seed's reconcile table (000), plus Deleting.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum Phase {
    Pending,
    ProvisioningDataServices,
    #[serde(rename = "ProvisioningSSM")]
    ProvisioningSsm,
    ProvisioningSecrets,
    #[serde(rename = "ProvisioningIAM")]
    ProvisioningIam,
    Deploying,
    DeployingBackend,
    DeployingFrontend,
    Running,
    Failed,
    Deleting,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::ProvisioningDataServices => "ProvisioningDataServices",
            Self::ProvisioningSsm => "ProvisioningSSM",
            Self::ProvisioningSecrets => "ProvisioningSecrets",
            Self::ProvisioningIam => "ProvisioningIAM",
            Self::Deploying => "Deploying",
            Self::DeployingBackend => "DeployingBackend",
            Self::DeployingFrontend => "DeployingFrontend",
            Self::Running => "Running",
            Self::Failed => "Failed",
            Self::Deleting => "Deleting",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NexusAICapabilityStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Every provisioned resource and its last outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    /// Where the capability answers (ingress URL, service addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// Plan kind, such as `s3.bucket` or `k8s.deployment`.
    pub kind: String,
    pub name: String,
    /// Ready, Pending or Failed.
    pub state: String,
    /// ARN or identifier assigned by AWS, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
}

impl Workload {
    pub fn port_or(&self, default: i32) -> i32 {
        self.port.unwrap_or(default)
    }

    pub fn health_path(&self) -> &str {
        self.health_check_path.as_deref().unwrap_or(DEFAULT_HEALTH_CHECK_PATH)
    }
}

impl NexusAICapabilitySpec {
    pub fn frontend_port(&self) -> i32 {
        self.frontend.port_or(DEFAULT_FRONTEND_PORT)
    }

    pub fn backend_port(&self) -> i32 {
        self.backend.port_or(DEFAULT_BACKEND_PORT)
    }
}
