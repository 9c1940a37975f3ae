//! `operator manifests`: everything that runs the operator in a cluster (seed 001: namespace,
//! CRD, service account with IRSA, least-privilege RBAC, a hardened Deployment).

use clap::Args;
use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::ProfileArgs;
use crate::model::spec::NexusAICapability;

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Operator image.
    #[arg(long, default_value = concat!("ghcr.io/nexus-dev/nexus-dev:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// Namespace of the operator.
    #[arg(long, default_value = "nexus-system")]
    pub namespace: String,
    /// IAM role of the operator (IRSA), such as arn:aws:iam::ACCOUNT:role/NexusAIOperatorRole.
    #[arg(long)]
    pub role_arn: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

const NAME: &str = "nexus-operator";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

/// The manifests as one YAML stream.
pub fn render(args: &ManifestArgs) -> anyhow::Result<String> {
    let profile = super::load_profile(&args.profile, None)?;
    let ns = args.namespace.as_str();
    let labels = json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "nexus-dev"});
    let mut sa_annotations = serde_json::Map::new();
    if let Some(arn) = &args.role_arn {
        sa_annotations.insert("eks.amazonaws.com/role-arn".into(), Value::String(arn.clone()));
    }
    let rw = ["get", "list", "watch", "create", "patch", "delete"];
    let docs: Vec<Value> = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted"}}}),
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
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{NAME}-profile"), "namespace": ns, "labels": labels},
            "data": {"profile.yaml": serde_yaml::to_string(&profile.profile)?}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "operator",
                        "image": args.image,
                        "args": ["operator", "--profile", "/etc/nexus-dev/profile.yaml", "--listen", "0.0.0.0:8080"],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3},
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
                        "env": [{"name": "RUST_LOG", "value": "info"}],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
                            "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "profile", "mountPath": "/etc/nexus-dev", "readOnly": true}, {"name": "tmp", "mountPath": "/tmp"}]
                    }],
                    "volumes": [{"name": "profile", "configMap": {"name": format!("{NAME}-profile")}}, {"name": "tmp", "emptyDir": {}}]
                }
            }
        }}),
    ];
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&d)?);
    }
    Ok(out)
}
