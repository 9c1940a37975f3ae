//! The pure decision over one batch of changed paths: which components it affects, with which
//! files, and whether live sync can carry the change or the image must be rebuilt. No I/O, so
//! every case is a plain unit test (STYLE.md: decide in pure functions).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::filter::Filter;
use super::sync::SyncRule;

/// Changed paths collected over one debounce window.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Absolute paths, each with whether it is (or was) a directory.
    pub paths: BTreeMap<PathBuf, bool>,
    /// The kernel dropped events (inotify queue overflow): what changed is unknown.
    pub rescan: bool,
    /// When the first event of the batch arrived (for the `detect` timing).
    pub first_event: Instant,
}

impl Batch {
    pub fn new(first_event: Instant) -> Self {
        Self { paths: BTreeMap::new(), rescan: false, first_event }
    }
}

/// What a component needs after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Every changed file is covered by a sync rule: copy them into the running containers.
    Sync,
    /// Build a new image (a file outside the sync rules changed, or events were lost).
    Rebuild,
}

/// One component affected by a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Index of the component in the engine's list.
    pub component: usize,
    pub need: Need,
    /// Changed files relative to the component's context, sorted.
    pub files: Vec<PathBuf>,
    pub first_event: Instant,
}

/// What the decision needs to know of a component.
pub struct View<'a> {
    pub filter: &'a Filter,
    pub sync: &'a [SyncRule],
}

/// Maps a batch to the components it affects. A path outside every component affects none; a
/// path inside several (nested or shared contexts) affects each; a component's change is a
/// `Sync` only when every one of its changed files falls under one of its sync rules.
pub fn classify(components: &[View<'_>], batch: &Batch) -> Vec<Change> {
    let mut out = Vec::new();
    for (i, c) in components.iter().enumerate() {
        let files: Vec<PathBuf> =
            batch.paths.iter().filter_map(|(p, is_dir)| c.filter.relevant(p, *is_dir).map(Path::to_path_buf)).collect();
        if files.is_empty() && !batch.rescan {
            continue;
        }
        let all_synced = !files.is_empty() && files.iter().all(|f| super::sync::covered(c.sync, f));
        let need = if all_synced && !batch.rescan { Need::Sync } else { Need::Rebuild };
        out.push(Change { component: i, need, files, first_event: batch.first_event });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::dockerignore::DockerIgnore;

    fn filter(ctx: &str, docker: &str) -> Filter {
        Filter::from_parts(
            Path::new(ctx),
            Path::new("Dockerfile"),
            DockerIgnore::parse(".dockerignore", docker).unwrap(),
            &[],
        )
    }

    fn rule(from: &str, to: &str) -> SyncRule {
        SyncRule { from: PathBuf::from(from), to: to.into() }
    }

    fn batch(paths: &[&str]) -> Batch {
        let mut b = Batch::new(Instant::now());
        for p in paths {
            b.paths.insert(PathBuf::from(p), false);
        }
        b
    }

    fn summary(changes: &[Change]) -> Vec<(usize, Need, usize)> {
        changes.iter().map(|c| (c.component, c.need, c.files.len())).collect()
    }

    struct World {
        api: Filter,
        web: Filter,
        nested: Filter,
        web_sync: Vec<SyncRule>,
    }

    fn world() -> World {
        World {
            api: filter("/p/api", "*.md\n"),
            web: filter("/p/web", ""),
            nested: filter("/p/web/admin", ""),
            web_sync: vec![rule("static", "/app/static"), rule("templates/index.html", "/app/index.html")],
        }
    }

    fn views(w: &World) -> Vec<View<'_>> {
        vec![
            View { filter: &w.api, sync: &[] },
            View { filter: &w.web, sync: &w.web_sync },
            View { filter: &w.nested, sync: &[] },
        ]
    }

    #[test]
    fn a_burst_of_a_thousand_files_is_one_change_per_component() {
        let w = world();
        let paths: Vec<String> = (0..1000).map(|i| format!("/p/api/src/gen/f{i}.sh")).collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let changes = classify(&views(&w), &batch(&refs));
        assert_eq!(summary(&changes), vec![(0, Need::Rebuild, 1000)]);
    }

    #[test]
    fn paths_outside_every_component_or_ignored_change_nothing() {
        let w = world();
        for p in [
            "/p/README.md",
            "/p/apix/src/a",
            "/other/x",
            "/p/api/README.md",
            "/p/api/src/.a.sh.swp",
            "/p/api/src/4913",
            "/p/api/src/a.sh~",
            "/p/api/.git/HEAD",
            "/p/api/tmp.tmp",
        ] {
            assert!(classify(&views(&w), &batch(&[p])).is_empty(), "{p}");
        }
        assert!(classify(&views(&w), &batch(&[])).is_empty());
    }

    #[test]
    fn each_affected_component_gets_only_its_files() {
        let w = world();
        let changes = classify(&views(&w), &batch(&["/p/api/a.sh", "/p/web/b.js", "/p/x/y", "/p/api/c.sh"]));
        assert_eq!(summary(&changes), vec![(0, Need::Rebuild, 2), (1, Need::Rebuild, 1)]);
        assert_eq!(changes[0].files, vec![PathBuf::from("a.sh"), PathBuf::from("c.sh")]);
    }

    #[test]
    fn a_nested_context_affects_both_components() {
        let w = world();
        let changes = classify(&views(&w), &batch(&["/p/web/admin/page.html"]));
        assert_eq!(summary(&changes), vec![(1, Need::Rebuild, 1), (2, Need::Rebuild, 1)]);
        assert_eq!(changes[0].files, vec![PathBuf::from("admin/page.html")]);
        assert_eq!(changes[1].files, vec![PathBuf::from("page.html")]);
    }

    #[test]
    fn files_under_sync_rules_sync_and_anything_else_rebuilds() {
        let w = world();
        let sync = classify(&views(&w), &batch(&["/p/web/static/app.css", "/p/web/templates/index.html"]));
        assert_eq!(summary(&sync), vec![(1, Need::Sync, 2)]);
        let mixed = classify(&views(&w), &batch(&["/p/web/static/app.css", "/p/web/package.json"]));
        assert_eq!(summary(&mixed), vec![(1, Need::Rebuild, 2)]);
        let dockerfile = classify(&views(&w), &batch(&["/p/web/Dockerfile"]));
        assert_eq!(summary(&dockerfile), vec![(1, Need::Rebuild, 1)]);
        let near_miss = classify(&views(&w), &batch(&["/p/web/templates/other.html", "/p/web/staticx/a"]));
        assert_eq!(summary(&near_miss), vec![(1, Need::Rebuild, 2)]);
    }

    #[test]
    fn sync_needs_rules_of_the_component_itself() {
        let w = world();
        // The nested component has no sync rules: the same file rebuilds it while web syncs.
        let mut w2 = w;
        w2.web_sync.push(rule("admin", "/app/admin"));
        let changes = classify(&views(&w2), &batch(&["/p/web/admin/a.css"]));
        assert_eq!(summary(&changes), vec![(1, Need::Sync, 1), (2, Need::Rebuild, 1)]);
    }

    #[test]
    fn lost_events_rebuild_every_component() {
        let w = world();
        let mut b = batch(&["/p/web/static/app.css"]);
        b.rescan = true;
        let changes = classify(&views(&w), &b);
        assert_eq!(summary(&changes), vec![(0, Need::Rebuild, 0), (1, Need::Rebuild, 1), (2, Need::Rebuild, 0)]);
    }

    #[test]
    fn the_dockerignore_itself_rebuilds_even_when_it_excludes_itself() {
        let api = filter("/p/api", ".dockerignore\n");
        let views = vec![View { filter: &api, sync: &[] }];
        assert_eq!(summary(&classify(&views, &batch(&["/p/api/.dockerignore"]))), vec![(0, Need::Rebuild, 1)]);
    }

    #[test]
    fn ignored_directories_are_ignored_as_directories() {
        let api = filter("/p/api", "");
        let views = vec![View { filter: &api, sync: &[] }];
        let mut b = Batch::new(Instant::now());
        b.paths.insert(PathBuf::from("/p/api/node_modules"), true);
        b.paths.insert(PathBuf::from("/p/api/target"), true);
        assert!(classify(&views, &b).is_empty());
        b.paths.insert(PathBuf::from("/p/api/newdir"), true);
        assert_eq!(summary(&classify(&views, &b)), vec![(0, Need::Rebuild, 1)]);
    }
}
