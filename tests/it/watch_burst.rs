//! Issue #7's watching rules against the real Docker Engine and inotify: a burst of a thousand
//! files is one build; ignored files, editor temporaries and files outside every component are
//! none; an editor's save dance (vim's 4913 probe, backup rename) is exactly one; and the
//! build's own reading of the context triggers nothing.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::watch::{self, Images};
use crate::support::{TestBed, unique};
use nexus_dev::watch::{Delivery, Event, Settings};

fn rebuilds(events: &[Event]) -> Vec<(usize, Vec<PathBuf>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Changed { action: nexus_dev::watch::event::Action::Rebuild, count, files, .. } => {
                Some((*count, files.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_one_build_and_ignored_files_are_none() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let repository = format!("nexus-dev.local/{}", unique("burst"));
    let _images = Images { docker: docker.clone(), repository: repository.clone() };
    let dir = tempfile::tempdir().unwrap();
    let app = watch::copy_example("api", dir.path());
    std::fs::create_dir_all(app.join("gen")).unwrap();
    std::fs::create_dir_all(app.join("node_modules")).unwrap();
    std::fs::create_dir_all(app.join(".git")).unwrap();
    let outside = dir.path().join("other");
    std::fs::create_dir_all(&outside).unwrap();

    let component = watch::component(&app, &repository, &bed.base_image);
    let settings = Settings {
        debounce: Duration::from_millis(300),
        delivery: Delivery::Local,
        initial_build: false,
        ..Settings::default()
    };
    let (mut events, engine) = watch::spawn_engine(docker.clone(), None, settings, vec![component]);
    events.wait("the watcher", Duration::from_secs(10), |e| matches!(e, Event::Watching { .. })).await;

    // A thousand files at once (a `git checkout`): one build, naming the first few.
    for i in 0..1000 {
        std::fs::write(app.join(format!("gen/f{i:04}.txt")), format!("file {i}\n")).unwrap();
    }
    events.wait("the build", Duration::from_secs(120), watch::deployed_or_failed).await;
    // Longer than the debounce: the build reading the context must not look like a change.
    events.quiet(Duration::from_secs(2)).await;
    let r = rebuilds(&events.seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, 1000);
    assert_eq!(r[0].1.len(), 3, "the first few files are named");
    assert!(matches!(events.seen.last(), Some(Event::Deployed { .. })), "{:#?}", events.seen);

    // Ignored: .dockerignore'd, editor temporaries, dependency and VCS trees, outside the context.
    let before = events.seen.len();
    for (path, text) in [
        (app.join("README.md"), "docs"),
        (app.join("debug.log"), "log"),
        (app.join(".server.pl.swp"), "swap"),
        (app.join("server.pl~"), "backup"),
        (app.join(".#server.pl"), "emacs lock"),
        (app.join("#server.pl#"), "emacs autosave"),
        (app.join("4913"), "vim probe"),
        (app.join("scratch.tmp"), "tmp"),
        (app.join("node_modules/left-pad.js"), "dep"),
        (app.join(".git/HEAD"), "ref"),
        (outside.join("elsewhere.txt"), "outside"),
        (dir.path().join("beside.txt"), "outside"),
    ] {
        std::fs::write(&path, text).unwrap();
    }
    std::fs::create_dir_all(app.join("node_modules/pkg/lib")).unwrap();
    std::fs::write(app.join("node_modules/pkg/lib/index.js"), "x").unwrap();
    let nothing = events.quiet(Duration::from_secs(2)).await;
    assert!(nothing.is_empty(), "ignored files trigger nothing: {nothing:?}");
    assert_eq!(events.seen.len(), before);

    // vim's save: probe file, backup by rename, new file, backup removed — one rebuild of server.pl.
    let server = app.join("server.pl");
    let text = std::fs::read_to_string(&server).unwrap();
    std::fs::write(app.join("4913"), "").unwrap();
    std::fs::remove_file(app.join("4913")).unwrap();
    std::fs::rename(&server, app.join("server.pl~")).unwrap();
    std::fs::write(&server, format!("{text}# saved by vim\n")).unwrap();
    std::fs::remove_file(app.join("server.pl~")).unwrap();
    events.wait("the rebuild after the save", Duration::from_secs(120), watch::deployed_or_failed).await;
    events.quiet(Duration::from_secs(1)).await;
    let r = rebuilds(&events.seen);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1], (1, vec![PathBuf::from("server.pl")]));

    let summary = engine.stop().await;
    assert_eq!((summary.builds, summary.failures), (2, 0));
}
