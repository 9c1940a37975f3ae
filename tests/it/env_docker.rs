//! The Docker layer against the test bed's real Docker Engine: ensure (create, reuse, recreate
//! on a config change), start, health-wait, network attach, stop, remove with volumes kept or
//! removed, purge, and never touching containers nexus-dev did not create.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::env::{READY, SLEEP, foreign_container, running, setup};
use crate::support::unique;
use nexus_dev::env::docker::{ContainerSpec, DockerError, Outcome, Probe, Secret};
use nexus_dev::env::owner::{MANAGED_BY_KEY, PROJECT_KEY};

fn sleeper(name: &str, image: &str) -> ContainerSpec {
    ContainerSpec::new(name, image, "test").cmd(SLEEP.iter().copied())
}

#[tokio::test]
async fn the_api_version_is_negotiated_with_the_engine() {
    let (_bed, engine, _cleanup) = setup("ver").await;
    let raw = engine.docker().version().await.unwrap();
    assert_eq!(engine.api_version(), raw.api_version.unwrap());
    assert!(!engine.engine_version().is_empty());
    // bollard's default (1.53) is above what the test bed's Engine speaks (1.41): negotiated down.
    let client = engine.docker().client_version();
    assert_eq!(format!("{}.{}", client.major_version, client.minor_version), engine.api_version());
}

#[tokio::test]
async fn ensure_reuses_then_start_stop_and_remove_keep_or_drop_the_volume() {
    let (bed, engine, _cleanup) = setup("life").await;
    let name = unique("life");
    let volume = format!("{name}-data");
    let spec = sleeper(&name, &bed.base_image).volume(&volume, "/data").env("MODE", "test");

    let first = engine.ensure_container(&spec).await.unwrap();
    assert_eq!(first.outcome, Outcome::Created);
    assert!(!first.container.running);
    let again = engine.ensure_container(&spec).await.unwrap();
    assert_eq!(again.outcome, Outcome::Unchanged, "a second ensure changes nothing");
    assert_eq!(again.container.id, first.container.id);

    assert_eq!(engine.start(&name).await.unwrap(), Outcome::Started);
    assert_eq!(engine.start(&name).await.unwrap(), Outcome::Unchanged);
    engine.exec_ok(&name, &["sh", "-c", "echo kept > /data/file"], None).await.unwrap();

    let owned = engine.list_owned().await.unwrap();
    assert_eq!(owned.containers.len(), 1);
    assert_eq!((owned.containers[0].name.as_str(), owned.containers[0].state.as_str()), (name.as_str(), "running"));
    assert_eq!(owned.containers[0].role, "test");
    assert_eq!(owned.volumes, std::slice::from_ref(&volume));

    assert_eq!(engine.stop(&name).await.unwrap(), Outcome::Stopped);
    assert_eq!(engine.stop(&name).await.unwrap(), Outcome::Unchanged);
    assert_eq!(running(engine.docker(), &name).await, Some(false));

    // `down`: the container goes, the data stays.
    let removal = engine.remove(&name, false).await.unwrap();
    assert_eq!(removal.container, Outcome::Removed);
    assert_eq!(removal.volumes_kept, std::slice::from_ref(&volume));
    assert!(engine.volume_exists(&volume).await.unwrap());
    assert_eq!(engine.ensure_container(&spec).await.unwrap().outcome, Outcome::Created);
    engine.start(&name).await.unwrap();
    let out = engine.exec_ok(&name, &["cat", "/data/file"], None).await.unwrap();
    assert_eq!(out.stdout, "kept\n", "the volume kept its data across a remove without volumes");

    // `down --purge`: the data goes too.
    let removal = engine.remove(&name, true).await.unwrap();
    assert_eq!(removal.volumes_removed, std::slice::from_ref(&volume));
    assert!(!engine.volume_exists(&volume).await.unwrap());
    assert_eq!(engine.remove(&name, true).await.unwrap().container, Outcome::NotFound);
    assert_eq!(engine.stop(&name).await.unwrap(), Outcome::NotFound);
    assert_eq!(engine.list_owned().await.unwrap(), Default::default());

    // A volume another container still mounts survives the purge of the first one.
    let (a, b) = (unique("a"), unique("b"));
    let shared = format!("{a}-shared");
    engine.ensure_container(&sleeper(&a, &bed.base_image).volume(&shared, "/s")).await.unwrap();
    engine.ensure_container(&sleeper(&b, &bed.base_image).volume(&shared, "/s")).await.unwrap();
    assert_eq!(engine.remove(&a, true).await.unwrap().volumes_kept, std::slice::from_ref(&shared));
    assert_eq!(engine.remove(&b, true).await.unwrap().volumes_removed, std::slice::from_ref(&shared));
}

#[tokio::test]
async fn a_changed_configuration_recreates_the_container_and_says_why() {
    let (bed, engine, mut cleanup) = setup("recreate").await;
    let name = unique("recreate");
    let (net_a, net_b) = (unique("net"), unique("net"));
    cleanup.network(&net_a);
    cleanup.network(&net_b);
    assert_eq!(engine.ensure_network(&net_a).await.unwrap(), Outcome::Created);
    assert_eq!(engine.ensure_network(&net_a).await.unwrap(), Outcome::Unchanged);
    engine.ensure_network(&net_b).await.unwrap();

    let base = sleeper(&name, &bed.base_image)
        .env("A", "1")
        .secret_env("TOKEN", Secret::new("first-secret"))
        .port(5000, "127.0.0.1", None)
        .network(&net_a);
    let mut id = engine.ensure_container(&base).await.unwrap().container.id;
    engine.start(&name).await.unwrap();

    let changes: Vec<(ContainerSpec, &str)> = vec![
        (base.clone().env("A", "2"), "env A changed"),
        (base.clone().secret_env("TOKEN", Secret::new("second-secret")), "env TOKEN changed"),
        (ContainerSpec { image: bed.registry_image.clone(), ..base.clone() }, "image "),
        (base.clone().port(5001, "127.0.0.1", None), "ports "),
        (base.clone().network(&net_b), "network "),
        (base.clone().volume(format!("{name}-v"), "/v"), "volumes "),
        (base.clone().restart(nexus_dev::env::docker::Restart::Always), "restart policy no → always"),
    ];
    for (changed, expected) in changes {
        let ensured = engine.ensure_container(&changed).await.unwrap();
        let Outcome::Recreated { reasons } = &ensured.outcome else {
            panic!("expected a recreate for {changed:?}, got {:?}", ensured.outcome)
        };
        assert!(reasons.iter().any(|r| r.starts_with(expected)), "want {expected:?} in {reasons:?}");
        let text = reasons.join("; ");
        assert!(!text.contains("secret"), "reasons never show secret values: {text}");
        assert_ne!(ensured.container.id, id, "a new container");
        assert_eq!(engine.ensure_container(&changed).await.unwrap().outcome, Outcome::Unchanged);
        // Each change is against `base`: put it back, which is a change again.
        assert!(matches!(engine.ensure_container(&base).await.unwrap().outcome, Outcome::Recreated { .. }));
        id = engine.container_info(&name).await.unwrap().unwrap().id;
    }
    // The token reached the container (Docker's own view), but no label carries it.
    let inspected = engine.inspect_container(&name).await.unwrap().unwrap();
    let config = inspected.config.unwrap();
    assert!(config.env.unwrap().contains(&"TOKEN=first-secret".to_owned()));
    let labels = config.labels.unwrap();
    assert!(labels.values().all(|v| !v.contains("secret")), "{labels:?}");
    assert_eq!(labels["nexus.ai/env-keys"], "A,TOKEN");
}

#[tokio::test]
async fn containers_volumes_and_networks_not_ours_are_never_touched() {
    let (bed, engine, mut cleanup) = setup("foreign").await;
    let docker = engine.docker().clone();
    let foreign = unique("foreign");
    cleanup.container(&foreign);
    foreign_container(&docker, &foreign, &bed.base_image, SLEEP, HashMap::new(), None).await;
    // Same name as one of ours would have, and only half of our labels: still not ours.
    let half = unique("half");
    cleanup.container(&half);
    let half_labels = HashMap::from([(MANAGED_BY_KEY.to_owned(), "nexus-dev".to_owned())]);
    foreign_container(&docker, &half, &bed.base_image, SLEEP, half_labels, None).await;
    let other = unique("other");
    cleanup.container(&other);
    let other_labels = HashMap::from([
        (MANAGED_BY_KEY.to_owned(), "nexus-dev".to_owned()),
        (PROJECT_KEY.to_owned(), "some-other-project".to_owned()),
    ]);
    foreign_container(&docker, &other, &bed.base_image, SLEEP, other_labels, None).await;

    for name in [&foreign, &half] {
        let spec = sleeper(name, &bed.base_image);
        assert!(matches!(engine.ensure_container(&spec).await, Err(DockerError::NotOurs { .. })));
        assert!(matches!(engine.start(name).await, Err(DockerError::NotOurs { .. })));
        assert!(matches!(engine.stop(name).await, Err(DockerError::NotOurs { .. })));
        assert!(matches!(engine.remove(name, true).await, Err(DockerError::NotOurs { .. })));
        let err = engine.connect_network(name, "bridge").await.unwrap_err();
        assert!(err.to_string().contains("was not created by nexus-dev"), "{err}");
    }
    let err = engine.remove(&other, true).await.unwrap_err();
    assert!(matches!(err, DockerError::OtherProject { ref project, .. } if project == "some-other-project"), "{err}");
    assert!(err.to_string().contains("run `nexus-dev down` in that project"), "{err}");
    assert!(matches!(engine.stop(&other).await, Err(DockerError::OtherProject { .. })));

    // A volume and a network someone else made: usable, never removed.
    let volume = unique("vol");
    cleanup.volume(&volume);
    docker
        .create_volume(bollard::models::VolumeCreateRequest { name: Some(volume.clone()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(engine.ensure_volume(&volume).await.unwrap(), Outcome::Unchanged);
    assert!(matches!(engine.remove_volume(&volume).await, Err(DockerError::NotOurs { .. })));
    let network = unique("net");
    cleanup.network(&network);
    docker
        .create_network(bollard::models::NetworkCreateRequest { name: network.clone(), ..Default::default() })
        .await
        .unwrap();
    assert!(matches!(engine.remove_network(&network).await, Err(DockerError::NotOurs { .. })));

    // Purging this project leaves all of them alone.
    let mine = unique("mine");
    engine.ensure_container(&sleeper(&mine, &bed.base_image).volume(format!("{mine}-d"), "/d")).await.unwrap();
    let purged = engine.purge_owned().await.unwrap();
    let purged: Vec<&str> = purged.iter().map(|(what, _)| what.as_str()).collect();
    assert_eq!(purged, [format!("container {mine}"), format!("volume {mine}-d")]);
    for name in [&foreign, &half, &other] {
        assert_eq!(running(&docker, name).await, Some(true), "{name} still runs");
    }
    assert!(engine.volume_exists(&volume).await.unwrap());
    assert!(docker.inspect_network(&network, None::<bollard::query_parameters::InspectNetworkOptions>).await.is_ok());
}

#[tokio::test]
async fn networks_are_attached_once_and_peers_reach_the_container_by_name() {
    let (bed, engine, mut cleanup) = setup("attach").await;
    let network = unique("kindnet");
    cleanup.network(&network);
    engine.ensure_network(&network).await.unwrap();
    let name = unique("svc");
    let spec = sleeper(&name, &bed.base_image).attach(&network);
    let first = engine.ensure_container(&spec).await.unwrap();
    assert_eq!(first.connected, std::slice::from_ref(&network));
    assert!(first.container.networks.contains(&network));
    let again = engine.ensure_container(&spec).await.unwrap();
    assert_eq!((again.outcome, again.connected.len()), (Outcome::Unchanged, 0));
    assert_eq!(engine.connect_network(&name, &network).await.unwrap(), Outcome::Unchanged);
    engine.start(&name).await.unwrap();

    // A peer on that network (as a KinD node is on `kind`) resolves the container by name.
    let peer = unique("peer");
    engine.ensure_container(&sleeper(&peer, &bed.base_image).network(&network)).await.unwrap();
    engine.start(&peer).await.unwrap();
    let out = engine.exec_ok(&peer, &["getent", "hosts", &name], None).await.unwrap();
    assert!(out.stdout.contains(&name), "{out:?}");
    assert!(matches!(engine.connect_network(&unique("nosuch"), &network).await, Err(DockerError::Missing { .. })));
}

#[tokio::test]
async fn health_waits_fail_with_the_last_error_and_the_logs() {
    let (bed, engine, _cleanup) = setup("health").await;
    // Listens nowhere: the wait times out, naming the probe's last error and the logs.
    let silent = unique("silent");
    let spec = ContainerSpec::new(&silent, &bed.base_image, "test")
        .cmd(["sh", "-c", "echo booting; echo 'fatal: no auth token' >&2; trap 'exit 0' TERM; sleep infinity & wait"])
        .port(5000, "127.0.0.1", None);
    engine.ensure_container(&spec).await.unwrap();
    engine.start(&silent).await.unwrap();
    let started = std::time::Instant::now();
    let err = engine.wait_healthy(&silent, &Probe::http(5000, "/health"), Duration::from_secs(2)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "bounded: {:?}", started.elapsed());
    let DockerError::Unhealthy { last_error, logs, .. } = &err else { panic!("{err}") };
    assert!(last_error.starts_with("GET http://127.0.0.1:"), "{last_error}");
    assert!(logs.0.iter().any(|l| l.contains("fatal: no auth token")), "{err}");
    assert!(err.to_string().contains("booting"), "{err}");

    // Exits while starting: fails at once with the exit code and the logs.
    let dying = unique("dying");
    let spec = ContainerSpec::new(&dying, &bed.base_image, "test")
        .cmd(["sh", "-c", "echo 'cannot bind'; exit 3"])
        .port(5000, "127.0.0.1", None);
    engine.ensure_container(&spec).await.unwrap();
    engine.start(&dying).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = engine.wait_healthy(&dying, &Probe::http(5000, "/"), Duration::from_secs(30)).await.unwrap_err();
    let DockerError::Exited { state, logs, .. } = &err else { panic!("{err}") };
    assert!(state.contains("exit code 3"), "{state}");
    assert_eq!(logs.0, ["cannot bind"]);

    // A real service answers: the stand-in registry.
    let registry = unique("reg");
    let spec = ContainerSpec::new(&registry, &bed.registry_image, "test").port(5000, "127.0.0.1", None);
    engine.ensure_container(&spec).await.unwrap();
    engine.start(&registry).await.unwrap();
    let url = engine.wait_healthy(&registry, &Probe::http(5000, "/v2/"), READY).await.unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with("/v2/"), "{url}");
    assert_eq!(reqwest::get(format!("{url}/v2/")).await.unwrap().status(), 200);
}

/// A build context holding only `Dockerfile` and `hello`.
fn tiny_context() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, body) in [("Dockerfile", "FROM scratch\nCOPY hello /hello\n"), ("hello", "hello\n")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap()
}

#[tokio::test]
async fn a_missing_image_is_pulled_and_a_bad_reference_fails_clearly() {
    use bollard::query_parameters::{BuildImageOptionsBuilder, PushImageOptionsBuilder, RemoveImageOptionsBuilder};
    use futures::StreamExt;

    let (bed, engine, _cleanup) = setup("pull").await;
    let docker = engine.docker().clone();
    // A registry on a loopback port, which the Engine may pull from without TLS.
    let registry = unique("reg");
    let spec = ContainerSpec::new(&registry, &bed.registry_image, "test").port(5000, "127.0.0.1", None);
    engine.ensure_container(&spec).await.unwrap();
    engine.start(&registry).await.unwrap();
    let url = engine.wait_healthy(&registry, &Probe::http(5000, "/v2/"), READY).await.unwrap();
    let host = url.trim_start_matches("http://");
    let repo = format!("{host}/nexus-test/tiny");
    let tag = unique("t");
    let reference = format!("{repo}:{tag}");

    let opts = BuildImageOptionsBuilder::default().t(&reference).rm(true).pull("false").build();
    let mut build = docker.build_image(opts, None, Some(bollard::body_full(tiny_context().into())));
    while let Some(item) = build.next().await {
        let info = item.unwrap();
        assert!(info.error_detail.is_none(), "{info:?}");
    }
    let mut push = docker.push_image(&repo, Some(PushImageOptionsBuilder::default().tag(&tag).build()), None);
    while let Some(item) = push.next().await {
        let info = item.unwrap();
        assert!(info.error_detail.is_none(), "{info:?}");
    }
    docker
        .remove_image(&reference, Some(RemoveImageOptionsBuilder::default().force(true).build()), None)
        .await
        .unwrap();
    assert!(docker.inspect_image(&reference).await.is_err(), "the image is gone from the Engine");

    let name = unique("pulled");
    let ensured =
        engine.ensure_container(&ContainerSpec::new(&name, &reference, "test").cmd(["/hello"])).await.unwrap();
    assert_eq!(ensured.outcome, Outcome::Created);
    assert_eq!(ensured.container.image, reference);
    assert!(docker.inspect_image(&reference).await.is_ok(), "pulled");

    let missing = format!("{repo}:{}", unique("nosuchtag"));
    let err = engine.ensure_image(&missing).await.unwrap_err();
    assert!(matches!(err, DockerError::PullImage { .. }), "{err}");
    assert!(err.to_string().contains(&missing), "{err}");
    engine.remove(&name, false).await.unwrap();
    let _ = docker.remove_image(&reference, Some(RemoveImageOptionsBuilder::default().force(true).build()), None).await;
}
