//! Seed data (issue 17): a project's local-only items, objects, parameters and secret values,
//! loaded into the emulator after provisioning. Never over what is there: an item whose key
//! exists, an object or parameter that exists, a secret whose value is no longer nexus-dev's
//! placeholder, all stay as they are, unless `reseed`. Never into real AWS.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use crate::model::names::Names;
use crate::model::profile::Profile;
use crate::model::project::Seed;
use crate::provision::aws::error::sdk;
use crate::provision::aws::{AwsError, Ctx, secrets::PLACEHOLDER};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "seed data is for local emulators only, and profile {profile} runs none; nothing was seeded\n  hint: use a local profile (`local`, `local-moto`), or remove `seed:` from nexus-dev.yaml"
    )]
    NotLocal { profile: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Loaded {
    /// Written now.
    pub loaded: usize,
    /// Already there (or changed by someone): left as it was.
    pub kept: usize,
}

impl std::fmt::Display for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} loaded, {} kept", self.loaded, self.kept)
    }
}

/// Refuses a profile that runs no emulator: seed data never goes to real AWS.
pub fn check(profile: &Profile) -> Result<(), SeedError> {
    match profile.aws.emulator {
        Some(_) => Ok(()),
        None => Err(SeedError::NotLocal { profile: profile.name.clone() }),
    }
}

fn attribute(v: &serde_json::Value) -> AttributeValue {
    match v {
        serde_json::Value::Number(n) => AttributeValue::N(n.to_string()),
        serde_json::Value::Bool(b) => AttributeValue::Bool(*b),
        serde_json::Value::String(s) => AttributeValue::S(s.clone()),
        other => AttributeValue::S(other.to_string()),
    }
}

/// Loads `seed` into the capability `names` names.
pub async fn load(seed: &Seed, names: &Names, ctx: &Ctx, reseed: bool) -> Result<Loaded, AwsError> {
    let mut done = Loaded::default();
    let mut count = |written: bool| if written { done.loaded += 1 } else { done.kept += 1 };
    let c = &ctx.clients;
    for (purpose, items) in &seed.tables {
        let table = names.table(purpose);
        let described =
            c.dynamodb.describe_table().table_name(&table).send().await.map_err(|e| sdk("DescribeTable", &table, e))?;
        let hash = described
            .table()
            .and_then(|t| t.key_schema().first())
            .map(|k| k.attribute_name().to_owned())
            .ok_or_else(|| AwsError::conflict(&table, "the table has no key schema"))?;
        for item in items {
            let values: BTreeMap<String, AttributeValue> =
                item.iter().map(|(k, v)| (k.clone(), attribute(v))).collect();
            let mut put = c.dynamodb.put_item().table_name(&table).set_item(Some(values.into_iter().collect()));
            if !reseed {
                put = put.condition_expression("attribute_not_exists(#k)").expression_attribute_names("#k", &hash);
            }
            match put.send().await {
                Ok(_) => count(true),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                    count(false)
                }
                Err(e) => return Err(sdk("PutItem", &table, e)),
            }
        }
    }
    for (purpose, objects) in &seed.buckets {
        let bucket = names.bucket(purpose);
        for (key, body) in objects {
            let there = c.s3.head_object().bucket(&bucket).key(key).send().await;
            match there {
                Ok(_) if !reseed => {
                    count(false);
                    continue;
                }
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {}
                Err(e) => return Err(sdk("HeadObject", &bucket, e)),
            }
            c.s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(body.clone().into_bytes().into())
                .send()
                .await
                .map_err(|e| sdk("PutObject", &bucket, e))?;
            count(true);
        }
    }
    for (path, value) in &seed.parameters {
        let (category, key) = path.split_once('/').unwrap_or((path, ""));
        let name = names.ssm_parameter(category, key);
        let put = c
            .ssm
            .put_parameter()
            .name(&name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(reseed)
            .send()
            .await;
        match put {
            Ok(_) => count(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_already_exists()) => count(false),
            Err(e) => return Err(sdk("PutParameter", &name, e)),
        }
    }
    for (kind, values) in &seed.secrets {
        let name = names.secret(kind);
        let current =
            c.secrets.get_secret_value().secret_id(&name).send().await.map_err(|e| sdk("GetSecretValue", &name, e))?;
        let untouched = current
            .secret_string()
            .and_then(|s| serde_json::from_str::<BTreeMap<String, serde_json::Value>>(s).ok())
            .is_some_and(|m| m.values().all(|v| v.as_str() == Some(PLACEHOLDER)));
        if !untouched && !reseed {
            count(false);
            continue;
        }
        let body = serde_json::to_string(values).unwrap_or_default();
        c.secrets
            .put_secret_value()
            .secret_id(&name)
            .secret_string(body)
            .send()
            .await
            .map_err(|e| sdk("PutSecretValue", &name, e))?;
        count(true);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_aws_is_refused_and_emulators_are_not() {
        let eks = crate::input::profile::built_in("eks-prod").unwrap();
        assert!(matches!(check(&eks), Err(SeedError::NotLocal { .. })));
        assert!(check(&crate::input::profile::built_in("local").unwrap()).is_ok());
    }

    #[test]
    fn plain_values_become_dynamodb_attributes() {
        assert_eq!(attribute(&serde_json::json!(3)), AttributeValue::N("3".into()));
        assert_eq!(attribute(&serde_json::json!("x")), AttributeValue::S("x".into()));
        assert_eq!(attribute(&serde_json::json!(true)), AttributeValue::Bool(true));
    }
}
