//! IAM (seed 000, step 6): the app role with an IRSA trust policy and a least-privilege inline
//! policy, and the cluster's service-account issuer registered as an OIDC provider when the
//! profile asks for it.

use aws_sdk_iam::types::Tag;
use serde_json::{Value, json};

use super::Ctx;
use super::error::{AwsError, code_of, sdk};
use crate::model::outcome::{Done, Outcome};
use crate::model::plan::{IamOidcProvider, IamRole, Kind, PolicyStatement, Settings, Tags};
use crate::provision::provisioner::{Deps, Observed as ObservedState, Provisioner};

/// `oidc.eks.region.amazonaws.com/id/X` from `https://oidc.eks.region.amazonaws.com/id/X/`.
pub fn issuer_host_path(url: &str) -> &str {
    url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/')
}

/// The IRSA trust policy (AWS EKS documentation): the cluster's OIDC provider may assume the
/// role for exactly this service account and audience.
pub fn trust_policy(provider_arn: &str, issuer: &str, subject: &str, audience: &str) -> Value {
    let host = issuer_host_path(issuer);
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{host}:sub"): subject,
                format!("{host}:aud"): audience,
            }}
        }]
    })
}

pub fn permissions_policy(statements: &[PolicyStatement]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": statements.iter().map(|s| json!({
            "Sid": s.sid,
            "Effect": "Allow",
            "Action": s.actions,
            "Resource": s.resources,
        })).collect::<Vec<_>>()
    })
}

/// Policy documents come back URL-encoded, and AWS may write a one-element list as a string;
/// both sides are normalised before comparing.
pub fn parse_document(doc: &str) -> Option<Value> {
    let decoded = percent_encoding::percent_decode_str(doc).decode_utf8().ok()?;
    let mut v: Value = serde_json::from_str(&decoded).ok()?;
    normalise(&mut v);
    Some(v)
}

fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, inner) in m.iter_mut() {
                if matches!(k.as_str(), "Action" | "Resource" | "NotAction" | "NotResource")
                    && let Value::String(s) = inner
                {
                    *inner = Value::Array(vec![Value::String(s.clone())]);
                }
                normalise(inner);
            }
            if let Some(Value::Array(stmts)) = m.get_mut("Statement") {
                stmts.iter_mut().for_each(normalise);
            } else if let Some(stmt @ Value::Object(_)) = m.get_mut("Statement") {
                let one = stmt.clone();
                *stmt = Value::Array(vec![one]);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

fn normalised(mut v: Value) -> Value {
    normalise(&mut v);
    v
}

/// Finds the provider for `url` by listing (the ARN's account is the target's, whatever the
/// profile says).
async fn find_provider(ctx: &Ctx, url: &str) -> Result<Option<String>, AwsError> {
    let host = issuer_host_path(url);
    let out = ctx
        .clients
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| sdk("ListOpenIDConnectProviders", host, e))?;
    Ok(out
        .open_id_connect_provider_list
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.arn)
        .find(|arn| arn.ends_with(&format!(":oidc-provider/{host}"))))
}

#[tracing::instrument(skip_all, fields(provider = name))]
pub async fn ensure_oidc_provider(
    ctx: &Ctx,
    name: &str,
    want: &IamOidcProvider,
    found: Option<(String, Vec<String>)>,
) -> Result<Done, AwsError> {
    let c = &ctx.clients.iam;
    if let Some((arn, have)) = found {
        let missing: Vec<&String> = want.client_ids.iter().filter(|id| !have.contains(id)).collect();
        if missing.is_empty() || ctx.dry_run {
            let changes = missing.iter().map(|m| format!("client id {m} added")).collect();
            return Ok(Done::from_changes(false, changes).output("arn", arn));
        }
        for id in &missing {
            c.add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .client_id(*id)
                .send()
                .await
                .map_err(|e| sdk("AddClientIDToOpenIDConnectProvider", name, e))?;
        }
        return Ok(Done::from_changes(false, missing.iter().map(|m| format!("client id {m} added")).collect())
            .output("arn", arn));
    }
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Created));
    }
    let tags: Vec<Tag> = want.tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
    let out = c
        .create_open_id_connect_provider()
        .url(&want.url)
        .set_client_id_list(Some(want.client_ids.clone()))
        .set_tags(Some(tags))
        .send()
        .await;
    match out {
        Ok(o) => Ok(Done::new(Outcome::Created).output("arn", o.open_id_connect_provider_arn.unwrap_or_default())),
        Err(e) if code_of(&e) == Some("EntityAlreadyExists") => {
            let arn = find_provider(ctx, &want.url).await?.unwrap_or_default();
            Ok(Done::new(Outcome::Unchanged).output("arn", arn))
        }
        Err(e) => Err(sdk("CreateOpenIDConnectProvider", name, e)),
    }
}

/// The provider for `url` and its client IDs. Tries the ARN the target's account gives first
/// (one call), then looks it up by listing.
pub async fn observe_oidc_provider(ctx: &Ctx, url: &str) -> Result<Option<(String, Vec<String>)>, AwsError> {
    let host = issuer_host_path(url);
    let partition = if ctx.clients.region.starts_with("cn-") {
        "aws-cn"
    } else if ctx.clients.region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    let guess = format!("arn:{partition}:iam::{}:oidc-provider/{host}", ctx.account);
    if let Some(found) = get_provider(ctx, guess, host).await? {
        return Ok(Some(found));
    }
    match find_provider(ctx, url).await? {
        Some(arn) => get_provider(ctx, arn, host).await,
        None => Ok(None),
    }
}

async fn get_provider(ctx: &Ctx, arn: String, host: &str) -> Result<Option<(String, Vec<String>)>, AwsError> {
    match ctx.clients.iam.get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await {
        Ok(p) => Ok(Some((arn, p.client_id_list.unwrap_or_default()))),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => Ok(None),
        Err(e) => Err(sdk("GetOpenIDConnectProvider", host, e)),
    }
}

/// The provider is shared by every capability on the cluster: deleting one capability must not
/// break the others, so it is always kept.
pub async fn delete_oidc_provider(_ctx: &Ctx, _name: &str) -> Result<Done, AwsError> {
    Ok(Done::with_changes(Outcome::Retained, vec!["shared by every capability on the cluster".into()]))
}

/// Resolves the trust's issuer and provider ARN: given, registered in this run, or discovered
/// from the EKS cluster (`eks:NAME`).
pub async fn resolve_trust(
    ctx: &Ctx,
    role: &IamRole,
    registered_arn: Option<&str>,
) -> Result<(String, String), AwsError> {
    let name = &role.arn;
    let issuer = match role.trust.issuer.strip_prefix("eks:") {
        Some(cluster) => {
            let out = ctx
                .clients
                .eks
                .describe_cluster()
                .name(cluster)
                .send()
                .await
                .map_err(|e| sdk("DescribeCluster", cluster, e))?;
            out.cluster.and_then(|c| c.identity).and_then(|i| i.oidc).and_then(|o| o.issuer).ok_or_else(|| {
                AwsError::Missing {
                    resource: name.clone(),
                    message: format!("EKS cluster {cluster} reports no OIDC issuer; enable IRSA on it"),
                }
            })?
        }
        None => role.trust.issuer.clone(),
    };
    let arn = match (registered_arn, &role.trust.provider_arn) {
        (Some(a), _) if !a.is_empty() => a.to_owned(),
        _ => match find_provider(ctx, &issuer).await? {
            Some(a) => a,
            None => match &role.trust.provider_arn {
                Some(a) => a.clone(),
                None => {
                    let partition = role.arn.split(':').nth(1).unwrap_or("aws");
                    format!("arn:{partition}:iam::{}:oidc-provider/{}", ctx.account, issuer_host_path(&issuer))
                }
            },
        },
    };
    Ok((issuer, arn))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub arn: String,
    pub trust: Option<Value>,
    pub policy: Option<Value>,
    pub tags: Tags,
    /// Inline policies other than the plan's.
    pub extra_inline: Vec<String>,
    /// Attached managed policies (the plan attaches none).
    pub attached: Vec<String>,
}

pub async fn observe(ctx: &Ctx, name: &str, policy_name: &str) -> Result<Option<Observed>, AwsError> {
    let c = &ctx.clients.iam;
    let ((role, policy), (inline, attached)) = super::both(
        ctx.serial,
        super::both(
            ctx.serial,
            c.get_role().role_name(name).send(),
            c.get_role_policy().role_name(name).policy_name(policy_name).send(),
        ),
        super::both(
            ctx.serial,
            c.list_role_policies().role_name(name).send(),
            c.list_attached_role_policies().role_name(name).send(),
        ),
    )
    .await;
    let role = match role {
        Ok(r) => r.role,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => return Ok(None),
        Err(e) => return Err(sdk("GetRole", name, e)),
    };
    let Some(role) = role else { return Ok(None) };
    let policy = match policy {
        Ok(p) => parse_document(&p.policy_document),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => None,
        Err(e) => return Err(sdk("GetRolePolicy", name, e)),
    };
    // Every policy that is not the plan's is drift: a role of ours grants exactly the plan.
    let extra_inline = match inline {
        Ok(p) => p.policy_names.into_iter().filter(|p| p != policy_name).collect(),
        Err(e) if code_of(&e) == Some("NoSuchEntity") => Vec::new(),
        Err(e) => return Err(sdk("ListRolePolicies", name, e)),
    };
    let attached = match attached {
        Ok(p) => p.attached_policies.unwrap_or_default().into_iter().filter_map(|p| p.policy_arn).collect(),
        Err(e) if code_of(&e) == Some("NoSuchEntity") => Vec::new(),
        Err(e) => return Err(sdk("ListAttachedRolePolicies", name, e)),
    };
    Ok(Some(Observed {
        arn: role.arn,
        trust: role.assume_role_policy_document.as_deref().and_then(parse_document),
        policy,
        tags: role.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect(),
        extra_inline,
        attached,
    }))
}

#[tracing::instrument(skip_all, fields(role = name))]
pub async fn ensure_role(
    ctx: &Ctx,
    name: &str,
    want: &IamRole,
    registered_arn: Option<&str>,
    current: Option<Observed>,
) -> Result<Done, AwsError> {
    let c = &ctx.clients.iam;
    let (issuer, provider_arn) = resolve_trust(ctx, want, registered_arn).await?;
    let trust = normalised(trust_policy(&provider_arn, &issuer, &want.trust.subject, &want.trust.audience));
    let policy = normalised(permissions_policy(&want.statements));
    let tags: Vec<Tag> = want.tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
    let (created, arn, mut changes) = match &current {
        None if ctx.dry_run => return Ok(Done::new(Outcome::Created)),
        None => {
            let out = c
                .create_role()
                .role_name(name)
                .assume_role_policy_document(trust.to_string())
                .description("nexus-dev application role (IRSA)")
                .set_tags(Some(tags.clone()))
                .send()
                .await;
            let arn = match out {
                Ok(o) => o.role.map(|r| r.arn).unwrap_or_default(),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_already_exists_exception()) => {
                    // Created concurrently; converge it as an existing role below.
                    return Box::pin(ensure_role(ctx, name, want, registered_arn, None)).await;
                }
                Err(e) => return Err(sdk("CreateRole", name, e)),
            };
            (true, arn, vec!["inline policy".to_owned()])
        }
        Some(cur) => {
            let mut changes = Vec::new();
            if cur.trust.as_ref() != Some(&trust) {
                changes.push("trust policy".to_owned());
            }
            if cur.policy.as_ref() != Some(&policy) {
                changes.push("inline policy".to_owned());
            }
            if !super::missing_tags(&cur.tags, &want.tags).is_empty() {
                changes.push("tags".to_owned());
            }
            for p in &cur.extra_inline {
                changes.push(format!("remove inline policy {p} (not in the plan)"));
            }
            for p in &cur.attached {
                changes.push(format!("detach managed policy {p} (not in the plan)"));
            }
            (false, cur.arn.clone(), changes)
        }
    };
    if ctx.dry_run || changes.is_empty() {
        return Ok(Done::from_changes(created, changes).output("arn", arn));
    }
    if changes.iter().any(|c| c == "trust policy") {
        c.update_assume_role_policy()
            .role_name(name)
            .policy_document(trust.to_string())
            .send()
            .await
            .map_err(|e| sdk("UpdateAssumeRolePolicy", name, e))?;
    }
    if changes.iter().any(|c| c == "inline policy") {
        c.put_role_policy()
            .role_name(name)
            .policy_name(&want.policy_name)
            .policy_document(policy.to_string())
            .send()
            .await
            .map_err(|e| sdk("PutRolePolicy", name, e))?;
    }
    if changes.iter().any(|c| c == "tags") {
        c.tag_role().role_name(name).set_tags(Some(tags)).send().await.map_err(|e| sdk("TagRole", name, e))?;
    }
    if let Some(cur) = &current {
        remove_policies(ctx, name, &cur.extra_inline, &cur.attached).await?;
    }
    if created {
        changes.clear();
    }
    Ok(Done::from_changes(created, changes).output("arn", arn))
}

/// Deletes the role's inline policies named `inline` and detaches the managed ones in `attached`.
async fn remove_policies(ctx: &Ctx, name: &str, inline: &[String], attached: &[String]) -> Result<(), AwsError> {
    let c = &ctx.clients.iam;
    for p in inline {
        c.delete_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
            .map_err(|e| sdk("DeleteRolePolicy", name, e))?;
    }
    for arn in attached {
        c.detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| sdk("DetachRolePolicy", name, e))?;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(role = name))]
pub async fn delete_role(ctx: &Ctx, name: &str) -> Result<Done, AwsError> {
    let c = &ctx.clients.iam;
    match c.get_role().role_name(name).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => {
            return Ok(Done::new(Outcome::Absent));
        }
        Err(e) => return Err(sdk("GetRole", name, e)),
    }
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    // A role goes only without policies: every inline one deleted, every managed one detached.
    let inline = c.list_role_policies().role_name(name).send().await.map_err(|e| sdk("ListRolePolicies", name, e))?;
    let attached = c
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| sdk("ListAttachedRolePolicies", name, e))?;
    let attached: Vec<String> =
        attached.attached_policies.unwrap_or_default().into_iter().filter_map(|p| p.policy_arn).collect();
    remove_policies(ctx, name, &inline.policy_names, &attached).await?;
    match c.delete_role().role_name(name).send().await {
        Ok(_) => Ok(Done::new(Outcome::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => {
            Ok(Done::new(Outcome::Absent))
        }
        Err(e) => Err(sdk("DeleteRole", name, e)),
    }
}

/// The cluster's IAM OIDC provider, shared by every capability on the cluster: never deleted.
pub struct OidcProvider;

/// A provider as it is: its ARN and client IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedProvider(pub String, pub Vec<String>);

impl ObservedState for ObservedProvider {
    /// Shared: no capability's alone.
    fn ownership(&self) -> Option<&Tags> {
        None
    }
}

impl Provisioner for OidcProvider {
    const KIND: Kind = Kind::IamOidcProvider;
    type Want = IamOidcProvider;
    type Observed = ObservedProvider;

    fn want(settings: &Settings) -> Option<&IamOidcProvider> {
        if let Settings::IamOidcProvider(w) = settings { Some(w) } else { None }
    }

    async fn observe(
        ctx: &Ctx,
        _: &str,
        want: &IamOidcProvider,
        _: &Deps<'_>,
    ) -> Result<Option<ObservedProvider>, AwsError> {
        Ok(observe_oidc_provider(ctx, &want.url).await?.map(|(arn, clients)| ObservedProvider(arn, clients)))
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &IamOidcProvider,
        current: Option<ObservedProvider>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure_oidc_provider(ctx, name, want, current.map(|ObservedProvider(arn, clients)| (arn, clients))).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        _: &IamOidcProvider,
        _: Option<ObservedProvider>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        delete_oidc_provider(ctx, name).await
    }
}

/// The capability's IAM role, trusted through IRSA by its service account.
pub struct Role;

impl ObservedState for Observed {
    fn ownership(&self) -> Option<&Tags> {
        Some(&self.tags)
    }
}

impl Provisioner for Role {
    const KIND: Kind = Kind::IamRole;
    type Want = IamRole;
    type Observed = Observed;

    fn want(settings: &Settings) -> Option<&IamRole> {
        if let Settings::IamRole(w) = settings { Some(w) } else { None }
    }

    async fn observe(ctx: &Ctx, name: &str, want: &IamRole, _: &Deps<'_>) -> Result<Option<Observed>, AwsError> {
        observe(ctx, name, &want.policy_name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &IamRole,
        current: Option<Observed>,
        deps: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure_role(ctx, name, want, deps.dependency(Kind::IamOidcProvider, "arn"), current).await
    }

    async fn delete(ctx: &Ctx, name: &str, _: &IamRole, _: Option<Observed>, _: &Deps<'_>) -> Result<Done, AwsError> {
        delete_role(ctx, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policy_is_irsa_for_one_service_account() {
        let t = trust_policy(
            "arn:aws:iam::1:oidc-provider/oidc.eks.r.amazonaws.com/id/X",
            "https://oidc.eks.r.amazonaws.com/id/X",
            "system:serviceaccount:ns:sa",
            "sts.amazonaws.com",
        );
        let s = &t["Statement"][0];
        assert_eq!(s["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(s["Principal"]["Federated"], "arn:aws:iam::1:oidc-provider/oidc.eks.r.amazonaws.com/id/X");
        assert_eq!(s["Condition"]["StringEquals"]["oidc.eks.r.amazonaws.com/id/X:sub"], "system:serviceaccount:ns:sa");
        assert_eq!(s["Condition"]["StringEquals"]["oidc.eks.r.amazonaws.com/id/X:aud"], "sts.amazonaws.com");
    }

    #[test]
    fn documents_compare_after_decoding_and_normalising() {
        let want = normalised(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}]}),
        );
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Ab%2F*%22%7D%7D";
        assert_eq!(parse_document(encoded), Some(want));
    }
}
