//! The AWS emulator container with the test bed's stand-in moto image: configured from the
//! shipped `local-moto` profile, started, health-waited, reached by name from a peer on its
//! network (as pods on `kind` do), reused, and its lost state detected after a restart or a
//! reset. MiniStack (issue 17) runs from the shipped `local` profile with no token,
//! runs the project's init hooks, offers every service a capability needs, and keeps its state
//! across a restart. The LocalStack container (whose image cannot be pulled here) is created
//! from its spec with a stand-in image and inspected: token, persistence, volume, init hooks,
//! port.

use crate::support::env::{READY, SLEEP, setup};
use crate::support::unique;
use nexus_dev::env::Outcome;
use nexus_dev::env::docker::ContainerSpec;
use nexus_dev::env::emulator::state::{self, Verdict};
use nexus_dev::env::emulator::{self, EmulatorConfig};
use nexus_dev::input::profile;
use nexus_dev::model::profile::Profile;

fn built_in(name: &str) -> Profile {
    profile::built_in(name).unwrap()
}

async fn ssm(endpoint: &str) -> aws_sdk_ssm::Client {
    let config =
        nexus_dev::provision::aws::sdk_config(&nexus_dev::provision::aws::Target::emulator(endpoint, "us-east-1"))
            .await;
    aws_sdk_ssm::Client::new(&config)
}

/// Restarts the emulator's container (SIGTERM, then start) and waits until it answers; its
/// endpoint, whose port is any free one in tests and may change with the restart.
async fn restart(engine: &nexus_dev::env::Engine, cfg: &EmulatorConfig) -> String {
    engine
        .docker()
        .restart_container(&cfg.name, None::<bollard::query_parameters::RestartContainerOptions>)
        .await
        .unwrap();
    engine.wait_healthy(&cfg.name, &cfg.probe(), READY).await.unwrap()
}

#[tokio::test]
async fn moto_runs_is_reached_by_name_and_its_lost_state_is_detected() {
    let (bed, engine, mut cleanup) = setup("moto").await;
    let network = unique("kind");
    cleanup.network(&network);
    engine.ensure_network(&network).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg =
        EmulatorConfig::from_profile(&built_in("local-moto"), dir.path(), Some(bed.moto_image.clone()), |_| None)
            .unwrap()
            .unwrap();
    assert_eq!((cfg.name.as_str(), cfg.host_port), ("nexus-dev-aws", Some(4566)));
    // Unique name and a free port, so that parallel tests (and a real `up`) do not collide.
    cfg.name = unique("aws");
    cfg.host_port = None;
    cfg.attach = vec![network.clone()];

    let up = emulator::ensure(&engine, &cfg).await.unwrap();
    assert_eq!((up.outcome.clone(), up.started.clone()), (Outcome::Created, Outcome::Started));
    assert_eq!(up.connected, std::slice::from_ref(&network));
    let warm = emulator::ensure(&engine, &cfg).await.unwrap();
    assert_eq!((warm.outcome, warm.started), (Outcome::Unchanged, Outcome::Unchanged));

    // A peer on the network reaches the emulator by container name and port, as pods do with
    // `aws.podEndpoint` (http://nexus-dev-aws:5000).
    let peer = unique("pod");
    engine
        .ensure_container(
            &ContainerSpec::new(&peer, &bed.base_image, "test").cmd(SLEEP.iter().copied()).network(&network),
        )
        .await
        .unwrap();
    engine.start(&peer).await.unwrap();
    let script = format!(
        "exec 3<>/dev/tcp/{}/5000 && printf 'GET /moto-api/ HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3 && head -n 1 <&3",
        cfg.name
    );
    let out = engine.exec_ok(&peer, &["bash", "-c", &script], None).await.unwrap();
    assert!(out.stdout.starts_with("HTTP/1.") && out.stdout.contains(" 200"), "{out:?}");

    // Restart detection.
    let client = ssm(&up.endpoint).await;
    let baseline = state::stamp(Some(&engine), &cfg.name, &client).await.unwrap();
    assert_eq!(state::check(Some(&engine), &cfg.name, &client, &baseline).await.unwrap(), Verdict::Intact);

    let endpoint = restart(&engine, &cfg).await;
    let client = ssm(&endpoint).await;
    let verdict = state::check(Some(&engine), &cfg.name, &client, &baseline).await.unwrap();
    let Verdict::StateLost { reason } = &verdict else { panic!("{verdict:?}") };
    assert!(reason.starts_with("the emulator restarted at "), "{reason}");

    let baseline = state::stamp(Some(&engine), &cfg.name, &client).await.unwrap();
    assert_eq!(state::check(Some(&engine), &cfg.name, &client, &baseline).await.unwrap(), Verdict::Intact);
    let reset = reqwest::Client::new().post(format!("{endpoint}/moto-api/reset")).send().await.unwrap();
    assert!(reset.status().is_success());
    assert_eq!(
        state::check(Some(&engine), &cfg.name, &client, &baseline).await.unwrap(),
        Verdict::StateLost { reason: "the emulator's state was reset".into() }
    );

    assert_eq!(emulator::stop(&engine, &cfg.name).await.unwrap(), Outcome::Stopped);
    let verdict = state::check(Some(&engine), &cfg.name, &client, &baseline).await.unwrap();
    assert!(matches!(verdict, Verdict::Down { .. }), "{verdict:?}");

    let purged = emulator::purge(&engine, &cfg.name).await.unwrap();
    assert_eq!(purged.container, Outcome::Removed);
    let verdict = state::check(Some(&engine), &cfg.name, &client, &baseline).await.unwrap();
    assert_eq!(verdict, Verdict::Down { reason: "the emulator container is gone".into() });
}

#[tokio::test]
async fn ministack_runs_without_a_token_runs_the_hooks_and_keeps_its_state_across_a_restart() {
    let (bed, engine, mut cleanup) = setup("ministack").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("localstack")).unwrap();
    // A ready hook, as a project's `localstack/` holds: MiniStack runs it before it is ready.
    let hook = "#!/bin/sh\necho hooked > /tmp/nexus-dev-hook-ran\n";
    std::fs::write(dir.path().join("localstack/01-mark.sh"), hook).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("localstack/01-mark.sh");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let profile = built_in("local");
    let mut cfg = EmulatorConfig::from_profile(&profile, dir.path(), Some(bed.ministack_image.clone()), |_| None)
        .unwrap()
        .unwrap();
    assert!(cfg.auth_token.is_none(), "no token");
    cfg.name = unique("aws");
    cleanup.container(&cfg.name);
    cfg.host_port = None;
    cfg.attach = vec![];
    let volume = unique("aws-data");
    cfg.volume = Some(volume.clone());
    cleanup.volume(&volume);

    let up = emulator::ensure(&engine, &cfg).await.unwrap();
    assert_eq!(up.started, Outcome::Started);
    let ran = engine.exec_ok(&cfg.name, &["cat", "/tmp/nexus-dev-hook-ran"], None).await.unwrap();
    assert_eq!(ran.stdout.trim(), "hooked", "the init hook ran");

    // Its health speaks LocalStack's protocol and lists every service a capability needs.
    let mut at = profile.clone();
    at.aws.endpoint = Some(up.endpoint.clone());
    let mut needed = Vec::new();
    for example in ["nexus-ai-complete", "with-cognito"] {
        let cr = crate::support::fixtures::Spec::example(example).build();
        needed.extend(nexus_dev::model::plan::build(&cr, &profile).aws_services());
    }
    assert!(needed.contains(&"glue") && needed.contains(&"cognito-idp"), "{needed:?}");
    nexus_dev::provision::aws::coverage::check(&at, &needed).await.unwrap();

    // State survives a restart (SIGTERM, then start), as it does a `down` then `up`.
    let client = ssm(&up.endpoint).await;
    let name = format!("/{}/kept", unique("t"));
    client
        .put_parameter()
        .name(&name)
        .value("still here")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let endpoint = restart(&engine, &cfg).await;
    let got = ssm(&endpoint).await.get_parameter().name(&name).send().await.unwrap();
    assert_eq!(got.parameter().and_then(|p| p.value()), Some("still here"));

    let purged = emulator::purge(&engine, &cfg.name).await.unwrap();
    assert_eq!(purged.container, Outcome::Removed);
}

#[tokio::test]
async fn the_localstack_container_is_created_as_specified() {
    let (bed, engine, _cleanup) = setup("localstack").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("localstack")).unwrap();
    std::fs::write(dir.path().join("localstack/01-seed.sh"), "#!/bin/sh\necho seeded\n").unwrap();
    let token = format!("ls-test-{}", unique("tok"));
    let env = |var: &str| (var == "LOCALSTACK_AUTH_TOKEN").then(|| token.clone());
    // LocalStack's image cannot be pulled here: the base image stands in, so the container is
    // created and inspected, not started.
    let mut cfg =
        EmulatorConfig::from_profile(&built_in("local-localstack"), dir.path(), Some(bed.base_image.clone()), env)
            .unwrap()
            .unwrap();
    cfg.name = unique("aws");
    cfg.host_port = None;
    cfg.volume = Some(unique("aws-data"));
    cfg.attach = vec![];
    // The base image has no command of its own.
    let spec = |cfg: &EmulatorConfig| cfg.spec().cmd(SLEEP.iter().copied());
    let ensured = engine.ensure_container(&spec(&cfg)).await.unwrap();
    assert_eq!(ensured.outcome, Outcome::Created);

    let c = engine.inspect_container(&cfg.name).await.unwrap().unwrap();
    let config = c.config.unwrap();
    let env = config.env.unwrap();
    assert!(env.contains(&"PERSISTENCE=1".to_owned()), "{env:?}");
    assert!(env.contains(&format!("LOCALSTACK_AUTH_TOKEN={token}")));
    let labels = config.labels.unwrap();
    assert!(labels.values().all(|v| !v.contains(&token)), "the token is never in labels: {labels:?}");
    assert_eq!(labels["nexus.ai/role"], "emulator");
    let host = c.host_config.unwrap();
    let bindings = host.port_bindings.unwrap();
    assert!(bindings.contains_key("4566/tcp"), "{bindings:?}");
    let mounts = c.mounts.unwrap();
    let hooks = mounts.iter().find(|m| m.destination.as_deref() == Some("/etc/localstack/init/ready.d")).unwrap();
    assert_eq!(hooks.source.as_deref(), Some(dir.path().join("localstack").to_str().unwrap()));
    assert_eq!(hooks.rw, Some(false), "init hooks are mounted read-only");
    let data = mounts.iter().find(|m| m.destination.as_deref() == Some("/var/lib/localstack")).unwrap();
    assert_eq!(data.name.as_deref(), cfg.volume.as_deref());

    // A new token recreates the container and says so, without the value.
    cfg.auth_token = Some(nexus_dev::env::docker::Secret::new("ls-rotated-token"));
    let Outcome::Recreated { reasons } = engine.ensure_container(&spec(&cfg)).await.unwrap().outcome else {
        panic!("a token change recreates")
    };
    assert_eq!(reasons, ["env LOCALSTACK_AUTH_TOKEN changed"]);
}
