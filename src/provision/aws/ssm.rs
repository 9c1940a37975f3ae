//! SSM parameters (seed 000, step 4): the plan's parameter set; a changed value is updated.

use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};

use super::Ctx;
use super::error::{AwsError, sdk};
use crate::model::outcome::{Done, Outcome};
use crate::model::plan::{Kind, ParamValue, Settings, SsmParameter, Tags};
use crate::provision::provisioner::{Deps, Observed as ObservedState, Provisioner};

/// A parameter as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub value: String,
    pub param_type: String,
    pub tags: Tags,
}

/// The current value, type and tags, or `None` when the parameter does not exist.
pub async fn observe(ctx: &Ctx, name: &str) -> Result<Option<Observed>, AwsError> {
    let c = &ctx.clients.ssm;
    let (param, tags) = super::both(
        ctx.serial,
        c.get_parameter().name(name).send(),
        c.list_tags_for_resource().resource_type(ResourceTypeForTagging::Parameter).resource_id(name).send(),
    )
    .await;
    let param = match param {
        Ok(out) => out.parameter,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => return Ok(None),
        Err(e) => return Err(sdk("GetParameter", name, e)),
    };
    let Some(p) = param else { return Ok(None) };
    let tags = match tags {
        Ok(t) => t.tag_list.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect(),
        // Deleted between the two reads: the next apply sees it gone.
        Err(e) if e.as_service_error().is_some_and(|e| e.is_invalid_resource_id()) => Tags::new(),
        Err(e) => return Err(sdk("ListTagsForResource", name, e)),
    };
    Ok(Some(Observed {
        value: p.value.unwrap_or_default(),
        param_type: p.r#type.map(|t| t.as_str().to_owned()).unwrap_or_default(),
        tags,
    }))
}

fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs.iter().filter_map(|(k, v)| Tag::builder().key(*k).value(*v).build().ok()).collect()
}

/// Ensures the parameter holds `value` (resolved by the executor from the plan's literal or
/// reference).
#[tracing::instrument(skip_all, fields(parameter = name))]
pub async fn ensure(
    ctx: &Ctx,
    name: &str,
    want: &SsmParameter,
    value: &str,
    current: Option<Observed>,
) -> Result<Done, AwsError> {
    let c = &ctx.clients.ssm;
    let Some(current) = current else {
        if ctx.dry_run {
            return Ok(Done::new(Outcome::Created));
        }
        // Tags can be given on create only; an overwrite must not carry them.
        let all: Vec<(&str, &str)> = want.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = c
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::from(want.param_type.as_str()))
            .description(&want.description)
            .set_tags(Some(tags(&all)))
            .send()
            .await;
        return match out {
            Ok(_) => Ok(Done::new(Outcome::Created)),
            // Created concurrently: the next apply converges its value.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_already_exists()) => {
                Ok(Done::new(Outcome::Unchanged))
            }
            Err(e) => Err(sdk("PutParameter", name, e)),
        };
    };
    let mut changes = Vec::new();
    if current.param_type != want.param_type {
        changes.push(format!("type: {} → {}", current.param_type, want.param_type));
    } else if current.value != value {
        changes.push(format!("value: {:?} → {value:?}", current.value));
    }
    let missing = super::missing_tags(&current.tags, &want.tags);
    if !missing.is_empty() {
        changes.push("tags".into());
    }
    if ctx.dry_run || changes.is_empty() {
        return Ok(Done::from_changes(false, changes));
    }
    if current.param_type != want.param_type || current.value != value {
        c.put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::from(want.param_type.as_str()))
            .description(&want.description)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| sdk("PutParameter", name, e))?;
    }
    if !missing.is_empty() {
        c.add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(tags(&missing)))
            .send()
            .await
            .map_err(|e| sdk("AddTagsToResource", name, e))?;
    }
    Ok(Done::from_changes(false, changes))
}

#[tracing::instrument(skip_all, fields(parameter = name))]
pub async fn delete(ctx: &Ctx, name: &str) -> Result<Done, AwsError> {
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    match ctx.clients.ssm.delete_parameter().name(name).send().await {
        Ok(_) => Ok(Done::new(Outcome::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => Ok(Done::new(Outcome::Absent)),
        Err(e) => Err(sdk("DeleteParameter", name, e)),
    }
}

/// SSM parameters. A value given as `valueFrom` is another resource's output (a user pool's ID,
/// a client's): that resource is a dependency, done before.
pub struct Parameter;

impl ObservedState for Observed {
    fn ownership(&self) -> Option<&Tags> {
        Some(&self.tags)
    }
}

impl Provisioner for Parameter {
    const KIND: Kind = Kind::SsmParameter;
    type Want = SsmParameter;
    type Observed = Observed;

    fn want(settings: &Settings) -> Option<&SsmParameter> {
        if let Settings::SsmParameter(w) = settings { Some(w) } else { None }
    }

    async fn observe(ctx: &Ctx, name: &str, _: &SsmParameter, _: &Deps<'_>) -> Result<Option<Observed>, AwsError> {
        observe(ctx, name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &SsmParameter,
        current: Option<Observed>,
        deps: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        let value = match &want.value {
            ParamValue::Literal { value } => value.as_str(),
            ParamValue::From { value_from } => match deps.output(&value_from.resource, &value_from.field) {
                Some(v) => v,
                // In a dry run the source may not exist yet: it would be created first.
                None if ctx.dry_run => return Ok(Done::new(Outcome::Created)),
                None => {
                    return Err(AwsError::Missing {
                        resource: name.to_owned(),
                        message: format!("{} has no {} to store", value_from.resource, value_from.field),
                    });
                }
            },
        };
        ensure(ctx, name, want, value, current).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        _: &SsmParameter,
        _: Option<Observed>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        delete(ctx, name).await
    }
}
