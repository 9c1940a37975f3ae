//! SSM parameters (seed 000, step 4): the plan's parameter set; a changed value is updated.

use aws_sdk_ssm::types::{ParameterType, Tag};

use super::error::{AwsError, sdk};
use super::{Action, Ctx, Done};
use crate::plan::SsmParameter;

/// The current value and type, or `None` when the parameter does not exist.
pub async fn observe(ctx: &Ctx, name: &str) -> Result<Option<(String, String)>, AwsError> {
    match ctx.clients.ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out
            .parameter
            .map(|p| (p.value.unwrap_or_default(), p.r#type.map(|t| t.as_str().to_owned()).unwrap_or_default()))),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => Ok(None),
        Err(e) => Err(sdk("GetParameter", name, e)),
    }
}

/// Ensures the parameter holds `value` (resolved by the executor from the plan's literal or
/// reference).
#[tracing::instrument(skip_all, fields(parameter = name))]
pub async fn ensure(
    ctx: &Ctx,
    name: &str,
    want: &SsmParameter,
    value: &str,
    pre: Option<Option<(String, String)>>,
) -> Result<Done, AwsError> {
    let c = &ctx.clients.ssm;
    let current = match pre {
        Some(p) => p,
        None => observe(ctx, name).await?,
    };
    let change = match &current {
        None => None,
        Some((v, t)) if v == value && *t == want.param_type => return Ok(Done::new(Action::Unchanged)),
        Some((v, t)) if *t != want.param_type => Some(format!("type: {t} → {}", want.param_type)),
        Some((v, _)) => Some(format!("value: {v:?} → {value:?}")),
    };
    if ctx.dry_run {
        return Ok(Done::from_changes(current.is_none(), change.into_iter().collect()));
    }
    let mut req = c
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::from(want.param_type.as_str()))
        .description(&want.description);
    if current.is_none() {
        // Tags can be given on create only; an overwrite must not carry them.
        let tags: Vec<Tag> =
            want.tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
        req = req.set_tags(Some(tags));
    } else {
        req = req.overwrite(true);
    }
    match req.send().await {
        Ok(_) => Ok(Done::from_changes(current.is_none(), change.into_iter().collect())),
        // Created concurrently: the next apply converges its value.
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_already_exists()) => {
            Ok(Done::new(Action::Unchanged))
        }
        Err(e) => Err(sdk("PutParameter", name, e)),
    }
}

#[tracing::instrument(skip_all, fields(parameter = name))]
pub async fn delete(ctx: &Ctx, name: &str) -> Result<Done, AwsError> {
    if observe(ctx, name).await?.is_none() {
        return Ok(Done::new(Action::Absent));
    }
    if ctx.dry_run {
        return Ok(Done::new(Action::Deleted));
    }
    match ctx.clients.ssm.delete_parameter().name(name).send().await {
        Ok(_) => Ok(Done::new(Action::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => Ok(Done::new(Action::Absent)),
        Err(e) => Err(sdk("DeleteParameter", name, e)),
    }
}
