//! DynamoDB tables (seed 000, step 1): on-demand billing, the plan's key schema, tags.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableDescription, TableStatus,
    Tag,
};

use super::Ctx;
use super::error::{AwsError, sdk};
use crate::model::outcome::{Done, Outcome};
use crate::model::plan::{DynamoTable, KeyAttribute, Kind, Settings, Tags};
use crate::provision::provisioner::{Deps, Observed as ObservedState, Provisioner};

/// The state of a table that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub arn: String,
    pub status: String,
    pub billing_mode: String,
    /// (name, HASH|RANGE)
    pub keys: Vec<(String, String)>,
    pub tags: Tags,
}

/// Reads the table and its tags together: the tags are listed by the ARN the table must have,
/// and again by the ARN it reports when that differs (another account than the profile's).
pub async fn observe(ctx: &Ctx, name: &str) -> Result<Option<Observed>, AwsError> {
    let c = &ctx.clients.dynamodb;
    let expected = ctx.arn("dynamodb", &format!("table/{name}"));
    let (table, tags) = super::both(
        ctx.serial,
        c.describe_table().table_name(name).send(),
        c.list_tags_of_resource().resource_arn(&expected).send(),
    )
    .await;
    let table = match table {
        Ok(out) => out.table.map(observed),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => None,
        Err(e) => return Err(sdk("DescribeTable", name, e)),
    };
    let Some(mut table) = table else { return Ok(None) };
    table.tags = match tags {
        Ok(t) if table.arn == expected => tag_map(t.tags),
        _ => {
            let t = c
                .list_tags_of_resource()
                .resource_arn(&table.arn)
                .send()
                .await
                .map_err(|e| sdk("ListTagsOfResource", name, e))?;
            tag_map(t.tags)
        }
    };
    Ok(Some(table))
}

fn tag_map(tags: Option<Vec<Tag>>) -> Tags {
    tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect()
}

fn observed(t: TableDescription) -> Observed {
    Observed {
        arn: t.table_arn.unwrap_or_default(),
        status: t.table_status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        // Tables created on demand report a billing mode summary; absent means provisioned.
        billing_mode: t
            .billing_mode_summary
            .and_then(|b| b.billing_mode)
            .map(|b| b.as_str().to_owned())
            .unwrap_or_else(|| "PROVISIONED".into()),
        keys: t
            .key_schema
            .unwrap_or_default()
            .into_iter()
            .map(|k| (k.attribute_name, k.key_type.as_str().to_owned()))
            .collect(),
        tags: Tags::new(),
    }
}

/// What must change for `current` to match `want`. Errors when the key schema differs: keys
/// cannot change in place, and replacing the table would lose its data.
pub fn changes(name: &str, current: &Observed, want: &DynamoTable) -> Result<Vec<String>, AwsError> {
    let want_keys =
        vec![(want.partition_key.name.clone(), "HASH".to_owned()), (want.sort_key.name.clone(), "RANGE".to_owned())];
    if current.keys != want_keys {
        return Err(AwsError::conflict(
            name,
            format!(
                "the table exists with key schema {:?}, the plan wants {:?}; keys cannot change in place. \
                 Move its data and delete the table, or rename the capability",
                current.keys, want_keys
            ),
        ));
    }
    let mut out = Vec::new();
    if current.billing_mode != want.billing_mode {
        out.push(format!("billing mode: {} → {}", current.billing_mode, want.billing_mode));
    }
    if !super::missing_tags(&current.tags, &want.tags).is_empty() {
        out.push("tags".into());
    }
    Ok(out)
}

fn attr(k: &KeyAttribute) -> Result<AttributeDefinition, AwsError> {
    AttributeDefinition::builder()
        .attribute_name(&k.name)
        .attribute_type(ScalarAttributeType::from(k.attr_type.as_str()))
        .build()
        .map_err(|e| AwsError::conflict(&k.name, e.to_string()))
}

fn key(k: &KeyAttribute, t: KeyType) -> Result<KeySchemaElement, AwsError> {
    KeySchemaElement::builder()
        .attribute_name(&k.name)
        .key_type(t)
        .build()
        .map_err(|e| AwsError::conflict(&k.name, e.to_string()))
}

#[tracing::instrument(skip_all, fields(table = name))]
/// `pre`: the table as observed moments ago (the executor reads every resource up front), or
/// `None` to read it now.
pub async fn ensure(ctx: &Ctx, name: &str, want: &DynamoTable, current: Option<Observed>) -> Result<Done, AwsError> {
    let c = &ctx.clients.dynamodb;
    let Some(current) = current else {
        if ctx.dry_run {
            return Ok(Done::new(Outcome::Created));
        }
        let tags: Vec<Tag> =
            want.tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
        let out = c
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(&want.partition_key)?)
            .attribute_definitions(attr(&want.sort_key)?)
            .key_schema(key(&want.partition_key, KeyType::Hash)?)
            .key_schema(key(&want.sort_key, KeyType::Range)?)
            .set_tags(Some(tags))
            .send()
            .await;
        match out {
            Ok(_) => {}
            // Created concurrently (another apply): converge like an existing table.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(e) => return Err(sdk("CreateTable", name, e)),
        }
        let active = wait_active(ctx, name).await?;
        return Ok(Done::new(Outcome::Created).output("arn", active.arn));
    };
    let todo = changes(name, &current, want)?;
    if ctx.dry_run || todo.is_empty() {
        return Ok(Done::from_changes(false, todo).output("arn", current.arn));
    }
    if current.status != TableStatus::Active.as_str() {
        wait_active(ctx, name).await?;
    }
    if current.billing_mode != want.billing_mode {
        c.update_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| sdk("UpdateTable", name, e))?;
    }
    let missing = super::missing_tags(&current.tags, &want.tags);
    if !missing.is_empty() {
        let tags: Vec<Tag> =
            missing.iter().filter_map(|(k, v)| Tag::builder().key(*k).value(*v).build().ok()).collect();
        c.tag_resource()
            .resource_arn(&current.arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| sdk("TagResource", name, e))?;
    }
    Ok(Done::from_changes(false, todo).output("arn", current.arn))
}

/// Waits (bounded) until the table is ACTIVE.
async fn wait_active(ctx: &Ctx, name: &str) -> Result<Observed, AwsError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut delay = Duration::from_millis(50);
    loop {
        if let Some(t) = observe(ctx, name).await?
            && t.status == TableStatus::Active.as_str()
        {
            return Ok(t);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(AwsError::Timeout { op: "WaitTableActive", resource: name.to_owned() });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

#[tracing::instrument(skip_all, fields(table = name))]
pub async fn delete(ctx: &Ctx, name: &str) -> Result<Done, AwsError> {
    if observe(ctx, name).await?.is_none() {
        return Ok(Done::new(Outcome::Absent));
    }
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    match ctx.clients.dynamodb.delete_table().table_name(name).send().await {
        Ok(_) => Ok(Done::new(Outcome::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
            Ok(Done::new(Outcome::Absent))
        }
        Err(e) => Err(sdk("DeleteTable", name, e)),
    }
}

/// DynamoDB tables.
pub struct Table;

impl ObservedState for Observed {
    fn ownership(&self) -> Option<&Tags> {
        Some(&self.tags)
    }
}

impl Provisioner for Table {
    const KIND: Kind = Kind::DynamoTable;
    type Want = DynamoTable;
    type Observed = Observed;

    fn want(settings: &Settings) -> Option<&DynamoTable> {
        if let Settings::DynamoTable(w) = settings { Some(w) } else { None }
    }

    async fn observe(ctx: &Ctx, name: &str, _: &DynamoTable, _: &Deps<'_>) -> Result<Option<Observed>, AwsError> {
        observe(ctx, name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &DynamoTable,
        current: Option<Observed>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure(ctx, name, want, current).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        _: &DynamoTable,
        _: Option<Observed>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        delete(ctx, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> DynamoTable {
        DynamoTable {
            region: "us-east-1".into(),
            billing_mode: "PAY_PER_REQUEST".into(),
            partition_key: KeyAttribute { name: "pk".into(), attr_type: "S".into() },
            sort_key: KeyAttribute { name: "sk".into(), attr_type: "S".into() },
            tags: Default::default(),
        }
    }

    fn current(billing: &str, keys: &[(&str, &str)]) -> Observed {
        Observed {
            arn: "arn".into(),
            status: "ACTIVE".into(),
            billing_mode: billing.into(),
            keys: keys.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            tags: Tags::new(),
        }
    }

    #[test]
    fn equal_tables_need_nothing() {
        let c = current("PAY_PER_REQUEST", &[("pk", "HASH"), ("sk", "RANGE")]);
        assert!(changes("t", &c, &want()).unwrap().is_empty());
    }

    #[test]
    fn billing_mode_drift_is_repaired() {
        let c = current("PROVISIONED", &[("pk", "HASH"), ("sk", "RANGE")]);
        assert_eq!(changes("t", &c, &want()).unwrap(), ["billing mode: PROVISIONED → PAY_PER_REQUEST"]);
    }

    #[test]
    fn a_different_key_schema_is_refused_not_replaced() {
        let c = current("PAY_PER_REQUEST", &[("id", "HASH")]);
        let err = changes("t", &c, &want()).unwrap_err().to_string();
        assert!(err.contains("keys cannot change in place"), "{err}");
    }
}
