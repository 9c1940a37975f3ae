//! Delivery without a registry (what `kind load docker-image` does), against the real Docker
//! Engine: a container labelled as a kind node, with a stand-in `ctr` that keeps what it is
//! sent, receives the image archive on stdin of `ctr --namespace=k8s.io images import …`; the
//! exec/stdin plumbing carries every byte, signals EOF, and reports exit codes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::support::watch::{self, Container, Events, Images, Run};
use crate::support::{TestBed, unique};
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures::StreamExt;
use nexus_dev::watch::kind_load::{self, CLUSTER_LABEL, LoadError};
use nexus_dev::watch::{Delivery, Engine, Settings, build, exec};

const FAKE_CTR: &str = r#"#!/bin/sh
# Stand-in for containerd's ctr in a kind node: keeps its arguments and the archive it is sent.
printf '%s\n' "$*" > /tmp/ctr-args
cat > /tmp/import.tar
tar -xOf /tmp/import.tar manifest.json > /tmp/manifest.json || exit 5
echo "unpacking $(wc -c < /tmp/import.tar) bytes"
"#;

async fn node_image(docker: &bollard::Docker, base: &str, repository: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY ctr /usr/local/bin/ctr\nRUN chmod +x /usr/local/bin/ctr\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("ctr"), FAKE_CTR).unwrap();
    let req = build::Request {
        context: dir.path().to_path_buf(),
        dockerfile: PathBuf::from("Dockerfile"),
        target: None,
        build_args: [("BASE_IMAGE".to_owned(), base.to_owned())].into(),
        repository: repository.to_owned(),
    };
    build::build(docker, &req).await.unwrap().tag
}

async fn read(docker: &bollard::Docker, container: &str, path: &str) -> String {
    let cmd = ["cat", path].map(String::from);
    let out = exec::run(docker, container, &cmd, None, exec::no_stdin()).await.unwrap();
    assert!(out.success(), "cat {path}: {out:?}");
    out.output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_registry_the_image_is_imported_into_the_kind_nodes() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let node_repo = format!("nexus-dev.local/{}", unique("kind-node"));
    let _node_images = Images { docker: docker.clone(), repository: node_repo.clone() };
    let node = node_image(&docker, &bed.base_image, &node_repo).await;
    let cluster = unique("kind");
    let (n, _) = Container::run(
        &docker,
        &format!("{cluster}-control-plane"),
        Run {
            image: node,
            cmd: Some(vec!["sleep".into(), "600".into()]),
            labels: HashMap::from([(CLUSTER_LABEL.to_owned(), cluster.clone())]),
            ..Run::default()
        },
    )
    .await;
    assert_eq!(kind_load::nodes(&docker, &cluster).await.unwrap(), vec![n.name.clone()]);

    let repository = format!("nexus-dev.local/{}", unique("kind-api"));
    let _images = Images { docker: docker.clone(), repository: repository.clone() };
    let dir = tempfile::tempdir().unwrap();
    let app = watch::copy_example("api", dir.path());
    let component = watch::component(&app, &repository, &bed.base_image);
    let settings =
        Settings { delivery: Delivery::Kind { cluster: cluster.clone() }, once: true, ..Settings::default() };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let engine = Engine::new(docker.clone(), None, settings, vec![component], tx);
    let summary =
        tokio::time::timeout(Duration::from_secs(180), engine.run(std::future::pending())).await.unwrap().unwrap();
    let mut events = Events::new(rx);
    let deployed = events.wait("the delivery", Duration::from_secs(5), watch::deployed_or_failed).await;
    let image = watch::deployed_image(&deployed);
    assert_eq!(summary.failures, 0);
    assert!(image.starts_with(&format!("{repository}:sha-")), "deployed by content tag: {image}");

    // The node's ctr got kind's command and the whole `docker save` archive of that image.
    assert_eq!(
        read(&docker, &n.name, "/tmp/ctr-args").await.trim(),
        "--namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&docker, &n.name, "/tmp/manifest.json").await).unwrap();
    let id = docker.inspect_image(&image).await.unwrap().id.unwrap();
    let hex = id.trim_start_matches("sha256:");
    assert_eq!(manifest[0]["RepoTags"][0], image);
    assert!(manifest[0]["Config"].as_str().unwrap().contains(hex), "{manifest}");
    // A `docker save` of the same image is exactly as long as what the node received.
    let saved: usize = docker.export_image(&image).map(|c| c.unwrap().len()).fold(0, |a, b| async move { a + b }).await;
    let size =
        exec::run(&docker, &n.name, &["sh", "-c", "wc -c < /tmp/import.tar"].map(String::from), None, exec::no_stdin())
            .await
            .unwrap();
    assert_eq!(size.output.trim(), saved.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_stdin_arrives_whole_then_eof_and_exit_codes_are_read() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let (c, _) = Container::run(
        &docker,
        "exec-stdin",
        Run { image: bed.base_image.clone(), cmd: Some(vec!["sleep".into(), "300".into()]), ..Run::default() },
    )
    .await;

    // 5 MiB in 64 KiB chunks: `cat` only ends (and the exec only returns) on EOF.
    let payload: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        payload.chunks(64 * 1024).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let cmd = ["sh", "-c", "cat > /tmp/blob; wc -c < /tmp/blob"].map(String::from);
    let out = exec::run(&docker, &c.name, &cmd, None, Some(futures::stream::iter(chunks))).await.unwrap();
    assert_eq!((out.exit_code, out.output.trim()), (0, payload.len().to_string().as_str()));
    let archive: Vec<u8> = docker
        .download_from_container(
            &c.name,
            Some(DownloadFromContainerOptionsBuilder::default().path("/tmp/blob").build()),
        )
        .map(|b| b.unwrap().to_vec())
        .concat()
        .await;
    let mut tar = tar::Archive::new(archive.as_slice());
    let mut entry = tar.entries().unwrap().next().unwrap().unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut got).unwrap();
    assert!(got == payload, "the bytes arrived intact");

    // Exit codes come back, and a failing import names the node, the code and the output.
    let cmd = ["sh", "-c", "cat > /dev/null; exit 7"].map(String::from);
    let out = exec::run(&docker, &c.name, &cmd, None, exec::no_stdin()).await.unwrap();
    assert_eq!(out.exit_code, 7);
    let failing = ["sh", "-c", "cat > /dev/null; echo no-space-left >&2; exit 9"].map(String::from);
    let err = kind_load::load(&docker, &bed.base_image, std::slice::from_ref(&c.name), &failing).await.unwrap_err();
    let LoadError::ImportFailed { exit_code, output, node, .. } = &err else { panic!("{err}") };
    assert_eq!((*exit_code, node.as_str()), (9, c.name.as_str()));
    assert!(output.contains("no-space-left"), "{err}");
    assert!(matches!(kind_load::nodes(&docker, &unique("no-such-cluster")).await, Err(LoadError::NoNodes { .. })));
}
