//! The local registry container with the test bed's stand-in registry image: started and
//! health-waited on `GET /v2/`, reused by a second ensure, attached to a network standing in for
//! `kind`, its data kept by `down` (stop, or remove without volumes) and removed by the purge.

use std::time::Duration;

use crate::support::env::setup;
use crate::support::fixtures::standin_registry;
use crate::support::unique;
use nexus_dev::env::Outcome;
use nexus_dev::env::registry::{self, RegistryConfig, RegistryImage};

/// A blob and its digest (`sha256sum` of the bytes).
const BLOB: &[u8] = b"nexus-dev persistence check\n";
const DIGEST: &str = "sha256:13bc75f1d7cb4dac5c53e434c6f17e9b96bdb701438f0dabd0421afe610b7ee8";

async fn push_blob(endpoint: &str) {
    let client = reqwest::Client::new();
    let started = client.post(format!("{endpoint}/v2/nexus-test/blobs/uploads/")).send().await.unwrap();
    assert_eq!(started.status(), 202, "{:?}", started.text().await);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let location = if location.starts_with('/') { format!("{endpoint}{location}") } else { location };
    let sep = if location.contains('?') { '&' } else { '?' };
    let done = client.put(format!("{location}{sep}digest={DIGEST}")).body(BLOB).send().await.unwrap();
    assert_eq!(done.status(), 201, "{:?}", done.text().await);
}

async fn has_blob(endpoint: &str) -> bool {
    let r = reqwest::Client::new().head(format!("{endpoint}/v2/nexus-test/blobs/{DIGEST}")).send().await.unwrap();
    r.status() == 200
}

#[tokio::test]
async fn the_registry_starts_is_reused_keeps_its_data_and_is_purged() {
    let (bed, engine, mut cleanup) = setup("registry").await;
    let network = unique("kind");
    cleanup.network(&network);
    engine.ensure_network(&network).await.unwrap();
    let cfg = standin_registry(&bed, vec![network.clone()]);

    let up = registry::ensure(&engine, &cfg).await.unwrap();
    assert_eq!((up.outcome.clone(), up.started.clone()), (Outcome::Created, Outcome::Started));
    assert_eq!(up.connected, std::slice::from_ref(&network));
    assert!(up.container.networks.contains(&network));
    assert_eq!(reqwest::get(format!("{}/v2/", up.endpoint)).await.unwrap().status(), 200);
    let inspected = engine.inspect_container(&cfg.name).await.unwrap().unwrap();
    let host = inspected.host_config.unwrap();
    assert_eq!(host.restart_policy.unwrap().name.unwrap().to_string(), "always");
    push_blob(&up.endpoint).await;
    assert!(has_blob(&up.endpoint).await);

    // Warm: nothing changes.
    let warm = registry::ensure(&engine, &cfg).await.unwrap();
    assert_eq!((warm.outcome, warm.started, warm.connected.len()), (Outcome::Unchanged, Outcome::Unchanged, 0));
    assert_eq!(warm.container.id, up.container.id);

    // `down` stops it; the next `up` starts the same container, data intact.
    assert_eq!(registry::stop(&engine, &cfg.name).await.unwrap(), Outcome::Stopped);
    let again = registry::ensure(&engine, &cfg).await.unwrap();
    assert_eq!((again.outcome, again.started.clone()), (Outcome::Unchanged, Outcome::Started));
    assert!(has_blob(&again.endpoint).await);

    // The container removed but its volume kept: a new container finds the data.
    let removal = engine.remove(&cfg.name, false).await.unwrap();
    assert_eq!(removal.volumes_kept, std::slice::from_ref(&cfg.volume));
    let recreated = registry::ensure(&engine, &cfg).await.unwrap();
    assert_eq!(recreated.outcome, Outcome::Created);
    assert!(has_blob(&recreated.endpoint).await, "registry data survives in its volume");

    // `down --purge`: container and data gone; a fresh registry is empty.
    let purged = registry::purge(&engine, &cfg.name).await.unwrap();
    assert_eq!(purged.container, Outcome::Removed);
    assert_eq!(purged.volumes_removed, std::slice::from_ref(&cfg.volume));
    assert!(!engine.volume_exists(&cfg.volume).await.unwrap());
    let fresh = registry::ensure(&engine, &cfg).await.unwrap();
    assert!(!has_blob(&fresh.endpoint).await, "purged data is gone");
    assert_eq!(registry::purge(&engine, &cfg.name).await.unwrap().volumes_removed, std::slice::from_ref(&cfg.volume));
    assert_eq!(registry::purge(&engine, &cfg.name).await.unwrap().container, Outcome::NotFound);
}

#[tokio::test]
async fn a_registry_that_cannot_start_fails_with_its_logs() {
    let (bed, engine, _cleanup) = setup("regfail").await;
    let cfg = RegistryConfig {
        name: unique("registry"),
        // The base image has no registry: the entrypoint runs and exits.
        image: RegistryImage { reference: bed.base_image.clone(), data_dir: "/var/lib/registry".into() },
        host: "localhost:5001".into(),
        host_ip: "127.0.0.1".into(),
        host_port: None,
        volume: unique("registry-data"),
        attach: vec![],
        ready_timeout: Duration::from_secs(30),
    };
    let err = registry::ensure(&engine, &cfg).await.unwrap_err().to_string();
    assert!(err.contains(&format!("the local registry {} is not ready", cfg.name)), "{err}");
    // `--restart=always` turns the exit into a restart loop: reported at once (as exited or as
    // restarting, depending on the moment), not after the timeout.
    assert!(err.contains("stopped while starting (") && err.contains("exit code 0)"), "{err}");
}
