//! Does the emulator offer every service the plan needs? Checked before any call (DESIGN.md §5):
//! LocalStack's free tier, for one, has no Glue or Cognito.

use std::time::Duration;

use serde_json::Value;

use crate::model::profile::{Emulator, Profile};

#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error(
        "the AWS emulator at {endpoint} ({what}) does not offer {missing}, which this capability needs\n  hint: {hint}"
    )]
    Missing { endpoint: String, what: String, missing: String, hint: String },
    #[error(
        "the AWS emulator does not answer at {endpoint}: {detail}\n  hint: start it (`nexus-dev up`), or check `aws.endpoint` in the profile"
    )]
    Unreachable { endpoint: String, detail: String },
}

/// Services of `needed` that LocalStack's `/_localstack/health` does not list as available or
/// running.
pub fn missing_in_localstack(health: &Value, needed: &[&str]) -> Vec<String> {
    let services = health.get("services").and_then(Value::as_object);
    needed
        .iter()
        .filter(|s| {
            let state = services.and_then(|m| m.get(**s)).and_then(Value::as_str).unwrap_or("missing");
            !matches!(state, "available" | "running")
        })
        .map(|s| s.to_string())
        .collect()
}

/// Checks the profile's emulator against `needed` (the plan's AWS services). Real AWS and
/// unnamed endpoints are not checked.
/// The requests [`check`] sends to the profile's endpoint: one health read of an emulator,
/// none for AWS. A run's report counts them with its AWS calls.
pub fn requests(profile: &Profile) -> u64 {
    u64::from(profile.aws.emulator.is_some() && profile.aws.endpoint.is_some())
}

pub async fn check(profile: &Profile, needed: &[&str]) -> Result<(), CoverageError> {
    let (Some(emulator), Some(endpoint)) = (profile.aws.emulator, profile.aws.endpoint.as_deref()) else {
        return Ok(());
    };
    let base = endpoint.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| CoverageError::Unreachable { endpoint: endpoint.to_owned(), detail: e.to_string() })?;
    let unreachable =
        |e: reqwest::Error| CoverageError::Unreachable { endpoint: endpoint.to_owned(), detail: e.to_string() };
    match emulator {
        // moto implements every service a capability uses (docs/design/emulators.md).
        Emulator::Moto => {
            client
                .get(format!("{base}/moto-api/"))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(unreachable)?;
            Ok(())
        }
        Emulator::Localstack | Emulator::Ministack => {
            let health: Value = client
                .get(format!("{base}/_localstack/health"))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(unreachable)?
                .json()
                .await
                .map_err(unreachable)?;
            let missing = missing_in_localstack(&health, needed);
            if missing.is_empty() {
                return Ok(());
            }
            let edition = health.get("edition").and_then(Value::as_str).unwrap_or("unknown edition");
            let missing = missing.join(", ");
            let (what, hint) = if emulator == Emulator::Localstack {
                let token_env = profile.aws.auth_token_env.clone().unwrap_or_else(|| "LOCALSTACK_AUTH_TOKEN".into());
                (
                    format!("LocalStack, {edition}"),
                    format!(
                        "use a LocalStack auth token whose tier includes {missing} (set {token_env}), or switch to MiniStack, which needs none: --profile local"
                    ),
                )
            } else {
                let version = health.get("version").and_then(Value::as_str).unwrap_or("unknown version");
                (format!("MiniStack {version}"), "switch to the moto emulator: --profile local-moto".to_owned())
            };
            Err(CoverageError::Missing { endpoint: endpoint.to_owned(), what, missing, hint })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localstack_health_is_read() {
        let health = serde_json::json!({"services": {"s3": "running", "dynamodb": "available", "glue": "disabled"}, "edition": "community"});
        assert_eq!(missing_in_localstack(&health, &["s3", "dynamodb", "glue", "cognito-idp"]), ["glue", "cognito-idp"]);
        assert!(missing_in_localstack(&health, &["s3"]).is_empty());
    }
}
