//! Issue 16's benchmark, reported and not asserted: the dashboard (release build, served in
//! this process as the daemon serves it) in headless Chromium (tests/browser/bench.cjs).
//!
//! - Page load with 50 capabilities (every step of each shown), against 1 (median of 5).
//! - Delta latency: one capability of 50 changes phase; the time until the page shows it,
//!   against the time a plain WebSocket client gets the delta (20 changes, 250 ms apart).
//! - 10,000 log lines a second for 5 s on the logs view: the page's frame times, and the CPU of
//!   Chromium and of the daemon's side (this process), against 5 s of the same page idle.
//! - Memory: resident memory grown by 16 log buffers filled past their cap, against the bytes
//!   the buffers count.
//!
//! Run with `scripts/bench --bench ui`.

#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use nexus_dev::model::spec::{NexusAICapability, NexusAICapabilityStatus, Phase, ResourceStatus};
use nexus_dev::ui::feed::{self, now_ms};
use nexus_dev::ui::hub::Live;
use nexus_dev::ui::logs::Logs;
use nexus_dev::ui::server;
use tokio::io::AsyncWriteExt;

use crate::support::browser::{Stages, browser};
use crate::support::dashboard;
use crate::support::fixtures::Spec;

const LOADS: usize = 5;
const CHANGES: usize = 20;

/// `n` capabilities of the minimal example, each Running with every resource Ready; the one at
/// `changed` in `phase` instead.
fn capabilities(n: usize, changed: Option<(usize, Phase)>) -> Vec<Arc<NexusAICapability>> {
    let profile = nexus_dev::input::profile::built_in("local").unwrap();
    (0..n)
        .map(|i| {
            let mut cr = Spec::example("minimal").capability(&format!("bench{i:02}")).build();
            cr.metadata.namespace = Some(format!("bench{i:02}-dev"));
            cr.metadata.name = Some(format!("bench{i:02}-dev"));
            cr.metadata.generation = Some(1);
            let plan = nexus_dev::model::plan::build(&cr, &profile);
            let phase = match changed {
                Some((c, phase)) if c == i => phase,
                _ => Phase::Running,
            };
            cr.status = Some(NexusAICapabilityStatus {
                phase: Some(phase),
                observed_generation: Some(1),
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
                ..Default::default()
            });
            Arc::new(cr)
        })
        .collect()
}

struct Bench {
    live: Arc<Live>,
    logs: Arc<Logs>,
    server: server::Server,
    timelines: HashMap<String, nexus_dev::ui::steps::Timeline>,
}

impl Bench {
    async fn start() -> Self {
        let (live, logs) = (Arc::new(Live::default()), Arc::new(Logs::default()));
        let parts = server::Parts { logs: logs.clone(), ..Default::default() };
        let server = server::start(live.clone(), parts).await.unwrap();
        Self { live, logs, server, timelines: HashMap::new() }
    }

    /// Publishes `crs` as the daemon's feed does; the time of the publication (ms).
    fn publish(&mut self, crs: &[Arc<NexusAICapability>]) -> u64 {
        let profile = nexus_dev::input::profile::built_in("local").unwrap();
        let caps = feed::capabilities(crs, None, &profile, &mut self.timelines, now_ms());
        let t = now_ms();
        self.live.publish(caps);
        t
    }
}

/// The browser script, its commands and its stages.
struct Page {
    node: tokio::process::Child,
    stages: Stages,
}

impl Page {
    async fn ask(&mut self, command: &str, stage: &str) -> serde_json::Value {
        let stdin = self.node.stdin.as_mut().unwrap();
        stdin.write_all(format!("{command}\n").as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
        self.next(stage).await
    }

    async fn next(&mut self, stage: &str) -> serde_json::Value {
        let line = tokio::time::timeout(Duration::from_secs(120), self.stages.next_line()).await;
        let line = line.unwrap_or_else(|_| panic!("no {stage} within 120 s")).unwrap().expect("the browser ended");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert_eq!(v["stage"], stage, "{v}");
        v
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn p95(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

/// The median time to load the overview with `rows` capabilities.
async fn load(page: &mut Page, rows: usize) -> u64 {
    let mut times = Vec::new();
    for _ in 0..LOADS {
        times.push(page.ask(&format!("load {rows}"), "load").await["ms"].as_u64().unwrap());
    }
    median(times)
}

#[tokio::main]
async fn main() {
    nexus_dev::init_tls();
    let mut bench = Bench::start().await;
    let (node, stages, _) = browser("bench.cjs", &bench.server.url());
    let mut page = Page { node, stages };

    // ---- page load: 1 capability (the baseline), then 50
    bench.publish(&capabilities(1, None));
    let one = load(&mut page, 1).await;
    let fifty_caps = capabilities(50, None);
    bench.publish(&fifty_caps);
    let fifty = load(&mut page, 50).await;
    println!(
        "page load (navigation to the whole matrix shown, median of {LOADS}): 50 capabilities {fifty} ms, 1 capability {one} ms (baseline): {:.2}×",
        fifty as f64 / one.max(1) as f64
    );

    // ---- delta latency: one of 50 changes phase
    let key = "bench25-dev/bench25-dev";
    page.ask(&format!("watch {key}"), "watching").await;
    let ws_url = format!("ws://{}/api/v1/stream?token={}", bench.server.addr, bench.server.token.as_str());
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let _snapshot = ws.next().await.unwrap().unwrap();
    let (mut shown, mut delivered) = (Vec::new(), Vec::new());
    for i in 0..CHANGES {
        let phase = if i % 2 == 0 { Phase::DeployingBackend } else { Phase::Running };
        let published = bench.publish(&capabilities(50, Some((25, phase))));
        let _ = ws.next().await.unwrap().unwrap();
        delivered.push(now_ms() - published);
        let seen = page.next("shown").await;
        assert_eq!(seen["phase"], serde_json::to_value(phase).unwrap(), "{seen}");
        shown.push(seen["t"].as_u64().unwrap().saturating_sub(published));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "delta latency, change to shown (50 capabilities, {CHANGES} changes): median {} ms, p95 {} ms, max {} ms; a plain WebSocket client gets the delta in median {} ms, p95 {} ms (baseline): {:.1}× at the median",
        median(shown.clone()),
        p95(shown.clone()),
        shown.iter().max().unwrap(),
        median(delivered.clone()),
        p95(delivered.clone()),
        median(shown.clone()) as f64 / median(delivered.clone()).max(1) as f64,
    );

    // ---- 10,000 log lines a second on the logs view, against the same page idle
    dashboard::open(&bench.logs);
    page.ask("logs", "logs").await;
    let node = page.node.id().unwrap();
    let hz = support::cpu::ticks_per_second();
    let before = support::cpu::descendants(node);
    page.ask("frames", "frames").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = page.ask("stop", "stopped").await;
    let idle_cpu = support::cpu::descendants(node).saturating_sub(before) as f64 / hz / 5.0;
    page.ask("frames", "frames").await;
    let flood = dashboard::flood(bench.logs.clone(), node, 5).await;
    let flooded = page.ask("stop", "stopped").await;
    println!(
        "logs at {:.0} lines/s for {:.1} s: frame time p95 {} ms, max {} ms, {} frames, long tasks {}, renderer main thread busy {:.0}%, last line shown: {}; Chromium {:.0}% of a core (idle page: {:.0}%, frame p95 {} ms: {:.1}×); the daemon's side (this process, release) {:.0}% of a core",
        flood.lines as f64 / flood.seconds,
        flood.seconds,
        flooded["p95"],
        flooded["max"],
        flooded["frames"],
        flooded["longTasks"],
        flooded["busy"].as_f64().unwrap_or(0.0) * 100.0,
        flooded["lastSeen"],
        flood.chromium_cpu * 100.0,
        idle_cpu * 100.0,
        idle["p95"],
        flood.chromium_cpu / idle_cpu.max(0.001),
        flood.daemon_cpu * 100.0,
    );
    page.ask("end", "done").await;

    // ---- memory with the log buffers full
    let before = dashboard::rss();
    let logs = Logs::default();
    dashboard::fill(&logs, 16);
    let grown = dashboard::rss().saturating_sub(before);
    let counted: usize = logs.sources().sources.iter().map(|s| s.bytes).sum();
    println!(
        "16 full log buffers: resident memory grew {:.1} MiB; the buffers count {:.1} MiB (baseline): {:.2}×",
        grown as f64 / (1 << 20) as f64,
        counted as f64 / (1 << 20) as f64,
        grown as f64 / counted.max(1) as f64,
    );
}
