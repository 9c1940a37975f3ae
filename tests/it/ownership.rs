//! Issue #11 against the test bed: nexus-dev changes and deletes only what it created. Foreign
//! AWS resources with the planned names are neither adopted nor deleted (unless `--adopt`), two
//! capabilities whose names derive alike never take each other's resources, a Glue database
//! holding a foreign table is kept, a foreign namespace and what is in it survive `delete`, and
//! policies added to a role of ours are drift.

use std::path::Path;
use std::process::{Command, Output};

use crate::emulators;
use crate::support::Emulator;
use crate::support::fixtures::{Spec, testbed_profile, testbed_profile_file};
use crate::support::project::text;
use crate::support::{TestBed, unique};
use aws_sdk_dynamodb::types::{AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ScalarAttributeType};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::PostParams;
use nexus_dev::model::outcome::Outcome;
use nexus_dev::model::plan::{self, Kind, Plan, Settings};
use nexus_dev::model::spec::{DeletionPolicy, NexusAICapability};
use nexus_dev::provision::aws::{Clients, Ctx, Target};
use nexus_dev::provision::{self, Options, Report};
use rstest_reuse::apply;

fn spec(capability: &str, environment: &str, policy: DeletionPolicy) -> NexusAICapability {
    let mut cr = Spec::example("minimal").capability(capability).deletion_policy(policy).build();
    cr.spec.environment = environment.to_owned();
    cr.metadata.name = Some(format!("{capability}-{environment}"));
    cr.metadata.namespace = Some(format!("{capability}-{environment}"));
    cr
}

async fn clients(bed: &TestBed, plan: &Plan) -> Clients {
    Clients::connect(&Target::emulator(&bed.aws_endpoint, &plan.target.region)).await
}

async fn apply(bed: &TestBed, plan: &Plan, adopt: bool, dry_run: bool) -> Report {
    let c = Ctx::new(clients(bed, plan).await, bed.account()).dry_run(dry_run);
    provision::apply(plan, &c, &Options { adopt, ..Options::default() }).await
}

async fn delete(bed: &TestBed, plan: &Plan, policy: DeletionPolicy, dry_run: bool) -> Report {
    let c = Ctx::new(clients(bed, plan).await, bed.account()).dry_run(dry_run);
    provision::delete(plan, &c, &Options::default(), policy).await
}

fn outcome<'a>(r: &'a Report, kind: Kind, name: &str) -> &'a provision::ResourceReport {
    r.resources.iter().find(|x| x.kind == kind && x.name == name).unwrap_or_else(|| panic!("{kind} {name} in {r:#?}"))
}

fn first(plan: &Plan, kind: Kind) -> String {
    plan.of_kind(kind).next().unwrap().name.clone()
}

/// Resources a person made by hand with the names the plan derives, holding data.
struct Foreign {
    table: String,
    bucket: String,
    role: String,
    parameter: String,
    secret: String,
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

async fn make_foreign(c: &Clients, plan: &Plan) -> Foreign {
    let f = Foreign {
        table: first(plan, Kind::DynamoTable),
        bucket: first(plan, Kind::S3Bucket),
        role: first(plan, Kind::IamRole),
        parameter: plan.of_kind(Kind::SsmParameter).find(|p| p.name.ends_with("/aws/region")).unwrap().name.clone(),
        secret: first(plan, Kind::Secret),
    };
    let attr = |n: &str| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let key = |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    c.dynamodb
        .create_table()
        .table_name(&f.table)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    c.dynamodb
        .put_item()
        .table_name(&f.table)
        .item("pk", AttributeValue::S("customer".into()))
        .item("sk", AttributeValue::S("1".into()))
        .send()
        .await
        .unwrap();
    let mut bucket = c.s3.create_bucket().bucket(&f.bucket);
    if plan.target.region != "us-east-1" {
        bucket = bucket.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(plan.target.region.as_str()))
                .build(),
        );
    }
    bucket.send().await.unwrap();
    c.s3.put_object().bucket(&f.bucket).key("report.csv").body(b"a,b\n".to_vec().into()).send().await.unwrap();
    c.iam.create_role().role_name(&f.role).assume_role_policy_document(TRUST).send().await.unwrap();
    c.iam
        .put_role_policy()
        .role_name(&f.role)
        .policy_name("theirs")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    c.ssm
        .put_parameter()
        .name(&f.parameter)
        .value("their-value")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    c.secrets.create_secret().name(&f.secret).secret_string("their-secret").send().await.unwrap();
    f
}

async fn assert_foreign_intact(c: &Clients, f: &Foreign) {
    let item = c
        .dynamodb
        .get_item()
        .table_name(&f.table)
        .key("pk", AttributeValue::S("customer".into()))
        .key("sk", AttributeValue::S("1".into()))
        .send()
        .await
        .expect("the foreign table survives");
    assert!(item.item.is_some(), "the foreign table's item survives");
    c.s3.get_object().bucket(&f.bucket).key("report.csv").send().await.expect("the foreign bucket's object survives");
    let role = c.iam.get_role().role_name(&f.role).send().await.expect("the foreign role survives").role.unwrap();
    let trust = percent_decode(role.assume_role_policy_document.as_deref().unwrap_or_default());
    assert!(trust.contains("ec2.amazonaws.com"), "the foreign role's trust policy is untouched: {trust}");
    c.iam.get_role_policy().role_name(&f.role).policy_name("theirs").send().await.expect("its inline policy survives");
    let p = c.ssm.get_parameter().name(&f.parameter).send().await.expect("the foreign parameter survives");
    assert_eq!(p.parameter.unwrap().value.as_deref(), Some("their-value"));
    let s = c.secrets.get_secret_value().secret_id(&f.secret).send().await.expect("the foreign secret survives");
    assert_eq!(s.secret_string(), Some("their-secret"));
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[apply(emulators)]
#[tokio::test]
async fn foreign_resources_are_neither_adopted_nor_deleted_and_adopt_takes_them_explicitly(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let cr = spec(&unique("own"), "dev", DeletionPolicy::Delete);
    let plan = plan::build(&cr, &testbed_profile(&bed));
    let c = clients(&bed, &plan).await;
    let f = make_foreign(&c, &plan).await;

    // apply refuses each foreign resource by name, and changes none of them.
    let report = apply(&bed, &plan, false, false).await;
    for (kind, name) in [
        (Kind::DynamoTable, &f.table),
        (Kind::S3Bucket, &f.bucket),
        (Kind::IamRole, &f.role),
        (Kind::SsmParameter, &f.parameter),
        (Kind::Secret, &f.secret),
    ] {
        let r = outcome(&report, kind, name);
        assert_eq!(r.error_code.as_deref(), Some("NotOwned"), "{r:#?}");
        assert!(r.error.as_deref().unwrap().contains("--adopt"), "{r:#?}");
    }
    assert_foreign_intact(&c, &f).await;

    // delete with deletionPolicy Delete keeps every foreign resource, saying why.
    let report = delete(&bed, &plan, DeletionPolicy::Delete, false).await;
    for name in [&f.table, &f.bucket, &f.role, &f.parameter, &f.secret] {
        let r = report.resources.iter().find(|r| &r.name == name).unwrap();
        assert_eq!(r.outcome, Outcome::Retained, "{r:#?}");
        assert!(r.changes[0].contains("did not create"), "{r:#?}");
    }
    assert_foreign_intact(&c, &f).await;

    // diff --adopt shows the take-over; apply --adopt does it, tags them, and they are ours.
    let diff = apply(&bed, &plan, true, true).await;
    assert_eq!(diff.mutating_calls, 0);
    assert!(outcome(&diff, Kind::S3Bucket, &f.bucket).changes[0].starts_with("adopted"), "{diff:#?}");
    let adopted = apply(&bed, &plan, true, false).await;
    assert!(adopted.ok(), "{:#?}", adopted.failures().collect::<Vec<_>>());
    let role = outcome(&adopted, Kind::IamRole, &f.role);
    assert!(role.changes.iter().any(|c| c.contains("remove inline policy theirs")), "{role:#?}");
    let again = apply(&bed, &plan, false, false).await;
    assert!(again.ok() && again.mutating_calls == 0, "{again:#?}");
    // A secret's value is never overwritten, adopted or not.
    let s = c.secrets.get_secret_value().secret_id(&f.secret).send().await.unwrap();
    assert_eq!(s.secret_string(), Some("their-secret"));
    let gone = delete(&bed, &plan, DeletionPolicy::Delete, false).await;
    assert!(gone.ok() && gone.count(Outcome::Deleted) > 0, "{gone:#?}");
}

#[apply(emulators)]
#[tokio::test]
async fn two_capabilities_whose_names_derive_alike_never_take_each_others_resources(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let profile = testbed_profile(&bed);
    // `{cap}-{env}` is the same for both: x-y + z and x + y-z.
    let stem = unique("two");
    let (head, tail) = stem.split_once('-').unwrap();
    let first = spec(&format!("{head}-{tail}"), "c", DeletionPolicy::Delete);
    let second = spec(head, &format!("{tail}-c"), DeletionPolicy::Delete);
    let (p1, p2) = (plan::build(&first, &profile), plan::build(&second, &profile));
    assert_eq!(first_name(&p1), first_name(&p2), "the two plans derive the same names");

    let made = apply(&bed, &p1, false, false).await;
    assert!(made.ok(), "{made:#?}");
    // The second is refused on every resource it would share, naming the first, even with
    // --adopt. (SSM paths and secret names keep the two apart: `/{cap}/{env}/…`.)
    let shared: Vec<String> =
        p2.resources.iter().filter(|r| p1.get(r.kind, &r.name).is_some()).map(|r| r.name.clone()).collect();
    // (The OIDC provider is the cluster's, shared by every capability on it.)
    assert!(shared.len() > 10, "tables, buckets, Glue, the role, the namespace: {shared:?}");
    for adopt in [false, true] {
        let taken = apply(&bed, &p2, adopt, false).await;
        let r = outcome(&taken, Kind::DynamoTable, &first_name(&p2));
        assert_eq!(r.error_code.as_deref(), Some("NotOwned"), "{r:#?}");
        assert!(r.error.as_deref().unwrap().contains(&format!("capability {head}-{tail} (environment c)")), "{r:#?}");
        for r in taken
            .resources
            .iter()
            .filter(|r| shared.contains(&r.name) && r.kind.is_aws() && r.kind != Kind::IamOidcProvider)
        {
            assert!(r.failed(), "nothing of the first is changed: {r:#?}");
        }
    }
    // Deleting the second leaves the first whole.
    let kept = delete(&bed, &p2, DeletionPolicy::Delete, false).await;
    for r in kept.resources.iter().filter(|r| shared.contains(&r.name)) {
        assert!(matches!(r.outcome.as_str(), "retained" | "absent"), "{r:#?}");
    }
    let still = apply(&bed, &p1, false, false).await;
    assert!(still.ok() && still.mutating_calls == 0, "{still:#?}");
    let gone = delete(&bed, &p1, DeletionPolicy::Delete, false).await;
    assert!(gone.ok(), "{gone:#?}");
}

fn first_name(plan: &Plan) -> String {
    first(plan, Kind::DynamoTable)
}

#[apply(emulators)]
#[tokio::test]
async fn a_glue_database_holding_a_foreign_table_is_kept_and_role_drift_is_removed(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let cr = spec(&unique("glue"), "dev", DeletionPolicy::Delete);
    let plan = plan::build(&cr, &testbed_profile(&bed));
    let c = clients(&bed, &plan).await;
    assert!(apply(&bed, &plan, false, false).await.ok());

    // Somebody widens the role of ours: an extra inline policy and an attached managed one.
    let role = first(&plan, Kind::IamRole);
    let admin = c
        .iam
        .create_policy()
        .policy_name(format!("{role}-admin"))
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    c.iam.attach_role_policy().role_name(&role).policy_arn(&admin).send().await.unwrap();
    c.iam
        .put_role_policy()
        .role_name(&role)
        .policy_name("everything")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let diff = apply(&bed, &plan, false, true).await;
    let r = outcome(&diff, Kind::IamRole, &role);
    assert_eq!(r.outcome, Outcome::Updated, "{r:#?}");
    assert!(r.changes.iter().any(|c| c.contains("remove inline policy everything")), "{r:#?}");
    assert!(r.changes.iter().any(|c| c.contains(&format!("detach managed policy {admin}"))), "{r:#?}");
    assert!(apply(&bed, &plan, false, false).await.ok());
    let inline = c.iam.list_role_policies().role_name(&role).send().await.unwrap().policy_names;
    let Settings::IamRole(want) = &plan.of_kind(Kind::IamRole).next().unwrap().settings else { unreachable!() };
    assert_eq!(inline, std::slice::from_ref(&want.policy_name), "only the plan's inline policy is left");
    let attached = c.iam.list_attached_role_policies().role_name(&role).send().await.unwrap();
    assert!(attached.attached_policies.unwrap_or_default().is_empty(), "the managed policy is detached");

    // Somebody adds their own table to our database: the database survives our delete.
    let db = first(&plan, Kind::GlueDatabase);
    c.glue
        .create_table()
        .database_name(&db)
        .table_input(aws_sdk_glue::types::TableInput::builder().name("their_table").build().unwrap())
        .send()
        .await
        .unwrap();
    let report = delete(&bed, &plan, DeletionPolicy::Delete, false).await;
    let r = outcome(&report, Kind::GlueDatabase, &db);
    assert_eq!(r.outcome, Outcome::Retained, "{r:#?}");
    assert!(r.changes[0].contains("their_table"), "{r:#?}");
    c.glue.get_table().database_name(&db).name("their_table").send().await.expect("their table survives");
}

fn nexus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nexus-dev")).args(args).output().expect("nexus-dev runs")
}

#[apply(emulators)]
#[tokio::test]
async fn a_foreign_namespace_and_what_is_in_it_survive_delete_under_both_policies(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let client = bed.kube().await;
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    for policy in ["Retain", "Delete"] {
        let cap = unique("ns");
        let ns = format!("{cap}-dev");
        // The namespace and a ConfigMap in it exist before nexus-dev ever runs.
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let body: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
        namespaces.create(&PostParams::default(), &body).await.unwrap();
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        let cm: ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "theirs"}, "data": {"k": "v"}})).unwrap();
        maps.create(&PostParams::default(), &cm).await.unwrap();

        let spec = dir.path().join(format!("{cap}.yaml"));
        let example =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml")).unwrap();
        let example =
            example.replace("myapp", &cap).replace("deletionPolicy: Delete", &format!("deletionPolicy: {policy}"));
        std::fs::write(&spec, example).unwrap();
        let spec = spec.display().to_string();
        let out = nexus(&["apply", "-f", &spec, "-p", &profile, "-o", "json"]);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ns_report = v["resources"].as_array().unwrap().iter().find(|r| r["kind"] == "k8s.namespace").unwrap();
        assert_eq!(ns_report["outcome"], "unchanged", "{ns_report}");
        let labels = namespaces.get(&ns).await.unwrap().metadata.labels.unwrap_or_default();
        assert!(
            !labels.contains_key("app.kubernetes.io/managed-by"),
            "an existing namespace is never labelled: {labels:?}"
        );

        // The dry run lists every deletion with its reason, Kubernetes included.
        let dry = nexus(&["delete", "-f", &spec, "-p", &profile, "--dry-run", "-o", "json"]);
        assert!(dry.status.success(), "{}", text(&dry));
        let v: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
        let resources = v["resources"].as_array().unwrap();
        let deployment = resources.iter().find(|r| r["kind"] == "k8s.deployment").unwrap();
        assert_eq!(deployment["outcome"], "deleted", "{deployment}");
        assert!(deployment["changes"][0].as_str().unwrap().starts_with("ours:"), "{deployment}");
        let ns_report = resources.iter().find(|r| r["kind"] == "k8s.namespace").unwrap();
        assert_eq!(ns_report["outcome"], "retained", "{ns_report}");

        let out = nexus(&["delete", "-f", &spec, "-p", &profile, "-o", "json"]);
        assert!(out.status.success(), "{}", text(&out));
        let ns_now = namespaces.get(&ns).await.unwrap();
        assert!(ns_now.metadata.deletion_timestamp.is_none(), "the foreign namespace is not deleted ({policy})");
        assert_eq!(maps.get("theirs").await.unwrap().data.unwrap()["k"], "v", "its ConfigMap survives ({policy})");
        let _ = namespaces.delete(&ns, &Default::default()).await;
    }
}

/// Issue #11, item 3: two processes applying one Cognito spec at once make one user pool; the
/// second waits for the first.
#[apply(emulators)]
#[tokio::test]
async fn two_processes_applying_one_spec_at_once_make_one_user_pool(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    let cap = unique("race");
    let spec = dir.path().join("cap.yaml");
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/with-cognito.yaml")).unwrap();
    let name = example.lines().find_map(|l| l.trim().strip_prefix("capabilityName: ")).unwrap().trim().to_owned();
    std::fs::write(&spec, example.replace(&name, &cap)).unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
            .args(["apply", "--only", "aws", "-f", spec.to_str().unwrap(), "-p", &profile, "-o", "json"])
            .env("NEXUS_DEV_STATE_DIR", dir.path().join("state"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (run(), run());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}\n{}", text(&a), text(&b));
    let cr = {
        let text = std::fs::read_to_string(&spec).unwrap();
        nexus_dev::input::spec::load_specs(&[nexus_dev::input::diag::Source::new("cap.yaml", text)])
            .unwrap()
            .remove(0)
            .cr
    };
    let plan = plan::build(&cr, &testbed_profile(&bed));
    let pool = first(&plan, Kind::CognitoUserPool);
    let c = clients(&bed, &plan).await;
    let pools = crate::support::user_pools(&c.cognito).await;
    let same: Vec<_> = pools.iter().filter(|p| p.name() == Some(pool.as_str())).collect();
    assert_eq!(same.len(), 1, "one user pool named {pool}: {same:?}");
    let gone = delete(&bed, &plan, DeletionPolicy::Delete, false).await;
    assert!(gone.ok(), "{gone:#?}");
}

fn aws_only(dir: &Path, profile: &str, spec: &Path, verb: &str) -> serde_json::Value {
    let (ok, report) = aws_only_report(dir, profile, spec, verb);
    assert!(ok || verb == "diff", "{report:#}");
    report
}

/// Runs `verb` on AWS only; whether it exited 0, and its JSON report.
fn aws_only_report(dir: &Path, profile: &str, spec: &Path, verb: &str) -> (bool, serde_json::Value) {
    // diff reads AWS only; apply and delete are told to.
    let only: &[&str] = if verb == "diff" { &[] } else { &["--only", "aws"] };
    let out = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .arg(verb)
        .args(only)
        .args(["-f", spec.to_str().unwrap(), "-p", profile, "-o", "json"])
        .env("NEXUS_DEV_STATE_DIR", dir.join("state"))
        .output()
        .unwrap();
    (out.status.success(), serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out))))
}

fn with_outcome(v: &serde_json::Value, outcome: &str) -> Vec<String> {
    v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == outcome)
        .map(|r| format!("{} {}", r["kind"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect()
}

/// Issue #11, item 4: what a spec change leaves behind is found by ownership: `diff` reports
/// it, `apply` prunes it under Delete and reports and keeps it under Retain; a region change
/// leaves nothing behind in the old region.
#[apply(emulators)]
#[tokio::test]
async fn what_a_spec_change_leaves_behind_is_reported_and_pruned_by_policy(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let dir = tempfile::tempdir().unwrap();
    let profile = testbed_profile_file(dir.path(), &bed);
    let cap = unique("orph");
    let spec = dir.path().join("cap.yaml");
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml")).unwrap();
    let example = example.replace("myapp", &cap);
    std::fs::write(&spec, &example).unwrap();
    aws_only(dir.path(), &profile, &spec, "apply");

    // Glue off, Retain: reported as orphaned, kept.
    let retain = example
        .replace("glue: { enabled: true }", "glue: { enabled: false }")
        .replace("deletionPolicy: Delete", "deletionPolicy: Retain");
    std::fs::write(&spec, &retain).unwrap();
    let diff = aws_only(dir.path(), &profile, &spec, "diff");
    let orphaned = with_outcome(&diff, "orphaned");
    assert!(orphaned.contains(&format!("glue.database {}_dev_db", cap.replace('-', "_"))), "{orphaned:?}");
    assert!(orphaned.iter().any(|o| o.contains("/glue/database")), "its SSM parameters too: {orphaned:?}");
    let kept = aws_only(dir.path(), &profile, &spec, "apply");
    assert_eq!(with_outcome(&kept, "orphaned").len(), orphaned.len(), "{kept:#}");
    assert!(with_outcome(&kept, "pruned").is_empty());

    // Delete: pruned, and gone.
    std::fs::write(&spec, retain.replace("deletionPolicy: Retain", "deletionPolicy: Delete")).unwrap();
    let pruned = aws_only(dir.path(), &profile, &spec, "apply");
    assert_eq!(with_outcome(&pruned, "pruned").len(), orphaned.len(), "{pruned:#}");
    let again = aws_only(dir.path(), &profile, &spec, "apply");
    assert!(with_outcome(&again, "pruned").is_empty() && with_outcome(&again, "orphaned").is_empty(), "{again:#}");
    assert_eq!(again["mutatingCalls"], 0, "{again:#}");
    // Issue 20: the coverage check and the look for orphans go beside the apply's first wave.
    assert_eq!(again["depth"], 1, "a warm apply, orphans looked for, in one round trip: {again:#}");

    // A region change: the old region's tables, parameters and secrets go (Delete). A bucket
    // cannot move: S3 (and MiniStack) answer from its region only, so the apply fails on it,
    // saying what to do, keeps it, and prunes nothing. moto has no bucket regions.
    let moved = std::fs::read_to_string(&spec).unwrap().replace("region: ap-southeast-1", "region: eu-west-1");
    std::fs::write(&spec, &moved).unwrap();
    let old = Clients::connect(&Target::emulator(&bed.aws_endpoint, "ap-southeast-1")).await;
    let (ok, mut after) = aws_only_report(dir.path(), &profile, &spec, "apply");
    if emulator != Emulator::Moto {
        let stuck = with_outcome(&after, "failed");
        assert!(!ok && !stuck.is_empty() && stuck.iter().all(|s| s.starts_with("s3.bucket")), "{stuck:?}");
        for r in after["resources"].as_array().unwrap().iter().filter(|r| r["outcome"] == "failed") {
            let e = r["error"].as_str().unwrap();
            assert!(
                e.contains("is in ap-southeast-1, the capability is in eu-west-1")
                    && e.contains("set spec.region back to ap-southeast-1"),
                "{e}"
            );
        }
        assert!(with_outcome(&after, "pruned").is_empty(), "a failed apply prunes nothing: {after:#}");
        // The way out the error gives: delete the (empty) buckets in their region, apply again.
        for bucket in &stuck {
            let name = bucket.trim_start_matches("s3.bucket ");
            old.s3.delete_bucket().bucket(name).send().await.unwrap();
        }
        (_, after) = aws_only_report(dir.path(), &profile, &spec, "apply");
    }
    assert!(with_outcome(&after, "failed").is_empty(), "{after:#}");
    let gone = with_outcome(&after, "pruned");
    assert!(gone.iter().any(|g| g.starts_with("dynamodb.table")), "{gone:?}");
    assert!(gone.iter().any(|g| g.starts_with("secretsmanager.secret")), "{gone:?}");
    assert!(
        !gone.iter().any(|g| g.starts_with("iam.role") || g.starts_with("s3.bucket")),
        "global names stay: {gone:?}"
    );
    let tables = old.dynamodb.list_tables().send().await.unwrap();
    assert!(tables.table_names().iter().all(|t| !t.starts_with(&cap)), "{:?}", tables.table_names());
    aws_only(dir.path(), &profile, &spec, "delete");
}

/// A spec applied by hand (`nexus-dev apply` in a project whose daemon runs) keeps what the
/// daemon and watch mode put on the capability: its project label, without which the daemon no
/// longer sees it, and the images watch mode pinned. A capability that pins images sets exactly
/// those (promote).
#[tokio::test]
async fn applying_a_spec_by_hand_keeps_the_project_label_and_the_pinned_images() {
    use nexus_dev::provision::kube::put_capability;
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    nexus_dev::provision::kube::install_crd(&client).await.unwrap();
    let cap = unique("byhand");
    let (api, web) = (format!("r/api@sha256:{}", "a".repeat(64)), format!("r/web@sha256:{}", "b".repeat(64)));
    let cr = Spec::example("minimal").capability(&cap).build();
    let mut from_daemon = cr.clone();
    from_daemon.metadata.labels = Some([("nexus.ai/project".to_owned(), "p1".to_owned())].into());
    from_daemon.metadata.annotations = Some([("nexus.ai/built-image.backend".to_owned(), api.clone())].into());
    put_capability(&client, &from_daemon).await.unwrap();
    let by_hand = put_capability(&client, &cr).await.unwrap();
    let labels = by_hand.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("nexus.ai/project").map(String::as_str), Some("p1"), "the daemon still sees it");
    let pinned = |c: &NexusAICapability| plan::built_images(c).into_iter().collect::<Vec<_>>();
    assert_eq!(pinned(&by_hand), [("backend".to_owned(), api.clone())]);
    let mut promoted = cr.clone();
    promoted.metadata.annotations = Some([("nexus.ai/built-image.frontend".to_owned(), web.clone())].into());
    let live = put_capability(&client, &promoted).await.unwrap();
    assert_eq!(pinned(&live), [("frontend".to_owned(), web.clone())], "exactly the pinned ones");
    let ns = cr.metadata.namespace.clone().unwrap();
    let _ = Api::<Namespace>::all(client.clone()).delete(&ns, &Default::default()).await;
}
