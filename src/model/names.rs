//! Every name a capability gets, derived only from its spec (DESIGN.md §4, the seed's naming
//! table in 000). Nothing else in the code builds a resource name.

use crate::model::spec::NexusAICapabilitySpec;

/// The purposes of the DynamoDB tables (seed 000, reconcile step 1).
pub const TABLE_PURPOSES: [&str; 3] = ["transformation-system", "license", "wxcc-task-tracking"];
/// The purposes of the S3 buckets (seed 000, reconcile step 2).
pub const BUCKET_PURPOSES: [&str; 4] = ["call-data", "wxcc-simulator", "journey-logs", "journey-reports"];
/// The secrets' types (seed 000, reconcile step 5).
pub const SECRET_TYPES: [&str; 6] = ["api-keys", "wxcc", "openai", "license", "anthropic", "github"];
/// Cognito groups created with the user pool ("sets up RBAC groups", seed 001).
pub const COGNITO_GROUPS: [&str; 3] = ["admins", "developers", "viewers"];

/// Names of one capability, computed once from `capabilityName` and `environment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    cap: String,
    env: String,
}

impl Names {
    pub fn new(capability: &str, environment: &str) -> Self {
        Self { cap: capability.to_owned(), env: environment.to_owned() }
    }

    pub fn of(spec: &NexusAICapabilitySpec) -> Self {
        Self::new(&spec.capability_name, &spec.environment)
    }

    pub fn capability(&self) -> &str {
        &self.cap
    }

    pub fn environment(&self) -> &str {
        &self.env
    }

    /// `{cap}-{env}`: the namespace, and the stem of most names.
    pub fn stem(&self) -> String {
        format!("{}-{}", self.cap, self.env)
    }

    pub fn table(&self, purpose: &str) -> String {
        format!("{}-{purpose}", self.stem())
    }

    pub fn tables(&self) -> Vec<String> {
        TABLE_PURPOSES.iter().map(|p| self.table(p)).collect()
    }

    pub fn bucket(&self, purpose: &str) -> String {
        format!("{}-{purpose}", self.stem())
    }

    pub fn buckets(&self) -> Vec<String> {
        BUCKET_PURPOSES.iter().map(|p| self.bucket(p)).collect()
    }

    /// Glue names cannot hold hyphens; they become underscores (seed 000).
    fn glue_stem(&self) -> String {
        self.stem().replace('-', "_")
    }

    pub fn glue_database(&self) -> String {
        format!("{}_db", self.glue_stem())
    }

    pub fn glue_table(&self) -> String {
        format!("{}_call_records", self.glue_stem())
    }

    /// `/{cap}/{env}`, the prefix of every SSM parameter.
    pub fn ssm_prefix(&self) -> String {
        format!("/{}/{}", self.cap, self.env)
    }

    pub fn ssm_parameter(&self, category: &str, key: &str) -> String {
        format!("{}/{category}/{key}", self.ssm_prefix())
    }

    pub fn secret(&self, kind: &str) -> String {
        format!("{}/{}/{kind}", self.cap, self.env)
    }

    pub fn secrets(&self) -> Vec<String> {
        SECRET_TYPES.iter().map(|t| self.secret(t)).collect()
    }

    pub fn app_role(&self) -> String {
        format!("{}-app-role", self.stem())
    }

    /// The app role's inline policy.
    pub fn app_policy(&self) -> String {
        format!("{}-app-access", self.stem())
    }

    pub fn namespace(&self) -> String {
        self.stem()
    }

    pub fn service_account(&self) -> String {
        format!("{}-app-sa", self.stem())
    }

    pub fn deployment(&self, component: &str) -> String {
        format!("{}-{component}", self.stem())
    }

    pub fn service(&self, component: &str) -> String {
        format!("{}-{component}-svc", self.stem())
    }

    pub fn internal_service(&self, component: &str) -> String {
        format!("{}-{component}-svc-internal", self.stem())
    }

    pub fn ingress(&self) -> String {
        format!("{}-app-ingress", self.stem())
    }

    /// The Kubernetes Secret holding the capability's Secrets Manager values for its pods.
    pub fn pod_secret(&self) -> String {
        format!("{}-secrets", self.stem())
    }

    pub fn autoscaler(&self, component: &str) -> String {
        format!("{}-{component}-hpa", self.stem())
    }

    pub fn disruption_budget(&self, component: &str) -> String {
        format!("{}-{component}-pdb", self.stem())
    }

    /// The namespace's deny-everything NetworkPolicy.
    pub fn deny_policy(&self) -> String {
        format!("{}-default-deny", self.stem())
    }

    /// The NetworkPolicy that lets the capability's own traffic through the deny.
    pub fn allow_policy(&self) -> String {
        format!("{}-allow-app", self.stem())
    }

    pub fn user_pool(&self) -> String {
        format!("{}-user-pool", self.stem())
    }

    pub fn user_pool_client(&self) -> String {
        format!("{}-app-client", self.stem())
    }

    /// Cognito domain prefix. AWS forbids "aws", "amazon" and "cognito" in it; validation checks.
    pub fn user_pool_domain(&self) -> String {
        format!("{}-auth", self.stem())
    }

    /// Value of the `sub` claim the IRSA trust policy accepts.
    pub fn irsa_subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace(), self.service_account())
    }

    /// Every derived name with the rule it must obey, for validation before anything is made.
    pub fn constrained(&self) -> Vec<Constrained> {
        use NameRule::*;
        let mut out = Vec::new();
        let mut add =
            |resource: &'static str, name: String, rule: NameRule| out.push(Constrained { resource, name, rule });
        add("Kubernetes Namespace", self.namespace(), DnsLabel);
        add("Kubernetes ServiceAccount", self.service_account(), DnsSubdomain);
        for c in ["backend", "frontend"] {
            add("Kubernetes Deployment", self.deployment(c), DnsLabel);
            add("Kubernetes Service", self.service(c), DnsLabel);
        }
        add("Kubernetes Service", self.internal_service("backend"), DnsLabel);
        add("Kubernetes Ingress", self.ingress(), DnsSubdomain);
        for t in self.tables() {
            add("DynamoDB table", t, DynamoTable);
        }
        for b in self.buckets() {
            add("S3 bucket", b, S3Bucket);
        }
        add("Glue database", self.glue_database(), Glue);
        add("Glue table", self.glue_table(), Glue);
        add("IAM role", self.app_role(), IamRole);
        add("IAM inline policy", self.app_policy(), IamPolicy);
        for s in self.secrets() {
            add("Secrets Manager secret", s, Secret);
        }
        add("Cognito user pool", self.user_pool(), CognitoPool);
        add("Cognito app client", self.user_pool_client(), CognitoPool);
        add("Cognito domain", self.user_pool_domain(), CognitoDomain);
        out
    }
}

/// A derived name and the rule it must obey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constrained {
    pub resource: &'static str,
    pub name: String,
    pub rule: NameRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123/1035 label: at most 63 characters (namespaces, services, deployments' pods).
    DnsLabel,
    /// RFC 1123 subdomain: at most 253 characters.
    DnsSubdomain,
    DynamoTable,
    S3Bucket,
    Glue,
    IamRole,
    IamPolicy,
    Secret,
    CognitoPool,
    CognitoDomain,
}

impl NameRule {
    pub fn max_len(self) -> usize {
        match self {
            Self::DnsLabel | Self::S3Bucket | Self::CognitoDomain => 63,
            Self::DnsSubdomain => 253,
            Self::DynamoTable | Self::Glue => 255,
            Self::IamRole => 64,
            Self::IamPolicy | Self::CognitoPool => 128,
            Self::Secret => 512,
        }
    }

    /// A phrase naming the limit, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::DnsLabel => "Kubernetes names of this kind must be DNS labels of at most 63 characters",
            Self::DnsSubdomain => "Kubernetes names must be DNS subdomains of at most 253 characters",
            Self::DynamoTable => "DynamoDB table names are 3 to 255 characters",
            Self::S3Bucket => "S3 bucket names are 3 to 63 characters",
            Self::Glue => "Glue names are at most 255 characters",
            Self::IamRole => "IAM role names are at most 64 characters",
            Self::IamPolicy => "IAM policy names are at most 128 characters",
            Self::Secret => "Secrets Manager names are at most 512 characters",
            Self::CognitoPool => "Cognito user pool and client names are at most 128 characters",
            Self::CognitoDomain => "Cognito domain prefixes are at most 63 characters",
        }
    }

    /// Checks what capability and environment names cannot already guarantee: length, and the
    /// words and prefixes AWS reserves.
    pub fn check(self, name: &str) -> Result<(), String> {
        let len = name.chars().count();
        if len > self.max_len() {
            return Err(format!("is {len} characters long; {}", self.describe()));
        }
        match self {
            Self::S3Bucket => {
                for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
                    if name.starts_with(prefix) {
                        return Err(format!("starts with `{prefix}`, which S3 reserves"));
                    }
                }
                if name.contains("..") {
                    return Err("contains `..`, which S3 bucket names cannot".into());
                }
            }
            Self::CognitoDomain => {
                for word in ["aws", "amazon", "cognito"] {
                    if name.contains(word) {
                        return Err(format!("contains `{word}`, which Cognito does not allow in domain prefixes"));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod() -> Names {
        Names::new("nexus-ai", "prod")
    }

    #[test]
    fn seed_examples() {
        let n = prod();
        // The seed's naming table (000), row by row.
        assert_eq!(n.table("license"), "nexus-ai-prod-license");
        assert_eq!(n.bucket("call-data"), "nexus-ai-prod-call-data");
        assert_eq!(n.ssm_parameter("aws", "region"), "/nexus-ai/prod/aws/region");
        assert_eq!(n.secret("api-keys"), "nexus-ai/prod/api-keys");
        assert_eq!(n.app_role(), "nexus-ai-prod-app-role");
        assert_eq!(n.namespace(), "nexus-ai-prod");
        assert_eq!(n.deployment("backend"), "nexus-ai-prod-backend");
        assert_eq!(n.service("frontend"), "nexus-ai-prod-frontend-svc");
        assert_eq!(n.ingress(), "nexus-ai-prod-app-ingress");
        assert_eq!(n.service_account(), "nexus-ai-prod-app-sa");
        // The seed's Glue example is `call_processing_prod_db`: hyphens become underscores.
        assert_eq!(Names::new("call-processing", "prod").glue_database(), "call_processing_prod_db");
        assert_eq!(n.glue_table(), "nexus_ai_prod_call_records");
    }

    #[test]
    fn full_sets() {
        let n = prod();
        assert_eq!(
            n.tables(),
            ["nexus-ai-prod-transformation-system", "nexus-ai-prod-license", "nexus-ai-prod-wxcc-task-tracking"]
        );
        assert_eq!(
            n.buckets(),
            [
                "nexus-ai-prod-call-data",
                "nexus-ai-prod-wxcc-simulator",
                "nexus-ai-prod-journey-logs",
                "nexus-ai-prod-journey-reports"
            ]
        );
        assert_eq!(
            n.secrets(),
            [
                "nexus-ai/prod/api-keys",
                "nexus-ai/prod/wxcc",
                "nexus-ai/prod/openai",
                "nexus-ai/prod/license",
                "nexus-ai/prod/anthropic",
                "nexus-ai/prod/github"
            ]
        );
        assert_eq!(n.internal_service("backend"), "nexus-ai-prod-backend-svc-internal");
        assert_eq!(n.irsa_subject(), "system:serviceaccount:nexus-ai-prod:nexus-ai-prod-app-sa");
    }

    #[test]
    fn the_internal_service_is_the_binding_limit() {
        // 41 characters of capability + environment is the most that fits.
        let ok = Names::new(&"a".repeat(36), "stage");
        assert!(ok.constrained().iter().all(|c| c.rule.check(&c.name).is_ok()));
        let long = Names::new(&"a".repeat(37), "stage");
        let broken: Vec<_> = long.constrained().into_iter().filter(|c| c.rule.check(&c.name).is_err()).collect();
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert_eq!(broken[0].resource, "Kubernetes Service");
        assert!(broken[0].name.ends_with("-backend-svc-internal"));
    }

    #[test]
    fn reserved_words_are_caught() {
        assert!(NameRule::CognitoDomain.check("my-aws-app-dev-auth").is_err());
        assert!(NameRule::S3Bucket.check("xn--abc-dev-call-data").is_err());
        assert!(NameRule::S3Bucket.check("sthree-dev-call-data").is_err());
        assert!(NameRule::S3Bucket.check("fine-dev-call-data").is_ok());
    }
}
