//! Glue (seed 000, step 3): the capability's database and its call-records table, stored as
//! Parquet under the call-data bucket.

use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, Table, TableInput};

use super::error::{AwsError, sdk};
use super::{Action, Ctx, Done};
use crate::plan::{GlueColumn, GlueDatabase, GlueTable};

fn input_error(name: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::conflict(name, format!("invalid Glue input: {e}"))
}

pub async fn observe_database(ctx: &Ctx, name: &str) -> Result<Option<String>, AwsError> {
    match ctx.clients.glue.get_database().name(name).send().await {
        Ok(out) => Ok(Some(out.database.and_then(|d| d.description).unwrap_or_default())),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => Ok(None),
        Err(e) => Err(sdk("GetDatabase", name, e)),
    }
}

#[tracing::instrument(skip_all, fields(database = name))]
pub async fn ensure_database(
    ctx: &Ctx,
    name: &str,
    want: &GlueDatabase,
    pre: Option<Option<String>>,
) -> Result<Done, AwsError> {
    let input =
        DatabaseInput::builder().name(name).description(&want.description).build().map_err(|e| input_error(name, e))?;
    let observed = match pre {
        Some(p) => p,
        None => observe_database(ctx, name).await?,
    };
    match observed {
        None if ctx.dry_run => Ok(Done::new(Action::Created)),
        None => match ctx.clients.glue.create_database().database_input(input).send().await {
            Ok(_) => Ok(Done::new(Action::Created)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_already_exists_exception()) => {
                Ok(Done::new(Action::Unchanged))
            }
            Err(e) => Err(sdk("CreateDatabase", name, e)),
        },
        Some(description) if description == want.description => Ok(Done::new(Action::Unchanged)),
        Some(description) => {
            let change = vec![format!("description: {description:?} → {:?}", want.description)];
            if !ctx.dry_run {
                ctx.clients
                    .glue
                    .update_database()
                    .name(name)
                    .database_input(input)
                    .send()
                    .await
                    .map_err(|e| sdk("UpdateDatabase", name, e))?;
            }
            Ok(Done::from_changes(false, change))
        }
    }
}

#[tracing::instrument(skip_all, fields(database = name))]
pub async fn delete_database(ctx: &Ctx, name: &str) -> Result<Done, AwsError> {
    if observe_database(ctx, name).await?.is_none() {
        return Ok(Done::new(Action::Absent));
    }
    if ctx.dry_run {
        return Ok(Done::new(Action::Deleted));
    }
    match ctx.clients.glue.delete_database().name(name).send().await {
        Ok(_) => Ok(Done::new(Action::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => {
            Ok(Done::new(Action::Absent))
        }
        Err(e) => Err(sdk("DeleteDatabase", name, e)),
    }
}

/// The parts of a table the plan decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub table_type: String,
    pub location: String,
    pub input_format: String,
    pub output_format: String,
    pub serde_library: String,
    pub columns: Vec<(String, String)>,
    pub partition_keys: Vec<(String, String)>,
}

fn observed(t: Table) -> Observed {
    let sd = t.storage_descriptor.unwrap_or_else(|| StorageDescriptor::builder().build());
    let cols = |c: Vec<Column>| c.into_iter().map(|c| (c.name, c.r#type.unwrap_or_default())).collect();
    Observed {
        table_type: t.table_type.unwrap_or_default(),
        location: sd.location.unwrap_or_default(),
        input_format: sd.input_format.unwrap_or_default(),
        output_format: sd.output_format.unwrap_or_default(),
        serde_library: sd.serde_info.and_then(|s| s.serialization_library).unwrap_or_default(),
        columns: cols(sd.columns.unwrap_or_default()),
        partition_keys: cols(t.partition_keys.unwrap_or_default()),
    }
}

fn wanted(want: &GlueTable) -> Observed {
    let cols = |c: &[GlueColumn]| c.iter().map(|c| (c.name.clone(), c.column_type.clone())).collect();
    Observed {
        table_type: want.table_type.clone(),
        location: want.location.clone(),
        input_format: want.input_format.clone(),
        output_format: want.output_format.clone(),
        serde_library: want.serde_library.clone(),
        columns: cols(&want.columns),
        partition_keys: cols(&want.partition_keys),
    }
}

pub fn changes(current: &Observed, want: &GlueTable) -> Vec<String> {
    let w = wanted(want);
    let mut out = Vec::new();
    let mut cmp = |what: &str, a: &String, b: &String| {
        if a != b {
            out.push(format!("{what}: {a:?} → {b:?}"));
        }
    };
    cmp("table type", &current.table_type, &w.table_type);
    cmp("location", &current.location, &w.location);
    cmp("input format", &current.input_format, &w.input_format);
    cmp("output format", &current.output_format, &w.output_format);
    cmp("serde", &current.serde_library, &w.serde_library);
    if current.columns != w.columns {
        out.push("columns".into());
    }
    if current.partition_keys != w.partition_keys {
        out.push("partition keys".into());
    }
    out
}

pub async fn observe_table(ctx: &Ctx, database: &str, name: &str) -> Result<Option<Observed>, AwsError> {
    match ctx.clients.glue.get_table().database_name(database).name(name).send().await {
        Ok(out) => Ok(out.table.map(observed)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => Ok(None),
        Err(e) => Err(sdk("GetTable", name, e)),
    }
}

fn table_input(name: &str, want: &GlueTable) -> Result<TableInput, AwsError> {
    let col = |c: &GlueColumn| Column::builder().name(&c.name).r#type(&c.column_type).comment(&c.comment).build();
    let columns = want.columns.iter().map(col).collect::<Result<Vec<_>, _>>().map_err(|e| input_error(name, e))?;
    let partitions =
        want.partition_keys.iter().map(col).collect::<Result<Vec<_>, _>>().map_err(|e| input_error(name, e))?;
    let sd = StorageDescriptor::builder()
        .set_columns(Some(columns))
        .location(&want.location)
        .input_format(&want.input_format)
        .output_format(&want.output_format)
        .serde_info(SerDeInfo::builder().serialization_library(&want.serde_library).build())
        .build();
    TableInput::builder()
        .name(name)
        .table_type(&want.table_type)
        .storage_descriptor(sd)
        .set_partition_keys(Some(partitions))
        .set_parameters(Some(want.parameters.clone().into_iter().collect()))
        .build()
        .map_err(|e| input_error(name, e))
}

#[tracing::instrument(skip_all, fields(table = name))]
pub async fn ensure_table(
    ctx: &Ctx,
    name: &str,
    want: &GlueTable,
    pre: Option<Option<Observed>>,
) -> Result<Done, AwsError> {
    let c = &ctx.clients.glue;
    let observed = match pre {
        Some(p) => p,
        None => observe_table(ctx, &want.database, name).await?,
    };
    match observed {
        None if ctx.dry_run => Ok(Done::new(Action::Created)),
        None => match c.create_table().database_name(&want.database).table_input(table_input(name, want)?).send().await
        {
            Ok(_) => Ok(Done::new(Action::Created)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_already_exists_exception()) => {
                Ok(Done::new(Action::Unchanged))
            }
            Err(e) => Err(sdk("CreateTable", name, e)),
        },
        Some(current) => {
            let todo = changes(&current, want);
            if !ctx.dry_run && !todo.is_empty() {
                c.update_table()
                    .database_name(&want.database)
                    .table_input(table_input(name, want)?)
                    .send()
                    .await
                    .map_err(|e| sdk("UpdateTable", name, e))?;
            }
            Ok(Done::from_changes(false, todo))
        }
    }
}

#[tracing::instrument(skip_all, fields(table = name))]
pub async fn delete_table(ctx: &Ctx, database: &str, name: &str) -> Result<Done, AwsError> {
    if observe_table(ctx, database, name).await?.is_none() {
        return Ok(Done::new(Action::Absent));
    }
    if ctx.dry_run {
        return Ok(Done::new(Action::Deleted));
    }
    match ctx.clients.glue.delete_table().database_name(database).name(name).send().await {
        Ok(_) => Ok(Done::new(Action::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => {
            Ok(Done::new(Action::Absent))
        }
        Err(e) => Err(sdk("DeleteTable", name, e)),
    }
}
