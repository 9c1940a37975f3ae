//! AWS resources of the plan: seed 000 steps 1–6, plus optional Cognito.

use super::settings::*;
use super::{Ctx, Kind, Resource, id};
use crate::model::names::{BUCKET_PURPOSES, COGNITO_GROUPS, SECRET_TYPES, TABLE_PURPOSES};
use crate::model::spec::Phase;

/// Every table uses the generic single-table key schema: string partition key `pk` and string
/// sort key `sk`. The seed names the tables but not their keys; this schema serves any access
/// pattern without migrations (docs/design/plan.md).
pub const PARTITION_KEY: &str = "pk";
pub const SORT_KEY: &str = "sk";

/// Prefix of the call records inside the call-data bucket.
pub const CALL_RECORDS_PREFIX: &str = "call-records/";

pub(super) fn data_services(ctx: &Ctx<'_>, out: &mut Vec<Resource>) {
    let ds = &ctx.spec.data_services;
    let n = ctx.names;
    if ds.dynamodb.enabled {
        for purpose in TABLE_PURPOSES {
            let settings = DynamoTable {
                region: ctx.region().to_owned(),
                billing_mode: "PAY_PER_REQUEST".into(),
                partition_key: KeyAttribute { name: PARTITION_KEY.into(), attr_type: "S".into() },
                sort_key: KeyAttribute { name: SORT_KEY.into(), attr_type: "S".into() },
                tags: ctx.tags(),
            };
            out.push(Resource::new(n.table(purpose), Phase::ProvisioningDataServices, Settings::DynamoTable(settings)));
        }
    }
    if ds.s3.enabled {
        for purpose in BUCKET_PURPOSES {
            let settings = S3Bucket {
                region: ctx.region().to_owned(),
                encryption: "AES256".into(),
                versioning: true,
                block_public_access: true,
                tags: ctx.tags(),
            };
            out.push(Resource::new(n.bucket(purpose), Phase::ProvisioningDataServices, Settings::S3Bucket(settings)));
        }
    }
    if ds.glue.enabled {
        let db = n.glue_database();
        out.push(Resource::new(
            &db,
            Phase::ProvisioningDataServices,
            Settings::GlueDatabase(GlueDatabase {
                region: ctx.region().to_owned(),
                description: format!("Analytics database of {} ({})", n.capability(), n.environment()),
                tags: ctx.tags(),
            }),
        ));
        let col = |name: &str, ty: &str, comment: &str| GlueColumn {
            name: name.into(),
            column_type: ty.into(),
            comment: comment.into(),
        };
        let bucket = n.bucket("call-data");
        let table = GlueTable {
            region: ctx.region().to_owned(),
            database: db.clone(),
            table_type: "EXTERNAL_TABLE".into(),
            location: format!("s3://{bucket}/{CALL_RECORDS_PREFIX}"),
            input_format: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat".into(),
            output_format: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat".into(),
            serde_library: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe".into(),
            columns: vec![
                col("call_id", "string", "unique call identifier"),
                col("started_at", "timestamp", "call start (UTC)"),
                col("ended_at", "timestamp", "call end (UTC)"),
                col("duration_seconds", "int", "talk time"),
                col("direction", "string", "inbound or outbound"),
                col("queue", "string", "contact-center queue"),
                col("agent_id", "string", "handling agent"),
                col("customer_id", "string", "caller identity, if known"),
                col("disposition", "string", "outcome code"),
                col("transcript_uri", "string", "S3 URI of the transcript"),
            ],
            partition_keys: vec![col("dt", "string", "call date, YYYY-MM-DD")],
            // Glue tables take no tags: their ownership is recorded as parameters.
            parameters: [("classification", "parquet"), ("managed-by", "nexus-dev")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .chain(ctx.tags())
                .collect(),
        };
        let mut deps = vec![id(Kind::GlueDatabase, &db)];
        if ds.s3.enabled {
            deps.push(id(Kind::S3Bucket, &bucket));
        }
        out.push(
            Resource::new(n.glue_table(), Phase::ProvisioningDataServices, Settings::GlueTable(table)).after(deps),
        );
    }
}

/// The SSM parameter set (docs/design/plan.md): everything an application needs to find its
/// resources, under `/{cap}/{env}/{category}/{key}`.
pub(super) fn ssm_parameters(ctx: &Ctx<'_>, out: &mut Vec<Resource>) {
    let s = ctx.spec;
    let n = ctx.names;
    let mut params: Vec<(String, String, String)> = vec![
        (n.ssm_parameter("aws", "region"), s.region.clone(), "AWS region".into()),
        (n.ssm_parameter("aws", "account-id"), ctx.account().to_owned(), "AWS account".into()),
        (n.ssm_parameter("app", "capability"), s.capability_name.clone(), "capability name".into()),
        (n.ssm_parameter("app", "environment"), s.environment.clone(), "environment".into()),
        (n.ssm_parameter("app", "version"), s.version.clone(), "capability version".into()),
        (n.ssm_parameter("app", "namespace"), n.namespace(), "Kubernetes namespace".into()),
    ];
    if s.data_services.dynamodb.enabled {
        for p in TABLE_PURPOSES {
            params.push((
                n.ssm_parameter("dynamodb", &format!("{p}-table")),
                n.table(p),
                format!("DynamoDB table ({p})"),
            ));
        }
    }
    if s.data_services.s3.enabled {
        for p in BUCKET_PURPOSES {
            params.push((n.ssm_parameter("s3", &format!("{p}-bucket")), n.bucket(p), format!("S3 bucket ({p})")));
        }
    }
    if s.data_services.glue.enabled {
        params.push((n.ssm_parameter("glue", "database"), n.glue_database(), "Glue database".into()));
        params.push((
            n.ssm_parameter("glue", "call-records-table"),
            n.glue_table(),
            "Glue table of call records".into(),
        ));
    }
    for t in SECRET_TYPES {
        params.push((n.ssm_parameter("secrets", &format!("{t}-name")), n.secret(t), format!("name of the {t} secret")));
    }
    params.push((n.ssm_parameter("iam", "app-role-arn"), ctx.role_arn(), "ARN of the application role (IRSA)".into()));
    for (name, value, description) in params {
        out.push(Resource::new(
            name,
            Phase::ProvisioningSsm,
            Settings::SsmParameter(ssm(ctx, ParamValue::Literal { value }, description)),
        ));
    }
}

fn ssm(ctx: &Ctx<'_>, value: ParamValue, description: String) -> SsmParameter {
    SsmParameter { region: ctx.region().to_owned(), param_type: "String".into(), value, description, tags: ctx.tags() }
}

/// Keys of each secret's placeholder JSON; the values are `CHANGE_ME` and never shown.
pub fn placeholder_keys(secret_type: &str) -> &'static [&'static str] {
    match secret_type {
        "api-keys" => &["internal_api_key"],
        "wxcc" => &["client_id", "client_secret", "org_id"],
        "openai" => &["api_key"],
        "license" => &["license_key"],
        "anthropic" => &["api_key"],
        "github" => &["token"],
        _ => &["value"],
    }
}

pub(super) fn secrets(ctx: &Ctx<'_>, out: &mut Vec<Resource>) {
    for t in SECRET_TYPES {
        let settings = Secret {
            region: ctx.region().to_owned(),
            description: format!(
                "{t} credentials of {} ({}); set the real values by hand",
                ctx.names.capability(),
                ctx.names.environment()
            ),
            placeholder_keys: placeholder_keys(t).iter().map(|s| s.to_string()).collect(),
            overwrite: "never".into(),
            tags: ctx.tags(),
        };
        out.push(Resource::new(ctx.names.secret(t), Phase::ProvisioningSecrets, Settings::Secret(settings)));
    }
}

pub(super) fn iam(ctx: &Ctx<'_>, out: &mut Vec<Resource>) {
    let n = ctx.names;
    let irsa = &ctx.profile.irsa;
    let (issuer, provider_arn) = match &irsa.issuer {
        Some(url) => {
            let host_path = url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
            (url.clone(), Some(format!("arn:{}:iam::{}:oidc-provider/{host_path}", ctx.partition(), ctx.account())))
        }
        None => (format!("eks:{}", ctx.profile.cluster.name.as_deref().unwrap_or_default()), None),
    };
    let mut deps = Vec::new();
    if irsa.register_oidc_provider
        && let Some(url) = &irsa.issuer
    {
        let name = url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_owned();
        deps.push(id(Kind::IamOidcProvider, &name));
        out.push(Resource::new(
            name,
            Phase::ProvisioningIam,
            Settings::IamOidcProvider(IamOidcProvider {
                url: url.clone(),
                client_ids: vec!["sts.amazonaws.com".into()],
                tags: ctx.tags(),
            }),
        ));
    }
    let role = IamRole {
        arn: ctx.role_arn(),
        trust: IrsaTrust { issuer, provider_arn, subject: n.irsa_subject(), audience: "sts.amazonaws.com".into() },
        policy_name: n.app_policy(),
        statements: statements(ctx),
        tags: ctx.tags(),
    };
    out.push(Resource::new(n.app_role(), Phase::ProvisioningIam, Settings::IamRole(role)).after(deps));
}

/// Least privilege on exactly this capability's resources; no `*` resource.
fn statements(ctx: &Ctx<'_>) -> Vec<PolicyStatement> {
    let n = ctx.names;
    let (p, r, a) = (ctx.partition(), ctx.region(), ctx.account());
    let ds = &ctx.spec.data_services;
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut out = Vec::new();
    if ds.dynamodb.enabled {
        out.push(PolicyStatement {
            sid: "DynamoDbTables".into(),
            actions: strs(&[
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:UpdateItem",
            ]),
            resources: n.tables().iter().map(|t| format!("arn:{p}:dynamodb:{r}:{a}:table/{t}")).collect(),
        });
    }
    if ds.s3.enabled {
        out.push(PolicyStatement {
            sid: "S3Buckets".into(),
            actions: strs(&["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketVersions"]),
            resources: n.buckets().iter().map(|b| format!("arn:{p}:s3:::{b}")).collect(),
        });
        out.push(PolicyStatement {
            sid: "S3Objects".into(),
            actions: strs(&["s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]),
            resources: n.buckets().iter().map(|b| format!("arn:{p}:s3:::{b}/*")).collect(),
        });
    }
    if ds.glue.enabled {
        let db = n.glue_database();
        out.push(PolicyStatement {
            sid: "GlueCatalog".into(),
            actions: strs(&[
                "glue:BatchCreatePartition",
                "glue:CreatePartition",
                "glue:GetDatabase",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
                "glue:UpdatePartition",
            ]),
            resources: vec![
                format!("arn:{p}:glue:{r}:{a}:catalog"),
                format!("arn:{p}:glue:{r}:{a}:database/{db}"),
                format!("arn:{p}:glue:{r}:{a}:table/{db}/{}", n.glue_table()),
            ],
        });
    }
    out.push(PolicyStatement {
        sid: "SsmParameters".into(),
        actions: strs(&["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]),
        // The path itself (for GetParametersByPath) and everything below it.
        resources: vec![
            format!("arn:{p}:ssm:{r}:{a}:parameter{}", n.ssm_prefix()),
            format!("arn:{p}:ssm:{r}:{a}:parameter{}/*", n.ssm_prefix()),
        ],
    });
    out.push(PolicyStatement {
        sid: "Secrets".into(),
        actions: strs(&["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]),
        // Secrets Manager appends a six-character suffix to every secret ARN.
        resources: n.secrets().iter().map(|s| format!("arn:{p}:secretsmanager:{r}:{a}:secret:{s}-??????")).collect(),
    });
    out
}

pub(super) fn cognito(ctx: &Ctx<'_>, out: &mut Vec<Resource>) {
    if !ctx.spec.enable_cognito {
        return;
    }
    let n = ctx.names;
    let pool = n.user_pool();
    let pool_id = id(Kind::CognitoUserPool, &pool);
    out.push(Resource::new(
        &pool,
        Phase::ProvisioningIam,
        Settings::CognitoUserPool(CognitoUserPool {
            region: ctx.region().to_owned(),
            username_attributes: vec!["email".into()],
            auto_verified_attributes: vec!["email".into()],
            password_min_length: 12,
            tags: ctx.tags(),
        }),
    ));
    let base = super::k8s::public_base_url(ctx);
    let client = n.user_pool_client();
    out.push(
        Resource::new(
            &client,
            Phase::ProvisioningIam,
            Settings::CognitoUserPoolClient(CognitoUserPoolClient {
                user_pool: pool.clone(),
                oauth_flows: vec!["code".into()],
                generate_secret: false,
                scopes: vec!["openid".into(), "email".into(), "profile".into()],
                callback_urls: vec![format!("{base}/auth/callback")],
                logout_urls: vec![format!("{base}/")],
                identity_providers: vec!["COGNITO".into()],
            }),
        )
        .after([pool_id.clone()]),
    );
    let domain = n.user_pool_domain();
    out.push(
        Resource::new(
            &domain,
            Phase::ProvisioningIam,
            Settings::CognitoUserPoolDomain(CognitoUserPoolDomain { user_pool: pool.clone() }),
        )
        .after([pool_id.clone()]),
    );
    for (i, g) in COGNITO_GROUPS.iter().enumerate() {
        out.push(
            Resource::new(
                *g,
                Phase::ProvisioningIam,
                Settings::CognitoGroup(CognitoGroup {
                    user_pool: pool.clone(),
                    description: format!("{g} of {}", n.stem()),
                    precedence: i as i32 + 1,
                }),
            )
            .after([pool_id.clone()]),
        );
    }
    // Applications find Cognito the same way as everything else: in SSM.
    let refs = [
        ("user-pool-id", pool_id.clone(), "id", "Cognito user pool ID"),
        ("app-client-id", id(Kind::CognitoUserPoolClient, &client), "id", "Cognito app client ID"),
        ("domain", id(Kind::CognitoUserPoolDomain, &domain), "domain", "Cognito hosted UI domain"),
    ];
    for (key, resource, field, description) in refs {
        let value = ParamValue::From { value_from: ValueFrom { resource: resource.clone(), field: field.into() } };
        out.push(
            Resource::new(
                n.ssm_parameter("cognito", key),
                Phase::ProvisioningIam,
                Settings::SsmParameter(ssm(ctx, value, description.into())),
            )
            .after([resource]),
        );
    }
}
