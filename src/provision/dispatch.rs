//! One resource, one provisioner: the only place that maps a plan kind to its AWS module.

use super::{Op, Outputs};
use crate::model::outcome::{Done, Outcome};
use crate::model::ownership::{Claim, Owner, why_ours};
use crate::model::plan::{Kind, ParamValue, Resource, Settings, Tags, id};
use crate::provision::aws::{AwsError, Ctx, cognito, dynamodb, glue, iam, s3, secrets, ssm};

fn output<'a>(outputs: &'a Outputs, resource: &str, key: &str) -> Option<&'a str> {
    outputs.get(resource).and_then(|o| o.iter().find(|(k, _)| *k == key)).map(|(_, v)| v.as_str())
}

/// The user pool's ID: from this run when it ran, else looked up by name.
async fn pool_id(ctx: &Ctx, outputs: &Outputs, pool: &str) -> Result<Option<String>, AwsError> {
    match output(outputs, &id(Kind::CognitoUserPool, pool), "id") {
        Some(v) => Ok(Some(v.to_owned())),
        None => cognito::find_pool(ctx, pool).await,
    }
}

/// The state of a resource read before the run (`None` inside: it does not exist).
#[derive(Debug, Clone)]
pub(super) enum Observation {
    Table(Option<dynamodb::Observed>),
    Bucket(Option<s3::Observed>),
    Database(Option<glue::ObservedDatabase>),
    GlueTable(Option<glue::Observed>),
    Parameter(Option<ssm::Observed>),
    Secret(Option<secrets::Observed>),
    Provider(Option<(String, Vec<String>)>),
    Role(Option<iam::Observed>),
    Pool(Option<cognito::ObservedPool>),
}

impl Observation {
    /// The ownership record of the resource: its tags (a Glue table's parameters). `None` when
    /// it does not exist, and for the OIDC provider, which every capability of a cluster shares.
    fn ownership(&self) -> Option<&Tags> {
        match self {
            Observation::Table(t) => t.as_ref().map(|t| &t.tags),
            Observation::Bucket(b) => b.as_ref().map(|b| &b.tags),
            Observation::Database(d) => d.as_ref().map(|d| &d.tags),
            Observation::GlueTable(t) => t.as_ref().map(|t| &t.parameters),
            Observation::Parameter(p) => p.as_ref().map(|p| &p.tags),
            Observation::Secret(s) => s.as_ref().map(|s| &s.tags),
            Observation::Role(r) => r.as_ref().map(|r| &r.tags),
            Observation::Pool(p) => p.as_ref().map(|p| &p.tags),
            Observation::Provider(_) => None,
        }
    }

    fn exists(&self) -> bool {
        match self {
            Observation::Table(t) => t.is_some(),
            Observation::Bucket(b) => b.is_some(),
            Observation::Database(d) => d.is_some(),
            Observation::GlueTable(t) => t.is_some(),
            Observation::Parameter(p) => p.is_some(),
            Observation::Secret(s) => s.as_ref().is_some_and(|s| !s.deleted),
            Observation::Role(r) => r.is_some(),
            Observation::Pool(p) => p.is_some(),
            Observation::Provider(p) => p.is_some(),
        }
    }
}

fn claim_of(owner: &Owner, tags: &Tags) -> Claim {
    owner.claim(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Whose the resource is, when that can be told: from its own record, or, for what lives
/// inside a user pool (clients, domain, groups), from the pool's.
async fn claim(
    ctx: &Ctx,
    r: &Resource,
    observed: Option<&Observation>,
    owner: &Owner,
    op: Op,
) -> Result<Option<Claim>, AwsError> {
    if let Some(o) = observed {
        // S3 takes a bucket's tags in a second call, so an apply killed between the two leaves
        // an empty bucket without tags. Converging takes it on (it holds nothing to lose);
        // deleting does not (it might still be somebody's).
        if let Observation::Bucket(Some(b)) = o
            && op == Op::Ensure
            && b.tags.is_empty()
            && b.empty == Some(true)
        {
            return Ok(Some(Claim::Ours));
        }
        return Ok(o.ownership().map(|t| claim_of(owner, t)));
    }
    let pool = match &r.settings {
        Settings::CognitoUserPoolClient(s) => &s.user_pool,
        Settings::CognitoUserPoolDomain(s) => &s.user_pool,
        Settings::CognitoGroup(s) => &s.user_pool,
        _ => return Ok(None),
    };
    Ok(cognito::observe_pool(ctx, pool).await?.map(|p| claim_of(owner, &p.tags)))
}

/// Who may change or delete what (issue #11): this capability's resources are converged and
/// deleted; another capability's never; somebody else's only taken over on `--adopt`.
#[derive(Debug, Clone)]
pub(super) struct Ownership<'a> {
    pub owner: &'a Owner,
    pub adopt: bool,
}

/// Reads a resource's state when that needs nothing from another resource. Every resource is
/// read at once at the start of an apply, so a warm apply costs about one round trip, not one
/// per level of the dependency graph.
pub(super) async fn observe(ctx: &Ctx, r: &Resource) -> Option<Result<Observation, AwsError>> {
    let name = r.name.as_str();
    Some(match &r.settings {
        Settings::DynamoTable(_) => dynamodb::observe(ctx, name).await.map(Observation::Table),
        Settings::S3Bucket(_) => s3::observe(ctx, name).await.map(Observation::Bucket),
        Settings::GlueDatabase(_) => glue::observe_database(ctx, name).await.map(Observation::Database),
        Settings::GlueTable(s) => glue::observe_table(ctx, &s.database, name).await.map(Observation::GlueTable),
        Settings::SsmParameter(_) => ssm::observe(ctx, name).await.map(Observation::Parameter),
        Settings::Secret(_) => secrets::observe(ctx, name).await.map(Observation::Secret),
        Settings::IamOidcProvider(s) => iam::observe_oidc_provider(ctx, &s.url).await.map(Observation::Provider),
        Settings::IamRole(s) => iam::observe(ctx, name, &s.policy_name).await.map(Observation::Role),
        Settings::CognitoUserPool(_) => cognito::observe_pool(ctx, name).await.map(Observation::Pool),
        _ => return None,
    })
}

/// What a run read up front, by resource id.
pub(super) type Observations = std::collections::HashMap<String, Observation>;

/// Converges or deletes one resource, after checking whose it is: nothing that is not this
/// capability's is changed (unless adopted) or deleted.
pub(super) async fn run(
    ctx: &Ctx,
    r: &Resource,
    outputs: &Outputs,
    op: Op,
    pre: Option<Observation>,
    hints: &HintSet,
    ownership: &Ownership<'_>,
) -> Result<Done, AwsError> {
    let pre = match pre {
        Some(p) => Some(p),
        None => observe(ctx, r).await.transpose()?,
    };
    let what = format!("{} {}", r.kind, r.name);
    let claim = match (&pre, op) {
        (Some(o), _) if !o.exists() => None,
        (None, Op::Ensure) => None,
        (observed, _) => claim(ctx, r, observed.as_ref(), ownership.owner, op).await?,
    };
    let mut adopted = false;
    if let Some(claim) = &claim {
        match op {
            Op::Ensure => {
                if let Some(why) = claim.refusal(&what, ownership.adopt) {
                    return Err(AwsError::NotOwned { resource: r.name.clone(), message: why });
                }
                adopted = *claim == Claim::Foreign;
            }
            Op::Delete => {
                if let Some(why) = claim.kept() {
                    return Ok(Done::with_changes(Outcome::Retained, vec![why]));
                }
            }
        }
    }
    if op == Op::Delete && pre.as_ref().is_some_and(|o| !o.exists()) {
        return Ok(Done::new(Outcome::Absent));
    }
    let mut done = converge(ctx, r, outputs, op, pre, hints, ownership.owner).await?;
    if adopted {
        done.changes.insert(0, "adopted: it had no nexus-dev ownership (--adopt)".into());
        if done.outcome == Outcome::Unchanged {
            done.outcome = Outcome::Updated;
        }
    }
    if op == Op::Delete && done.outcome == Outcome::Deleted {
        done.changes.insert(0, why_ours(ownership.owner));
    }
    Ok(done)
}

async fn converge(
    ctx: &Ctx,
    r: &Resource,
    outputs: &Outputs,
    op: Op,
    pre: Option<Observation>,
    hints: &HintSet,
    owner: &Owner,
) -> Result<Done, AwsError> {
    let name = r.name.as_str();
    match (&r.settings, op) {
        (Settings::DynamoTable(s), Op::Ensure) => {
            dynamodb::ensure(ctx, name, s, pre.and_then(|p| if let Observation::Table(t) = p { Some(t) } else { None }))
                .await
        }
        (Settings::DynamoTable(_), Op::Delete) => dynamodb::delete(ctx, name).await,
        (Settings::S3Bucket(s), Op::Ensure) => {
            s3::ensure(ctx, name, s, pre.and_then(|p| if let Observation::Bucket(b) = p { Some(b) } else { None }))
                .await
        }
        (Settings::S3Bucket(_), Op::Delete) => s3::delete(ctx, name).await,
        (Settings::GlueDatabase(s), Op::Ensure) => {
            glue::ensure_database(
                ctx,
                name,
                s,
                pre.and_then(|p| if let Observation::Database(d) = p { Some(d) } else { None }),
            )
            .await
        }
        (Settings::GlueDatabase(_), Op::Delete) => glue::delete_database(ctx, name, owner).await,
        (Settings::GlueTable(s), Op::Ensure) => {
            glue::ensure_table(
                ctx,
                name,
                s,
                pre.and_then(|p| if let Observation::GlueTable(t) = p { Some(t) } else { None }),
            )
            .await
        }
        (Settings::GlueTable(s), Op::Delete) => glue::delete_table(ctx, &s.database, name).await,
        (Settings::SsmParameter(s), Op::Ensure) => {
            let value = match &s.value {
                ParamValue::Literal { value } => value.clone(),
                ParamValue::From { value_from } => match output(outputs, &value_from.resource, &value_from.field) {
                    Some(v) => v.to_owned(),
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
            let pre = pre.and_then(|p| if let Observation::Parameter(v) = p { Some(v) } else { None });
            ssm::ensure(ctx, name, s, &value, pre).await
        }
        (Settings::SsmParameter(_), Op::Delete) => ssm::delete(ctx, name).await,
        (Settings::Secret(s), Op::Ensure) => {
            secrets::ensure(ctx, name, s, pre.and_then(|p| if let Observation::Secret(v) = p { Some(v) } else { None }))
                .await
        }
        (Settings::Secret(_), Op::Delete) => secrets::delete(ctx, name).await,
        (Settings::IamOidcProvider(s), Op::Ensure) => {
            let pre = pre.and_then(|p| if let Observation::Provider(v) = p { Some(v) } else { None });
            iam::ensure_oidc_provider(ctx, name, s, pre).await
        }
        (Settings::IamOidcProvider(_), Op::Delete) => iam::delete_oidc_provider(ctx, name).await,
        (Settings::IamRole(s), Op::Ensure) => {
            let registered = r
                .depends_on
                .iter()
                .find(|d| d.starts_with(Kind::IamOidcProvider.as_str()))
                .and_then(|d| output(outputs, d, "arn"));
            let pre = pre.and_then(|p| if let Observation::Role(v) = p { Some(v) } else { None });
            iam::ensure_role(ctx, name, s, registered, pre).await
        }
        (Settings::IamRole(_), Op::Delete) => iam::delete_role(ctx, name).await,
        (Settings::CognitoUserPool(s), Op::Ensure) => {
            cognito::ensure_pool(
                ctx,
                name,
                s,
                pre.and_then(|p| if let Observation::Pool(v) = p { Some(v) } else { None }),
            )
            .await
        }
        (Settings::CognitoUserPool(_), Op::Delete) => cognito::delete_pool(ctx, name).await,
        (Settings::CognitoUserPoolClient(s), op) => {
            let pool = pool_id(ctx, outputs, &s.user_pool).await?;
            match op {
                Op::Ensure => {
                    cognito::ensure_client(ctx, name, pool.as_deref(), s, hints.get(&r.id()).map(String::as_str)).await
                }
                Op::Delete => cognito::delete_client(ctx, name, pool.as_deref()).await,
            }
        }
        (Settings::CognitoUserPoolDomain(s), op) => {
            let pool = pool_id(ctx, outputs, &s.user_pool).await?;
            match op {
                Op::Ensure => cognito::ensure_domain(ctx, name, pool.as_deref(), s).await,
                Op::Delete => cognito::delete_domain(ctx, name, pool.as_deref()).await,
            }
        }
        (Settings::CognitoGroup(s), op) => {
            let pool = pool_id(ctx, outputs, &s.user_pool).await?;
            match op {
                Op::Ensure => cognito::ensure_group(ctx, name, pool.as_deref(), s).await,
                Op::Delete => cognito::delete_group(ctx, name, pool.as_deref()).await,
            }
        }
        (
            Settings::Namespace(_)
            | Settings::ServiceAccount(_)
            | Settings::Deployment(_)
            | Settings::Service(_)
            | Settings::Ingress(_),
            _,
        ) => Err(AwsError::conflict(name, "not an AWS resource")),
    }
}

/// IDs a resource may try first, by resource id: the value of an SSM parameter nexus-dev
/// filled from that resource (`valueFrom`), as read up front.
pub(super) type HintSet = std::collections::HashMap<String, String>;

pub(super) fn hints(resources: &[&Resource], observations: &Observations) -> HintSet {
    resources
        .iter()
        .filter_map(|r| match &r.settings {
            Settings::SsmParameter(s) => match (&s.value, observations.get(&r.id())) {
                (ParamValue::From { value_from }, Some(Observation::Parameter(Some(p))))
                    if value_from.field == "id" =>
                {
                    Some((value_from.resource.clone(), p.value.clone()))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}
