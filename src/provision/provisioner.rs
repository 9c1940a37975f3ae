//! The one shape of every AWS resource kind (STYLE.md): *observe* the resource, *ensure* it
//! (create, converge what differs from the plan, or leave it alone; in a dry run only say
//! which), *delete* it (not-found is success). The trait makes the compiler check that shape;
//! the executor sees kinds only through [`of`]. A new kind is one file with one
//! `impl Provisioner` and one line in [`KINDS`].

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use super::Op;
use super::aws::{AwsError, Ctx, cognito, dynamodb, glue, iam, s3, secrets, ssm};
use crate::model::outcome::Done;
use crate::model::ownership::Owner;
use crate::model::plan::{Kind, Resource, Settings, Tags};

/// One kind of AWS resource.
pub trait Provisioner: Send + Sync + 'static {
    /// The plan's kind this provisions.
    const KIND: Kind;
    /// Whether the resource can be read before any other resource of the run is done (`deps`
    /// holds the IDs remembered from earlier runs, no outputs). The executor reads every such
    /// resource at once, up front, so that a run with nothing to change costs one round trip;
    /// what needs an ID nobody remembers is read in its turn.
    fn early(_deps: &Deps<'_>) -> bool {
        true
    }
    /// The plan's settings of this kind.
    type Want: Send + Sync + 'static;
    /// The resource as it is.
    type Observed: Observed + Clone;

    /// This kind's settings, from a planned resource of this kind.
    fn want(settings: &Settings) -> Option<&Self::Want>;

    /// Reads the resource; `None` when it does not exist.
    fn observe(
        ctx: &Ctx,
        name: &str,
        want: &Self::Want,
        deps: &Deps<'_>,
    ) -> impl Future<Output = Result<Option<Self::Observed>, AwsError>> + Send;

    /// Creates the resource (`current` is `None`), converges what differs from `want`, or
    /// leaves it alone.
    fn ensure(
        ctx: &Ctx,
        name: &str,
        want: &Self::Want,
        current: Option<Self::Observed>,
        deps: &Deps<'_>,
    ) -> impl Future<Output = Result<Done, AwsError>> + Send;

    /// Whether what an early read found still stands once the resource's turn comes: a read
    /// made with a remembered ID of another resource holds only if that resource, converged in
    /// this run, proved to have that ID. `false` reads the resource again, in its turn.
    fn still_valid(_current: &Self::Observed, _deps: &Deps<'_>) -> bool {
        true
    }

    /// Deletes the resource (it was observed to exist).
    fn delete(
        ctx: &Ctx,
        name: &str,
        want: &Self::Want,
        current: Option<Self::Observed>,
        deps: &Deps<'_>,
    ) -> impl Future<Output = Result<Done, AwsError>> + Send;
}

/// What every observed resource tells the executor.
pub trait Observed: Send + Sync + 'static {
    /// Its ownership record: the resource's tags (a Glue table's parameters; what lives in a
    /// user pool, the pool's). `None` when there is none to read (the cluster's OIDC provider,
    /// which every capability shares).
    fn ownership(&self) -> Option<&Tags>;

    /// Whether it exists: a secret scheduled for deletion is observed, but gone.
    fn exists(&self) -> bool {
        true
    }

    /// What an interrupted create of ours leaves: nothing of anybody's in it and no ownership
    /// record yet (S3 takes a bucket's tags in a second call). Converging takes it on;
    /// deleting does not (it might still be somebody's).
    fn leftover(&self) -> bool {
        false
    }
}

/// Outputs of finished resources (ARNs, IDs), by resource id.
pub type Outputs = HashMap<String, Vec<(&'static str, String)>>;

/// IDs a resource may try before looking itself up by name, by resource id.
pub type Hints = HashMap<String, String>;

/// What a resource may use of the rest of the run: the owner, the outputs of the resources done
/// so far, and an ID to try first.
#[derive(Debug, Clone, Copy)]
pub struct Deps<'a> {
    pub owner: &'a Owner,
    resource: &'a Resource,
    outputs: &'a Outputs,
    hints: &'a Hints,
    first_wave: bool,
    /// SSM parameters read in batches for the first wave.
    ssm: Option<&'a ssm::Prefetch>,
}

impl<'a> Deps<'a> {
    /// In the resource's turn: its dependencies are done.
    pub fn new(owner: &'a Owner, resource: &'a Resource, outputs: &'a Outputs, hints: &'a Hints) -> Self {
        Self { owner, resource, outputs, hints, first_wave: false, ssm: None }
    }

    /// In the first wave of reads, before anything of the run is done: no outputs, and the IDs
    /// earlier runs found as hints.
    pub fn first_wave(
        owner: &'a Owner,
        resource: &'a Resource,
        remembered: &'a Hints,
        ssm: Option<&'a ssm::Prefetch>,
    ) -> Self {
        static NONE: std::sync::LazyLock<Outputs> = std::sync::LazyLock::new(Outputs::new);
        Self { owner, resource, outputs: &NONE, hints: remembered, first_wave: true, ssm }
    }

    /// The SSM parameters read in batches for this wave, if any.
    pub fn ssm_prefetch(&self) -> Option<&'a ssm::Prefetch> {
        self.ssm
    }

    /// Whether this is the first wave of reads ([`Deps::first_wave`]).
    pub fn is_first_wave(&self) -> bool {
        self.first_wave
    }

    /// The id of the first dependency of `kind`.
    pub fn dependency_id(&self, kind: Kind) -> Option<&'a str> {
        self.dependencies(kind).next()
    }

    /// Output `key` of the resource with id `resource`, when it ran in this run.
    pub fn output(&self, resource: &str, key: &str) -> Option<&'a str> {
        self.outputs.get(resource).and_then(|o| o.iter().find(|(k, _)| *k == key)).map(|(_, v)| v.as_str())
    }

    /// Output `key` of the first dependency of `kind`.
    pub fn dependency(&self, kind: Kind, key: &str) -> Option<&'a str> {
        self.dependencies(kind).find_map(|d| self.output(d, key))
    }

    fn dependencies(&self, kind: Kind) -> impl Iterator<Item = &'a str> + use<'a> {
        // `cognito.user-pool` is a prefix of `cognito.user-pool-client`: the kind ends at `/`.
        self.resource
            .depends_on
            .iter()
            .filter(move |d| d.strip_prefix(kind.as_str()).is_some_and(|rest| rest.starts_with('/')))
            .map(String::as_str)
    }

    /// An ID to try before looking the resource up by name.
    pub fn hint(&self) -> Option<&'a str> {
        self.hint_of(&self.resource.id())
    }

    /// An ID to try for the resource with id `resource` (such as the user pool of a pool's
    /// client).
    pub fn hint_of(&self, resource: &str) -> Option<&'a str> {
        self.hints.get(resource).map(String::as_str)
    }
}

/// An observation of any kind, as the executor holds it.
pub trait AnyObserved: Observed {
    fn as_any(&self) -> &dyn Any;
}

impl<T: Observed> AnyObserved for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What a read found: `None` when the resource does not exist.
pub type Observation = Option<Arc<dyn AnyObserved>>;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A [`Provisioner`] the executor can hold in one list with the others.
pub trait Dyn: Send + Sync {
    fn kind(&self) -> Kind;
    fn early(&self, deps: &Deps<'_>) -> bool;
    /// [`Provisioner::still_valid`] of an observation.
    fn still_valid(&self, current: &Observation, deps: &Deps<'_>) -> bool;
    fn observe<'a>(
        &'a self,
        ctx: &'a Ctx,
        r: &'a Resource,
        deps: Deps<'a>,
    ) -> BoxFuture<'a, Result<Observation, AwsError>>;
    /// Ensures or deletes the resource, as `op` says.
    fn act<'a>(
        &'a self,
        op: Op,
        ctx: &'a Ctx,
        r: &'a Resource,
        current: Observation,
        deps: Deps<'a>,
    ) -> BoxFuture<'a, Result<Done, AwsError>>;
}

/// The adapter from a [`Provisioner`] to [`Dyn`].
struct Erase<P>(PhantomData<fn() -> P>);

fn want<P: Provisioner>(r: &Resource) -> Result<&P::Want, AwsError> {
    P::want(&r.settings)
        .ok_or_else(|| AwsError::conflict(&r.name, format!("the plan's settings are not those of a {}", P::KIND)))
}

fn typed<P: Provisioner>(o: Observation) -> Option<P::Observed> {
    o.and_then(|o| o.as_any().downcast_ref::<P::Observed>().cloned())
}

impl<P: Provisioner> Dyn for Erase<P> {
    fn kind(&self) -> Kind {
        P::KIND
    }

    fn early(&self, deps: &Deps<'_>) -> bool {
        P::early(deps)
    }

    fn still_valid(&self, current: &Observation, deps: &Deps<'_>) -> bool {
        match current {
            None => true,
            Some(o) => o.as_any().downcast_ref::<P::Observed>().is_none_or(|o| P::still_valid(o, deps)),
        }
    }

    fn observe<'a>(
        &'a self,
        ctx: &'a Ctx,
        r: &'a Resource,
        deps: Deps<'a>,
    ) -> BoxFuture<'a, Result<Observation, AwsError>> {
        Box::pin(async move {
            let found = P::observe(ctx, &r.name, want::<P>(r)?, &deps).await?;
            Ok(found.map(|o| Arc::new(o) as Arc<dyn AnyObserved>))
        })
    }

    fn act<'a>(
        &'a self,
        op: Op,
        ctx: &'a Ctx,
        r: &'a Resource,
        current: Observation,
        deps: Deps<'a>,
    ) -> BoxFuture<'a, Result<Done, AwsError>> {
        Box::pin(async move {
            let (want, current) = (want::<P>(r)?, typed::<P>(current));
            match op {
                Op::Ensure => P::ensure(ctx, &r.name, want, current, &deps).await,
                Op::Delete => P::delete(ctx, &r.name, want, current, &deps).await,
            }
        })
    }
}

/// Every AWS kind nexus-dev provisions: one line each.
static KINDS: &[&dyn Dyn] = &[
    &Erase::<dynamodb::Table>(PhantomData),
    &Erase::<s3::Bucket>(PhantomData),
    &Erase::<glue::Database>(PhantomData),
    &Erase::<glue::Table>(PhantomData),
    &Erase::<ssm::Parameter>(PhantomData),
    &Erase::<secrets::Secret>(PhantomData),
    &Erase::<iam::OidcProvider>(PhantomData),
    &Erase::<iam::Role>(PhantomData),
    &Erase::<cognito::UserPool>(PhantomData),
    &Erase::<cognito::UserPoolClient>(PhantomData),
    &Erase::<cognito::UserPoolDomain>(PhantomData),
    &Erase::<cognito::Group>(PhantomData),
];

/// The provisioner of an AWS kind; `None` for Kubernetes kinds.
pub fn of(kind: Kind) -> Option<&'static dyn Dyn> {
    KINDS.iter().find(|k| k.kind() == kind).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aws_kind_has_exactly_one_provisioner() {
        for kind in Kind::ALL {
            let n = KINDS.iter().filter(|k| k.kind() == kind).count();
            assert_eq!(n, usize::from(kind.is_aws()), "{kind}");
        }
    }
}
