//! Glue (seed 000, step 3): the capability's database and its call-records table, stored as
//! Parquet under the call-data bucket.

use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, Table as GlueApiTable, TableInput};

use super::Ctx;
use super::error::{AwsError, sdk};
use crate::model::outcome::{Done, Outcome};
use crate::model::ownership::{Claim, Owner};
use crate::model::plan::{GlueColumn, GlueDatabase, GlueTable, Kind, Settings, Tags};
use crate::provision::provisioner::{Deps, Observed as ObservedState, Provisioner};

fn input_error(name: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::conflict(name, format!("invalid Glue input: {e}"))
}

/// A database as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedDatabase {
    pub description: String,
    pub tags: Tags,
}

/// Reads the database and its tags together (tags by the ARN the database must have).
pub async fn observe_database(ctx: &Ctx, name: &str) -> Result<Option<ObservedDatabase>, AwsError> {
    let c = &ctx.clients.glue;
    let arn = ctx.arn("glue", &format!("database/{name}"));
    let (db, tags) =
        super::both(ctx.serial, c.get_database().name(name).send(), c.get_tags().resource_arn(&arn).send()).await;
    let description = match db {
        Ok(out) => out.database.and_then(|d| d.description).unwrap_or_default(),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => return Ok(None),
        Err(e) => return Err(sdk("GetDatabase", name, e)),
    };
    let tags = match tags {
        Ok(t) => t.tags.unwrap_or_default().into_iter().collect(),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => Tags::new(),
        Err(e) => return Err(sdk("GetTags", name, e)),
    };
    Ok(Some(ObservedDatabase { description, tags }))
}

#[tracing::instrument(skip_all, fields(database = name))]
pub async fn ensure_database(
    ctx: &Ctx,
    name: &str,
    want: &GlueDatabase,
    observed: Option<ObservedDatabase>,
) -> Result<Done, AwsError> {
    let c = &ctx.clients.glue;
    let input =
        DatabaseInput::builder().name(name).description(&want.description).build().map_err(|e| input_error(name, e))?;
    let Some(current) = observed else {
        if ctx.dry_run {
            return Ok(Done::new(Outcome::Created));
        }
        return match c
            .create_database()
            .database_input(input)
            .set_tags(Some(want.tags.clone().into_iter().collect()))
            .send()
            .await
        {
            Ok(_) => Ok(Done::new(Outcome::Created)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_already_exists_exception()) => {
                Ok(Done::new(Outcome::Unchanged))
            }
            Err(e) => Err(sdk("CreateDatabase", name, e)),
        };
    };
    let mut changes = Vec::new();
    if current.description != want.description {
        changes.push(format!("description: {:?} → {:?}", current.description, want.description));
    }
    let missing = super::missing_tags(&current.tags, &want.tags);
    if !missing.is_empty() {
        changes.push("tags".into());
    }
    if ctx.dry_run || changes.is_empty() {
        return Ok(Done::from_changes(false, changes));
    }
    if current.description != want.description {
        c.update_database()
            .name(name)
            .database_input(input)
            .send()
            .await
            .map_err(|e| sdk("UpdateDatabase", name, e))?;
    }
    if !missing.is_empty() {
        c.tag_resource()
            .resource_arn(ctx.arn("glue", &format!("database/{name}")))
            .set_tags_to_add(Some(missing.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()))
            .send()
            .await
            .map_err(|e| sdk("TagResource", name, e))?;
    }
    Ok(Done::from_changes(false, changes))
}

/// Deletes the database, unless it holds tables that are not `owner`'s: Glue deletes a database
/// with every table in it.
#[tracing::instrument(skip_all, fields(database = name))]
pub async fn delete_database(ctx: &Ctx, name: &str, owner: &Owner) -> Result<Done, AwsError> {
    let c = &ctx.clients.glue;
    let tables = match c.get_tables().database_name(name).send().await {
        Ok(t) => t.table_list.unwrap_or_default(),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => {
            return Ok(Done::new(Outcome::Absent));
        }
        Err(e) => return Err(sdk("GetTables", name, e)),
    };
    let others: Vec<&str> = tables
        .iter()
        .filter(|t| {
            let params = t.parameters.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()));
            owner.claim(params) != Claim::Ours
        })
        .map(|t| t.name.as_str())
        .collect();
    if !others.is_empty() {
        return Ok(Done::with_changes(
            Outcome::Retained,
            vec![format!("kept: it holds tables nexus-dev did not create ({})", others.join(", "))],
        ));
    }
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    match c.delete_database().name(name).send().await {
        Ok(_) => Ok(Done::new(Outcome::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => {
            Ok(Done::new(Outcome::Absent))
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
    /// Table parameters, which hold its ownership (Glue tables take no tags).
    pub parameters: Tags,
}

fn observed(t: GlueApiTable) -> Observed {
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
        parameters: t.parameters.unwrap_or_default().into_iter().collect(),
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
        parameters: want.parameters.clone(),
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
    if !super::missing_tags(&current.parameters, &w.parameters).is_empty() {
        out.push("parameters".into());
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

/// The table as the plan wants it; `kept` are the parameters it has now (people's are kept).
fn table_input(name: &str, want: &GlueTable, kept: &Tags) -> Result<TableInput, AwsError> {
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
        .set_parameters(Some(kept.iter().chain(&want.parameters).map(|(k, v)| (k.clone(), v.clone())).collect()))
        .build()
        .map_err(|e| input_error(name, e))
}

#[tracing::instrument(skip_all, fields(table = name))]
pub async fn ensure_table(
    ctx: &Ctx,
    name: &str,
    want: &GlueTable,
    observed: Option<Observed>,
) -> Result<Done, AwsError> {
    let c = &ctx.clients.glue;
    match observed {
        None if ctx.dry_run => Ok(Done::new(Outcome::Created)),
        None => match c
            .create_table()
            .database_name(&want.database)
            .table_input(table_input(name, want, &Tags::new())?)
            .send()
            .await
        {
            Ok(_) => Ok(Done::new(Outcome::Created)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_already_exists_exception()) => {
                Ok(Done::new(Outcome::Unchanged))
            }
            Err(e) => Err(sdk("CreateTable", name, e)),
        },
        Some(current) => {
            let todo = changes(&current, want);
            if !ctx.dry_run && !todo.is_empty() {
                c.update_table()
                    .database_name(&want.database)
                    .table_input(table_input(name, want, &current.parameters)?)
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
        return Ok(Done::new(Outcome::Absent));
    }
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    match ctx.clients.glue.delete_table().database_name(database).name(name).send().await {
        Ok(_) => Ok(Done::new(Outcome::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => {
            Ok(Done::new(Outcome::Absent))
        }
        Err(e) => Err(sdk("DeleteTable", name, e)),
    }
}

/// Glue databases. One holding tables of others is kept (`delete_database`).
pub struct Database;

impl ObservedState for ObservedDatabase {
    fn ownership(&self) -> Option<&Tags> {
        Some(&self.tags)
    }
}

impl Provisioner for Database {
    const KIND: Kind = Kind::GlueDatabase;
    type Want = GlueDatabase;
    type Observed = ObservedDatabase;

    fn want(settings: &Settings) -> Option<&GlueDatabase> {
        if let Settings::GlueDatabase(w) = settings { Some(w) } else { None }
    }

    async fn observe(
        ctx: &Ctx,
        name: &str,
        _: &GlueDatabase,
        _: &Deps<'_>,
    ) -> Result<Option<ObservedDatabase>, AwsError> {
        observe_database(ctx, name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &GlueDatabase,
        current: Option<ObservedDatabase>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure_database(ctx, name, want, current).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        _: &GlueDatabase,
        _: Option<ObservedDatabase>,
        deps: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        delete_database(ctx, name, deps.owner).await
    }
}

/// Glue tables, in their database.
pub struct Table;

impl ObservedState for Observed {
    fn ownership(&self) -> Option<&Tags> {
        Some(&self.parameters)
    }
}

impl Provisioner for Table {
    const KIND: Kind = Kind::GlueTable;
    type Want = GlueTable;
    type Observed = Observed;

    fn want(settings: &Settings) -> Option<&GlueTable> {
        if let Settings::GlueTable(w) = settings { Some(w) } else { None }
    }

    async fn observe(ctx: &Ctx, name: &str, want: &GlueTable, _: &Deps<'_>) -> Result<Option<Observed>, AwsError> {
        observe_table(ctx, &want.database, name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &GlueTable,
        current: Option<Observed>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure_table(ctx, name, want, current).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        want: &GlueTable,
        _: Option<Observed>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        delete_table(ctx, &want.database, name).await
    }
}
