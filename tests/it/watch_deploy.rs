//! Issue #7 end to end on the test bed: a capability reconciled into the cluster; its backend
//! built from the example app by the real Docker Engine, pushed to the stand-in registry,
//! recorded on the capability and rolled out on the kwok nodes; an edit gives a new digest and a
//! new available ReplicaSet; the reconciler's next pass computes the very same Deployment.

use std::time::Duration;

use crate::support::fixtures::{Spec, testbed_profile};
use crate::support::watch::{self, Images, Registry};
use crate::support::{TestBed, TestNamespace, unique};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use nexus_dev::model::outcome::Outcome;
use nexus_dev::model::plan::BUILT_IMAGE_ANNOTATION;
use nexus_dev::model::project::Tier;
use nexus_dev::model::spec::{DeletionPolicy, NexusAICapability};
use nexus_dev::reconcile::{self, Context};
use nexus_dev::watch::{Delivery, Deploy, Event, Settings};

fn image_of(d: &Deployment) -> String {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

/// The ReplicaSet running `image`, once all its replicas are available.
async fn available_replica_set(client: &Client, ns: &str, image: &str) -> ReplicaSet {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    crate::support::eventually("the new ReplicaSet to be available", Duration::from_secs(60), || async {
        let list = api.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
        let rs = list
            .items
            .into_iter()
            .find(|rs| {
                rs.spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .and_then(|t| t.spec.as_ref())
                    .map(|p| p.containers[0].image.as_deref() == Some(image))
                    == Some(true)
            })
            .ok_or_else(|| format!("no ReplicaSet runs {image}"))?;
        let want = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let available = rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
        if want > 0 && available == want { Ok(rs) } else { Err(format!("{available} of {want} available")) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_file_builds_pushes_and_rolls_out_a_new_digest() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let client = bed.kube().await;
    nexus_dev::provision::kube::install_crd(&client).await.unwrap();
    let ns = TestNamespace::create(&client, "watch-cap").await;
    let registry = Registry::start(&docker, &bed.registry_image).await;
    let repository = format!("{}/api", registry.host());
    let _images = Images { docker: docker.clone(), repository: repository.clone() };

    // A capability, reconciled once: its backend Deployment runs the spec's image.
    let cap = unique("wcap");
    let mut cr = Spec::example("minimal").capability(&cap).deletion_policy(DeletionPolicy::Delete).build();
    cr.metadata.namespace = Some(ns.name.clone());
    let name = cr.metadata.name.clone().unwrap();
    let caps: Api<NexusAICapability> = Api::namespaced(client.clone(), &ns.name);
    let created = caps.create(&PostParams::default(), &cr).await.unwrap();
    let mut profile = testbed_profile(&bed);
    profile.registry = Some(nexus_dev::model::profile::Registry { host: registry.host(), rewrite_images: false });
    let ctx = Context::new(client.clone(), profile.clone());
    reconcile::converge(&created, &ctx).await.unwrap();
    let workload_ns = format!("{cap}-dev");
    let deployment = format!("{cap}-dev-backend");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &workload_ns);
    let before = image_of(&deployments.get(&deployment).await.unwrap());

    // Watch the example app as the capability's backend.
    let dir = tempfile::tempdir().unwrap();
    let app = watch::copy_example("api", dir.path());
    let mut component = watch::component(&app, &repository, &bed.base_image);
    component.deploy = Deploy::Capability {
        namespace: ns.name.clone(),
        name: name.clone(),
        workload: Tier::Backend,
        profile: Box::new(profile.clone()),
    };
    let settings = Settings {
        debounce: Duration::from_millis(200),
        delivery: Delivery::Registry,
        rollout_timeout: Duration::from_secs(90),
        ..Settings::default()
    };
    let (mut events, engine) = watch::spawn_engine(docker.clone(), Some(client.clone()), settings, vec![component]);

    // The initial build: pushed, recorded, rolled out.
    let first = events.wait("the initial deploy", Duration::from_secs(180), watch::deployed_or_failed).await;
    let a = watch::deployed_image(&first);
    assert!(a.starts_with(&format!("{repository}@sha256:")), "{a}");
    assert_ne!(a, before);
    let d = deployments.get(&deployment).await.unwrap();
    assert_eq!(image_of(&d), a);
    available_replica_set(&client, &workload_ns, &a).await;
    let live = caps.get(&name).await.unwrap();
    assert_eq!(live.annotations().get(&format!("{BUILT_IMAGE_ANNOTATION}backend")), Some(&a));

    // A save: a new digest, a new ReplicaSet, available.
    let server = app.join("server.pl");
    let mut text = std::fs::read_to_string(&server).unwrap();
    text.push_str("# edited by the watch test\n");
    std::fs::write(&server, text).unwrap();
    let changed = events.wait("the rebuild", Duration::from_secs(30), |e| matches!(e, Event::Changed { .. })).await;
    let Event::Changed { action, files, count, .. } = changed else { unreachable!() };
    assert_eq!((action, count), (nexus_dev::watch::event::Action::Rebuild, 1));
    assert_eq!(files, vec![std::path::PathBuf::from("server.pl")]);
    let second = events.wait("the redeploy", Duration::from_secs(180), watch::deployed_or_failed).await;
    let b = watch::deployed_image(&second);
    let Event::Deployed { timings, unchanged, .. } = &second else { unreachable!() };
    assert!(!unchanged);
    assert!(timings.build > Duration::ZERO && timings.push > Duration::ZERO && timings.rollout > Duration::ZERO);
    assert!(timings.detect >= Duration::from_millis(200), "the debounce is part of detect: {timings:?}");
    assert_ne!(a, b, "an edit gives a new digest");
    assert!(b.starts_with(&format!("{repository}@sha256:")), "{b}");
    assert!(
        events.seen.iter().any(|e| matches!(e, Event::Delivered { reference, layers_existing, .. } if *reference == b && *layers_existing > 0)),
        "only the changed layers travel the second time: {:#?}",
        events.seen
    );
    let d = deployments.get(&deployment).await.unwrap();
    assert_eq!(image_of(&d), b);
    let rs = available_replica_set(&client, &workload_ns, &b).await;
    assert_eq!(rs.status.unwrap().available_replicas, d.spec.unwrap().replicas);
    let live = caps.get(&name).await.unwrap();
    assert_eq!(live.annotations().get(&format!("{BUILT_IMAGE_ANNOTATION}backend")), Some(&b));

    // The registry serves the manifest the Deployment names.
    let digest = b.rsplit_once('@').unwrap().1;
    let manifest = reqwest::Client::new()
        .get(format!("http://{}/v2/api/manifests/{digest}", registry.host()))
        .header("Accept", "application/vnd.docker.distribution.manifest.v2+json")
        .send()
        .await
        .unwrap();
    assert!(manifest.status().is_success(), "{}", manifest.status());

    // The reconciler computes the same Deployment from the recorded image: nothing to change.
    let generation = deployments.get(&deployment).await.unwrap().metadata.generation;
    let pass = reconcile::converge(&live, &ctx).await.unwrap();
    let report = pass.kubernetes.iter().find(|r| r.name == deployment).unwrap();
    assert_eq!(report.outcome, Outcome::Unchanged, "{report:?}");
    let d = deployments.get(&deployment).await.unwrap();
    assert_eq!((image_of(&d), d.metadata.generation), (b.clone(), generation));

    let summary = engine.stop().await;
    assert_eq!((summary.builds, summary.failures), (2, 0));
    reconcile::cleanup(&live, &ctx).await.unwrap();
}
