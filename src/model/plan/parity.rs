//! Profile parity (DESIGN.md §5, a contract): the plans of one spec for two profiles differ
//! only in profile-scoped fields. This module names those fields and finds any other difference.

use serde_json::Value;

use super::{Kind, Plan};

/// Kinds that exist only where a profile asks for them.
pub const PROFILE_ONLY_KINDS: &[Kind] = &[Kind::IamOidcProvider];

/// Profile-scoped fields per kind, as paths inside a resource of `plan -o json`
/// (`[*]` is every item of a list). Documented in docs/design/plan.md.
pub const PROFILE_SCOPED: &[(Kind, &str)] = &[
    // Account and issuer: ARNs, the trust policy, and the dependency on a registered provider.
    (Kind::IamRole, "settings.arn"),
    (Kind::IamRole, "settings.trust.issuer"),
    (Kind::IamRole, "settings.trust.providerArn"),
    (Kind::IamRole, "settings.statements[*].resources"),
    (Kind::IamRole, "dependsOn"),
    (Kind::SsmParameter, "settings.value@/aws/account-id"),
    (Kind::SsmParameter, "settings.value@/iam/app-role-arn"),
    (Kind::ServiceAccount, "settings.annotations"),
    // Registry host and the emulator endpoint seen from pods.
    (Kind::Deployment, "settings.image"),
    (Kind::Deployment, "settings.awsEnv"),
    // Ingress class, its annotations, host and TLS.
    (Kind::Ingress, "settings.ingressClassName"),
    (Kind::Ingress, "settings.annotations"),
    (Kind::Ingress, "settings.host"),
    (Kind::Ingress, "settings.tls"),
    // The port pods reach AWS on: the emulator's locally, HTTPS on EKS.
    (Kind::NetworkPolicy, "settings.awsEgress"),
    (Kind::CognitoUserPoolClient, "settings.callbackUrls"),
    (Kind::CognitoUserPoolClient, "settings.logoutUrls"),
];

/// Every difference between two plans outside the profile-scoped fields, as readable lines.
pub fn differences(a: &Plan, b: &Plan) -> Vec<String> {
    let left = masked(a);
    let right = masked(b);
    let mut out = Vec::new();
    for (id, l) in &left {
        match right.iter().find(|(i, _)| i == id) {
            None => out.push(format!("{id}: only in the plan for profile `{}`", a.profile)),
            Some((_, r)) if l != r => {
                out.push(format!("{id}: settings differ:\n  {}: {l}\n  {}: {r}", a.profile, b.profile))
            }
            Some(_) => {}
        }
    }
    for (id, _) in &right {
        if !left.iter().any(|(i, _)| i == id) {
            out.push(format!("{id}: only in the plan for profile `{}`", b.profile));
        }
    }
    let order = |v: &[(String, Value)]| v.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>();
    let (lo, ro) = (order(&left), order(&right));
    if out.is_empty() && lo != ro {
        out.push("resources are in a different order".to_owned());
    }
    out
}

/// One profile-scoped field whose value differs between two plans of a spec.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopedDifference {
    /// The resource's id (`kind/name`).
    pub resource: String,
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// The profile-scoped fields whose values differ between `a` and `b`: what may differ between
/// two environments of one spec, and does.
pub fn scoped_differences(a: &Plan, b: &Plan) -> Vec<ScopedDifference> {
    let mut out = Vec::new();
    for left in &a.resources {
        let Some(right) = b.resources.iter().find(|r| r.id() == left.id()) else { continue };
        let (l, r) = (serde_json::to_value(left).unwrap_or_default(), serde_json::to_value(right).unwrap_or_default());
        for (_, scoped) in PROFILE_SCOPED.iter().filter(|(k, _)| *k == left.kind) {
            let (path, only_for) = split(scoped);
            if only_for.is_some_and(|s| !left.name.ends_with(s)) {
                continue;
            }
            let path: Vec<&str> = path.split('.').collect();
            let (from, to) = (get(&l, &path), get(&r, &path));
            if from != to {
                out.push(ScopedDifference { resource: left.id(), field: path.join("."), from, to });
            }
        }
    }
    out
}

/// A profile-scoped path and the name suffix it applies to (`settings.value@/aws/account-id`).
fn split(scoped: &str) -> (&str, Option<&str>) {
    match scoped.split_once('@') {
        Some((p, suffix)) => (p, Some(suffix)),
        None => (scoped, None),
    }
}

/// The value at `path` (`[*]`: every item of a list, as a list); null where absent.
fn get(v: &Value, path: &[&str]) -> Value {
    let Some((first, rest)) = path.split_first() else { return v.clone() };
    match first.strip_suffix("[*]") {
        Some(key) => Value::Array(v[key].as_array().into_iter().flatten().map(|i| get(i, rest)).collect()),
        None => get(&v[*first], rest),
    }
}

fn masked(plan: &Plan) -> Vec<(String, Value)> {
    plan.resources
        .iter()
        .filter(|r| !PROFILE_ONLY_KINDS.contains(&r.kind))
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            for (kind, path) in PROFILE_SCOPED {
                if *kind != r.kind {
                    continue;
                }
                let (path, only_for) = split(path);
                if only_for.is_some_and(|s| !r.name.ends_with(s)) {
                    continue;
                }
                remove(&mut v, &path.split('.').collect::<Vec<_>>());
            }
            (r.id(), v)
        })
        .collect()
}

fn remove(v: &mut Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else { return };
    let (key, each) = match first.strip_suffix("[*]") {
        Some(k) => (k, true),
        None => (*first, false),
    };
    let Some(obj) = v.as_object_mut() else { return };
    if rest.is_empty() && !each {
        obj.remove(key);
        return;
    }
    match obj.get_mut(key) {
        Some(Value::Array(items)) if each => items.iter_mut().for_each(|i| remove(i, rest)),
        Some(inner) => remove(inner, rest),
        None => {}
    }
}
