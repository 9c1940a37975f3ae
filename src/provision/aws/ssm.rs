//! SSM parameters (seed 000, step 4): the plan's parameter set; a changed value is updated.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_ssm::types::{Parameter as SdkParameter, ParameterType, ResourceTypeForTagging, Tag};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

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

/// A parameter's value and type, as `GetParameter(s)` return them.
type Value = (String, String);

fn value_of(p: SdkParameter) -> Value {
    (p.value.unwrap_or_default(), p.r#type.map(|t| t.as_str().to_owned()).unwrap_or_default())
}

/// One call's worth of parameters read together; `Err` when the call failed (each parameter
/// is then read on its own, and fails with its own error).
type Batch = Shared<BoxFuture<'static, Result<Arc<HashMap<String, Value>>, ()>>>;

/// The parameters of a run's first wave, read ten at a time (`GetParameters`, the most the API
/// takes) instead of one call each. Each batch is made on the first read that needs it, in the
/// same wave as every other read. Tags have no such call: each parameter's are still read on
/// their own, at the same time.
pub struct Prefetch {
    batches: HashMap<String, Batch>,
}

impl std::fmt::Debug for Prefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetch").field("parameters", &self.batches.len()).finish()
    }
}

impl Prefetch {
    /// The most names one `GetParameters` takes.
    pub const BATCH: usize = 10;

    pub fn new(ctx: &Ctx, names: &[&str]) -> Self {
        let mut batches = HashMap::new();
        for chunk in names.chunks(Self::BATCH) {
            let (client, wanted) = (ctx.clients.ssm.clone(), chunk.iter().map(|n| (*n).to_owned()).collect());
            let batch = async move {
                let out = client.get_parameters().set_names(Some(wanted)).send().await.map_err(|_| ())?;
                // Names it does not know come back as `InvalidParameters`: absent from the map.
                let found = out.parameters.unwrap_or_default().into_iter();
                Ok(Arc::new(found.filter_map(|p| Some((p.name.clone()?, value_of(p)))).collect()))
            }
            .boxed()
            .shared();
            batches.extend(chunk.iter().map(|n| ((*n).to_owned(), batch.clone())));
        }
        Self { batches }
    }

    /// The value and type of `name` from its batch; `None` when it was not batched or the batch
    /// failed.
    async fn get(&self, name: &str) -> Option<Option<Value>> {
        let found = self.batches.get(name)?.clone().await.ok()?;
        Some(found.get(name).cloned())
    }
}

async fn read_one(ctx: &Ctx, name: &str) -> Result<Option<Value>, AwsError> {
    match ctx.clients.ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter.map(value_of)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => Ok(None),
        Err(e) => Err(sdk("GetParameter", name, e)),
    }
}

/// The current value, type and tags, or `None` when the parameter does not exist. The value
/// comes from `prefetch` when the parameter is in one of its batches.
pub async fn observe(ctx: &Ctx, name: &str, prefetch: Option<&Prefetch>) -> Result<Option<Observed>, AwsError> {
    let value = async {
        match prefetch {
            Some(p) => match p.get(name).await {
                Some(found) => Ok(found),
                None => read_one(ctx, name).await,
            },
            None => read_one(ctx, name).await,
        }
    };
    let tags =
        ctx.clients.ssm.list_tags_for_resource().resource_type(ResourceTypeForTagging::Parameter).resource_id(name);
    let (value, tags) = super::both(ctx.serial, value, tags.send()).await;
    let Some((value, param_type)) = value? else { return Ok(None) };
    let tags = match tags {
        Ok(t) => t.tag_list.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect(),
        // Deleted between the two reads: the next apply sees it gone.
        Err(e) if e.as_service_error().is_some_and(|e| e.is_invalid_resource_id()) => Tags::new(),
        Err(e) => return Err(sdk("ListTagsForResource", name, e)),
    };
    Ok(Some(Observed { value, param_type, tags }))
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

    async fn observe(ctx: &Ctx, name: &str, _: &SsmParameter, deps: &Deps<'_>) -> Result<Option<Observed>, AwsError> {
        observe(ctx, name, deps.ssm_prefetch()).await
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
