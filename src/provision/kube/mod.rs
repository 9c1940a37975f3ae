//! Kubernetes: the CRD, the objects of a plan, converging them, and clients per profile.

pub mod apply;
pub mod client;
pub mod objects;
pub mod secrets;

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, CustomResourceExt};

use crate::model::ownership::Owner;
use crate::model::spec::NexusAICapability;

/// The one field manager of nexus-dev's server-side applies, so that its own writes never fight.
pub const FIELD_MANAGER: &str = "nexus-dev";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot apply the CRD {name}: {source}")]
    ApplyCrd { name: String, source: kube::Error },
    #[error("the CRD {name} was not established within {secs}s: {detail}")]
    CrdNotEstablished { name: String, secs: u64, detail: String },
}

/// A Kubernetes error as a sentence: the API server's message with its code and reason, not
/// the structure they came in.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    }
}

/// Creates the namespace `name`, labelled as nexus-dev's, unless it exists (anyone's).
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<(), kube::Error> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(name).await?.is_some() {
        return Ok(());
    }
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some([("app.kubernetes.io/managed-by".to_owned(), "nexus-dev".to_owned())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&Default::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The cluster's DNS (`kube-system/coredns`, as kubeadm, kind and EKS name it).
const CLUSTER_DNS: &str = "coredns";

/// Waits until a pod can resolve names: the cluster DNS Deployment has a ready pod. CoreDNS is
/// ready only once it has read the cluster's Services, and until then answers every lookup that
/// goes through the pods' search domains with an error: on a new kind cluster, for up to a
/// minute after its node is Ready, a pod cannot resolve the emulator's name. Says so when the
/// cluster has no such Deployment (another DNS), and does not wait then.
pub async fn wait_cluster_dns(client: &Client, timeout: std::time::Duration) -> Result<String, String> {
    use k8s_openapi::api::apps::v1::Deployment;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "kube-system");
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let d = api
            .get_opt(CLUSTER_DNS)
            .await
            .map_err(|e| format!("cannot read kube-system/{CLUSTER_DNS}: {}", describe(&e)))?;
        let Some(d) = d else { return Ok(format!("no kube-system/{CLUSTER_DNS}; not checked")) };
        let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
        if ready > 0 {
            return Ok(format!("kube-system/{CLUSTER_DNS}: {ready} ready"));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "kube-system/{CLUSTER_DNS} has no ready pod after {}: pods cannot resolve names\n  hint: kubectl -n kube-system get pods -l k8s-app=kube-dns; kubectl -n kube-system logs -l k8s-app=kube-dns",
                humantime::format_duration(timeout)
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
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

#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// Another capability's custom resource has this one's name (their names derive alike).
    #[error(
        "the custom resource {namespace}/{name} belongs to {other}, not to {owner}: two capabilities derive the same names. Choose another capabilityName or environment"
    )]
    NotOwned { namespace: String, name: String, other: Owner, owner: Owner },
    /// The namespace is still being deleted after the wait.
    #[error(
        "namespace {namespace} is still being deleted after {waited}; nothing was changed\n  hint: `kubectl get namespace {namespace} -o yaml` shows what holds it"
    )]
    Terminating { namespace: String, waited: String },
}

/// How long `put_capability` waits for a namespace being deleted (a `delete` just before).
const TERMINATING_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Puts a capability into the cluster (its namespace first, created with the capability's
/// ownership when missing), by server-side apply, and returns the object as the API server has
/// it. Refuses to overwrite another capability's custom resource of the same name.
pub async fn put_capability(client: &Client, cr: &NexusAICapability) -> Result<NexusAICapability, PutError> {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::ResourceExt;
    let names = crate::model::names::Names::of(&cr.spec);
    let owner = Owner::new(&cr.spec.capability_name, &cr.spec.environment);
    let ns = cr.namespace().unwrap_or_else(|| names.namespace());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    // A namespace being deleted takes no new objects: wait until it is gone, then make it anew.
    let deadline = std::time::Instant::now() + TERMINATING_WAIT;
    while namespaces.get_opt(&ns).await?.is_some_and(|n| n.metadata.deletion_timestamp.is_some()) {
        if std::time::Instant::now() > deadline {
            let waited = humantime::format_duration(TERMINATING_WAIT).to_string();
            return Err(PutError::Terminating { namespace: ns, waited });
        }
        tracing::info!(namespace = %ns, "waiting: the namespace is being deleted");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    if namespaces.get_opt(&ns).await?.is_none() {
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": owner.tags()}
        });
        namespaces.patch(&ns, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(&body)).await?;
    }
    let api: Api<NexusAICapability> = Api::namespaced(client.clone(), &ns);
    let name = cr.metadata.name.clone().unwrap_or_else(|| names.stem());
    let (mut labels, mut annotations) = (cr.metadata.labels.clone(), cr.metadata.annotations.clone());
    if let Some(existing) = api.get_opt(&name).await? {
        let other = Owner::new(&existing.spec.capability_name, &existing.spec.environment);
        if other != owner {
            return Err(PutError::NotOwned { namespace: ns, name, other, owner });
        }
        // What the project's daemon and watch mode put on it stays when someone applies the
        // spec by hand (same field manager: leaving them out would remove them, and the daemon
        // would lose the capability, the Deployments their built images).
        let keep = |from: &Option<std::collections::BTreeMap<String, String>>,
                    to: &mut Option<std::collections::BTreeMap<String, String>>,
                    kept: fn(&str) -> bool| {
            for (k, v) in from.iter().flatten().filter(|(k, _)| kept(k)) {
                to.get_or_insert_with(Default::default).entry(k.clone()).or_insert_with(|| v.clone());
            }
        };
        keep(&existing.metadata.labels, &mut labels, |k| k == crate::daemon::PROJECT_LABEL);
        let pins = |a: &Option<std::collections::BTreeMap<String, String>>| {
            a.iter().flatten().any(|(k, _)| k.starts_with(crate::model::plan::BUILT_IMAGE_ANNOTATION))
        };
        // A capability that pins no images (a spec as written) keeps the ones pinned before;
        // one that pins images (promote) sets exactly those.
        if !pins(&annotations) {
            keep(&existing.metadata.annotations, &mut annotations, |k| {
                k.starts_with(crate::model::plan::BUILT_IMAGE_ANNOTATION)
            });
        }
    }
    let body = serde_json::json!({
        "apiVersion": crate::model::spec::API_VERSION,
        "kind": crate::model::spec::KIND,
        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
        "spec": cr.spec,
    });
    Ok(api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await?)
}
