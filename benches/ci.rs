//! Issue 15's benchmark, reported and not asserted: `nexus-dev ci` of the example project on a
//! warm machine (images cached, the environment up from a first run: a reused cluster), with the
//! time of each phase, against the same steps chained by hand (`up --no-watch`, then the
//! command). Goals: the harness adds ≤ 2 s over the chained steps; setup (up to the first test
//! line) ≤ 20 s.
//!
//! Run with `scripts/bench --bench ci`. It owns the fixed names tests/it/kind_e2e.rs owns.

#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use crate::support::TestBed;
use crate::support::kind::Env;

const ROUNDS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let _lock = support::fixed_names_lock();
    let bed = TestBed::from_env();
    let env = Env::prepare("nexus-dev-ci-bench", &bed, TestBed::kind_node_image());

    // The first run makes the environment (cold), and keeps it.
    let t = Instant::now();
    let first = env.nexus(&["ci", "--keep", "-o", "json", "--", "true"]);
    assert!(first.status.success(), "{}", support::project::text(&first));
    let cold = t.elapsed();

    let mut chained = Vec::new();
    let mut harness = Vec::new();
    let mut setup = Vec::new();
    let mut phases: Vec<(String, Vec<u64>)> = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let up = env.nexus(&["up", "--no-watch", "-o", "json"]);
        assert!(up.status.success(), "{}", support::project::text(&up));
        let run = std::process::Command::new("true").status().unwrap();
        assert!(run.success());
        chained.push(t.elapsed());

        let t = Instant::now();
        let ci = env.nexus(&["ci", "--keep", "-o", "json", "--", "true"]);
        harness.push(t.elapsed());
        assert!(ci.status.success(), "{}", support::project::text(&ci));
        let summary: serde_json::Value = serde_json::from_slice(&ci.stdout).unwrap();
        let mut before_test = 0;
        for p in summary["phases"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap().to_owned();
            let ms = p["ms"].as_u64().unwrap();
            if name == "test" {
                setup.push(Duration::from_millis(before_test));
            }
            before_test += ms;
            match phases.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push(ms),
                None => phases.push((name, vec![ms])),
            }
        }
    }
    let _ = env.nexus(&["down", "--purge"]);

    let (chained, harness, setup) = (median(chained), median(harness), median(setup));
    println!(
        "nexus-dev ci on a warm machine (examples/apps, profile local, reused kind cluster; medians of {ROUNDS})\n"
    );
    println!("  first run (cold: kind cluster, containers, images)   {}", ms(cold));
    println!("  chained by hand: up --no-watch, then the command    {}", ms(chained));
    println!("  nexus-dev ci --keep -- true                         {}", ms(harness));
    println!(
        "  harness over chained                                {:+.0} ms (goal ≤ +2000 ms)",
        harness.as_secs_f64() * 1000.0 - chained.as_secs_f64() * 1000.0
    );
    println!("  setup up to the first test line                     {} (goal ≤ 20 s)", ms(setup));
    println!("\n  phases (median ms):");
    for (name, v) in phases {
        let m = median(v.into_iter().map(Duration::from_millis).collect());
        println!("    {name:<10} {}", ms(m));
    }
}
