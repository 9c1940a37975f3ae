//! Issue #4's benchmark, against the test bed's emulator, directly and behind a loopback proxy
//! that adds 50 ms to every request (a real AWS region's round trip). Reported as times and
//! ratios against baselines measured in the same run; nothing is asserted.
//!
//! Run with `scripts/bench` (it starts the test bed and exports its settings).

// The integration tests' support code: the test bed as a benchmark sees it.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use crate::support::fixtures::{Spec, testbed_profile};
use crate::support::proxy::Proxy;
use crate::support::{TestBed, cpu, unique};
use nexus_dev::model::plan::{self, Plan};
use nexus_dev::model::spec::DeletionPolicy;
use nexus_dev::provision::aws::{Clients, Ctx, Target};
use nexus_dev::provision::{self, Options, Report};

const RTT: Duration = Duration::from_millis(50);

fn plan_for(bed: &TestBed, prefix: &str) -> Plan {
    // The full capability: every data service and Cognito.
    let cr = Spec::example("nexus-ai-complete")
        .capability(&unique(prefix))
        .cognito(true)
        .deletion_policy(DeletionPolicy::Delete)
        .build();
    plan::build(&cr, &testbed_profile(bed))
}

async fn ctx(endpoint: &str, serial: bool) -> Ctx {
    Ctx::new(Clients::connect(&Target::emulator(endpoint, "ap-southeast-1")).await, TestBed::from_env().account())
        .serial(serial)
}

async fn timed(plan: &Plan, c: &Ctx, concurrency: usize) -> (Duration, Report) {
    let opts = Options { concurrency, ..Options::default() };
    let t = Instant::now();
    let r = provision::apply(plan, c, &opts).await;
    assert!(r.ok(), "benchmark apply failed: {:?}", r.failures().next());
    (t.elapsed(), r)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    nexus_dev::init_tls();
    let bed = TestBed::from_env();
    let _ = bed.aws().await;
    let upstream = bed.aws_endpoint.trim_start_matches("http://").parse().expect("emulator address");
    let proxy = Proxy::start(upstream).await.expect("proxy");
    let mut plans = Vec::new();
    println!(
        "nexus-dev apply benchmark (emulator: moto at {}, proxy adds {} ms per request)",
        bed.aws_endpoint,
        RTT.as_millis()
    );
    println!();

    for (label, endpoint, latency) in
        [("direct", bed.aws_endpoint.clone(), Duration::ZERO), ("behind 50 ms proxy", proxy.url(), RTT)]
    {
        proxy.set_latency(latency);
        let parallel_plan = plan_for(&bed, "bp");
        let serial_plan = plan_for(&bed, "bs");
        let resources = parallel_plan.resources.iter().filter(|r| r.kind.is_aws()).count();
        let (parallel, cold) = timed(&parallel_plan, &ctx(&endpoint, false).await, 16).await;
        let (serial, _) = timed(&serial_plan, &ctx(&endpoint, true).await, 1).await;
        let warm_ctx = ctx(&endpoint, false).await;
        let mut warm = Vec::new();
        let mut warm_writes = 0;
        for _ in 0..5 {
            let (d, r) = timed(&parallel_plan, &warm_ctx, 16).await;
            warm.push(d);
            warm_writes += r.mutating_calls;
        }
        let warm = median(warm);
        println!("{label}: full capability ({resources} AWS resources, {} mutating calls cold)", cold.mutating_calls);
        println!("  cold apply, parallel (16 at once)     {:>8.0} ms", ms(parallel));
        println!("  cold apply, one call after another    {:>8.0} ms", ms(serial));
        println!("  speed-up                              {:>8.1}x", serial.as_secs_f64() / parallel.as_secs_f64());
        println!(
            "  warm apply (median of 5)              {:>8.0} ms, {warm_writes} mutating calls in 5 runs",
            ms(warm)
        );
        println!();
        plans.push(parallel_plan);
        plans.push(serial_plan);
    }

    // Scale: 50 capabilities at once against one, directly.
    let endpoint = bed.aws_endpoint.clone();
    let one = plan_for(&bed, "b1");
    let c = ctx(&endpoint, false).await;
    let (single, _) = timed(&one, &c, 16).await;
    let fifty: Vec<Plan> = (0..50).map(|_| plan_for(&bed, "b50")).collect();
    let before = cpu::Snapshot::take();
    let t = Instant::now();
    let runs = fifty.iter().map(|p| {
        let c = c.clone();
        async move { timed(p, &c, 16).await }
    });
    let results = futures::future::join_all(runs).await;
    let all = t.elapsed();
    let used = cpu::Snapshot::take().since(&before);
    let resources: usize = fifty.iter().map(|p| p.resources.iter().filter(|r| r.kind.is_aws()).count()).sum();
    println!("scale, direct:");
    println!("  one capability                        {:>8.0} ms", ms(single));
    println!(
        "  50 capabilities at once               {:>8.0} ms ({resources} resources, {} mutating calls)",
        ms(all),
        results.iter().map(|(_, r)| r.mutating_calls).sum::<u64>()
    );
    println!(
        "  total time ×{:.1} for ×50 the work ({:.0} ms per capability)",
        all.as_secs_f64() / single.as_secs_f64(),
        ms(all) / 50.0
    );
    println!("  CPU meanwhile: {}", cpu::top(&used, 4));

    // Leave the emulator as it was.
    plans.push(one);
    plans.extend(fifty);
    let cleanup = plans.iter().map(|p| {
        let c = c.clone();
        async move { provision::delete(p, &c, &Options::default(), DeletionPolicy::Delete).await }
    });
    futures::future::join_all(cleanup).await;
}
