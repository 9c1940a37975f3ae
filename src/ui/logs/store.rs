//! Every source's ring, the checkpoints and the build marks (issue 16: "logs come as chunks
//! with checkpoints"). Pure: the collector feeds it, the API asks it for chunks.
//!
//! One counter numbers the lines of every source, so a line's `seq` is its checkpoint both in
//! its own source (where it increases) and in all of them together: a client of any selection
//! resumes with one number.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::ring::{Cap, Line, Ring};

/// Sources whose pod is gone that are still kept (their lines can be read); the oldest to end
/// goes first beyond this. With the live ones, this bounds the daemon's memory.
pub const KEEP_ENDED: usize = 16;
/// Build marks kept.
pub const KEEP_MARKS: usize = 32;
/// The most lines one chunk holds.
pub const MAX_CHUNK: usize = 5_000;

/// Where lines come from: one container of one pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// `namespace/pod/container`.
    pub id: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// `namespace/deployment`: the workload the pod belongs to.
    pub workload: String,
    /// The capability (`namespace/name`, its owner annotation).
    pub capability: String,
    /// The node the pod runs on (empty when not known).
    pub node: String,
}

impl Source {
    pub fn new(namespace: &str, pod: &str, container: &str, workload: &str, capability: &str) -> Self {
        Self {
            id: format!("{namespace}/{pod}/{container}"),
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
            workload: format!("{namespace}/{workload}"),
            capability: capability.into(),
            node: String::new(),
        }
    }

    /// The same source, on `node`.
    pub fn on(self, node: &str) -> Self {
        Self { node: node.into(), ..self }
    }

    /// Whether `selector` picks this source: its id, or its workload (all its pods).
    fn picked_by(&self, selector: Option<&str>) -> bool {
        selector.is_none_or(|s| s == self.id || s == self.workload)
    }
}

/// A source as listed: what it is, whether it is followed, what is kept of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    #[serde(flatten)]
    pub source: Source,
    /// Followed now; false once its pod is gone.
    pub live: bool,
    pub lines: usize,
    pub bytes: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Why its logs cannot be read now (a simulated node, a container that never started).
    pub error: Option<String>,
}

/// A checkpoint with a meaning: "a build started here" (what "since the last build" reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mark {
    /// Lines after this checkpoint came after the mark.
    pub seq: u64,
    /// When it was set (ms since the epoch).
    pub at: u64,
    pub label: String,
}

/// The sources, the current checkpoint and the marks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sources {
    pub seq: u64,
    pub sources: Vec<SourceInfo>,
    pub marks: Vec<Mark>,
}

/// What a client asks for: a selection (a source, a workload or all), after a checkpoint (or
/// the newest lines), at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub selector: Option<String>,
    pub after: Option<u64>,
    pub limit: usize,
}

/// A chunk's line: its source is an index into the chunk's `sources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkLine {
    pub seq: u64,
    pub source: usize,
    pub ts: u64,
    pub text: String,
}

/// Lines of a selection, oldest first, and the checkpoint to ask after next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Chunk {
    /// The source ids the lines name by index.
    pub sources: Vec<String>,
    pub lines: Vec<ChunkLine>,
    /// Everything of the selection up to here is in this chunk or before it.
    pub next: u64,
    /// More lines after `next` are kept already: ask again at once.
    pub more: bool,
    /// Lines after the asked checkpoint were dropped for room before the client read them.
    pub gap: bool,
    /// The checkpoint is not from this daemon run (it restarted at 0): this is the newest
    /// lines instead, and the client should drop what it holds.
    pub reset: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    source: Source,
    ring: Ring,
    live: bool,
    error: Option<String>,
}

/// Every source's lines.
#[derive(Debug, Clone)]
pub struct Store {
    seq: u64,
    entries: BTreeMap<String, Entry>,
    /// Ended sources, the oldest first.
    ended: VecDeque<String>,
    marks: VecDeque<Mark>,
    cap: Cap,
}

impl Default for Store {
    fn default() -> Self {
        Self::new(Cap::default())
    }
}

impl Store {
    pub fn new(cap: Cap) -> Self {
        Self { seq: 0, entries: BTreeMap::new(), ended: VecDeque::new(), marks: VecDeque::new(), cap }
    }

    /// The newest checkpoint.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Starts (or resumes, with its lines) a source. Whether the list of sources changed.
    pub fn open(&mut self, source: Source) -> bool {
        self.ended.retain(|id| *id != source.id);
        match self.entries.get_mut(&source.id) {
            Some(e) if e.live => false,
            Some(e) => {
                e.live = true;
                true
            }
            None => {
                let ring = Ring::new(self.cap);
                self.entries.insert(source.id.clone(), Entry { source, ring, live: true, error: None });
                true
            }
        }
    }

    /// Why source `id` cannot be read now, or `None` once it can. Whether that changed.
    pub fn note(&mut self, id: &str, error: Option<String>) -> bool {
        match self.entries.get_mut(id) {
            Some(e) if e.error != error => {
                e.error = error;
                true
            }
            _ => false,
        }
    }

    /// A source's pod is gone: its lines stay readable until [`KEEP_ENDED`] sources ended after
    /// it. Whether the list of sources changed.
    pub fn end(&mut self, id: &str) -> bool {
        let Some(e) = self.entries.get_mut(id).filter(|e| e.live) else { return false };
        e.live = false;
        self.ended.push_back(id.to_owned());
        while self.ended.len() > KEEP_ENDED {
            if let Some(old) = self.ended.pop_front() {
                self.entries.remove(&old);
            }
        }
        true
    }

    /// Appends lines (`(ts, text)`) to source `id`, numbered; ignored when the source is not
    /// open. The newest checkpoint.
    pub fn push(&mut self, id: &str, lines: impl IntoIterator<Item = (u64, String)>) -> u64 {
        if let Some(e) = self.entries.get_mut(id).filter(|e| e.live) {
            for (ts, text) in lines {
                self.seq += 1;
                e.ring.push(Line::new(self.seq, ts, text));
            }
        }
        self.seq
    }

    /// Marks the newest checkpoint as "a build started" (`label` says which).
    pub fn mark(&mut self, label: String, at: u64) -> Mark {
        let mark = Mark { seq: self.seq, at, label };
        self.marks.push_back(mark.clone());
        while self.marks.len() > KEEP_MARKS {
            self.marks.pop_front();
        }
        mark
    }

    pub fn sources(&self) -> Sources {
        let sources = self
            .entries
            .values()
            .map(|e| SourceInfo {
                source: e.source.clone(),
                live: e.live,
                lines: e.ring.len(),
                bytes: e.ring.bytes(),
                first_seq: e.ring.first_seq(),
                last_seq: e.ring.last_seq(),
                error: e.error.clone(),
            })
            .collect();
        Sources { seq: self.seq, sources, marks: self.marks.iter().cloned().collect() }
    }

    /// Whether `selector` names a source or a workload kept here.
    pub fn knows(&self, selector: &str) -> bool {
        self.entries.values().any(|e| e.source.picked_by(Some(selector)))
    }

    /// The lines `q` asks for: after its checkpoint, oldest first, up to its limit; without one
    /// (or with one from another daemon run), the newest `limit` lines.
    pub fn chunk(&self, q: &Query) -> Chunk {
        let limit = q.limit.clamp(1, MAX_CHUNK);
        let picked: Vec<&Entry> = self.entries.values().filter(|e| e.source.picked_by(q.selector.as_deref())).collect();
        let reset = q.after.is_some_and(|a| a > self.seq);
        let after = q.after.filter(|_| !reset);
        // Each ring is in seq order: its first (or last) `limit` lines are enough to merge.
        let mut lines: Vec<(usize, &Line)> = Vec::new();
        for (i, e) in picked.iter().enumerate() {
            match after {
                Some(a) => lines.extend(e.ring.after(a).take(limit).map(|l| (i, l))),
                None => lines.extend(e.ring.after(0).rev().take(limit).map(|l| (i, l))),
            }
        }
        lines.sort_unstable_by_key(|(_, l)| l.seq);
        let more = after.is_some() && lines.len() > limit;
        match after {
            Some(_) => lines.truncate(limit),
            None => drop(lines.drain(..lines.len().saturating_sub(limit))),
        }
        let next = if more { lines.last().map_or(self.seq, |(_, l)| l.seq) } else { self.seq };
        let gap = after.is_some_and(|a| picked.iter().any(|e| e.ring.lost_after(a)));
        // Only the sources the lines name, numbered in the order they first appear.
        let mut sources: Vec<String> = Vec::new();
        let mut index: Vec<Option<usize>> = vec![None; picked.len()];
        let lines = lines
            .into_iter()
            .map(|(i, l)| {
                let source = *index[i].get_or_insert_with(|| {
                    sources.push(picked[i].source.id.clone());
                    sources.len() - 1
                });
                ChunkLine { seq: l.seq, source, ts: l.ts, text: l.text.clone() }
            })
            .collect();
        Chunk { sources, lines, next, more, gap, reset }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pod: &str, container: &str) -> Source {
        Source::new("app-dev", pod, container, &format!("app-dev-{container}"), "app-dev/app-dev")
    }

    /// Backend and frontend pods; lines pushed alternately: b1 f1 b2 f2 …
    fn store(cap: Cap, each: usize) -> Store {
        let mut s = Store::new(cap);
        s.open(source("backend-1", "backend"));
        s.open(source("frontend-1", "frontend"));
        for i in 1..=each {
            s.push("app-dev/backend-1/backend", [(i as u64, format!("b{i}"))]);
            s.push("app-dev/frontend-1/frontend", [(i as u64, format!("f{i}"))]);
        }
        s
    }

    fn texts(c: &Chunk) -> Vec<String> {
        c.lines.iter().map(|l| l.text.clone()).collect()
    }

    fn q(selector: Option<&str>, after: Option<u64>, limit: usize) -> Query {
        Query { selector: selector.map(Into::into), after, limit }
    }

    #[test]
    fn lines_of_every_source_share_one_increasing_checkpoint() {
        let s = store(Cap::default(), 3);
        let all = s.chunk(&q(None, Some(0), 100));
        assert_eq!(texts(&all), ["b1", "f1", "b2", "f2", "b3", "f3"]);
        assert_eq!(all.lines.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(all.sources, ["app-dev/backend-1/backend", "app-dev/frontend-1/frontend"]);
        assert_eq!(all.lines.iter().map(|l| l.source).collect::<Vec<_>>(), [0, 1, 0, 1, 0, 1]);
        assert_eq!((all.next, all.more, all.gap, all.reset), (6, false, false, false));
        let backend = s.chunk(&q(Some("app-dev/backend-1/backend"), Some(0), 100));
        assert_eq!(texts(&backend), ["b1", "b2", "b3"]);
        assert_eq!(backend.sources, ["app-dev/backend-1/backend"]);
        assert_eq!(backend.lines.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 3, 5], "increasing, with gaps");
        assert_eq!(backend.next, 6, "everything of the backend up to the newest checkpoint");
    }

    #[test]
    fn a_workload_selects_all_its_pods() {
        let mut s = store(Cap::default(), 1);
        s.open(source("backend-2", "backend"));
        s.push("app-dev/backend-2/backend", [(9, "other pod".into())]);
        let c = s.chunk(&q(Some("app-dev/app-dev-backend"), None, 100));
        assert_eq!(texts(&c), ["b1", "other pod"]);
        assert!(s.knows("app-dev/app-dev-backend") && s.knows("app-dev/backend-2/backend"));
        assert!(!s.knows("app-dev/nope") && !s.knows("app-dev"));
        assert_eq!(s.chunk(&q(Some("app-dev/nope"), Some(0), 10)).lines, []);
    }

    #[test]
    fn a_client_resumes_in_chunks_after_its_checkpoint() {
        let s = store(Cap::default(), 5);
        let first = s.chunk(&q(None, Some(0), 4));
        assert_eq!(texts(&first), ["b1", "f1", "b2", "f2"]);
        assert_eq!((first.next, first.more), (4, true));
        let second = s.chunk(&q(None, Some(first.next), 4));
        assert_eq!(texts(&second), ["b3", "f3", "b4", "f4"]);
        let last = s.chunk(&q(None, Some(second.next), 4));
        assert_eq!(texts(&last), ["b5", "f5"]);
        assert_eq!((last.next, last.more), (10, false));
        let idle = s.chunk(&q(None, Some(10), 4));
        assert_eq!((idle.lines.len(), idle.next, idle.more), (0, 10, false), "up to date");
    }

    #[test]
    fn without_a_checkpoint_a_client_gets_the_newest_lines() {
        let s = store(Cap::default(), 5);
        let tail = s.chunk(&q(None, None, 3));
        assert_eq!(texts(&tail), ["f4", "b5", "f5"]);
        assert_eq!((tail.next, tail.more, tail.gap), (10, false, false));
        let other_run = s.chunk(&q(None, Some(99), 2));
        assert_eq!((texts(&other_run), other_run.reset), (vec!["b5".into(), "f5".into()], true));
    }

    #[test]
    fn a_client_behind_the_cap_learns_of_the_gap() {
        // Two lines kept per source: b3 f3 b4 f4 are checkpoints 5 to 8.
        let s = store(Cap { lines: 2, bytes: usize::MAX }, 4);
        let c = s.chunk(&q(None, Some(4), 100));
        assert_eq!(texts(&c), ["b3", "f3", "b4", "f4"]);
        assert!(!c.gap, "5 onwards are all kept");
        let behind = s.chunk(&q(None, Some(3), 100));
        assert_eq!(texts(&behind), ["b3", "f3", "b4", "f4"]);
        assert!(behind.gap, "f2 (4) is gone: the client missed it");
    }

    #[test]
    fn ended_sources_stay_readable_until_newer_ones_end() {
        let mut s = store(Cap::default(), 1);
        assert!(!s.open(source("backend-1", "backend")), "already open");
        assert!(s.end("app-dev/backend-1/backend"));
        assert!(!s.end("app-dev/backend-1/backend"), "already ended");
        s.push("app-dev/backend-1/backend", [(5, "after the end".into())]);
        let listed = s.sources();
        assert_eq!(
            listed.sources.iter().map(|i| (i.source.pod.as_str(), i.live, i.lines)).collect::<Vec<_>>(),
            [("backend-1", false, 1), ("frontend-1", true, 1)]
        );
        assert_eq!(texts(&s.chunk(&q(Some("app-dev/backend-1/backend"), None, 10))), ["b1"]);
        for i in 0..KEEP_ENDED {
            let id = format!("pod-{i}");
            s.open(source(&id, "backend"));
            s.end(&format!("app-dev/{id}/backend"));
        }
        assert!(!s.knows("app-dev/backend-1/backend"), "the oldest ended is dropped");
        assert_eq!(s.sources().sources.len(), KEEP_ENDED + 1);
        assert!(s.open(source("pod-3", "backend")), "a pod that comes back is live again");
        assert!(s.sources().sources.iter().any(|i| i.source.pod == "pod-3" && i.live));
    }

    #[test]
    fn a_source_says_why_it_cannot_be_read_until_it_can() {
        let mut s = store(Cap::default(), 1);
        let id = "app-dev/backend-1/backend";
        let error = |s: &Store| s.sources().sources.into_iter().find(|i| i.source.id == id).unwrap().error;
        assert!(s.note(id, Some("no container runtime".into())));
        assert!(!s.note(id, Some("no container runtime".into())), "the same again is no change");
        assert_eq!(error(&s).as_deref(), Some("no container runtime"));
        assert!(s.note(id, None));
        assert_eq!(error(&s), None);
        assert!(!s.note("app-dev/nope/backend", Some("x".into())), "not a source");
    }

    #[test]
    fn a_mark_is_the_checkpoint_a_build_started_at() {
        let mut s = store(Cap::default(), 2);
        let mark = s.mark("backend build 3".into(), 42);
        assert_eq!(mark, Mark { seq: 4, at: 42, label: "backend build 3".into() });
        s.push("app-dev/backend-1/backend", [(9, "new code".into())]);
        assert_eq!(texts(&s.chunk(&q(None, Some(mark.seq), 10))), ["new code"], "since the last build");
        for i in 0..KEEP_MARKS {
            s.mark(format!("{i}"), 0);
        }
        assert_eq!(s.sources().marks.len(), KEEP_MARKS);
    }
}
