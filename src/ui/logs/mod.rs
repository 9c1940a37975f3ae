//! The dashboard's logs (issue 16: "Logs: per workload, and all together … Keep a capped ring
//! buffer per source"): `ring` is one source's capped buffer, `store` numbers every line with a
//! checkpoint and answers chunks, `collect` is the daemon's task that follows the project's
//! pods into it, `api` serves it. [`Logs`] shares the store between them.

pub mod api;
pub mod collect;
pub mod ring;
pub mod store;

use std::sync::Mutex;

use tokio::sync::watch;

pub use store::{Chunk, Mark, Query, Source, Sources, Store};

/// What changed last: the newest checkpoint, and the version of the list of sources. Followers
/// wait on it, then read what they miss from the store (which is the history).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Version {
    pub seq: u64,
    pub sources: u64,
}

/// The store shared by the collector, which appends, and the API, which reads.
#[derive(Debug)]
pub struct Logs {
    store: Mutex<Store>,
    tx: watch::Sender<Version>,
}

impl Default for Logs {
    fn default() -> Self {
        Self::new(Store::default())
    }
}

impl Logs {
    pub fn new(store: Store) -> Self {
        Self { store: Mutex::new(store), tx: watch::Sender::new(Version::default()) }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock leaves a consistent store: each ring's push or pop is
        // one step, and the worst is a line numbered but not kept.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self, seq: u64, sources: bool) {
        self.tx.send_if_modified(|v| {
            let next = Version { seq, sources: v.sources + u64::from(sources) };
            std::mem::replace(v, next) != next
        });
    }

    pub fn open(&self, source: Source) {
        let mut store = self.store();
        let changed = store.open(source);
        self.changed(store.seq(), changed);
    }

    pub fn end(&self, id: &str) {
        let mut store = self.store();
        let changed = store.end(id);
        self.changed(store.seq(), changed);
    }

    /// Why source `id` cannot be read now, or `None` once it can (listed with the sources).
    pub fn note(&self, id: &str, error: Option<String>) {
        let mut store = self.store();
        let changed = store.note(id, error);
        self.changed(store.seq(), changed);
    }

    /// Appends a batch of lines (`(ts, text)`) to source `id`, under one lock.
    pub fn push(&self, id: &str, lines: impl IntoIterator<Item = (u64, String)>) {
        let mut store = self.store();
        let seq = store.push(id, lines);
        self.changed(seq, false);
    }

    pub fn mark(&self, label: String, at: u64) -> Mark {
        let mut store = self.store();
        let mark = store.mark(label, at);
        // The marks are listed with the sources.
        self.changed(store.seq(), true);
        mark
    }

    pub fn chunk(&self, q: &Query) -> Chunk {
        self.store().chunk(q)
    }

    pub fn sources(&self) -> Sources {
        self.store().sources()
    }

    pub fn knows(&self, selector: &str) -> bool {
        self.store().knows(selector)
    }

    /// Wakes on every change after the current one.
    pub fn subscribe(&self) -> watch::Receiver<Version> {
        self.tx.subscribe()
    }
}
