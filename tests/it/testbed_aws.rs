//! The test bed's AWS emulator answers the Rust SDK clients of every service nexus-dev uses.

use crate::emulators;
use crate::support::Emulator;
use crate::support::{TestBed, unique};
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use rstest_reuse::apply;

#[apply(emulators)]
#[tokio::test]
async fn every_service_answers_through_the_rust_sdk(#[case] emulator: Emulator) {
    let bed = TestBed::on(emulator);
    let config = bed.aws().await;
    let name = unique("tb");

    let s3 = nexus_dev::provision::aws::s3_client(&config, true);
    s3.create_bucket().bucket(&name).send().await.unwrap();
    s3.put_object().bucket(&name).key("k").body(b"v".to_vec().into()).send().await.unwrap();
    let got = s3.get_object().bucket(&name).key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], b"v");

    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let table = ddb
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(table.table_description.unwrap().table_name.as_deref(), Some(name.as_str()));

    let glue = aws_sdk_glue::Client::new(&config);
    let db = name.replace('-', "_");
    glue.create_database()
        .database_input(aws_sdk_glue::types::DatabaseInput::builder().name(&db).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(glue.get_database().name(&db).send().await.unwrap().database.unwrap().name, db);

    let ssm = aws_sdk_ssm::Client::new(&config);
    let param = format!("/{name}/aws/region");
    ssm.put_parameter()
        .name(&param)
        .value("us-east-1")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ssm.get_parameter().name(&param).send().await.unwrap().parameter.unwrap().value.as_deref(),
        Some("us-east-1")
    );

    let sm = aws_sdk_secretsmanager::Client::new(&config);
    sm.create_secret().name(format!("{name}/api-keys")).secret_string("{}").send().await.unwrap();
    assert!(sm.describe_secret().secret_id(format!("{name}/api-keys")).send().await.unwrap().arn.is_some());

    let iam = aws_sdk_iam::Client::new(&config);
    let role = iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    assert!(role.role.unwrap().arn.ends_with(&format!(":role/{name}")));

    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
    let pool = cognito.create_user_pool().pool_name(&name).send().await.unwrap().user_pool.unwrap();
    assert!(pool.id.is_some());

    let sts = aws_sdk_sts::Client::new(&config);
    assert!(sts.get_caller_identity().send().await.unwrap().account.is_some());

    let ecr = aws_sdk_ecr::Client::new(&config);
    let repo = ecr.create_repository().repository_name(&name).send().await.unwrap().repository.unwrap();
    assert!(repo.repository_uri.unwrap().ends_with(&format!("/{name}")));

    let eks = aws_sdk_eks::Client::new(&config);
    let cluster = eks
        .create_cluster()
        .name(&name)
        .role_arn(format!("arn:aws:iam::{}:role/eks", bed.account()))
        .resources_vpc_config(aws_sdk_eks::types::VpcConfigRequest::builder().subnet_ids("subnet-1").build())
        .send()
        .await
        .unwrap();
    assert_eq!(cluster.cluster.unwrap().name.as_deref(), Some(name.as_str()));
    let described = eks.describe_cluster().name(&name).send().await.unwrap().cluster.unwrap();
    // EKS issuers are https; MiniStack's are http on localhost. A URL either way.
    let issuer = described.identity.and_then(|i| i.oidc).and_then(|o| o.issuer).unwrap_or_default();
    assert!(issuer.starts_with("https://") || issuer.starts_with("http://"), "{issuer:?}");
}
