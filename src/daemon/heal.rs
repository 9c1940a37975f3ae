//! An emulator that restarts empty, or is reset, loses every resource; the controller's periodic
//! resync would notice within a minute, this within seconds. Every `emulator_check` the healer
//! asks `env::emulator::state` whether the emulator kept what was provisioned (the container's
//! incarnation and a marker parameter, one Docker inspect and one AWS read per region); when
//! the state is lost, every capability of the project in that region gets a pass through the
//! controller, with a full AWS check.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::channel::mpsc;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::watch;

use super::Daemon;
use crate::env::docker::Engine;
use crate::env::emulator::state::{self, Baseline, Verdict};
use crate::env::owner::ProjectId;
use crate::model::spec::NexusAICapability;
use crate::provision::aws::{Clients, Target};
use crate::reconcile::Context;

/// Runs until `stopped`; sends the capabilities to reconcile again on `retrigger`.
pub(super) async fn heal(
    d: Arc<Daemon>,
    ctx: Arc<Context>,
    retrigger: mpsc::UnboundedSender<ObjectRef<NexusAICapability>>,
    mut stopped: watch::Receiver<bool>,
) {
    if d.profile.aws.endpoint.is_none() {
        return;
    }
    // The emulator container `up` runs; without Docker only the marker is watched.
    let engine = match d.profile.aws.emulator {
        Some(_) => Engine::connect(ProjectId::from_dir(&d.project.dir)).await.ok(),
        None => None,
    };
    let mut regions: HashMap<String, (Clients, Option<Baseline>)> = HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(d.emulator_check) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let Ok(caps) = super::server::capabilities(&d).await else { continue };
        let wanted: BTreeSet<&str> = caps.iter().map(|c| c.spec.region.as_str()).collect();
        for region in wanted {
            if !regions.contains_key(region) {
                let clients = Clients::connect(&Target::of(&d.profile, region)).await;
                regions.insert(region.to_owned(), (clients, None));
            }
            let Some((clients, baseline)) = regions.get_mut(region) else { continue };
            let emulator = crate::env::emulator::NAME;
            let verdict = match baseline {
                Some(b) => state::check(engine.as_ref(), emulator, &clients.ssm, b).await,
                None => Ok(Verdict::RestartedWithState),
            };
            match verdict {
                Ok(Verdict::Intact) | Ok(Verdict::Down { .. }) => {}
                Ok(Verdict::RestartedWithState) => {
                    *baseline = state::stamp(engine.as_ref(), emulator, &clients.ssm).await.ok()
                }
                Ok(Verdict::StateLost { reason }) => {
                    for cr in caps.iter().filter(|c| c.spec.region == region) {
                        let key = crate::reconcile::key(cr);
                        tracing::warn!(capability = %key, %reason, "the emulator lost this capability's resources; reconciling it again");
                        ctx.forget_aws_check(&key);
                        let _ = retrigger.unbounded_send(ObjectRef::from_obj(cr));
                    }
                    *baseline = state::stamp(engine.as_ref(), emulator, &clients.ssm).await.ok();
                }
                Err(e) => tracing::debug!(error = %e, "cannot check the emulator's state"),
            }
        }
    }
}
