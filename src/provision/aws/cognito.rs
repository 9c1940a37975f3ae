//! Cognito (optional, `enableCognito`; seed 001's provisioner): a user pool, a public app client
//! for the authorization-code flow with PKCE (no client secret), a hosted-UI domain, and groups.

use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, OAuthFlowType, PasswordPolicyType, UserPoolPolicyType, UserPoolType, UsernameAttributeType,
    VerifiedAttributeType,
};

use super::Ctx;
use super::error::{AwsError, sdk};
use crate::model::outcome::{Done, Outcome};
use crate::model::plan::{
    CognitoGroup, CognitoUserPool, CognitoUserPoolClient, CognitoUserPoolDomain, Kind, Settings, Tags,
};
use crate::provision::provisioner::{Deps, Observed as ObservedState, Provisioner};

/// Finds a pool by name. Cognito does not make names unique, so two pools of one name are an
/// error for a person to resolve, never a guess.
pub async fn find_pool(ctx: &Ctx, name: &str) -> Result<Option<String>, AwsError> {
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let out = ctx
            .clients
            .cognito
            .list_user_pools()
            .max_results(60)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| sdk("ListUserPools", name, e))?;
        found.extend(
            out.user_pools
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.name.as_deref() == Some(name))
                .filter_map(|p| p.id),
        );
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(AwsError::conflict(
            name,
            format!("{n} user pools have this name ({}); delete the extra ones", found.join(", ")),
        )),
    }
}

/// A user pool as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPool {
    pub id: String,
    pub arn: String,
    pub tags: Tags,
}

/// Finds the pool by name and reads its tags.
pub async fn observe_pool(ctx: &Ctx, name: &str) -> Result<Option<ObservedPool>, AwsError> {
    let Some(id) = find_pool(ctx, name).await? else { return Ok(None) };
    match ctx.clients.cognito.describe_user_pool().user_pool_id(&id).send().await {
        Ok(out) => {
            let pool = out.user_pool.unwrap_or_else(|| UserPoolType::builder().build());
            Ok(Some(ObservedPool {
                id,
                arn: pool.arn.unwrap_or_default(),
                tags: pool.user_pool_tags.unwrap_or_default().into_iter().collect(),
            }))
        }
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(sdk("DescribeUserPool", name, e)),
    }
}

#[tracing::instrument(skip_all, fields(pool = name))]
pub async fn ensure_pool(
    ctx: &Ctx,
    name: &str,
    want: &CognitoUserPool,
    found: Option<ObservedPool>,
) -> Result<Done, AwsError> {
    if let Some(pool) = found {
        let missing = super::missing_tags(&pool.tags, &want.tags);
        if missing.is_empty() {
            return Ok(Done::new(Outcome::Unchanged).output("id", pool.id));
        }
        if !ctx.dry_run {
            ctx.clients
                .cognito
                .tag_resource()
                .resource_arn(&pool.arn)
                .set_tags(Some(missing.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()))
                .send()
                .await
                .map_err(|e| sdk("TagResource", name, e))?;
        }
        return Ok(Done::with_changes(Outcome::Updated, vec!["tags".into()]).output("id", pool.id));
    }
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Created));
    }
    let password = PasswordPolicyType::builder()
        .minimum_length(want.password_min_length)
        .require_lowercase(true)
        .require_uppercase(true)
        .require_numbers(true)
        .build();
    let out = ctx
        .clients
        .cognito
        .create_user_pool()
        .pool_name(name)
        .set_username_attributes(Some(
            want.username_attributes.iter().map(|a| UsernameAttributeType::from(a.as_str())).collect(),
        ))
        .set_auto_verified_attributes(Some(
            want.auto_verified_attributes.iter().map(|a| VerifiedAttributeType::from(a.as_str())).collect(),
        ))
        .policies(UserPoolPolicyType::builder().password_policy(password).build())
        .set_user_pool_tags(Some(want.tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(|e| sdk("CreateUserPool", name, e))?;
    let pool = out.user_pool.unwrap_or_else(|| UserPoolType::builder().build());
    let id = pool.id.unwrap_or_default();
    Ok(Done::new(Outcome::Created).output("id", id).output("arn", pool.arn.unwrap_or_default()))
}

pub async fn delete_pool(ctx: &Ctx, name: &str) -> Result<Done, AwsError> {
    let Some(id) = find_pool(ctx, name).await? else { return Ok(Done::new(Outcome::Absent)) };
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    ctx.clients
        .cognito
        .delete_user_pool()
        .user_pool_id(&id)
        .send()
        .await
        .map_err(|e| sdk("DeleteUserPool", name, e))?;
    Ok(Done::new(Outcome::Deleted))
}

/// The client's OAuth settings, as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    pub flows: Vec<String>,
    pub scopes: Vec<String>,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
    pub identity_providers: Vec<String>,
    pub has_secret: bool,
}

fn wanted(want: &CognitoUserPoolClient) -> ClientSettings {
    ClientSettings {
        flows: want.oauth_flows.clone(),
        scopes: want.scopes.clone(),
        callback_urls: want.callback_urls.clone(),
        logout_urls: want.logout_urls.clone(),
        identity_providers: want.identity_providers.clone(),
        has_secret: want.generate_secret,
    }
}

pub fn client_changes(current: &ClientSettings, want: &CognitoUserPoolClient) -> Vec<String> {
    let w = wanted(want);
    let sorted = |v: &Vec<String>| {
        let mut v = v.clone();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for (what, a, b) in [
        ("OAuth flows", &current.flows, &w.flows),
        ("scopes", &current.scopes, &w.scopes),
        ("callback URLs", &current.callback_urls, &w.callback_urls),
        ("logout URLs", &current.logout_urls, &w.logout_urls),
        ("identity providers", &current.identity_providers, &w.identity_providers),
    ] {
        if sorted(a) != sorted(b) {
            out.push(format!("{what}: {a:?} → {b:?}"));
        }
    }
    out
}

/// Describes the client `id` (a hint, such as the ID nexus-dev stored in SSM), if it exists and
/// is called `name`; saves listing every client of the pool.
async fn describe_client(
    ctx: &Ctx,
    pool_id: &str,
    id: &str,
    name: &str,
) -> Result<Option<(String, ClientSettings)>, AwsError> {
    match ctx.clients.cognito.describe_user_pool_client().user_pool_id(pool_id).client_id(id).send().await {
        Ok(d) => Ok(d
            .user_pool_client
            .filter(|u| u.client_name.as_deref() == Some(name))
            .map(|u| (id.to_owned(), settings(u)))),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(sdk("DescribeUserPoolClient", name, e)),
    }
}

fn settings(u: aws_sdk_cognitoidentityprovider::types::UserPoolClientType) -> ClientSettings {
    ClientSettings {
        flows: u.allowed_o_auth_flows.unwrap_or_default().iter().map(|f| f.as_str().to_owned()).collect(),
        scopes: u.allowed_o_auth_scopes.unwrap_or_default(),
        callback_urls: u.callback_urls.unwrap_or_default(),
        logout_urls: u.logout_urls.unwrap_or_default(),
        identity_providers: u.supported_identity_providers.unwrap_or_default(),
        has_secret: u.client_secret.is_some(),
    }
}

async fn find_client(ctx: &Ctx, pool_id: &str, name: &str) -> Result<Option<(String, ClientSettings)>, AwsError> {
    let c = &ctx.clients.cognito;
    let list = c
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .send()
        .await
        .map_err(|e| sdk("ListUserPoolClients", name, e))?;
    let Some(id) = list
        .user_pool_clients
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.client_name.as_deref() == Some(name))
        .and_then(|c| c.client_id)
    else {
        return Ok(None);
    };
    describe_client(ctx, pool_id, &id, name).await
}

#[tracing::instrument(skip_all, fields(client = name))]
pub async fn ensure_client(
    ctx: &Ctx,
    name: &str,
    pool_id: Option<&str>,
    want: &CognitoUserPoolClient,
    hint: Option<&str>,
) -> Result<Done, AwsError> {
    let Some(pool_id) = pool_id else {
        // Only in a dry run can the pool be missing: it would be created first.
        return Ok(Done::new(Outcome::Created));
    };
    let existing = match hint {
        Some(id) => match describe_client(ctx, pool_id, id, name).await? {
            Some(found) => Some(found),
            None => find_client(ctx, pool_id, name).await?,
        },
        None => find_client(ctx, pool_id, name).await?,
    };
    let c = &ctx.clients.cognito;
    if let Some((_, current)) = &existing
        && current.has_secret
    {
        return Err(AwsError::conflict(
            name,
            "the app client has a client secret; a browser app using PKCE must be a public client. Delete the client so nexus-dev can recreate it",
        ));
    }
    let changes = existing.as_ref().map(|(_, cur)| client_changes(cur, want)).unwrap_or_default();
    if let Some((id, _)) = &existing {
        if changes.is_empty() || ctx.dry_run {
            return Ok(Done::from_changes(false, changes).output("id", id.clone()));
        }
    } else if ctx.dry_run {
        return Ok(Done::new(Outcome::Created));
    }
    let flows: Vec<OAuthFlowType> = want.oauth_flows.iter().map(|f| OAuthFlowType::from(f.as_str())).collect();
    let auth_flows = vec![ExplicitAuthFlowsType::AllowRefreshTokenAuth, ExplicitAuthFlowsType::AllowUserSrpAuth];
    // Create and update take the same OAuth settings; an update replaces every setting, so all
    // of them are always sent.
    macro_rules! oauth {
        ($req:expr) => {
            $req.user_pool_id(pool_id)
                .client_name(name)
                .set_allowed_o_auth_flows(Some(flows))
                .allowed_o_auth_flows_user_pool_client(true)
                .set_allowed_o_auth_scopes(Some(want.scopes.clone()))
                .set_callback_urls(Some(want.callback_urls.clone()))
                .set_logout_urls(Some(want.logout_urls.clone()))
                .set_supported_identity_providers(Some(want.identity_providers.clone()))
                .set_explicit_auth_flows(Some(auth_flows))
        };
    }
    let id = match &existing {
        Some((id, _)) => {
            oauth!(c.update_user_pool_client().client_id(id))
                .send()
                .await
                .map_err(|e| sdk("UpdateUserPoolClient", name, e))?;
            id.clone()
        }
        None => oauth!(c.create_user_pool_client().generate_secret(want.generate_secret))
            .send()
            .await
            .map_err(|e| sdk("CreateUserPoolClient", name, e))?
            .user_pool_client
            .and_then(|u| u.client_id)
            .unwrap_or_default(),
    };
    Ok(Done::from_changes(existing.is_none(), changes).output("id", id))
}

pub async fn delete_client(ctx: &Ctx, name: &str, pool_id: Option<&str>) -> Result<Done, AwsError> {
    let Some(pool_id) = pool_id else { return Ok(Done::new(Outcome::Absent)) };
    let Some((id, _)) = find_client(ctx, pool_id, name).await? else { return Ok(Done::new(Outcome::Absent)) };
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    ctx.clients
        .cognito
        .delete_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(id)
        .send()
        .await
        .map_err(|e| sdk("DeleteUserPoolClient", name, e))?;
    Ok(Done::new(Outcome::Deleted))
}

/// The pool a domain belongs to, if the domain exists.
async fn domain_owner(ctx: &Ctx, domain: &str) -> Result<Option<String>, AwsError> {
    let out = ctx.clients.cognito.describe_user_pool_domain().domain(domain).send().await;
    match out {
        Ok(o) => Ok(o.domain_description.and_then(|d| d.user_pool_id).filter(|id| !id.is_empty())),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(sdk("DescribeUserPoolDomain", domain, e)),
    }
}

fn hosted_ui(ctx: &Ctx, domain: &str) -> String {
    format!("{domain}.auth.{}.amazoncognito.com", ctx.clients.region)
}

#[tracing::instrument(skip_all, fields(domain = name))]
pub async fn ensure_domain(
    ctx: &Ctx,
    name: &str,
    pool_id: Option<&str>,
    _want: &CognitoUserPoolDomain,
) -> Result<Done, AwsError> {
    let Some(pool_id) = pool_id else { return Ok(Done::new(Outcome::Created)) };
    match domain_owner(ctx, name).await? {
        Some(owner) if owner == pool_id => Ok(Done::new(Outcome::Unchanged).output("domain", hosted_ui(ctx, name))),
        Some(owner) => Err(AwsError::conflict(name, format!("the domain belongs to another user pool ({owner})"))),
        None if ctx.dry_run => Ok(Done::new(Outcome::Created)),
        None => {
            ctx.clients
                .cognito
                .create_user_pool_domain()
                .domain(name)
                .user_pool_id(pool_id)
                .send()
                .await
                .map_err(|e| sdk("CreateUserPoolDomain", name, e))?;
            Ok(Done::new(Outcome::Created).output("domain", hosted_ui(ctx, name)))
        }
    }
}

pub async fn delete_domain(ctx: &Ctx, name: &str, pool_id: Option<&str>) -> Result<Done, AwsError> {
    match (domain_owner(ctx, name).await?, pool_id) {
        (Some(owner), Some(pool)) if owner == pool => {
            if !ctx.dry_run {
                ctx.clients
                    .cognito
                    .delete_user_pool_domain()
                    .domain(name)
                    .user_pool_id(pool)
                    .send()
                    .await
                    .map_err(|e| sdk("DeleteUserPoolDomain", name, e))?;
            }
            Ok(Done::new(Outcome::Deleted))
        }
        _ => Ok(Done::new(Outcome::Absent)),
    }
}

#[tracing::instrument(skip_all, fields(group = name))]
pub async fn ensure_group(ctx: &Ctx, name: &str, pool_id: Option<&str>, want: &CognitoGroup) -> Result<Done, AwsError> {
    let Some(pool_id) = pool_id else { return Ok(Done::new(Outcome::Created)) };
    let c = &ctx.clients.cognito;
    let current = match c.get_group().group_name(name).user_pool_id(pool_id).send().await {
        Ok(g) => g.group.map(|g| (g.description.unwrap_or_default(), g.precedence)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => None,
        Err(e) => return Err(sdk("GetGroup", name, e)),
    };
    match current {
        None if ctx.dry_run => Ok(Done::new(Outcome::Created)),
        None => {
            c.create_group()
                .group_name(name)
                .user_pool_id(pool_id)
                .description(&want.description)
                .precedence(want.precedence)
                .send()
                .await
                .map_err(|e| sdk("CreateGroup", name, e))?;
            Ok(Done::new(Outcome::Created))
        }
        Some((d, p)) if d == want.description && p == Some(want.precedence) => Ok(Done::new(Outcome::Unchanged)),
        Some(_) => {
            if !ctx.dry_run {
                c.update_group()
                    .group_name(name)
                    .user_pool_id(pool_id)
                    .description(&want.description)
                    .precedence(want.precedence)
                    .send()
                    .await
                    .map_err(|e| sdk("UpdateGroup", name, e))?;
            }
            Ok(Done::with_changes(Outcome::Updated, vec!["description and precedence".into()]))
        }
    }
}

pub async fn delete_group(ctx: &Ctx, name: &str, pool_id: Option<&str>) -> Result<Done, AwsError> {
    let Some(pool_id) = pool_id else { return Ok(Done::new(Outcome::Absent)) };
    if ctx.dry_run {
        return Ok(Done::new(Outcome::Deleted));
    }
    match ctx.clients.cognito.delete_group().group_name(name).user_pool_id(pool_id).send().await {
        Ok(_) => Ok(Done::new(Outcome::Deleted)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
            Ok(Done::new(Outcome::Absent))
        }
        Err(e) => Err(sdk("DeleteGroup", name, e)),
    }
}

/// Cognito user pools.
pub struct UserPool;

impl ObservedState for ObservedPool {
    fn ownership(&self) -> Option<&Tags> {
        Some(&self.tags)
    }
}

impl Provisioner for UserPool {
    const KIND: Kind = Kind::CognitoUserPool;
    type Want = CognitoUserPool;
    type Observed = ObservedPool;

    fn want(settings: &Settings) -> Option<&CognitoUserPool> {
        if let Settings::CognitoUserPool(w) = settings { Some(w) } else { None }
    }

    async fn observe(
        ctx: &Ctx,
        name: &str,
        _: &CognitoUserPool,
        _: &Deps<'_>,
    ) -> Result<Option<ObservedPool>, AwsError> {
        observe_pool(ctx, name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &CognitoUserPool,
        current: Option<ObservedPool>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure_pool(ctx, name, want, current).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        _: &CognitoUserPool,
        _: Option<ObservedPool>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        delete_pool(ctx, name).await
    }
}

/// What lives in a user pool (its app client, domain and groups), as the executor sees it: the
/// pool's ID, and whose it is, which is the pool's owner's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InPool {
    pub pool_id: Option<String>,
    /// The pool's tags, when they were read: not when the pool was converged earlier in this
    /// run (which checked them).
    pub pool_tags: Option<Tags>,
}

impl ObservedState for InPool {
    fn ownership(&self) -> Option<&Tags> {
        self.pool_tags.as_ref()
    }

    /// Without its pool, nothing of it exists.
    fn exists(&self) -> bool {
        self.pool_id.is_some()
    }
}

/// The pool `pool`: from this run when it ran, else looked up by name (with its tags).
async fn in_pool(ctx: &Ctx, pool: &str, deps: &Deps<'_>) -> Result<Option<InPool>, AwsError> {
    if let Some(id) = deps.output(&crate::model::plan::id(Kind::CognitoUserPool, pool), "id") {
        return Ok(Some(InPool { pool_id: Some(id.to_owned()), pool_tags: None }));
    }
    let found = observe_pool(ctx, pool).await?;
    Ok(Some(InPool { pool_id: found.as_ref().map(|p| p.id.clone()), pool_tags: found.map(|p| p.tags) }))
}

/// What lives in a user pool: read in its turn (it needs the pool's ID), owned as the pool is.
pub trait PoolChild: Send + Sync + 'static {
    const KIND: Kind;
    type Want: Send + Sync + 'static;
    fn want(settings: &Settings) -> Option<&Self::Want>;
    fn pool(want: &Self::Want) -> &str;
    fn ensure(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        want: &Self::Want,
        deps: &Deps<'_>,
    ) -> impl std::future::Future<Output = Result<Done, AwsError>> + Send;
    fn delete(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
    ) -> impl std::future::Future<Output = Result<Done, AwsError>> + Send;
}

impl<C: PoolChild> Provisioner for C {
    const KIND: Kind = C::KIND;
    const EARLY: bool = false;
    type Want = C::Want;
    type Observed = InPool;

    fn want(settings: &Settings) -> Option<&C::Want> {
        C::want(settings)
    }

    async fn observe(ctx: &Ctx, _: &str, want: &C::Want, deps: &Deps<'_>) -> Result<Option<InPool>, AwsError> {
        in_pool(ctx, C::pool(want), deps).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &C::Want,
        current: Option<InPool>,
        deps: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        C::ensure(ctx, name, current.and_then(|c| c.pool_id).as_deref(), want, deps).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        _: &C::Want,
        current: Option<InPool>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        C::delete(ctx, name, current.and_then(|c| c.pool_id).as_deref()).await
    }
}

/// The pool's public app client.
pub struct UserPoolClient;

impl PoolChild for UserPoolClient {
    const KIND: Kind = Kind::CognitoUserPoolClient;
    type Want = CognitoUserPoolClient;

    fn want(settings: &Settings) -> Option<&CognitoUserPoolClient> {
        if let Settings::CognitoUserPoolClient(w) = settings { Some(w) } else { None }
    }

    fn pool(want: &CognitoUserPoolClient) -> &str {
        &want.user_pool
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        want: &CognitoUserPoolClient,
        deps: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure_client(ctx, name, pool_id, want, deps.hint()).await
    }

    async fn delete(ctx: &Ctx, name: &str, pool_id: Option<&str>) -> Result<Done, AwsError> {
        delete_client(ctx, name, pool_id).await
    }
}

/// The pool's hosted-UI domain.
pub struct UserPoolDomain;

impl PoolChild for UserPoolDomain {
    const KIND: Kind = Kind::CognitoUserPoolDomain;
    type Want = CognitoUserPoolDomain;

    fn want(settings: &Settings) -> Option<&CognitoUserPoolDomain> {
        if let Settings::CognitoUserPoolDomain(w) = settings { Some(w) } else { None }
    }

    fn pool(want: &CognitoUserPoolDomain) -> &str {
        &want.user_pool
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        want: &CognitoUserPoolDomain,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure_domain(ctx, name, pool_id, want).await
    }

    async fn delete(ctx: &Ctx, name: &str, pool_id: Option<&str>) -> Result<Done, AwsError> {
        delete_domain(ctx, name, pool_id).await
    }
}

/// The pool's groups.
pub struct Group;

impl PoolChild for Group {
    const KIND: Kind = Kind::CognitoGroup;
    type Want = CognitoGroup;

    fn want(settings: &Settings) -> Option<&CognitoGroup> {
        if let Settings::CognitoGroup(w) = settings { Some(w) } else { None }
    }

    fn pool(want: &CognitoGroup) -> &str {
        &want.user_pool
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        want: &CognitoGroup,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        ensure_group(ctx, name, pool_id, want).await
    }

    async fn delete(ctx: &Ctx, name: &str, pool_id: Option<&str>) -> Result<Done, AwsError> {
        delete_group(ctx, name, pool_id).await
    }
}
