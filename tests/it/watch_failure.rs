//! Issue #7, "failure keeps the old version": a broken Dockerfile is reported with the
//! builder's output, the Deployment stays on the previous digest and keeps serving, nothing is
//! retried until the next save, and the save that fixes it deploys.

use std::time::Duration;

use crate::support::watch::{self, Images, Registry};
use crate::support::{TestBed, TestNamespace, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::PostParams;
use kube::{Api, Client};
use nexus_dev::watch::event::Stage;
use nexus_dev::watch::{Delivery, Deploy, Event, Settings};

/// A Deployment nexus-dev does not manage, as a user (or another tool) made it.
async fn create_deployment(client: &Client, ns: &str) -> Api<Deployment> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": ns},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": "placeholder.invalid/api:0", "ports": [{"containerPort": 8000}]}]}
            }
        }
    }))
    .unwrap();
    api.create(&PostParams { field_manager: Some("watch-test".into()), ..Default::default() }, &d).await.unwrap();
    api
}

fn image_of(d: &Deployment) -> String {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

async fn available(api: &Api<Deployment>, image: &str) -> Deployment {
    eventually(&format!("api to run {image}"), Duration::from_secs(60), || async {
        let d = api.get("api").await.map_err(|e| e.to_string())?;
        match (image_of(&d) == image, nexus_dev::provision::kube::apply::rollout(&d)) {
            (true, nexus_dev::provision::kube::apply::Rollout::Available) => Ok(d),
            (same, r) => Err(format!("image matches: {same}, rollout: {r:?}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_dockerfile_keeps_the_previous_digest_and_the_fix_deploys() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let client = bed.kube().await;
    let ns = TestNamespace::create(&client, "watch-fail").await;
    let registry = Registry::start(&docker, &bed.registry_image).await;
    let repository = format!("{}/api", registry.host());
    let _images = Images { docker: docker.clone(), repository: repository.clone() };
    let deployments = create_deployment(&client, &ns.name).await;

    let dir = tempfile::tempdir().unwrap();
    let app = watch::copy_example("api", dir.path());
    let mut component = watch::component(&app, &repository, &bed.base_image);
    component.deploy = Deploy::Deployment { namespace: ns.name.clone(), name: "api".into(), container: "api".into() };
    let settings = Settings {
        debounce: Duration::from_millis(200),
        delivery: Delivery::Registry,
        rollout_timeout: Duration::from_secs(60),
        ..Settings::default()
    };
    let (mut events, engine) = watch::spawn_engine(docker.clone(), Some(client.clone()), settings, vec![component]);

    let first = events.wait("the initial deploy", Duration::from_secs(180), watch::deployed_or_failed).await;
    let a = watch::deployed_image(&first);
    let d = available(&deployments, &a).await;
    let generation = d.metadata.generation;
    // Only the image is nexus-dev's; everything else stays with whoever made the Deployment.
    let managers: Vec<String> =
        d.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(
        managers.contains(&"nexus-dev-watch".to_owned()) && managers.contains(&"watch-test".to_owned()),
        "{managers:?}"
    );

    // Break the Dockerfile: the build fails with the builder's own output.
    let dockerfile = app.join("Dockerfile");
    let good = std::fs::read_to_string(&dockerfile).unwrap();
    let broken = good.replace("WORKDIR /app\n", "WORKDIR /app\nRUN echo broken-step-output && exit 3\n");
    std::fs::write(&dockerfile, &broken).unwrap();
    let failed = events.wait("the build failure", Duration::from_secs(120), watch::deployed_or_failed).await;
    let Event::Failed { stage, message, output, running, .. } = &failed else {
        panic!("expected a failure, got {failed:?}")
    };
    assert_eq!(*stage, Stage::Build);
    assert!(message.contains("returned a non-zero code: 3"), "{message}");
    assert!(output.iter().any(|l| l.contains("broken-step-output")), "the build output is shown: {output:?}");
    assert_eq!(running.as_deref(), Some(a.as_str()));
    let shown = nexus_dev::watch::event::human(&failed);
    assert!(shown.contains("| broken-step-output") && shown.contains("previous version keeps running"), "{shown}");

    // The Deployment was not touched and keeps serving the previous digest; no retry loop.
    let quiet = events.quiet(Duration::from_secs(2)).await;
    assert!(quiet.is_empty(), "nothing happens until the next save: {quiet:?}");
    let d = deployments.get("api").await.unwrap();
    assert_eq!((image_of(&d), d.metadata.generation), (a.clone(), generation));
    assert_eq!(nexus_dev::provision::kube::apply::rollout(&d), nexus_dev::provision::kube::apply::Rollout::Available);

    // The fix is the next save: it deploys.
    std::fs::write(&dockerfile, good.replace("ENV PORT=8000\n", "ENV PORT=8000 FIXED=1\n")).unwrap();
    let fixed = events.wait("the fixed deploy", Duration::from_secs(180), watch::deployed_or_failed).await;
    let b = watch::deployed_image(&fixed);
    assert_ne!(a, b);
    available(&deployments, &b).await;

    let summary = engine.stop().await;
    assert_eq!((summary.builds, summary.failures), (3, 1));
}
