//! Kubernetes: installing the CRD, and (later) the workloads of a plan.

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
