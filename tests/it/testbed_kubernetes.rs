//! The test bed's Kubernetes control plane is real: the CRD installs, the API server validates
//! capabilities with its schema, and Deployments roll out on kwok's fake nodes.

use std::time::Duration;

use crate::support::{TestBed, TestNamespace, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use nexus_dev::model::spec::NexusAICapability;

fn capability(ns: &str, replicas: i64, cap: &str) -> NexusAICapability {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "nexus.ai/v1", "kind": "NexusAICapability",
        "metadata": {"name": "demo", "namespace": ns},
        "spec": {
            "capabilityName": cap, "version": "1.0.0", "environment": "dev", "region": "us-east-1",
            "frontend": {"replicas": replicas, "image": "ghcr.io/acme/ui:1"},
            "backend": {"image": "ghcr.io/acme/api:1"}
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn crd_installs_and_the_api_server_validates_capabilities() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    nexus_dev::provision::kube::install_crd(&client).await.unwrap();
    // A second install changes nothing and succeeds.
    nexus_dev::provision::kube::install_crd(&client).await.unwrap();
    let ns = TestNamespace::create(&client, "crd").await;
    let api: Api<NexusAICapability> = Api::namespaced(client.clone(), &ns.name);

    let created = api.create(&PostParams::default(), &capability(&ns.name, 2, "myapp")).await.unwrap();
    let read = api.get("demo").await.unwrap();
    assert_eq!(read.spec, created.spec);
    assert_eq!(read.spec.frontend.replicas, 2);
    // Defaults from the schema were applied by the API server.
    assert_eq!(read.spec.deletion_policy, nexus_dev::model::spec::DeletionPolicy::Retain);
    assert!(read.spec.data_services.s3.enabled);

    // Negative replicas: refused by the schema's minimum.
    let mut bad = capability(&ns.name, -1, "myapp");
    bad.metadata.name = Some("negative".into());
    let err = api.create(&PostParams::default(), &bad).await.unwrap_err().to_string();
    assert!(err.contains("spec.frontend.replicas"), "{err}");

    // Too long together: refused by the CEL rule.
    let mut long = capability(&ns.name, 1, &"a".repeat(39));
    long.metadata.name = Some("long".into());
    let err = api.create(&PostParams::default(), &long).await.unwrap_err().to_string();
    assert!(err.contains("at most 41 characters"), "{err}");

    // Unknown enum value: refused.
    let mut raw = serde_json::to_value(capability(&ns.name, 1, "myapp")).unwrap();
    raw["metadata"]["name"] = "policy".into();
    raw["spec"]["deletionPolicy"] = "Destroy".into();
    let dynamic: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), &ns.name, &kube::api::ApiResource::erase::<NexusAICapability>(&()));
    let obj: kube::api::DynamicObject = serde_json::from_value(raw).unwrap();
    let err = dynamic.create(&PostParams::default(), &obj).await.unwrap_err().to_string();
    assert!(err.contains("spec.deletionPolicy"), "{err}");
}

fn deployment(name: &str, image: &str) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    }))
    .unwrap()
}

async fn rolled_out(api: &Api<Deployment>, name: &str, image: &str) -> Result<(), String> {
    let d = api.get(name).await.map_err(|e| e.to_string())?;
    let spec_image = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers[0].image.clone().unwrap_or_default());
    let st = d.status.clone().unwrap_or_default();
    let done = spec_image.as_deref() == Some(image)
        && st.observed_generation >= d.metadata.generation
        && st.updated_replicas == Some(2)
        && st.available_replicas == Some(2)
        && st.replicas == Some(2);
    if done { Ok(()) } else { Err(format!("{st:?}")) }
}

#[tokio::test]
async fn deployments_become_available_on_kwok_nodes_and_roll_out_updates() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    let ns = TestNamespace::create(&client, "deploy").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    api.create(&PostParams::default(), &deployment("web", "registry.local/web:1")).await.unwrap();
    eventually("2 available replicas", Duration::from_secs(60), || rolled_out(&api, "web", "registry.local/web:1"))
        .await;

    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &ns.name);
    let list = pods.list(&Default::default()).await.unwrap();
    assert!(
        list.items.iter().all(|p| p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| n.starts_with("kwok-")))
    );

    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/web:2"}]}}}});
    api.patch("web", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    eventually("the rolling update to web:2", Duration::from_secs(90), || {
        rolled_out(&api, "web", "registry.local/web:2")
    })
    .await;

    let rs: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::namespaced(client.clone(), &ns.name);
    let sets = rs.list(&Default::default()).await.unwrap();
    assert_eq!(sets.items.len(), 2, "one ReplicaSet per image");
    let old = sets
        .items
        .iter()
        .find(|r| {
            r.spec.as_ref().unwrap().template.as_ref().unwrap().spec.as_ref().unwrap().containers[0].image.as_deref()
                == Some("registry.local/web:1")
        })
        .unwrap();
    assert_eq!(old.spec.as_ref().unwrap().replicas, Some(0), "old ReplicaSet {} scaled down", old.name_any());
}

#[tokio::test]
async fn the_api_server_reports_the_pinned_release() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    let v = client.apiserver_version().await.unwrap();
    assert!(v.git_version.starts_with("v1.34."), "{v:?}");
    assert_eq!(v.major, "1");
}
