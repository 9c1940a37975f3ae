//! Issue #5's benchmark: time from a NexusAICapability created to Running, for the full example
//! and for 20 capabilities at once, with the controller running in-process against the test
//! bed (real API server, kwok nodes, moto). Reported, not asserted. Run with `scripts/bench`.

// The integration tests' support code: the test bed as a benchmark sees it.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use crate::support::fixtures::{Spec, testbed_profile};
use crate::support::{TestBed, TestNamespace, cpu, unique};
use futures::StreamExt;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use nexus_dev::model::spec::{DeletionPolicy, NexusAICapability, Phase};
use nexus_dev::reconcile::Context;

/// Creates `n` full capabilities at once; returns the time until every one is Running.
async fn to_running(api: &Api<NexusAICapability>, ns: &str, n: usize) -> (Duration, Vec<String>) {
    let crs: Vec<NexusAICapability> = (0..n)
        .map(|_| {
            let mut cr = Spec::example("nexus-ai-complete")
                .capability(&unique("rb"))
                .cognito(true)
                .deletion_policy(DeletionPolicy::Delete)
                .build();
            cr.metadata.namespace = Some(ns.to_owned());
            cr
        })
        .collect();
    let names: Vec<String> = crs.iter().map(|c| c.name_any()).collect();
    let mut pending: std::collections::HashSet<String> = names.iter().cloned().collect();
    let mut events = watcher(api.clone(), watcher::Config::default()).applied_objects().boxed();
    let start = Instant::now();
    let params = PostParams::default();
    for created in futures::future::join_all(crs.iter().map(|cr| api.create(&params, cr))).await {
        created.expect("create capability");
    }
    while !pending.is_empty() {
        match tokio::time::timeout(Duration::from_secs(300), events.next()).await {
            Ok(Some(Ok(cr))) => {
                if cr.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running) {
                    pending.remove(&cr.name_any());
                }
            }
            Ok(Some(Err(e))) => panic!("watch failed: {e}"),
            _ => panic!("capabilities not Running after 5 minutes: {pending:?}"),
        }
    }
    (start.elapsed(), names)
}

#[tokio::main]
async fn main() {
    nexus_dev::init_tls();
    let bed = TestBed::from_env();
    let client = bed.kube().await;
    nexus_dev::provision::kube::install_crd(&client).await.expect("CRD");
    let ns = TestNamespace::create(&client, "bench").await;
    let ctx =
        Context::new(client.clone(), testbed_profile(&bed)).with(Duration::from_secs(300), Duration::from_secs(2));
    let scope = ns.name.clone();
    let controller = tokio::spawn(async move {
        nexus_dev::reconcile::controller::run_in(ctx, Some(&scope), std::future::pending()).await
    });
    let api: Api<NexusAICapability> = Api::namespaced(client.clone(), &ns.name);

    println!("nexus-dev reconcile benchmark (controller in-process; test bed API server, kwok, moto)");
    let (one, mut names) = to_running(&api, &ns.name, 1).await;
    println!("  full example, created → Running         {:>8.0} ms", one.as_secs_f64() * 1000.0);
    let before = cpu::Snapshot::take();
    let (twenty, more) = to_running(&api, &ns.name, 20).await;
    let used = cpu::Snapshot::take().since(&before);
    names.extend(more);
    println!("  20 capabilities at once, all Running    {:>8.0} ms", twenty.as_secs_f64() * 1000.0);
    println!("  ×{:.1} the time for ×20 the work", twenty.as_secs_f64() / one.as_secs_f64());
    let total: f64 = used.iter().map(|(_, s)| s).sum();
    println!(
        "  CPU meanwhile: {total:.1} s on {} cores in {:.1} s; {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        twenty.as_secs_f64(),
        cpu::top(&used, 5)
    );

    // Clean up through the controller (deletionPolicy Delete), then stop it.
    for n in &names {
        let _ = api.delete(n, &DeleteParams::default()).await;
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline && !api.list(&Default::default()).await.map(|l| l.items.is_empty()).unwrap_or(true)
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    controller.abort();
}
