//! Converging Kubernetes objects: server-side apply with nexus-dev's one field manager, but only
//! when a server-side dry run shows a difference, so that an unchanged capability costs reads
//! only; deletes treat not-found as done.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::FIELD_MANAGER;
use super::objects::Object;
use crate::model::outcome::{Done, Outcome};
use crate::model::ownership::{CAPABILITY_KEY, Claim, ENVIRONMENT_KEY, Owner, why_ours};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{verb} {kind} {name}: {}", super::describe(source))]
    Api {
        verb: &'static str,
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// The object exists but is not this capability's (issue #11).
    #[error("{message}")]
    NotOwned { kind: &'static str, name: String, message: String },
}

impl ApplyError {
    /// Conflicts and server trouble pass; a refused object does not.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApplyError::Api { source: kube::Error::Api(s), .. } => s.code == 409 || s.code == 429 || s.code >= 500,
            ApplyError::Api { .. } => true,
            ApplyError::NotOwned { .. } => false,
        }
    }
}

/// The owner an object of a plan names in its labels.
fn planned_owner(meta: &ObjectMeta) -> Option<Owner> {
    let labels = meta.labels.as_ref()?;
    Some(Owner::new(labels.get(CAPABILITY_KEY)?, labels.get(ENVIRONMENT_KEY)?))
}

/// What an existing object's labels say about `owner`'s claim on it.
fn claim_on(owner: &Owner, meta: &ObjectMeta) -> Claim {
    owner.claim(meta.labels.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::default_namespaced(client.clone()),
    }
}

/// What server-side apply would change, ignoring bookkeeping and status.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"] {
            m.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

async fn converge<K>(api: Api<K>, kind: &'static str, name: &str, desired: &K, mode: Mode) -> Result<Done, ApplyError>
where
    K: Clone + Serialize + DeserializeOwned + std::fmt::Debug + Resource<DynamicType = ()>,
{
    let dry_run = mode.dry_run;
    let err = |verb: &'static str, source| ApplyError::Api { verb, kind, name: name.to_owned(), source };
    let current = api.get_opt(name).await.map_err(|e| err("get", e))?;
    let mut adopted = false;
    if let (Some(cur), Some(owner)) = (&current, planned_owner(desired.meta())) {
        let claim = claim_on(&owner, cur.meta());
        // An existing namespace is never labelled: labels would make it look like nexus-dev's,
        // and `delete` would then take everything in it.
        if kind == "namespace" && claim == Claim::Foreign {
            return Ok(Done::with_changes(
                Outcome::Unchanged,
                vec!["exists and is not nexus-dev's: used as it is, never labelled or deleted".into()],
            ));
        }
        if let Some(message) = claim.refusal(&format!("{kind} {name}"), mode.adopt && kind != "namespace") {
            return Err(ApplyError::NotOwned { kind, name: name.to_owned(), message });
        }
        adopted = claim == Claim::Foreign;
    }
    let mut typed = serde_json::to_value(desired).unwrap_or(Value::Null);
    // Server-side apply needs apiVersion and kind in the body.
    if let Some(o) = typed.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(K::api_version(&()).into_owned()));
        o.insert("kind".into(), Value::String(K::kind(&()).into_owned()));
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let Some(current) = current else {
        if dry_run {
            return Ok(Done::new(Outcome::Created));
        }
        api.patch(name, &params, &Patch::Apply(&typed)).await.map_err(|e| err("apply", e))?;
        return Ok(Done::new(Outcome::Created));
    };
    let would =
        api.patch(name, &params.clone().dry_run(), &Patch::Apply(&typed)).await.map_err(|e| err("dry-run apply", e))?;
    let before = comparable(&serde_json::to_value(&current).unwrap_or(Value::Null));
    let after = comparable(&serde_json::to_value(&would).unwrap_or(Value::Null));
    if before == after {
        return Ok(Done::new(Outcome::Unchanged));
    }
    let mut changes = changed_paths(&before, &after, "");
    if adopted {
        changes.insert(0, "adopted: it had no nexus-dev ownership (--adopt)".into());
    }
    if !dry_run {
        api.patch(name, &params, &Patch::Apply(&typed)).await.map_err(|e| err("apply", e))?;
    }
    Ok(Done::with_changes(Outcome::Updated, changes))
}

/// Top-level paths that differ, for reports (`spec.replicas`, `spec.template`).
fn changed_paths(a: &Value, b: &Value, prefix: &str) -> Vec<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if prefix.matches('.').count() < 2 => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| x.get(*k) != y.get(*k))
                .flat_map(|k| {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    changed_paths(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), &p)
                })
                .collect()
        }
        _ => vec![prefix.to_owned()],
    }
}

/// How to converge: for real or as a dry run, and whether to take over objects without
/// nexus-dev ownership.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    pub dry_run: bool,
    pub adopt: bool,
}

impl Mode {
    pub const APPLY: Mode = Mode { dry_run: false, adopt: false };
    pub const DRY_RUN: Mode = Mode { dry_run: true, adopt: false };
}

/// Converges one object.
pub async fn apply(client: &Client, obj: &Object, mode: Mode) -> Result<Done, ApplyError> {
    match obj {
        Object::Namespace(o) => {
            converge(Api::<Namespace>::all(client.clone()), "namespace", obj.name(), o.as_ref(), mode).await
        }
        Object::ServiceAccount(o) => {
            converge(
                api::<ServiceAccount>(client, o.metadata.namespace.as_deref()),
                "serviceaccount",
                obj.name(),
                o,
                mode,
            )
            .await
        }
        Object::Deployment(o) => {
            converge(
                api::<Deployment>(client, o.metadata.namespace.as_deref()),
                "deployment",
                obj.name(),
                o.as_ref(),
                mode,
            )
            .await
        }
        Object::Service(o) => {
            converge(api::<Service>(client, o.metadata.namespace.as_deref()), "service", obj.name(), o.as_ref(), mode)
                .await
        }
        Object::Ingress(o) => {
            converge(api::<Ingress>(client, o.metadata.namespace.as_deref()), "ingress", obj.name(), o.as_ref(), mode)
                .await
        }
        Object::Autoscaler(o) => {
            converge(
                api::<HorizontalPodAutoscaler>(client, o.metadata.namespace.as_deref()),
                "hpa",
                obj.name(),
                o,
                mode,
            )
            .await
        }
        Object::DisruptionBudget(o) => {
            converge(api::<PodDisruptionBudget>(client, o.metadata.namespace.as_deref()), "pdb", obj.name(), o, mode)
                .await
        }
        Object::NetworkPolicy(o) => {
            let api = api::<NetworkPolicy>(client, o.metadata.namespace.as_deref());
            converge(api, "networkpolicy", obj.name(), o.as_ref(), mode).await
        }
        Object::Secret(o) => {
            converge(api::<Secret>(client, o.metadata.namespace.as_deref()), "secret", obj.name(), o.as_ref(), mode)
                .await
        }
    }
}

/// Deletes the object if it is `owner`'s; keeps it, saying why, if not. Not-found is success.
async fn remove<K>(
    api: Api<K>,
    kind: &'static str,
    name: &str,
    owner: &Owner,
    dry_run: bool,
) -> Result<Done, ApplyError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + Resource,
{
    let err = |verb: &'static str, source| ApplyError::Api { verb, kind, name: name.to_owned(), source };
    let Some(current) = api.get_opt(name).await.map_err(|e| err("get", e))? else {
        return Ok(Done::new(Outcome::Absent));
    };
    if let Some(why) = claim_on(owner, current.meta()).kept() {
        return Ok(Done::with_changes(Outcome::Retained, vec![why]));
    }
    let why = vec![why_ours(owner)];
    if dry_run {
        return Ok(Done::with_changes(Outcome::Deleted, why));
    }
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(Done::with_changes(Outcome::Deleted, why)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Done::new(Outcome::Absent)),
        Err(source) => Err(err("delete", source)),
    }
}

/// Deletes one object if it is the capability's that planned it (its labels name the owner);
/// anything else is kept. Not-found is success.
pub async fn delete(client: &Client, obj: &Object, dry_run: bool) -> Result<Done, ApplyError> {
    let name = obj.name();
    let meta = obj.meta();
    let Some(owner) = planned_owner(meta) else {
        return Ok(Done::with_changes(Outcome::Retained, vec!["kept: the plan names no owner for it".into()]));
    };
    let ns = meta.namespace.as_deref();
    match obj {
        Object::Namespace(_) => {
            let others = foreign_objects(client, name, &owner).await.map_err(|e| ApplyError::Api {
                verb: "list objects in",
                kind: "namespace",
                name: name.to_owned(),
                source: e,
            })?;
            if !others.is_empty() {
                let shown: Vec<&str> = others.iter().take(5).map(String::as_str).collect();
                let more = if others.len() > 5 { format!(" and {} more", others.len() - 5) } else { String::new() };
                return Ok(Done::with_changes(
                    Outcome::Retained,
                    vec![format!("kept: it holds objects nexus-dev did not create ({}{more})", shown.join(", "))],
                ));
            }
            remove(Api::<Namespace>::all(client.clone()), "namespace", name, &owner, dry_run).await
        }
        Object::ServiceAccount(_) => {
            remove(api::<ServiceAccount>(client, ns), "serviceaccount", name, &owner, dry_run).await
        }
        Object::Deployment(_) => remove(api::<Deployment>(client, ns), "deployment", name, &owner, dry_run).await,
        Object::Service(_) => remove(api::<Service>(client, ns), "service", name, &owner, dry_run).await,
        Object::Ingress(_) => remove(api::<Ingress>(client, ns), "ingress", name, &owner, dry_run).await,
        Object::Autoscaler(_) => remove(api::<HorizontalPodAutoscaler>(client, ns), "hpa", name, &owner, dry_run).await,
        Object::DisruptionBudget(_) => {
            remove(api::<PodDisruptionBudget>(client, ns), "pdb", name, &owner, dry_run).await
        }
        Object::NetworkPolicy(_) => {
            remove(api::<NetworkPolicy>(client, ns), "networkpolicy", name, &owner, dry_run).await
        }
        Object::Secret(_) => remove(api::<Secret>(client, ns), "secret", name, &owner, dry_run).await,
    }
}

/// Objects in `namespace` that are not `owner`'s, as `kind/name`: deleting the namespace would
/// take them with it. The kinds people most often keep in a namespace; what Kubernetes puts
/// there itself (the root CA ConfigMap, the default ServiceAccount, token Secrets) is left out.
async fn foreign_objects(client: &Client, namespace: &str, owner: &Owner) -> Result<Vec<String>, kube::Error> {
    use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};

    async fn others<K>(
        client: &Client,
        ns: &str,
        owner: &Owner,
        kind: &str,
        skip: fn(&K) -> bool,
    ) -> Result<Vec<String>, kube::Error>
    where
        K: Clone
            + DeserializeOwned
            + std::fmt::Debug
            + Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        let list = Api::<K>::namespaced(client.clone(), ns).list(&Default::default()).await?;
        Ok(list
            .items
            .iter()
            .filter(|o| !skip(o) && claim_on(owner, o.meta()) != Claim::Ours)
            .map(|o| format!("{kind}/{}", o.meta().name.as_deref().unwrap_or_default()))
            .collect())
    }
    let ns = namespace;
    let mut out = Vec::new();
    out.extend(
        others::<ConfigMap>(client, ns, owner, "configmap", |c| c.metadata.name.as_deref() == Some("kube-root-ca.crt"))
            .await?,
    );
    out.extend(
        others::<Secret>(client, ns, owner, "secret", |s| {
            s.type_.as_deref() == Some("kubernetes.io/service-account-token")
        })
        .await?,
    );
    out.extend(
        others::<ServiceAccount>(client, ns, owner, "serviceaccount", |s| {
            s.metadata.name.as_deref() == Some("default")
        })
        .await?,
    );
    out.extend(others::<Deployment>(client, ns, owner, "deployment", |_| false).await?);
    out.extend(others::<StatefulSet>(client, ns, owner, "statefulset", |_| false).await?);
    out.extend(others::<DaemonSet>(client, ns, owner, "daemonset", |_| false).await?);
    out.extend(others::<Job>(client, ns, owner, "job", |_| false).await?);
    out.extend(others::<CronJob>(client, ns, owner, "cronjob", |_| false).await?);
    out.extend(others::<Service>(client, ns, owner, "service", |_| false).await?);
    out.extend(others::<Ingress>(client, ns, owner, "ingress", |_| false).await?);
    out.extend(others::<PersistentVolumeClaim>(client, ns, owner, "persistentvolumeclaim", |_| false).await?);
    Ok(out)
}

/// Rollout state of a Deployment, as `kubectl rollout status` judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    Available,
    /// Still rolling out: what is missing.
    Progressing(String),
    /// The rollout will not finish by itself (progress deadline exceeded).
    Stuck(String),
}

/// A Deployment's pod selector as a label selector string (`app=x,component=y`).
pub fn pod_selector(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

pub fn rollout(d: &Deployment) -> Rollout {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = &d.status else { return Rollout::Progressing("no status yet".into()) };
    if st.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
        return Rollout::Progressing("the controller has not seen the new spec yet".into());
    }
    if let Some(c) = st.conditions.iter().flatten().find(|c| c.type_ == "Progressing")
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Rollout::Stuck(c.message.clone().unwrap_or_else(|| "progress deadline exceeded".into()));
    }
    let updated = st.updated_replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    let total = st.replicas.unwrap_or(0);
    if updated < want {
        return Rollout::Progressing(format!("{updated} of {want} replicas updated"));
    }
    if total > updated {
        return Rollout::Progressing(format!("{} old replicas pending termination", total - updated));
    }
    if available < want {
        return Rollout::Progressing(format!("{available} of {want} updated replicas available"));
    }
    Rollout::Available
}

pub async fn deployment_rollout(client: &Client, namespace: &str, name: &str) -> Result<Rollout, kube::Error> {
    let d = Api::<Deployment>::namespaced(client.clone(), namespace).get_opt(name).await?;
    Ok(d.map(|d| rollout(&d)).unwrap_or_else(|| Rollout::Progressing("not created yet".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_selector_joins_match_labels_in_order() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "spec": {"selector": {"matchLabels": {"component": "backend", "app": "x"}}, "template": {}}
        }))
        .unwrap();
        assert_eq!(pod_selector(&d), "app=x,component=backend");
        assert_eq!(pod_selector(&Deployment::default()), "");
    }
}
