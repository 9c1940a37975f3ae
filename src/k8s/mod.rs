//! Kubernetes: the CRD, the objects of a plan, converging them, and clients per profile.

pub mod apply;
pub mod client;
pub mod objects;

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, CustomResourceExt};

use crate::spec::NexusAICapability;

/// The one field manager of nexus-dev's server-side applies, so that its own writes never fight.
pub const FIELD_MANAGER: &str = "nexus-dev";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot apply the CRD {name}: {source}")]
    ApplyCrd { name: String, source: kube::Error },
    #[error("the CRD {name} was not established within {secs}s: {detail}")]
    CrdNotEstablished { name: String, secs: u64, detail: String },
}

/// Server-side applies the NexusAICapability CRD and waits until the API server serves it.
pub async fn install_crd(client: &Client) -> Result<(), Error> {
    let crd = NexusAICapability::crd();
    let name = NexusAICapability::crd_name().to_owned();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&crd))
        .await
        .map_err(|source| Error::ApplyCrd { name: name.clone(), source })?;
    let timeout = Duration::from_secs(30);
    tokio::time::timeout(timeout, await_condition(api, &name, conditions::is_crd_established()))
        .await
        .map_err(|_| Error::CrdNotEstablished {
            name: name.clone(),
            secs: timeout.as_secs(),
            detail: "timed out".into(),
        })?
        .map_err(|e| Error::CrdNotEstablished { name: name.clone(), secs: timeout.as_secs(), detail: e.to_string() })?;
    Ok(())
}

/// Puts a capability into the cluster (its namespace first), by server-side apply, and returns
/// the object as the API server has it.
pub async fn put_capability(client: &Client, cr: &NexusAICapability) -> Result<NexusAICapability, kube::Error> {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::ResourceExt;
    let names = crate::names::Names::of(&cr.spec);
    let ns = cr.namespace().unwrap_or_else(|| names.namespace());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(&ns).await?.is_none() {
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"app.kubernetes.io/managed-by": "nexus-dev"}}
        });
        namespaces.patch(&ns, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(&body)).await?;
    }
    let api: Api<NexusAICapability> = Api::namespaced(client.clone(), &ns);
    let name = cr.metadata.name.clone().unwrap_or_else(|| names.stem());
    let body = serde_json::json!({
        "apiVersion": crate::spec::API_VERSION,
        "kind": crate::spec::KIND,
        "metadata": {"name": name, "namespace": ns, "labels": cr.metadata.labels, "annotations": cr.metadata.annotations},
        "spec": cr.spec,
    });
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await
}
