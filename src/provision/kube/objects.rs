//! Kubernetes objects of a plan, as typed API objects (pure: settings in, objects out). The
//! workloads follow seed 004's hardening; names come from the plan.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingRules, HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior,
    HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvFromSource, EnvVar, HTTPGetAction,
    Namespace, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, Secret, SecretEnvSource, SecretVolumeSource, SecurityContext, Service,
    ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::plan::{self, Settings};

/// Annotation naming the custom resource an object belongs to (`namespace/name`), so that a
/// change to the object wakes the right reconcile even across namespaces.
pub const OWNER_ANNOTATION: &str = "nexus.ai/owner";

/// Ready and desired replicas of a capability's Deployments, by component (`backend`,
/// `frontend`).
pub type Replicas = BTreeMap<String, (i32, i32)>;

/// The capability a Deployment belongs to (its owner annotation), its component and its ready
/// and desired replicas: what `status -w` and the dashboard show.
pub fn deployment_replicas(d: &Deployment) -> Option<(String, String, (i32, i32))> {
    let annotations = d.metadata.annotations.as_ref()?;
    let labels = d.metadata.labels.as_ref()?;
    let owner = annotations.get(OWNER_ANNOTATION)?.clone();
    let component = labels.get("app.kubernetes.io/component")?.clone();
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    Some((owner, component, (ready, desired)))
}

/// One object to server-side apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Namespace(Box<Namespace>),
    ServiceAccount(Box<ServiceAccount>),
    Deployment(Box<Deployment>),
    Service(Box<Service>),
    Ingress(Box<Ingress>),
    Autoscaler(Box<HorizontalPodAutoscaler>),
    DisruptionBudget(Box<PodDisruptionBudget>),
    NetworkPolicy(Box<NetworkPolicy>),
    /// The pods' Secret; its values are read in by [`super::secrets::fill`] before it is applied.
    Secret(Box<Secret>),
}

impl Object {
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Namespace(o) => &o.metadata,
            Object::ServiceAccount(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::Autoscaler(o) => &o.metadata,
            Object::DisruptionBudget(o) => &o.metadata,
            Object::NetworkPolicy(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }
}

fn meta(name: &str, namespace: Option<&str>, labels: &BTreeMap<String, String>, owner: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels.clone()),
        annotations: Some([(OWNER_ANNOTATION.to_owned(), owner.to_owned())].into_iter().collect()),
        ..ObjectMeta::default()
    }
}

/// The object of a planned Kubernetes resource; `None` for AWS resources. `owner` is the custom
/// resource's `namespace/name`.
pub fn object(r: &plan::Resource, owner: &str) -> Option<Object> {
    let name = r.name.as_str();
    Some(match &r.settings {
        Settings::Namespace(s) => Object::Namespace(Box::new(Namespace {
            metadata: meta(name, None, &s.labels, owner),
            ..Default::default()
        })),
        Settings::ServiceAccount(s) => {
            let mut m = meta(name, Some(&s.namespace), &s.labels, owner);
            m.annotations.get_or_insert_with(BTreeMap::new).extend(s.annotations.clone());
            Object::ServiceAccount(Box::new(ServiceAccount { metadata: m, ..Default::default() }))
        }
        Settings::Deployment(d) => Object::Deployment(Box::new(deployment(name, d, owner))),
        Settings::Service(s) => Object::Service(Box::new(Service {
            metadata: meta(name, Some(&s.namespace), &s.labels, owner),
            spec: Some(ServiceSpec {
                type_: Some(s.service_type.clone()),
                selector: Some(s.selector.clone()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: s.port,
                    target_port: Some(IntOrString::Int(s.target_port)),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })),
        Settings::Ingress(i) => {
            let mut m = meta(name, Some(&i.namespace), &i.labels, owner);
            m.annotations.get_or_insert_with(BTreeMap::new).extend(i.annotations.clone());
            let paths = i
                .paths
                .iter()
                .map(|p| HTTPIngressPath {
                    path: Some(p.path.clone()),
                    path_type: p.path_type.clone(),
                    backend: IngressBackend {
                        service: Some(IngressServiceBackend {
                            name: p.service.clone(),
                            port: Some(ServiceBackendPort { number: Some(p.port), ..Default::default() }),
                        }),
                        ..Default::default()
                    },
                })
                .collect();
            Object::Ingress(Box::new(Ingress {
                metadata: m,
                spec: Some(IngressSpec {
                    ingress_class_name: Some(i.ingress_class_name.clone()),
                    rules: Some(vec![IngressRule { host: i.host.clone(), http: Some(HTTPIngressRuleValue { paths }) }]),
                    // On ALB the certificate comes from the annotation; the TLS block names the host.
                    tls: (i.tls && i.host.is_some())
                        .then(|| vec![IngressTLS { hosts: i.host.clone().map(|h| vec![h]), secret_name: None }]),
                    ..Default::default()
                }),
                ..Default::default()
            }))
        }
        Settings::Autoscaler(a) => Object::Autoscaler(Box::new(autoscaler(name, a, owner))),
        Settings::DisruptionBudget(b) => Object::DisruptionBudget(Box::new(PodDisruptionBudget {
            metadata: meta(name, Some(&b.namespace), &b.labels, owner),
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable: Some(IntOrString::Int(b.max_unavailable)),
                selector: Some(LabelSelector { match_labels: Some(b.selector.clone()), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        })),
        Settings::NetworkPolicy(p) => Object::NetworkPolicy(Box::new(network_policy(name, p, owner))),
        Settings::PodSecret(s) => Object::Secret(Box::new(Secret {
            metadata: meta(name, Some(&s.namespace), &s.labels, owner),
            type_: Some("Opaque".into()),
            ..Default::default()
        })),
        _ => return None,
    })
}

fn autoscaler(name: &str, a: &plan::Autoscaler, owner: &str) -> HorizontalPodAutoscaler {
    let target = |resource: &str, percent| MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: resource.into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(percent),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    let window = |seconds| HPAScalingRules { stabilization_window_seconds: Some(seconds), ..Default::default() };
    HorizontalPodAutoscaler {
        metadata: meta(name, Some(&a.namespace), &a.labels, owner),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: a.deployment.clone(),
            },
            min_replicas: Some(a.min_replicas),
            max_replicas: a.max_replicas,
            metrics: Some(vec![target("cpu", a.cpu_percent), target("memory", a.memory_percent)]),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(window(a.scale_up_window_seconds)),
                scale_down: Some(window(a.scale_down_window_seconds)),
            }),
        }),
        ..Default::default()
    }
}

fn network_policy(name: &str, p: &plan::NetworkPolicy, owner: &str) -> NetworkPolicy {
    let peers = |peer: &plan::NetworkPeer| match peer {
        plan::NetworkPeer::Anywhere => None,
        plan::NetworkPeer::SamePods(labels) => Some(vec![NetworkPolicyPeer {
            pod_selector: Some(LabelSelector { match_labels: Some(labels.clone()), ..Default::default() }),
            ..Default::default()
        }]),
        plan::NetworkPeer::Addresses(cidr) => Some(vec![NetworkPolicyPeer {
            ip_block: Some(IPBlock { cidr: cidr.clone(), except: None }),
            ..Default::default()
        }]),
    };
    let ports = |r: &plan::NetworkRule| {
        Some(
            r.ports
                .iter()
                .map(|(protocol, port)| NetworkPolicyPort {
                    protocol: Some(protocol.clone()),
                    port: Some(IntOrString::Int(*port)),
                    ..Default::default()
                })
                .collect(),
        )
    };
    NetworkPolicy {
        metadata: meta(name, Some(&p.namespace), &p.labels, owner),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: (!p.pod_selector.is_empty()).then(|| p.pod_selector.clone()),
                ..Default::default()
            }),
            policy_types: Some(p.policy_types.clone()),
            ingress: Some(
                p.ingress.iter().map(|r| NetworkPolicyIngressRule { from: peers(&r.peer), ports: ports(r) }).collect(),
            ),
            egress: Some(
                p.egress
                    .iter()
                    .chain(&p.aws_egress)
                    .map(|r| NetworkPolicyEgressRule { to: peers(&r.peer), ports: ports(r) })
                    .collect(),
            ),
        }),
    }
}

fn quantity(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    [("cpu".to_owned(), Quantity(cpu.to_owned())), ("memory".to_owned(), Quantity(memory.to_owned()))]
        .into_iter()
        .collect()
}

fn probe(p: &plan::Probe) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(p.path.clone()),
            port: IntOrString::Int(p.port),
            ..Default::default()
        }),
        initial_delay_seconds: Some(p.initial_delay_seconds),
        period_seconds: Some(p.period_seconds),
        failure_threshold: Some(p.failure_threshold),
        timeout_seconds: Some(p.timeout_seconds),
        ..Default::default()
    }
}

fn deployment(name: &str, d: &plan::Deployment, owner: &str) -> Deployment {
    let selector: BTreeMap<String, String> = d
        .labels
        .iter()
        .filter(|(k, _)| *k == "app.kubernetes.io/instance" || *k == "app.kubernetes.io/component")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let env = d
        .env
        .iter()
        .chain(&d.aws_env)
        .map(|e| EnvVar { name: e.name.clone(), value: Some(e.value.clone()), ..Default::default() })
        .collect();
    let sec = &d.security;
    // `/tmp` is `tmp`; each other writable path `writable-1`, `writable-2`, ….
    let volumes: Vec<(String, String)> = sec
        .writable_paths
        .iter()
        .enumerate()
        .map(|(i, path)| (if i == 0 { "tmp".to_owned() } else { format!("writable-{i}") }, path.clone()))
        .collect();
    let secrets = d.secrets.as_ref();
    let from_secret = secrets.filter(|m| m.mount == "env").map(|m| {
        vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource { name: m.secret.clone(), optional: Some(false) }),
            ..Default::default()
        }]
    });
    let secret_files = secrets.and_then(|m| Some((m.secret.clone(), m.path.clone()?)));
    let container = Container {
        name: d.component.clone(),
        image: Some(d.image.clone()),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: d.port,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        env: Some(env),
        resources: Some(ResourceRequirements {
            requests: Some(quantity(&d.requests.cpu, &d.requests.memory)),
            limits: Some(quantity(&d.limits.cpu, &d.limits.memory)),
            ..Default::default()
        }),
        startup_probe: Some(probe(&d.startup_probe)),
        readiness_probe: Some(probe(&d.readiness_probe)),
        liveness_probe: Some(probe(&d.liveness_probe)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(sec.allow_privilege_escalation),
            read_only_root_filesystem: Some(sec.read_only_root_filesystem),
            run_as_non_root: Some(sec.run_as_non_root),
            capabilities: Some(Capabilities { drop: Some(sec.drop_capabilities.clone()), ..Default::default() }),
            ..Default::default()
        }),
        env_from: from_secret,
        volume_mounts: Some(
            volumes
                .iter()
                .map(|(name, path)| VolumeMount { name: name.clone(), mount_path: path.clone(), ..Default::default() })
                .chain(secret_files.iter().map(|(_, path)| VolumeMount {
                    name: "secrets".into(),
                    mount_path: path.clone(),
                    read_only: Some(true),
                    ..Default::default()
                }))
                .collect(),
        ),
        ..Default::default()
    };
    let mut template_meta = ObjectMeta { labels: Some(d.labels.clone()), ..Default::default() };
    template_meta.annotations = Some([(OWNER_ANNOTATION.to_owned(), owner.to_owned())].into_iter().collect());
    Deployment {
        metadata: meta(name, Some(&d.namespace), &d.labels, owner),
        spec: Some(DeploymentSpec {
            // An autoscaled Deployment's count is the autoscaler's: applying one would fight it.
            replicas: (!d.autoscaled).then_some(d.replicas),
            selector: LabelSelector { match_labels: Some(selector.clone()), ..Default::default() },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(d.max_surge)),
                    max_unavailable: Some(IntOrString::Int(d.max_unavailable)),
                }),
            }),
            revision_history_limit: Some(5),
            template: PodTemplateSpec {
                metadata: Some(template_meta),
                spec: Some(PodSpec {
                    service_account_name: Some(d.service_account.clone()),
                    automount_service_account_token: Some(true),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(sec.run_as_non_root),
                        run_as_user: Some(sec.run_as_user),
                        run_as_group: Some(sec.run_as_group),
                        fs_group: Some(sec.fs_group),
                        seccomp_profile: Some(SeccompProfile {
                            type_: sec.seccomp_profile.clone(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    volumes: Some(
                        volumes
                            .iter()
                            .map(|(name, _)| Volume {
                                name: name.clone(),
                                empty_dir: Some(EmptyDirVolumeSource::default()),
                                ..Default::default()
                            })
                            .chain(secret_files.iter().map(|(secret, _)| Volume {
                                name: "secrets".into(),
                                // Readable by the pod's group (fsGroup) only.
                                secret: Some(SecretVolumeSource {
                                    secret_name: Some(secret.clone()),
                                    default_mode: Some(0o440),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }))
                            .collect(),
                    ),
                    termination_grace_period_seconds: Some(d.termination_grace_period_seconds),
                    // Replicas preferably on different nodes (seed 004), never required: one
                    // node (kind) still runs them all.
                    affinity: Some(Affinity {
                        pod_anti_affinity: Some(PodAntiAffinity {
                            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                                weight: 100,
                                pod_affinity_term: PodAffinityTerm {
                                    label_selector: Some(LabelSelector {
                                        match_labels: Some(selector),
                                        ..Default::default()
                                    }),
                                    topology_key: d.spread_by.clone(),
                                    ..Default::default()
                                },
                            }]),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every Kubernetes object of `plan`, in plan order.
pub fn objects(plan: &plan::Plan, owner: &str) -> Vec<(plan::Resource, Object)> {
    plan.resources.iter().filter_map(|r| object(r, owner).map(|o| (r.clone(), o))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::examples::{example, profile};

    fn local_profile() -> crate::model::profile::Profile {
        profile("local")
    }

    #[test]
    fn workloads_are_hardened_as_seed_004_asks() {
        let plan = plan::build(&example("nexus-ai-complete"), &local_profile());
        let objs = objects(&plan, "nexus-ai-prod/nexus-ai-prod");
        assert_eq!(objs.len(), 10, "with a disruption budget per workload");
        let Object::Deployment(d) = &objs.iter().find(|(r, _)| r.name == "nexus-ai-prod-backend").unwrap().1 else {
            panic!()
        };
        let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let psc = pod.security_context.as_ref().unwrap();
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(psc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
        let c = &pod.containers[0];
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.capabilities.as_ref().unwrap().drop.as_deref(), Some(&["ALL".to_owned()][..]));
        assert_eq!(c.readiness_probe.as_ref().unwrap().http_get.as_ref().unwrap().path.as_deref(), Some("/health"));
        assert_eq!(c.startup_probe.as_ref().unwrap().failure_threshold, Some(24));
        let spread = pod.affinity.as_ref().unwrap().pod_anti_affinity.as_ref().unwrap();
        let term = &spread.preferred_during_scheduling_ignored_during_execution.as_ref().unwrap()[0];
        assert_eq!(term.pod_affinity_term.topology_key, "kubernetes.io/hostname");
        assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3), "the spec's");
        assert!(c.resources.as_ref().unwrap().limits.is_some());
        assert_eq!(pod.volumes.as_ref().unwrap()[0].name, "tmp");
        let strategy = d.spec.as_ref().unwrap().strategy.as_ref().unwrap().rolling_update.as_ref().unwrap();
        assert_eq!(strategy.max_surge, Some(IntOrString::Int(1)));
        assert_eq!(strategy.max_unavailable, Some(IntOrString::Int(0)));
        assert_eq!(pod.service_account_name.as_deref(), Some("nexus-ai-prod-app-sa"));
        let env: Vec<_> = c.env.as_ref().unwrap().iter().map(|e| e.name.as_str()).collect();
        assert!(env.contains(&"AWS_ENDPOINT_URL") && env.contains(&"NEXUS_SSM_PREFIX") && env.contains(&"AWS_REGION"));
    }

    #[test]
    fn the_hardened_example_becomes_an_autoscaler_writable_volumes_and_network_policies() {
        let plan = plan::build(&example("hardened"), &local_profile());
        let objs = objects(&plan, "ns/n");
        let find = |name: &str| &objs.iter().find(|(r, _)| r.name == name).unwrap_or_else(|| panic!("{name}")).1;
        let Object::Deployment(d) = find("shop-prod-backend") else { panic!() };
        let spec = d.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, None, "the autoscaler's to set");
        let pod = spec.template.spec.as_ref().unwrap();
        let mounts: Vec<_> = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.as_str(), m.mount_path.as_str()))
            .collect();
        assert_eq!(mounts, [("tmp", "/tmp"), ("writable-1", "/app/cache")]);
        assert_eq!(pod.volumes.as_ref().unwrap().len(), 2);
        assert_eq!(pod.security_context.as_ref().unwrap().run_as_user, Some(1001));
        assert_eq!(pod.termination_grace_period_seconds, Some(45));
        let Object::Autoscaler(h) = find("shop-prod-backend-hpa") else { panic!() };
        let hs = h.spec.as_ref().unwrap();
        assert_eq!(
            (hs.scale_target_ref.name.as_str(), hs.min_replicas, hs.max_replicas),
            ("shop-prod-backend", Some(2), 5)
        );
        let Object::NetworkPolicy(deny) = find("shop-prod-default-deny") else { panic!() };
        let ds = deny.spec.as_ref().unwrap();
        assert_eq!(ds.pod_selector.as_ref().unwrap().match_labels, None, "every pod");
        assert_eq!((ds.ingress.as_ref().unwrap().len(), ds.egress.as_ref().unwrap().len()), (0, 0));
        let Object::NetworkPolicy(allow) = find("shop-prod-allow-app") else { panic!() };
        let egress = allow.spec.as_ref().unwrap().egress.as_ref().unwrap();
        assert_eq!(egress.len(), 3, "DNS, frontend → backend, AWS");
        assert_eq!(egress[2].to.as_ref().unwrap()[0].ip_block.as_ref().unwrap().cidr, "0.0.0.0/0");
        let Object::DisruptionBudget(b) = find("shop-prod-frontend-pdb") else { panic!() };
        assert_eq!(b.spec.as_ref().unwrap().max_unavailable, Some(IntOrString::Int(1)));
    }

    #[test]
    fn secrets_reach_pods_as_variables_or_as_read_only_files() {
        use crate::model::spec::{SecretMount, SecretsDelivery};
        let mut cr = example("minimal");
        let container = |cr: &crate::model::spec::NexusAICapability| {
            let objs = objects(&plan::build(cr, &local_profile()), "ns/n");
            let Object::Deployment(d) = &objs.iter().find(|(r, _)| r.name == "myapp-dev-backend").unwrap().1 else {
                panic!()
            };
            let pod = d.spec.clone().unwrap().template.spec.unwrap();
            (pod.containers[0].clone(), pod.volumes.unwrap_or_default())
        };
        cr.spec.secrets = Some(SecretsDelivery { mount: SecretMount::Env });
        let (c, volumes) = container(&cr);
        let from = c.env_from.unwrap();
        assert_eq!(from[0].secret_ref.as_ref().unwrap().name, "myapp-dev-secrets");
        assert!(volumes.iter().all(|v| v.secret.is_none()));
        cr.spec.secrets = Some(SecretsDelivery { mount: SecretMount::File });
        let (c, volumes) = container(&cr);
        assert!(c.env_from.is_none());
        let mount = c.volume_mounts.unwrap().into_iter().find(|m| m.name == "secrets").unwrap();
        assert_eq!((mount.mount_path.as_str(), mount.read_only), ("/var/run/secrets/nexus", Some(true)));
        let secret = volumes.iter().find_map(|v| v.secret.clone()).unwrap();
        assert_eq!((secret.secret_name.as_deref(), secret.default_mode), (Some("myapp-dev-secrets"), Some(0o440)));
    }

    #[test]
    fn ingress_routes_api_to_backend_and_the_rest_to_frontend() {
        let plan = plan::build(&example("nexus-ai-complete"), &local_profile());
        let objs = objects(&plan, "ns/n");
        let Object::Ingress(i) = &objs.last().unwrap().1 else { panic!() };
        let spec = i.spec.as_ref().unwrap();
        assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
        let paths = &spec.rules.as_ref().unwrap()[0].http.as_ref().unwrap().paths;
        assert_eq!(paths[0].path.as_deref(), Some("/api"));
        assert_eq!(paths[0].backend.service.as_ref().unwrap().name, "nexus-ai-prod-backend-svc");
        assert_eq!(paths[1].backend.service.as_ref().unwrap().name, "nexus-ai-prod-frontend-svc");
    }
}
