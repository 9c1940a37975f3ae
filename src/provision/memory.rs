//! The IDs this machine's runs found, per account, region and owner (issue 20): a user pool or
//! an app client is found by listing, which costs round trips one after another; with its ID
//! remembered, the next run reads it directly, in the same wave as everything else. Like the
//! lock files beside it (`lock::regions`), this is only a memory: every remembered ID is
//! verified when used, and a stale, missing or unreadable file costs the lookups it would have
//! saved, nothing more. The reconciler keeps the same IDs in the capability's status, which any
//! machine can read back.

use std::path::PathBuf;

use crate::model::ownership::Owner;
use crate::model::plan;
use crate::provision::ResourceReport;
use crate::provision::provisioner::Hints;

fn path(owner: &Owner, account: &str, region: &str) -> PathBuf {
    // Dots never occur in the parts (DNS labels, a region, digits): the name is unambiguous.
    crate::input::settings::state_dir()
        .join("ids")
        .join(format!("{account}.{region}.{}.{}.json", owner.capability, owner.environment))
}

/// The IDs remembered for `owner` in `account` and `region`, by resource id.
pub fn load(owner: &Owner, account: &str, region: &str) -> Hints {
    std::fs::read(path(owner, account, region)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// What `resources` teach: the IDs found are remembered, those of resources deleted forgotten.
/// `None` when that changes nothing.
pub fn learn(mut known: Hints, resources: &[ResourceReport]) -> Option<Hints> {
    use crate::model::outcome::Outcome;
    let before = known.clone();
    for r in resources {
        let id = plan::id(r.kind, &r.name);
        match (&r.id, r.outcome) {
            (_, Outcome::Deleted | Outcome::Pruned | Outcome::Absent) => {
                known.remove(&id);
            }
            (Some(found), _) => {
                known.insert(id, found.clone());
            }
            _ => {}
        }
    }
    (known != before).then_some(known)
}

/// Writes what `resources` teach (a run that holds the capability's lock calls this).
pub fn record(owner: &Owner, account: &str, region: &str, resources: &[ResourceReport]) {
    let Some(known) = learn(load(owner, account, region), resources) else { return };
    if let Err(e) = write(&path(owner, account, region), &known) {
        tracing::debug!(error = %e, "cannot remember the IDs found; the next run looks them up again");
    }
}

fn write(path: &std::path::Path, known: &Hints) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    // Written aside and renamed, so that a reader never sees half a file.
    let tmp = path.with_extension(format!("json.{}", std::process::id()));
    let mut f = std::fs::File::options().create(true).truncate(true).write(true).mode(0o600).open(&tmp)?;
    f.write_all(&serde_json::to_vec(known).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Done, Outcome};
    use crate::model::plan::Kind;

    fn found(kind: Kind, name: &str, outcome: Outcome, id: Option<&str>) -> ResourceReport {
        let mut done = Done::new(outcome);
        if let Some(id) = id {
            done = done.output("id", id);
        }
        ResourceReport::done(kind, name, done)
    }

    #[test]
    fn ids_found_are_remembered_and_those_of_deleted_resources_forgotten() {
        let first = learn(
            Hints::new(),
            &[
                found(Kind::CognitoUserPool, "p", Outcome::Created, Some("pool-1")),
                found(Kind::CognitoUserPoolClient, "c", Outcome::Unchanged, Some("client-1")),
                found(Kind::S3Bucket, "b", Outcome::Created, None),
            ],
        )
        .unwrap();
        assert_eq!(first.get("cognito.user-pool/p").map(String::as_str), Some("pool-1"));
        assert_eq!(first.get("cognito.user-pool-client/c").map(String::as_str), Some("client-1"));
        assert_eq!(first.len(), 2);
        // The same again teaches nothing: no write.
        assert_eq!(
            learn(first.clone(), &[found(Kind::CognitoUserPool, "p", Outcome::Unchanged, Some("pool-1"))]),
            None
        );
        // A pool recreated under a new ID replaces the old; a deleted client is forgotten.
        let second = learn(
            first,
            &[
                found(Kind::CognitoUserPool, "p", Outcome::Created, Some("pool-2")),
                found(Kind::CognitoUserPoolClient, "c", Outcome::Deleted, None),
            ],
        )
        .unwrap();
        assert_eq!(second.get("cognito.user-pool/p").map(String::as_str), Some("pool-2"));
        assert!(!second.contains_key("cognito.user-pool-client/c"));
    }
}
