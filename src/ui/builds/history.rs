//! The builds and syncs of the project's components, folded from watch mode's events (issue 16:
//! "the history of builds and syncs per component, with what triggered each, the time of each
//! stage, the digest, and the error of a failed build"). Pure: events and times in, values out.
//!
//! Each component keeps its newest [`KEEP`] builds and syncs; older ones are dropped. Every
//! change gets the next sequence number, and each build carries the number of its last change,
//! so a client that saw up to N asks for the builds changed after N (docs/design/ui.md,
//! "Builds").

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::watch::event::{Action, Event, Stage};

/// Builds and syncs kept per component (older ones are dropped; a client keeps as many).
pub const KEEP: usize = 50;
/// Lines of a failure's output kept (watch mode sends the last 25).
pub const OUTPUT_LINES: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Build,
    Sync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Running,
    /// A new image runs.
    Deployed,
    /// The build gave the image that already runs: nothing was deployed.
    Unchanged,
    Synced,
    Failed,
    /// The sync could not be done; a rebuild follows (the next entry).
    Fallback,
    /// Watch mode stopped (or its connection to the daemon went) before it finished.
    Stopped,
}

/// What started it: the files (the first few, and how many), or why when no file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    pub files: Vec<String>,
    pub count: usize,
    pub reason: Option<String>,
}

/// One stage and how long it took, in ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageTime {
    pub name: &'static str,
    pub ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub stage: Stage,
    pub message: String,
    /// The end of the build's (or sync's) output.
    pub output: Vec<String>,
    /// What keeps serving.
    pub running: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    /// From 1 in each daemon run.
    pub id: u64,
    /// The sequence number of its last change.
    pub seq: u64,
    pub component: String,
    pub kind: Kind,
    pub trigger: Trigger,
    /// ms since the epoch, when the daemon heard of it.
    pub started_at: u64,
    pub ended_at: Option<u64>,
    /// Finished stages in order: detect, build, push (or load), rollout; or sync.
    pub stages: Vec<StageTime>,
    /// The stage under way while running, and since when (ms since the epoch).
    pub stage: Option<&'static str>,
    pub stage_started_at: Option<u64>,
    /// The image built, then the reference delivered and deployed.
    pub image: Option<String>,
    /// `sha256:…` when the image is deployed by registry digest; `null` for a content tag.
    pub digest: Option<String>,
    pub cached_steps: Option<usize>,
    pub result: Outcome,
    pub error: Option<Failure>,
}

/// A connected watch session (an `up` or `watch` process) and the components it watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: u64,
    pub components: Vec<String>,
    /// ms since the epoch.
    pub since: u64,
}

/// A component and whether a session watches it (a rebuild can be asked for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentView {
    pub name: String,
    pub watched: bool,
}

/// `GET /api/v1/builds`, and the stream's messages: the components and sessions whole, and the
/// builds (all of them, newest first, or those changed after the client's seq).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub seq: u64,
    /// Builds kept per component.
    pub keep: usize,
    pub components: Vec<ComponentView>,
    pub sessions: Vec<Session>,
    pub builds: Vec<Build>,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    seq: u64,
    next_id: u64,
    /// The project file's components, then any a session named.
    known: BTreeSet<String>,
    sessions: Vec<Session>,
    /// Per component, oldest first.
    builds: BTreeMap<String, VecDeque<Build>>,
}

impl History {
    /// A history for the project's `components` (the page lists them before any build).
    pub fn new(components: impl IntoIterator<Item = String>) -> Self {
        Self { known: components.into_iter().collect(), ..Self::default() }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn connect(&mut self, id: u64, components: Vec<String>, now: u64) {
        self.known.extend(components.iter().cloned());
        self.sessions.retain(|s| s.id != id);
        self.sessions.push(Session { id, components, since: now });
        self.bump();
    }

    /// The session went: what it was running is stopped (unless another session watches it).
    pub fn disconnect(&mut self, id: u64, now: u64) {
        let Some(i) = self.sessions.iter().position(|s| s.id == id) else { return };
        let gone = self.sessions.remove(i);
        self.stop(id, &gone.components, now);
        self.bump();
    }

    /// The newest session that watches `component`.
    pub fn session_of(&self, component: &str) -> Option<u64> {
        self.sessions.iter().rev().find(|s| s.components.iter().any(|c| c == component)).map(|s| s.id)
    }

    pub fn knows(&self, component: &str) -> bool {
        self.known.contains(component)
    }

    /// Stops what session `by` was running: its components' running entries, except those
    /// another session watches.
    fn stop(&mut self, by: u64, components: &[String], now: u64) {
        let still: BTreeSet<&String> =
            self.sessions.iter().filter(|s| s.id != by).flat_map(|s| &s.components).collect();
        let seq = self.seq + 1;
        let mut changed = false;
        for c in components.iter().filter(|c| !still.contains(c)) {
            for b in self.builds.get_mut(c).into_iter().flatten().filter(|b| b.result == Outcome::Running) {
                b.result = Outcome::Stopped;
                b.end(now);
                b.seq = seq;
                changed = true;
            }
        }
        if changed {
            self.seq = seq;
        }
    }

    /// Folds one event of session `session`, heard at `now` (ms). Returns the label of the log
    /// mark to set when a rebuild starts ("build api"), so that "since the last build" works.
    pub fn record(&mut self, session: u64, event: &Event, now: u64) -> Option<String> {
        match event {
            Event::Watching { components, .. } => {
                self.known.extend(components.iter().cloned());
                if let Some(s) = self.sessions.iter_mut().find(|s| s.id == session) {
                    s.components = components.clone();
                }
                self.bump();
            }
            Event::Warning { .. } => {}
            Event::Changed { component, action, files, count, reason } => {
                self.known.insert(component.clone());
                let kind = if *action == Action::Sync { Kind::Sync } else { Kind::Build };
                let (id, seq) = (self.next_id + 1, self.bump());
                self.next_id = id;
                let list = self.builds.entry(component.clone()).or_default();
                // Watch mode runs one piece of work per component: anything still running here
                // ended without a word (its session restarted).
                for b in list.iter_mut().filter(|b| b.result == Outcome::Running) {
                    b.result = Outcome::Stopped;
                    b.end(now);
                    b.seq = seq;
                }
                list.push_back(Build {
                    id,
                    seq,
                    component: component.clone(),
                    kind,
                    trigger: Trigger {
                        files: files.iter().map(|f| f.display().to_string()).collect(),
                        count: *count,
                        reason: reason.clone(),
                    },
                    started_at: now,
                    ended_at: None,
                    stages: Vec::new(),
                    stage: Some(if kind == Kind::Sync { "sync" } else { "build" }),
                    stage_started_at: Some(now),
                    image: None,
                    digest: None,
                    cached_steps: None,
                    result: Outcome::Running,
                    error: None,
                });
                while list.len() > KEEP {
                    list.pop_front();
                }
                return (kind == Kind::Build).then(|| format!("build {component}"));
            }
            Event::Built { component, image, cached_steps, took } => {
                self.update(component, Kind::Build, |b| {
                    b.stages.push(StageTime { name: "build", ms: took.as_millis() as u64 });
                    b.image = Some(image.clone());
                    b.cached_steps = Some(*cached_steps);
                    b.stage = Some("push");
                    b.stage_started_at = Some(now);
                });
            }
            Event::Delivered { component, reference, .. } => {
                self.update(component, Kind::Build, |b| {
                    b.image = Some(reference.clone());
                    b.digest = digest(reference);
                    b.stage = Some("rollout");
                    b.stage_started_at = Some(now);
                });
            }
            Event::Deployed { component, image, timings, unchanged } => {
                self.update(component, Kind::Build, |b| {
                    let ms = |d: std::time::Duration| d.as_millis() as u64;
                    b.stages = vec![
                        StageTime { name: "detect", ms: ms(timings.detect) },
                        StageTime { name: "build", ms: ms(timings.build) },
                        StageTime { name: "push", ms: ms(timings.push) },
                        StageTime { name: "rollout", ms: ms(timings.rollout) },
                    ];
                    b.image = Some(image.clone());
                    b.digest = digest(image).or(b.digest.take());
                    b.result = if *unchanged { Outcome::Unchanged } else { Outcome::Deployed };
                    b.end(now);
                });
            }
            Event::Synced { component, took, .. } => {
                self.update(component, Kind::Sync, |b| {
                    b.stages.push(StageTime { name: "sync", ms: took.as_millis() as u64 });
                    b.result = Outcome::Synced;
                    b.end(now);
                });
            }
            Event::Failed { component, stage, message, output, running } => {
                let kind = if *stage == Stage::Sync { Kind::Sync } else { Kind::Build };
                self.update(component, kind, |b| {
                    if let Some(since) = b.stage_started_at {
                        b.stages.push(StageTime { name: stage.as_str(), ms: now.saturating_sub(since) });
                    }
                    let skip = output.len().saturating_sub(OUTPUT_LINES);
                    b.error = Some(Failure {
                        stage: *stage,
                        message: message.clone(),
                        output: output[skip..].to_vec(),
                        running: running.clone(),
                    });
                    b.result = Outcome::Failed;
                    b.end(now);
                });
            }
            Event::SyncFallback { component, reason } => {
                self.update(component, Kind::Sync, |b| {
                    b.error = Some(Failure {
                        stage: Stage::Sync,
                        message: reason.clone(),
                        output: Vec::new(),
                        running: None,
                    });
                    b.result = Outcome::Fallback;
                    b.end(now);
                });
            }
            Event::Stopped { .. } => {
                let components = self.sessions.iter().find(|s| s.id == session).map(|s| s.components.clone());
                self.stop(session, &components.unwrap_or_default(), now);
            }
        }
        None
    }

    /// Changes the component's running build (or sync) of `kind`, if there is one.
    fn update(&mut self, component: &str, kind: Kind, change: impl FnOnce(&mut Build)) {
        let seq = self.seq + 1;
        let running = self
            .builds
            .get_mut(component)
            .and_then(|l| l.iter_mut().rev().find(|b| b.kind == kind && b.result == Outcome::Running));
        if let Some(b) = running {
            change(b);
            b.seq = seq;
            self.seq = seq;
        }
    }

    /// Everything (`after: None`), or the builds changed after seq `after`; newest first.
    pub fn view(&self, after: Option<u64>) -> View {
        let mut builds: Vec<Build> =
            self.builds.values().flatten().filter(|b| after.is_none_or(|a| b.seq > a)).cloned().collect();
        builds.sort_by_key(|b| std::cmp::Reverse(b.id));
        let watched: BTreeSet<&String> = self.sessions.iter().flat_map(|s| &s.components).collect();
        View {
            seq: self.seq,
            keep: KEEP,
            components: self
                .known
                .iter()
                .map(|name| ComponentView { name: name.clone(), watched: watched.contains(name) })
                .collect(),
            sessions: self.sessions.clone(),
            builds,
        }
    }
}

impl Build {
    fn end(&mut self, now: u64) {
        self.ended_at = Some(now);
        self.stage = None;
        self.stage_started_at = None;
    }
}

/// `sha256:…` of `repo@sha256:…`.
fn digest(reference: &str) -> Option<String> {
    reference.split_once('@').map(|(_, d)| d.to_owned()).filter(|d| d.starts_with("sha256:"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::watch::event::Timings;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn changed(component: &str, action: Action, files: &[&str], reason: Option<&str>) -> Event {
        Event::Changed {
            component: component.into(),
            action,
            files: files.iter().take(3).map(PathBuf::from).collect(),
            count: files.len(),
            reason: reason.map(Into::into),
        }
    }

    fn deployed(component: &str) -> Event {
        Event::Deployed {
            component: component.into(),
            image: format!("localhost:5001/{component}@{DIGEST}"),
            timings: Timings {
                detect: Duration::from_millis(310),
                build: Duration::from_millis(1900),
                push: Duration::from_millis(400),
                rollout: Duration::from_millis(600),
            },
            unchanged: false,
        }
    }

    fn session(h: &mut History) {
        h.connect(1, vec!["api".into(), "web".into()], 1_000);
    }

    #[test]
    fn a_save_becomes_a_build_with_its_trigger_stages_and_digest() {
        let mut h = History::new(["api".to_owned()]);
        session(&mut h);
        let mark = h.record(1, &changed("api", Action::Rebuild, &["src/a.rs", "src/b.rs", "c", "d"], None), 2_000);
        assert_eq!(mark.as_deref(), Some("build api"), "a rebuild sets a log mark");
        let b = &h.view(None).builds[0];
        assert_eq!((b.result, b.stage, b.started_at), (Outcome::Running, Some("build"), 2_000));
        assert_eq!((b.trigger.files.len(), b.trigger.count), (3, 4));
        let built = Event::Built {
            component: "api".into(),
            image: "localhost:5001/api:sha-0123".into(),
            cached_steps: 3,
            took: Duration::from_millis(1900),
        };
        h.record(1, &built, 3_900);
        let b = &h.view(None).builds[0];
        assert_eq!((b.stage, b.stages.len(), b.cached_steps), (Some("push"), 1, Some(3)));
        let delivered = Event::Delivered {
            component: "api".into(),
            reference: format!("localhost:5001/api@{DIGEST}"),
            layers_pushed: 1,
            layers_existing: 3,
        };
        h.record(1, &delivered, 4_300);
        assert_eq!(h.view(None).builds[0].digest.as_deref(), Some(DIGEST), "known once delivered");
        h.record(1, &deployed("api"), 4_900);
        let b = &h.view(None).builds[0];
        assert_eq!((b.result, b.ended_at, b.stage), (Outcome::Deployed, Some(4_900), None));
        let stages: Vec<_> = b.stages.iter().map(|s| (s.name, s.ms)).collect();
        assert_eq!(stages, [("detect", 310), ("build", 1900), ("push", 400), ("rollout", 600)]);
        assert_eq!(b.digest.as_deref(), Some(DIGEST));
        assert_eq!(b.seq, h.seq(), "each change numbered");
    }

    #[test]
    fn a_failed_build_keeps_its_stage_message_and_output() {
        let mut h = History::default();
        session(&mut h);
        h.record(1, &changed("api", Action::Rebuild, &[], Some("requested from the dashboard")), 1_000);
        let output: Vec<String> = (0..80).map(|i| format!("line {i}")).collect();
        let failed = Event::Failed {
            component: "api".into(),
            stage: Stage::Build,
            message: "returned a non-zero code: 1".into(),
            output,
            running: Some("r/api@sha256:1".into()),
        };
        assert_eq!(h.record(1, &failed, 3_500), None);
        let b = &h.view(None).builds[0];
        assert_eq!(b.result, Outcome::Failed);
        assert_eq!(b.trigger.reason.as_deref(), Some("requested from the dashboard"));
        let e = b.error.as_ref().unwrap();
        assert_eq!((e.stage, e.output.len(), e.output[0].as_str()), (Stage::Build, OUTPUT_LINES, "line 30"));
        assert_eq!(b.stages, [StageTime { name: "build", ms: 2_500 }], "the failed stage's time so far");
        assert_eq!(serde_json::to_value(b).unwrap()["error"]["stage"], "build");
    }

    #[test]
    fn syncs_and_their_fallback_are_their_own_entries() {
        let mut h = History::default();
        session(&mut h);
        assert_eq!(h.record(1, &changed("web", Action::Sync, &["static/a.css"], None), 1_000), None, "no mark");
        h.record(1, &Event::SyncFallback { component: "web".into(), reason: "no running container".into() }, 1_100);
        h.record(
            1,
            &changed("web", Action::Rebuild, &["static/a.css"], Some("sync failed: no running container")),
            1_200,
        );
        h.record(1, &deployed("web"), 3_000);
        h.record(1, &changed("web", Action::Sync, &["static/b.css"], None), 4_000);
        let synced = Event::Synced {
            component: "web".into(),
            files: 1,
            removed: 0,
            targets: vec!["web-1".into()],
            took: Duration::from_millis(120),
            since_save: Duration::from_millis(180),
        };
        h.record(1, &synced, 4_120);
        let got: Vec<_> = h.view(None).builds.iter().map(|b| (b.id, b.kind, b.result)).collect();
        assert_eq!(
            got,
            [(3, Kind::Sync, Outcome::Synced), (2, Kind::Build, Outcome::Deployed), (1, Kind::Sync, Outcome::Fallback)],
            "newest first"
        );
    }

    #[test]
    fn a_client_gets_what_changed_after_its_seq_and_the_cap_drops_the_oldest() {
        let mut h = History::default();
        session(&mut h);
        h.record(1, &changed("api", Action::Rebuild, &["a"], None), 1);
        h.record(1, &changed("web", Action::Rebuild, &["a"], None), 1);
        let seen = h.seq();
        h.record(1, &deployed("api"), 2);
        let delta = h.view(Some(seen));
        assert_eq!(delta.builds.iter().map(|b| b.component.as_str()).collect::<Vec<_>>(), ["api"]);
        assert_eq!(delta.components.len(), 2, "the components and sessions come whole");
        assert!(h.view(Some(h.seq())).builds.is_empty());
        for i in 0..KEEP + 5 {
            h.record(1, &changed("api", Action::Rebuild, &["a"], None), 10 + i as u64);
            h.record(1, &deployed("api"), 11 + i as u64);
        }
        let api: Vec<u64> = h.view(None).builds.iter().filter(|b| b.component == "api").map(|b| b.id).collect();
        assert_eq!(api.len(), KEEP);
        assert_eq!(api[0], h.next_id, "the newest kept");
    }

    #[test]
    fn a_session_that_goes_stops_its_running_builds_and_its_components_are_no_longer_watched() {
        let mut h = History::new(["api".to_owned(), "web".to_owned(), "docs".to_owned()]);
        session(&mut h);
        h.connect(2, vec!["web".into()], 1_000);
        assert_eq!(h.session_of("web"), Some(2), "the newest session");
        assert_eq!(h.session_of("docs"), None);
        h.record(1, &changed("api", Action::Rebuild, &["a"], None), 1_500);
        h.record(1, &changed("web", Action::Rebuild, &["a"], None), 1_500);
        h.disconnect(1, 2_000);
        let v = h.view(None);
        let result = |c: &str| v.builds.iter().find(|b| b.component == c).unwrap().result;
        assert_eq!(result("api"), Outcome::Stopped);
        assert_eq!(result("web"), Outcome::Running, "session 2 still watches web");
        let watched: Vec<_> = v.components.iter().map(|c| (c.name.as_str(), c.watched)).collect();
        assert_eq!(watched, [("api", false), ("docs", false), ("web", true)]);
        h.record(2, &Event::Stopped { reason: "shutdown".into() }, 2_500);
        assert_eq!(h.view(None).builds.iter().find(|b| b.component == "web").unwrap().result, Outcome::Stopped);
    }

    #[test]
    fn events_of_nothing_running_change_nothing() {
        let mut h = History::default();
        let seq = h.seq();
        h.record(1, &deployed("api"), 1);
        h.record(1, &Event::Warning { message: "tight".into() }, 1);
        assert_eq!((h.seq(), h.view(None).builds.len()), (seq, 0));
        assert_eq!(digest("r/api:sha-0123"), None);
        assert_eq!(digest("r/api@sha256:1").as_deref(), Some("sha256:1"));
    }
}
