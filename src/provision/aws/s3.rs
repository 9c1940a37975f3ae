//! S3 buckets (seed 000, step 2): in the spec's region, default encryption, versioning, public
//! access blocked, tags. Deleting empties every object version and delete marker first.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
};

use super::Ctx;
use super::error::{AwsError, code_of, sdk};
use crate::model::outcome::{Done, Outcome};
use crate::model::plan::{Kind, S3Bucket, Settings, Tags};
use crate::provision::provisioner::{Deps, Observed as ObservedState, Provisioner};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    pub versioning: Option<String>,
    pub encryption: Option<String>,
    /// All four public-access-block settings on.
    pub public_access_blocked: bool,
    pub tags: BTreeMap<String, String>,
    /// Holds no object version and no delete marker. Only read when the bucket has no tags:
    /// an empty bucket without tags is what an interrupted create leaves behind (S3 takes the
    /// tags in a second call).
    pub empty: Option<bool>,
}

/// Reads the bucket's settings, all at once. `None` when the bucket does not exist.
pub async fn observe(ctx: &Ctx, name: &str) -> Result<Option<Observed>, AwsError> {
    let c = &ctx.clients.s3;
    let ((versioning, encryption), (pab, tags)) = super::both(
        ctx.serial,
        super::both(
            ctx.serial,
            c.get_bucket_versioning().bucket(name).send(),
            c.get_bucket_encryption().bucket(name).send(),
        ),
        super::both(
            ctx.serial,
            c.get_public_access_block().bucket(name).send(),
            c.get_bucket_tagging().bucket(name).send(),
        ),
    )
    .await;
    let versioning = match versioning {
        Ok(v) => v.status.map(|s| s.as_str().to_owned()),
        Err(e) if code_of(&e) == Some("NoSuchBucket") => return Ok(None),
        Err(e) if code_of(&e) == Some("PermanentRedirect") => return Err(elsewhere(ctx, name, &e)),
        Err(e) => match versioning_from_raw(&e) {
            Some(status) => status,
            None => return Err(sdk("GetBucketVersioning", name, e)),
        },
    };
    let encryption = match encryption {
        Ok(e) => e
            .server_side_encryption_configuration
            .and_then(|c| c.rules.into_iter().next())
            .and_then(|r| r.apply_server_side_encryption_by_default)
            .map(|d| d.sse_algorithm.as_str().to_owned()),
        Err(e) if code_of(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => None,
        Err(e) if code_of(&e) == Some("NoSuchBucket") => return Ok(None),
        Err(e) => return Err(sdk("GetBucketEncryption", name, e)),
    };
    let public_access_blocked = match pab {
        Ok(p) => p.public_access_block_configuration.is_some_and(|c| {
            c.block_public_acls == Some(true)
                && c.ignore_public_acls == Some(true)
                && c.block_public_policy == Some(true)
                && c.restrict_public_buckets == Some(true)
        }),
        Err(e) if code_of(&e) == Some("NoSuchPublicAccessBlockConfiguration") => false,
        Err(e) if code_of(&e) == Some("NoSuchBucket") => return Ok(None),
        Err(e) => return Err(sdk("GetPublicAccessBlock", name, e)),
    };
    let tags = match tags {
        Ok(t) => t.tag_set.into_iter().map(|t| (t.key, t.value)).collect(),
        Err(e) if code_of(&e) == Some("NoSuchTagSet") => BTreeMap::new(),
        Err(e) if code_of(&e) == Some("NoSuchBucket") => return Ok(None),
        Err(e) => return Err(sdk("GetBucketTagging", name, e)),
    };
    let empty = if tags.is_empty() {
        let page = c
            .list_object_versions()
            .bucket(name)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| sdk("ListObjectVersions", name, e))?;
        Some(page.versions().is_empty() && page.delete_markers().is_empty())
    } else {
        None
    };
    Ok(Some(Observed { versioning, encryption, public_access_blocked, tags, empty }))
}

/// The bucket lives in another region than the capability (its region changed): S3 answers
/// `PermanentRedirect` with the bucket's region in `x-amz-bucket-region`. A bucket cannot move,
/// and nexus-dev does not empty one to remake it: the user decides.
fn elsewhere<E>(
    ctx: &Ctx,
    name: &str,
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> AwsError {
    let theirs =
        err.raw_response().and_then(|r| r.headers().get("x-amz-bucket-region")).unwrap_or("another region").to_owned();
    let ours = ctx.clients.s3.config().region().map(|r| r.to_string()).unwrap_or_default();
    AwsError::conflict(
        name,
        format!(
            "the S3 bucket is in {theirs}, the capability is in {ours}, and a bucket cannot move between regions: set spec.region back to {theirs}, or empty and delete the bucket in {theirs}, then apply again"
        ),
    )
}

/// moto answers GetBucketVersioning with the XML root `GetBucketVersioningResponse` where S3
/// sends `VersioningConfiguration`; the SDK refuses the root, so a successful answer is read here.
fn versioning_from_raw(
    err: &aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningError>,
) -> Option<Option<String>> {
    let raw = err.raw_response()?;
    if raw.status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    if !body.contains("GetBucketVersioningResponse") {
        return None;
    }
    let status =
        body.split_once("<Status>").and_then(|(_, rest)| rest.split_once("</Status>")).map(|(s, _)| s.to_owned());
    Some(status)
}

/// One setting to converge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Versioning,
    Encryption,
    PublicAccessBlock,
    Tags,
}

pub fn changes(current: &Observed, want: &S3Bucket) -> Vec<(Change, String)> {
    let mut out = Vec::new();
    let shown = |o: &Option<String>| o.clone().unwrap_or_else(|| "off".into());
    if want.versioning && current.versioning.as_deref() != Some("Enabled") {
        out.push((Change::Versioning, format!("versioning: {} → Enabled", shown(&current.versioning))));
    }
    if current.encryption.as_deref() != Some(want.encryption.as_str()) {
        out.push((Change::Encryption, format!("encryption: {} → {}", shown(&current.encryption), want.encryption)));
    }
    if want.block_public_access && !current.public_access_blocked {
        out.push((Change::PublicAccessBlock, "public access block: off → on".into()));
    }
    // Tags of ours must be present; tags people added are kept.
    if want.tags.iter().any(|(k, v)| current.tags.get(k) != Some(v)) {
        out.push((Change::Tags, "tags".into()));
    }
    out
}

#[tracing::instrument(skip_all, fields(bucket = name))]
pub async fn ensure(ctx: &Ctx, name: &str, want: &S3Bucket, observed: Option<Observed>) -> Result<Done, AwsError> {
    let arn = format!("arn:aws:s3:::{name}");
    let (created, current) = match observed {
        Some(c) => (false, c),
        None if ctx.dry_run => return Ok(Done::new(Outcome::Created)),
        None => {
            create(ctx, name, want).await?;
            (true, Observed::default())
        }
    };
    let todo = changes(&current, want);
    if ctx.dry_run || todo.is_empty() {
        return Ok(Done::from_changes(created, todo.into_iter().map(|(_, s)| s).collect()).output("arn", arn));
    }
    let c = &ctx.clients.s3;
    // Each setting is its own call on the bucket: all of them at once, right after the create
    // (issue 20), or one after another for the benchmark's serial baseline.
    let mut calls: Vec<futures::future::BoxFuture<'_, Result<(), AwsError>>> = Vec::new();
    let current = &current;
    for (change, _) in &todo {
        calls.push(Box::pin(async move {
            match change {
                Change::Versioning => c
                    .put_bucket_versioning()
                    .bucket(name)
                    .versioning_configuration(
                        VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk("PutBucketVersioning", name, e))?,
                Change::Encryption => {
                    let default = ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(want.encryption.as_str()))
                        .build()
                        .map_err(|e| AwsError::conflict(name, e.to_string()))?;
                    let config = ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(default)
                                .build(),
                        )
                        .build()
                        .map_err(|e| AwsError::conflict(name, e.to_string()))?;
                    c.put_bucket_encryption()
                        .bucket(name)
                        .server_side_encryption_configuration(config)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| sdk("PutBucketEncryption", name, e))?
                }
                Change::PublicAccessBlock => c
                    .put_public_access_block()
                    .bucket(name)
                    .public_access_block_configuration(
                        PublicAccessBlockConfiguration::builder()
                            .block_public_acls(true)
                            .ignore_public_acls(true)
                            .block_public_policy(true)
                            .restrict_public_buckets(true)
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk("PutPublicAccessBlock", name, e))?,
                Change::Tags => {
                    let mut tags = current.tags.clone();
                    tags.extend(want.tags.clone());
                    let set: Vec<Tag> =
                        tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
                    let tagging = Tagging::builder()
                        .set_tag_set(Some(set))
                        .build()
                        .map_err(|e| AwsError::conflict(name, e.to_string()))?;
                    c.put_bucket_tagging()
                        .bucket(name)
                        .tagging(tagging)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| sdk("PutBucketTagging", name, e))?
                }
            }
            Ok(())
        }));
    }
    if ctx.serial {
        for call in calls {
            call.await?;
        }
    } else {
        futures::future::try_join_all(calls).await?;
    }
    // A new bucket reports only "created"; its settings are part of creating it.
    let changes = if created { Vec::new() } else { todo.into_iter().map(|(_, s)| s).collect() };
    Ok(Done::from_changes(created, changes).output("arn", arn))
}

async fn create(ctx: &Ctx, name: &str, want: &S3Bucket) -> Result<(), AwsError> {
    let mut req = ctx.clients.s3.create_bucket().bucket(name);
    // us-east-1 is the one region that takes no location constraint.
    if want.region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(want.region.as_str()))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_exists()) => Err(AwsError::conflict(
            name,
            "the bucket name is taken by another AWS account (bucket names are global); choose another capabilityName or environment",
        )),
        Err(e) => Err(sdk("CreateBucket", name, e)),
    }
}

/// Empties the bucket (every version and delete marker), then deletes it.
#[tracing::instrument(skip_all, fields(bucket = name))]
pub async fn delete(ctx: &Ctx, name: &str) -> Result<Done, AwsError> {
    let c = &ctx.clients.s3;
    match c.head_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) || code_of(&e) == Some("NoSuchBucket") => {
            return Ok(Done::new(Outcome::Absent));
        }
        Err(e) => return Err(sdk("HeadBucket", name, e)),
    }
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    let mut removed = 0usize;
    loop {
        let page = c
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| sdk("ListObjectVersions", name, e))?;
        let mut ids: Vec<ObjectIdentifier> = Vec::new();
        for v in page.versions() {
            if let Some(k) = v.key() {
                ids.extend(
                    ObjectIdentifier::builder().key(k).set_version_id(v.version_id().map(str::to_owned)).build().ok(),
                );
            }
        }
        for m in page.delete_markers() {
            if let Some(k) = m.key() {
                ids.extend(
                    ObjectIdentifier::builder().key(k).set_version_id(m.version_id().map(str::to_owned)).build().ok(),
                );
            }
        }
        if ids.is_empty() {
            break;
        }
        removed += ids.len();
        let batch = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| AwsError::conflict(name, e.to_string()))?;
        let out =
            c.delete_objects().bucket(name).delete(batch).send().await.map_err(|e| sdk("DeleteObjects", name, e))?;
        if let Some(err) = out.errors().first() {
            return Err(AwsError::Service {
                op: "DeleteObjects",
                resource: name.to_owned(),
                code: err.code().unwrap_or("Unknown").to_owned(),
                message: format!("{}: {}", err.key().unwrap_or(""), err.message().unwrap_or("")),
                retryable: true,
            });
        }
    }
    match c.delete_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e) if code_of(&e) == Some("NoSuchBucket") => return Ok(Done::new(Outcome::Absent)),
        Err(e) => return Err(sdk("DeleteBucket", name, e)),
    }
    let changes =
        if removed > 0 { vec![format!("emptied: {removed} object versions and delete markers")] } else { Vec::new() };
    Ok(Done::with_changes(Outcome::Deleted, changes))
}

/// S3 buckets.
pub struct Bucket;

impl ObservedState for Observed {
    fn ownership(&self) -> Option<&Tags> {
        Some(&self.tags)
    }

    fn leftover(&self) -> bool {
        self.tags.is_empty() && self.empty == Some(true)
    }
}

impl Provisioner for Bucket {
    const KIND: Kind = Kind::S3Bucket;
    type Want = S3Bucket;
    type Observed = Observed;

    fn want(settings: &Settings) -> Option<&S3Bucket> {
        if let Settings::S3Bucket(w) = settings { Some(w) } else { None }
    }

    async fn observe(ctx: &Ctx, name: &str, _: &S3Bucket, _: &Deps<'_>) -> Result<Option<Observed>, AwsError> {
        observe(ctx, name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &S3Bucket,
        current: Option<Observed>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure(ctx, name, want, current).await
    }

    async fn delete(ctx: &Ctx, name: &str, _: &S3Bucket, _: Option<Observed>, _: &Deps<'_>) -> Result<Done, AwsError> {
        delete(ctx, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> S3Bucket {
        S3Bucket {
            region: "eu-west-1".into(),
            encryption: "AES256".into(),
            versioning: true,
            block_public_access: true,
            tags: [("a".to_owned(), "1".to_owned())].into_iter().collect(),
        }
    }

    #[test]
    fn a_bare_bucket_needs_everything() {
        let c = changes(&Observed::default(), &want());
        let kinds: Vec<_> = c.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [Change::Versioning, Change::Encryption, Change::PublicAccessBlock, Change::Tags]);
    }

    #[test]
    fn a_converged_bucket_needs_nothing_and_foreign_tags_are_fine() {
        let mut tags = want().tags;
        tags.insert("team".into(), "data".into());
        let c = Observed {
            versioning: Some("Enabled".into()),
            encryption: Some("AES256".into()),
            public_access_blocked: true,
            tags,
            empty: None,
        };
        assert!(changes(&c, &want()).is_empty());
    }

    #[test]
    fn suspended_versioning_is_named() {
        let c = Observed {
            versioning: Some("Suspended".into()),
            encryption: Some("AES256".into()),
            public_access_blocked: true,
            tags: want().tags,
            empty: None,
        };
        assert_eq!(changes(&c, &want()), [(Change::Versioning, "versioning: Suspended → Enabled".to_owned())]);
    }
}
