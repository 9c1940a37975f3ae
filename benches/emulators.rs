//! Issue 17's comparison of the emulators that need no token, moto and MiniStack, in one run
//! on this machine: each runs as the nexus-dev-aws container would (the test bed's images),
//! from a fresh container. Reported side by side; nothing is asserted.
//! - start: container created and started until its readiness endpoint answers;
//! - coverage: every resource of the complete example and the Cognito one, created (or found,
//!   for the OIDC provider they share), then unchanged;
//! - cold and warm apply of the full capability (every data service and Cognito), directly and
//!   behind a proxy adding 50 ms per request;
//! - memory of the container at the end (its cgroup's usage, as `docker stats` shows it).
//!
//! Run with `scripts/bench --bench emulators`.

#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::support::fixtures::{Spec, testbed_profile};
use crate::support::proxy::Proxy;
use crate::support::{TestBed, unique};
use nexus_dev::env::ProjectId;
use nexus_dev::env::docker::Engine;
use nexus_dev::env::emulator::{self, EmulatorConfig};
use nexus_dev::model::outcome::Outcome;
use nexus_dev::model::plan::{self, Plan};
use nexus_dev::model::profile::{Emulator, Profile};
use nexus_dev::model::spec::DeletionPolicy;
use nexus_dev::provision::aws::{Clients, Ctx, Target};
use nexus_dev::provision::{self, Options, Report};

const RTT: Duration = Duration::from_millis(50);
const REGION: &str = "us-east-1";

struct Row {
    emulator: &'static str,
    start: Duration,
    coverage: String,
    cold: Duration,
    warm: Duration,
    cold_proxy: Duration,
    warm_proxy: Duration,
    memory_mib: f64,
}

fn profile_for(bed: &TestBed, emulator: Emulator, account: &str) -> Profile {
    let mut p = testbed_profile(bed);
    p.aws.emulator = Some(emulator);
    p.aws.account = account.into();
    p
}

fn plan_of(example: &str, profile: &Profile) -> Plan {
    let cr = Spec::example(example)
        .capability(&unique("be"))
        .region(REGION)
        .cognito(true)
        .deletion_policy(DeletionPolicy::Delete)
        .build();
    plan::build(&cr, profile)
}

async fn apply(plan: &Plan, c: &Ctx) -> (Duration, Report) {
    let t = Instant::now();
    let r = provision::apply(plan, c, &Options::default()).await;
    (t.elapsed(), r)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure(bed: &TestBed, engine: &Engine, emulator: Emulator, image: &str, account: &str) -> Row {
    let profile = profile_for(bed, emulator, account);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut shipped = profile.clone();
    shipped.aws.endpoint = Some("http://localhost:4566".into());
    let mut cfg = EmulatorConfig::from_profile(&shipped, dir.path(), Some(image.to_owned()), |_| None)
        .expect("the emulator's configuration")
        .expect("an emulator");
    cfg.name = unique("bench-aws");
    cfg.host_port = None;
    cfg.attach = vec![];
    cfg.volume = cfg.volume.as_ref().map(|_| unique("bench-aws-data"));
    let t = Instant::now();
    let up = emulator::ensure(engine, &cfg).await.expect("the emulator starts");
    let start = t.elapsed();
    let endpoint = up.endpoint.clone();
    let ctx_at = |endpoint: String| async move {
        Ctx::new(Clients::connect(&Target::emulator(&endpoint, REGION)).await, account)
    };

    // Coverage: both examples, created then unchanged.
    let mut covered = 0;
    let mut total = 0;
    let c = ctx_at(endpoint.clone()).await;
    let mut plans = Vec::new();
    for example in ["nexus-ai-complete", "with-cognito"] {
        let p = plan_of(example, &profile);
        let (_, first) = apply(&p, &c).await;
        let (_, second) = apply(&p, &c).await;
        total += first.resources.len();
        covered += first
            .resources
            .iter()
            .zip(&second.resources)
            // Created, or (the OIDC provider both examples share) found: then left alone.
            .filter(|(a, b)| {
                matches!(a.outcome, Outcome::Created | Outcome::Unchanged) && b.outcome == Outcome::Unchanged
            })
            .count();
        plans.push(p);
    }

    // The full capability, cold then warm (median of 5), directly and behind the proxy.
    let proxy = Proxy::start(endpoint.trim_start_matches("http://").parse().expect("address")).await.expect("proxy");
    let mut times = Vec::new();
    for (via, latency) in [(endpoint.clone(), Duration::ZERO), (proxy.url(), RTT)] {
        proxy.set_latency(latency);
        let c = ctx_at(via).await;
        let p = plan_of("nexus-ai-complete", &profile);
        let (cold, r) = apply(&p, &c).await;
        assert!(r.ok(), "{:?}: {:?}", emulator, r.failures().next());
        let mut warm = Vec::new();
        for _ in 0..5 {
            warm.push(apply(&p, &c).await.0);
        }
        warm.sort();
        times.push((cold, warm[2]));
        plans.push(p);
    }
    let stats = engine
        .docker()
        .stats(&cfg.name, Some(bollard::query_parameters::StatsOptions { stream: false, one_shot: true }))
        .next()
        .await;
    let memory_mib = stats
        .and_then(Result::ok)
        .and_then(|s| s.memory_stats)
        .and_then(|m| m.usage)
        .map(|b| b as f64 / (1024.0 * 1024.0))
        .unwrap_or(f64::NAN);
    let c = ctx_at(endpoint).await;
    for p in &plans {
        provision::delete(p, &c, &Options::default(), DeletionPolicy::Delete).await;
    }
    let _ = emulator::purge(engine, &cfg.name).await;
    if let Some(v) = &cfg.volume {
        let _ = engine.docker().remove_volume(v, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
    }
    Row {
        emulator: emulator.as_str(),
        start,
        coverage: format!("{covered}/{total}"),
        cold: times[0].0,
        warm: times[0].1,
        cold_proxy: times[1].0,
        warm_proxy: times[1].1,
        memory_mib,
    }
}

#[tokio::main]
async fn main() {
    nexus_dev::init_tls();
    let bed = TestBed::from_env();
    let engine = Engine::with_client(bed.docker().await, ProjectId::new(unique("bench")).expect("an id"))
        .await
        .expect("the Docker Engine");
    let moto = measure(&bed, &engine, Emulator::Moto, &bed.moto_image, "123456789012").await;
    let ministack = measure(&bed, &engine, Emulator::Ministack, &bed.ministack_image, "000000000000").await;
    println!("emulators without a token, side by side (one run; ratios MiniStack / moto)");
    println!();
    println!("                                      {:>12} {:>12} {:>8}", moto.emulator, ministack.emulator, "ratio");
    let row = |what: &str, a: f64, b: f64, unit: &str| {
        println!("  {what:<36} {a:>9.0} {unit:<2} {b:>9.0} {unit:<2} {:>7.2}x", b / a);
    };
    row("start (created → ready)", ms(moto.start), ms(ministack.start), "ms");
    println!("  {:<36} {:>12} {:>12}", "coverage (created, then unchanged)", moto.coverage, ministack.coverage);
    row("cold apply, full capability", ms(moto.cold), ms(ministack.cold), "ms");
    row("warm apply (median of 5)", ms(moto.warm), ms(ministack.warm), "ms");
    row("cold apply, behind 50 ms proxy", ms(moto.cold_proxy), ms(ministack.cold_proxy), "ms");
    row("warm apply, behind 50 ms proxy", ms(moto.warm_proxy), ms(ministack.warm_proxy), "ms");
    row("memory at the end", moto.memory_mib, ministack.memory_mib, "MiB");
}
