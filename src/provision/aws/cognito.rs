//! Cognito (optional, `enableCognito`; seed 001's provisioner): a user pool, a public app client
//! for the authorization-code flow with PKCE (no client secret), a hosted-UI domain, and groups.

use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, OAuthFlowType, PasswordPolicyType, UserPoolPolicyType, UserPoolType, UsernameAttributeType,
    VerifiedAttributeType,
};

use super::Ctx;
use super::error::{AwsError, sdk};
use crate::model::outcome::{Done, Outcome};
use crate::model::ownership::{Claim, Owner};
use crate::model::plan::{
    CognitoGroup, CognitoUserPool, CognitoUserPoolClient, CognitoUserPoolDomain, Kind, Settings, Tags,
};
use crate::provision::provisioner::{Deps, Observed as ObservedState, Provisioner};

/// Whether a describe's error says nothing has that ID: it does not exist, or a remembered ID
/// is no longer (or never was) one Cognito takes. (A macro: each operation has its own error
/// type.)
macro_rules! no_such_id {
    ($e:expr) => {
        $e.is_resource_not_found_exception() || $e.is_invalid_parameter_exception()
    };
}

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
    Ok(describe_pool(ctx, &id, name).await?.map(|(_, pool)| pool))
}

/// Reads the pool `id` (looked for as `name`): its name and the pool, `None` when it does not
/// exist.
async fn describe_pool(ctx: &Ctx, id: &str, name: &str) -> Result<Option<(String, ObservedPool)>, AwsError> {
    match ctx.clients.cognito.describe_user_pool().user_pool_id(id).send().await {
        Ok(out) => {
            let pool = out.user_pool.unwrap_or_else(|| UserPoolType::builder().build());
            Ok(Some((
                pool.name.unwrap_or_default(),
                ObservedPool {
                    id: id.to_owned(),
                    arn: pool.arn.unwrap_or_default(),
                    tags: pool.user_pool_tags.unwrap_or_default().into_iter().collect(),
                },
            )))
        }
        Err(e) if e.as_service_error().is_some_and(|e| no_such_id!(e)) => Ok(None),
        Err(e) => Err(sdk("DescribeUserPool", name, e)),
    }
}

/// The pool by the ID an earlier run found (issue 20): one read instead of listing every pool.
/// The ID holds only when the pool still exists, has the planned name and is ours by its tags;
/// otherwise the pools are listed by name, as without it, and what that finds goes through the
/// ownership rules (a pool of nobody's is not taken over by a remembered ID).
async fn observe_pool_remembered(
    ctx: &Ctx,
    name: &str,
    remembered: Option<&str>,
    owner: &Owner,
) -> Result<Option<ObservedPool>, AwsError> {
    if let Some(id) = remembered
        && let Some((found, pool)) = describe_pool(ctx, id, name).await?
        && found == name
        && owner.claim(pool.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) == Claim::Ours
    {
        return Ok(Some(pool));
    }
    observe_pool(ctx, name).await
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
    // `new`: what lives in it need not be looked for (its children are created without a read).
    Ok(Done::new(Outcome::Created).output("id", id).output("arn", pool.arn.unwrap_or_default()).output("new", "true"))
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
        Err(e) if e.as_service_error().is_some_and(|e| no_such_id!(e)) => Ok(None),
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
    let list = match c.list_user_pool_clients().user_pool_id(pool_id).max_results(60).send().await {
        Ok(l) => l,
        // The pool is gone (a remembered one): nothing lives in it.
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => return Ok(None),
        Err(e) => return Err(sdk("ListUserPoolClients", name, e)),
    };
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

/// The client of the pool `pool_id`: by `hint` (the ID an earlier run found, or the one its SSM
/// parameter publishes) when that is still the client of this name, else by listing the pool's
/// clients.
pub async fn read_client(
    ctx: &Ctx,
    name: &str,
    pool_id: &str,
    hint: Option<&str>,
) -> Result<Option<(String, ClientSettings)>, AwsError> {
    if let Some(id) = hint
        && let Some(found) = describe_client(ctx, pool_id, id, name).await?
    {
        return Ok(Some(found));
    }
    find_client(ctx, pool_id, name).await
}

#[tracing::instrument(skip_all, fields(client = name))]
pub async fn ensure_client(
    ctx: &Ctx,
    name: &str,
    pool_id: Option<&str>,
    want: &CognitoUserPoolClient,
    existing: Option<(String, ClientSettings)>,
) -> Result<Done, AwsError> {
    let Some(pool_id) = pool_id else {
        // Only in a dry run can the pool be missing: it would be created first.
        return Ok(Done::new(Outcome::Created));
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

pub async fn delete_client(
    ctx: &Ctx,
    name: &str,
    pool_id: Option<&str>,
    existing: Option<(String, ClientSettings)>,
) -> Result<Done, AwsError> {
    let (Some(pool_id), Some((id, _))) = (pool_id, existing) else { return Ok(Done::new(Outcome::Absent)) };
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

/// The pool a domain belongs to, if the domain exists. Domains are unique by name: this needs
/// no pool ID, so it is read in the first wave.
pub async fn domain_owner(ctx: &Ctx, domain: &str) -> Result<Option<String>, AwsError> {
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
    owner: Option<String>,
) -> Result<Done, AwsError> {
    let Some(pool_id) = pool_id else { return Ok(Done::new(Outcome::Created)) };
    match owner {
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

pub async fn delete_domain(
    ctx: &Ctx,
    name: &str,
    pool_id: Option<&str>,
    owner: Option<String>,
) -> Result<Done, AwsError> {
    match (owner, pool_id) {
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

/// A group's description and precedence, `None` when the group (or its pool) does not exist.
pub type GroupSettings = (String, Option<i32>);

pub async fn read_group(ctx: &Ctx, name: &str, pool_id: &str) -> Result<Option<GroupSettings>, AwsError> {
    match ctx.clients.cognito.get_group().group_name(name).user_pool_id(pool_id).send().await {
        Ok(g) => Ok(g.group.map(|g| (g.description.unwrap_or_default(), g.precedence))),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(sdk("GetGroup", name, e)),
    }
}

#[tracing::instrument(skip_all, fields(group = name))]
pub async fn ensure_group(
    ctx: &Ctx,
    name: &str,
    pool_id: Option<&str>,
    want: &CognitoGroup,
    current: Option<GroupSettings>,
) -> Result<Done, AwsError> {
    let Some(pool_id) = pool_id else { return Ok(Done::new(Outcome::Created)) };
    let c = &ctx.clients.cognito;
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
        deps: &Deps<'_>,
    ) -> Result<Option<ObservedPool>, AwsError> {
        observe_pool_remembered(ctx, name, deps.hint(), deps.owner).await
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
/// pool's ID, whose it is (the pool's owner's), and the child as read in that pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InPool<T> {
    pub pool_id: Option<String>,
    /// The pool's tags, when they were read: not when the pool was converged earlier in this
    /// run (which checked them), nor in the first wave (the pool's own read checks them).
    pub pool_tags: Option<Tags>,
    /// The child itself; `None` when it (or its pool) does not exist.
    pub child: Option<T>,
    /// Read in the first wave, before the pool's turn: with the pool ID an earlier run found, or
    /// by name. It stands only if the pool, converged in this run, has that ID
    /// ([`Provisioner::still_valid`]).
    pub first_wave: bool,
}

impl<T: Send + Sync + 'static> ObservedState for InPool<T> {
    fn ownership(&self) -> Option<&Tags> {
        self.pool_tags.as_ref()
    }

    /// Without its pool, nothing of it exists.
    fn exists(&self) -> bool {
        self.pool_id.is_some()
    }
}

/// What lives in a user pool: owned as the pool is, read in the first wave when the pool's ID is
/// remembered (or the child needs none), else in its turn.
pub trait PoolChild: Send + Sync + 'static {
    const KIND: Kind;
    /// Whether the child is found by its name alone, without its pool's ID.
    const BY_NAME: bool = false;
    type Want: Send + Sync + 'static;
    /// The child as read.
    type Current: Clone + Send + Sync + 'static;
    fn want(settings: &Settings) -> Option<&Self::Want>;
    fn pool(want: &Self::Want) -> &str;
    /// Reads the child in the pool `pool_id` (`None` only for [`Self::BY_NAME`] children);
    /// `hint` is an ID to try first.
    fn read(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        hint: Option<&str>,
    ) -> impl std::future::Future<Output = Result<Option<Self::Current>, AwsError>> + Send;
    fn ensure(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        want: &Self::Want,
        current: Option<Self::Current>,
    ) -> impl std::future::Future<Output = Result<Done, AwsError>> + Send;
    fn delete(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        current: Option<Self::Current>,
    ) -> impl std::future::Future<Output = Result<Done, AwsError>> + Send;
}

/// The ID the pool has in this run (it was converged before its children).
fn run_pool_id<'a>(deps: &Deps<'a>) -> Option<&'a str> {
    deps.dependency(Kind::CognitoUserPool, "id")
}

impl<C: PoolChild> Provisioner for C {
    const KIND: Kind = C::KIND;
    type Want = C::Want;
    type Observed = InPool<C::Current>;

    fn want(settings: &Settings) -> Option<&C::Want> {
        C::want(settings)
    }

    fn early(deps: &Deps<'_>) -> bool {
        C::BY_NAME || deps.dependency_id(Kind::CognitoUserPool).and_then(|p| deps.hint_of(p)).is_some()
    }

    fn still_valid(current: &InPool<C::Current>, deps: &Deps<'_>) -> bool {
        if !current.first_wave {
            return true;
        }
        // Read in the first wave: it holds when the pool ran in this run, with the ID it was read
        // in (a child read by name was read in no pool in particular).
        run_pool_id(deps).is_some_and(|id| current.pool_id.as_deref().is_none_or(|p| p == id))
    }

    async fn observe(
        ctx: &Ctx,
        name: &str,
        want: &C::Want,
        deps: &Deps<'_>,
    ) -> Result<Option<InPool<C::Current>>, AwsError> {
        let pool = crate::model::plan::id(Kind::CognitoUserPool, C::pool(want));
        if deps.is_first_wave() {
            // A child found by name is read in no pool in particular.
            let pool_id = if C::BY_NAME { None } else { deps.hint_of(&pool) };
            let child =
                if C::BY_NAME || pool_id.is_some() { C::read(ctx, name, pool_id, deps.hint()).await? } else { None };
            return Ok(Some(InPool { pool_id: pool_id.map(str::to_owned), pool_tags: None, child, first_wave: true }));
        }
        // The pool of this run when it ran; else looked up by name, with its tags.
        let (pool_id, pool_tags) = match deps.output(&pool, "id") {
            Some(id) => (Some(id.to_owned()), None),
            None => match observe_pool(ctx, C::pool(want)).await? {
                Some(p) => (Some(p.id), Some(p.tags)),
                None => (None, None),
            },
        };
        // A pool created in this run holds nothing yet: its client and groups are made without
        // a read first, one round trip fewer on a cold apply's longest chain (issue 20).
        let just_created = !C::BY_NAME && deps.output(&pool, "new").is_some();
        let child = match &pool_id {
            Some(id) if !just_created => C::read(ctx, name, Some(id), deps.hint()).await?,
            _ => None,
        };
        Ok(Some(InPool { pool_id, pool_tags, child, first_wave: false }))
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &C::Want,
        current: Option<InPool<C::Current>>,
        deps: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        let (pool_id, child) = match current {
            Some(c) => (run_pool_id(deps).map(str::to_owned).or(c.pool_id), c.child),
            None => (run_pool_id(deps).map(str::to_owned), None),
        };
        C::ensure(ctx, name, pool_id.as_deref(), want, child).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        _: &C::Want,
        current: Option<InPool<C::Current>>,
        _: &Deps<'_>,
    ) -> Result<Done, AwsError> {
        let (pool_id, child) = current.map(|c| (c.pool_id, c.child)).unwrap_or_default();
        C::delete(ctx, name, pool_id.as_deref(), child).await
    }
}

/// The pool's public app client.
pub struct UserPoolClient;

impl PoolChild for UserPoolClient {
    const KIND: Kind = Kind::CognitoUserPoolClient;
    type Want = CognitoUserPoolClient;
    type Current = (String, ClientSettings);

    fn want(settings: &Settings) -> Option<&CognitoUserPoolClient> {
        if let Settings::CognitoUserPoolClient(w) = settings { Some(w) } else { None }
    }

    fn pool(want: &CognitoUserPoolClient) -> &str {
        &want.user_pool
    }

    async fn read(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        hint: Option<&str>,
    ) -> Result<Option<(String, ClientSettings)>, AwsError> {
        match pool_id {
            Some(pool_id) => read_client(ctx, name, pool_id, hint).await,
            None => Ok(None),
        }
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        want: &CognitoUserPoolClient,
        current: Option<(String, ClientSettings)>,
    ) -> Result<Done, AwsError> {
        ensure_client(ctx, name, pool_id, want, current).await
    }

    async fn delete(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        current: Option<(String, ClientSettings)>,
    ) -> Result<Done, AwsError> {
        delete_client(ctx, name, pool_id, current).await
    }
}

/// The pool's hosted-UI domain.
pub struct UserPoolDomain;

impl PoolChild for UserPoolDomain {
    const KIND: Kind = Kind::CognitoUserPoolDomain;
    const BY_NAME: bool = true;
    type Want = CognitoUserPoolDomain;
    /// The ID of the pool the domain belongs to.
    type Current = String;

    fn want(settings: &Settings) -> Option<&CognitoUserPoolDomain> {
        if let Settings::CognitoUserPoolDomain(w) = settings { Some(w) } else { None }
    }

    fn pool(want: &CognitoUserPoolDomain) -> &str {
        &want.user_pool
    }

    async fn read(ctx: &Ctx, name: &str, _: Option<&str>, _: Option<&str>) -> Result<Option<String>, AwsError> {
        domain_owner(ctx, name).await
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        want: &CognitoUserPoolDomain,
        current: Option<String>,
    ) -> Result<Done, AwsError> {
        ensure_domain(ctx, name, pool_id, want, current).await
    }

    async fn delete(ctx: &Ctx, name: &str, pool_id: Option<&str>, current: Option<String>) -> Result<Done, AwsError> {
        delete_domain(ctx, name, pool_id, current).await
    }
}

/// The pool's groups.
pub struct Group;

impl PoolChild for Group {
    const KIND: Kind = Kind::CognitoGroup;
    type Want = CognitoGroup;
    type Current = GroupSettings;

    fn want(settings: &Settings) -> Option<&CognitoGroup> {
        if let Settings::CognitoGroup(w) = settings { Some(w) } else { None }
    }

    fn pool(want: &CognitoGroup) -> &str {
        &want.user_pool
    }

    async fn read(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        _: Option<&str>,
    ) -> Result<Option<GroupSettings>, AwsError> {
        match pool_id {
            Some(pool_id) => read_group(ctx, name, pool_id).await,
            None => Ok(None),
        }
    }

    async fn ensure(
        ctx: &Ctx,
        name: &str,
        pool_id: Option<&str>,
        want: &CognitoGroup,
        current: Option<GroupSettings>,
    ) -> Result<Done, AwsError> {
        ensure_group(ctx, name, pool_id, want, current).await
    }

    async fn delete(ctx: &Ctx, name: &str, pool_id: Option<&str>, _: Option<GroupSettings>) -> Result<Done, AwsError> {
        delete_group(ctx, name, pool_id).await
    }
}
