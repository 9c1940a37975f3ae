//! One resource through its provisioner, guarded by ownership (issue #11): this capability's
//! resources are converged and deleted; another capability's never; somebody else's only taken
//! over on `--adopt`.

use super::Op;
use super::provisioner::{self, Deps, Hints, Observation};
use crate::model::outcome::{Done, Outcome};
use crate::model::ownership::{Claim, Owner, why_ours};
use crate::model::plan::{ParamValue, Resource, Settings, Tags};
use crate::provision::aws::{AwsError, Ctx, ssm};

fn claim_of(owner: &Owner, tags: &Tags) -> Claim {
    owner.claim(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Reads a resource before any other of the run is done, when its kind can be read so
/// (`Provisioner::early`); `None` when it cannot.
pub(super) async fn observe_early(ctx: &Ctx, r: &Resource, deps: Deps<'_>) -> Option<Result<Observation, AwsError>> {
    let p = provisioner::of(r.kind).filter(|p| p.early(&deps))?;
    Some(p.observe(ctx, r, deps).await)
}

/// Converges or deletes one resource. `pre` is what an early read found (`None`: read it now).
pub(super) async fn run(
    ctx: &Ctx,
    r: &Resource,
    op: Op,
    pre: Option<Observation>,
    deps: Deps<'_>,
    adopt: bool,
) -> Result<Done, AwsError> {
    let p = provisioner::of(r.kind).ok_or_else(|| AwsError::conflict(&r.name, "not an AWS resource"))?;
    let current = match pre {
        Some(o) if p.still_valid(&o, &deps) => o,
        _ => p.observe(ctx, r, deps).await?,
    };
    let exists = current.as_ref().is_some_and(|o| o.exists());
    let claim = match &current {
        // What an interrupted create of ours left holds nothing to lose: converging takes it on.
        Some(o) if exists && op == Op::Ensure && o.leftover() => Some(Claim::Ours),
        Some(o) if exists => o.ownership().map(|t| claim_of(deps.owner, t)),
        _ => None,
    };
    let what = format!("{} {}", r.kind, r.name);
    let mut adopted = false;
    if let Some(claim) = &claim {
        match op {
            Op::Ensure => {
                if let Some(why) = claim.refusal(&what, adopt) {
                    return Err(AwsError::NotOwned { resource: r.name.clone(), message: why });
                }
                adopted = *claim == Claim::Foreign;
            }
            Op::Delete => {
                if let Some(why) = claim.kept() {
                    return Ok(Done::with_changes(Outcome::Retained, vec![why]));
                }
            }
        }
    }
    if op == Op::Delete && !exists {
        return Ok(Done::new(Outcome::Absent));
    }
    let mut done = p.act(op, ctx, r, current, deps).await?;
    if adopted {
        done.changes.insert(0, "adopted: it had no nexus-dev ownership (--adopt)".into());
        if done.outcome == Outcome::Unchanged {
            done.outcome = Outcome::Updated;
        }
    }
    if op == Op::Delete && done.outcome == Outcome::Deleted {
        done.changes.insert(0, why_ours(deps.owner));
    }
    Ok(done)
}

/// IDs a resource may try first: the value of an SSM parameter nexus-dev filled from that
/// resource's ID (`valueFrom`), as read up front.
pub(super) fn hints(resources: &[&Resource], observations: &std::collections::HashMap<String, Observation>) -> Hints {
    resources
        .iter()
        .filter_map(|r| match (&r.settings, observations.get(&r.id())) {
            (Settings::SsmParameter(s), Some(Some(o))) => match &s.value {
                ParamValue::From { value_from } if value_from.field == "id" => {
                    o.as_any().downcast_ref::<ssm::Observed>().map(|p| (value_from.resource.clone(), p.value.clone()))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}
