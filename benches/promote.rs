//! Issue 14's benchmark, reported and not asserted: `nexus-dev promote` of the example capability
//! to the test bed's EKS stand-ins, as a user runs it (the process start included), with a
//! proxy that adds 50 ms to every request in front of the AWS endpoint, the source registry and
//! the ECR registry stand-in. Cold: nothing in the target (every blob copied, every resource
//! made); warm: everything there (median of 5). The baseline, taken in the same run: a warm
//! `nexus-dev diff` of the same spec and profile (the AWS read pass alone). Goals: warm promote
//! ≤ 1 s; blob copies in parallel, one round trip for an image already present.
//!
//! Run with `scripts/bench --bench promote`.

#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use crate::support::eks::{
    EcrStandIn, ensure_cluster, json, promote, release_of, standin_profile, synthetic_image, var,
};
use crate::support::proxy::Proxy;
use nexus_dev::promote::registry::Registry;

const RTT: Duration = Duration::from_millis(50);
const ROUNDS: usize = 5;
/// Each platform's own layer; an image has two platforms and a shared layer.
const LAYER_BYTES: usize = 8 << 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn proxy(url: &str) -> Proxy {
    let p = Proxy::start(url.trim_start_matches("http://").parse().expect("an address")).await.expect("proxy");
    p.set_latency(RTT);
    p
}

#[tokio::main]
async fn main() {
    nexus_dev::init_tls();
    let (bed, engine, _cleanup) = support::env::setup("promote-bench").await;
    let (_, eks) = support::eks::clients(&var("NEXUS_TESTBED_EKS_REGION")).await;
    ensure_cluster(&eks).await;
    let dir = tempfile::tempdir().unwrap();

    // The source registry with the two images, the ECR stand-in, each behind its proxy.
    let source = nexus_dev::env::registry::ensure(&engine, &support::fixtures::standin_registry(&bed, vec![]))
        .await
        .expect("source registry");
    let (_ecr, ecr_url) = EcrStandIn::start(&support::unique("ecr-bench"));
    let (aws, src, dst) =
        (proxy(&var("NEXUS_TESTBED_AWS_ENDPOINT")).await, proxy(&source.endpoint).await, proxy(&ecr_url).await);
    let cap = support::unique("pb");
    let spec = dir.path().join("cap.yaml");
    let example =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml"))
            .unwrap()
            .replace("myapp", &cap);
    std::fs::write(&spec, example).unwrap();
    let registry = Registry::new(&source.endpoint, None, None).unwrap();
    let mut images = std::collections::BTreeMap::new();
    for component in ["backend", "frontend"] {
        let repo = format!("{cap}-{component}");
        let digest = synthetic_image(&registry, &repo, component, LAYER_BYTES).await;
        images.insert(component.to_owned(), format!("{}/{repo}@{digest}", src.addr()));
    }
    let release = release_of(&spec, images, "sha256:bench");
    let release_file = release.write(&dir.path().join(".nexus-dev/releases")).unwrap();
    let profile = standin_profile(dir.path(), "123456789012", &dst.addr().to_string());
    let profile = {
        // Every AWS call through the proxy; EKS tokens name the STS the cluster verifies them
        // with (the webhook takes moto's address only, as EKS takes only STS's hostnames).
        let moto = var("NEXUS_TESTBED_AWS_ENDPOINT");
        let text = std::fs::read_to_string(&profile)
            .unwrap()
            .replace(&format!("endpoint: {moto}"), &format!("endpoint: {}\n  stsEndpoint: {moto}", aws.url()))
            // The issuer promote reads from DescribeCluster, named so that `diff` plans the same.
            + &format!("irsa:\n  issuer: {}\n", var("NEXUS_TESTBED_SA_ISSUER"));
        std::fs::write(&profile, text).unwrap();
        profile
    };
    let args = [
        "-f",
        spec.to_str().unwrap(),
        "--to",
        profile.as_str(),
        "--release",
        release_file.to_str().unwrap(),
        "--yes",
        "-o",
        "json",
    ];

    let t = Instant::now();
    let cold = json(&promote(dir.path(), &args));
    let cold_time = t.elapsed();
    let copies = cold["applied"]["images"].as_array().unwrap().clone();
    let blobs: u64 = copies.iter().map(|i| i["blobsCopied"].as_u64().unwrap()).sum();
    let bytes: u64 = copies.iter().map(|i| i["bytesCopied"].as_u64().unwrap()).sum();
    assert_eq!(cold["applied"]["outcome"], "succeeded", "{}", cold["applied"]);

    let mut warm = Vec::new();
    let mut warm_mutating = 0;
    let mut laps = Vec::new();
    let before = (src.requests(), dst.requests());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let again = json(&promote(dir.path(), &args));
        warm.push(t.elapsed());
        warm_mutating += again["applied"]["mutatingCalls"].as_u64().unwrap();
        laps.push(again["timingsMs"].to_string());
    }
    let registry_requests = (src.requests() - before.0, dst.requests() - before.1);
    let mut diff = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
            .args(["diff", "-f", spec.to_str().unwrap(), "-p", &profile, "-o", "json"])
            .current_dir(dir.path())
            .env("AWS_ACCESS_KEY_ID", var("NEXUS_TESTBED_EKS_ACCESS_KEY_ID"))
            .env("AWS_SECRET_ACCESS_KEY", var("NEXUS_TESTBED_EKS_SECRET_ACCESS_KEY"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        diff.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let (warm, diff) = (median(warm), median(diff));

    println!("nexus-dev promote benchmark: the example capability to the EKS stand-ins, every AWS and registry");
    println!("request behind a proxy that adds {} ms", RTT.as_millis());
    println!();
    println!("  cold promote (nothing in the target)      {:>8.0} ms", ms(cold_time));
    println!("    images: {} copied, {blobs} blobs, {:.1} MiB", copies.len(), bytes as f64 / f64::from(1 << 20));
    println!("  warm promote (median of {ROUNDS})               {:>8.0} ms", ms(warm));
    println!(
        "    {warm_mutating} mutating AWS calls in {ROUNDS} runs; registry requests per run: source {}, target {}",
        registry_requests.0 / ROUNDS as u64,
        registry_requests.1 / ROUNDS as u64
    );
    println!("    steps (ms) of each run: {}", laps.join(" "));
    println!("  baseline: warm diff (median of {ROUNDS})         {:>8.0} ms", ms(diff));
    println!("  warm promote / warm diff                  {:>8.2}x", warm.as_secs_f64() / diff.as_secs_f64());
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(bed.kube().await);
    let _ = namespaces.delete(&format!("{cap}-dev"), &Default::default()).await;
}
