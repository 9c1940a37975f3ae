//! `scan` (seed 000's `scan`, issue 19): whether a cluster has what capabilities need, each
//! problem with its exact fix. The same shape as `env::preflight`: `gather` collects the facts
//! (I/O), `evaluate` turns them into [`Check`]s (pure, tested here without a cluster). A failed
//! check blocks: `scan` exits non-zero.

mod gather;

pub use gather::gather;

use serde::Serialize;

use crate::env::preflight::{Check, Status};
use crate::model::profile::{ClusterProvider, Profile};

/// Where the operator runs when it is installed (`nexus-dev operator install`).
pub const OPERATOR_NAMESPACE: &str = "nexus-system";
pub const OPERATOR_DEPLOYMENT: &str = "nexus-operator";

/// What a user must be allowed to create for `apply` and the operator's install: the CRD, the
/// capability's namespace and workloads, and the custom resource itself (`group`, `resource`).
pub const NEEDED_ACCESS: [(&str, &str); 6] = [
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("", "namespaces"),
    ("apps", "deployments"),
    ("", "services"),
    ("networking.k8s.io", "ingresses"),
    ("nexus.ai", "nexuscapabilities"),
];

/// What `scan` found (`scan -o json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub profile: String,
    /// Nothing blocks.
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// Everything `evaluate` needs to know about the cluster and the AWS account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// `Err`: the API server does not answer (why); nothing else of the cluster is known then.
    pub cluster: Result<ClusterFacts, String>,
    pub issuer: IssuerFact,
    /// `None`: the profile names no registry.
    pub registry: Option<RegistryFact>,
    pub identity: Result<Identity, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFacts {
    /// The kubeconfig context used (`None`: the current one).
    pub context: Option<String>,
    /// The API server's `gitVersion`.
    pub version: String,
    /// Each node's name and whether it is Ready.
    pub nodes: Result<Vec<(String, bool)>, String>,
    /// Names of the cluster's IngressClasses.
    pub ingress_classes: Result<Vec<String>, String>,
    /// `Ok(None)`: not installed.
    pub operator: Result<Option<Operator>, String>,
    /// One answer per [`NEEDED_ACCESS`] entry.
    pub access: Vec<Access>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    pub image: String,
    /// Its `app.kubernetes.io/version` label, else the image's tag.
    pub version: Option<String>,
    pub replicas: i32,
    pub ready: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub group: String,
    pub resource: String,
    /// The SelfSubjectAccessReview's answer (`Err`: it could not be asked).
    pub allowed: Result<bool, String>,
}

impl Access {
    /// `deployments.apps`, as `kubectl auth can-i` takes it.
    pub fn qualified(&self) -> String {
        match self.group.as_str() {
            "" => self.resource.clone(),
            g => format!("{}.{g}", self.resource),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerFact {
    /// The profile names none and there is no EKS cluster to ask.
    Unset,
    /// EKS DescribeCluster failed.
    Unknown(String),
    Known {
        url: String,
        /// Where it came from: `irsa.issuer` or `EKS DescribeCluster`.
        from: String,
        /// Whether IAM has an OIDC provider for it (ListOpenIDConnectProviders).
        provider: Result<bool, String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryFact {
    /// A registry answering `GET /v2/` (kind, existing clusters): the HTTP status, or why not.
    Local { host: String, answer: Result<u16, String> },
    /// ECR (EKS profiles): GetAuthorizationToken with the caller's credentials.
    Ecr { host: String, answer: Result<(), String> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// Scans `profile`'s cluster and AWS account.
pub async fn scan(profile: &Profile) -> Report {
    let facts = gather(profile).await;
    let checks = evaluate(profile, &facts);
    Report { profile: profile.name.clone(), ok: !crate::env::preflight::blocks_up(&checks), checks }
}

/// The checks for `profile` from `facts`, in the order `scan` prints them.
pub fn evaluate(profile: &Profile, facts: &Facts) -> Vec<Check> {
    let mut checks = Vec::new();
    match &facts.cluster {
        Ok(c) => {
            let context = c.context.as_deref().unwrap_or("the current context");
            checks.push(Check::new("kubernetes api", Status::Ok, format!("{} ({context})", c.version)));
            checks.push(nodes(&c.nodes));
        }
        Err(why) => checks.push(
            Check::new("kubernetes api", Status::Fail, format!("does not answer: {why}"))
                .fix(api_fix(profile))
                .blocking(),
        ),
    }
    checks.push(issuer(profile, &facts.issuer));
    if let Ok(c) = &facts.cluster {
        checks.push(ingress_class(profile, &c.ingress_classes));
    }
    if let Some(r) = &facts.registry {
        checks.push(registry(r));
    }
    checks.push(identity(profile, &facts.identity));
    if let Ok(c) = &facts.cluster {
        checks.push(operator(&c.operator));
        checks.push(access(&c.access));
    }
    checks
}

fn api_fix(profile: &Profile) -> String {
    match profile.cluster.provider {
        ClusterProvider::Kind => "`nexus-dev up` creates the KinD cluster; or check `kubectl cluster-info`".into(),
        ClusterProvider::Existing => format!(
            "check the profile's cluster.kubeconfig and cluster.context ({}); `kubectl cluster-info` must work",
            profile.cluster.context.as_deref().unwrap_or("the current context")
        ),
        ClusterProvider::Eks => format!(
            "`aws eks update-kubeconfig --name {}` and check the credentials (`aws sts get-caller-identity`)",
            profile.cluster.name.as_deref().unwrap_or("CLUSTER")
        ),
    }
}

fn nodes(nodes: &Result<Vec<(String, bool)>, String>) -> Check {
    let nodes = match nodes {
        Ok(n) => n,
        Err(why) => return Check::new("nodes", Status::Warn, format!("cannot list them: {why}")),
    };
    let ready = nodes.iter().filter(|(_, r)| *r).count();
    let not_ready: Vec<&str> = nodes.iter().filter(|(_, r)| !r).map(|(n, _)| n.as_str()).collect();
    let detail = format!("{ready}/{} Ready", nodes.len());
    match (ready, not_ready.as_slice()) {
        (0, _) => Check::new("nodes", Status::Fail, format!("{detail}: no workload can be scheduled"))
            .fix("add nodes, or see why they are not Ready: `kubectl describe nodes`")
            .blocking(),
        (_, []) => Check::new("nodes", Status::Ok, detail),
        (_, names) => Check::new("nodes", Status::Warn, format!("{detail}; not Ready: {}", names.join(", ")))
            .fix(format!("`kubectl describe node {}`", names[0])),
    }
}

fn issuer(profile: &Profile, fact: &IssuerFact) -> Check {
    const NAME: &str = "oidc issuer";
    match fact {
        IssuerFact::Unset => Check::new(NAME, Status::Warn, "the profile names no irsa.issuer: pods get no IAM role")
            .fix("set irsa.issuer in the profile to `kubectl get --raw /.well-known/openid-configuration | jq -r .issuer`"),
        IssuerFact::Unknown(why) => Check::new(NAME, Status::Fail, format!("EKS DescribeCluster failed: {why}"))
            .fix("check cluster.name and the region of the profile, or set irsa.issuer")
            .blocking(),
        IssuerFact::Known { url, from, provider } => {
            let host = crate::provision::aws::iam::issuer_host_path(url);
            match provider {
                Ok(true) => Check::new(NAME, Status::Ok, format!("{url} (from {from}), IAM OIDC provider registered")),
                Ok(false) if profile.irsa.register_oidc_provider => Check::new(
                    NAME,
                    Status::Ok,
                    format!("{url} (from {from}); no IAM OIDC provider yet: `apply` registers it (irsa.registerOidcProvider)"),
                ),
                Ok(false) => Check::new(
                    NAME,
                    Status::Fail,
                    format!("{url} (from {from}) has no IAM OIDC provider: pods cannot assume their roles"),
                )
                .fix(format!(
                    "`eksctl utils associate-iam-oidc-provider --cluster {} --approve`, or `aws iam create-open-id-connect-provider --url https://{host} --client-id-list sts.amazonaws.com`, or set irsa.registerOidcProvider: true",
                    profile.cluster.name.as_deref().unwrap_or("CLUSTER")
                ))
                .blocking(),
                Err(why) => Check::new(NAME, Status::Warn, format!("{url} (from {from}); cannot list IAM OIDC providers: {why}"))
                    .fix("allow iam:ListOpenIDConnectProviders to the caller"),
            }
        }
    }
}

/// A missing class is a warning: capabilities still reach Running, only their ingress URL does
/// not answer until a controller serves the class.
fn ingress_class(profile: &Profile, classes: &Result<Vec<String>, String>) -> Check {
    let want = &profile.ingress.class;
    let name = "ingress class";
    let classes = match classes {
        Ok(c) => c,
        Err(why) => return Check::new(name, Status::Warn, format!("cannot list IngressClasses: {why}")),
    };
    if classes.iter().any(|c| c == want) {
        return Check::new(name, Status::Ok, format!("{want} exists"));
    }
    let found = if classes.is_empty() { "none".to_owned() } else { classes.join(", ") };
    let fix = match want.as_str() {
        "alb" => "install the AWS Load Balancer Controller: `helm install aws-load-balancer-controller eks/aws-load-balancer-controller -n kube-system --set clusterName=CLUSTER` (https://kubernetes-sigs.github.io/aws-load-balancer-controller/)".to_owned(),
        "nginx" => "install ingress-nginx: `kubectl apply -f https://raw.githubusercontent.com/kubernetes/ingress-nginx/main/deploy/static/provider/kind/deploy.yaml`".to_owned(),
        other if classes.is_empty() => format!("install the ingress controller of class {other}"),
        other => format!("install the ingress controller of class {other}, or set ingress.class in the profile to one of: {found}"),
    };
    Check::new(
        name,
        Status::Warn,
        format!("IngressClass {want} (the profile's ingress.class) does not exist (the cluster has: {found}); ingress URLs will not answer"),
    )
    .fix(fix)
}

fn registry(fact: &RegistryFact) -> Check {
    let name = "registry";
    match fact {
        RegistryFact::Local { host, answer: Ok(code) } if *code == 200 || *code == 401 => {
            Check::new(name, Status::Ok, format!("{host} answers GET /v2/ ({code})"))
        }
        RegistryFact::Local { host, answer } => {
            let got = match answer {
                Ok(code) => format!("answers GET /v2/ with {code}"),
                Err(why) => format!("does not answer: {why}"),
            };
            Check::new(name, Status::Fail, format!("{host} (the profile's registry.host) {got}"))
                .fix("`nexus-dev up` starts the local registry; or correct registry.host in the profile")
                .blocking()
        }
        RegistryFact::Ecr { host, answer: Ok(()) } => {
            Check::new(name, Status::Ok, format!("{host}: ECR GetAuthorizationToken works"))
        }
        RegistryFact::Ecr { host, answer: Err(why) } => {
            Check::new(name, Status::Fail, format!("{host}: ECR GetAuthorizationToken failed: {why}"))
                .fix("allow ecr:GetAuthorizationToken (and the repositories' pull/push) to the caller; `aws ecr get-login-password` must work")
                .blocking()
        }
    }
}

fn identity(profile: &Profile, identity: &Result<Identity, String>) -> Check {
    let name = "aws identity";
    let want = &profile.aws.account;
    match identity {
        Ok(me) if &me.account == want => {
            Check::new(name, Status::Ok, format!("{} (account {want})", me.arn))
        }
        Ok(me) => Check::new(
            name,
            Status::Fail,
            format!(
                "the credentials are of account {} ({}), the profile's aws.account is {want}",
                me.account, me.arn
            ),
        )
        .fix(format!(
            "use credentials of account {want} (AWS_PROFILE, or aws.credentialsProfile in the profile), or set aws.account: \"{}\" in the profile",
            me.account
        ))
        .blocking(),
        Err(why) => Check::new(name, Status::Fail, format!("STS GetCallerIdentity failed: {why}"))
            .fix(if profile.is_emulated() {
                "start the emulator (`nexus-dev up`) or correct aws.endpoint in the profile"
            } else {
                "configure AWS credentials (AWS_PROFILE or aws.credentialsProfile); `aws sts get-caller-identity` must work"
            })
            .blocking(),
    }
}

fn operator(fact: &Result<Option<Operator>, String>) -> Check {
    let name = "operator";
    let at = format!("Deployment {OPERATOR_DEPLOYMENT} in {OPERATOR_NAMESPACE}");
    match fact {
        Ok(None) => Check::new(name, Status::Warn, format!("not installed ({at} not found)"))
            .fix("`nexus-dev operator install`"),
        Ok(Some(op)) => {
            let version = op.version.as_deref().unwrap_or("unknown version");
            let detail = format!("{version} ({}), {}/{} ready", op.image, op.ready, op.replicas);
            if op.ready >= op.replicas && op.replicas > 0 {
                Check::new(name, Status::Ok, detail)
            } else {
                Check::new(name, Status::Warn, format!("{detail}: not healthy")).fix(format!(
                    "`kubectl -n {OPERATOR_NAMESPACE} describe deployment {OPERATOR_DEPLOYMENT}` and its pods' logs"
                ))
            }
        }
        Err(why) => Check::new(name, Status::Warn, format!("cannot read {at}: {why}")),
    }
}

fn access(answers: &[Access]) -> Check {
    let name = "permissions";
    let denied: Vec<&Access> = answers.iter().filter(|a| a.allowed == Ok(false)).collect();
    let unknown: Vec<String> =
        answers.iter().filter_map(|a| a.allowed.as_ref().err().map(|e| format!("{}: {e}", a.qualified()))).collect();
    let all: Vec<String> = answers.iter().map(|a| a.resource.clone()).collect();
    if !denied.is_empty() {
        let names: Vec<String> = denied.iter().map(|a| a.qualified()).collect();
        return Check::new(name, Status::Fail, format!("may not create {}", names.join(", ")))
            .fix(format!(
                "ask the cluster's admin for a role allowing create on {} (check with `kubectl auth can-i create {}`)",
                names.join(", "),
                names[0]
            ))
            .blocking();
    }
    if !unknown.is_empty() {
        return Check::new(name, Status::Warn, format!("cannot ask (SelfSubjectAccessReview): {}", unknown.join("; ")));
    }
    Check::new(name, Status::Ok, format!("may create {}", all.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        crate::input::profile::built_in(name).unwrap()
    }

    /// A healthy cluster and account for `local-moto`.
    fn healthy() -> Facts {
        Facts {
            cluster: Ok(ClusterFacts {
                context: Some("kind-nexus-dev".into()),
                version: "v1.34.0".into(),
                nodes: Ok(vec![("a".into(), true), ("b".into(), true)]),
                ingress_classes: Ok(vec!["nginx".into()]),
                operator: Ok(Some(Operator {
                    image: "localhost:5001/nexus-dev:0.4.0".into(),
                    version: Some("0.4.0".into()),
                    replicas: 1,
                    ready: 1,
                })),
                access: NEEDED_ACCESS
                    .iter()
                    .map(|(g, r)| Access { group: (*g).into(), resource: (*r).into(), allowed: Ok(true) })
                    .collect(),
            }),
            issuer: IssuerFact::Known {
                url: "https://kubernetes.default.svc.cluster.local".into(),
                from: "irsa.issuer".into(),
                provider: Ok(true),
            },
            registry: Some(RegistryFact::Local { host: "localhost:5001".into(), answer: Ok(200) }),
            identity: Ok(Identity { account: "123456789012".into(), arn: "arn:aws:iam::123456789012:user/me".into() }),
        }
    }

    fn named<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check {name}: {checks:#?}"))
    }

    fn cluster(f: &mut Facts) -> &mut ClusterFacts {
        f.cluster.as_mut().unwrap()
    }

    #[test]
    fn a_healthy_cluster_is_all_ok_in_order() {
        let checks = evaluate(&profile("local-moto"), &healthy());
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "kubernetes api",
                "nodes",
                "oidc issuer",
                "ingress class",
                "registry",
                "aws identity",
                "operator",
                "permissions"
            ]
        );
        assert!(checks.iter().all(|c| c.status == Status::Ok && c.fix.is_none()), "{checks:#?}");
        assert_eq!(named(&checks, "nodes").detail, "2/2 Ready");
        assert_eq!(named(&checks, "operator").detail, "0.4.0 (localhost:5001/nexus-dev:0.4.0), 1/1 ready");
        assert!(named(&checks, "kubernetes api").detail.contains("v1.34.0 (kind-nexus-dev)"));
    }

    #[test]
    fn an_unreachable_api_server_is_one_failure_and_no_cluster_checks() {
        let mut f = healthy();
        f.cluster = Err("connection refused".into());
        let checks = evaluate(&profile("local-moto"), &f);
        let api = named(&checks, "kubernetes api");
        assert_eq!(api.status, Status::Fail);
        assert!(api.blocks() && api.fix.as_deref().unwrap().contains("nexus-dev up"));
        assert!(
            checks.iter().all(|c| !["nodes", "ingress class", "operator", "permissions"].contains(&c.name.as_str()))
        );
        // What does not need the cluster is still checked.
        assert_eq!(named(&checks, "aws identity").status, Status::Ok);
    }

    #[test]
    fn nodes_none_ready_fails_some_not_ready_warns() {
        let mut f = healthy();
        cluster(&mut f).nodes = Ok(vec![("a".into(), true), ("b".into(), false)]);
        let c = named(&evaluate(&profile("local-moto"), &f), "nodes").clone();
        assert_eq!((c.status, c.detail.as_str()), (Status::Warn, "1/2 Ready; not Ready: b"));
        assert_eq!(c.fix.as_deref(), Some("`kubectl describe node b`"));
        cluster(&mut f).nodes = Ok(vec![("b".into(), false)]);
        assert!(named(&evaluate(&profile("local-moto"), &f), "nodes").blocks());
        cluster(&mut f).nodes = Ok(vec![]);
        assert!(named(&evaluate(&profile("local-moto"), &f), "nodes").blocks());
    }

    #[test]
    fn a_wrong_account_fails_naming_both_accounts() {
        let mut f = healthy();
        f.identity = Ok(Identity { account: "999999999999".into(), arn: "arn:aws:iam::999999999999:user/x".into() });
        let c = named(&evaluate(&profile("local-moto"), &f), "aws identity").clone();
        assert!(c.blocks());
        assert!(c.detail.contains("999999999999") && c.detail.contains("aws.account is 123456789012"), "{}", c.detail);
        assert!(c.fix.unwrap().contains("use credentials of account 123456789012"));
        f.identity = Err("connection refused".into());
        let c = named(&evaluate(&profile("local-moto"), &f), "aws identity").clone();
        assert!(c.blocks() && c.fix.unwrap().contains("start the emulator"));
        let c = named(&evaluate(&profile("eks-staging"), &f), "aws identity").clone();
        assert!(c.fix.unwrap().contains("aws sts get-caller-identity"));
    }

    #[test]
    fn a_missing_ingress_class_warns_with_how_to_install_its_controller() {
        let mut f = healthy();
        cluster(&mut f).ingress_classes = Ok(vec![]);
        let c = named(&evaluate(&profile("local-moto"), &f), "ingress class").clone();
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("IngressClass nginx") && c.detail.contains("has: none"), "{}", c.detail);
        assert!(c.fix.unwrap().contains("ingress-nginx"));
        let c = named(&evaluate(&profile("eks-staging"), &f), "ingress class").clone();
        assert!(c.fix.unwrap().contains("aws-load-balancer-controller"));
        let mut p = profile("local-moto");
        p.ingress.class = "traefik".into();
        cluster(&mut f).ingress_classes = Ok(vec!["nginx".into()]);
        let c = named(&evaluate(&p, &f), "ingress class").clone();
        assert!(c.fix.unwrap().contains("set ingress.class in the profile to one of: nginx"));
    }

    #[test]
    fn the_oidc_provider_missing_fails_only_when_nobody_registers_it() {
        let mut f = healthy();
        let known = |provider| IssuerFact::Known {
            url: "https://oidc.eks.ap-southeast-1.amazonaws.com/id/ABC".into(),
            from: "EKS DescribeCluster".into(),
            provider,
        };
        f.issuer = known(Ok(false));
        let c = named(&evaluate(&profile("local-moto"), &f), "oidc issuer").clone();
        assert_eq!(c.status, Status::Ok, "local profiles register it: {}", c.detail);
        let c = named(&evaluate(&profile("eks-staging"), &f), "oidc issuer").clone();
        assert!(c.blocks());
        let fix = c.fix.unwrap();
        assert!(
            fix.contains("--cluster nexus-staging")
                && fix.contains("--url https://oidc.eks.ap-southeast-1.amazonaws.com/id/ABC"),
            "{fix}"
        );
        f.issuer = known(Err("AccessDenied".into()));
        assert_eq!(named(&evaluate(&profile("eks-staging"), &f), "oidc issuer").status, Status::Warn);
        f.issuer = IssuerFact::Unset;
        let c = named(&evaluate(&profile("local-moto"), &f), "oidc issuer").clone();
        assert!(c.status == Status::Warn && c.fix.unwrap().contains("irsa.issuer"));
        f.issuer = IssuerFact::Unknown("ResourceNotFoundException".into());
        assert!(named(&evaluate(&profile("eks-staging"), &f), "oidc issuer").blocks());
    }

    #[test]
    fn registry_answers_or_fails_with_its_fix() {
        let mut f = healthy();
        f.registry = Some(RegistryFact::Local { host: "localhost:5001".into(), answer: Err("refused".into()) });
        let c = named(&evaluate(&profile("local-moto"), &f), "registry").clone();
        assert!(c.blocks() && c.detail.contains("localhost:5001") && c.fix.unwrap().contains("nexus-dev up"));
        f.registry = Some(RegistryFact::Local { host: "localhost:5001".into(), answer: Ok(404) });
        assert!(named(&evaluate(&profile("local-moto"), &f), "registry").detail.contains("with 404"));
        f.registry = Some(RegistryFact::Ecr { host: "x.dkr.ecr".into(), answer: Err("AccessDenied".into()) });
        let c = named(&evaluate(&profile("eks-staging"), &f), "registry").clone();
        assert!(c.blocks() && c.fix.unwrap().contains("ecr:GetAuthorizationToken"));
        f.registry = None;
        assert!(evaluate(&profile("local-moto"), &f).iter().all(|c| c.name != "registry"));
    }

    #[test]
    fn the_operator_absent_or_unhealthy_warns() {
        let mut f = healthy();
        cluster(&mut f).operator = Ok(None);
        let c = named(&evaluate(&profile("local-moto"), &f), "operator").clone();
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.starts_with("not installed") && c.fix.as_deref() == Some("`nexus-dev operator install`"));
        cluster(&mut f).operator =
            Ok(Some(Operator { image: "op:1".into(), version: Some("1".into()), replicas: 2, ready: 1 }));
        let c = named(&evaluate(&profile("local-moto"), &f), "operator").clone();
        assert_eq!((c.status, c.detail.as_str()), (Status::Warn, "1 (op:1), 1/2 ready: not healthy"));
    }

    #[test]
    fn denied_permissions_fail_naming_each_resource() {
        let mut f = healthy();
        for a in &mut cluster(&mut f).access {
            if ["customresourcedefinitions", "ingresses"].contains(&a.resource.as_str()) {
                a.allowed = Ok(false);
            }
        }
        let c = named(&evaluate(&profile("local-moto"), &f), "permissions").clone();
        assert!(c.blocks());
        assert_eq!(
            c.detail,
            "may not create customresourcedefinitions.apiextensions.k8s.io, ingresses.networking.k8s.io"
        );
        assert!(c.fix.unwrap().contains("kubectl auth can-i create customresourcedefinitions.apiextensions.k8s.io"));
        cluster(&mut f).access[0].allowed = Err("forbidden".into());
        cluster(&mut f).access[4].allowed = Ok(true);
        let c = named(&evaluate(&profile("local-moto"), &f), "permissions").clone();
        assert_eq!(c.status, Status::Warn);
    }
}
