//! Converging Kubernetes objects: server-side apply with nexus-dev's one field manager, but only
//! when a server-side dry run shows a difference, so that an unchanged capability costs reads
//! only; deletes treat not-found as done.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::FIELD_MANAGER;
use super::objects::Object;
use crate::aws::{Action, Done};

#[derive(Debug, thiserror::Error)]
#[error("{verb} {kind} {name}: {source}")]
pub struct ApplyError {
    pub verb: &'static str,
    pub kind: &'static str,
    pub name: String,
    #[source]
    pub source: kube::Error,
}

impl ApplyError {
    /// Conflicts and server trouble pass; a refused object does not.
    pub fn is_retryable(&self) -> bool {
        match &self.source {
            kube::Error::Api(s) => s.code == 409 || s.code == 429 || s.code >= 500,
            _ => true,
        }
    }
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

async fn converge<K>(
    api: Api<K>,
    kind: &'static str,
    name: &str,
    desired: &K,
    dry_run: bool,
) -> Result<Done, ApplyError>
where
    K: Clone + Serialize + DeserializeOwned + std::fmt::Debug + Resource<DynamicType = ()>,
{
    let err = |verb: &'static str, source| ApplyError { verb, kind, name: name.to_owned(), source };
    let current = api.get_opt(name).await.map_err(|e| err("get", e))?;
    let mut typed = serde_json::to_value(desired).unwrap_or(Value::Null);
    // Server-side apply needs apiVersion and kind in the body.
    if let Some(o) = typed.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(K::api_version(&()).into_owned()));
        o.insert("kind".into(), Value::String(K::kind(&()).into_owned()));
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let Some(current) = current else {
        if dry_run {
            return Ok(Done::new(Action::Created));
        }
        api.patch(name, &params, &Patch::Apply(&typed)).await.map_err(|e| err("apply", e))?;
        return Ok(Done::new(Action::Created));
    };
    let would =
        api.patch(name, &params.clone().dry_run(), &Patch::Apply(&typed)).await.map_err(|e| err("dry-run apply", e))?;
    let before = comparable(&serde_json::to_value(&current).unwrap_or(Value::Null));
    let after = comparable(&serde_json::to_value(&would).unwrap_or(Value::Null));
    if before == after {
        return Ok(Done::new(Action::Unchanged));
    }
    let changes = changed_paths(&before, &after, "");
    if !dry_run {
        api.patch(name, &params, &Patch::Apply(&typed)).await.map_err(|e| err("apply", e))?;
    }
    Ok(Done::with_changes(Action::Updated, changes))
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

/// Converges one object.
pub async fn apply(client: &Client, obj: &Object, dry_run: bool) -> Result<Done, ApplyError> {
    match obj {
        Object::Namespace(o) => {
            converge(Api::<Namespace>::all(client.clone()), "namespace", obj.name(), o.as_ref(), dry_run).await
        }
        Object::ServiceAccount(o) => {
            converge(
                api::<ServiceAccount>(client, o.metadata.namespace.as_deref()),
                "serviceaccount",
                obj.name(),
                o,
                dry_run,
            )
            .await
        }
        Object::Deployment(o) => {
            converge(
                api::<Deployment>(client, o.metadata.namespace.as_deref()),
                "deployment",
                obj.name(),
                o.as_ref(),
                dry_run,
            )
            .await
        }
        Object::Service(o) => {
            converge(
                api::<Service>(client, o.metadata.namespace.as_deref()),
                "service",
                obj.name(),
                o.as_ref(),
                dry_run,
            )
            .await
        }
        Object::Ingress(o) => {
            converge(
                api::<Ingress>(client, o.metadata.namespace.as_deref()),
                "ingress",
                obj.name(),
                o.as_ref(),
                dry_run,
            )
            .await
        }
    }
}

async fn remove<K>(api: Api<K>, kind: &'static str, name: &str) -> Result<Done, ApplyError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + Resource,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(Done::new(Action::Deleted)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Done::new(Action::Absent)),
        Err(source) => Err(ApplyError { verb: "delete", kind, name: name.to_owned(), source }),
    }
}

/// Deletes one object; not-found is success.
pub async fn delete(client: &Client, obj: &Object) -> Result<Done, ApplyError> {
    let name = obj.name();
    match obj {
        Object::Namespace(_) => remove(Api::<Namespace>::all(client.clone()), "namespace", name).await,
        Object::ServiceAccount(o) => {
            remove(api::<ServiceAccount>(client, o.metadata.namespace.as_deref()), "serviceaccount", name).await
        }
        Object::Deployment(o) => {
            remove(api::<Deployment>(client, o.metadata.namespace.as_deref()), "deployment", name).await
        }
        Object::Service(o) => remove(api::<Service>(client, o.metadata.namespace.as_deref()), "service", name).await,
        Object::Ingress(o) => remove(api::<Ingress>(client, o.metadata.namespace.as_deref()), "ingress", name).await,
    }
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
