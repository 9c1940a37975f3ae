//! The capability view's detail and actions (issue 16) against the test bed: the daemon's feed
//! publishing a capability's pods (on kwok nodes) and its namespace's Events, live; re-running a
//! reconcile through the controller's trigger; and a drift check that finds an AWS setting
//! changed out of band and a resource deleted by hand, on the real emulator.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::PostParams;
use nexus_dev::model::plan::{self, Kind};
use nexus_dev::model::spec::{DeletionPolicy, NexusAICapability};
use nexus_dev::provision::aws::{Clients, Ctx, Target};
use nexus_dev::provision::{self, Options};
use nexus_dev::reconcile::Context;
use nexus_dev::ui::actions::Actions;
use nexus_dev::ui::commands::Hints;
use nexus_dev::ui::{feed, hub::Live, server};

use crate::support::fixtures::{Spec, testbed_profile};
use crate::support::{REGION, TestBed, TestNamespace, eventually, unique};

/// `cap` (the minimal example) as a custom resource in `ns`, labelled as project `project`'s.
fn capability(cap: &str, ns: &str, project: &str) -> NexusAICapability {
    let mut cr = Spec::example("minimal").capability(cap).region(REGION).build();
    cr.metadata.namespace = Some(ns.into());
    cr.metadata.labels = Some([(nexus_dev::daemon::PROJECT_LABEL.to_owned(), project.to_owned())].into());
    cr
}

/// A Deployment of `owner`'s backend as nexus-dev labels it: its pods are the capability's.
fn backend(name: &str, owner: &str) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "nexus-dev", "app.kubernetes.io/component": "backend"},
                     "annotations": {"nexus.ai/owner": owner}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name, "app.kubernetes.io/managed-by": "nexus-dev"},
                                           "annotations": {"nexus.ai/owner": owner}},
                              "spec": {"containers": [{"name": "backend", "image": "registry.local/backend:1"}]}}}
    }))
    .unwrap()
}

fn event(ns: &str, name: &str, object: &str, reason: &str, message: &str) -> Event {
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": object, "namespace": ns},
        "reason": reason, "message": message, "type": if reason == "BackOff" { "Warning" } else { "Normal" },
        "count": if reason == "BackOff" { 4 } else { 1 },
        "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "nexus-dev-test"}
    }))
    .unwrap()
}

/// The feed, as the daemon runs it, publishes the capability's pods (scheduled on kwok's nodes,
/// Running), its namespace's Events (a Warning made by the test, newest first) and its
/// commands; a pod added later shows by itself.
#[tokio::test]
async fn ui_feed_publishes_a_capabilitys_pods_and_events_from_the_cluster() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    nexus_dev::provision::kube::install_crd(&client).await.unwrap();
    let ns = TestNamespace::create(&client, "ui-pods").await;
    let (cap, project) = (unique("uip"), unique("proj"));
    let cr = capability(&cap, &ns.name, &project);
    let name = cr.metadata.name.clone().unwrap();
    let key = format!("{}/{name}", ns.name);
    Api::<NexusAICapability>::namespaced(client.clone(), &ns.name).create(&PostParams::default(), &cr).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    deployments.create(&PostParams::default(), &backend("web-backend", &key)).await.unwrap();
    Api::<Event>::namespaced(client.clone(), &ns.name)
        .create(&PostParams::default(), &event(&ns.name, "crash.1", "web-backend-x", "BackOff", "Back-off restarting"))
        .await
        .unwrap();

    let live = Arc::new(Live::default());
    let hints = Hints { kube_context: Some("nexus-testbed".into()), ..Default::default() };
    let feed = tokio::spawn(feed::run(
        client.clone(),
        project,
        testbed_profile(&bed),
        hints,
        live.clone(),
        Default::default(),
    ));

    let c = eventually("two Running pods and the test's event", Duration::from_secs(60), || {
        let c = live.capability(&key);
        async move {
            let c = c.ok_or("no capability yet")?;
            let running = c.pods.iter().filter(|p| p.phase == "Running" && p.ready).count();
            let seen = c.events.iter().any(|e| e.reason == "BackOff");
            if running == 2 && seen { Ok(c) } else { Err(format!("pods {:?}, events {:?}", c.pods, c.events)) }
        }
    })
    .await;
    for p in &c.pods {
        assert_eq!(p.workload, format!("{}/web-backend", ns.name));
        assert!(p.node.as_deref().is_some_and(|n| n.starts_with("kwok-")), "{p:?}");
        assert_eq!(p.containers.len(), 1);
        assert_eq!(
            (p.containers[0].name.as_str(), p.containers[0].image.as_str()),
            ("backend", "registry.local/backend:1")
        );
        assert!(p.started_at.is_some());
    }
    let backoff = c.events.iter().find(|e| e.reason == "BackOff").unwrap();
    assert_eq!(
        (backoff.type_.as_str(), backoff.object.as_str(), backoff.count, backoff.message.as_str()),
        ("Warning", "Pod/web-backend-x", 4, "Back-off restarting")
    );
    assert!(c.events.windows(2).all(|w| w[0].last_seen >= w[1].last_seen), "newest first: {:?}", c.events);
    assert!(c.commands.iter().any(|k| k.command == format!("nexus-dev logs {cap} backend -f")), "{:?}", c.commands);

    // Scaled up: the third pod shows by itself.
    let patch = serde_json::json!({"spec": {"replicas": 3}});
    deployments.patch("web-backend", &Default::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
    eventually("a third pod", Duration::from_secs(60), || {
        let n = live.capability(&key).map_or(0, |c| c.pods.len());
        async move { if n == 3 { Ok(()) } else { Err(format!("{n} pods")) } }
    })
    .await;
    feed.abort();
}

/// A dashboard serving `cr` (published as the feed would) with the daemon's actions on the
/// test bed; the receiver of the controller's trigger.
async fn dashboard(
    bed: &TestBed,
    cr: &NexusAICapability,
) -> (server::Server, futures::channel::mpsc::UnboundedReceiver<kube::runtime::reflector::ObjectRef<NexusAICapability>>)
{
    nexus_dev::init_tls();
    let profile = testbed_profile(bed);
    let live = Arc::new(Live::default());
    let mut timelines = Default::default();
    live.publish(feed::capabilities(&[Arc::new(cr.clone())], None, &profile, &mut timelines, 1_000));
    let ctx = Context::new(bed.kube().await, profile);
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let actions = Some(Arc::new(Actions::new(ctx, tx)));
    let server = server::start(live, server::Parts { actions, ..Default::default() }).await.unwrap();
    (server, rx)
}

/// `POST …/reconcile` puts the capability on the controller's trigger (as the healer does) and
/// answers 202; an unknown capability is 404; a dashboard without a controller says so (503).
#[tokio::test]
async fn ui_reconcile_asks_the_controller_for_a_pass() {
    let bed = TestBed::from_env();
    let cr = capability(&unique("uir"), "ui-reconcile", "p");
    let (server, mut rx) = dashboard(&bed, &cr).await;
    let http = reqwest::Client::new();
    let post = |path: String| http.post(format!("{}{path}", server.origin())).bearer_auth(server.token.as_str()).send();
    let name = cr.metadata.name.clone().unwrap();

    let res = post(format!("/api/v1/capabilities/ui-reconcile/{name}/reconcile")).await.unwrap();
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["key"], format!("ui-reconcile/{name}"));
    let asked = tokio::time::timeout(Duration::from_secs(5), rx.next()).await.unwrap().unwrap();
    assert_eq!((asked.name.as_str(), asked.namespace.as_deref()), (name.as_str(), Some("ui-reconcile")));

    let unknown = post("/api/v1/capabilities/ui-reconcile/nope/reconcile".into()).await.unwrap();
    assert_eq!(unknown.status(), 404);
    let anonymous = http.post(format!("{}/api/v1/capabilities/ui-reconcile/{name}/reconcile", server.origin()));
    assert_eq!(anonymous.send().await.unwrap().status(), 401, "the token is needed");
    assert!(rx.try_recv().is_err(), "nothing else was asked");

    let live = Arc::new(Live::default());
    let mut timelines = Default::default();
    live.publish(feed::capabilities(&[Arc::new(cr.clone())], None, &testbed_profile(&bed), &mut timelines, 1));
    let bare = server::start(live, server::Parts::default()).await.unwrap();
    let res = http
        .post(format!("{}/api/v1/capabilities/ui-reconcile/{name}/reconcile", bare.origin()))
        .bearer_auth(bare.token.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
}

/// `GET …/drift` on the emulator: every AWS resource in sync after an apply; then a parameter
/// changed and a table deleted by hand show as `differs` (with the change) and `missing`, the
/// rest still in sync, each with its planned settings. Nothing is repaired by the check.
#[tokio::test]
async fn ui_drift_finds_a_setting_changed_out_of_band_and_a_resource_deleted() {
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    nexus_dev::provision::kube::install_crd(&client).await.unwrap();
    let ns = TestNamespace::create(&client, "ui-drift").await;
    let mut cr = capability(&unique("uid"), &ns.name, "p");
    cr.spec.deletion_policy = DeletionPolicy::Delete;
    let name = cr.metadata.name.clone().unwrap();
    Api::<NexusAICapability>::namespaced(client.clone(), &ns.name).create(&PostParams::default(), &cr).await.unwrap();
    let profile = testbed_profile(&bed);
    let plan = plan::build(&cr, &profile);
    let aws = Ctx::new(Clients::connect(&Target::emulator(&bed.aws_endpoint, REGION)).await, bed.account());
    assert!(provision::apply(&plan, &aws, &Options::default()).await.ok());

    let (server, _rx) = dashboard(&bed, &cr).await;
    let http = reqwest::Client::new();
    let drift = || async {
        let url = format!("{}/api/v1/capabilities/{}/{name}/drift", server.origin(), ns.name);
        let res = http.get(url).bearer_auth(server.token.as_str()).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json::<serde_json::Value>().await.unwrap()
    };
    let state = |d: &serde_json::Value, id: &str| {
        d["resources"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("{id}: {d}")).clone()
    };
    let first = drift().await;
    let aws_ids: Vec<String> = plan.resources.iter().filter(|r| r.kind.is_aws()).map(|r| r.id()).collect();
    let listed: Vec<&str> = first["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(listed, aws_ids, "every planned AWS resource, in plan order");
    let off: Vec<_> = first["resources"].as_array().unwrap().iter().filter(|r| r["state"] != "inSync").collect();
    assert!(off.is_empty(), "in sync after an apply: {off:#?}");
    assert_eq!(first["inSync"], aws_ids.len());
    assert_eq!(first["region"], REGION);

    let param = plan.of_kind(Kind::SsmParameter).next().unwrap();
    let table = plan.of_kind(Kind::DynamoTable).next().unwrap();
    aws.clients.ssm.put_parameter().name(&param.name).value("changed-by-hand").overwrite(true).send().await.unwrap();
    aws.clients.dynamodb.delete_table().table_name(&table.name).send().await.unwrap();

    let second = drift().await;
    let p = state(&second, &param.id());
    assert_eq!(p["state"], "differs", "{p}");
    assert!(!p["changes"].as_array().unwrap().is_empty(), "what differs: {p}");
    assert!(p["planned"].is_object(), "{p}");
    assert_eq!(state(&second, &table.id())["state"], "missing");
    let in_sync = second["resources"].as_array().unwrap().iter().filter(|r| r["state"] == "inSync").count();
    assert_eq!(in_sync, aws_ids.len() - 2, "{second}");
    assert_eq!(second["inSync"], in_sync);
    assert_eq!(drift().await["resources"], second["resources"], "a check repairs nothing");

    let unknown = http
        .get(format!("{}/api/v1/capabilities/{}/nope/drift", server.origin(), ns.name))
        .bearer_auth(server.token.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    provision::delete(&plan, &aws, &Options::default(), DeletionPolicy::Delete).await;
}

/// A pod of the capability `owner` in `ns`: `state` is a container state as the API gives it.
fn pod(
    ns: &str,
    name: &str,
    owner: &str,
    ready: bool,
    restarts: i32,
    state: serde_json::Value,
) -> k8s_openapi::api::core::v1::Pod {
    // NAME is DEPLOYMENT-7c9d-xxxxx: its ReplicaSet is DEPLOYMENT-7c9d.
    let replica_set = &name[..name.len() - 6];
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": ns, "annotations": {"nexus.ai/owner": owner},
                     "labels": {"pod-template-hash": "7c9d"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set, "uid": "u"}]},
        "spec": {"nodeName": "kwok-node-0", "containers": [{"name": "app", "image": "localhost:5001/myapp-backend:dev-3f2a"}]},
        "status": {"phase": "Running", "startTime": "2026-12-03T21:30:00Z",
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                   "containerStatuses": [{"name": "app", "image": "localhost:5001/myapp-backend:dev-3f2a", "imageID": "",
                                          "ready": ready, "restartCount": restarts, "state": state,
                                          "lastState": if restarts > 0 { serde_json::json!({"terminated": {"exitCode": 1, "reason": "Error"}}) } else { serde_json::json!({}) }}]}
    }))
    .unwrap()
}

/// The capability view in headless Chromium (tests/browser/capability.cjs) on a capability
/// applied to the emulator and then changed by hand: the drift per AWS resource (checked when
/// the view opens, and again on "check drift"), the pods with a crash loop, the events newest
/// first, the commands with a copy button, "re-run reconcile" reaching the controller's trigger,
/// and an event shown live. Screenshots: `capability-detail.png`, `capability-actions.png`.
#[tokio::test]
async fn ui_capability_view_in_headless_chromium_shows_pods_events_drift_and_actions() {
    use nexus_dev::model::spec::{Endpoint, NexusAICapabilityStatus, Phase, ResourceStatus};
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    nexus_dev::provision::kube::install_crd(&client).await.unwrap();
    let ns = TestNamespace::create(&client, "ui-view").await;
    let mut cr = capability(&unique("uiv"), &ns.name, "p");
    cr.spec.deletion_policy = DeletionPolicy::Delete;
    let name = cr.metadata.name.clone().unwrap();
    let key = format!("{}/{name}", ns.name);
    Api::<NexusAICapability>::namespaced(client.clone(), &ns.name).create(&PostParams::default(), &cr).await.unwrap();
    let profile = testbed_profile(&bed);
    let plan = plan::build(&cr, &profile);
    let aws = Ctx::new(Clients::connect(&Target::emulator(&bed.aws_endpoint, REGION)).await, bed.account());
    assert!(provision::apply(&plan, &aws, &Options::default()).await.ok());
    let param = plan.of_kind(Kind::SsmParameter).next().unwrap();
    let table = plan.of_kind(Kind::DynamoTable).next().unwrap();
    aws.clients.ssm.put_parameter().name(&param.name).value("changed-by-hand").overwrite(true).send().await.unwrap();
    aws.clients.dynamodb.delete_table().table_name(&table.name).send().await.unwrap();

    // Reconciled once (so the view checks drift when it opens), with its pods and events.
    cr.metadata.generation = Some(1);
    cr.status = Some(NexusAICapabilityStatus {
        phase: Some(Phase::Running),
        observed_generation: Some(1),
        message: Some("all resources ready".into()),
        resources: plan
            .resources
            .iter()
            .map(|r| ResourceStatus {
                kind: r.kind.as_str().into(),
                name: r.name.clone(),
                state: "Ready".into(),
                id: None,
                message: None,
            })
            .collect(),
        endpoints: vec![Endpoint { name: "frontend".into(), url: "http://127.0.0.1:30080".into() }],
        ..Default::default()
    });
    let backend = format!("{}-backend", plan.namespace);
    let pods: Vec<Arc<k8s_openapi::api::core::v1::Pod>> = [
        pod(&ns.name, &format!("{backend}-7c9d-a1b2c"), &key, true, 0, serde_json::json!({"running": {"startedAt": "2026-12-03T21:30:05Z"}})),
        pod(
            &ns.name,
            &format!("{backend}-7c9d-x9y8z"),
            &key,
            false,
            5,
            serde_json::json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container=app"}}),
        ),
    ]
    .into_iter()
    .map(Arc::new)
    .collect();
    let mut events: Vec<Arc<Event>> = vec![
        Arc::new(event(
            &ns.name,
            "a",
            &format!("{backend}-7c9d-x9y8z"),
            "BackOff",
            "Back-off restarting failed container app",
        )),
        Arc::new(event(
            &ns.name,
            "b",
            &format!("{backend}-7c9d-a1b2c"),
            "Scheduled",
            "Successfully assigned to kwok-node-0",
        )),
    ];
    let hints = Hints {
        kube_context: Some("kind-nexus-dev".into()),
        spec_files: [(format!("{}/dev", cr.spec.capability_name), "specs/minimal.yaml".to_owned())].into(),
        ..Default::default()
    };
    let live = Arc::new(Live::default());
    let mut timelines = Default::default();
    let crs = [Arc::new(cr.clone())];
    let publish = |events: &[Arc<Event>], timelines: &mut _| {
        let mut caps = feed::capabilities(&crs, None, &profile, timelines, feed::now_ms());
        feed::detail(&mut caps, &crs, Some(&pods), Some(events), &profile, &hints);
        live.publish(caps);
    };
    publish(&events, &mut timelines);
    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    let actions = Arc::new(Actions::new(Context::new(client.clone(), profile.clone()), tx));
    let server =
        server::start(live.clone(), server::Parts { actions: Some(actions), ..Default::default() }).await.unwrap();

    let url = format!("{}#/capability/{key}", server.url());
    let (mut node, mut lines, shots) = super::browser("capability.cjs", &url);
    let mut stages: std::collections::HashMap<String, serde_json::Value> = Default::default();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(90), lines.next_line()).await;
        let Some(line) = line.expect("the browser answers within 90 s").unwrap() else { break };
        let stage: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let name = stage["stage"].as_str().unwrap().to_owned();
        assert_ne!(name, "failed", "{}", stage["error"].as_str().unwrap_or_default());
        if name == "rerun" {
            let mut started =
                event(&ns.name, "c", &format!("{backend}-7c9d-x9y8z"), "Started", "Started container app");
            started.last_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now() + std::time::Duration::from_secs(1),
            ));
            events.push(Arc::new(started));
            publish(&events, &mut timelines);
        }
        stages.insert(name, stage);
    }
    assert!(node.wait().await.unwrap().success(), "the browser script failed: {stages:?}");
    assert_eq!(stages["done"]["errors"], serde_json::json!([]), "no error in the page's console");

    let detail = &stages["detail"];
    let drift = detail["drift"].as_array().unwrap();
    let aws_ids: Vec<String> = plan.resources.iter().filter(|r| r.kind.is_aws()).map(|r| r.id()).collect();
    assert_eq!(
        drift.iter().map(|d| d[0].as_str().unwrap()).collect::<Vec<_>>(),
        aws_ids,
        "one drift cell per AWS resource"
    );
    let state_of = |id: &str| drift.iter().find(|d| d[0] == id).unwrap()[1].as_str().unwrap().to_owned();
    assert_eq!(state_of(&param.id()), "differs");
    assert_eq!(state_of(&table.id()), "missing");
    assert!(
        detail["summary"].as_str().unwrap().contains(&format!("{}/{} in sync", aws_ids.len() - 2, aws_ids.len())),
        "{}",
        detail["summary"]
    );
    let pods = detail["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 2);
    assert_eq!((pods[1]["phase"].as_str(), pods[1]["restarts"].as_str()), (Some("CrashLoopBackOff"), Some("5")));
    assert!(pods[1]["containers"][0].as_str().unwrap().contains("last: Error (exit 1)"), "{}", pods[1]);
    assert_eq!(pods[0]["phase"], "Running");
    assert!(detail["pods"].to_string().contains(&format!("{backend}-7c9d-a1b2c")));
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    let commands: Vec<&str> = detail["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(
        commands.contains(&format!("nexus-dev logs {} backend -f", cr.spec.capability_name).as_str()),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.starts_with("kubectl --context kind-nexus-dev -n ") && c.contains("port-forward")),
        "{commands:?}"
    );
    assert!(commands.contains(&"nexus-dev promote -f specs/minimal.yaml --to eks-staging --plan-only"), "{commands:?}");

    let rerun = &stages["rerun"];
    assert!(["copied", "selected: press Ctrl+C"].contains(&rerun["copied"].as_str().unwrap()), "{rerun}");
    let asked = tokio::time::timeout(Duration::from_secs(5), rx.next()).await.unwrap().unwrap();
    assert_eq!(asked.name, name, "the button reached the controller's trigger");
    assert!(stages["live"]["ms"].as_u64().unwrap() < 2_000, "{}", stages["live"]);
    for shot in ["capability-detail.png", "capability-actions.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1_000, "{shot}");
    }
    provision::delete(&plan, &aws, &Options::default(), DeletionPolicy::Delete).await;
}
