//! Issue #6's benchmark, against the test bed, reported and not asserted: `nexus-dev up` on a
//! profile with `cluster.provider: existing` (the test bed's control plane) and the emulator
//! container (the stand-in moto image), through the release binary as a user runs it.
//!
//! - cold: nothing running (no emulator container, no daemon) → every capability Running;
//! - warm: everything running → `up` again (goal ≤ 2 s), five times, median;
//! - baseline, in the same run: `nexus-dev validate` of the same project (process start, project
//!   and spec loading), so the warm figure reads as a ratio to the least any command costs.
//!
//! Run with `scripts/bench --bench up`.

// The integration tests' support code: the test bed as a benchmark sees it.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::TestBed;
use crate::support::project::{ScratchProject, text};

fn timed(p: &ScratchProject, args: &[&str]) -> (Duration, serde_json::Value) {
    let t = Instant::now();
    let out = p.nexus(args);
    let d = t.elapsed();
    assert!(out.status.success(), "nexus-dev {}: {}", args.join(" "), text(&out));
    (d, serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn steps(v: &serde_json::Value) -> String {
    v["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| format!("{} {} ms", s["step"].as_str().unwrap_or("?"), s["ms"]))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let bed = TestBed::from_env();
    let p = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "bu");
    let spec = p.spec();
    let spec = spec.to_str().expect("utf-8 path");
    println!(
        "nexus-dev up benchmark (existing cluster: the test bed's control plane; emulator: stand-in moto container)"
    );
    println!();

    let baseline = median((0..5).map(|_| timed(&p, &["validate", "-f", spec, "-o", "json"]).0).collect());
    let (cold, cold_json) = timed(&p, &["up", "--no-watch", "-o", "json", "--timeout", "300s"]);
    let mut warm = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..5 {
        let (d, v) = timed(&p, &["up", "--no-watch", "-o", "json"]);
        warm.push(d);
        last = v;
    }
    let warm_median = median(warm.clone());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("baseline  `validate` of the project           {:>8.0} ms", ms(baseline));
    println!(
        "cold up   emulator + daemon + apply → Running {:>8.0} ms  ({:.1}× baseline)",
        ms(cold),
        ms(cold) / ms(baseline)
    );
    println!("          steps: {}", steps(&cold_json));
    println!(
        "warm up   everything running (median of 5)    {:>8.0} ms  ({:.1}× baseline; goal ≤ 2000 ms: {})",
        ms(warm_median),
        ms(warm_median) / ms(baseline),
        if warm_median <= Duration::from_secs(2) { "met" } else { "NOT met" }
    );
    println!("          runs: {:?} ms", warm.iter().map(|d| ms(*d).round() as u64).collect::<Vec<_>>());
    println!("          steps: {}", steps(&last));
    println!("cold / warm: {:.1}×", ms(cold) / ms(warm_median));

    let profile = p.profile();
    let deleted = p.nexus(&["delete", "-f", spec, "-p", profile.to_str().expect("utf-8 path"), "--yes"]);
    assert!(deleted.status.success(), "{}", text(&deleted));
    let purged = p.nexus(&["down", "--purge"]);
    assert!(purged.status.success(), "{}", text(&purged));
}
