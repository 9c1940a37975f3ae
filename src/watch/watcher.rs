//! The file watcher: a named thread owning a notify (inotify) watcher and the components'
//! filters. It watches each directory that can matter, one non-recursive watch per directory,
//! so ignored trees (`node_modules`, `target`, `.git`) cost no watches and send no events; it
//! picks up new directories as they appear; it batches events until `debounce` passes without
//! one (a `git checkout` of a thousand files is one batch), then hands the batch's meaning
//! (`decide::classify`) to the engine. Stops when dropped (watchexec's worker shape).

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use notify::event::{EventKind, Flag, ModifyKind, RenameMode};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

use super::decide::{self, Batch, Change, View};
use super::filter::{Filter, FilterError};
use super::preflight::{self, Verdict};
use super::sync::SyncRule;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot start the file watcher: {source}")]
    StartWatcher { source: notify::Error },
    #[error("cannot watch {path}: {source}{hint}")]
    WatchDirectory { path: String, source: notify::Error, hint: String },
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("cannot start the watcher thread: {0}")]
    Spawn(std::io::Error),
}

/// What the watcher tells the engine.
#[derive(Debug)]
pub enum WatchMsg {
    /// The components a batch of changes affects.
    Changes(Vec<Change>),
    /// Something the user should know, the watcher goes on.
    Warning(String),
}

/// How a component's filter is made (kept to rebuild it when its ignore files change).
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub watch: Vec<PathBuf>,
    pub ignore: Vec<String>,
    pub sync: Vec<SyncRule>,
}

struct Component {
    spec: Spec,
    filter: Filter,
    /// Directories holding a nested `.gitignore`.
    gitignores: Vec<PathBuf>,
}

impl Component {
    fn load(spec: Spec) -> Result<Self, FilterError> {
        let filter = Filter::load(&spec.name, &spec.context, &spec.dockerfile, &spec.watch, &spec.ignore)?;
        Ok(Self { spec, filter, gitignores: Vec::new() })
    }

    fn reload(&mut self) -> Result<(), FilterError> {
        let s = &self.spec;
        let mut f = Filter::load(&s.name, &s.context, &s.dockerfile, &s.watch, &s.ignore)?;
        for d in &self.gitignores {
            f.add_gitignore(d)?;
        }
        self.filter = f;
        Ok(())
    }
}

enum Msg {
    Fs(notify::Result<notify::Event>),
    Stop,
}

/// A running watcher; dropping it stops the thread.
pub struct Watcher {
    tx: std_mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Directories watched at start.
    pub directories: usize,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The longest a batch may keep growing: a file written non-stop still rebuilds now and then.
pub fn max_wait(debounce: Duration) -> Duration {
    (debounce * 10).max(Duration::from_secs(5))
}

struct State {
    components: Vec<Component>,
    notify: RecommendedWatcher,
    watched: HashSet<PathBuf>,
    out: UnboundedSender<WatchMsg>,
}

impl State {
    /// Watches `dir` and every directory below it that a component may care about, returning
    /// the files found (they may predate the watch). Nested `.gitignore` files join the filters.
    fn watch_tree(&mut self, dir: &Path, collect_files: bool) -> Result<Vec<PathBuf>, WatchError> {
        let mut files = Vec::new();
        let mut queue = VecDeque::from([dir.to_path_buf()]);
        while let Some(d) = queue.pop_front() {
            if self.watched.contains(&d) || !self.components.iter().any(|c| c.filter.descend(&d)) {
                continue;
            }
            if d.join(".gitignore").is_file() {
                for c in self.components.iter_mut().filter(|c| d.starts_with(c.filter.context())) {
                    c.filter.add_gitignore(&d)?;
                    c.gitignores.push(d.clone());
                }
            }
            match self.notify.watch(&d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(d.clone());
                }
                // Gone again before it could be watched.
                Err(e) if matches!(&e.kind, notify::ErrorKind::PathNotFound) => continue,
                Err(source) => {
                    let hint = match &source.kind {
                        notify::ErrorKind::MaxFilesWatch => {
                            format!("\n  hint: out of inotify watches; {}", preflight::fix(524_288))
                        }
                        _ => String::new(),
                    };
                    return Err(WatchError::WatchDirectory { path: d.display().to_string(), source, hint });
                }
            }
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for e in entries.flatten() {
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir {
                    queue.push_back(e.path());
                } else if collect_files {
                    files.push(e.path());
                }
            }
        }
        Ok(files)
    }

    /// Every directory the components care about, including a Dockerfile's outside the context.
    fn roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = Vec::new();
        for c in &self.components {
            roots.push(c.filter.context().to_path_buf());
        }
        roots
    }

    fn watch_outside_dockerfiles(&mut self) -> Result<(), WatchError> {
        let dirs: Vec<PathBuf> = self
            .components
            .iter()
            .filter(|c| !c.filter.dockerfile().starts_with(c.filter.context()))
            .filter_map(|c| c.filter.dockerfile().parent().map(Path::to_path_buf))
            .collect();
        for d in dirs {
            if self.watched.insert(d.clone()) {
                self.notify.watch(&d, RecursiveMode::NonRecursive).map_err(|source| WatchError::WatchDirectory {
                    path: d.display().to_string(),
                    source,
                    hint: String::new(),
                })?;
            }
        }
        Ok(())
    }

    /// Adds the paths of one event to the batch.
    fn record(&mut self, ev: notify::Event, batch: &mut Batch) {
        if ev.flag() == Some(Flag::Rescan) {
            batch.rescan = true;
            return;
        }
        // Opening and reading files (the build reads the whole context) is no change.
        if matches!(ev.kind, EventKind::Access(_)) {
            return;
        }
        let folder_hint = match ev.kind {
            EventKind::Create(notify::event::CreateKind::Folder)
            | EventKind::Remove(notify::event::RemoveKind::Folder) => Some(true),
            _ => None,
        };
        let removed = matches!(ev.kind, EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)));
        for (i, p) in ev.paths.iter().enumerate() {
            let source_of_rename = matches!(ev.kind, EventKind::Modify(ModifyKind::Name(RenameMode::Both))) && i == 0;
            let gone = removed || source_of_rename;
            let is_dir = folder_hint
                .unwrap_or_else(|| !gone && std::fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false))
                || (gone && self.watched.contains(p));
            if gone && self.watched.remove(p) {
                let _ = self.notify.unwatch(p);
            }
            if is_dir && !gone {
                // A new (or moved-in) directory: watch it and count what it already holds.
                match self.watch_tree(p, true) {
                    Ok(files) => {
                        for f in files {
                            batch.paths.insert(f, false);
                        }
                    }
                    Err(e) => {
                        let _ = self.out.send(WatchMsg::Warning(e.to_string()));
                    }
                }
            }
            batch.paths.insert(p.clone(), is_dir);
        }
    }

    /// Whether any component needs a rebuild for `batch` (rather than a sync, or nothing).
    fn needs_rebuild(&self, batch: &Batch) -> bool {
        if batch.rescan {
            return true;
        }
        let views: Vec<View<'_>> =
            self.components.iter().map(|c| View { filter: &c.filter, sync: &c.spec.sync }).collect();
        decide::classify(&views, batch).iter().any(|c| c.need == decide::Need::Rebuild)
    }

    /// Reloads the filters whose ignore files are in the batch, then classifies it.
    fn flush(&mut self, batch: &Batch) -> Vec<Change> {
        for c in &mut self.components {
            let touched = batch.paths.keys().any(|p| {
                p.starts_with(c.filter.context())
                    && matches!(p.file_name().and_then(|n| n.to_str()), Some(".gitignore" | ".dockerignore"))
            });
            if touched && let Err(e) = c.reload() {
                let _ = self.out.send(WatchMsg::Warning(format!("keeping the old ignore rules: {e}")));
            }
        }
        let views: Vec<View<'_>> =
            self.components.iter().map(|c| View { filter: &c.filter, sync: &c.spec.sync }).collect();
        decide::classify(&views, batch)
    }
}

impl Watcher {
    /// Watches the components' trees; changes arrive on `out`.
    #[tracing::instrument(skip_all, fields(components = specs.len()))]
    pub fn start(specs: Vec<Spec>, debounce: Duration, out: UnboundedSender<WatchMsg>) -> Result<Self, WatchError> {
        let (tx, rx) = std_mpsc::channel::<Msg>();
        let fs_tx = tx.clone();
        let notify = notify::recommended_watcher(move |ev| {
            let _ = fs_tx.send(Msg::Fs(ev));
        })
        .map_err(|source| WatchError::StartWatcher { source })?;
        let components = specs.into_iter().map(Component::load).collect::<Result<Vec<_>, _>>()?;
        let mut state = State { components, notify, watched: HashSet::new(), out: out.clone() };
        for root in state.roots() {
            state.watch_tree(&root, false)?;
        }
        state.watch_outside_dockerfiles()?;
        let directories = state.watched.len();
        if let Some(limit) = preflight::read_limit(Path::new(preflight::MAX_USER_WATCHES)) {
            match preflight::judge(directories as u64, limit) {
                Verdict::Fine => {}
                Verdict::Tight(m) | Verdict::TooLow(m) => {
                    let _ = out.send(WatchMsg::Warning(m));
                }
            }
        }
        let thread = std::thread::Builder::new()
            .name("nexus-dev-watcher".into())
            .spawn(move || run(state, rx, debounce))
            .map_err(WatchError::Spawn)?;
        Ok(Self { tx, thread: Some(thread), directories })
    }
}

/// The quiet time that ends a batch whose every change can be synced: no burst of source files
/// to wait for (those rebuild), and sync latency is what a developer feels on every save.
pub fn sync_debounce(debounce: Duration) -> Duration {
    debounce.min(Duration::from_millis(50))
}

fn run(mut state: State, rx: std_mpsc::Receiver<Msg>, debounce: Duration) {
    let cap = max_wait(debounce);
    let mut batch: Option<Batch> = None;
    // Whether the batch holds a change that needs a rebuild (then the full debounce applies).
    let mut full = false;
    let mut last = Instant::now();
    loop {
        let msg = match &batch {
            None => rx.recv().map_err(|_| std_mpsc::RecvTimeoutError::Disconnected),
            Some(b) => {
                let quiet = if full { debounce } else { sync_debounce(debounce) };
                let due = (last + quiet).min(b.first_event + cap);
                rx.recv_timeout(due.saturating_duration_since(Instant::now()))
            }
        };
        match msg {
            Ok(Msg::Stop) | Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            Ok(Msg::Fs(Ok(ev))) => {
                let now = Instant::now();
                let b = batch.get_or_insert_with(|| Batch::new(now));
                let mut new = Batch::new(b.first_event);
                state.record(ev, &mut new);
                // Classifying each event's own paths keeps a burst linear; once a rebuild is
                // certain nothing more needs checking.
                full = full || state.needs_rebuild(&new);
                b.rescan |= new.rescan;
                b.paths.extend(new.paths);
                last = now;
            }
            Ok(Msg::Fs(Err(e))) => {
                let _ = state.out.send(WatchMsg::Warning(format!("file watcher: {e}")));
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                full = false;
                if let Some(b) = batch.take() {
                    let changes = state.flush(&b);
                    if !changes.is_empty() && state.out.send(WatchMsg::Changes(changes)).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::decide::Need;
    use tokio::sync::mpsc::UnboundedReceiver;

    fn spec(context: &Path) -> Spec {
        Spec {
            name: "api".into(),
            context: context.to_path_buf(),
            dockerfile: PathBuf::from("Dockerfile"),
            watch: Vec::new(),
            ignore: Vec::new(),
            sync: vec![SyncRule { from: PathBuf::from("static"), to: "/srv".into() }],
        }
    }

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let ctx = d.path().canonicalize().unwrap().join("api");
        std::fs::create_dir_all(ctx.join("static")).unwrap();
        std::fs::create_dir_all(ctx.join("node_modules/x")).unwrap();
        std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
        (d, ctx)
    }

    async fn next(rx: &mut UnboundedReceiver<WatchMsg>, within: Duration) -> Option<Vec<Change>> {
        match tokio::time::timeout(within, rx.recv()).await {
            Ok(Some(WatchMsg::Changes(c))) => Some(c),
            Ok(Some(WatchMsg::Warning(w))) => panic!("warning: {w}"),
            Ok(None) | Err(_) => None,
        }
    }

    const DEBOUNCE: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn a_burst_is_one_batch_and_ignored_directories_are_not_watched() {
        let (_d, ctx) = tree();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let w = Watcher::start(vec![spec(&ctx)], DEBOUNCE, tx).unwrap();
        assert_eq!(w.directories, 2, "the context and static/, not node_modules");
        for i in 0..1000 {
            std::fs::write(ctx.join(format!("f{i}")), "x").unwrap();
        }
        let c = next(&mut rx, Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].need, c[0].files.len()), (Need::Rebuild, 1000));
        assert!(next(&mut rx, Duration::from_millis(500)).await.is_none(), "one batch");
        for f in ["node_modules/x/y.js", ".a.swp", "a~", "4913", "b.tmp", ".#c"] {
            std::fs::write(ctx.join(f), "x").unwrap();
        }
        assert!(next(&mut rx, Duration::from_millis(600)).await.is_none());
        drop(w);
        assert!(rx.recv().await.is_none(), "dropping the watcher stops it");
    }

    #[tokio::test]
    async fn new_directories_are_watched_and_their_files_reported() {
        let (_d, ctx) = tree();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = Watcher::start(vec![spec(&ctx)], DEBOUNCE, tx).unwrap();
        std::fs::create_dir_all(ctx.join("static/a/b/c")).unwrap();
        std::fs::write(ctx.join("static/a/b/c/deep.css"), "x").unwrap();
        let c = next(&mut rx, Duration::from_secs(5)).await.unwrap();
        assert_eq!(c[0].need, Need::Sync);
        assert!(c[0].files.contains(&PathBuf::from("static/a/b/c/deep.css")), "{:?}", c[0].files);
        std::fs::write(ctx.join("static/a/b/c/later.css"), "x").unwrap();
        let c = next(&mut rx, Duration::from_secs(5)).await.unwrap();
        assert_eq!(c[0].files, vec![PathBuf::from("static/a/b/c/later.css")]);
        std::fs::remove_dir_all(ctx.join("static/a")).unwrap();
        let c = next(&mut rx, Duration::from_secs(5)).await.unwrap();
        assert!(c[0].files.contains(&PathBuf::from("static/a")), "{:?}", c[0].files);
    }

    #[tokio::test]
    async fn changed_ignore_files_apply_to_the_next_batch() {
        let (_d, ctx) = tree();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = Watcher::start(vec![spec(&ctx)], DEBOUNCE, tx).unwrap();
        std::fs::write(ctx.join(".dockerignore"), "*.md\n").unwrap();
        let c = next(&mut rx, Duration::from_secs(5)).await.unwrap();
        assert_eq!(c[0].files, vec![PathBuf::from(".dockerignore")]);
        std::fs::write(ctx.join("notes.md"), "x").unwrap();
        assert!(next(&mut rx, Duration::from_millis(600)).await.is_none());
        std::fs::write(ctx.join(".gitignore"), "generated/\n").unwrap();
        next(&mut rx, Duration::from_secs(5)).await.unwrap();
        std::fs::create_dir_all(ctx.join("generated")).unwrap();
        std::fs::write(ctx.join("generated/x"), "x").unwrap();
        assert!(next(&mut rx, Duration::from_millis(600)).await.is_none());
    }

    #[test]
    fn batches_are_capped_for_files_written_non_stop() {
        assert_eq!(max_wait(Duration::from_millis(300)), Duration::from_secs(5));
        assert_eq!(max_wait(Duration::from_secs(1)), Duration::from_secs(10));
        assert_eq!(sync_debounce(Duration::from_millis(300)), Duration::from_millis(50));
        assert_eq!(sync_debounce(Duration::from_millis(20)), Duration::from_millis(20));
    }
}
