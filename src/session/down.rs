//! `down`: the project's daemon stopped; the environment the machine's projects share (the kind
//! cluster, the registry, the emulator) stopped when no other project is up. With `purge`, this
//! project's state removed, and the shared environment deleted with its data when no other
//! project of the machine still has it (or with `force`, saying whose it removes). Only what
//! carries nexus-dev's ownership labels is touched.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Error, Result, Session};
use crate::daemon::{self, machine, protocol};
use crate::env::{Engine, Outcome, ProjectId, kind};
use crate::model::profile::ClusterProvider;

/// What `down` did, one line each (`✓` done, `-` nothing to do, `!` not done or said loud).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub lines: Vec<(char, String)>,
}

impl Report {
    fn done(&mut self, what: String) {
        self.lines.push(('✓', what));
    }
}

/// How `down` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Delete the cluster, the containers, the volumes and the project's state too.
    pub purge: bool,
    /// With `purge`: delete the shared environment even though other projects have it.
    pub force: bool,
}

pub async fn down(session: &Session, options: Options) -> Result<Report> {
    let profile = &session.profile.profile;
    let paths = session.paths();
    let mut report = Report::default();
    if daemon::running(&paths) {
        let _ = protocol::call(&paths.socket, &protocol::Request::Shutdown, |_| {}).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while daemon::running(&paths) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        report.done("daemon stopped".into());
    } else {
        report.lines.push(('-', "daemon was not running".into()));
    }
    let step = |step| move |e: crate::env::docker::DockerError| Error::Step { step, error: e.into() };
    let shared = Engine::connect(ProjectId::shared()).await.map_err(step("docker"))?;
    // This project's own containers: those it made before the environment was shared.
    let own = shared.acting_for(session.id.clone());
    let others = machine::others(session.id.as_str());
    let named = |projects: Vec<&machine::Project>| projects.iter().map(|p| p.describe()).collect::<Vec<_>>().join(", ");
    if options.purge {
        // A project that is down still has its capabilities and data in the shared environment.
        let holders: Vec<&machine::Project> = others.iter().collect();
        if holders.is_empty() || options.force {
            if !holders.is_empty() {
                report.lines.push((
                    '!',
                    format!(
                        "removing the shared environment although it is still in use by {} (--force)",
                        named(holders)
                    ),
                ));
            }
            if profile.cluster.provider == ClusterProvider::Kind {
                let name = profile.cluster.name.clone().unwrap_or_else(|| "nexus-dev".into());
                match kind::KindCli::locate() {
                    Ok(cli) => {
                        let kubeconfig = profile.cluster.kubeconfig.as_ref().map(PathBuf::from);
                        let o = delete_cluster(&cli, &shared, &own, &name, kubeconfig.as_deref())
                            .await
                            .map_err(|e| Error::Step { step: "kind cluster", error: e.into() })?;
                        report.done(format!("kind cluster {name}: {o}"));
                    }
                    Err(e) => report.lines.push(('!', format!("kind cluster {name} not deleted: {e}"))),
                }
            }
            for (name, outcome) in shared.purge_owned().await.map_err(step("containers"))? {
                report.done(format!("{name}: {outcome}"));
            }
        } else {
            report.lines.push((
                '-',
                format!(
                    "the shared environment (cluster, registry, emulator and their data) is kept for {}; `nexus-dev down --purge --force` removes it anyway",
                    named(holders)
                ),
            ));
            report.lines.push((
                ' ',
                "capabilities this project applied stay in the shared cluster and emulator; `nexus-dev delete -f SPEC` removes them".into(),
            ));
        }
        for (name, outcome) in own.purge_owned().await.map_err(step("containers"))? {
            report.done(format!("{name}: {outcome}"));
        }
        let _ = std::fs::remove_dir_all(&paths.dir);
    } else {
        let up: Vec<&machine::Project> = others.iter().filter(|p| p.up).collect();
        if up.is_empty() {
            for (name, outcome) in shared.stop_owned().await.map_err(step("containers"))? {
                report.done(format!("{name}: {outcome}"));
            }
        } else {
            report.lines.push(('-', format!("the shared environment keeps running for {}", named(up))));
        }
        for (name, outcome) in own.stop_owned().await.map_err(step("containers"))? {
            report.done(format!("{name}: {outcome}"));
        }
        report
            .lines
            .push((' ', "the cluster and the volumes are kept; `nexus-dev down --purge` removes them too".into()));
    }
    Ok(report)
}

/// Deletes the kind cluster when it is the shared environment's, or this project's from before
/// the environment was shared.
async fn delete_cluster(
    cli: &kind::KindCli<impl kind::Runner>,
    shared: &Engine,
    own: &Engine,
    name: &str,
    kubeconfig: Option<&std::path::Path>,
) -> Result<Outcome, kind::KindError> {
    match kind::delete_cluster(cli, shared, name, kubeconfig).await {
        Err(kind::KindError::NotOurs { owner: Some(o), .. }) if o == own.project().as_str() => {
            kind::delete_cluster(cli, own, name, kubeconfig).await
        }
        r => r,
    }
}
