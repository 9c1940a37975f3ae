//! One writer per cluster (issue 19), through Leases (`coordination.k8s.io/v1`) in the
//! operator's namespace:
//!
//! - the in-cluster operator's replicas share one Lease, [`OPERATOR`]: its holder reconciles,
//!   the others wait and say who holds it;
//! - a project's daemon pointed at the same cluster holds `nexus-dev-daemon-<project>` while its
//!   controller runs.
//!
//! Each side first takes (or renews) its own Lease, then looks at the other side's: when one of
//! those is held and fresh, it lets its own go and waits. Both write their own before either
//! looks, so of two that start together at least one sees the other: they never both write (at
//! worst both wait a round and try again). A Lease not renewed within its duration is free.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::sync::watch;

/// The Lease the operator's replicas share.
pub const OPERATOR: &str = "nexus-dev-operator";
/// The prefix of a daemon's Lease; the project id follows.
pub const DAEMON_PREFIX: &str = "nexus-dev-daemon-";
/// Where the Leases live: the operator's namespace.
pub const NAMESPACE: &str = "nexus-system";

/// A Lease held this long without renewal is free.
pub const DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews it (and a waiter looks again).
pub const RENEW: Duration = Duration::from_secs(5);

/// Who wants to write, and who it must not write beside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub namespace: String,
    /// Its own Lease.
    pub name: String,
    /// Its holder identity: who it is, as the one that waits is told.
    pub identity: String,
    pub side: Side,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The in-cluster operator: it must not write while a daemon holds a Lease.
    Operator,
    /// A project's daemon: it must not write while the operator holds its Lease.
    Daemon,
}

impl Claim {
    /// An operator replica (`identity`: its pod's name) in `namespace`.
    pub fn operator(namespace: &str, identity: &str) -> Self {
        Self { namespace: namespace.into(), name: OPERATOR.into(), identity: identity.into(), side: Side::Operator }
    }

    /// The daemon of `project`, described by `identity`, in the Leases' namespace.
    pub fn daemon(namespace: &str, project: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.into(),
            name: format!("{DAEMON_PREFIX}{project}"),
            identity: identity.into(),
            side: Side::Daemon,
        }
    }

    /// Whether the Lease `name` belongs to the other side.
    fn rival(&self, name: &str) -> bool {
        match self.side {
            Side::Operator => name.starts_with(DAEMON_PREFIX),
            Side::Daemon => name == OPERATOR,
        }
    }
}

/// Who holds `spec` at `now`, when it is held and fresh.
pub fn holder(spec: Option<&LeaseSpec>, now: Timestamp) -> Option<&str> {
    let spec = spec?;
    let who = spec.holder_identity.as_deref().filter(|h| !h.is_empty())?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let lasts = i64::from(spec.lease_duration_seconds.unwrap_or(DURATION.as_secs() as i32));
    (renewed.as_second() + lasts > now.as_second()).then_some(who)
}

/// What to do with one's own Lease as it is at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Free or stale: take it (a new holder).
    Take,
    /// Ours: renew it.
    Renew,
    /// Someone else's and fresh: wait.
    Wait { holder: String },
}

pub fn decide(spec: Option<&LeaseSpec>, me: &str, now: Timestamp) -> Decision {
    match holder(spec, now) {
        Some(h) if h == me => Decision::Renew,
        Some(h) => Decision::Wait { holder: h.to_owned() },
        None => Decision::Take,
    }
}

/// The Lease after taking or renewing it at `now`.
fn held(mut lease: Lease, claim: &Claim, now: Timestamp, decision: &Decision) -> Lease {
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if *decision == Decision::Take {
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.holder_identity = Some(claim.identity.clone());
    spec.lease_duration_seconds = Some(DURATION.as_secs() as i32);
    spec.renew_time = Some(MicroTime(now));
    lease
}

/// Takes or renews the claim's own Lease; `Err(holder)` when someone else holds it. A namespace
/// that does not exist means there is no operator to share the cluster with: `Ok(false)`.
async fn take(api: &Api<Lease>, claim: &Claim) -> Result<Result<bool, String>, kube::Error> {
    let now = Timestamp::now();
    let lease = match api.get_opt(&claim.name).await {
        Ok(l) => l,
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Ok(false)),
        Err(e) => return Err(e),
    };
    let decision = decide(lease.as_ref().and_then(|l| l.spec.as_ref()), &claim.identity, now);
    if let Decision::Wait { holder } = decision {
        return Ok(Err(holder));
    }
    let written = match lease {
        // Replace with its resourceVersion: a concurrent taker makes this a 409.
        Some(l) => api.replace(&claim.name, &PostParams::default(), &held(l, claim, now, &decision)).await,
        None => {
            let meta = ObjectMeta {
                name: Some(claim.name.clone()),
                labels: Some([("app.kubernetes.io/managed-by".to_owned(), "nexus-dev".to_owned())].into()),
                ..Default::default()
            };
            api.create(&PostParams::default(), &held(Lease { metadata: meta, spec: None }, claim, now, &decision)).await
        }
    };
    match written {
        Ok(_) => Ok(Ok(true)),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Err("another taker, just now".into())),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Ok(false)),
        Err(e) => Err(e),
    }
}

/// A fresh Lease of the other side, with its holder.
async fn rival(api: &Api<Lease>, claim: &Claim) -> Result<Option<String>, kube::Error> {
    let now = Timestamp::now();
    let leases = match api.list(&Default::default()).await {
        Ok(l) => l.items,
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(leases.iter().find_map(|l| {
        let name = l.metadata.name.as_deref()?;
        claim.rival(name).then(|| holder(l.spec.as_ref(), now).map(|h| format!("{h} (lease {name})")))?
    }))
}

/// Lets the claim's own Lease go (when it still holds it), so the other side need not wait for
/// it to expire.
pub async fn release(client: &Client, claim: &Claim) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &claim.namespace);
    if let Ok(Some(l)) = api.get_opt(&claim.name).await
        && l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(claim.identity.as_str())
    {
        let _ = api.delete(&claim.name, &DeleteParams::default()).await;
    }
}

/// One round: `Ok(None)` when the claim may write now, else who it waits for. When both sides
/// hold theirs, the daemon yields (the operator is the cluster's own): a daemon that is only
/// asking (`writing` false) lets its Lease go at once; one that writes keeps it until it has
/// stopped writing ([`release`]), so that the operator, which waits for it, never starts
/// before it has. An operator that writes pays no attention to daemons: they yield.
async fn round(api: &Api<Lease>, claim: &Claim, writing: bool) -> Result<Option<String>, kube::Error> {
    let rivals_matter = claim.side == Side::Daemon || !writing;
    match take(api, claim).await? {
        Err(holder) => Ok(Some(holder)),
        Ok(_) if !rivals_matter => Ok(None),
        Ok(_) => match rival(api, claim).await? {
            Some(other) => {
                if claim.side == Side::Daemon && !writing {
                    let _ = api.delete(&claim.name, &DeleteParams::default()).await;
                }
                Ok(Some(other))
            }
            None => Ok(None),
        },
    }
}

/// The right to write, kept by renewing the Lease in the background. `lost` turns true when a
/// renewal fails for longer than the Lease lasts, or the other side wants it: the writer must
/// stop, then [`release`] it.
pub struct Leadership {
    pub lost: watch::Receiver<bool>,
    renewing: tokio::task::JoinHandle<()>,
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}

/// Waits until `claim` may write (telling `waiting` who it waits for, once per holder), then
/// keeps its Lease renewed.
pub async fn acquire(client: &Client, claim: &Claim, mut waiting: impl FnMut(&str)) -> Result<Leadership, kube::Error> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &claim.namespace);
    let mut told = None;
    loop {
        match round(&api, claim, false).await {
            Ok(None) => break,
            Ok(Some(holder)) => {
                if told.as_deref() != Some(holder.as_str()) {
                    waiting(&holder);
                    told = Some(holder);
                }
            }
            Err(e) => tracing::warn!(error = %e, lease = %claim.name, "cannot read or write the lease; trying again"),
        }
        tokio::time::sleep(RENEW).await;
    }
    let (tx, lost) = watch::channel(false);
    let claim = claim.clone();
    let renewing = tokio::spawn(async move {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(RENEW).await;
            match round(&api, &claim, true).await {
                Ok(None) => last_ok = tokio::time::Instant::now(),
                Ok(Some(holder)) => {
                    tracing::warn!(lease = %claim.name, %holder, "the lease was taken over; stopping");
                    let _ = tx.send(true);
                    return;
                }
                Err(e) if last_ok.elapsed() > DURATION => {
                    tracing::warn!(error = %e, lease = %claim.name, "cannot renew the lease; stopping");
                    let _ = tx.send(true);
                    return;
                }
                Err(e) => tracing::debug!(error = %e, "lease renewal failed; trying again"),
            }
        }
    });
    Ok(Leadership { lost, renewing })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed: i64, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            lease_duration_seconds: Some(seconds),
            ..Default::default()
        }
    }

    #[test]
    fn a_fresh_lease_is_its_holders_and_a_stale_or_empty_one_is_free() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(decide(None, "me", now), Decision::Take);
        assert_eq!(decide(Some(&spec("me", 990, 15)), "me", now), Decision::Renew);
        assert_eq!(decide(Some(&spec("pod-a", 990, 15)), "me", now), Decision::Wait { holder: "pod-a".into() });
        assert_eq!(decide(Some(&spec("pod-a", 985, 15)), "me", now), Decision::Take, "expired at 1000");
        assert_eq!(decide(Some(&spec("", 999, 15)), "me", now), Decision::Take, "released");
        assert_eq!(decide(Some(&LeaseSpec::default()), "me", now), Decision::Take);
    }

    #[test]
    fn each_side_looks_at_the_others_leases_only() {
        let op = Claim::operator("nexus-system", "pod-a");
        let d = Claim::daemon(NAMESPACE, "abc", "laptop/abc");
        assert!(op.rival("nexus-dev-daemon-abc") && !op.rival(OPERATOR));
        assert!(d.rival(OPERATOR) && !d.rival("nexus-dev-daemon-def"), "daemons of other projects never conflict");
        assert_eq!(d.namespace, NAMESPACE);
    }

    #[test]
    fn taking_counts_transitions_and_renewing_keeps_the_acquire_time() {
        let claim = Claim::operator("ns", "pod-b");
        let t1 = Timestamp::from_second(100).unwrap();
        let taken = held(Lease::default(), &claim, t1, &Decision::Take);
        let s = taken.spec.clone().unwrap();
        assert_eq!(
            (s.holder_identity.as_deref(), s.lease_transitions, s.lease_duration_seconds),
            (Some("pod-b"), Some(1), Some(15))
        );
        let t2 = Timestamp::from_second(105).unwrap();
        let renewed = held(taken, &claim, t2, &Decision::Renew).spec.unwrap();
        assert_eq!(renewed.acquire_time, Some(MicroTime(t1)));
        assert_eq!(renewed.renew_time, Some(MicroTime(t2)));
        assert_eq!(renewed.lease_transitions, Some(1));
    }
}
