//! The dashboard's builds and watch view (issue 16): watch mode runs in the `up` (or `watch`)
//! process, and its events reach the daemon over the socket (`daemon::watching`). `history`
//! folds them per component (pure), [`Builds`] shares that history with the API and keeps each
//! connected session's way back (a rebuild asked for on the page), `api` serves it.

pub mod api;
pub mod history;

use std::sync::Mutex;

use tokio::sync::{mpsc, watch};

pub use history::{Build, History, KEEP, View};

use crate::watch::Event;

/// Why a rebuild cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    #[error("the project has no component {0}")]
    Unknown(String),
    #[error(
        "no watch session has component {0}: start watch mode with `nexus-dev up` (it goes on watching) or `nexus-dev watch` in the project"
    )]
    NotWatched(String),
}

#[derive(Debug)]
struct Inner {
    history: History,
    next_session: u64,
    /// Each session's requests channel.
    links: Vec<(u64, mpsc::UnboundedSender<String>)>,
}

/// The history shared by the watch sessions, which add to it, and the API, which reads it.
#[derive(Debug)]
pub struct Builds {
    inner: Mutex<Inner>,
    /// This daemon run (its start, ms): a client's seq of another run is meaningless.
    run: u64,
    tx: watch::Sender<u64>,
}

impl Default for Builds {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

/// A connected session; dropping it disconnects it.
#[derive(Debug)]
pub struct Session<'a> {
    builds: &'a Builds,
    pub id: u64,
    /// The components the page asks to rebuild, by name.
    pub requests: mpsc::UnboundedReceiver<String>,
}

impl Session<'_> {
    /// Folds one of the session's events; the label of the log mark to set, when a rebuild
    /// starts.
    pub fn record(&self, event: &Event) -> Option<String> {
        self.builds.change(|h| h.record(self.id, event, crate::ui::feed::now_ms()))
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let id = self.id;
        self.builds.change(|h| h.disconnect(id, crate::ui::feed::now_ms()));
        self.builds.inner().links.retain(|(s, _)| *s != id);
    }
}

impl Builds {
    /// Builds of the project's `components` (the project file's).
    pub fn new(components: Vec<String>) -> Self {
        Self {
            inner: Mutex::new(Inner { history: History::new(components), next_session: 0, links: Vec::new() }),
            run: crate::ui::feed::now_ms(),
            tx: watch::Sender::new(0),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Each change of the history is one call that leaves it whole.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn change<T>(&self, f: impl FnOnce(&mut History) -> T) -> T {
        let mut inner = self.inner();
        let out = f(&mut inner.history);
        let seq = inner.history.seq();
        self.tx.send_if_modified(|s| std::mem::replace(s, seq) != seq);
        out
    }

    /// A watch session of `components` connects.
    pub fn connect(&self, components: Vec<String>) -> Session<'_> {
        let (tx, requests) = mpsc::unbounded_channel();
        let id = {
            let mut inner = self.inner();
            inner.next_session += 1;
            let id = inner.next_session;
            inner.links.push((id, tx));
            id
        };
        self.change(|h| h.connect(id, components, crate::ui::feed::now_ms()));
        Session { builds: self, id, requests }
    }

    /// Asks the newest session that watches `component` to rebuild it; its id.
    pub fn rebuild(&self, component: &str) -> Result<u64, RebuildError> {
        let inner = self.inner();
        let session = inner.history.session_of(component).ok_or_else(|| {
            if inner.history.knows(component) {
                RebuildError::NotWatched(component.to_owned())
            } else {
                RebuildError::Unknown(component.to_owned())
            }
        })?;
        let link = inner.links.iter().find(|(id, _)| *id == session);
        match link.map(|(_, tx)| tx.send(component.to_owned())) {
            Some(Ok(())) => Ok(session),
            // The session is going; its drop is about to say so.
            _ => Err(RebuildError::NotWatched(component.to_owned())),
        }
    }

    pub fn run(&self) -> u64 {
        self.run
    }

    /// Everything, or (with this run's `after`) the builds changed since.
    pub fn view(&self, after: Option<u64>) -> View {
        self.inner().history.view(after)
    }

    /// The current seq, waking on every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuild_reaches_the_session_watching_the_component_and_only_while_it_is_connected() {
        let builds = Builds::new(vec!["api".into(), "docs".into()]);
        assert_eq!(builds.rebuild("api"), Err(RebuildError::NotWatched("api".into())));
        assert_eq!(builds.rebuild("nope"), Err(RebuildError::Unknown("nope".into())));
        let changes = builds.subscribe();
        let mut session = builds.connect(vec!["api".into()]);
        assert!(changes.has_changed().unwrap(), "a session connecting is a change");
        assert_eq!(builds.rebuild("api"), Ok(session.id));
        assert_eq!(session.requests.try_recv().unwrap(), "api");
        assert!(builds.rebuild("docs").unwrap_err().to_string().contains("nexus-dev up"));
        drop(session);
        assert_eq!(builds.rebuild("api"), Err(RebuildError::NotWatched("api".into())));
        assert!(builds.view(None).sessions.is_empty());
    }
}
