//! The pods' Secret (`secrets: {mount: env|file}`, seed 003): the values of the capability's
//! Secrets Manager secrets, read at apply time and copied into a Kubernetes Secret the
//! capability owns. The plan and its objects hold no value; [`fill`] reads them into the objects
//! just before they are applied or compared, so every pass sees a changed value. In `env` mode
//! the Deployments' pod templates also get a hash of the values, so that a change rolls the pods
//! (files in a mounted Secret are refreshed by the kubelet without one). No value is ever
//! logged or printed: reports name keys only.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use sha2::{Digest, Sha256};

use super::objects::Object;
use crate::model::plan::{self, Settings};
use crate::provision::aws::Ctx as AwsCtx;
use crate::provision::aws::error::{AwsError, sdk};

/// The pod template annotation carrying the hash of the values in `env` mode.
pub const HASH_ANNOTATION: &str = "nexus.ai/secrets-hash";

/// Fills the pods' Secret of `objects` with the current values and, in `env` mode, stamps
/// their hash on the Deployments. Nothing to do when the plan hands no secrets to pods.
pub async fn fill(objects: &mut [(plan::Resource, Object)], aws: &AwsCtx) -> Result<(), AwsError> {
    let Some(settings) = objects.iter().find_map(|(r, _)| match &r.settings {
        Settings::PodSecret(s) => Some(s.clone()),
        _ => None,
    }) else {
        return Ok(());
    };
    let mut values = BTreeMap::new();
    for source in &settings.sources {
        let out = aws
            .clients
            .secrets
            .get_secret_value()
            .secret_id(&source.secret)
            .send()
            .await
            .map_err(|e| sdk("GetSecretValue", &source.secret, e))?;
        values.extend(entries(&source.prefix, out.secret_string().unwrap_or_default()));
    }
    let hash = hash(&values);
    for (_, obj) in objects.iter_mut() {
        match obj {
            Object::Secret(s) => {
                s.data = Some(values.iter().map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec()))).collect());
            }
            Object::Deployment(d) if settings.mount == "env" => {
                let template = &mut d.spec.get_or_insert_with(Default::default).template;
                let meta = template.metadata.get_or_insert_with(Default::default);
                meta.annotations.get_or_insert_with(BTreeMap::new).insert(HASH_ANNOTATION.to_owned(), hash.clone());
            }
            _ => {}
        }
    }
    Ok(())
}

/// A secret's value as Secret keys: each key of its JSON object as `{PREFIX}_{KEY}` (upper case,
/// other characters `_`), strings as they are and anything else as JSON; a value that is not a
/// JSON object as `{PREFIX}`.
pub fn entries(prefix: &str, value: &str) -> Vec<(String, String)> {
    let key = |k: &str| {
        let k: String =
            k.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
        format!("{prefix}_{k}")
    };
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(value) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (key(&k), v)
            })
            .collect(),
        Err(_) => vec![(prefix.to_owned(), value.to_owned())],
    }
}

/// A short, stable digest of the values (never the values themselves).
fn hash(values: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in values {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_become_prefixed_upper_case_names_and_other_values_the_prefix() {
        assert_eq!(
            entries("OPENAI", r#"{"api_key": "sk-1", "org.id": "o", "limit": 5}"#),
            [
                ("OPENAI_API_KEY".to_owned(), "sk-1".to_owned()),
                ("OPENAI_LIMIT".to_owned(), "5".to_owned()),
                ("OPENAI_ORG_ID".to_owned(), "o".to_owned())
            ]
        );
        assert_eq!(entries("GITHUB", "ghp_plain"), [("GITHUB".to_owned(), "ghp_plain".to_owned())]);
    }

    #[test]
    fn the_hash_changes_with_any_value_and_shows_none() {
        let a: BTreeMap<String, String> = [("A_KEY".to_owned(), "one".to_owned())].into();
        let b: BTreeMap<String, String> = [("A_KEY".to_owned(), "two".to_owned())].into();
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a), hash(&a.clone()));
        assert_eq!(hash(&a).len(), 16);
        assert!(!hash(&a).contains("one"));
    }
}
