//! The operator's own IAM role (seed 001's `NexusAIOperatorRole`): IRSA trust for the
//! operator's service account, and a policy exactly as broad as the operator's calls: each
//! action nexus-dev's provisioners call, on the resources of the account it provisions (no
//! `*` action anywhere; `*` resources only for the few list calls AWS does not scope). A unit
//! test reads the provisioners' sources, so that a new call without its action here fails.

use std::collections::BTreeMap;

use crate::model::plan::{IamRole, IrsaTrust, PolicyStatement};
use crate::model::profile::Profile;

/// The role's name (seed 001).
pub const ROLE: &str = "NexusAIOperatorRole";
const POLICY: &str = "nexus-dev-operator";

/// Every AWS call of the provisioners, as `(service prefix, action)`, with the resources it acts
/// on (`{a}`: the account).
const CALLS: &[(&str, &[&str], &[&str])] = &[
    (
        "dynamodb",
        &["CreateTable", "DeleteTable", "DescribeTable", "ListTagsOfResource", "TagResource", "UpdateTable"],
        &["arn:aws:dynamodb:*:{a}:table/*"],
    ),
    (
        "s3",
        &[
            "CreateBucket",
            "DeleteBucket",
            "ListBucket",
            "ListBucketVersions",
            "GetBucketTagging",
            "PutBucketTagging",
            "GetBucketVersioning",
            "PutBucketVersioning",
            "GetEncryptionConfiguration",
            "PutEncryptionConfiguration",
            "GetBucketPublicAccessBlock",
            "PutBucketPublicAccessBlock",
        ],
        &["arn:aws:s3:::*"],
    ),
    // Emptying a bucket before deleting it (deletionPolicy: Delete).
    ("s3", &["DeleteObject", "DeleteObjectVersion"], &["arn:aws:s3:::*/*"]),
    (
        "glue",
        &[
            "CreateDatabase",
            "DeleteDatabase",
            "GetDatabase",
            "UpdateDatabase",
            "CreateTable",
            "DeleteTable",
            "GetTable",
            "GetTables",
            "UpdateTable",
            "GetTags",
            "TagResource",
        ],
        &["arn:aws:glue:*:{a}:catalog", "arn:aws:glue:*:{a}:database/*", "arn:aws:glue:*:{a}:table/*/*"],
    ),
    (
        "ssm",
        &[
            "PutParameter",
            "GetParameter",
            "GetParameters",
            "DeleteParameter",
            "AddTagsToResource",
            "ListTagsForResource",
        ],
        &["arn:aws:ssm:*:{a}:parameter/*"],
    ),
    (
        "secretsmanager",
        &["CreateSecret", "DeleteSecret", "DescribeSecret", "UpdateSecret", "TagResource", "GetSecretValue"],
        &["arn:aws:secretsmanager:*:{a}:secret:*"],
    ),
    (
        "iam",
        &[
            "CreateRole",
            "DeleteRole",
            "GetRole",
            "TagRole",
            "UpdateAssumeRolePolicy",
            "PutRolePolicy",
            "GetRolePolicy",
            "DeleteRolePolicy",
            "ListRolePolicies",
            "ListAttachedRolePolicies",
            "DetachRolePolicy",
        ],
        &["arn:aws:iam::{a}:role/*"],
    ),
    (
        "iam",
        &["CreateOpenIDConnectProvider", "GetOpenIDConnectProvider", "AddClientIDToOpenIDConnectProvider"],
        &["arn:aws:iam::{a}:oidc-provider/*"],
    ),
    ("iam", &["ListOpenIDConnectProviders"], &["*"]),
    (
        "cognito-idp",
        &[
            "CreateUserPool",
            "DeleteUserPool",
            "DescribeUserPool",
            "TagResource",
            "CreateUserPoolClient",
            "DeleteUserPoolClient",
            "DescribeUserPoolClient",
            "UpdateUserPoolClient",
            "ListUserPoolClients",
            "CreateUserPoolDomain",
            "DeleteUserPoolDomain",
            "DescribeUserPoolDomain",
            "CreateGroup",
            "DeleteGroup",
            "GetGroup",
            "UpdateGroup",
        ],
        &["arn:aws:cognito-idp:*:{a}:userpool/*"],
    ),
    // Listing pools is not scoped to a pool by AWS; DescribeUserPoolDomain takes a domain name.
    ("cognito-idp", &["ListUserPools", "DescribeUserPoolDomain"], &["*"]),
    ("eks", &["DescribeCluster"], &["arn:aws:eks:*:{a}:cluster/*"]),
];

/// The operator's role for `profile`'s account, trusted by the service account
/// `namespace/nexus-operator` through the profile's OIDC issuer.
pub fn role(profile: &Profile, namespace: &str) -> IamRole {
    let account = &profile.aws.account;
    let statements = CALLS
        .iter()
        .enumerate()
        .map(|(i, (service, actions, resources))| PolicyStatement {
            sid: format!("{}{i}", service.replace('-', "")),
            actions: actions.iter().map(|a| format!("{service}:{a}")).collect(),
            resources: resources.iter().map(|r| r.replace("{a}", account)).collect(),
        })
        .collect();
    let issuer = profile
        .irsa
        .issuer
        .clone()
        .or_else(|| profile.cluster.name.as_ref().map(|n| format!("eks:{n}")))
        .unwrap_or_default();
    IamRole {
        arn: format!("arn:aws:iam::{account}:role/{ROLE}"),
        trust: IrsaTrust {
            issuer,
            provider_arn: None,
            subject: format!("system:serviceaccount:{namespace}:{}", super::NAME),
            audience: "sts.amazonaws.com".into(),
        },
        statements,
        policy_name: POLICY.into(),
        tags: BTreeMap::from([("app.kubernetes.io/managed-by".to_owned(), "nexus-dev".to_owned())]),
    }
}

/// Plans the operator's role against the profile's account (`apply` false: nothing written) or
/// makes it so: created, or its trust, policy and tags put back to exactly these. The outcome
/// says which (`created`, `unchanged`, `updated` with the changes) and carries the role's ARN.
pub async fn ensure(
    profile: &Profile,
    namespace: &str,
    apply: bool,
) -> Result<(IamRole, crate::model::outcome::Done), crate::provision::aws::AwsError> {
    use crate::provision::aws::{Clients, Ctx, Target, iam};
    let want = role(profile, namespace);
    // IAM is global; the region only picks the endpoint.
    let ctx = Ctx::new(Clients::connect(&Target::of(profile, "us-east-1")).await, profile.aws.account.clone())
        .dry_run(!apply);
    let current = iam::observe(&ctx, ROLE, POLICY).await?;
    let done = iam::ensure_role(&ctx, ROLE, &want, None, current).await?;
    Ok((want, done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        serde_yaml::from_str(
            "name: eks\ncluster: {provider: eks, name: prod}\naws: {account: \"111122223333\"}\nirsa: {issuer: \"https://oidc.eks.eu-west-1.amazonaws.com/id/X\"}\n",
        )
        .unwrap()
    }

    #[test]
    fn no_wildcard_action_and_wildcard_resources_only_for_unscoped_calls() {
        let r = role(&profile(), "nexus-system");
        assert_eq!(r.arn, "arn:aws:iam::111122223333:role/NexusAIOperatorRole");
        assert_eq!(r.trust.subject, "system:serviceaccount:nexus-system:nexus-operator");
        for s in &r.statements {
            assert!(s.actions.iter().all(|a| !a.contains('*')), "{s:?}");
            if s.resources == ["*"] {
                assert!(
                    s.actions.iter().all(|a| a.contains(":List") || a.ends_with("DescribeUserPoolDomain")),
                    "{s:?}"
                );
            } else {
                assert!(
                    s.resources.iter().all(|r| r.contains("111122223333") || r.starts_with("arn:aws:s3:::")),
                    "{s:?}"
                );
            }
        }
    }

    /// Every SDK call in the provisioners has its action in the policy: `.create_table()` in
    /// dynamodb.rs is `dynamodb:CreateTable`.
    #[test]
    fn the_policy_covers_every_call_of_the_provisioners() {
        let sources = [
            ("dynamodb", include_str!("../provision/aws/dynamodb.rs")),
            ("s3", include_str!("../provision/aws/s3.rs")),
            ("glue", include_str!("../provision/aws/glue.rs")),
            ("ssm", include_str!("../provision/aws/ssm.rs")),
            ("secretsmanager", include_str!("../provision/aws/secrets.rs")),
            ("secretsmanager", include_str!("../provision/kube/secrets.rs")),
            ("iam", include_str!("../provision/aws/iam.rs")),
            ("cognito-idp", include_str!("../provision/aws/cognito.rs")),
        ];
        // The SDK's method names that are not the action's name in snake case.
        let renamed = BTreeMap::from([
            ("s3:HeadBucket", "s3:ListBucket"),
            ("s3:ListObjectVersions", "s3:ListBucketVersions"),
            ("s3:DeleteObjects", "s3:DeleteObject"),
            ("s3:GetBucketEncryption", "s3:GetEncryptionConfiguration"),
            ("s3:PutBucketEncryption", "s3:PutEncryptionConfiguration"),
            ("s3:GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
            ("s3:PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
            ("iam:DescribeCluster", "eks:DescribeCluster"),
        ]);
        let granted: Vec<String> = role(&profile(), "ns").statements.into_iter().flat_map(|s| s.actions).collect();
        let verbs = regex::Regex::new(
            r"\.((?:create|delete|describe|get|put|list|update|tag|untag|head|add|remove|attach|detach|admin)_[a-z_]+)\(\)",
        )
        .unwrap();
        let mut missing = Vec::new();
        for (service, text) in sources {
            for m in verbs.captures_iter(text) {
                let camel: String = m[1]
                    .split('_')
                    .map(|w| match w {
                        "id" => "ID".to_owned(),
                        "open" | "connect" => w[..1].to_uppercase() + &w[1..],
                        _ => w[..1].to_uppercase() + &w[1..],
                    })
                    .collect::<String>()
                    .replace("OpenIdConnect", "OpenIDConnect");
                let action = format!("{service}:{camel}");
                let action = renamed.get(action.as_str()).map(|a| (*a).to_owned()).unwrap_or(action);
                // A response's field read with the same verb-like name, not a call.
                if action == "s3:DeleteMarkers" {
                    continue;
                }
                if !granted.contains(&action) {
                    missing.push(action);
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "calls without their action in the operator's policy: {missing:?}");
    }
}
