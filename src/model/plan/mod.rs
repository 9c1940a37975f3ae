//! The plan: every AWS and Kubernetes resource a capability needs, with its name, settings,
//! phase and dependencies. Pure — spec and profile in, plan out, no I/O (DESIGN.md §2).
//!
//! Order follows the seed's reconcile table (000): data services, SSM, secrets, IAM (and
//! Cognito), namespace, service account, backend, frontend, ingress.

mod aws;
mod k8s;
pub mod parity;
mod settings;

use serde::Serialize;

pub use k8s::POD_SECURITY_LABEL;
pub use settings::*;

use crate::model::names::Names;
use crate::model::profile::Profile;
use crate::model::spec::{Autoscaling, NetworkPolicyMode, NexusAICapability, Phase, SecretMount, SecretsDelivery};

/// The kinds of resource a plan holds (the `kind` field of `plan -o json`, a contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    #[serde(rename = "dynamodb.table")]
    DynamoTable,
    #[serde(rename = "s3.bucket")]
    S3Bucket,
    #[serde(rename = "glue.database")]
    GlueDatabase,
    #[serde(rename = "glue.table")]
    GlueTable,
    #[serde(rename = "ssm.parameter")]
    SsmParameter,
    #[serde(rename = "secretsmanager.secret")]
    Secret,
    #[serde(rename = "iam.oidc-provider")]
    IamOidcProvider,
    #[serde(rename = "iam.role")]
    IamRole,
    #[serde(rename = "cognito.user-pool")]
    CognitoUserPool,
    #[serde(rename = "cognito.user-pool-client")]
    CognitoUserPoolClient,
    #[serde(rename = "cognito.user-pool-domain")]
    CognitoUserPoolDomain,
    #[serde(rename = "cognito.group")]
    CognitoGroup,
    #[serde(rename = "k8s.namespace")]
    Namespace,
    #[serde(rename = "k8s.serviceaccount")]
    ServiceAccount,
    #[serde(rename = "k8s.deployment")]
    Deployment,
    #[serde(rename = "k8s.service")]
    Service,
    #[serde(rename = "k8s.ingress")]
    Ingress,
    #[serde(rename = "k8s.hpa")]
    Autoscaler,
    #[serde(rename = "k8s.pdb")]
    DisruptionBudget,
    #[serde(rename = "k8s.networkpolicy")]
    NetworkPolicy,
    #[serde(rename = "k8s.secret")]
    PodSecret,
}

impl Kind {
    pub const ALL: [Kind; 21] = [
        Kind::DynamoTable,
        Kind::S3Bucket,
        Kind::GlueDatabase,
        Kind::GlueTable,
        Kind::SsmParameter,
        Kind::Secret,
        Kind::IamOidcProvider,
        Kind::IamRole,
        Kind::CognitoUserPool,
        Kind::CognitoUserPoolClient,
        Kind::CognitoUserPoolDomain,
        Kind::CognitoGroup,
        Kind::Namespace,
        Kind::ServiceAccount,
        Kind::Deployment,
        Kind::Service,
        Kind::Ingress,
        Kind::Autoscaler,
        Kind::DisruptionBudget,
        Kind::NetworkPolicy,
        Kind::PodSecret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DynamoTable => "dynamodb.table",
            Kind::S3Bucket => "s3.bucket",
            Kind::GlueDatabase => "glue.database",
            Kind::GlueTable => "glue.table",
            Kind::SsmParameter => "ssm.parameter",
            Kind::Secret => "secretsmanager.secret",
            Kind::IamOidcProvider => "iam.oidc-provider",
            Kind::IamRole => "iam.role",
            Kind::CognitoUserPool => "cognito.user-pool",
            Kind::CognitoUserPoolClient => "cognito.user-pool-client",
            Kind::CognitoUserPoolDomain => "cognito.user-pool-domain",
            Kind::CognitoGroup => "cognito.group",
            Kind::Namespace => "k8s.namespace",
            Kind::ServiceAccount => "k8s.serviceaccount",
            Kind::Deployment => "k8s.deployment",
            Kind::Service => "k8s.service",
            Kind::Ingress => "k8s.ingress",
            Kind::Autoscaler => "k8s.hpa",
            Kind::DisruptionBudget => "k8s.pdb",
            Kind::NetworkPolicy => "k8s.networkpolicy",
            Kind::PodSecret => "k8s.secret",
        }
    }

    /// AWS resources are provisioned by the executor; the rest are Kubernetes objects.
    pub fn is_aws(self) -> bool {
        !self.as_str().starts_with("k8s.")
    }

    /// The AWS service a kind needs from the emulator (for coverage checks), if any.
    pub fn aws_service(self) -> Option<&'static str> {
        match self {
            Kind::DynamoTable => Some("dynamodb"),
            Kind::S3Bucket => Some("s3"),
            Kind::GlueDatabase | Kind::GlueTable => Some("glue"),
            Kind::SsmParameter => Some("ssm"),
            Kind::Secret => Some("secretsmanager"),
            Kind::IamOidcProvider | Kind::IamRole => Some("iam"),
            Kind::CognitoUserPool | Kind::CognitoUserPoolClient | Kind::CognitoUserPoolDomain | Kind::CognitoGroup => {
                Some("cognito-idp")
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One desired resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub kind: Kind,
    pub name: String,
    /// The seed phase this resource is provisioned in.
    pub phase: Phase,
    /// Ids (`kind/name`) of the resources that must exist first.
    pub depends_on: Vec<String>,
    pub settings: Settings,
}

impl Resource {
    pub fn new(name: impl Into<String>, phase: Phase, settings: Settings) -> Self {
        Self { kind: settings.kind(), name: name.into(), phase, depends_on: Vec::new(), settings }
    }

    pub fn after(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        self.depends_on.extend(ids);
        self
    }

    /// `kind/name`, unique within a plan.
    pub fn id(&self) -> String {
        id(self.kind, &self.name)
    }
}

pub fn id(kind: Kind, name: &str) -> String {
    format!("{kind}/{name}")
}

/// Where the plan goes: the profile's target, for display and for the executor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub cluster: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emulator: Option<String>,
    pub account: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    pub ingress_class: String,
}

/// The plan of one capability for one profile (`plan -o json`: a contract).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// `capabilityName` of the spec.
    pub capability: String,
    pub environment: String,
    pub version: String,
    /// Namespace of the workloads (and of the custom resource).
    pub namespace: String,
    pub profile: String,
    pub target: Destination,
    pub deletion_policy: String,
    pub resources: Vec<Resource>,
}

impl Plan {
    pub fn get(&self, kind: Kind, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.kind == kind && r.name == name)
    }

    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(move |r| r.kind == kind)
    }

    /// AWS services the plan needs, in a stable order (for emulator coverage checks).
    /// Whose resources these are (issue #11).
    pub fn owner(&self) -> crate::model::ownership::Owner {
        crate::model::ownership::Owner::new(&self.capability, &self.environment)
    }

    pub fn aws_services(&self) -> Vec<&'static str> {
        let mut s: Vec<_> = self.resources.iter().filter_map(|r| r.kind.aws_service()).collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}

/// Builds the plan of `cr` for `profile`. Deterministic: the same inputs give the same plan.
/// AWS resources the capability could own but its plan no longer wants: those of every optional
/// part the spec turns off (a data service, Cognito), by the names it would give them. What of
/// these exists and carries the capability's ownership is an orphan of a spec change (issue
/// #11): `diff` reports it, `apply` prunes it under `deletionPolicy: Delete`. The OIDC provider
/// is the cluster's and never an orphan.
pub fn unplanned(cr: &NexusAICapability, profile: &Profile) -> Vec<Resource> {
    unplanned_where(cr, profile, |k| k.is_aws() && k != Kind::IamOidcProvider)
}

/// Kubernetes objects the capability could own but its plan no longer wants: an autoscaler, a
/// disruption budget, the NetworkPolicies, the pods' Secret, the ingress, once the spec turns
/// them off. They hold
/// no data, so the reconciler deletes those that are the capability's whatever the
/// deletionPolicy.
pub fn unplanned_objects(cr: &NexusAICapability, profile: &Profile) -> Vec<Resource> {
    unplanned_where(cr, profile, |k| !k.is_aws())
}

/// The resources of `kinds` that the spec with every optional part on would have and its plan
/// has not.
fn unplanned_where(cr: &NexusAICapability, profile: &Profile, kinds: impl Fn(Kind) -> bool) -> Vec<Resource> {
    let planned = build(cr, profile);
    let mut everything = cr.clone();
    let spec = &mut everything.spec;
    spec.enable_cognito = true;
    let ds = &mut spec.data_services;
    for t in [&mut ds.dynamodb, &mut ds.s3, &mut ds.glue] {
        t.enabled = true;
    }
    spec.ingress.enabled = true;
    spec.network_policy = NetworkPolicyMode::DefaultDeny;
    spec.secrets = Some(SecretsDelivery { mount: SecretMount::Env });
    for w in [&mut spec.frontend, &mut spec.backend] {
        w.autoscaling = Some(Autoscaling { min: 2, max: 2, cpu: None, memory: None });
    }
    build(&everything, profile)
        .resources
        .into_iter()
        .filter(|r| kinds(r.kind) && planned.get(r.kind, &r.name).is_none())
        .collect()
}

pub fn build(cr: &NexusAICapability, profile: &Profile) -> Plan {
    let spec = &cr.spec;
    let names = Names::of(spec);
    let ctx =
        Ctx { spec, profile, names: &names, built_images: built_images(cr), awaiting_builds: awaiting_builds(cr) };
    let mut resources = Vec::new();
    aws::data_services(&ctx, &mut resources);
    aws::ssm_parameters(&ctx, &mut resources);
    aws::secrets(&ctx, &mut resources);
    aws::iam(&ctx, &mut resources);
    aws::cognito(&ctx, &mut resources);
    k8s::objects(&ctx, &mut resources);
    Plan {
        capability: spec.capability_name.clone(),
        environment: spec.environment.clone(),
        version: spec.version.clone(),
        namespace: names.namespace(),
        profile: profile.name.clone(),
        target: Destination {
            cluster: match &profile.cluster.name {
                Some(n) => format!("{}:{n}", provider_name(profile)),
                None => format!("{}:{}", provider_name(profile), profile.cluster.context.as_deref().unwrap_or("")),
            },
            aws_endpoint: profile.aws.endpoint.clone(),
            emulator: profile.aws.emulator.map(|e| e.as_str().to_owned()),
            account: profile.aws.account.clone(),
            region: spec.region.clone(),
            registry: profile.registry.as_ref().map(|r| r.host.clone()),
            ingress_class: profile.ingress.class.clone(),
        },
        deletion_policy: spec.deletion_policy.as_str().to_owned(),
        resources,
    }
}

fn provider_name(p: &Profile) -> &'static str {
    match p.cluster.provider {
        crate::model::profile::ClusterProvider::Kind => "kind",
        crate::model::profile::ClusterProvider::Existing => "existing",
        crate::model::profile::ClusterProvider::Eks => "eks",
    }
}

/// What every part of the planner reads.
struct Ctx<'a> {
    spec: &'a crate::model::spec::NexusAICapabilitySpec,
    profile: &'a Profile,
    names: &'a Names,
    /// Images nexus-dev built for components, by component (from the capability's annotations).
    built_images: std::collections::BTreeMap<String, String>,
    /// Components whose image the project builds and has not built yet ([`AWAITING_BUILD_ANNOTATION`]).
    awaiting_builds: std::collections::BTreeSet<String>,
}

/// Annotation prefix under which a project's daemon marks a component whose image it is about
/// to build (`nexus.ai/awaiting-build.backend: api`, the project's component). Until the image
/// is pinned, the workload runs no pods: the spec's image is a placeholder nobody pushed, and
/// its pods would only fail to pull.
pub const AWAITING_BUILD_ANNOTATION: &str = "nexus.ai/awaiting-build.";

/// The workloads of a capability that await their first build, by component.
pub fn awaiting_builds(cr: &NexusAICapability) -> std::collections::BTreeSet<String> {
    cr.metadata
        .annotations
        .iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix(AWAITING_BUILD_ANNOTATION))
        .filter(|c| matches!(*c, "backend" | "frontend"))
        .map(str::to_owned)
        .collect()
}

/// Annotation prefix under which the image nexus-dev built for a component is recorded, by
/// digest: `nexus.ai/built-image.backend: localhost:5001/api@sha256:…`.
pub const BUILT_IMAGE_ANNOTATION: &str = "nexus.ai/built-image.";

/// The built images recorded on a capability, by component.
pub fn built_images(cr: &NexusAICapability) -> std::collections::BTreeMap<String, String> {
    cr.metadata
        .annotations
        .iter()
        .flatten()
        .filter_map(|(k, v)| k.strip_prefix(BUILT_IMAGE_ANNOTATION).map(|c| (c.to_owned(), v.clone())))
        .filter(|(c, v)| {
            matches!(c.as_str(), "backend" | "frontend") && crate::input::validate::image_reference(v).is_ok()
        })
        .collect()
}

/// The ARN partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

impl Ctx<'_> {
    fn account(&self) -> &str {
        &self.profile.aws.account
    }

    fn region(&self) -> &str {
        &self.spec.region
    }

    /// ARN partition of the spec's region.
    fn partition(&self) -> &'static str {
        partition(self.region())
    }

    fn role_arn(&self) -> String {
        format!("arn:{}:iam::{}:role/{}", self.partition(), self.account(), self.names.app_role())
    }

    /// Tags every AWS resource carries, so that nexus-dev (and people) can tell what it owns.
    fn tags(&self) -> std::collections::BTreeMap<String, String> {
        crate::model::ownership::Owner::new(&self.spec.capability_name, &self.spec.environment).tags()
    }
}

#[cfg(test)]
mod tests;
