//! One resource, one provisioner: the only place that maps a plan kind to its AWS module.

use super::{Op, Outputs};
use crate::aws::{AwsError, Ctx, Done, cognito, dynamodb, glue, iam, s3, secrets, ssm};
use crate::plan::{Kind, ParamValue, Resource, Settings, id};

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

pub(super) async fn run(ctx: &Ctx, r: &Resource, outputs: &Outputs, op: Op) -> Result<Done, AwsError> {
    let name = r.name.as_str();
    match (&r.settings, op) {
        (Settings::DynamoTable(s), Op::Ensure) => dynamodb::ensure(ctx, name, s).await,
        (Settings::DynamoTable(_), Op::Delete) => dynamodb::delete(ctx, name).await,
        (Settings::S3Bucket(s), Op::Ensure) => s3::ensure(ctx, name, s).await,
        (Settings::S3Bucket(_), Op::Delete) => s3::delete(ctx, name).await,
        (Settings::GlueDatabase(s), Op::Ensure) => glue::ensure_database(ctx, name, s).await,
        (Settings::GlueDatabase(_), Op::Delete) => glue::delete_database(ctx, name).await,
        (Settings::GlueTable(s), Op::Ensure) => glue::ensure_table(ctx, name, s).await,
        (Settings::GlueTable(s), Op::Delete) => glue::delete_table(ctx, &s.database, name).await,
        (Settings::SsmParameter(s), Op::Ensure) => {
            let value = match &s.value {
                ParamValue::Literal { value } => value.clone(),
                ParamValue::From { value_from } => match output(outputs, &value_from.resource, &value_from.field) {
                    Some(v) => v.to_owned(),
                    // In a dry run the source may not exist yet: it would be created first.
                    None if ctx.dry_run => return Ok(Done::new(crate::aws::Action::Created)),
                    None => {
                        return Err(AwsError::Missing {
                            resource: name.to_owned(),
                            message: format!("{} has no {} to store", value_from.resource, value_from.field),
                        });
                    }
                },
            };
            ssm::ensure(ctx, name, s, &value).await
        }
        (Settings::SsmParameter(_), Op::Delete) => ssm::delete(ctx, name).await,
        (Settings::Secret(s), Op::Ensure) => secrets::ensure(ctx, name, s).await,
        (Settings::Secret(_), Op::Delete) => secrets::delete(ctx, name).await,
        (Settings::IamOidcProvider(s), Op::Ensure) => iam::ensure_oidc_provider(ctx, name, s).await,
        (Settings::IamOidcProvider(_), Op::Delete) => iam::delete_oidc_provider(ctx, name).await,
        (Settings::IamRole(s), Op::Ensure) => {
            let registered = r
                .depends_on
                .iter()
                .find(|d| d.starts_with(Kind::IamOidcProvider.as_str()))
                .and_then(|d| output(outputs, d, "arn"));
            iam::ensure_role(ctx, name, s, registered).await
        }
        (Settings::IamRole(_), Op::Delete) => iam::delete_role(ctx, name).await,
        (Settings::CognitoUserPool(s), Op::Ensure) => cognito::ensure_pool(ctx, name, s).await,
        (Settings::CognitoUserPool(_), Op::Delete) => cognito::delete_pool(ctx, name).await,
        (Settings::CognitoUserPoolClient(s), op) => {
            let pool = pool_id(ctx, outputs, &s.user_pool).await?;
            match op {
                Op::Ensure => cognito::ensure_client(ctx, name, pool.as_deref(), s).await,
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
