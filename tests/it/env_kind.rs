//! The KinD path, as far as it runs without KinD (privileged containers fail here): containers
//! of the base image labelled as KinD labels its nodes stand in for nodes, so the registry
//! wiring (hosts.toml through Docker exec, `docker network connect`), the ownership marker and
//! the create/delete steps run for real, with the `kind` CLI scripted (its exact commands are
//! asserted) or replaced by a script on PATH; the KEP-1755 ConfigMap is applied to the test
//! bed's API server.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::support::env::{SLEEP, foreign_container, setup};
use crate::support::fixtures::standin_registry;
use crate::support::unique;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::DeleteParams;
use nexus_dev::env::Outcome;
use nexus_dev::env::kind::command::{Command, Output};
use nexus_dev::env::kind::wiring::{self, LocalRegistryHosting, NODE_CLUSTER_LABEL, NODE_ROLE_LABEL};
use nexus_dev::env::kind::{self, KindCli, KindError, Runner};
use nexus_dev::env::registry::{self};

/// A `kind` that records its invocations and answers `get clusters` from a list.
#[derive(Default)]
struct FakeKind {
    ran: Mutex<Vec<String>>,
    clusters: Mutex<VecDeque<String>>,
}

impl Runner for &FakeKind {
    async fn run(&self, command: &Command) -> Result<Output, std::io::Error> {
        self.ran.lock().unwrap().push(command.to_string());
        let stdout = if command.args == ["get", "clusters"] {
            self.clusters.lock().unwrap().pop_front().unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Output { code: Some(0), stdout, stderr: String::new() })
    }
}

/// Starts a stand-in node of KinD cluster `cluster`.
async fn node(docker: &bollard::Docker, image: &str, cluster: &str, role: &str) -> String {
    let name = format!("{cluster}-{role}");
    let labels = HashMap::from([
        (NODE_CLUSTER_LABEL.to_owned(), cluster.to_owned()),
        (NODE_ROLE_LABEL.to_owned(), role.to_owned()),
    ]);
    foreign_container(docker, &name, image, SLEEP, labels, None).await;
    name
}

#[tokio::test]
async fn hosts_toml_is_written_into_every_node_once() {
    let (bed, engine, mut cleanup) = setup("wire").await;
    let cluster = unique("kc");
    let docker = engine.docker().clone();
    let cp = node(&docker, &bed.base_image, &cluster, "control-plane").await;
    let worker = node(&docker, &bed.base_image, &cluster, "worker").await;
    cleanup.container(&cp);
    cleanup.container(&worker);

    let done = wiring::wire_nodes(&engine, &cluster, "localhost:5001", "nexus-dev-registry:5000").await.unwrap();
    assert_eq!(done, [(cp.clone(), Outcome::Created), (worker.clone(), Outcome::Created)]);
    for n in [&cp, &worker] {
        let out = engine.exec_ok(n, &["cat", "/etc/containerd/certs.d/localhost:5001/hosts.toml"], None).await.unwrap();
        assert_eq!(out.stdout, "[host.\"http://nexus-dev-registry:5000\"]\n");
    }
    let again = wiring::wire_nodes(&engine, &cluster, "localhost:5001", "nexus-dev-registry:5000").await.unwrap();
    assert!(again.iter().all(|(_, o)| *o == Outcome::Unchanged), "{again:?}");
    // A changed registry address is rewritten.
    let moved = wiring::write_hosts_toml(&engine, &cp, "localhost:5001", "other-registry:5000").await.unwrap();
    assert_eq!(moved, Outcome::Created);

    let err = wiring::wire_nodes(&engine, &unique("nocluster"), "localhost:5001", "r:5000").await.unwrap_err();
    assert!(matches!(err, KindError::NoNodes { .. }), "{err}");
}

#[tokio::test]
async fn the_registry_joins_the_kind_network_once() {
    let (bed, engine, mut cleanup) = setup("joinkind").await;
    let network = unique("kind");
    cleanup.network(&network);
    engine.ensure_network(&network).await.unwrap();
    let cluster = unique("kc");
    let docker = engine.docker().clone();
    let cp = node(&docker, &bed.base_image, &cluster, "control-plane").await;
    cleanup.container(&cp);
    docker
        .connect_network(
            &network,
            bollard::models::NetworkConnectRequest { container: cp.clone(), endpoint_config: None },
        )
        .await
        .unwrap();
    let cfg = standin_registry(&bed, vec![]);
    registry::ensure(&engine, &cfg).await.unwrap();
    let wired = kind::wire_registry(&engine, &cluster, &cfg, &network).await.unwrap();
    assert_eq!(wired.network, Outcome::Connected);
    assert_eq!(wired.nodes, [(cp.clone(), Outcome::Created)]);
    let again = kind::wire_registry(&engine, &cluster, &cfg, &network).await.unwrap();
    assert_eq!(again.network, Outcome::Unchanged);
    assert_eq!(again.nodes, [(cp.clone(), Outcome::Unchanged)]);
    // The node resolves the registry by the name hosts.toml uses.
    let out = engine.exec_ok(&cp, &["getent", "hosts", &cfg.name], None).await.unwrap();
    assert!(out.stdout.contains(&cfg.name), "{out:?}");
}

#[tokio::test]
async fn clusters_are_created_once_marked_and_deleted_only_when_ours() {
    let (bed, engine, mut cleanup) = setup("cluster").await;
    let cluster = unique("kc");
    let docker = engine.docker().clone();
    let state = tempfile::tempdir().unwrap();
    let fake = FakeKind::default();
    let cli = KindCli::new("/opt/kind/bin/kind", &fake);
    let config = kind::config::render(
        &kind::config::load(&nexus_dev::input::profile::resolve("local", Path::new("/")).unwrap().profile, None)
            .unwrap(),
        &cluster,
    )
    .unwrap();

    // No cluster yet: `kind create` runs. The stand-in node plays the node it would make.
    fake.clusters.lock().unwrap().push_back(String::new());
    let cp = node(&docker, &bed.base_image, &cluster, "control-plane").await;
    cleanup.container(&cp);
    let created = kind::ensure_cluster(&cli, &engine, &cluster, &config, None, state.path(), None).await.unwrap();
    assert_eq!(created, Outcome::Created);
    let written = state.path().join(format!("kind-{cluster}.yaml"));
    assert_eq!(
        *fake.ran.lock().unwrap(),
        [
            "kind get clusters".to_owned(),
            format!("kind create cluster --name {cluster} --config {} --wait 60s", written.display()),
        ]
    );
    assert_eq!(std::fs::read_to_string(&written).unwrap(), config);
    let marker = engine.exec_ok(&cp, &["cat", wiring::OWNER_FILE], None).await.unwrap();
    assert_eq!(marker.stdout.trim(), engine.project().as_str());

    // It exists: reused, nothing else runs.
    fake.ran.lock().unwrap().clear();
    fake.clusters.lock().unwrap().push_back(format!("kind\n{cluster}\n"));
    assert_eq!(
        kind::ensure_cluster(&cli, &engine, &cluster, &config, None, state.path(), None).await.unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(*fake.ran.lock().unwrap(), ["kind get clusters"]);

    // Someone else's cluster (no marker): refused, `kind delete` never runs.
    let theirs = unique("kc");
    let their_node = node(&docker, &bed.base_image, &theirs, "control-plane").await;
    cleanup.container(&their_node);
    fake.ran.lock().unwrap().clear();
    fake.clusters.lock().unwrap().push_back(format!("{theirs}\n"));
    let err = kind::delete_cluster(&cli, &engine, &theirs, None).await.unwrap_err();
    assert!(matches!(err, KindError::NotOurs { .. }), "{err}");
    assert!(err.to_string().contains(&format!("kind delete cluster --name {theirs}")), "the hint names the command");
    assert_eq!(*fake.ran.lock().unwrap(), ["kind get clusters"]);

    // Ours: deleted.
    fake.ran.lock().unwrap().clear();
    fake.clusters.lock().unwrap().push_back(format!("{theirs}\n{cluster}\n"));
    assert_eq!(kind::delete_cluster(&cli, &engine, &cluster, None).await.unwrap(), Outcome::Removed);
    assert_eq!(
        *fake.ran.lock().unwrap(),
        ["kind get clusters".to_owned(), format!("kind delete cluster --name {cluster}")]
    );

    // Gone: nothing to do.
    fake.ran.lock().unwrap().clear();
    fake.clusters.lock().unwrap().push_back(String::new());
    assert_eq!(kind::delete_cluster(&cli, &engine, &cluster, None).await.unwrap(), Outcome::NotFound);
}

#[tokio::test]
async fn the_real_process_runner_runs_kind_from_path_and_a_missing_kind_is_doctors_message() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("args.log");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {}\ncase \"$*\" in\n  'get clusters') echo nexus-dev ;;\n  'version') echo 'kind v0.27.0 go1.23.4 linux/amd64' ;;\n  'create cluster'*) echo 'ERROR: failed to create cluster: node(s) already exist' >&2; exit 1 ;;\nesac\n",
        log.display()
    );
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("kind"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("kind"), std::fs::Permissions::from_mode(0o755)).unwrap();

    let cli = KindCli::locate_in(bin.as_os_str()).unwrap();
    assert_eq!(cli.clusters().await.unwrap(), ["nexus-dev"]);
    assert_eq!(cli.version().await.unwrap(), "v0.27.0");
    let err = cli.create("nexus-dev", Path::new("/tmp/c.yaml"), Duration::from_secs(60), None, None).await.unwrap_err();
    assert!(err.to_string().contains("node(s) already exist"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "get clusters\nversion\ncreate cluster --name nexus-dev --config /tmp/c.yaml --wait 60s\n"
    );

    let empty = tempfile::tempdir().unwrap();
    let err = KindCli::locate_in(empty.path().as_os_str()).unwrap_err().to_string();
    assert_eq!(err, format!("`kind` is not installed (not found on PATH)\n  fix: {}", kind::INSTALL_HINT));
}

#[tokio::test]
async fn the_local_registry_hosting_config_map_is_applied_to_the_api_server() {
    let bed = crate::support::TestBed::from_env();
    let client = bed.kube().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), wiring::HOSTING_NAMESPACE);
    let _ = api.delete(wiring::HOSTING_NAME, &DeleteParams::default()).await;
    let hosting = LocalRegistryHosting::new("localhost:5001", "nexus-dev-registry:5000");

    assert_eq!(wiring::apply_local_registry_hosting(&client, &hosting).await.unwrap(), Outcome::Created);
    let version = api.get(wiring::HOSTING_NAME).await.unwrap().metadata.resource_version;
    assert_eq!(wiring::apply_local_registry_hosting(&client, &hosting).await.unwrap(), Outcome::Unchanged);
    let cm = api.get(wiring::HOSTING_NAME).await.unwrap();
    assert_eq!(cm.metadata.resource_version, version, "no write when unchanged");
    let value: serde_yaml::Value = serde_yaml::from_str(&cm.data.unwrap()[wiring::HOSTING_KEY]).unwrap();
    assert_eq!(value["host"], "localhost:5001");
    assert_eq!(value["hostFromClusterNetwork"], "nexus-dev-registry:5000");
    assert_eq!(cm.metadata.labels.unwrap()["app.kubernetes.io/managed-by"], "nexus-dev");

    let moved = LocalRegistryHosting::new("localhost:5002", "nexus-dev-registry:5000");
    assert_eq!(wiring::apply_local_registry_hosting(&client, &moved).await.unwrap(), Outcome::Updated);
    let value = api.get(wiring::HOSTING_NAME).await.unwrap().data.unwrap()[wiring::HOSTING_KEY].clone();
    assert!(value.contains("localhost:5002"), "{value}");
    api.delete(wiring::HOSTING_NAME, &DeleteParams::default()).await.unwrap();
}
