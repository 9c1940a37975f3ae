//! The test bed's Docker Engine builds from the local base image (nothing is pulled), runs what
//! it built, and the stand-in registry and emulator images start and answer.

use std::time::Duration;

use crate::support::{TestBed, eventually, unique};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;

fn context(dockerfile: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes()).unwrap();
    tar.into_inner().unwrap()
}

struct Container<'a>(&'a Docker, String);

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let docker = self.0.clone();
        let id = self.1.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                let _ = docker
                    .remove_container(&id, Some(RemoveContainerOptionsBuilder::default().force(true).build()))
                    .await;
            })
        })
        .join();
    }
}

#[tokio::test]
async fn builds_from_the_local_base_image_and_runs_it() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let tag = format!("nexus-dev.local/test/{}:1", unique("build"));
    let dockerfile =
        format!("FROM {}\nRUN echo built-here > /built.txt\nCMD [\"cat\", \"/built.txt\"]\n", bed.base_image);
    let opts = BuildImageOptionsBuilder::default().t(&tag).rm(true).pull("false").build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(context(&dockerfile).into())));
    while let Some(item) = stream.next().await {
        let info = item.unwrap_or_else(|e| panic!("build failed: {e}"));
        assert!(info.error_detail.is_none(), "{info:?}");
    }
    let name = unique("run");
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            ContainerCreateBody { image: Some(tag.clone()), ..Default::default() },
        )
        .await
        .unwrap();
    let _guard = Container(&docker, created.id.clone());
    docker.start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>).await.unwrap();
    let exit = docker
        .wait_container(&created.id, Some(WaitContainerOptionsBuilder::default().build()))
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.status_code, 0);
    let logs: Vec<String> = docker
        .logs(&created.id, Some(LogsOptionsBuilder::default().stdout(true).build()))
        .map(|l| l.unwrap().to_string())
        .collect()
        .await;
    assert_eq!(logs.concat().trim(), "built-here");
    drop(_guard);
    let _ = docker.remove_image(&tag, Some(RemoveImageOptionsBuilder::default().force(true).build()), None).await;
}

/// Starts `image` with its container port published on a free loopback port; returns the port.
async fn start(docker: &Docker, image: &str, port: &str) -> (String, u16) {
    let name = unique("standin");
    let host = HostConfig {
        port_bindings: Some(
            [(
                format!("{port}/tcp"),
                Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) }]),
            )]
            .into_iter()
            .collect(),
        ),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            ContainerCreateBody { image: Some(image.to_owned()), host_config: Some(host), ..Default::default() },
        )
        .await
        .unwrap_or_else(|e| panic!("cannot create a container of {image}: {e}"));
    docker.start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>).await.unwrap();
    let info = docker
        .inspect_container(&created.id, None::<bollard::query_parameters::InspectContainerOptions>)
        .await
        .unwrap();
    let bound =
        info.network_settings.and_then(|n| n.ports).and_then(|p| p.get(&format!("{port}/tcp")).cloned().flatten());
    let host_port =
        bound.and_then(|b| b.first().and_then(|b| b.host_port.clone())).and_then(|p| p.parse().ok()).unwrap();
    (created.id, host_port)
}

#[tokio::test]
async fn the_stand_in_registry_and_emulator_images_start_and_answer() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;

    let (registry, port) = start(&docker, &bed.registry_image, "5000").await;
    let _r = Container(&docker, registry);
    let url = format!("http://127.0.0.1:{port}/v2/");
    eventually("the stand-in registry to answer /v2/", Duration::from_secs(30), || async {
        let r = reqwest::get(&url).await.map_err(|e| e.to_string())?;
        if r.status().is_success() { Ok(()) } else { Err(r.status().to_string()) }
    })
    .await;

    let (moto, port) = start(&docker, &bed.moto_image, "5000").await;
    let _m = Container(&docker, moto);
    let endpoint = format!("http://127.0.0.1:{port}");
    eventually("the stand-in emulator to answer", Duration::from_secs(60), || async {
        let r = reqwest::get(format!("{endpoint}/moto-api/")).await.map_err(|e| e.to_string())?;
        if r.status().is_success() { Ok(()) } else { Err(r.status().to_string()) }
    })
    .await;
    let config =
        nexus_dev::provision::aws::sdk_config(&nexus_dev::provision::aws::Target::emulator(&endpoint, "us-east-1"))
            .await;
    let s3 = nexus_dev::provision::aws::s3_client(&config, true);
    s3.create_bucket().bucket("standin-check").send().await.unwrap();
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().iter().any(|b| b.name() == Some("standin-check")));
}
