//! `down`: the daemon stopped, the project's containers stopped; with `purge`, the kind
//! cluster, the containers, the volumes and the daemon's state removed too. Only what carries
//! this project's ownership label is touched.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Error, Result, Session};
use crate::daemon::{self, protocol};
use crate::env::{Engine, kind};
use crate::model::profile::ClusterProvider;

/// What `down` did, one line each (`✓` done, `-` nothing to do, `!` not done).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub lines: Vec<(char, String)>,
}

impl Report {
    fn done(&mut self, what: String) {
        self.lines.push(('✓', what));
    }
}

pub async fn down(session: &Session, purge: bool) -> Result<Report> {
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
    let step = |step| move |e: crate::env::docker::DockerError| Error::Step { step, source: e.into() };
    let engine = Engine::connect(session.id.clone()).await.map_err(step("docker"))?;
    if purge {
        if profile.cluster.provider == ClusterProvider::Kind {
            let name = profile.cluster.name.clone().unwrap_or_else(|| "nexus-dev".into());
            match kind::KindCli::locate() {
                Ok(cli) => {
                    let kubeconfig = profile.cluster.kubeconfig.as_ref().map(PathBuf::from);
                    let o = kind::delete_cluster(&cli, &engine, &name, kubeconfig.as_deref())
                        .await
                        .map_err(|e| Error::Step { step: "kind cluster", source: e.into() })?;
                    report.done(format!("kind cluster {name}: {o}"));
                }
                Err(e) => report.lines.push(('!', format!("kind cluster {name} not deleted: {e}"))),
            }
        }
        for (name, outcome) in engine.purge_owned().await.map_err(step("containers"))? {
            report.done(format!("{name}: {outcome}"));
        }
        let _ = std::fs::remove_dir_all(&paths.dir);
    } else {
        for (name, outcome) in engine.stop_owned().await.map_err(step("containers"))? {
            report.done(format!("{name}: {outcome}"));
        }
        report
            .lines
            .push((' ', "the cluster and the volumes are kept; `nexus-dev down --purge` removes them too".into()));
    }
    Ok(report)
}
