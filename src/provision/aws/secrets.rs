//! Secrets Manager (seed 000, step 5): six secrets created with placeholder JSON. An existing
//! secret's value is never read, overwritten or logged: a developer's real keys survive every
//! reconcile (DESIGN.md §4).

use aws_sdk_secretsmanager::types::Tag;

use super::Ctx;
use super::error::{AwsError, sdk};
use crate::model::outcome::{Done, Outcome};
use crate::model::plan::{self, Kind, Settings, Tags};
use crate::provision::provisioner::{Deps, Observed as ObservedState, Provisioner};

/// Placeholder value of every key of a new secret.
pub const PLACEHOLDER: &str = "CHANGE_ME";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub arn: String,
    pub description: String,
    /// Scheduled for deletion (recoverable).
    pub deleted: bool,
    pub tags: Tags,
}

/// Reads the secret's metadata (never its value).
pub async fn observe(ctx: &Ctx, name: &str) -> Result<Option<Observed>, AwsError> {
    match ctx.clients.secrets.describe_secret().secret_id(name).send().await {
        Ok(d) => Ok(Some(Observed {
            arn: d.arn.unwrap_or_default(),
            description: d.description.unwrap_or_default(),
            deleted: d.deleted_date.is_some(),
            tags: d
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
                .collect(),
        })),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(sdk("DescribeSecret", name, e)),
    }
}

/// `{"key": "CHANGE_ME", ...}` for the plan's keys.
pub fn placeholder(want: &plan::Secret) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        want.placeholder_keys.iter().map(|k| (k.clone(), serde_json::Value::String(PLACEHOLDER.into()))).collect();
    serde_json::Value::Object(map).to_string()
}

#[tracing::instrument(skip_all, fields(secret = name))]
pub async fn ensure(ctx: &Ctx, name: &str, want: &plan::Secret, current: Option<Observed>) -> Result<Done, AwsError> {
    let c = &ctx.clients.secrets;
    let Some(current) = current else {
        if ctx.dry_run {
            return Ok(Done::new(Outcome::Created));
        }
        let tags: Vec<Tag> = want.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let out = c
            .create_secret()
            .name(name)
            .description(&want.description)
            .secret_string(placeholder(want))
            .set_tags(Some(tags))
            .send()
            .await;
        return match out {
            Ok(o) => Ok(Done::new(Outcome::Created).output("arn", o.arn.unwrap_or_default())),
            // Created concurrently: never overwrite it.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => {
                Ok(Done::new(Outcome::Unchanged))
            }
            Err(e) => Err(sdk("CreateSecret", name, e)),
        };
    };
    let mut changes = Vec::new();
    if current.deleted {
        changes.push("restored from scheduled deletion (its value is kept)".to_owned());
    }
    if current.description != want.description {
        changes.push("description".to_owned());
    }
    let missing_tags = super::missing_tags(&current.tags, &want.tags);
    if !missing_tags.is_empty() {
        changes.push("tags".to_owned());
    }
    if ctx.dry_run || changes.is_empty() {
        return Ok(Done::from_changes(false, changes).output("arn", current.arn));
    }
    if current.deleted {
        c.restore_secret().secret_id(name).send().await.map_err(|e| sdk("RestoreSecret", name, e))?;
    }
    if current.description != want.description {
        // Only the description: UpdateSecret without a value leaves the value alone.
        c.update_secret()
            .secret_id(name)
            .description(&want.description)
            .send()
            .await
            .map_err(|e| sdk("UpdateSecret", name, e))?;
    }
    if !missing_tags.is_empty() {
        let tags: Vec<Tag> = missing_tags.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build()).collect();
        c.tag_resource().secret_id(name).set_tags(Some(tags)).send().await.map_err(|e| sdk("TagResource", name, e))?;
    }
    Ok(Done::from_changes(false, changes).output("arn", current.arn))
}

/// Schedules the secret for deletion with the shortest recovery window AWS allows (7 days): a
/// mistaken delete can still be undone, and the next apply restores it with its value.
#[tracing::instrument(skip_all, fields(secret = name))]
pub async fn delete(ctx: &Ctx, name: &str) -> Result<Done, AwsError> {
    match observe(ctx, name).await? {
        None => return Ok(Done::new(Outcome::Absent)),
        Some(s) if s.deleted => return Ok(Done::new(Outcome::Absent)),
        Some(_) => {}
    }
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    match ctx.clients.secrets.delete_secret().secret_id(name).recovery_window_in_days(7).send().await {
        Ok(_) => Ok(Done::with_changes(Outcome::Deleted, vec!["scheduled for deletion in 7 days".into()])),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
            Ok(Done::new(Outcome::Absent))
        }
        Err(e) => Err(sdk("DeleteSecret", name, e)),
    }
}

/// Secrets Manager secrets.
pub struct Secret;

impl ObservedState for Observed {
    fn ownership(&self) -> Option<&Tags> {
        Some(&self.tags)
    }

    fn exists(&self) -> bool {
        !self.deleted
    }
}

impl Provisioner for Secret {
    const KIND: Kind = Kind::Secret;
    type Want = plan::Secret;
    type Observed = Observed;

    fn want(settings: &Settings) -> Option<&plan::Secret> {
        if let Settings::Secret(w) = settings { Some(w) } else { None }
    }

    async fn observe(ctx: &Ctx, name: &str, _: &plan::Secret, _: &Deps<'_>) -> Result<Option<Observed>, AwsError> {
        observe(ctx, name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &plan::Secret,
        current: Option<Observed>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure(ctx, name, want, current).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        _: &plan::Secret,
        _: Option<Observed>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        delete(ctx, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_has_every_key_and_no_real_value() {
        let s = plan::Secret {
            region: "r".into(),
            description: "d".into(),
            placeholder_keys: vec!["client_id".into(), "client_secret".into()],
            overwrite: "never".into(),
            tags: Default::default(),
        };
        let v: serde_json::Value = serde_json::from_str(&placeholder(&s)).unwrap();
        assert_eq!(v, serde_json::json!({"client_id": "CHANGE_ME", "client_secret": "CHANGE_ME"}));
    }
}
