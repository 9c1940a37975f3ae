//! Kubernetes objects of the plan: seed 000 steps 7–11, hardened as seed 004 describes.

use std::collections::BTreeMap;

use super::settings::*;
use super::{Ctx, Kind, Resource, id};
use crate::model::names::{BUCKET_PURPOSES, SECRET_TYPES, TABLE_PURPOSES};
use crate::model::spec::{NetworkPolicyMode, Phase, ProbeSpec, SecretMount, Workload};

/// The namespace label that makes the API server enforce a Pod Security Standard.
pub const POD_SECURITY_LABEL: &str = "pod-security.kubernetes.io/enforce";

/// Where `secrets: {mount: file}` puts the values, a file per key.
pub const SECRETS_PATH: &str = "/var/run/secrets/nexus";

/// The user and group the workloads run as unless the spec says otherwise.
const DEFAULT_USER: i64 = 1000;
/// Seed 004's autoscaling targets.
const DEFAULT_CPU_PERCENT: i32 = 70;
const DEFAULT_MEMORY_PERCENT: i32 = 80;

/// Default requests and limits when a component names none.
const DEFAULT_REQUESTS: (&str, &str) = ("100m", "128Mi");
const DEFAULT_LIMITS: (&str, &str) = ("500m", "512Mi");

pub(super) fn objects(ctx: &Ctx<'_>, out: &mut Vec<Resource>) {
    let n = ctx.names;
    let ns = n.namespace();
    let ns_id = id(Kind::Namespace, &ns);
    let mut ns_labels = labels(ctx, None);
    // Seed 004: the namespace enforces the `restricted` Pod Security Standard, which the
    // workloads meet whatever their securityContext overrides.
    ns_labels.insert(POD_SECURITY_LABEL.to_owned(), "restricted".to_owned());
    out.push(Resource::new(&ns, Phase::Deploying, Settings::Namespace(Namespace { labels: ns_labels })));
    if ctx.spec.network_policy == NetworkPolicyMode::DefaultDeny {
        network_policies(ctx, &ns_id, out);
    }

    let sa = n.service_account();
    let sa_id = id(Kind::ServiceAccount, &sa);
    let mut annotations = BTreeMap::new();
    annotations.insert("eks.amazonaws.com/role-arn".to_owned(), ctx.role_arn());
    annotations.insert("eks.amazonaws.com/sts-regional-endpoints".to_owned(), "true".to_owned());
    out.push(
        Resource::new(
            &sa,
            Phase::Deploying,
            Settings::ServiceAccount(ServiceAccount { namespace: ns.clone(), labels: labels(ctx, None), annotations }),
        )
        .after([ns_id.clone(), id(Kind::IamRole, &n.app_role())]),
    );

    if let Some(delivery) = ctx.spec.secrets {
        let sources: Vec<SecretSource> = SECRET_TYPES
            .iter()
            .map(|t| SecretSource { secret: n.secret(t), prefix: t.replace('-', "_").to_ascii_uppercase() })
            .collect();
        let deps: Vec<String> =
            std::iter::once(ns_id.clone()).chain(sources.iter().map(|s| id(Kind::Secret, &s.secret))).collect();
        let settings = PodSecret {
            namespace: ns.clone(),
            sources,
            mount: delivery.mount.as_str().to_owned(),
            labels: labels(ctx, None),
        };
        out.push(Resource::new(n.pod_secret(), Phase::Deploying, Settings::PodSecret(settings)).after(deps));
    }

    let backend_port = ctx.spec.backend_port();
    let frontend_port = ctx.spec.frontend_port();
    for (component, spec, port, phase) in [
        ("backend", &ctx.spec.backend, backend_port, Phase::DeployingBackend),
        ("frontend", &ctx.spec.frontend, frontend_port, Phase::DeployingFrontend),
    ] {
        let deployment = deployment(ctx, component, spec, port);
        let replicas = deployment.replicas;
        let selector = selector(ctx, component);
        out.push(
            Resource::new(n.deployment(component), phase, Settings::Deployment(Box::new(deployment)))
                .after([ns_id.clone(), sa_id.clone()]),
        );
        if let Some(a) = &spec.autoscaling {
            let deployment_id = id(Kind::Deployment, &n.deployment(component));
            let settings = Autoscaler {
                namespace: ns.clone(),
                component: component.to_owned(),
                deployment: n.deployment(component),
                min_replicas: a.min,
                max_replicas: a.max,
                cpu_percent: a.cpu.unwrap_or(DEFAULT_CPU_PERCENT),
                memory_percent: a.memory.unwrap_or(DEFAULT_MEMORY_PERCENT),
                scale_up_window_seconds: 60,
                scale_down_window_seconds: 300,
                labels: labels(ctx, Some(component)),
            };
            out.push(
                Resource::new(n.autoscaler(component), phase, Settings::Autoscaler(settings)).after([deployment_id]),
            );
        }
        if replicas > 1 {
            let settings = DisruptionBudget {
                namespace: ns.clone(),
                component: component.to_owned(),
                max_unavailable: 1,
                selector: selector.clone(),
                labels: labels(ctx, Some(component)),
            };
            out.push(
                Resource::new(n.disruption_budget(component), phase, Settings::DisruptionBudget(settings))
                    .after([ns_id.clone()]),
            );
        }
        let mut services = vec![n.service(component)];
        if component == "backend" {
            // In-cluster callers use the internal service; the ingress targets `-svc` (seed 000).
            services.push(n.internal_service(component));
        }
        for svc in services {
            let selector = selector.clone();
            let settings = Service {
                namespace: ns.clone(),
                component: component.to_owned(),
                service_type: "ClusterIP".into(),
                port,
                target_port: port,
                selector,
                labels: labels(ctx, Some(component)),
            };
            out.push(Resource::new(svc, phase, Settings::Service(settings)).after([ns_id.clone()]));
        }
    }

    if ctx.spec.ingress.enabled {
        let ing = &ctx.spec.ingress;
        let profile = &ctx.profile.ingress;
        let mut annotations = BTreeMap::new();
        let certificate = ing.certificate_arn.clone().or_else(|| profile.certificate_arn.clone());
        let tls = profile.tls || ing.certificate_arn.is_some();
        if profile.class == "alb" {
            // The AWS Load Balancer Controller's annotations (seed 000: ALB ingress, path routing).
            let health = ing.health_check_path.clone().unwrap_or_else(|| ctx.spec.frontend.health_path().to_owned());
            annotations.insert("alb.ingress.kubernetes.io/scheme".to_owned(), ing.scheme.as_str().to_owned());
            annotations.insert("alb.ingress.kubernetes.io/target-type".to_owned(), "ip".to_owned());
            annotations.insert("alb.ingress.kubernetes.io/healthcheck-path".to_owned(), health);
            if let (true, Some(cert)) = (tls, &certificate) {
                annotations.insert("alb.ingress.kubernetes.io/certificate-arn".to_owned(), cert.clone());
                annotations.insert(
                    "alb.ingress.kubernetes.io/listen-ports".to_owned(),
                    r#"[{"HTTP": 80}, {"HTTPS": 443}]"#.to_owned(),
                );
                annotations.insert("alb.ingress.kubernetes.io/ssl-redirect".to_owned(), "443".to_owned());
            } else {
                annotations.insert("alb.ingress.kubernetes.io/listen-ports".to_owned(), r#"[{"HTTP": 80}]"#.to_owned());
            }
        }
        annotations.extend(profile.annotations.clone());
        let settings = Ingress {
            namespace: ns.clone(),
            ingress_class_name: profile.class.clone(),
            host: host(ctx),
            tls: tls && certificate.is_some(),
            annotations,
            labels: labels(ctx, None),
            paths: vec![
                IngressPath {
                    path: "/api".into(),
                    path_type: "Prefix".into(),
                    service: n.service("backend"),
                    port: backend_port,
                },
                IngressPath {
                    path: "/".into(),
                    path_type: "Prefix".into(),
                    service: n.service("frontend"),
                    port: frontend_port,
                },
            ],
        };
        out.push(Resource::new(n.ingress(), Phase::DeployingFrontend, Settings::Ingress(settings)).after([
            ns_id,
            id(Kind::Service, &n.service("backend")),
            id(Kind::Service, &n.service("frontend")),
        ]));
    }
}

/// Seed 004's zero-trust policy: deny everything in the namespace, then allow what the
/// capability needs. Ingress: only the workloads' ports (from the ingress controller, the
/// frontend calling the backend, kubelet probes). Egress: DNS, the capability's own pods (frontend → backend),
/// and AWS on its endpoint's port (the emulator locally, HTTPS on EKS).
fn network_policies(ctx: &Ctx<'_>, ns_id: &str, out: &mut Vec<Resource>) {
    let n = ctx.names;
    let ns = n.namespace();
    let both = || vec!["Ingress".to_owned(), "Egress".to_owned()];
    let deny = NetworkPolicy {
        namespace: ns.clone(),
        pod_selector: Tags::new(),
        policy_types: both(),
        ingress: vec![],
        egress: vec![],
        aws_egress: vec![],
        labels: labels(ctx, None),
    };
    out.push(Resource::new(n.deny_policy(), Phase::Deploying, Settings::NetworkPolicy(deny)).after([ns_id.to_owned()]));
    let own: Tags = [("app.kubernetes.io/instance".to_owned(), n.stem())].into_iter().collect();
    let ports = vec![("TCP".to_owned(), ctx.spec.frontend_port()), ("TCP".to_owned(), ctx.spec.backend_port())];
    let rule = |purpose: &str, peer, ports| NetworkRule { purpose: purpose.to_owned(), peer, ports };
    let allow = NetworkPolicy {
        namespace: ns.clone(),
        pod_selector: own.clone(),
        policy_types: both(),
        ingress: vec![rule(
            "the workloads' ports: the ingress controller, the frontend, probes",
            NetworkPeer::Anywhere,
            ports.clone(),
        )],
        egress: vec![
            rule("DNS", NetworkPeer::Anywhere, vec![("UDP".to_owned(), 53), ("TCP".to_owned(), 53)]),
            rule("frontend → backend", NetworkPeer::SamePods(own), ports),
        ],
        aws_egress: vec![rule(
            "AWS",
            NetworkPeer::Addresses("0.0.0.0/0".into()),
            vec![("TCP".to_owned(), aws_port(ctx))],
        )],
        labels: labels(ctx, None),
    };
    out.push(
        Resource::new(n.allow_policy(), Phase::Deploying, Settings::NetworkPolicy(allow)).after([ns_id.to_owned()]),
    );
}

/// The port pods reach AWS on: the endpoint's (the emulator's), else HTTPS.
fn aws_port(ctx: &Ctx<'_>) -> i32 {
    ctx.profile
        .pod_endpoint()
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| u.port_or_known_default())
        .map_or(443, i32::from)
}

/// The ingress host: the spec's, else `{cap}-{env}.{profile domain}`, else none (any host).
pub(super) fn host(ctx: &Ctx<'_>) -> Option<String> {
    ctx.spec
        .ingress
        .host
        .clone()
        .or_else(|| ctx.profile.ingress.domain.as_ref().map(|d| format!("{}.{d}", ctx.names.stem())))
}

/// The URL users open, for Cognito's callback and logout URLs.
pub(super) fn public_base_url(ctx: &Ctx<'_>) -> String {
    let tls = ctx.profile.ingress.tls || ctx.spec.ingress.certificate_arn.is_some();
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", host(ctx).unwrap_or_else(|| "localhost".to_owned()))
}

fn labels(ctx: &Ctx<'_>, component: Option<&str>) -> Tags {
    let mut l = ctx.tags();
    l.insert("app.kubernetes.io/name".to_owned(), ctx.spec.capability_name.clone());
    l.insert("app.kubernetes.io/instance".to_owned(), ctx.names.stem());
    l.insert("app.kubernetes.io/version".to_owned(), ctx.spec.version.clone());
    l.insert("app.kubernetes.io/part-of".to_owned(), ctx.spec.capability_name.clone());
    if let Some(c) = component {
        l.insert("app.kubernetes.io/component".to_owned(), c.to_owned());
    }
    l
}

/// Stable labels only: a selector cannot change after creation, so no version in it.
fn selector(ctx: &Ctx<'_>, component: &str) -> Tags {
    [("app.kubernetes.io/instance", ctx.names.stem()), ("app.kubernetes.io/component", component.to_owned())]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn deployment(ctx: &Ctx<'_>, component: &str, spec: &Workload, port: i32) -> Deployment {
    let n = ctx.names;
    let s = ctx.spec;
    let var = |name: &str, value: String| EnvVar { name: name.to_owned(), value };
    let mut env = vec![
        var("NEXUS_CAPABILITY", s.capability_name.clone()),
        var("NEXUS_ENVIRONMENT", s.environment.clone()),
        var("NEXUS_VERSION", s.version.clone()),
        var("NEXUS_SSM_PREFIX", n.ssm_prefix()),
        var("AWS_REGION", s.region.clone()),
    ];
    if s.data_services.dynamodb.enabled {
        for p in TABLE_PURPOSES {
            env.push(var(&format!("DYNAMODB_TABLE_{}", upper(p)), n.table(p)));
        }
    }
    if s.data_services.s3.enabled {
        for p in BUCKET_PURPOSES {
            env.push(var(&format!("S3_BUCKET_{}", upper(p)), n.bucket(p)));
        }
    }
    if s.data_services.glue.enabled {
        env.push(var("GLUE_DATABASE", n.glue_database()));
        env.push(var("GLUE_TABLE_CALL_RECORDS", n.glue_table()));
    }
    env.push(var("SECRETS_PREFIX", format!("{}/{}/", n.capability(), n.environment())));
    env.extend(spec.env.iter().map(|e| var(&e.name, e.value.clone())));

    let mut aws_env = Vec::new();
    if let Some(endpoint) = ctx.profile.pod_endpoint() {
        aws_env.push(var("AWS_ENDPOINT_URL", endpoint.to_owned()));
        if ctx.profile.is_emulated() {
            // Emulators accept any credentials; these are not secrets. Elsewhere the pods
            // sign with their IRSA role.
            aws_env.push(var("AWS_ACCESS_KEY_ID", "test".to_owned()));
            aws_env.push(var("AWS_SECRET_ACCESS_KEY", "test".to_owned()));
        }
    }

    let res = spec.resources.clone().unwrap_or_default();
    let pick = |list: &Option<crate::model::spec::ResourceList>, default: (&str, &str)| ResourceQuantities {
        cpu: list.as_ref().and_then(|l| l.cpu.clone()).unwrap_or_else(|| default.0.to_owned()),
        memory: list.as_ref().and_then(|l| l.memory.clone()).unwrap_or_else(|| default.1.to_owned()),
    };
    let probes = spec.probes.clone().unwrap_or_default();
    let probe = |given: &Option<ProbeSpec>, default: ProbeSpec| {
        let given = given.clone().unwrap_or_default();
        Probe {
            path: given.path.unwrap_or_else(|| spec.health_path().to_owned()),
            port,
            initial_delay_seconds: given.initial_delay_seconds.or(default.initial_delay_seconds).unwrap_or(0),
            period_seconds: given.period_seconds.or(default.period_seconds).unwrap_or(10),
            timeout_seconds: given.timeout_seconds.or(default.timeout_seconds).unwrap_or(2),
            failure_threshold: given.failure_threshold.or(default.failure_threshold).unwrap_or(3),
        }
    };
    let every = |period, failures| ProbeSpec {
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..ProbeSpec::default()
    };
    let security = spec.security_context.clone().unwrap_or_default();
    let mut writable_paths = vec!["/tmp".to_owned()];
    for p in &security.writable_paths {
        let p = p.trim_end_matches('/').to_owned();
        if !writable_paths.contains(&p) {
            writable_paths.push(p);
        }
    }
    let awaiting = ctx.awaiting_builds.contains(component) && !ctx.built_images.contains_key(component);
    let replicas = match &spec.autoscaling {
        Some(a) => a.min,
        // No pods until the project's build pins the image (an autoscaled workload keeps its
        // minimum: a Deployment scaled to 0 turns its autoscaler off).
        None if awaiting => 0,
        None => spec.replicas,
    };
    Deployment {
        namespace: n.namespace(),
        component: component.to_owned(),
        image: image(ctx, component, &spec.image),
        replicas,
        autoscaled: spec.autoscaling.is_some(),
        port,
        service_account: n.service_account(),
        labels: labels(ctx, Some(component)),
        env,
        aws_env,
        requests: pick(&res.requests, DEFAULT_REQUESTS),
        limits: pick(&res.limits, DEFAULT_LIMITS),
        // Seed 004: a startup probe (up to 2 minutes) holds the other two off, so a slow
        // starter is not killed; then readiness every 10 s and liveness every 30 s.
        startup_probe: probe(&probes.startup, every(5, 24)),
        readiness_probe: probe(&probes.readiness, every(10, 3)),
        liveness_probe: probe(&probes.liveness, every(30, 3)),
        max_surge: 1,
        max_unavailable: 0,
        security: Security {
            run_as_non_root: true,
            run_as_user: security.run_as_user.unwrap_or(DEFAULT_USER),
            run_as_group: security.run_as_group.unwrap_or(DEFAULT_USER),
            fs_group: security.fs_group.unwrap_or(DEFAULT_USER),
            allow_privilege_escalation: false,
            read_only_root_filesystem: security.read_only_root_filesystem.unwrap_or(true),
            drop_capabilities: vec!["ALL".into()],
            seccomp_profile: "RuntimeDefault".into(),
            writable_paths,
        },
        termination_grace_period_seconds: spec.termination_grace_period_seconds.unwrap_or(30),
        spread_by: "kubernetes.io/hostname".into(),
        secrets: s.secrets.map(|d| SecretsMount {
            secret: n.pod_secret(),
            mount: d.mount.as_str().to_owned(),
            path: (d.mount == SecretMount::File).then(|| SECRETS_PATH.to_owned()),
        }),
    }
}

fn upper(purpose: &str) -> String {
    purpose.replace('-', "_").to_ascii_uppercase()
}

/// With `registry.rewriteImages`, the registry part of an image becomes the profile's registry:
/// `764….amazonaws.com/nexus-ui:latest` → `localhost:5001/nexus-ui:latest`.
pub fn rewrite_image(image: &str, registry: &str) -> String {
    let path = match image.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => rest,
        _ => image,
    };
    format!("{registry}/{path}")
}

fn image(ctx: &Ctx<'_>, component: &str, image: &str) -> String {
    // An image built and delivered by nexus-dev (watch mode) is pinned by digest on the
    // capability; it wins over the spec's tag, so the reconciler and the watcher agree.
    if let Some(built) = ctx.built_images.get(component) {
        return built.clone();
    }
    match &ctx.profile.registry {
        Some(r) if r.rewrite_images => rewrite_image(image, &r.host),
        _ => image.to_owned(),
    }
}
