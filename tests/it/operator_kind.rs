//! Issue 19 on a real kind cluster with running pods: the operator's image is built from this
//! binary (on the test bed's base image: nothing can be pulled), installed, and becomes ready
//! through its probes; the project's daemon yields the cluster to it (the Lease); the operator
//! reconciles a change to a capability to Running; `/metrics` counts the pass; an upgrade to a
//! new digest rolls out; `status` reports it; `uninstall --full` is refused while a capability
//! exists, and `uninstall` leaves the capability and its workloads alone.
//!
//! It owns the machine's fixed names (the kind cluster, the emulator and registry containers):
//! the `fixed-container-names` test group, and `fixed_names_lock()` under `cargo test`.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};

use crate::support::kind::Env;
use crate::support::project::text;
use crate::support::{TestBed, eventually, fixed_names_lock};
use nexus_dev::model::spec::NexusAICapability;

const NAMESPACE: &str = "myapp-dev";

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The operator's `/metrics`, through the API server's service proxy.
async fn metrics(client: &kube::Client) -> Result<String, String> {
    let req = http::Request::get("/api/v1/namespaces/nexus-system/services/nexus-operator:http/proxy/metrics")
        .body(Vec::new())
        .unwrap();
    client.request_text(req).await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_is_installed_reconciles_upgrades_and_is_uninstalled_on_real_pods() {
    let _machine = fixed_names_lock();
    let bed = TestBed::from_env();
    let env = Env::prepare("nexus-dev-operator-kind", &bed, TestBed::kind_node_image());
    let up = env.nexus(&["up", "--no-watch", "--timeout", "300s"]);
    assert!(up.status.success(), "{}", text(&up));
    let client = env.kube().await;

    // Install: the image built from this binary and pushed to the local registry by digest.
    let t = std::time::Instant::now();
    let installed = json(&env.nexus(&["operator", "install", "--base", &bed.base_image, "-o", "json"]));
    eprintln!("install took {:?}: {installed:#}", t.elapsed());
    let image = installed["image"].as_str().unwrap().to_owned();
    assert!(image.starts_with("localhost:5001/nexus-dev-operator@sha256:"), "{installed:#}");
    assert_eq!(installed["ready"], "1/1");
    let again = env.nexus(&["operator", "install", "--image", &image]);
    assert!(!again.status.success() && text(&again).contains("already installed"), "{}", text(&again));

    // The daemon yields the cluster: the operator holds the Lease.
    let status = eventually("the operator to hold the lease", Duration::from_secs(60), || async {
        let s = json(&env.nexus(&["operator", "status", "-o", "json"]));
        match s["leader"].as_str() {
            Some(l) if l.starts_with("nexus-operator-") => Ok(s),
            _ => Err(s.to_string()),
        }
    })
    .await;
    assert_eq!(status["image"], image.as_str());
    assert_eq!(status["phases"]["Running"], 1, "{status:#}");
    assert!(status["running"][0].as_str().unwrap().contains("sha256:"), "{status:#}");

    // A change to the capability: the operator (not the daemon) reconciles it to Running.
    let caps: Api<NexusAICapability> = Api::namespaced(client.clone(), NAMESPACE);
    let name = caps.list(&Default::default()).await.unwrap().items[0].metadata.name.clone().unwrap();
    let before = metrics(&client).await.unwrap();
    let patched = caps
        .patch(&name, &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"version": "1.0.1"}})))
        .await
        .unwrap();
    let generation = patched.metadata.generation;
    eventually("the operator to reconcile the change to Running", Duration::from_secs(120), || async {
        let c = caps.get(&name).await.map_err(|e| e.to_string())?;
        let st = c.status.clone().unwrap_or_default();
        let done =
            st.observed_generation == generation && st.phase.map(|p| p.to_string()).as_deref() == Some("Running");
        if done { Ok(()) } else { Err(format!("{:?} at {:?}: {:?}", st.phase, st.observed_generation, st.message)) }
    })
    .await;
    let passes = |body: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix("nexus_dev_reconciliations_total "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let after = metrics(&client).await.unwrap();
    assert!(passes(&after) > passes(&before), "/metrics counts the pass: before {before}\nafter {after}");

    // Upgrade to a new digest (another label, so another image): it rolls out.
    let upgraded = json(&env.nexus(&[
        "operator",
        "upgrade",
        "--base",
        &bed.base_image,
        "--label",
        "test.nexus.ai/upgrade=2",
        "-o",
        "json",
    ]));
    let new_image = upgraded["image"].as_str().unwrap().to_owned();
    assert_ne!(new_image, image, "{upgraded:#}");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "nexus-system");
    let d = deployments.get("nexus-operator").await.unwrap();
    let running = d.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert_eq!(running, new_image);
    let status = json(&env.nexus(&["operator", "status", "-o", "json"]));
    assert_eq!(status["image"], new_image.as_str(), "{status:#}");

    // --full is refused while a capability exists; a plain uninstall leaves it and its workloads.
    let full = env.nexus(&["operator", "uninstall", "--full"]);
    assert!(!full.status.success() && text(&full).contains("capabilities still exist"), "{}", text(&full));
    let gone = env.nexus(&["operator", "uninstall"]);
    assert!(gone.status.success(), "{}", text(&gone));
    assert!(deployments.get_opt("nexus-operator").await.unwrap().is_none());
    assert!(caps.get_opt(&name).await.unwrap().is_some(), "the capability stays");
    let workloads: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    assert_eq!(workloads.list(&Default::default()).await.unwrap().items.len(), 2, "its workloads stay");

    let down = env.nexus(&["down", "--purge"]);
    assert!(down.status.success(), "{}", text(&down));
}
