//! Kubernetes objects of the plan: seed 000 steps 7–11, hardened as seed 004 describes.

use std::collections::BTreeMap;

use super::settings::*;
use super::{Ctx, Kind, Resource, id};
use crate::model::names::{BUCKET_PURPOSES, TABLE_PURPOSES};
use crate::model::spec::{Phase, Workload};

/// Default requests and limits when a component names none.
const DEFAULT_REQUESTS: (&str, &str) = ("100m", "128Mi");
const DEFAULT_LIMITS: (&str, &str) = ("500m", "512Mi");

pub(super) fn objects(ctx: &Ctx<'_>, out: &mut Vec<Resource>) {
    let n = ctx.names;
    let ns = n.namespace();
    let ns_id = id(Kind::Namespace, &ns);
    out.push(Resource::new(&ns, Phase::Deploying, Settings::Namespace(Namespace { labels: labels(ctx, None) })));

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

    let backend_port = ctx.spec.backend_port();
    let frontend_port = ctx.spec.frontend_port();
    for (component, spec, port, phase) in [
        ("backend", &ctx.spec.backend, backend_port, Phase::DeployingBackend),
        ("frontend", &ctx.spec.frontend, frontend_port, Phase::DeployingFrontend),
    ] {
        out.push(
            Resource::new(
                n.deployment(component),
                phase,
                Settings::Deployment(Box::new(deployment(ctx, component, spec, port))),
            )
            .after([ns_id.clone(), sa_id.clone()]),
        );
        let mut services = vec![n.service(component)];
        if component == "backend" {
            // In-cluster callers use the internal service; the ingress targets `-svc` (seed 000).
            services.push(n.internal_service(component));
        }
        for svc in services {
            let selector = selector(ctx, component);
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
    let probe = |initial, period, failures| Probe {
        path: spec.health_path().to_owned(),
        port,
        initial_delay_seconds: initial,
        period_seconds: period,
        failure_threshold: failures,
    };
    Deployment {
        namespace: n.namespace(),
        component: component.to_owned(),
        image: image(ctx, component, &spec.image),
        replicas: spec.replicas,
        port,
        service_account: n.service_account(),
        labels: labels(ctx, Some(component)),
        env,
        aws_env,
        requests: pick(&res.requests, DEFAULT_REQUESTS),
        limits: pick(&res.limits, DEFAULT_LIMITS),
        readiness_probe: probe(5, 10, 3),
        liveness_probe: probe(15, 20, 3),
        max_surge: 1,
        max_unavailable: 0,
        security: Security {
            run_as_non_root: true,
            run_as_user: 1000,
            run_as_group: 1000,
            fs_group: 1000,
            allow_privilege_escalation: false,
            read_only_root_filesystem: true,
            drop_capabilities: vec!["ALL".into()],
            seccomp_profile: "RuntimeDefault".into(),
            tmp_volume: "/tmp".into(),
        },
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
