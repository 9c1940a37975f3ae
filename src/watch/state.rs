//! The engine's state and its pure decision of what to start next (tilt's `NextTargetToBuild`):
//! changes accumulate per component while it is busy; a component starts one piece of work at a
//! time; sync only when every pending file is covered by a sync rule and the running version is
//! one this session deployed (else the container may lack earlier changes); builds run at most
//! `max_builds` at once (two cores are easily saturated by two builds).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use super::decide::{Change, Need};

/// Changes waiting for a component.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub files: BTreeSet<PathBuf>,
    pub rebuild: bool,
    pub first_event: Instant,
    /// Why, when no file says it (initial build, lost events, a failed sync).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Build,
    Sync,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComponentState {
    pub pending: Option<Pending>,
    pub busy: Option<Work>,
    /// The last build or sync failed, or nothing was deployed yet: only a build helps.
    pub needs_rebuild: bool,
    /// Sync has somewhere to go.
    pub can_sync: bool,
    /// The image this session deployed (what keeps serving when a later build fails).
    pub running: Option<String>,
    /// The local tag of that image (untagged when a newer one replaces it).
    pub tag: Option<String>,
    pub builds: usize,
    pub syncs: usize,
    pub failures: usize,
}

/// Work to start.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    Build { component: usize, files: Vec<PathBuf>, first_event: Instant, reason: Option<String> },
    Sync { component: usize, files: Vec<PathBuf>, first_event: Instant },
}

impl Start {
    pub fn component(&self) -> usize {
        match self {
            Start::Build { component, .. } | Start::Sync { component, .. } => *component,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub components: Vec<ComponentState>,
    pub max_builds: usize,
}

impl State {
    /// `can_sync` per component; with `initial`, every component starts with a build.
    pub fn new(can_sync: &[bool], initial: bool, now: Instant, max_builds: usize) -> Self {
        let components = can_sync
            .iter()
            .map(|&can_sync| ComponentState {
                pending: initial.then(|| Pending {
                    files: BTreeSet::new(),
                    rebuild: true,
                    first_event: now,
                    reason: Some("initial build".into()),
                }),
                busy: None,
                needs_rebuild: true,
                can_sync,
                running: None,
                tag: None,
                builds: 0,
                syncs: 0,
                failures: 0,
            })
            .collect();
        Self { components, max_builds: max_builds.max(1) }
    }

    /// Adds a change to what the component has pending.
    pub fn record(&mut self, change: Change) {
        let Some(c) = self.components.get_mut(change.component) else { return };
        let rebuild = change.need == Need::Rebuild;
        let reason = (change.files.is_empty() && rebuild).then(|| "events were lost (rescan)".to_owned());
        match &mut c.pending {
            Some(p) => {
                p.files.extend(change.files);
                p.rebuild |= rebuild;
                p.reason = p.reason.take().or(reason);
                p.first_event = p.first_event.min(change.first_event);
            }
            None => {
                c.pending = Some(Pending {
                    files: change.files.into_iter().collect(),
                    rebuild,
                    first_event: change.first_event,
                    reason,
                })
            }
        }
    }

    /// Someone asked for a rebuild (the dashboard's Rebuild button, through the daemon): it
    /// waits like any change while the component is busy, and says `reason` when no file does.
    pub fn request(&mut self, i: usize, reason: String, now: Instant) {
        let Some(c) = self.components.get_mut(i) else { return };
        let p = c.pending.get_or_insert_with(|| Pending {
            files: BTreeSet::new(),
            rebuild: true,
            first_event: now,
            reason: None,
        });
        p.rebuild = true;
        p.reason = p.reason.take().or(Some(reason));
    }

    /// What to start now (pure).
    pub fn next(&self) -> Vec<Start> {
        let mut building = self.components.iter().filter(|c| c.busy == Some(Work::Build)).count();
        let mut out = Vec::new();
        for (i, c) in self.components.iter().enumerate() {
            let (None, Some(p)) = (c.busy, &c.pending) else { continue };
            let files: Vec<PathBuf> = p.files.iter().cloned().collect();
            if !p.rebuild && !c.needs_rebuild && c.can_sync && c.running.is_some() {
                out.push(Start::Sync { component: i, files, first_event: p.first_event });
            } else if building < self.max_builds {
                building += 1;
                out.push(Start::Build { component: i, files, first_event: p.first_event, reason: p.reason.clone() });
            }
        }
        out
    }

    /// Marks the work started: its pending changes are now being handled.
    pub fn begin(&mut self, s: &Start) {
        if let Some(c) = self.components.get_mut(s.component()) {
            c.pending = None;
            c.busy = Some(match s {
                Start::Build { .. } => Work::Build,
                Start::Sync { .. } => Work::Sync,
            });
        }
    }

    /// A build ended: deployed `image` (tagged `tag` locally), or failed.
    pub fn built(&mut self, i: usize, result: Option<(String, String)>) {
        let Some(c) = self.components.get_mut(i) else { return };
        c.busy = None;
        c.builds += 1;
        match result {
            Some((image, tag)) => {
                c.running = Some(image);
                c.tag = Some(tag);
                c.needs_rebuild = false;
            }
            None => {
                c.failures += 1;
                c.needs_rebuild = true;
            }
        }
    }

    /// A sync ended. On failure, a rebuild of the same files is queued when `fallback`, else the
    /// next save rebuilds.
    pub fn synced(&mut self, i: usize, ok: bool, fallback: Option<(Vec<PathBuf>, Instant, String)>) {
        let Some(c) = self.components.get_mut(i) else { return };
        c.busy = None;
        c.syncs += 1;
        if ok {
            return;
        }
        c.failures += 1;
        c.needs_rebuild = true;
        if let Some((files, first_event, reason)) = fallback {
            let p = c.pending.get_or_insert_with(|| Pending {
                files: BTreeSet::new(),
                rebuild: true,
                first_event,
                reason: None,
            });
            p.files.extend(files);
            p.rebuild = true;
            p.reason = p.reason.take().or(Some(reason));
            p.first_event = p.first_event.min(first_event);
        }
    }

    /// Nothing pending, nothing running.
    pub fn idle(&self) -> bool {
        self.components.iter().all(|c| c.busy.is_none() && c.pending.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(component: usize, need: Need, files: &[&str]) -> Change {
        Change { component, need, files: files.iter().map(PathBuf::from).collect(), first_event: Instant::now() }
    }

    fn kinds(s: &State) -> Vec<(usize, &'static str)> {
        s.next()
            .iter()
            .map(|w| match w {
                Start::Build { component, .. } => (*component, "build"),
                Start::Sync { component, .. } => (*component, "sync"),
            })
            .collect()
    }

    fn deployed(s: &mut State, i: usize) {
        let start = s.next().into_iter().find(|w| w.component() == i).unwrap();
        s.begin(&start);
        s.built(i, Some((format!("img{i}"), format!("tag{i}"))));
    }

    #[test]
    fn the_initial_build_comes_first_and_then_nothing() {
        let mut s = State::new(&[false, true], true, Instant::now(), 2);
        assert_eq!(kinds(&s), vec![(0, "build"), (1, "build")]);
        deployed(&mut s, 0);
        deployed(&mut s, 1);
        assert!(s.next().is_empty());
        assert!(s.idle());
        let s = State::new(&[false], false, Instant::now(), 2);
        assert!(s.next().is_empty());
    }

    #[test]
    fn changes_during_a_build_wait_and_merge_into_one_next_build() {
        let mut s = State::new(&[false], false, Instant::now(), 2);
        s.record(change(0, Need::Rebuild, &["a"]));
        let start = s.next().remove(0);
        s.begin(&start);
        s.record(change(0, Need::Rebuild, &["b"]));
        s.record(change(0, Need::Rebuild, &["c", "b"]));
        assert!(s.next().is_empty(), "one build at a time per component");
        s.built(0, Some(("i".into(), "t".into())));
        let Start::Build { files, .. } = s.next().remove(0) else { panic!() };
        assert_eq!(files, vec![PathBuf::from("b"), PathBuf::from("c")]);
    }

    #[test]
    fn sync_only_after_a_deploy_and_only_for_synced_files() {
        let mut s = State::new(&[true], false, Instant::now(), 2);
        s.record(change(0, Need::Sync, &["static/a.css"]));
        assert_eq!(kinds(&s), vec![(0, "build")], "nothing deployed this session yet");
        deployed(&mut s, 0);
        s.record(change(0, Need::Sync, &["static/a.css"]));
        assert_eq!(kinds(&s), vec![(0, "sync")]);
        s.record(change(0, Need::Rebuild, &["Dockerfile"]));
        assert_eq!(kinds(&s), vec![(0, "build")], "a rebuild need wins over sync");
    }

    #[test]
    fn a_component_without_sync_targets_rebuilds() {
        let mut s = State::new(&[false], false, Instant::now(), 2);
        deployed_after_change(&mut s);
        s.record(change(0, Need::Sync, &["static/a.css"]));
        assert_eq!(kinds(&s), vec![(0, "build")]);
    }

    fn deployed_after_change(s: &mut State) {
        s.record(change(0, Need::Rebuild, &["x"]));
        deployed(s, 0);
    }

    #[test]
    fn a_failed_build_keeps_the_running_image_and_the_next_save_rebuilds() {
        let mut s = State::new(&[true], false, Instant::now(), 2);
        deployed_after_change(&mut s);
        s.record(change(0, Need::Rebuild, &["Dockerfile"]));
        let start = s.next().remove(0);
        s.begin(&start);
        s.built(0, None);
        assert_eq!(s.components[0].running.as_deref(), Some("img0"));
        assert!(s.next().is_empty(), "no retry loop without a new save");
        s.record(change(0, Need::Sync, &["static/a.css"]));
        assert_eq!(kinds(&s), vec![(0, "build")], "after a failure even a sync-only save rebuilds");
        assert_eq!(s.components[0].failures, 1);
    }

    #[test]
    fn a_failed_sync_falls_back_to_a_rebuild_of_its_files() {
        let mut s = State::new(&[true], false, Instant::now(), 2);
        deployed_after_change(&mut s);
        s.record(change(0, Need::Sync, &["static/a.css"]));
        let start = s.next().remove(0);
        s.begin(&start);
        s.synced(0, false, Some((vec![PathBuf::from("static/a.css")], Instant::now(), "no container".into())));
        let Start::Build { files, reason, .. } = s.next().remove(0) else { panic!() };
        assert_eq!(files, vec![PathBuf::from("static/a.css")]);
        assert_eq!(reason.as_deref(), Some("no container"));
    }

    #[test]
    fn builds_are_limited_but_syncs_are_not() {
        let mut s = State::new(&[true, true, true], false, Instant::now(), 1);
        for i in 0..3 {
            s.record(change(i, Need::Rebuild, &["x"]));
        }
        assert_eq!(kinds(&s), vec![(0, "build")]);
        let start = s.next().remove(0);
        s.begin(&start);
        assert!(s.next().is_empty());
        s.built(0, Some(("i".into(), "t".into())));
        s.record(change(0, Need::Sync, &["s"]));
        assert_eq!(kinds(&s), vec![(0, "sync"), (1, "build")]);
    }

    #[test]
    fn a_requested_rebuild_says_who_asked_and_waits_for_a_busy_component() {
        let mut s = State::new(&[true], false, Instant::now(), 1);
        deployed_after_change(&mut s);
        s.request(0, "requested from the dashboard".into(), Instant::now());
        let Start::Build { files, reason, .. } = s.next().remove(0) else { panic!("a build, not a sync") };
        assert_eq!((files.len(), reason.as_deref()), (0, Some("requested from the dashboard")));
        let start = s.next().remove(0);
        s.begin(&start);
        s.request(0, "requested from the dashboard".into(), Instant::now());
        assert!(s.next().is_empty(), "one build at a time");
        s.built(0, Some(("i".into(), "t".into())));
        assert_eq!(kinds(&s), vec![(0, "build")]);
        s.request(7, "nobody".into(), Instant::now());
    }

    #[test]
    fn lost_events_say_so() {
        let mut s = State::new(&[false], false, Instant::now(), 1);
        s.record(change(0, Need::Rebuild, &[]));
        let Start::Build { reason, .. } = s.next().remove(0) else { panic!() };
        assert_eq!(reason.as_deref(), Some("events were lost (rescan)"));
    }
}
