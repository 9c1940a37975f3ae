//! The operator in a cluster (issue 19, seed 000's `deploy`, `update`, `status`, `delete`): its
//! image (`image`), its manifests (`manifests`), and here its life: install, upgrade (the CRD
//! only in backward-compatible ways, `crd`), status and uninstall. The operator process itself
//! is `nexus-dev operator` (the controller, `reconcile::controller`, behind a Lease).

pub mod crd;
pub mod iam;
pub mod image;
pub mod manifests;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client, CustomResourceExt, ResourceExt};
use serde::Serialize;
use serde_json::Value;

pub use manifests::{Manifests, NAME, NAMESPACE};

use crate::model::spec::NexusAICapability;

const FIELD_MANAGER: &str = "nexus-dev-operator-install";

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(
        "the operator is already installed in {namespace} (image {image})\n  hint: `nexus-dev operator upgrade` changes its image"
    )]
    AlreadyInstalled { namespace: String, image: String },
    #[error("the operator is not installed in {namespace}\n  hint: `nexus-dev operator install`")]
    NotInstalled { namespace: String },
    #[error(
        "the new CRD is not backward compatible with the one in the cluster, so it is not applied:\n  - {}\n  hint: existing capabilities would no longer validate; migrate them first",
        .0.join("\n  - ")
    )]
    IncompatibleCrd(Vec<String>),
    #[error(
        "capabilities still exist: {}; the CRD stays\n  hint: delete them first, or add --delete-capabilities (their deletionPolicy decides what happens to their AWS resources)",
        .0.join(", ")
    )]
    CapabilitiesLeft(Vec<String>),
    #[error(
        "the operator did not become ready within {secs} s: {detail}\n  hint: `kubectl -n {namespace} describe deployment {NAME}` and `kubectl -n {namespace} logs deployment/{NAME}`"
    )]
    NotReady { namespace: String, secs: u64, detail: String },
    #[error("{what}: {source}")]
    Kube { what: String, source: kube::Error },
    #[error(transparent)]
    Render(#[from] anyhow::Error),
}

fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> OperatorError {
    let what = what.into();
    move |source| OperatorError::Kube { what, source }
}

/// What install or upgrade did, object by object.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// `Kind namespace/name: created|configured|unchanged`.
    pub objects: Vec<String>,
    pub image: String,
    /// Ready replicas over wanted, once ready.
    pub ready: String,
    pub ms: u128,
}

/// The API of a manifest's kind (every kind the manifests use has the regular plural).
fn api_of(client: &Client, doc: &Value) -> (Api<DynamicObject>, String) {
    let (group, version) = match doc["apiVersion"].as_str().unwrap_or("v1").split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), doc["apiVersion"].as_str().unwrap_or("v1").to_owned()),
    };
    let kind = doc["kind"].as_str().unwrap_or_default();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&group, &version, kind),
        &format!("{}s", kind.to_lowercase()),
    );
    let api = match doc["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let shown = match doc["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{}", doc["metadata"]["name"].as_str().unwrap_or_default()),
        None => format!("{kind} {}", doc["metadata"]["name"].as_str().unwrap_or_default()),
    };
    (api, shown)
}

/// Installs the operator (`upgrade` false: refused when it is there) or upgrades it (refused
/// when it is not, or when the CRD would change incompatibly), then waits until every replica
/// is ready through its probes.
pub async fn install(
    client: &Client,
    m: &Manifests,
    upgrade: bool,
    timeout: Duration,
) -> Result<Applied, OperatorError> {
    let start = Instant::now();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &m.namespace);
    let existing = deployments.get_opt(NAME).await.map_err(kube_err("reading the operator's Deployment"))?;
    match (&existing, upgrade) {
        (Some(d), false) => {
            return Err(OperatorError::AlreadyInstalled { namespace: m.namespace.clone(), image: image_of(d) });
        }
        (None, true) => return Err(OperatorError::NotInstalled { namespace: m.namespace.clone() }),
        _ => {}
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    if let Some(live) = crds.get_opt(NexusAICapability::crd_name()).await.map_err(kube_err("reading the CRD"))? {
        let changes = crd::incompatible(
            &serde_json::to_value(&live.spec).unwrap_or_default(),
            &serde_json::to_value(NexusAICapability::crd().spec).unwrap_or_default(),
        );
        if !changes.is_empty() {
            return Err(OperatorError::IncompatibleCrd(changes));
        }
    }
    let mut objects = Vec::new();
    for doc in manifests::render(m)? {
        let (api, shown) = api_of(client, &doc);
        let name = doc["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let before = api.get_opt(&name).await.map_err(kube_err(format!("reading {shown}")))?;
        let after = api
            .patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&doc))
            .await
            .map_err(kube_err(format!("applying {shown}")))?;
        let outcome = match before {
            None => "created",
            Some(b) if b.resource_version() != after.resource_version() => "configured",
            Some(_) => "unchanged",
        };
        objects.push(format!("{shown}: {outcome}"));
    }
    let ready = wait_ready(&deployments, &m.namespace, timeout).await?;
    Ok(Applied { objects, image: m.image.clone(), ready, ms: start.elapsed().as_millis() })
}

fn image_of(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// Waits until the Deployment's rollout is done and every replica is ready.
async fn wait_ready(api: &Api<Deployment>, namespace: &str, timeout: Duration) -> Result<String, OperatorError> {
    let deadline = Instant::now() + timeout;
    loop {
        let d = api.get(NAME).await.map_err(kube_err("reading the operator's Deployment"))?;
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let st = d.status.clone().unwrap_or_default();
        let rolled = st.observed_generation >= d.metadata.generation
            && st.updated_replicas.unwrap_or(0) == wanted
            && st.replicas.unwrap_or(0) == wanted;
        let ready = st.ready_replicas.unwrap_or(0);
        if rolled && ready == wanted {
            return Ok(format!("{ready}/{wanted}"));
        }
        if Instant::now() > deadline {
            let detail = format!(
                "{ready}/{wanted} ready, {}/{wanted} updated{}",
                st.updated_replicas.unwrap_or(0),
                st.conditions
                    .iter()
                    .flatten()
                    .filter(|c| c.status != "True")
                    .filter_map(|c| c.message.clone())
                    .map(|m| format!("; {m}"))
                    .collect::<String>()
            );
            return Err(OperatorError::NotReady { namespace: namespace.to_owned(), secs: timeout.as_secs(), detail });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What `operator status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub namespace: String,
    pub installed: bool,
    /// The nexus-dev version that installed it.
    pub version: Option<String>,
    pub image: Option<String>,
    /// The image digest each running pod runs (`imageID`).
    pub running: Vec<String>,
    /// Ready replicas over wanted.
    pub ready: Option<String>,
    /// Who holds the operator's Lease, when someone does.
    pub leader: Option<String>,
    /// Capabilities of the cluster by phase.
    pub phases: BTreeMap<String, usize>,
    /// The last errors: Failed capabilities with their message.
    pub errors: Vec<String>,
}

pub async fn status(client: &Client, namespace: &str) -> Result<Status, OperatorError> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let d = deployments.get_opt(NAME).await.map_err(kube_err("reading the operator's Deployment"))?;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), namespace);
    let running = match d {
        Some(_) => pods
            .list(&kube::api::ListParams::default().labels(&format!("app.kubernetes.io/name={NAME}")))
            .await
            .map_err(kube_err("listing the operator's pods"))?
            .items
            .iter()
            .flat_map(|p| p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()))
            .map(|c| c.image_id.clone())
            .filter(|i| !i.is_empty())
            .collect(),
        None => Vec::new(),
    };
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let lease = leases.get_opt(crate::reconcile::lease::OPERATOR).await.ok().flatten();
    let leader = crate::reconcile::lease::holder(
        lease.as_ref().and_then(|l| l.spec.as_ref()),
        k8s_openapi::jiff::Timestamp::now(),
    )
    .map(str::to_owned);
    let caps: Api<NexusAICapability> = Api::all(client.clone());
    let caps = caps.list(&Default::default()).await.map(|l| l.items).unwrap_or_default();
    let mut phases = BTreeMap::new();
    let mut errors = Vec::new();
    for c in &caps {
        let st = c.status.clone().unwrap_or_default();
        let phase = st.phase.map(|p| p.to_string()).unwrap_or_else(|| "Pending".into());
        if phase == "Failed" {
            errors.push(format!(
                "{}/{}: {}",
                c.namespace().unwrap_or_default(),
                c.name_any(),
                st.message.unwrap_or_default()
            ));
        }
        *phases.entry(phase).or_insert(0) += 1;
    }
    Ok(Status {
        namespace: namespace.to_owned(),
        installed: d.is_some(),
        version: d.as_ref().and_then(|d| d.annotations().get(manifests::VERSION_ANNOTATION).cloned()),
        image: d.as_ref().map(image_of),
        running,
        ready: d.as_ref().map(|d| {
            let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            format!("{}/{wanted}", d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0))
        }),
        leader,
        phases,
        errors,
    })
}

/// How `uninstall` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Uninstall {
    /// Also the CRD and the namespace, when no capability is left.
    pub full: bool,
    /// With `full`: delete the capabilities first (through the operator, which honours their
    /// deletionPolicy), and wait for them to go.
    pub delete_capabilities: bool,
    pub timeout: Duration,
}

/// Removes the operator; capabilities and their AWS resources are left alone unless `full` with
/// `delete_capabilities`. Returns what it removed.
pub async fn uninstall(client: &Client, m: &Manifests, how: Uninstall) -> Result<Vec<String>, OperatorError> {
    let caps: Api<NexusAICapability> = Api::all(client.clone());
    let left = |list: Vec<NexusAICapability>| -> Vec<String> {
        list.iter().map(|c| format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any())).collect()
    };
    let mut done = Vec::new();
    if how.full {
        let existing = left(caps.list(&Default::default()).await.map(|l| l.items).unwrap_or_default());
        if !existing.is_empty() && !how.delete_capabilities {
            return Err(OperatorError::CapabilitiesLeft(existing));
        }
        for c in caps.list(&Default::default()).await.map(|l| l.items).unwrap_or_default() {
            let api: Api<NexusAICapability> = Api::namespaced(client.clone(), &c.namespace().unwrap_or_default());
            api.delete(&c.name_any(), &DeleteParams::default())
                .await
                .map_err(kube_err(format!("deleting {}", c.name_any())))?;
            done.push(format!("NexusAICapability {}/{}: deleted", c.namespace().unwrap_or_default(), c.name_any()));
        }
        let deadline = Instant::now() + how.timeout;
        loop {
            let still = left(caps.list(&Default::default()).await.map(|l| l.items).unwrap_or_default());
            if still.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(OperatorError::CapabilitiesLeft(still));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    // Everything but the namespace and the CRD, the Deployment first (no writer left behind).
    let docs = manifests::render(m)?;
    let mut order: Vec<&Value> =
        docs.iter().filter(|d| !matches!(d["kind"].as_str(), Some("Namespace" | "CustomResourceDefinition"))).collect();
    order.sort_by_key(|d| d["kind"] != "Deployment");
    let leases: Api<Lease> = Api::namespaced(client.clone(), &m.namespace);
    let _ = leases.delete(crate::reconcile::lease::OPERATOR, &DeleteParams::default()).await;
    let full = docs
        .iter()
        .filter(|d| how.full && matches!(d["kind"].as_str(), Some("CustomResourceDefinition" | "Namespace")));
    for doc in order.into_iter().chain(full) {
        let (api, shown) = api_of(client, doc);
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => done.push(format!("{shown}: deleted")),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(kube_err(format!("deleting {shown}"))(e)),
        }
    }
    Ok(done)
}
