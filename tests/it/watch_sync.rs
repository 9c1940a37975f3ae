//! Issue #7's live sync into a real running container (a Docker container stands in for the
//! pod: kwok pods run no processes). A save under a sync rule is copied in without a rebuild and
//! the afterSync command runs; the running server serves the new file; a deletion is removed
//! there; a save outside the sync rules rebuilds.

use std::time::Duration;

use crate::support::watch::{self, Container, Images, Run};
use crate::support::{TestBed, eventually, unique};
use nexus_dev::model::project::SyncRule as ProjectRule;
use nexus_dev::watch::exec;
use nexus_dev::watch::sync::SyncRule;
use nexus_dev::watch::{Delivery, Event, Settings, SyncTo};

async fn cat(docker: &bollard::Docker, container: &str, path: &str) -> exec::Output {
    let cmd = ["cat", path].map(String::from);
    exec::run(docker, container, &cmd, None, exec::no_stdin()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_under_sync_rules_are_copied_into_the_running_container() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let repository = format!("nexus-dev.local/{}", unique("sync"));
    let _images = Images { docker: docker.clone(), repository: repository.clone() };
    let dir = tempfile::tempdir().unwrap();
    let app = watch::copy_example("api", dir.path());
    let container_name = unique("pod-standin");

    let mut component = watch::component(&app, &repository, &bed.base_image);
    component.sync = vec![SyncRule::of(&ProjectRule { from: "static".into(), to: "/tmp/static".into() })];
    component.after_sync =
        ["sh", "-c", "date +%s%N > /tmp/synced-at; id -u >> /tmp/synced-at"].map(String::from).to_vec();
    component.sync_to = SyncTo::Docker { docker: docker.clone(), containers: vec![container_name.clone()] };
    let settings = Settings { debounce: Duration::from_millis(100), delivery: Delivery::Local, ..Settings::default() };
    let (mut events, engine) = watch::spawn_engine(docker.clone(), None, settings, vec![component]);

    // The version this session built runs in a container (as the pod would).
    let first = events.wait("the initial build", Duration::from_secs(180), watch::deployed_or_failed).await;
    let image = watch::deployed_image(&first);
    assert!(image.starts_with(&format!("{repository}:sha-")), "{image}");
    let (pod, port) = Container::run(
        &docker,
        "standin",
        Run { name: Some(container_name.clone()), image: image.clone(), publish: Some(8000), ..Run::default() },
    )
    .await;
    let url = format!("http://127.0.0.1:{}/index.html", port.unwrap());
    let original = eventually("the server to answer", Duration::from_secs(20), || async {
        reqwest::get(&url).await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())
    })
    .await;
    assert!(original.contains("Hello from the example api"), "{original}");

    // A save under the sync rule: synced, afterSync run, no rebuild.
    std::fs::write(app.join("static/index.html"), "<h1>synced live</h1>\n").unwrap();
    std::fs::create_dir_all(app.join("static/css")).unwrap();
    std::fs::write(app.join("static/css/app.css"), "body { color: teal }\n").unwrap();
    let synced = events
        .wait("the sync", Duration::from_secs(30), |e| {
            matches!(e, Event::Synced { .. } | Event::Failed { .. } | Event::SyncFallback { .. })
        })
        .await;
    let Event::Synced { files, targets, took, since_save, .. } = &synced else {
        panic!("expected a sync, got {synced:?}")
    };
    assert!(*files >= 2, "{synced:?}");
    assert_eq!(targets, &vec![format!("container {container_name}")]);
    eprintln!("sync took {took:?}, {since_save:?} after the save (debounce 100 ms)");
    assert_eq!(cat(&docker, &container_name, "/tmp/static/index.html").await.output, "<h1>synced live</h1>\n");
    assert_eq!(cat(&docker, &container_name, "/tmp/static/css/app.css").await.output, "body { color: teal }\n");
    let marker = cat(&docker, &container_name, "/tmp/synced-at").await;
    assert!(marker.success(), "afterSync ran: {marker:?}");
    assert_eq!(marker.output.lines().nth(1), Some("1000"), "afterSync runs as the container's user");
    let served = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert_eq!(served, "<h1>synced live</h1>\n", "the running server serves the synced file");
    assert!(
        !events.seen.iter().any(|e| matches!(e, Event::Changed { action: nexus_dev::watch::event::Action::Rebuild, files, .. } if !files.is_empty())),
        "no rebuild for synced files: {:#?}",
        events.seen
    );

    // A deletion under the sync rule is removed in the container.
    std::fs::remove_file(app.join("static/css/app.css")).unwrap();
    let removed = events
        .wait("the removal", Duration::from_secs(30), |e| {
            matches!(e, Event::Synced { .. } | Event::Failed { .. } | Event::SyncFallback { .. })
        })
        .await;
    assert!(matches!(removed, Event::Synced { removed: 1, .. }), "{removed:?}");
    assert!(!cat(&docker, &container_name, "/tmp/static/css/app.css").await.success());

    // A file outside the sync rules falls back to a rebuild.
    let server = app.join("server.pl");
    let text = std::fs::read_to_string(&server).unwrap();
    std::fs::write(&server, format!("{text}# not synced\n")).unwrap();
    let changed = events.wait("the rebuild", Duration::from_secs(30), |e| matches!(e, Event::Changed { .. })).await;
    assert!(
        matches!(changed, Event::Changed { action: nexus_dev::watch::event::Action::Rebuild, count: 1, .. }),
        "{changed:?}"
    );
    events.wait("the rebuilt image", Duration::from_secs(180), watch::deployed_or_failed).await;

    let summary = engine.stop().await;
    assert_eq!((summary.builds, summary.syncs, summary.failures), (2, 2, 0));
    drop(pod);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_after_sync_command_is_reported_with_its_output() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let (pod, _) = Container::run(
        &docker,
        "standin",
        Run { image: bed.base_image.clone(), cmd: Some(vec!["sleep".into(), "300".into()]), ..Run::default() },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let app = watch::copy_example("api", dir.path());
    let mut component = watch::component(&app, "nexus-dev.local/unused", &bed.base_image);
    component.sync = vec![SyncRule::of(&ProjectRule { from: "static".into(), to: "/srv/static".into() })];
    component.after_sync = ["sh", "-c", "echo reload-failed >&2; exit 4"].map(String::from).to_vec();
    component.sync_to = SyncTo::Docker { docker: docker.clone(), containers: vec![pod.name.clone()] };
    std::fs::write(app.join("static/index.html"), "new").unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let shared = std::sync::Arc::new(nexus_dev::watch::worker::Shared {
        docker: docker.clone(),
        kube: None,
        delivery: Delivery::Local,
        rollout_timeout: Duration::from_secs(1),
        events: tx,
    });
    let result = nexus_dev::watch::worker::sync(
        shared,
        std::sync::Arc::new(component),
        vec!["static/index.html".into()],
        std::time::Instant::now(),
    )
    .await;
    let Err(nexus_dev::watch::worker::SyncFailure::Failed(f)) = result else { panic!("{result:?}") };
    assert!(f.message.contains("exit 4") && f.message.contains("reload-failed"), "{}", f.message);
    assert_eq!(cat(&docker, &pod.name, "/srv/static/index.html").await.output, "new", "the files were copied");
    assert!(rx.try_recv().is_err(), "no synced event for a failed sync");
}
