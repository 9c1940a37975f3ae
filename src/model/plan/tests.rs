use std::collections::HashSet;

use kube::ResourceExt;

use super::*;
use crate::input::examples::{self, loaded as example, profile};
use crate::input::profile::BUILT_IN;

fn names_of(plan: &Plan, kind: Kind) -> Vec<&str> {
    plan.of_kind(kind).map(|r| r.name.as_str()).collect()
}

#[test]
fn complete_example_has_every_resource_with_the_seed_names() {
    let plan = build(&example("nexus-ai-complete.yaml").cr, &profile("local"));
    assert_eq!(
        names_of(&plan, Kind::DynamoTable),
        ["nexus-ai-prod-transformation-system", "nexus-ai-prod-license", "nexus-ai-prod-wxcc-task-tracking"]
    );
    assert_eq!(
        names_of(&plan, Kind::S3Bucket),
        [
            "nexus-ai-prod-call-data",
            "nexus-ai-prod-wxcc-simulator",
            "nexus-ai-prod-journey-logs",
            "nexus-ai-prod-journey-reports"
        ]
    );
    assert_eq!(names_of(&plan, Kind::GlueDatabase), ["nexus_ai_prod_db"]);
    assert_eq!(names_of(&plan, Kind::GlueTable), ["nexus_ai_prod_call_records"]);
    assert_eq!(
        names_of(&plan, Kind::Secret),
        [
            "nexus-ai/prod/api-keys",
            "nexus-ai/prod/wxcc",
            "nexus-ai/prod/openai",
            "nexus-ai/prod/license",
            "nexus-ai/prod/anthropic",
            "nexus-ai/prod/github"
        ]
    );
    assert_eq!(names_of(&plan, Kind::IamRole), ["nexus-ai-prod-app-role"]);
    assert_eq!(names_of(&plan, Kind::Namespace), ["nexus-ai-prod"]);
    assert_eq!(names_of(&plan, Kind::ServiceAccount), ["nexus-ai-prod-app-sa"]);
    assert_eq!(names_of(&plan, Kind::Deployment), ["nexus-ai-prod-backend", "nexus-ai-prod-frontend"]);
    assert_eq!(
        names_of(&plan, Kind::Service),
        ["nexus-ai-prod-backend-svc", "nexus-ai-prod-backend-svc-internal", "nexus-ai-prod-frontend-svc"]
    );
    assert_eq!(names_of(&plan, Kind::Ingress), ["nexus-ai-prod-app-ingress"]);
    assert!(plan.get(Kind::SsmParameter, "/nexus-ai/prod/aws/region").is_some());
    assert!(plan.of_kind(Kind::SsmParameter).all(|r| r.name.starts_with("/nexus-ai/prod/")));
    assert_eq!(plan.of_kind(Kind::CognitoUserPool).count(), 0);
}

#[test]
fn settings_that_matter() {
    let plan = build(&example("nexus-ai-complete.yaml").cr, &profile("local"));
    let Settings::DynamoTable(t) = &plan.get(Kind::DynamoTable, "nexus-ai-prod-license").unwrap().settings else {
        panic!()
    };
    assert_eq!(t.billing_mode, "PAY_PER_REQUEST");
    assert_eq!((t.partition_key.name.as_str(), t.sort_key.name.as_str()), ("pk", "sk"));
    let Settings::S3Bucket(b) = &plan.get(Kind::S3Bucket, "nexus-ai-prod-call-data").unwrap().settings else {
        panic!()
    };
    assert!(b.versioning && b.block_public_access && b.encryption == "AES256" && b.region == "ap-southeast-1");
    let Settings::GlueTable(g) = &plan.get(Kind::GlueTable, "nexus_ai_prod_call_records").unwrap().settings else {
        panic!()
    };
    assert_eq!(g.location, "s3://nexus-ai-prod-call-data/call-records/");
    let Settings::IamRole(r) = &plan.get(Kind::IamRole, "nexus-ai-prod-app-role").unwrap().settings else { panic!() };
    assert_eq!(r.trust.subject, "system:serviceaccount:nexus-ai-prod:nexus-ai-prod-app-sa");
    assert_eq!(r.trust.audience, "sts.amazonaws.com");
    assert_eq!(r.arn, "arn:aws:iam::000000000000:role/nexus-ai-prod-app-role");
    for s in &r.statements {
        assert!(
            s.resources.iter().all(|res| res != "*" && !res.ends_with(":*") && res.contains(":000000000000:")
                || res.starts_with("arn:aws:s3:::nexus-ai-prod-")),
            "{s:?}"
        );
    }
    let Settings::Deployment(d) = &plan.get(Kind::Deployment, "nexus-ai-prod-backend").unwrap().settings else {
        panic!()
    };
    assert_eq!((d.replicas, d.port, d.image.as_str()), (3, 8000, "localhost:5001/ai-job-engine:latest"));
    assert!(d.aws_env.iter().any(|e| e.name == "AWS_ENDPOINT_URL" && e.value == "http://nexus-dev-aws:4566"));
    assert!(d.env.iter().any(|e| e.name == "DYNAMODB_TABLE_LICENSE" && e.value == "nexus-ai-prod-license"));
    assert!(d.env.iter().any(|e| e.name == "LOG_LEVEL"));
    assert!(
        d.security.run_as_non_root && d.security.read_only_root_filesystem && !d.security.allow_privilege_escalation
    );
    assert_eq!((d.max_surge, d.max_unavailable), (1, 0));
    assert_eq!(d.requests.cpu, "500m");
    let Settings::Ingress(i) = &plan.get(Kind::Ingress, "nexus-ai-prod-app-ingress").unwrap().settings else {
        panic!()
    };
    assert_eq!(i.paths[0].path, "/api");
    assert_eq!(i.paths[0].service, "nexus-ai-prod-backend-svc");
    assert_eq!(i.paths[1].path, "/");
    assert_eq!(i.paths[1].service, "nexus-ai-prod-frontend-svc");
}

#[test]
fn eks_profile_gets_alb_annotations_and_no_emulator() {
    let plan = build(&example("nexus-ai-complete.yaml").cr, &profile("eks-prod"));
    let Settings::Ingress(i) = &plan.get(Kind::Ingress, "nexus-ai-prod-app-ingress").unwrap().settings else {
        panic!()
    };
    assert_eq!(i.ingress_class_name, "alb");
    assert_eq!(i.annotations["alb.ingress.kubernetes.io/scheme"], "internet-facing");
    assert_eq!(i.annotations["alb.ingress.kubernetes.io/healthcheck-path"], "/health");
    assert!(i.annotations.contains_key("alb.ingress.kubernetes.io/certificate-arn"));
    let Settings::Deployment(d) = &plan.get(Kind::Deployment, "nexus-ai-prod-frontend").unwrap().settings else {
        panic!()
    };
    assert!(d.aws_env.is_empty());
    assert_eq!(plan.of_kind(Kind::IamOidcProvider).count(), 0);
    let Settings::IamRole(r) = &plan.get(Kind::IamRole, "nexus-ai-prod-app-role").unwrap().settings else { panic!() };
    assert_eq!(r.trust.issuer, "eks:nexus-prod");
}

#[test]
fn disabled_data_services_and_cognito_drop_out() {
    let mut cr = example("nexus-ai-complete.yaml").cr;
    cr.spec.data_services.dynamodb.enabled = false;
    cr.spec.data_services.glue.enabled = false;
    let plan = build(&cr, &profile("local"));
    assert_eq!(plan.of_kind(Kind::DynamoTable).count(), 0);
    assert_eq!(plan.of_kind(Kind::GlueDatabase).count() + plan.of_kind(Kind::GlueTable).count(), 0);
    assert_eq!(plan.of_kind(Kind::S3Bucket).count(), 4);
    assert!(plan.of_kind(Kind::SsmParameter).all(|r| !r.name.contains("/dynamodb/") && !r.name.contains("/glue/")));
    let Settings::IamRole(r) = &plan.get(Kind::IamRole, "nexus-ai-prod-app-role").unwrap().settings else { panic!() };
    assert!(r.statements.iter().all(|s| !s.sid.starts_with("DynamoDb") && !s.sid.starts_with("Glue")));
    assert_eq!(plan.aws_services(), ["iam", "s3", "secretsmanager", "ssm"]);

    let cognito = build(&example("with-cognito.yaml").cr, &profile("local"));
    assert_eq!(names_of(&cognito, Kind::CognitoUserPool), ["portal-staging-user-pool"]);
    assert_eq!(names_of(&cognito, Kind::CognitoUserPoolClient), ["portal-staging-app-client"]);
    assert_eq!(names_of(&cognito, Kind::CognitoUserPoolDomain), ["portal-staging-auth"]);
    assert_eq!(names_of(&cognito, Kind::CognitoGroup), ["admins", "developers", "viewers"]);
    let Settings::CognitoUserPoolClient(c) = &cognito.of_kind(Kind::CognitoUserPoolClient).next().unwrap().settings
    else {
        panic!()
    };
    assert!(!c.generate_secret);
    assert_eq!(c.oauth_flows, ["code"]);
    assert_eq!(c.callback_urls, ["http://portal.staging.acme.example/auth/callback"]);
    assert!(cognito.aws_services().contains(&"cognito-idp"));
}

#[test]
fn dependencies_exist_and_come_first() {
    for name in examples::names() {
        for (p, _) in BUILT_IN {
            let plan = build(&example(name).cr, &profile(p));
            let mut seen = HashSet::new();
            for r in &plan.resources {
                for d in &r.depends_on {
                    assert!(
                        seen.contains(d),
                        "{name}/{p}: {} depends on {d}, which is not earlier in the plan",
                        r.id()
                    );
                }
                assert!(seen.insert(r.id()), "{name}/{p}: duplicate id {}", r.id());
            }
            // Phases never go backwards.
            assert!(plan.resources.windows(2).all(|w| w[0].phase <= w[1].phase), "{name}/{p}: phases out of order");
        }
    }
}

#[test]
fn deterministic_and_secret_free() {
    let spec = example("with-cognito.yaml");
    let a = serde_json::to_string(&build(&spec.cr, &profile("local"))).unwrap();
    let b = serde_json::to_string(&build(&spec.cr, &profile("local"))).unwrap();
    assert_eq!(a, b);
    assert!(!a.contains("CHANGE_ME"), "placeholder values must not appear in plans");
}

#[test]
fn json_contract() {
    let plan = build(&example("nexus-ai-complete.yaml").cr, &profile("local"));
    let v = serde_json::to_value(&plan).unwrap();
    assert_eq!(v["capability"], "nexus-ai");
    assert_eq!(v["profile"], "local");
    let resources = v["resources"].as_array().unwrap();
    let kinds: HashSet<&str> = resources.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for k in [
        "dynamodb.table",
        "s3.bucket",
        "glue.database",
        "glue.table",
        "ssm.parameter",
        "secretsmanager.secret",
        "iam.role",
        "k8s.namespace",
        "k8s.serviceaccount",
        "k8s.deployment",
        "k8s.service",
        "k8s.ingress",
    ] {
        assert!(kinds.contains(k), "missing kind {k}");
    }
    for r in resources {
        for key in ["kind", "name", "phase", "dependsOn", "settings"] {
            assert!(r.get(key).is_some(), "resource without {key}: {r}");
        }
        assert!(r["settings"].is_object());
    }
}

#[test]
fn parity_between_local_and_eks_for_every_example() {
    for name in examples::names() {
        let cr = example(name).cr;
        let local = build(&cr, &profile("local"));
        for other in ["eks-prod", "eks-staging", "local-moto"] {
            let diff = parity::differences(&local, &build(&cr, &profile(other)));
            assert!(diff.is_empty(), "{name}: local vs {other}:\n{}", diff.join("\n"));
        }
    }
}

#[test]
fn scoped_differences_name_each_profile_scoped_field_that_differs() {
    let cr = example("minimal.yaml").cr;
    let local = build(&cr, &profile("local"));
    let eks = build(&cr, &profile("eks-staging"));
    let scoped = parity::scoped_differences(&local, &eks);
    let find = |resource: &str, field: &str| {
        scoped
            .iter()
            .find(|d| d.resource.ends_with(resource) && d.field == field)
            .unwrap_or_else(|| panic!("{resource} {field}: {scoped:#?}"))
    };
    let image = find("-backend", "settings.image");
    assert!(image.from.as_str().unwrap().starts_with("localhost:5001/"), "{image:?}");
    assert!(image.to.as_str().unwrap().contains(".dkr.ecr.ap-southeast-1."), "{image:?}");
    assert_eq!(find("-app-ingress", "settings.ingressClassName").to, "alb");
    assert!(scoped.iter().all(|d| d.from != d.to));
    assert!(parity::scoped_differences(&local, &local).is_empty());
}

#[test]
fn parity_catches_a_difference_outside_profile_scoped_fields() {
    let cr = example("nexus-ai-complete.yaml").cr;
    let local = build(&cr, &profile("local"));
    let mut other = build(&cr, &profile("eks-prod"));
    let Some(Settings::Deployment(d)) =
        other.resources.iter_mut().find(|r| r.kind == Kind::Deployment).map(|r| &mut r.settings)
    else {
        panic!()
    };
    d.replicas += 1;
    let diff = parity::differences(&local, &other);
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert!(diff[0].contains("k8s.deployment/nexus-ai-prod-backend"), "{diff:?}");
    other.resources.retain(|r| r.kind != Kind::Ingress);
    assert!(parity::differences(&local, &other).iter().any(|d| d.contains("only in the plan for profile `local`")));
}

#[test]
fn image_rewrite_keeps_repository_and_tag() {
    use super::k8s::rewrite_image;
    assert_eq!(
        rewrite_image("764119721991.dkr.ecr.ap-southeast-1.amazonaws.com/nexus-ui:latest", "localhost:5001"),
        "localhost:5001/nexus-ui:latest"
    );
    assert_eq!(rewrite_image("nginx:1.27", "localhost:5001"), "localhost:5001/nginx:1.27");
    assert_eq!(rewrite_image("acme/api@sha256:abc", "r:5000"), "r:5000/acme/api@sha256:abc");
}

fn deployment<'p>(plan: &'p Plan, name: &str) -> &'p Deployment {
    match &plan.get(Kind::Deployment, name).unwrap_or_else(|| panic!("no deployment {name}")).settings {
        Settings::Deployment(d) => d,
        _ => unreachable!(),
    }
}

#[test]
fn workloads_get_seed_004_defaults_a_disruption_budget_and_a_restricted_namespace() {
    let plan = build(&example("minimal.yaml").cr, &profile("local"));
    let d = deployment(&plan, "myapp-dev-backend");
    assert_eq!((d.startup_probe.period_seconds, d.startup_probe.failure_threshold), (5, 24), "2 minutes to start");
    assert_eq!(d.readiness_probe.period_seconds, 10);
    assert_eq!(d.liveness_probe.period_seconds, 30);
    assert!([&d.startup_probe, &d.readiness_probe, &d.liveness_probe].iter().all(|p| p.path == "/health"));
    assert_eq!(d.security.writable_paths, ["/tmp"]);
    assert_eq!((d.security.run_as_user, d.security.read_only_root_filesystem), (1000, true));
    assert_eq!(d.termination_grace_period_seconds, 30);
    assert!(!d.autoscaled);
    assert_eq!(names_of(&plan, Kind::DisruptionBudget), ["myapp-dev-backend-pdb", "myapp-dev-frontend-pdb"]);
    assert!(names_of(&plan, Kind::Autoscaler).is_empty());
    assert!(names_of(&plan, Kind::NetworkPolicy).is_empty());
    let Settings::Namespace(ns) = &plan.of_kind(Kind::Namespace).next().unwrap().settings else { panic!() };
    assert_eq!(ns.labels.get(POD_SECURITY_LABEL).map(String::as_str), Some("restricted"));

    // One replica: a budget would block every drain.
    let mut cr = example("minimal.yaml").cr;
    cr.spec.backend.replicas = 1;
    assert_eq!(names_of(&build(&cr, &profile("local")), Kind::DisruptionBudget), ["myapp-dev-frontend-pdb"]);
}

#[test]
fn the_hardened_example_plans_its_probes_user_paths_autoscaler_and_network_policies() {
    let plan = build(&example("hardened.yaml").cr, &profile("local"));
    let d = deployment(&plan, "shop-prod-backend");
    assert_eq!((d.startup_probe.path.as_str(), d.startup_probe.failure_threshold), ("/health", 12));
    assert_eq!((d.readiness_probe.path.as_str(), d.readiness_probe.period_seconds), ("/ready", 10));
    assert_eq!((d.liveness_probe.path.as_str(), d.liveness_probe.period_seconds), ("/live", 30));
    assert_eq!((d.security.run_as_user, d.security.fs_group), (1001, 1001));
    assert_eq!(d.security.writable_paths, ["/tmp", "/app/cache"]);
    assert_eq!(d.termination_grace_period_seconds, 45);
    assert!(d.autoscaled && d.replicas == 2, "the autoscaler's minimum");
    let Settings::Autoscaler(a) = &plan.get(Kind::Autoscaler, "shop-prod-backend-hpa").unwrap().settings else {
        panic!()
    };
    assert_eq!((a.min_replicas, a.max_replicas, a.cpu_percent, a.memory_percent), (2, 5, 70, 80));
    assert_eq!((a.scale_up_window_seconds, a.scale_down_window_seconds), (60, 300));
    assert_eq!(names_of(&plan, Kind::NetworkPolicy), ["shop-prod-default-deny", "shop-prod-allow-app"]);
    let port = |plan: &Plan| match &plan.get(Kind::NetworkPolicy, "shop-prod-allow-app").unwrap().settings {
        Settings::NetworkPolicy(p) => p.aws_egress[0].ports[0].1,
        _ => unreachable!(),
    };
    assert_eq!(port(&plan), 4566, "the emulator's port");
    assert_eq!(port(&build(&example("hardened.yaml").cr, &profile("eks-prod"))), 443);
    // Every new object comes after what it needs.
    let ids: Vec<String> = plan.resources.iter().map(Resource::id).collect();
    for r in plan.resources.iter().filter(|r| matches!(r.kind, Kind::Autoscaler | Kind::NetworkPolicy)) {
        for dep in &r.depends_on {
            let (at, of) = (ids.iter().position(|i| i == dep).unwrap(), ids.iter().position(|i| *i == r.id()).unwrap());
            assert!(at < of, "{} before {dep}", r.id());
        }
    }
}

#[test]
fn objects_turned_off_are_unplanned_for_pruning() {
    let hardened = example("hardened.yaml").cr;
    assert_eq!(
        unplanned_objects(&hardened, &profile("local")).iter().map(Resource::id).collect::<Vec<_>>(),
        ["k8s.hpa/shop-prod-frontend-hpa"],
        "only the frontend has no autoscaler"
    );
    let mut off = hardened.clone();
    off.spec.network_policy = crate::model::spec::NetworkPolicyMode::None;
    off.spec.backend.autoscaling = None;
    off.spec.backend.replicas = 1;
    off.spec.ingress.enabled = false;
    let ids: Vec<String> = unplanned_objects(&off, &profile("local")).iter().map(Resource::id).collect();
    for want in [
        "k8s.networkpolicy/shop-prod-default-deny",
        "k8s.networkpolicy/shop-prod-allow-app",
        "k8s.hpa/shop-prod-backend-hpa",
        "k8s.pdb/shop-prod-backend-pdb",
        "k8s.ingress/shop-prod-app-ingress",
    ] {
        assert!(ids.iter().any(|i| i == want), "{want} not in {ids:?}");
    }
    assert!(ids.iter().all(|i| i.starts_with("k8s.")), "{ids:?}");
}

#[test]
fn secrets_for_pods_plan_one_secret_from_the_six_and_mount_it_in_both_workloads() {
    use crate::model::spec::{SecretMount, SecretsDelivery};
    let mut cr = example("minimal.yaml").cr;
    assert!(names_of(&build(&cr, &profile("local")), Kind::PodSecret).is_empty(), "opt-in");
    cr.spec.secrets = Some(SecretsDelivery { mount: SecretMount::File });
    let plan = build(&cr, &profile("local"));
    let r = plan.get(Kind::PodSecret, "myapp-dev-secrets").expect("the pods' Secret");
    let Settings::PodSecret(p) = &r.settings else { panic!() };
    let prefixes: Vec<&str> = p.sources.iter().map(|s| s.prefix.as_str()).collect();
    assert_eq!(prefixes, ["API_KEYS", "WXCC", "OPENAI", "LICENSE", "ANTHROPIC", "GITHUB"]);
    assert!(r.depends_on.contains(&"secretsmanager.secret/myapp/dev/openai".to_owned()), "{:?}", r.depends_on);
    for component in ["backend", "frontend"] {
        let d = deployment(&plan, &format!("myapp-dev-{component}"));
        let mount = d.secrets.as_ref().unwrap();
        assert_eq!((mount.secret.as_str(), mount.mount.as_str()), ("myapp-dev-secrets", "file"));
        assert_eq!(mount.path.as_deref(), Some("/var/run/secrets/nexus"));
    }
    assert!(!serde_json::to_string(&plan).unwrap().contains("CHANGE_ME"), "no value in the plan");
    // Turned off: the Secret is an orphan to prune.
    cr.spec.secrets = None;
    let ids: Vec<String> = unplanned_objects(&cr, &profile("local")).iter().map(Resource::id).collect();
    assert!(ids.contains(&"k8s.secret/myapp-dev-secrets".to_owned()), "{ids:?}");
}

#[test]
fn a_workload_awaiting_its_first_build_runs_no_pods_until_its_image_is_pinned() {
    let mut cr = example("minimal.yaml").cr;
    let plan = build(&cr, &profile("local"));
    let replicas = deployment(&plan, "myapp-dev-backend").replicas;
    assert!(replicas > 0);
    cr.annotations_mut().insert(format!("{AWAITING_BUILD_ANNOTATION}backend"), "api".into());
    let plan = build(&cr, &profile("local"));
    assert_eq!(deployment(&plan, "myapp-dev-backend").replicas, 0, "no pods for a placeholder image");
    assert_eq!(deployment(&plan, "myapp-dev-frontend").replicas, replicas, "only the awaited one");
    let built = format!("localhost:5001/api@sha256:{}", "ab".repeat(32));
    cr.annotations_mut().insert(format!("{BUILT_IMAGE_ANNOTATION}backend"), built.clone());
    let plan = build(&cr, &profile("local"));
    let d = deployment(&plan, "myapp-dev-backend");
    assert_eq!((d.replicas, d.image.as_str()), (replicas, built.as_str()));
}
