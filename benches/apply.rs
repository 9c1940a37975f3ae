//! Issue #4's benchmark, against the test bed's emulators (MiniStack, which the shipped `local`
//! profile runs, and moto), directly and behind a loopback proxy that adds 50 ms to every
//! request (a real AWS region's round trip). Reported as times and ratios against baselines
//! measured in the same run; nothing is asserted. Issue 20 adds the depth of every run (the most
//! requests any one resource waited on in sequence, whatever the machine), the warm apply as a
//! user runs it (the binary, process start included), what the proxy adds to the warm apply in
//! round trips, and 1, 10 and 50 capabilities applied at once against MiniStack, which serves
//! requests in parallel, directly and behind the proxy.
//!
//! Run with `scripts/bench` (it starts the test bed and exports its settings).

// The integration tests' support code: the test bed as a benchmark sees it.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use crate::support::fixtures::{Spec, testbed_profile, testbed_profile_file_via};
use crate::support::proxy::Proxy;
use crate::support::{Emulator, TestBed, cpu, unique};
use nexus_dev::model::plan::{self, Plan};
use nexus_dev::model::spec::DeletionPolicy;
use nexus_dev::provision::aws::{Clients, Ctx, Target};
use nexus_dev::provision::{self, Options, Report};

const RTT: Duration = Duration::from_millis(50);

fn spec(prefix: &str) -> nexus_dev::model::spec::NexusAICapability {
    // The full capability: every data service and Cognito.
    Spec::example("nexus-ai-complete")
        .capability(&unique(prefix))
        .cognito(true)
        .deletion_policy(DeletionPolicy::Delete)
        .build()
}

fn plan_for(bed: &TestBed, prefix: &str) -> Plan {
    plan::build(&spec(prefix), &testbed_profile(bed))
}

async fn ctx_on(bed: &TestBed, endpoint: &str, serial: bool) -> Ctx {
    Ctx::new(Clients::connect(&Target::emulator(endpoint, "ap-southeast-1")).await, bed.account()).serial(serial)
}

/// The plan's dependency depth: the most AWS resources on one chain of `dependsOn`. A cold
/// apply can take no fewer steps than this, each at least one request after a first wave of
/// reads.
fn dependency_depth(plan: &Plan) -> usize {
    let aws: Vec<_> = plan.resources.iter().filter(|r| r.kind.is_aws()).collect();
    let mut depth: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    // The plan orders dependencies first.
    for r in &aws {
        let d = 1 + r.depends_on.iter().filter_map(|d| depth.get(d)).max().copied().unwrap_or(0);
        depth.insert(r.id(), d);
    }
    depth.into_values().max().unwrap_or(0)
}

/// `nexus-dev apply --only aws` of `spec_file`, as a user runs it: the binary, process start
/// and connecting included. Its wall time and JSON report.
fn apply_binary(profile: &str, spec_file: &std::path::Path, state: &std::path::Path) -> (Duration, serde_json::Value) {
    let t = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["apply", "--only", "aws", "-f", spec_file.to_str().expect("a UTF-8 path"), "-p", profile, "-o", "json"])
        .env("NEXUS_DEV_STATE_DIR", state)
        .output()
        .expect("nexus-dev runs");
    let took = t.elapsed();
    assert!(out.status.success(), "nexus-dev apply failed: {}", String::from_utf8_lossy(&out.stderr));
    (took, serde_json::from_slice(&out.stdout).expect("a JSON report"))
}

async fn timed(plan: &Plan, c: &Ctx, concurrency: usize) -> (Duration, Report) {
    let opts = Options { concurrency, ..Options::default() };
    let t = Instant::now();
    let r = provision::apply(plan, c, &opts).await;
    assert!(r.ok(), "benchmark apply failed: {:?}", r.failures().next());
    (t.elapsed(), r)
}

/// Three cold applies at `endpoint`, each of a capability of its own, in parallel or one call
/// after another (`serial`): the median's time and report, and the plans.
async fn cold_median(bed: &TestBed, endpoint: &str, serial: bool) -> (Duration, Report, Vec<Plan>) {
    let plans: Vec<Plan> = (0..3).map(|_| plan_for(bed, if serial { "bs" } else { "bp" })).collect();
    let concurrency = if serial { 1 } else { Options::default().concurrency };
    let mut runs = Vec::new();
    for p in &plans {
        runs.push(timed(p, &ctx_on(bed, endpoint, serial).await, concurrency).await);
    }
    runs.sort_by_key(|(d, _)| *d);
    let (d, r) = runs.swap_remove(1);
    (d, r, plans)
}

/// Applies every plan at once with the one client set `c`: the total time and each report.
async fn all_at_once(plans: &[Plan], c: &Ctx) -> (Duration, Vec<(Duration, Report)>) {
    let t = Instant::now();
    let results = futures::future::join_all(plans.iter().map(|p| timed(p, c, Options::default().concurrency))).await;
    (t.elapsed(), results)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The cold and warm figures of one emulator, directly and behind the proxy.
async fn figures(bed: &TestBed, plans: &mut Vec<Plan>) {
    let _ = bed.aws().await;
    let upstream = bed.aws_endpoint.trim_start_matches("http://").parse().expect("emulator address");
    let proxy = Proxy::start(upstream).await.expect("proxy");
    let concurrency = Options::default().concurrency;
    let mut warm_by_latency = Vec::new();
    for (label, endpoint, latency) in
        [("direct", bed.aws_endpoint.clone(), Duration::ZERO), ("behind 50 ms proxy", proxy.url(), RTT)]
    {
        proxy.set_latency(latency);
        let (parallel, cold, parallel_plans) = cold_median(bed, &endpoint, false).await;
        let (serial, serial_report, serial_plans) = cold_median(bed, &endpoint, true).await;
        let parallel_plan = parallel_plans[0].clone();
        let resources = parallel_plan.resources.iter().filter(|r| r.kind.is_aws()).count();
        // One client set for the warm runs, its connections kept; the IDs the cold run found
        // are remembered (this machine's memory, as the capability's status for the reconciler).
        let warm_ctx = ctx_on(bed, &endpoint, false).await;
        let mut warm = Vec::new();
        let (mut warm_writes, mut warm_depths, mut warm_reads) = (0, Vec::new(), 0);
        for _ in 0..5 {
            let (d, r) = timed(&parallel_plan, &warm_ctx, concurrency).await;
            warm.push(d);
            warm_writes += r.mutating_calls;
            warm_depths.push(r.depth);
            warm_reads = r.read_calls;
        }
        let warm = median(warm);
        warm_by_latency.push(warm);
        println!(
            "  {label}: full capability ({resources} AWS resources, dependency depth {}, {} mutating and {} read calls cold)",
            dependency_depth(&parallel_plan),
            cold.mutating_calls,
            cold.read_calls,
        );
        println!(
            "    cold apply, parallel ({concurrency} at once)    {:>8.0} ms (median of 3), depth {}",
            ms(parallel),
            cold.depth
        );
        println!(
            "    cold apply, one call after another    {:>8.0} ms (median of 3), depth {}",
            ms(serial),
            serial_report.depth
        );
        println!("    speed-up                              {:>8.1}x", serial.as_secs_f64() / parallel.as_secs_f64());
        println!(
            "    warm apply (median of 5)              {:>8.0} ms, depth {warm_depths:?}, {warm_reads} reads, {warm_writes} mutating calls in 5 runs",
            ms(warm)
        );
        // The same warm apply as a user runs it: the binary, against the same endpoint.
        let dir = tempfile::tempdir().expect("a temporary directory");
        let profile = testbed_profile_file_via(dir.path(), bed, &endpoint);
        let spec_file = dir.path().join("capability.yaml");
        let cr = spec("bx");
        std::fs::write(&spec_file, serde_yaml::to_string(&cr).expect("YAML")).expect("spec written");
        let state = dir.path().join("state");
        let (cold_cli, _) = apply_binary(&profile, &spec_file, &state);
        let runs: Vec<_> = (0..5).map(|_| apply_binary(&profile, &spec_file, &state)).collect();
        let depths: Vec<_> = runs.iter().map(|(_, r)| r["depth"].as_u64().unwrap_or_default()).collect();
        let writes: u64 = runs.iter().map(|(_, r)| r["mutatingCalls"].as_u64().unwrap_or_default()).sum();
        let warm_cli = median(runs.into_iter().map(|(d, _)| d).collect());
        println!("    nexus-dev apply --only aws, cold      {:>8.0} ms (process start included)", ms(cold_cli));
        println!(
            "    nexus-dev apply --only aws, warm      {:>8.0} ms (median of 5, process start included), depth {depths:?}, {writes} mutating calls",
            ms(warm_cli)
        );
        plans.push(plan::build(&cr, &testbed_profile(bed)));
        plans.extend(parallel_plans);
        plans.extend(serial_plans);
    }
    // What the round trips cost the warm apply, the emulator's own time set aside.
    let over = warm_by_latency[1].saturating_sub(warm_by_latency[0]);
    println!(
        "  warm apply behind the proxy minus direct: {:.0} ms = {:.1} round trips of {} ms",
        ms(over),
        over.as_secs_f64() / RTT.as_secs_f64(),
        RTT.as_millis()
    );
    println!();
}

/// 1, 10 and 50 capabilities at once, cold then warm, with one client set (as one daemon has)
/// at `endpoint`: the plans, to clean up.
async fn scale(bed: &TestBed, endpoint: &str, label: &str) -> Vec<Plan> {
    let c = ctx_on(bed, endpoint, false).await;
    println!("scale, {label}, N capabilities applied at once:");
    println!(
        "  {:>3}  {:>9}  {:>9}  {:>13}  {:>13}  {:>5}",
        "N", "cold ms", "warm ms", "cold ×(N=1)", "warm ×(N=1)", "depth"
    );
    let mut base: Option<(Duration, Duration)> = None;
    let mut scaled: Vec<Plan> = Vec::new();
    for n in [1usize, 10, 50] {
        let many: Vec<Plan> = (0..n).map(|_| plan_for(bed, "bn")).collect();
        let before = cpu::Snapshot::take();
        let (cold, results) = all_at_once(&many, &c).await;
        let (warm, warm_results) = all_at_once(&many, &c).await;
        let used = cpu::Snapshot::take().since(&before);
        let depth = results.iter().map(|(_, r)| r.depth).max().unwrap_or(0);
        let warm_depth = warm_results.iter().map(|(_, r)| r.depth).max().unwrap_or(0);
        let (one_cold, one_warm) = *base.get_or_insert((cold, warm));
        println!(
            "  {n:>3}  {:>9.0}  {:>9.0}  {:>13.1}  {:>13.1}  {depth}/{warm_depth}   CPU: {}",
            ms(cold),
            ms(warm),
            cold.as_secs_f64() / one_cold.as_secs_f64(),
            warm.as_secs_f64() / one_warm.as_secs_f64(),
            cpu::top(&used, 3)
        );
        scaled.extend(many);
    }
    println!(
        "  (×(N=1): the time against one capability's; linear would be ×N. depth: cold/warm, the largest of the N runs)"
    );
    println!();
    scaled
}

#[tokio::main]
async fn main() {
    nexus_dev::init_tls();
    println!("nexus-dev apply benchmark (the proxy adds {} ms per request)", RTT.as_millis());
    println!();
    // MiniStack first: the emulator the shipped `local` profile runs.
    let mut cleanup: Vec<(TestBed, Vec<Plan>)> = Vec::new();
    for emulator in [Emulator::Ministack, Emulator::Moto] {
        let bed = TestBed::on(emulator);
        println!("{} at {}", emulator.as_str(), bed.aws_endpoint);
        let mut plans = Vec::new();
        figures(&bed, &mut plans).await;
        cleanup.push((bed, plans));
    }

    // Scale against MiniStack, which serves requests in parallel (moto answers one at a time):
    // directly, where its own CPU is all there is, and behind the proxy, where each capability
    // waits on round trips as it would on AWS.
    let bed = TestBed::on(Emulator::Ministack);
    let upstream = bed.aws_endpoint.trim_start_matches("http://").parse().expect("emulator address");
    let proxy = Proxy::start(upstream).await.expect("proxy");
    let mut scaled = scale(&bed, &bed.aws_endpoint, &format!("MiniStack at {} (directly)", bed.aws_endpoint)).await;
    proxy.set_latency(RTT);
    scaled.extend(scale(&bed, &proxy.url(), "MiniStack behind the 50 ms proxy").await);
    cleanup.push((bed, scaled));

    // Leave the emulators as they were.
    for (bed, plans) in cleanup {
        let c = ctx_on(&bed, &bed.aws_endpoint, false).await;
        let gone = plans.iter().map(|p| {
            let c = c.clone();
            async move { provision::delete(p, &c, &Options::default(), DeletionPolicy::Delete).await }
        });
        futures::future::join_all(gone).await;
    }
}
