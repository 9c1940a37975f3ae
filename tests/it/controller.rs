//! Issue #5 on the test bed's control plane and emulator: the controller takes a capability to
//! Running through the seed's phases, rolls out updates, heals what is deleted by hand, deletes
//! per deletionPolicy behind its finalizer, survives being killed at twenty points, and
//! `verify` tells a healthy capability from a broken one.

use std::sync::Arc;
use std::time::Duration;

use crate::emulators;
use crate::support::Emulator;
use crate::support::fixtures::{Spec, testbed_profile};
use crate::support::{TestBed, TestNamespace, eventually, unique};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use nexus_dev::model::spec::{DeletionPolicy, NexusAICapability, Phase};
use nexus_dev::provision::aws::{Clients, Ctx, Target};
use nexus_dev::reconcile::Context;
use rstest_reuse::apply;
use tokio::task::JoinHandle;

struct Harness {
    bed: TestBed,
    client: Client,
    ns: TestNamespace,
}

async fn harness(prefix: &str, emulator: Emulator) -> Harness {
    let bed = TestBed::on(emulator);
    let client = bed.kube().await;
    nexus_dev::provision::kube::install_crd(&client).await.unwrap();
    let ns = TestNamespace::create(&client, prefix).await;
    Harness { bed, client, ns }
}

impl Harness {
    fn context(&self) -> Arc<Context> {
        Context::new(self.client.clone(), testbed_profile(&self.bed))
            .with(Duration::from_secs(2), Duration::from_millis(500))
    }

    /// Starts a controller over the test's namespace; aborting the handle kills it mid-flight.
    fn start(&self) -> JoinHandle<()> {
        self.start_with(self.context())
    }

    fn start_with(&self, ctx: Arc<Context>) -> JoinHandle<()> {
        let ns = self.ns.name.clone();
        tokio::spawn(
            async move { nexus_dev::reconcile::controller::run_in(ctx, Some(&ns), std::future::pending()).await },
        )
    }

    /// Creates a capability of the minimal example under a controller with `ctx` and waits
    /// until it is Running; returns its capabilityName, object name and the controller.
    async fn running_minimal(&self, prefix: &str, ctx: Arc<Context>) -> (String, String, JoinHandle<()>) {
        let (cap, cr) = capability("minimal", prefix);
        let name = cr.metadata.name.clone().unwrap();
        let ctl = self.start_with(ctx);
        self.create(cr).await;
        self.phase(&name, Phase::Running, Duration::from_secs(90)).await;
        (cap, name, ctl)
    }

    fn api(&self) -> Api<NexusAICapability> {
        Api::namespaced(self.client.clone(), &self.ns.name)
    }

    async fn create(&self, mut cr: NexusAICapability) -> NexusAICapability {
        cr.metadata.namespace = Some(self.ns.name.clone());
        self.api().create(&PostParams::default(), &cr).await.unwrap()
    }

    async fn phase(&self, name: &str, want: Phase, within: Duration) -> NexusAICapability {
        let api = self.api();
        eventually(&format!("{name} to be {want}"), within, || async {
            let cr = api.get(name).await.map_err(|e| e.to_string())?;
            let st = cr.status.clone().unwrap_or_default();
            if st.phase == Some(want) && st.observed_generation == cr.metadata.generation {
                Ok(cr)
            } else {
                Err(format!("{:?} {:?}", st.phase, st.message))
            }
        })
        .await
    }

    async fn aws(&self, region: &str) -> Ctx {
        Ctx::new(Clients::connect(&Target::emulator(&self.bed.aws_endpoint, region)).await, self.bed.account())
    }
}

fn capability(example: &str, prefix: &str) -> (String, NexusAICapability) {
    let cap = unique(prefix);
    let cr = Spec::example(example).capability(&cap).build();
    (cap, cr)
}

async fn deployment_available(client: &Client, ns: &str, name: &str) -> Result<Deployment, String> {
    let d = Api::<Deployment>::namespaced(client.clone(), ns).get(name).await.map_err(|e| e.to_string())?;
    match nexus_dev::provision::kube::apply::rollout(&d) {
        nexus_dev::provision::kube::apply::Rollout::Available => Ok(d),
        other => Err(format!("{other:?}")),
    }
}

/// Deletes the capability and waits until the controller's cleanup lets it go.
async fn delete_and_wait(h: &Harness, name: &str) {
    h.api().delete(name, &DeleteParams::default()).await.unwrap();
    let api = h.api();
    eventually("the capability to be gone", Duration::from_secs(60), || async {
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(cr) => Err(format!("still there: {:?}", cr.status.and_then(|s| s.message))),
        }
    })
    .await;
}

#[apply(emulators)]
#[tokio::test]
async fn reaches_running_through_the_seed_phases_with_seed_names_and_hardening(#[case] emulator: Emulator) {
    let h = harness("ctl-run", emulator).await;
    let (cap, cr) = capability("nexus-ai-complete", "run");
    let name = cr.metadata.name.clone().unwrap();
    // Record every phase the status goes through.
    let api = h.api();
    let watch_name = name.clone();
    let phases = tokio::spawn(async move {
        let mut seen: Vec<Phase> = Vec::new();
        let mut stream = watcher(api, watcher::Config::default().fields(&format!("metadata.name={watch_name}")))
            .applied_objects()
            .boxed();
        while let Some(Ok(cr)) = stream.next().await {
            if let Some(st) = cr.status.clone()
                && let Some(p) = st.phase
            {
                if p == Phase::Failed {
                    eprintln!("failed: {:?}", st.message);
                }
                if seen.last() != Some(&p) {
                    seen.push(p);
                }
                if p == Phase::Running {
                    break;
                }
            }
        }
        seen
    });
    let ctl = h.start();
    h.create(cr).await;
    let live = h.phase(&name, Phase::Running, Duration::from_secs(90)).await;
    let phases = tokio::time::timeout(Duration::from_secs(10), phases).await.unwrap().unwrap();
    assert_eq!(
        phases,
        [
            Phase::ProvisioningDataServices,
            Phase::ProvisioningSsm,
            Phase::ProvisioningSecrets,
            Phase::ProvisioningIam,
            Phase::Deploying,
            Phase::DeployingBackend,
            Phase::DeployingFrontend,
            Phase::Running
        ]
    );
    let st = live.status.clone().unwrap();
    assert!(st.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    assert!(st.conditions.iter().any(|c| c.type_ == "AwsProvisioned" && c.status == "True"));
    assert!(st.resources.iter().all(|r| r.state == "Ready"), "{:?}", st.resources);
    assert!(!st.endpoints.is_empty());

    let ns = format!("{cap}-prod");
    let deployments = Api::<Deployment>::namespaced(h.client.clone(), &ns).list(&ListParams::default()).await.unwrap();
    let mut names: Vec<_> = deployments.items.iter().map(|d| d.metadata.name.clone().unwrap()).collect();
    names.sort();
    assert_eq!(names, [format!("{cap}-prod-backend"), format!("{cap}-prod-frontend")]);
    for d in &deployments.items {
        let labels = d.metadata.labels.clone().unwrap();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "nexus-dev");
        assert_eq!(labels["app.kubernetes.io/instance"], format!("{cap}-prod"));
        let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some(format!("{cap}-prod-app-sa").as_str()));
        let c = &pod.containers[0];
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(
            (sc.allow_privilege_escalation, sc.read_only_root_filesystem, sc.run_as_non_root),
            (Some(false), Some(true), Some(true))
        );
        assert!(c.readiness_probe.is_some() && c.liveness_probe.is_some());
        assert!(c.env.as_ref().unwrap().iter().any(|e| e.name == "NEXUS_SSM_PREFIX"));
    }
    let services = Api::<Service>::namespaced(h.client.clone(), &ns).list(&ListParams::default()).await.unwrap();
    let mut svc: Vec<_> = services.items.iter().map(|s| s.metadata.name.clone().unwrap()).collect();
    svc.sort();
    assert_eq!(
        svc,
        [
            format!("{cap}-prod-backend-svc"),
            format!("{cap}-prod-backend-svc-internal"),
            format!("{cap}-prod-frontend-svc")
        ]
    );
    let ingress =
        Api::<Ingress>::namespaced(h.client.clone(), &ns).get(&format!("{cap}-prod-app-ingress")).await.unwrap();
    let paths = &ingress.spec.unwrap().rules.unwrap()[0].http.clone().unwrap().paths;
    assert_eq!(paths[0].path.as_deref(), Some("/api"));
    let sa = Api::<ServiceAccount>::namespaced(h.client.clone(), &ns).get(&format!("{cap}-prod-app-sa")).await.unwrap();
    assert!(
        sa.metadata.annotations.unwrap()["eks.amazonaws.com/role-arn"].ends_with(&format!(":role/{cap}-prod-app-role"))
    );

    delete_and_wait(&h, &name).await;
    ctl.abort();
}

#[apply(emulators)]
#[tokio::test]
async fn image_and_replica_changes_roll_out(#[case] emulator: Emulator) {
    let h = harness("ctl-upd", emulator).await;
    let (cap, name, ctl) = h.running_minimal("upd", h.context()).await;
    let ns = format!("{cap}-dev");
    let backend = format!("{cap}-dev-backend");

    let patch = serde_json::json!({"spec": {"backend": {"image": "ghcr.io/acme/api:2"}, "frontend": {"replicas": 1}}});
    h.api().patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    h.phase(&name, Phase::Running, Duration::from_secs(90)).await;
    let d = eventually("the new backend image to be available", Duration::from_secs(60), || {
        deployment_available(&h.client, &ns, &backend)
    })
    .await;
    let image = d.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert_eq!(image, "ghcr.io/acme/api:2");
    let sets = Api::<ReplicaSet>::namespaced(h.client.clone(), &ns)
        .list(&ListParams::default().labels("app.kubernetes.io/component=backend"))
        .await
        .unwrap();
    assert_eq!(sets.items.len(), 2, "a new ReplicaSet for the new image");
    let frontend = eventually("the frontend to scale to 1", Duration::from_secs(60), || async {
        let d = deployment_available(&h.client, &ns, &format!("{cap}-dev-frontend")).await?;
        if d.status.as_ref().and_then(|s| s.available_replicas) == Some(1) {
            Ok(d)
        } else {
            Err("not scaled yet".into())
        }
    })
    .await;
    assert_eq!(frontend.spec.unwrap().replicas, Some(1));
    delete_and_wait(&h, &name).await;
    ctl.abort();
}

#[apply(emulators)]
#[tokio::test]
async fn owned_object_events_between_resyncs_read_no_aws_and_a_spec_change_does(#[case] emulator: Emulator) {
    let h = harness("ctl-quiet", emulator).await;
    let ctx = Context::new(h.client.clone(), testbed_profile(&h.bed))
        .with(Duration::from_secs(600), Duration::from_millis(500));
    let (cap, name, ctl) = h.running_minimal("quiet", ctx.clone()).await;
    let calls = ctx.aws_calls().await;
    assert!(calls > 0, "the first pass checks AWS");

    // Scaled by hand: the controller scales it back, and the passes this takes (one per event
    // of the Deployment) leave AWS alone; the full check was made moments ago.
    let deployments: Api<Deployment> = Api::namespaced(h.client.clone(), &format!("{cap}-dev"));
    let backend = format!("{cap}-dev-backend");
    let scale = serde_json::json!({"spec": {"replicas": 4}});
    deployments.patch(&backend, &PatchParams::default(), &Patch::Merge(&scale)).await.unwrap();
    eventually("the replicas to be restored", Duration::from_secs(60), || async {
        let d = deployment_available(&h.client, &format!("{cap}-dev"), &backend).await?;
        let want = d.spec.as_ref().and_then(|s| s.replicas);
        if want == Some(2) { Ok(()) } else { Err(format!("replicas {want:?}")) }
    })
    .await;
    assert_eq!(ctx.aws_calls().await, calls, "events of owned objects re-read AWS");

    // A spec change is a new generation: AWS is checked again.
    let patch = serde_json::json!({"spec": {"backend": {"replicas": 3}}});
    h.api().patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    h.phase(&name, Phase::Running, Duration::from_secs(90)).await;
    assert!(ctx.aws_calls().await > calls, "a new generation rechecks AWS");
    delete_and_wait(&h, &name).await;
    ctl.abort();
}

#[apply(emulators)]
#[tokio::test]
async fn what_is_deleted_by_hand_comes_back(#[case] emulator: Emulator) {
    let h = harness("ctl-heal", emulator).await;
    let (cap, name, ctl) = h.running_minimal("heal", h.context()).await;
    let ns = format!("{cap}-dev");
    let backend = format!("{cap}-dev-backend");
    let deployments: Api<Deployment> = Api::namespaced(h.client.clone(), &ns);
    let before = deployments.get(&backend).await.unwrap().metadata.uid;
    deployments.delete(&backend, &DeleteParams::default()).await.unwrap();
    let after = eventually("the backend deployment to come back", Duration::from_secs(60), || async {
        let d = deployments.get_opt(&backend).await.map_err(|e| e.to_string())?;
        match d {
            Some(d) if d.metadata.uid != before && d.metadata.deletion_timestamp.is_none() => Ok(d),
            _ => Err("not yet".into()),
        }
    })
    .await;
    assert_ne!(after.metadata.uid, before);

    let aws = h.aws("ap-southeast-1").await;
    let bucket = format!("{cap}-dev-journey-logs");
    aws.clients.s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    eventually("the bucket to come back", Duration::from_secs(60), || async {
        aws.clients.s3.head_bucket().bucket(&bucket).send().await.map(|_| ()).map_err(|e| e.to_string())
    })
    .await;
    delete_and_wait(&h, &name).await;
    ctl.abort();
}

#[apply(emulators)]
#[tokio::test]
async fn deletion_waits_for_cleanup_and_honours_the_policy(#[case] emulator: Emulator) {
    let h = harness("ctl-del", emulator).await;
    let aws = h.aws("ap-southeast-1").await;

    // Retain: workloads go, every AWS resource stays; the capability waits for the cleanup.
    let (cap, mut cr) = capability("minimal", "keep");
    cr.spec.deletion_policy = DeletionPolicy::Retain;
    let name = cr.metadata.name.clone().unwrap();
    let ctl = h.start();
    h.create(cr).await;
    h.phase(&name, Phase::Running, Duration::from_secs(90)).await;
    ctl.abort();
    let _ = ctl.await;
    h.api().delete(&name, &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = h.api().get(&name).await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some(), "deletion requested");
    assert!(
        held.metadata.finalizers.unwrap_or_default().contains(&"nexus.ai/cleanup".to_owned()),
        "held by the finalizer"
    );
    let ns = format!("{cap}-dev");
    assert!(
        Api::<Deployment>::namespaced(h.client.clone(), &ns)
            .get_opt(&format!("{cap}-dev-backend"))
            .await
            .unwrap()
            .is_some()
    );
    let ctl = h.start();
    delete_and_wait(&h, &name).await;
    assert!(
        Api::<Deployment>::namespaced(h.client.clone(), &ns)
            .get_opt(&format!("{cap}-dev-backend"))
            .await
            .unwrap()
            .is_none()
    );
    aws.clients.s3.head_bucket().bucket(format!("{cap}-dev-call-data")).send().await.expect("Retain keeps buckets");
    aws.clients
        .dynamodb
        .describe_table()
        .table_name(format!("{cap}-dev-license"))
        .send()
        .await
        .expect("Retain keeps tables");
    aws.clients.iam.get_role().role_name(format!("{cap}-dev-app-role")).send().await.expect("Retain keeps the role");

    // Delete: everything goes.
    let (cap, cr) = capability("minimal", "drop");
    assert_eq!(cr.spec.deletion_policy, DeletionPolicy::Delete);
    let name = cr.metadata.name.clone().unwrap();
    h.create(cr).await;
    h.phase(&name, Phase::Running, Duration::from_secs(90)).await;
    delete_and_wait(&h, &name).await;
    assert!(aws.clients.s3.head_bucket().bucket(format!("{cap}-dev-call-data")).send().await.is_err());
    assert!(aws.clients.dynamodb.describe_table().table_name(format!("{cap}-dev-license")).send().await.is_err());
    assert!(aws.clients.ssm.get_parameter().name(format!("/{cap}/dev/aws/region")).send().await.is_err());
    assert!(aws.clients.iam.get_role().role_name(format!("{cap}-dev-app-role")).send().await.is_err());
    ctl.abort();
}

#[apply(emulators)]
#[tokio::test]
async fn killed_at_twenty_points_it_converges_without_duplicates_or_leaks(#[case] emulator: Emulator) {
    let h = harness("ctl-crash", emulator).await;
    let aws = h.aws("us-east-1").await;
    let mut points = 0;
    // Four capabilities, each interrupted five times at growing delays: the kills land in the
    // AWS phases, the Kubernetes phases and the rollout wait of fresh and half-made capabilities.
    for round in 0..4 {
        let cap = unique("crash");
        let cr = Spec::example("with-cognito").capability(&cap).region("us-east-1").build();
        let name = cr.metadata.name.clone().unwrap();
        h.create(cr).await;
        for k in 0..5u64 {
            let delay = Duration::from_millis(40 + 90 * k + 25 * round);
            let ctl = h.start();
            tokio::time::sleep(delay).await;
            ctl.abort();
            let _ = ctl.await;
            points += 1;
        }
        let ctl = h.start();
        h.phase(&name, Phase::Running, Duration::from_secs(90)).await;
        ctl.abort();
        let _ = ctl.await;

        // No duplicates: one user pool of the name, one app client, the planned objects only.
        let pools = crate::support::user_pools(&aws.clients.cognito).await;
        let ours: Vec<_> =
            pools.iter().filter(|p| p.name.as_deref() == Some(&format!("{cap}-staging-user-pool"))).collect();
        assert_eq!(ours.len(), 1, "exactly one user pool");
        let clients = aws
            .clients
            .cognito
            .list_user_pool_clients()
            .user_pool_id(ours[0].id.clone().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(clients.user_pool_clients.unwrap().len(), 1, "exactly one app client");
        let ns = format!("{cap}-staging");
        assert_eq!(
            Api::<Deployment>::namespaced(h.client.clone(), &ns)
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
            2
        );
        assert_eq!(
            Api::<Service>::namespaced(h.client.clone(), &ns).list(&ListParams::default()).await.unwrap().items.len(),
            3
        );
        let params =
            aws.clients.ssm.get_parameters_by_path().path(format!("/{cap}/staging")).recursive(true).max_results(10);
        let mut count = 0;
        let mut pages = params.into_paginator().send();
        while let Some(page) = pages.next().await {
            count += page.unwrap().parameters.unwrap_or_default().len();
        }
        let planned = nexus_dev::model::plan::build(&h.api().get(&name).await.unwrap(), &testbed_profile(&h.bed))
            .of_kind(nexus_dev::model::plan::Kind::SsmParameter)
            .count();
        assert_eq!(count, planned, "no leaked or missing parameters");
        // Clean up through the controller (Retain: the workloads go, AWS stays).
        let ctl = h.start();
        delete_and_wait(&h, &name).await;
        ctl.abort();
    }
    assert!(points >= 20);
}

#[apply(emulators)]
#[tokio::test]
async fn verify_passes_when_healthy_and_names_what_broke(#[case] emulator: Emulator) {
    let h = harness("ctl-ver", emulator).await;
    let (cap, cr) = capability("minimal", "ver");
    let name = cr.metadata.name.clone().unwrap();
    let ctl = h.start();
    let created = h.create(cr).await;
    h.phase(&name, Phase::Running, Duration::from_secs(90)).await;
    ctl.abort();
    let _ = ctl.await;
    let profile = testbed_profile(&h.bed);
    let plan = nexus_dev::model::plan::build(&created, &profile);
    let aws = h.aws("ap-southeast-1").await;
    let owner = nexus_dev::reconcile::key(&created);
    let checks = nexus_dev::reconcile::verify::verify(&plan, &aws, &h.client, &owner).await;
    // kwok's pods run no process, so nothing answers the HTTP checks here; they pass on real
    // pods (tests/it/kind_e2e.rs).
    let http: Vec<_> = checks.iter().filter(|c| c.check.starts_with("http ")).collect();
    assert_eq!(http.len(), 3, "one HTTP check per Service: {http:#?}");
    assert!(http.iter().all(|c| !c.ok), "kwok pods answer nothing: {http:#?}");
    let failed: Vec<_> = checks.iter().filter(|c| !c.ok && !c.check.starts_with("http ")).collect();
    assert!(failed.is_empty(), "{failed:#?}");

    // Break two things: a parameter's value and the service account's role annotation.
    aws.clients
        .ssm
        .put_parameter()
        .name(format!("/{cap}/dev/app/version"))
        .value("9.9.9")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let sa = format!("{cap}-dev-app-sa");
    let patch = serde_json::json!({"metadata": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/other"}}});
    Api::<ServiceAccount>::namespaced(h.client.clone(), &format!("{cap}-dev"))
        .patch(&sa, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let checks = nexus_dev::reconcile::verify::verify(&plan, &aws, &h.client, &owner).await;
    let failed: Vec<_> = checks.iter().filter(|c| !c.ok).map(|c| c.check.clone()).collect();
    assert!(failed.contains(&format!("ssm.parameter /{cap}/dev/app/version")), "{failed:?}");
    assert!(failed.contains(&"IRSA annotation".to_owned()), "{failed:?}");
    assert!(failed.contains(&format!("k8s.serviceaccount {sa}")), "{failed:?}");
    let ctl = h.start();
    delete_and_wait(&h, &name).await;
    ctl.abort();
}

/// Issue #11, item 4: a data service turned off in the spec is pruned by the controller under
/// `deletionPolicy: Delete` (the minimal example's), found by its ownership.
#[apply(emulators)]
#[tokio::test]
async fn a_data_service_turned_off_is_pruned_by_the_controller(#[case] emulator: Emulator) {
    let h = harness("ctl-prune", emulator).await;
    let (cap, name, ctl) = h.running_minimal("prune", h.context()).await;
    let db = format!("{}_dev_db", cap.replace('-', "_"));
    let aws = h.aws("ap-southeast-1").await;
    aws.clients.glue.get_database().name(&db).send().await.expect("the Glue database exists while Glue is on");
    let patch = serde_json::json!({"spec": {"dataServices": {"glue": {"enabled": false}}}});
    h.api().patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually("the Glue database to be pruned", Duration::from_secs(60), || async {
        match aws.clients.glue.get_database().name(&db).send().await {
            Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found_exception()) => Ok(()),
            Ok(_) => Err("still there".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    let param = format!("/{cap}/dev/glue/database");
    let gone = aws.clients.ssm.get_parameter().name(&param).send().await;
    assert!(
        gone.is_err_and(|e| e.as_service_error().is_some_and(|e| e.is_parameter_not_found())),
        "{param} pruned too"
    );
    delete_and_wait(&h, &name).await;
    ctl.abort();
}

/// Issue 18: seed 004's objects (an autoscaler, disruption budgets, the default-deny
/// NetworkPolicies, the namespace's Pod Security label) and the pods' Secret (seed 003) are
/// applied and verified, a changed secret value reaches the Secret and rolls the pods, and what
/// the spec turns off is pruned by the controller.
#[apply(emulators)]
#[tokio::test]
async fn workload_hardening_objects_are_applied_verified_and_pruned_when_turned_off(#[case] emulator: Emulator) {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;

    let h = harness("ctl-hard", emulator).await;
    let (cap, mut cr) = capability("hardened", "hard");
    cr.spec.deletion_policy = DeletionPolicy::Delete;
    let name = cr.metadata.name.clone().unwrap();
    let ns = format!("{cap}-prod");
    let ctl = h.start();
    let created = h.create(cr).await;
    h.phase(&name, Phase::Running, Duration::from_secs(120)).await;

    let names = |list: Vec<String>| {
        let mut list = list;
        list.sort();
        list
    };
    let hpas = Api::<HorizontalPodAutoscaler>::namespaced(h.client.clone(), &ns);
    let pdbs = Api::<PodDisruptionBudget>::namespaced(h.client.clone(), &ns);
    let policies = Api::<NetworkPolicy>::namespaced(h.client.clone(), &ns);
    let listed = || async {
        let lp = ListParams::default();
        let of = |metas: Vec<Option<String>>| names(metas.into_iter().flatten().collect());
        (
            of(hpas.list(&lp).await.unwrap().items.into_iter().map(|o| o.metadata.name).collect()),
            of(pdbs.list(&lp).await.unwrap().items.into_iter().map(|o| o.metadata.name).collect()),
            of(policies.list(&lp).await.unwrap().items.into_iter().map(|o| o.metadata.name).collect()),
        )
    };
    let (hpa, pdb, netpol) = listed().await;
    assert_eq!(hpa, [format!("{cap}-prod-backend-hpa")]);
    assert_eq!(pdb, [format!("{cap}-prod-backend-pdb"), format!("{cap}-prod-frontend-pdb")]);
    assert_eq!(netpol, [format!("{cap}-prod-allow-app"), format!("{cap}-prod-default-deny")]);
    let namespace = Api::<Namespace>::all(h.client.clone()).get(&ns).await.unwrap();
    let labels = namespace.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("pod-security.kubernetes.io/enforce").map(String::as_str), Some("restricted"));
    // The API server enforces it: the workloads' pods were admitted under `restricted`.
    let backend =
        Api::<Deployment>::namespaced(h.client.clone(), &ns).get(&format!("{cap}-prod-backend")).await.unwrap();
    let pod = backend.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.containers[0].startup_probe.as_ref().and_then(|p| p.failure_threshold), Some(12));

    // verify checks each of them, as planned.
    let profile = testbed_profile(&h.bed);
    let plan = nexus_dev::model::plan::build(&created, &profile);
    let aws = h.aws("eu-west-1").await;
    let owner = nexus_dev::reconcile::key(&created);
    let checks = nexus_dev::reconcile::verify::verify(&plan, &aws, &h.client, &owner).await;
    for kind in ["k8s.hpa", "k8s.pdb", "k8s.networkpolicy"] {
        let of_kind: Vec<_> = checks.iter().filter(|c| c.check.starts_with(kind)).collect();
        assert!(!of_kind.is_empty() && of_kind.iter().all(|c| c.ok), "{kind}: {of_kind:#?}");
    }
    // A policy changed by hand: verify names it (the controller stopped, or it would already
    // have put it back), and the controller, which watches policies, puts it back.
    ctl.abort();
    let _ = ctl.await;
    let allow = format!("{cap}-prod-allow-app");
    let patch = serde_json::json!({"spec": {"egress": []}});
    policies.patch(&allow, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let checks = nexus_dev::reconcile::verify::verify(&plan, &aws, &h.client, &owner).await;
    let broken = checks.iter().find(|c| c.check == format!("k8s.networkpolicy {allow}")).unwrap();
    assert!(!broken.ok && broken.detail.contains("differs"), "{broken:?}");
    let ctl = h.start();
    eventually("the loosened policy to be put back", Duration::from_secs(30), || async {
        let p = policies.get(&allow).await.map_err(|e| e.to_string())?;
        match p.spec.and_then(|s| s.egress).map(|e| e.len()) {
            Some(3) => Ok(()),
            other => Err(format!("{other:?} egress rules")),
        }
    })
    .await;

    // The pods' Secret holds the Secrets Manager values, the pods take them as variables, and a
    // value changed in Secrets Manager reaches the Secret and rolls the pods (a new hash).
    let secrets = Api::<Secret>::namespaced(h.client.clone(), &ns);
    let pod_secret = format!("{cap}-prod-secrets");
    let value = |key: &'static str| {
        let (secrets, pod_secret) = (secrets.clone(), pod_secret.clone());
        async move {
            let s = secrets.get(&pod_secret).await.map_err(|e| e.to_string())?;
            let data = s.data.unwrap_or_default();
            Ok::<_, String>(data.get(key).map(|v| String::from_utf8_lossy(&v.0).into_owned()))
        }
    };
    assert_eq!(value("OPENAI_API_KEY").await.unwrap().as_deref(), Some("CHANGE_ME"), "the placeholder");
    assert_eq!(value("WXCC_CLIENT_SECRET").await.unwrap().as_deref(), Some("CHANGE_ME"));
    let deployments = Api::<Deployment>::namespaced(h.client.clone(), &ns);
    let template = || async {
        let d = deployments.get(&format!("{cap}-prod-backend")).await.unwrap();
        d.spec.unwrap().template
    };
    let t = template().await;
    let from = t.spec.as_ref().unwrap().containers[0].env_from.clone().unwrap_or_default();
    assert_eq!(from[0].secret_ref.as_ref().map(|r| r.name.as_str()), Some(pod_secret.as_str()));
    let hash = |t: &k8s_openapi::api::core::v1::PodTemplateSpec| {
        t.metadata.as_ref().and_then(|m| m.annotations.as_ref()).and_then(|a| a.get("nexus.ai/secrets-hash").cloned())
    };
    let before = hash(&t).expect("the values' hash on the pod template");
    aws.clients
        .secrets
        .put_secret_value()
        .secret_id(format!("{cap}/prod/openai"))
        .secret_string(r#"{"api_key": "sk-from-the-test"}"#)
        .send()
        .await
        .unwrap();
    eventually("the new value in the pods' Secret", Duration::from_secs(60), || async {
        match value("OPENAI_API_KEY").await? {
            Some(v) if v == "sk-from-the-test" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    eventually("the pods to roll for the new value", Duration::from_secs(30), || async {
        match hash(&template().await) {
            Some(h) if h != before => Ok(()),
            other => Err(format!("hash still {other:?}")),
        }
    })
    .await;

    // Turned off: the policies, the autoscaler, the pods' Secret and the budget of a single
    // replica go.
    let patch = serde_json::json!({"spec": {
        "networkPolicy": null, "secrets": null, "backend": {"autoscaling": null, "replicas": 1}
    }});
    h.api().patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually("the objects turned off to be pruned", Duration::from_secs(60), || async {
        match listed().await {
            (hpa, pdb, netpol)
                if hpa.is_empty() && netpol.is_empty() && pdb == [format!("{cap}-prod-frontend-pdb")] =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    h.phase(&name, Phase::Running, Duration::from_secs(60)).await;
    assert!(secrets.get_opt(&pod_secret).await.unwrap().is_none(), "the pods' Secret is pruned");
    delete_and_wait(&h, &name).await;
    assert!(listed().await.1.is_empty(), "the frontend's budget goes with the capability");
    ctl.abort();
}

/// Issue 13: a capability whose bucket is somebody else's goes to Failed, with a message that
/// names the bucket, and is retried: once that bucket is gone, the capability reaches Running.
#[apply(emulators)]
#[tokio::test]
async fn a_foreign_bucket_fails_the_capability_naming_it_and_removing_it_heals(#[case] emulator: Emulator) {
    let h = harness("fails", emulator).await;
    let cap = unique("fails");
    let cr = Spec::example("minimal").capability(&cap).region("us-east-1").build();
    let name = cr.metadata.name.clone().unwrap();
    let plan = nexus_dev::model::plan::build(&cr, &testbed_profile(&h.bed));
    let bucket = plan.of_kind(nexus_dev::model::plan::Kind::S3Bucket).next().unwrap().name.clone();
    let aws = h.aws("us-east-1").await;
    aws.clients.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(aws_sdk_s3::types::Tag::builder().key("owner").value("another-team").build().unwrap())
        .build()
        .unwrap();
    aws.clients.s3.put_bucket_tagging().bucket(&bucket).tagging(tagging).send().await.unwrap();

    let ctl = h.start();
    h.create(cr).await;
    let failed = h.phase(&name, Phase::Failed, Duration::from_secs(60)).await;
    let message = failed.status.and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains(&bucket), "the message names the bucket: {message}");
    let tags = aws.clients.s3.get_bucket_tagging().bucket(&bucket).send().await.unwrap();
    assert_eq!(tags.tag_set().len(), 1, "the foreign bucket is left as it was");

    aws.clients.s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    h.phase(&name, Phase::Running, Duration::from_secs(90)).await;
    delete_and_wait(&h, &name).await;
    ctl.abort();
}
