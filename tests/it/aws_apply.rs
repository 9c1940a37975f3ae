//! Issue #4 against the test bed's emulator: apply creates every AWS resource as planned,
//! a second apply changes nothing, drift is repaired, secrets set by hand survive, delete
//! honours deletionPolicy, and a lost endpoint gives a clear error and converges afterwards.
//! Issue 20: IDs remembered from an earlier run are verified, never trusted: a client deleted
//! by hand comes back, a stale ID is replaced by the right one, a pool that is not ours is not
//! taken for ours.

use std::time::Duration;

use crate::emulators;
use crate::support::Emulator;
use crate::support::fixtures::{Spec, testbed_profile};
use crate::support::proxy::Proxy;
use crate::support::{TestBed, unique};
use nexus_dev::model::outcome::Outcome;
use nexus_dev::model::plan::{self, Kind, ParamValue, Plan, Settings};
use nexus_dev::model::spec::{DeletionPolicy, NexusAICapability};
use nexus_dev::provision::aws::{Clients, Ctx, Target};
use nexus_dev::provision::{self, Options, Report};
use rstest_reuse::apply;

struct Setup {
    bed: TestBed,
    plan: Plan,
}

fn setup(cr: &NexusAICapability, emulator: Emulator) -> Setup {
    let bed = TestBed::on(emulator);
    let profile = testbed_profile(&bed);
    let plan = plan::build(cr, &profile);
    Setup { bed, plan }
}

/// The executor's context on the emulator of `s` (at `s.bed.aws_endpoint`) in `region`.
async fn ctx(s: &Setup, region: &str, dry_run: bool) -> Ctx {
    let clients = Clients::connect(&Target::emulator(&s.bed.aws_endpoint, region)).await;
    Ctx::new(clients, s.bed.account()).dry_run(dry_run)
}

async fn run(s: &Setup) -> Report {
    let c = ctx(s, &s.plan.target.region, false).await;
    provision::apply(&s.plan, &c, &Options::default()).await
}

fn assert_all(report: &Report, outcome: Outcome) {
    // The OIDC provider is shared by every capability on the cluster: another test may have
    // registered it already.
    let shared = |r: &&provision::ResourceReport| {
        r.kind == Kind::IamOidcProvider && outcome == Outcome::Created && r.outcome == Outcome::Unchanged
    };
    let off: Vec<_> = report.resources.iter().filter(|r| r.outcome != outcome && !shared(r)).collect();
    assert!(off.is_empty(), "expected every resource {outcome}, got: {off:#?}");
}

/// Reads as a separate client would: a fresh SDK configuration, not the executor's clients.
async fn reader(s: &Setup) -> Clients {
    let config =
        nexus_dev::provision::aws::sdk_config(&Target::emulator(&s.bed.aws_endpoint, &s.plan.target.region)).await;
    Clients::from_config(&config, true)
}

/// moto names the XML root of GetBucketVersioning differently from S3, which the Rust SDK
/// refuses; the status is read over plain HTTP instead.
async fn versioning(s: &Setup, bucket: &str) -> String {
    let body =
        reqwest::get(format!("{}/{bucket}/?versioning", s.bed.aws_endpoint)).await.unwrap().text().await.unwrap();
    body.split_once("<Status>")
        .and_then(|(_, r)| r.split_once("</Status>"))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_default()
}

async fn assert_as_planned(s: &Setup) {
    let r = reader(s).await;
    for res in &s.plan.resources {
        let name = res.name.as_str();
        match &res.settings {
            Settings::DynamoTable(want) => {
                let t = r.dynamodb.describe_table().table_name(name).send().await.unwrap().table.unwrap();
                assert_eq!(t.billing_mode_summary.unwrap().billing_mode.unwrap().as_str(), want.billing_mode);
                let keys: Vec<_> = t
                    .key_schema
                    .unwrap()
                    .into_iter()
                    .map(|k| (k.attribute_name, k.key_type.as_str().to_owned()))
                    .collect();
                assert_eq!(keys, [("pk".to_owned(), "HASH".to_owned()), ("sk".to_owned(), "RANGE".to_owned())]);
            }
            Settings::S3Bucket(want) => {
                assert_eq!(versioning(s, name).await, "Enabled", "{name}");
                let enc = r.s3.get_bucket_encryption().bucket(name).send().await.unwrap();
                let rule = &enc.server_side_encryption_configuration.unwrap().rules[0];
                assert_eq!(
                    rule.apply_server_side_encryption_by_default.as_ref().unwrap().sse_algorithm.as_str(),
                    "AES256"
                );
                let pab =
                    r.s3.get_public_access_block()
                        .bucket(name)
                        .send()
                        .await
                        .unwrap()
                        .public_access_block_configuration
                        .unwrap();
                assert_eq!(
                    (
                        pab.block_public_acls,
                        pab.ignore_public_acls,
                        pab.block_public_policy,
                        pab.restrict_public_buckets
                    ),
                    (Some(true), Some(true), Some(true), Some(true))
                );
                let loc = r.s3.get_bucket_location().bucket(name).send().await.unwrap();
                let loc = loc.location_constraint.map(|l| l.as_str().to_owned()).unwrap_or_default();
                assert!(loc == want.region || (loc.is_empty() && want.region == "us-east-1"), "{name}: {loc}");
                let tags = r.s3.get_bucket_tagging().bucket(name).send().await.unwrap();
                assert!(tags.tag_set.iter().any(|t| t.key == "app.kubernetes.io/managed-by" && t.value == "nexus-dev"));
            }
            Settings::GlueDatabase(_) => {
                r.glue.get_database().name(name).send().await.unwrap();
            }
            Settings::GlueTable(want) => {
                let t =
                    r.glue.get_table().database_name(&want.database).name(name).send().await.unwrap().table.unwrap();
                let sd = t.storage_descriptor.unwrap();
                assert_eq!(sd.location.as_deref(), Some(want.location.as_str()));
                assert_eq!(sd.columns.unwrap().len(), want.columns.len());
            }
            Settings::SsmParameter(want) => {
                let p = r.ssm.get_parameter().name(name).send().await.unwrap().parameter.unwrap();
                match &want.value {
                    ParamValue::Literal { value } => assert_eq!(p.value.as_deref(), Some(value.as_str()), "{name}"),
                    ParamValue::From { .. } => assert!(!p.value.unwrap_or_default().is_empty(), "{name}"),
                }
            }
            Settings::Secret(want) => {
                let v = r.secrets.get_secret_value().secret_id(name).send().await.unwrap().secret_string.unwrap();
                let v: serde_json::Value = serde_json::from_str(&v).unwrap();
                let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
                let mut want_keys = want.placeholder_keys.clone();
                want_keys.sort();
                assert_eq!(keys, want_keys);
                assert!(v.as_object().unwrap().values().all(|x| x == "CHANGE_ME"));
            }
            Settings::IamRole(want) => {
                let role = r.iam.get_role().role_name(name).send().await.unwrap().role.unwrap();
                let trust = nexus_dev::provision::aws::iam::parse_document(
                    role.assume_role_policy_document.as_deref().unwrap(),
                )
                .unwrap();
                let st = &trust["Statement"][0];
                assert_eq!(st["Action"][0], "sts:AssumeRoleWithWebIdentity");
                assert!(
                    st["Principal"]["Federated"]
                        .as_str()
                        .unwrap()
                        .ends_with(":oidc-provider/kubernetes.default.svc.cluster.local")
                );
                let cond = &st["Condition"]["StringEquals"];
                assert_eq!(cond["kubernetes.default.svc.cluster.local:sub"], want.trust.subject);
                assert_eq!(cond["kubernetes.default.svc.cluster.local:aud"], "sts.amazonaws.com");
                let pol = r.iam.get_role_policy().role_name(name).policy_name(&want.policy_name).send().await.unwrap();
                let pol = nexus_dev::provision::aws::iam::parse_document(&pol.policy_document).unwrap();
                let got: Vec<String> = pol["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|s| s["Resource"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()))
                    .collect();
                let planned: Vec<String> = want.statements.iter().flat_map(|s| s.resources.clone()).collect();
                assert_eq!(got, planned);
                assert!(got.iter().all(|r| r != "*"));
            }
            Settings::IamOidcProvider(want) => {
                let list = r.iam.list_open_id_connect_providers().send().await.unwrap();
                let host = want.url.trim_start_matches("https://");
                assert!(
                    list.open_id_connect_provider_list.unwrap().iter().any(|p| p
                        .arn
                        .as_deref()
                        .unwrap()
                        .ends_with(host))
                );
            }
            Settings::CognitoUserPool(_) => {
                let pools = crate::support::user_pools(&r.cognito).await;
                assert_eq!(
                    pools.iter().filter(|p| p.name.as_deref() == Some(name)).count(),
                    1,
                    "exactly one pool {name}"
                );
            }
            Settings::CognitoUserPoolClient(want) => {
                let pool = nexus_dev::provision::aws::cognito::find_pool(
                    &ctx(s, &s.plan.target.region, true).await,
                    &want.user_pool,
                )
                .await
                .unwrap()
                .unwrap();
                let clients = r
                    .cognito
                    .list_user_pool_clients()
                    .user_pool_id(&pool)
                    .send()
                    .await
                    .unwrap()
                    .user_pool_clients
                    .unwrap();
                let id =
                    clients.iter().find(|c| c.client_name.as_deref() == Some(name)).unwrap().client_id.clone().unwrap();
                let c = r
                    .cognito
                    .describe_user_pool_client()
                    .user_pool_id(&pool)
                    .client_id(id)
                    .send()
                    .await
                    .unwrap()
                    .user_pool_client
                    .unwrap();
                assert!(c.client_secret.is_none(), "a PKCE client has no secret");
                assert_eq!(c.allowed_o_auth_flows.unwrap()[0].as_str(), "code");
                assert_eq!(c.callback_urls.unwrap(), want.callback_urls);
            }
            Settings::CognitoUserPoolDomain(_) => {
                let d = r
                    .cognito
                    .describe_user_pool_domain()
                    .domain(name)
                    .send()
                    .await
                    .unwrap()
                    .domain_description
                    .unwrap();
                assert!(d.user_pool_id.is_some_and(|p| !p.is_empty()));
            }
            Settings::CognitoGroup(want) => {
                let ctx = ctx(s, &s.plan.target.region, true).await;
                let pool = nexus_dev::provision::aws::cognito::find_pool(&ctx, &want.user_pool).await.unwrap().unwrap();
                let g = r.cognito.get_group().group_name(name).user_pool_id(pool).send().await.unwrap().group.unwrap();
                assert_eq!(g.precedence, Some(want.precedence));
            }
            _ => {}
        }
    }
}

#[apply(emulators)]
#[tokio::test]
async fn apply_creates_everything_as_planned_and_a_second_apply_changes_nothing(#[case] emulator: Emulator) {
    let cr = Spec::example("nexus-ai-complete").capability(&unique("full")).build();
    let s = setup(&cr, emulator);
    let first = run(&s).await;
    assert_all(&first, Outcome::Created);
    assert_eq!(first.resources.len(), s.plan.resources.iter().filter(|r| r.kind.is_aws()).count());
    assert!(first.mutating_calls > 0);
    assert_as_planned(&s).await;

    let second = run(&s).await;
    assert_all(&second, Outcome::Unchanged);
    assert_eq!(second.mutating_calls, 0, "a warm apply makes no mutating call");
}

#[apply(emulators)]
#[tokio::test]
async fn the_cognito_variant_is_complete_and_idempotent(#[case] emulator: Emulator) {
    let cr = Spec::example("with-cognito").capability(&unique("cog")).region("us-east-1").build();
    let s = setup(&cr, emulator);
    assert!(s.plan.of_kind(Kind::CognitoUserPool).count() == 1);
    let first = run(&s).await;
    assert!(first.ok(), "{:#?}", first.failures().collect::<Vec<_>>());
    assert_as_planned(&s).await;
    let second = run(&s).await;
    assert_all(&second, Outcome::Unchanged);
    assert_eq!(second.mutating_calls, 0);
}

/// A pass that knows `remembered` (resource id → ID), as the reconciler knows them from the
/// capability's status.
async fn run_knowing(s: &Setup, remembered: &[(Kind, String)]) -> Report {
    let c = ctx(s, &s.plan.target.region, false).await;
    let id_of = |kind: Kind| s.plan.of_kind(kind).next().unwrap().id();
    let remembered = remembered.iter().map(|(k, v)| (id_of(*k), v.clone())).collect();
    provision::apply(&s.plan, &c, &Options { remembered, ..Options::default() }).await
}

fn found(report: &Report, kind: Kind) -> &provision::ResourceReport {
    report.resources.iter().find(|r| r.kind == kind).unwrap()
}

/// The value of the SSM parameter that publishes the ID of `key` (`user-pool-id`, …).
async fn published(s: &Setup, key: &str) -> String {
    let name = s.plan.of_kind(Kind::SsmParameter).find(|r| r.name.ends_with(&format!("/cognito/{key}"))).unwrap();
    let r = reader(s).await;
    r.ssm.get_parameter().name(&name.name).send().await.unwrap().parameter.unwrap().value.unwrap()
}

fn cognito_setup(prefix: &str, emulator: Emulator) -> Setup {
    let cr = Spec::example("with-cognito").capability(&unique(prefix)).region("us-east-1").build();
    setup(&cr, emulator)
}

/// Applies `s` (a first apply) and returns the IDs of its user pool and app client.
async fn applied_cognito(s: &Setup) -> (String, String) {
    let first = run(s).await;
    assert!(first.ok(), "{:#?}", first.failures().collect::<Vec<_>>());
    let id = |kind| found(&first, kind).id.clone().unwrap();
    (id(Kind::CognitoUserPool), id(Kind::CognitoUserPoolClient))
}

#[apply(emulators)]
#[tokio::test]
async fn a_cognito_client_deleted_by_hand_is_found_missing_and_recreated(#[case] emulator: Emulator) {
    let s = cognito_setup("cgone", emulator);
    let (pool, client) = applied_cognito(&s).await;
    // A warm pass that remembers both IDs is one round trip.
    let remembered = [(Kind::CognitoUserPool, pool.clone()), (Kind::CognitoUserPoolClient, client.clone())];
    let warm = run_knowing(&s, &remembered).await;
    assert_all(&warm, Outcome::Unchanged);
    assert_eq!((warm.mutating_calls, warm.depth), (0, 1), "a warm pass: no write, one wave");

    reader(&s).await.cognito.delete_user_pool_client().user_pool_id(&pool).client_id(&client).send().await.unwrap();
    let again = run_knowing(&s, &remembered).await;
    assert!(again.ok(), "{:#?}", again.failures().collect::<Vec<_>>());
    let recreated = found(&again, Kind::CognitoUserPoolClient);
    assert_eq!(recreated.outcome, Outcome::Created, "the client deleted by hand is found missing");
    let new_id = recreated.id.clone().unwrap();
    assert_ne!(new_id, client);
    assert_eq!(found(&again, Kind::CognitoUserPool).outcome, Outcome::Unchanged);
    assert_eq!(published(&s, "app-client-id").await, new_id, "the new client's ID is published");
    assert_as_planned(&s).await;
    let settled = run(&s).await;
    assert_all(&settled, Outcome::Unchanged);
}

#[apply(emulators)]
#[tokio::test]
async fn stale_remembered_ids_are_looked_up_again_and_the_right_ones_republished(#[case] emulator: Emulator) {
    let s = cognito_setup("cstale", emulator);
    let (pool, client) = applied_cognito(&s).await;
    // The parameters and what the reconciler remembers point at a pool and a client that do
    // not exist (such as those of a capability deleted under Retain and made again by hand).
    let r = reader(&s).await;
    let (gone_pool, gone_client) = ("us-east-1_G0neG0neG".to_owned(), "g0neg0neg0neg0neg0neg0neg0".to_owned());
    for (key, v) in [("user-pool-id", &gone_pool), ("app-client-id", &gone_client)] {
        let name = s.plan.of_kind(Kind::SsmParameter).find(|p| p.name.ends_with(key)).unwrap().name.clone();
        r.ssm.put_parameter().name(name).value(v).overwrite(true).send().await.unwrap();
    }
    let stale = [(Kind::CognitoUserPool, gone_pool), (Kind::CognitoUserPoolClient, gone_client)];
    let report = run_knowing(&s, &stale).await;
    assert!(report.ok(), "{:#?}", report.failures().collect::<Vec<_>>());
    assert_eq!(report.count(Outcome::Created), 0, "nothing made twice");
    assert_eq!(found(&report, Kind::CognitoUserPool).id.as_deref(), Some(pool.as_str()));
    assert_eq!(found(&report, Kind::CognitoUserPoolClient).id.as_deref(), Some(client.as_str()));
    let republished: Vec<_> =
        report.resources.iter().filter(|x| x.outcome == Outcome::Updated).map(|x| x.name.as_str()).collect();
    assert_eq!(republished.len(), 2, "the two parameters, and only they: {republished:?}");
    assert_eq!(published(&s, "user-pool-id").await, pool);
    assert_eq!(published(&s, "app-client-id").await, client);
    assert_as_planned(&s).await;
}

#[apply(emulators)]
#[tokio::test]
async fn a_remembered_pool_that_is_not_ours_is_neither_adopted_nor_changed(#[case] emulator: Emulator) {
    let s = cognito_setup("cforeign", emulator);
    let pool_name = s.plan.of_kind(Kind::CognitoUserPool).next().unwrap().name.clone();
    // Somebody else's pool of the planned name, without nexus-dev's tags, and its ID remembered.
    let r = reader(&s).await;
    let theirs = r.cognito.create_user_pool().pool_name(&pool_name).send().await.unwrap().user_pool.unwrap();
    let theirs_id = theirs.id.unwrap();
    let report = run_knowing(&s, &[(Kind::CognitoUserPool, theirs_id.clone())]).await;
    let pool = found(&report, Kind::CognitoUserPool);
    assert_eq!(pool.outcome, Outcome::Failed, "{pool:#?}");
    assert!(pool.error.as_deref().unwrap_or_default().contains("adopt"), "{pool:#?}");
    let client = found(&report, Kind::CognitoUserPoolClient);
    assert_eq!(client.outcome, Outcome::Failed, "skipped: its pool failed ({client:#?})");
    let after = r.cognito.describe_user_pool().user_pool_id(&theirs_id).send().await.unwrap().user_pool.unwrap();
    assert!(after.user_pool_tags.unwrap_or_default().is_empty(), "their pool is not tagged ours");
    let clients = r.cognito.list_user_pool_clients().user_pool_id(&theirs_id).send().await.unwrap();
    assert!(clients.user_pool_clients.unwrap_or_default().is_empty(), "nothing is made in their pool");
    r.cognito.delete_user_pool().user_pool_id(&theirs_id).send().await.unwrap();
}

#[apply(emulators)]
#[tokio::test]
async fn drift_is_repaired_and_only_drift(#[case] emulator: Emulator) {
    let cap = unique("drift");
    let cr = Spec::example("nexus-ai-complete").capability(&cap).build();
    let s = setup(&cr, emulator);
    assert!(run(&s).await.ok());
    let r = reader(&s).await;
    let env = &cr.spec.environment;
    // By hand: versioning suspended, a parameter changed, a table and an (empty) bucket deleted.
    let versioned = format!("{cap}-{env}-call-data");
    r.s3.put_bucket_versioning()
        .bucket(&versioned)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(versioning(&s, &versioned).await, "Suspended");
    let param = format!("/{cap}/{env}/app/version");
    r.ssm.put_parameter().name(&param).value("0.0.0-tampered").overwrite(true).send().await.unwrap();
    let table = format!("{cap}-{env}-license");
    r.dynamodb.delete_table().table_name(&table).send().await.unwrap();
    let bucket = format!("{cap}-{env}-journey-logs");
    r.s3.delete_bucket().bucket(&bucket).send().await.unwrap();

    let report = run(&s).await;
    let changed: Vec<_> = report
        .resources
        .iter()
        .filter(|x| x.outcome != Outcome::Unchanged)
        .map(|x| (x.name.as_str(), x.outcome.as_str()))
        .collect();
    let mut changed = changed;
    changed.sort();
    let mut want = vec![
        (table.as_str(), "created"),
        (bucket.as_str(), "created"),
        (versioned.as_str(), "updated"),
        (param.as_str(), "updated"),
    ];
    want.sort();
    assert_eq!(changed, want);
    assert_as_planned(&s).await;
}

#[apply(emulators)]
#[tokio::test]
async fn a_secret_set_by_hand_survives_every_apply(#[case] emulator: Emulator) {
    let cap = unique("keep");
    let cr = Spec::example("minimal").capability(&cap).build();
    let s = setup(&cr, emulator);
    assert!(run(&s).await.ok());
    let r = reader(&s).await;
    let secret = format!("{cap}/dev/openai");
    let real = r#"{"api_key":"sk-developer-real-key"}"#;
    r.secrets.put_secret_value().secret_id(&secret).secret_string(real).send().await.unwrap();
    for _ in 0..3 {
        let report = run(&s).await;
        assert_all(&report, Outcome::Unchanged);
    }
    let diff = provision::apply(&s.plan, &ctx(&s, &s.plan.target.region, true).await, &Options::default()).await;
    assert_all(&diff, Outcome::Unchanged);
    let v = r.secrets.get_secret_value().secret_id(&secret).send().await.unwrap().secret_string.unwrap();
    assert_eq!(v, real);
}

#[apply(emulators)]
#[tokio::test]
async fn delete_honours_the_deletion_policy(#[case] emulator: Emulator) {
    // Retain: nothing is deleted.
    let keep = Spec::example("minimal").capability(&unique("retain")).deletion_policy(DeletionPolicy::Retain).build();
    let s = setup(&keep, emulator);
    assert!(run(&s).await.ok());
    let c = ctx(&s, &s.plan.target.region, false).await;
    let report = provision::delete(&s.plan, &c, &Options::default(), DeletionPolicy::Retain).await;
    assert_all(&report, Outcome::Retained);
    assert_eq!(report.mutating_calls, 0);
    assert_all(&run(&s).await, Outcome::Unchanged);

    // Delete: everything goes, including a bucket holding versions and delete markers.
    let cap = unique("gone");
    let gone = Spec::example("nexus-ai-complete").capability(&cap).deletion_policy(DeletionPolicy::Delete).build();
    let s = setup(&gone, emulator);
    assert!(run(&s).await.ok());
    let r = reader(&s).await;
    let bucket = format!("{cap}-prod-call-data");
    for body in ["v1", "v2"] {
        r.s3.put_object()
            .bucket(&bucket)
            .key("calls/a.json")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    r.s3.delete_object().bucket(&bucket).key("calls/a.json").send().await.unwrap();
    let c = ctx(&s, &s.plan.target.region, false).await;
    let report = provision::delete(&s.plan, &c, &Options::default(), DeletionPolicy::Delete).await;
    let not_deleted: Vec<_> =
        report.resources.iter().filter(|x| x.outcome != Outcome::Deleted && x.kind != Kind::IamOidcProvider).collect();
    assert!(not_deleted.is_empty(), "{not_deleted:#?}");
    assert!(r.s3.head_bucket().bucket(&bucket).send().await.is_err(), "bucket {bucket} still exists");
    assert!(r.dynamodb.describe_table().table_name(format!("{cap}-prod-license")).send().await.is_err());
    assert!(r.ssm.get_parameter().name(format!("/{cap}/prod/aws/region")).send().await.is_err());
    assert!(r.iam.get_role().role_name(format!("{cap}-prod-app-role")).send().await.is_err());
    assert!(r.glue.get_database().name(format!("{}_prod_db", cap.replace('-', "_"))).send().await.is_err());
    let secret = r.secrets.describe_secret().secret_id(format!("{cap}/prod/github")).send().await;
    assert!(secret.map(|d| d.deleted_date.is_some()).unwrap_or(true), "secret scheduled for deletion");
    // Deleting again finds nothing to delete.
    let again = provision::delete(&s.plan, &c, &Options::default(), DeletionPolicy::Delete).await;
    assert!(
        again.resources.iter().all(|x| matches!(x.outcome.as_str(), "absent" | "retained")),
        "{:#?}",
        again.resources
    );
}

#[apply(emulators)]
#[tokio::test]
async fn a_lost_endpoint_is_a_clear_error_and_the_next_apply_converges_without_duplicates(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let upstream = bed.aws_endpoint.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(upstream).await.unwrap();
    proxy.set_latency(Duration::from_millis(40));
    let cr = Spec::example("with-cognito").capability(&unique("lost")).region("us-east-1").build();
    let mut s = setup(&cr, emulator);
    s.bed.aws_endpoint = proxy.url();
    let c = ctx(&s, "us-east-1", false).await;
    let opts = Options { max_attempts: 2, backoff: Duration::from_millis(50), ..Options::default() };
    let running = tokio::spawn({
        let plan = s.plan.clone();
        let opts = opts.clone();
        async move { provision::apply(&plan, &c, &opts).await }
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    proxy.cut();
    let report = running.await.unwrap();
    let failed: Vec<_> = report.failures().collect();
    assert!(!failed.is_empty(), "the cut must fail some resources");
    for f in &failed {
        let e = f.error.as_deref().unwrap();
        assert!(
            f.error_code.as_deref() == Some("Unreachable")
                || f.error_code.as_deref() == Some("DependencyFailed")
                || e.contains("dispatch")
                || e.contains("connect"),
            "unclear error for {} {}: {e}",
            f.kind,
            f.name
        );
    }
    proxy.restore();
    let c = ctx(&s, "us-east-1", false).await;
    let again = provision::apply(&s.plan, &c, &opts).await;
    assert!(again.ok(), "{:#?}", again.failures().collect::<Vec<_>>());
    assert_as_planned(&s).await;
    let third = provision::apply(&s.plan, &c, &opts).await;
    assert_all(&third, Outcome::Unchanged);
}

#[apply(emulators)]
#[tokio::test]
async fn diff_reports_changes_without_making_any(#[case] emulator: Emulator) {
    let cap = unique("diff");
    let cr = Spec::example("minimal").capability(&cap).build();
    let s = setup(&cr, emulator);
    let dry = ctx(&s, &s.plan.target.region, true).await;
    let before = provision::apply(&s.plan, &dry, &Options::default()).await;
    assert_all(&before, Outcome::Created);
    assert_eq!(before.mutating_calls, 0);
    assert!(run(&s).await.ok());
    let r = reader(&s).await;
    r.ssm
        .put_parameter()
        .name(format!("/{cap}/dev/aws/region"))
        .value("eu-west-3")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let after = provision::apply(&s.plan, &dry, &Options::default()).await;
    assert_eq!(after.mutating_calls, 0);
    let changed: Vec<_> = after.resources.iter().filter(|x| x.outcome != Outcome::Unchanged).collect();
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!(changed[0].changes, [r#"value: "eu-west-3" → "ap-southeast-1""#]);
}

/// Issue 17: seed data is loaded into what the capability has, once: what is there, or what
/// somebody changed, stays, unless `reseed`; a secret is written only over nexus-dev's
/// placeholder. Real AWS is refused before anything is read.
#[apply(emulators)]
#[tokio::test]
async fn seed_data_loads_once_keeps_what_changed_and_reseeds_on_request(#[case] emulator: Emulator) {
    use nexus_dev::provision::seed;
    let cr = Spec::example("nexus-ai-complete")
        .capability(&unique("seed"))
        .region("us-east-1")
        .deletion_policy(DeletionPolicy::Delete)
        .build();
    let s = setup(&cr, emulator);
    let c = ctx(&s, "us-east-1", false).await;
    assert!(provision::apply(&s.plan, &c, &Options::default()).await.ok());
    let data: nexus_dev::model::project::Seed = serde_yaml::from_str(
        "tables:\n  license: [{pk: demo, sk: \"1\", seats: 5, active: true}]\nbuckets:\n  call-data: {samples/hello.txt: hello}\nparameters:\n  app/greeting: hi\nsecrets:\n  openai: {api_key: local-only}\n",
    )
    .unwrap();
    let names = nexus_dev::model::names::Names::of(&cr.spec);

    let first = seed::load(&data, &names, &c, false).await.unwrap();
    assert_eq!((first.loaded, first.kept), (4, 0));
    let again = seed::load(&data, &names, &c, false).await.unwrap();
    assert_eq!((again.loaded, again.kept), (0, 4), "a second load writes nothing");

    // A developer changes the parameter; a load keeps it, a reseed puts the seed back.
    let param = names.ssm_parameter("app", "greeting");
    c.clients.ssm.put_parameter().name(&param).value("mine").overwrite(true).send().await.unwrap();
    seed::load(&data, &names, &c, false).await.unwrap();
    let got = c.clients.ssm.get_parameter().name(&param).send().await.unwrap();
    assert_eq!(got.parameter().and_then(|p| p.value()), Some("mine"));
    let reseeded = seed::load(&data, &names, &c, true).await.unwrap();
    assert_eq!((reseeded.loaded, reseeded.kept), (4, 0));
    let got = c.clients.ssm.get_parameter().name(&param).send().await.unwrap();
    assert_eq!(got.parameter().and_then(|p| p.value()), Some("hi"));
    let item = c
        .clients
        .dynamodb
        .get_item()
        .table_name(names.table("license"))
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("demo".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("1".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(item.item().and_then(|i| i.get("seats")), Some(&aws_sdk_dynamodb::types::AttributeValue::N("5".into())));
    let secret = c.clients.secrets.get_secret_value().secret_id(names.secret("openai")).send().await.unwrap();
    assert_eq!(secret.secret_string(), Some(r#"{"api_key":"local-only"}"#));

    assert!(seed::check(&nexus_dev::input::profile::built_in("eks-staging").unwrap()).is_err());
    let gone = provision::delete(&s.plan, &c, &Options::default(), DeletionPolicy::Delete).await;
    assert!(gone.ok(), "{:#?}", gone.failures().collect::<Vec<_>>());
}
