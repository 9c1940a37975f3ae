//! `doctor`'s facts gathered on the test bed: the real Docker Engine and its API version, tools
//! found (or not) on a given PATH, host ports free, held by a process, by one of the project's
//! containers or by someone else's, inotify limits, the LocalStack token (set or not, never
//! shown) and the emulator's services (the test bed's moto, and an emulator that is down).

use std::collections::HashMap;

use crate::support::env::{SLEEP, foreign_container, setup};
use crate::support::fixtures::standin_registry;
use crate::support::project::free_port;
use crate::support::unique;
use bollard::models::{HostConfig, PortBinding};
use nexus_dev::env::preflight::{self, Coverage, GatherOptions, PortState, Status, Tool};
use nexus_dev::env::registry::{self};
use nexus_dev::input::profile;
use nexus_dev::model::profile::{Emulator, Profile};

fn built_in(name: &str) -> Profile {
    profile::built_in(name).unwrap()
}

#[tokio::test]
async fn facts_come_from_the_machine_and_checks_follow() {
    let (bed, engine, mut cleanup) = setup("doctor").await;

    // The registry port is published by one of this project's containers; the emulator port
    // is held by a plain listener.
    let cfg = standin_registry(&bed, vec![]);
    let running = registry::ensure(&engine, &cfg).await.unwrap();
    let registry_port = running.container.host_address(5000).unwrap().1;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = listener.local_addr().unwrap().port();

    let mut p = built_in("local-moto");
    p.registry.as_mut().unwrap().host = format!("localhost:{registry_port}");
    p.aws.endpoint = Some(format!("http://localhost:{busy_port}"));
    let tools = tempfile::tempdir().unwrap();
    let inotify = tempfile::tempdir().unwrap();
    std::fs::write(inotify.path().join("max_user_watches"), "8192\n").unwrap();
    std::fs::write(inotify.path().join("max_user_instances"), "1024\n").unwrap();
    let opts = GatherOptions {
        project: engine.project().clone(),
        needed: vec!["s3".into(), "dynamodb".into()],
        path: Some(tools.path().as_os_str().to_owned()),
        inotify_dir: inotify.path().to_owned(),
    };
    let facts = preflight::gather(&p, &opts).await;

    let docker = facts.docker.as_ref().unwrap();
    assert_eq!(docker.api_version, engine.api_version());
    assert_eq!((&facts.kind, &facts.kubectl), (&Tool::Missing, &Tool::Missing));
    assert_eq!(facts.ports.len(), 2);
    assert_eq!(facts.ports[0].state, PortState::Container { name: cfg.name.clone(), ours: true });
    assert!(matches!(facts.ports[1].state, PortState::Busy(_)), "{:?}", facts.ports[1]);
    assert_eq!((facts.inotify_watches, facts.inotify_instances), (Some(8192), Some(1024)));
    assert_eq!(facts.token, None, "moto needs no token");
    assert!(matches!(facts.coverage, Some(Coverage::Unreachable(_))), "{:?}", facts.coverage);

    let checks = preflight::evaluate(&p, &facts);
    let status: HashMap<&str, Status> = checks.iter().map(|c| (c.name.as_str(), c.status)).collect();
    assert_eq!(status["docker"], Status::Ok);
    assert_eq!(status["kind"], Status::Fail, "the profile's cluster is KinD and kind is missing");
    assert_eq!(status["kubectl"], Status::Warn);
    assert_eq!(status[format!("port 127.0.0.1:{registry_port} (registry)").as_str()], Status::Ok);
    assert_eq!(status[format!("port 127.0.0.1:{busy_port} (AWS emulator)").as_str()], Status::Fail);
    assert_eq!(status["inotify watches"], Status::Warn);
    assert_eq!(status["inotify instances"], Status::Ok);
    assert_eq!(status["emulator services"], Status::Warn);
    assert!(preflight::blocks_up(&checks));
    drop(listener);

    // The same port published by someone else's container blocks `up`.
    let foreign = unique("squatter");
    cleanup.container(&foreign);
    let squat = free_port();
    let host = HostConfig {
        port_bindings: Some(HashMap::from([(
            "5000/tcp".to_owned(),
            Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(squat.to_string()) }]),
        )])),
        ..Default::default()
    };
    foreign_container(engine.docker(), &foreign, &bed.base_image, SLEEP, HashMap::new(), Some(host)).await;
    p.registry.as_mut().unwrap().host = format!("localhost:{squat}");
    let facts = preflight::gather(&p, &opts).await;
    assert_eq!(facts.ports[0].state, PortState::Container { name: foreign.clone(), ours: false });
}

#[tokio::test]
async fn tools_on_path_the_token_and_the_emulators_services() {
    let (bed, engine, _cleanup) = setup("doctor2").await;
    let kubectl = std::env::var("NEXUS_TESTBED_KUBECTL").unwrap_or_else(|_| "/usr/bin/kubectl".into());
    let kubectl_dir = std::path::Path::new(&kubectl).parent().unwrap().to_owned();

    // The test bed's moto answers: the services are covered.
    let mut p = built_in("local-moto");
    p.cluster.provider = nexus_dev::model::profile::ClusterProvider::Existing;
    p.cluster.context = Some("nexus-testbed".into());
    p.cluster.config = None;
    p.aws.endpoint = Some(bed.aws_endpoint.clone());
    p.registry = None;
    let mut opts = GatherOptions::new(engine.project().clone(), vec!["s3".into(), "glue".into()]);
    opts.path = Some(kubectl_dir.as_os_str().to_owned());
    let facts = preflight::gather(&p, &opts).await;
    let Tool::Found { version, .. } = &facts.kubectl else { panic!("{:?}", facts.kubectl) };
    assert!(version.starts_with('v'), "{version}");
    assert_eq!(facts.coverage, Some(Coverage::Covered { endpoint: bed.aws_endpoint.clone() }));
    assert!(facts.inotify_watches.is_some(), "read from /proc on Linux");
    let checks = preflight::evaluate(&p, &facts);
    let kind = checks.iter().find(|c| c.name == "kind").unwrap();
    assert_eq!((kind.status, kind.detail.as_str()), (Status::Ok, "not needed (cluster.provider: existing)"));

    // LocalStack: the token variable is checked, its value never shown.
    p.aws.emulator = Some(Emulator::Localstack);
    p.aws.auth_token_env = Some("NEXUS_DEV_TEST_SURELY_UNSET_TOKEN".into());
    let facts = preflight::gather(&p, &opts).await;
    assert_eq!(facts.token, Some(("NEXUS_DEV_TEST_SURELY_UNSET_TOKEN".into(), false)));
    let checks = preflight::evaluate(&p, &facts);
    let token = checks.iter().find(|c| c.name == "emulator token").unwrap();
    assert!(token.blocks());
    // PATH is surely set: it stands in for a token that is.
    p.aws.auth_token_env = Some("PATH".into());
    let facts = preflight::gather(&p, &opts).await;
    assert_eq!(facts.token, Some(("PATH".into(), true)));
    let checks = preflight::evaluate(&p, &facts);
    let shown = format!("{checks:?}");
    assert!(!shown.contains(&std::env::var("PATH").unwrap()), "the value is never shown");
    // moto's server does not speak LocalStack's health API: coverage says so.
    assert!(matches!(facts.coverage, Some(Coverage::Unreachable(_))), "{:?}", facts.coverage);
}
