//! Has the emulator lost what was provisioned? (issue #6: "if the emulator restarts and loses its
//! state, the daemon re-provisions".)
//!
//! Two signals, because neither alone is right:
//! - the container's identity (ID and `State.StartedAt`): cheap (one Docker inspect) and
//!   catches every restart, but a restart loses nothing when LocalStack's persistence restores
//!   the state;
//! - a marker: after provisioning, `stamp` writes the SSM parameter `MARKER_PARAMETER` with a
//!   fresh value. Its absence proves the state is gone, also without a restart (moto's
//!   `POST /moto-api/reset`, LocalStack's state reset) and for an emulator nexus-dev does not
//!   run. SSM because both emulators offer it in their free tiers, and the two-segment name
//!   lies outside every capability's `/{cap}/{env}/…` parameters.
//!
//! `judge` decides from a snapshot, without I/O (tested exhaustively); `observe` takes the
//! snapshot. The daemon (`daemon::heal`) calls `check` on a timer: `StateLost` → reconcile
//! again, then `stamp`; `RestartedWithState` → `stamp` (new baseline), nothing to re-provision;
//! `Down` → wait and check again.

use aws_sdk_ssm::types::ParameterType;

use crate::env::docker::{DockerError, Engine};
use crate::provision::aws::error::sdk;

/// Outside any capability's parameters, which are `/{cap}/{env}/{category}/{key}`.
pub const MARKER_PARAMETER: &str = "/nexus-dev/emulator-marker";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot write the emulator's state marker {MARKER_PARAMETER}: {detail}")]
    Stamp { detail: String },
    #[error("cannot inspect the emulator container: {source}")]
    Inspect { source: Box<DockerError> },
}

/// What was true right after provisioning.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    /// The container's ID and start time; `None` for an emulator nexus-dev does not run.
    pub container: Option<Incarnation>,
    /// The marker's value.
    pub marker: String,
}

/// One run of one container: a restart changes `started_at`, a recreate changes `id`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Incarnation {
    pub id: String,
    pub started_at: String,
}

/// A snapshot taken by `observe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// `None` when there is no container of that name (or none is expected).
    pub container: Option<(Incarnation, bool)>,
    pub marker: Marker,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    Present(String),
    Absent,
    /// The emulator did not answer (the reason).
    Unreachable(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing happened.
    Intact,
    /// It restarted and kept its state (LocalStack persistence): take a new baseline.
    RestartedWithState,
    /// What was provisioned is gone: re-provision, then take a new baseline.
    StateLost { reason: String },
    /// Not running or not answering: nothing to judge yet.
    Down { reason: String },
}

/// Decides from a baseline and a snapshot.
pub fn judge(baseline: &Baseline, seen: &Observation) -> Verdict {
    let restarted = match (&baseline.container, &seen.container) {
        (Some(_), None) => return Verdict::Down { reason: "the emulator container is gone".into() },
        (_, Some((_, false))) => return Verdict::Down { reason: "the emulator container is not running".into() },
        (Some(before), Some((now, true))) if before.id != now.id => {
            Some(format!("the emulator container was recreated (started {})", now.started_at))
        }
        (Some(before), Some((now, true))) if before.started_at != now.started_at => {
            Some(format!("the emulator restarted at {}", now.started_at))
        }
        _ => None,
    };
    match (&seen.marker, restarted) {
        (Marker::Unreachable(why), _) => Verdict::Down { reason: format!("the emulator does not answer: {why}") },
        (Marker::Absent, Some(reason)) => Verdict::StateLost { reason },
        (Marker::Absent, None) => Verdict::StateLost { reason: "the emulator's state was reset".into() },
        (Marker::Present(v), _) if *v != baseline.marker => {
            Verdict::StateLost { reason: "the state marker was replaced by another writer".into() }
        }
        (Marker::Present(_), Some(_)) => Verdict::RestartedWithState,
        (Marker::Present(_), None) => Verdict::Intact,
    }
}

async fn incarnation(engine: Option<&Engine>, name: &str) -> Result<Option<(Incarnation, bool)>, StateError> {
    let Some(engine) = engine else { return Ok(None) };
    let info = engine.container_info(name).await.map_err(|source| StateError::Inspect { source: Box::new(source) })?;
    Ok(info.map(|c| (Incarnation { id: c.id, started_at: c.started_at }, c.running)))
}

/// Takes a snapshot: the container `name` (when `engine` is given) and the marker.
#[tracing::instrument(skip(engine, ssm))]
pub async fn observe(
    engine: Option<&Engine>,
    name: &str,
    ssm: &aws_sdk_ssm::Client,
) -> Result<Observation, StateError> {
    let container = incarnation(engine, name).await?;
    let marker = match ssm.get_parameter().name(MARKER_PARAMETER).send().await {
        Ok(out) => Marker::Present(out.parameter().and_then(|p| p.value()).unwrap_or_default().to_owned()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => Marker::Absent,
        Err(e) => Marker::Unreachable(sdk("GetParameter", MARKER_PARAMETER, e).to_string()),
    };
    Ok(Observation { container, marker })
}

/// Writes a fresh marker and records the container's incarnation: call right after provisioning.
#[tracing::instrument(skip(engine, ssm))]
pub async fn stamp(engine: Option<&Engine>, name: &str, ssm: &aws_sdk_ssm::Client) -> Result<Baseline, StateError> {
    let marker = fresh_marker();
    ssm.put_parameter()
        .name(MARKER_PARAMETER)
        .value(&marker)
        .r#type(ParameterType::String)
        .overwrite(true)
        .description("written by nexus-dev; its absence means the emulator lost its state")
        .send()
        .await
        .map_err(|e| StateError::Stamp { detail: sdk("PutParameter", MARKER_PARAMETER, e).to_string() })?;
    let container = incarnation(engine, name).await?.map(|(i, _)| i);
    Ok(Baseline { container, marker })
}

/// `observe` then `judge`.
pub async fn check(
    engine: Option<&Engine>,
    name: &str,
    ssm: &aws_sdk_ssm::Client,
    baseline: &Baseline,
) -> Result<Verdict, StateError> {
    Ok(judge(baseline, &observe(engine, name, ssm).await?))
}

fn fresh_marker() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}-{:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(id: &str, at: &str) -> Incarnation {
        Incarnation { id: id.into(), started_at: at.into() }
    }

    fn base() -> Baseline {
        Baseline { container: Some(inc("c1", "t1")), marker: "m1".into() }
    }

    fn seen(container: Option<(Incarnation, bool)>, marker: Marker) -> Observation {
        Observation { container, marker }
    }

    #[test]
    fn every_combination_has_one_verdict() {
        let present = || Marker::Present("m1".into());
        let b = base();
        assert_eq!(judge(&b, &seen(Some((inc("c1", "t1"), true)), present())), Verdict::Intact);
        assert_eq!(judge(&b, &seen(Some((inc("c1", "t2"), true)), present())), Verdict::RestartedWithState);
        assert_eq!(judge(&b, &seen(Some((inc("c2", "t2"), true)), present())), Verdict::RestartedWithState);
        assert_eq!(
            judge(&b, &seen(Some((inc("c1", "t2"), true)), Marker::Absent)),
            Verdict::StateLost { reason: "the emulator restarted at t2".into() }
        );
        assert_eq!(
            judge(&b, &seen(Some((inc("c2", "t3"), true)), Marker::Absent)),
            Verdict::StateLost { reason: "the emulator container was recreated (started t3)".into() }
        );
        assert_eq!(
            judge(&b, &seen(Some((inc("c1", "t1"), true)), Marker::Absent)),
            Verdict::StateLost { reason: "the emulator's state was reset".into() }
        );
        assert!(matches!(
            judge(&b, &seen(Some((inc("c1", "t1"), true)), Marker::Present("m2".into()))),
            Verdict::StateLost { .. }
        ));
        assert!(matches!(judge(&b, &seen(Some((inc("c1", "t1"), false)), present())), Verdict::Down { .. }));
        assert!(matches!(judge(&b, &seen(None, Marker::Unreachable("refused".into()))), Verdict::Down { .. }));
        assert!(matches!(
            judge(&b, &seen(Some((inc("c1", "t1"), true)), Marker::Unreachable("refused".into()))),
            Verdict::Down { .. }
        ));
    }

    #[test]
    fn an_emulator_nexus_dev_does_not_run_is_judged_by_the_marker_alone() {
        let b = Baseline { container: None, marker: "m1".into() };
        assert_eq!(judge(&b, &seen(None, Marker::Present("m1".into()))), Verdict::Intact);
        assert!(matches!(judge(&b, &seen(None, Marker::Absent)), Verdict::StateLost { .. }));
    }

    #[test]
    fn markers_differ() {
        assert_ne!(fresh_marker(), {
            std::thread::sleep(std::time::Duration::from_millis(1));
            fresh_marker()
        });
    }
}
