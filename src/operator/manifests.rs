//! Everything that runs the operator in a cluster (seed 001): namespace, CRD, service account
//! with IRSA, least-privilege RBAC (a Role for its Leases), the profile as a ConfigMap, a
//! hardened Deployment with probes on `/healthz` and `/readyz`, and a Service on the port of
//! `/metrics`.

use kube::CustomResourceExt;
use serde_json::{Value, json};

use crate::model::profile::Profile;
use crate::model::spec::NexusAICapability;

/// The operator's name: Deployment, ServiceAccount, Service, ClusterRole.
pub const NAME: &str = "nexus-operator";
/// Its namespace unless told otherwise; also where the Leases live.
pub const NAMESPACE: &str = crate::reconcile::lease::NAMESPACE;
/// The port of `/healthz`, `/readyz` and `/metrics`.
pub const PORT: u16 = 8080;
/// The annotation on the Deployment with the nexus-dev version that installed it.
pub const VERSION_ANNOTATION: &str = "nexus.ai/operator-version";

/// What the manifests are made of.
#[derive(Debug, Clone)]
pub struct Manifests {
    /// The operator image, by digest (`repository@sha256:…`) when it can be.
    pub image: String,
    pub namespace: String,
    /// The IAM role of the operator (IRSA), such as arn:aws:iam::ACCOUNT:role/NexusAIOperatorRole.
    pub role_arn: Option<String>,
    /// The profile the operator reconciles with.
    pub profile: Profile,
    pub replicas: i32,
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

/// The profile as the operator's pod sees it: an emulated AWS is reached at the address pods
/// use (`aws.podEndpoint`), not the host's.
fn in_cluster(profile: &Profile) -> Profile {
    let mut p = profile.clone();
    if let Some(pod) = p.aws.pod_endpoint.clone() {
        p.aws.endpoint = Some(pod);
    }
    p
}

/// The manifests, in the order they are applied.
pub fn render(m: &Manifests) -> anyhow::Result<Vec<Value>> {
    let ns = m.namespace.as_str();
    let labels = json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "nexus-dev", "app.kubernetes.io/managed-by": "nexus-dev"});
    let mut sa_annotations = serde_json::Map::new();
    if let Some(arn) = &m.role_arn {
        sa_annotations.insert("eks.amazonaws.com/role-arn".into(), Value::String(arn.clone()));
    }
    let rw = ["get", "list", "watch", "create", "patch", "delete"];
    Ok(vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted", "app.kubernetes.io/managed-by": "nexus-dev"}}}),
        serde_json::to_value(NexusAICapability::crd())?,
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": ns, "labels": labels, "annotations": sa_annotations}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": NAME, "labels": labels}, "rules": [
            rule(&["nexus.ai"], &["nexuscapabilities"], &["get", "list", "watch", "patch", "update"]),
            rule(&["nexus.ai"], &["nexuscapabilities/status"], &["get", "patch", "update"]),
            rule(&["nexus.ai"], &["nexuscapabilities/finalizers"], &["update"]),
            json!({"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create"]}),
            json!({"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "resourceNames": ["nexuscapabilities.nexus.ai"], "verbs": ["get", "patch", "watch", "list"]}),
            rule(&[""], &["namespaces", "serviceaccounts", "services", "secrets"], &rw),
            rule(&["apps"], &["deployments"], &rw),
            rule(&["networking.k8s.io"], &["ingresses", "networkpolicies"], &rw),
            rule(&["autoscaling"], &["horizontalpodautoscalers"], &rw),
            rule(&["policy"], &["poddisruptionbudgets"], &rw),
            rule(&["discovery.k8s.io"], &["endpointslices"], &["get", "list"]),
            rule(&["", "events.k8s.io"], &["events"], &["create", "patch"]),
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": NAME, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]}),
        // Its Leases: one writer at a time (reconcile::lease).
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": NAME, "namespace": ns, "labels": labels}, "rules": [
            rule(&["coordination.k8s.io"], &["leases"], &["get", "list", "watch", "create", "update", "delete"]),
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": NAME, "namespace": ns, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{NAME}-profile"), "namespace": ns, "labels": labels},
            "data": {"profile.yaml": serde_yaml::to_string(&in_cluster(&m.profile))?}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "namespace": ns, "labels": labels,
            "annotations": {VERSION_ANNOTATION: env!("CARGO_PKG_VERSION")}},
        "spec": {
            "replicas": m.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            // A new replica waits for the Lease and is ready as a standby, so a rolling update
            // never has two writers.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "operator",
                        "image": m.image,
                        "args": ["operator", "--profile", "/etc/nexus-dev/profile.yaml", "--listen", format!("0.0.0.0:{PORT}")],
                        "ports": [{"name": "http", "containerPort": PORT}],
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3},
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2},
                        "env": [
                            {"name": "RUST_LOG", "value": "info"},
                            // Its per-capability write locks, on the writable emptyDir.
                            {"name": "NEXUS_DEV_STATE_DIR", "value": "/tmp/nexus-dev"},
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                        ],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
                            "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "profile", "mountPath": "/etc/nexus-dev", "readOnly": true}, {"name": "tmp", "mountPath": "/tmp"}]
                    }],
                    "volumes": [{"name": "profile", "configMap": {"name": format!("{NAME}-profile")}}, {"name": "tmp", "emptyDir": {}}]
                }
            }
        }}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "namespace": ns, "labels": labels},
            "spec": {"selector": {"app.kubernetes.io/name": NAME}, "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]}}),
    ])
}

/// The manifests as one YAML stream (`operator manifests`).
pub fn yaml(m: &Manifests) -> anyhow::Result<String> {
    let mut out = String::new();
    for d in render(m)? {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&d)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifests() -> Manifests {
        let profile: Profile = serde_yaml::from_str(
            "name: local\ncluster: {provider: kind}\naws: {emulator: ministack, endpoint: \"http://localhost:4566\", podEndpoint: \"http://nexus-dev-aws:4566\", account: \"000000000000\"}\n",
        )
        .unwrap();
        Manifests {
            image: "localhost:5001/nexus-dev-operator@sha256:abc".into(),
            namespace: "nexus-system".into(),
            role_arn: None,
            profile,
            replicas: 1,
        }
    }

    #[test]
    fn the_operator_has_probes_a_service_a_lease_role_and_reaches_the_emulator_as_pods_do() {
        let docs = render(&manifests()).unwrap();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "CustomResourceDefinition",
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "ConfigMap",
                "Deployment",
                "Service"
            ]
        );
        let deployment = &docs[8];
        let c = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "localhost:5001/nexus-dev-operator@sha256:abc");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
        assert_eq!(docs[9]["spec"]["ports"][0]["port"], PORT);
        assert_eq!(docs[5]["rules"][0]["resources"][0], "leases");
        let profile = docs[7]["data"]["profile.yaml"].as_str().unwrap();
        assert!(profile.contains("endpoint: http://nexus-dev-aws:4566"), "{profile}");
    }
}
