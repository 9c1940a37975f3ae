//! The dashboard's logs as the daemon's collector fills them, for the page tests and the
//! benchmark (issue 16): two pods' sources, lines pushed now, a flood of 10,000 lines a second
//! with the CPU it cost, and buffers filled to their cap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_dev::ui::logs::{Logs, Source};

use super::cpu;

pub const BACKEND: &str = "myapp-dev/myapp-dev-backend-7c9d-x2x9z/backend";
pub const FRONTEND: &str = "myapp-dev/myapp-dev-frontend-5f6b-k8s2n/frontend";

/// The backend's and the frontend's pod, as the collector opens them.
pub fn open(logs: &Logs) {
    for (pod, container) in [("myapp-dev-backend-7c9d-x2x9z", "backend"), ("myapp-dev-frontend-5f6b-k8s2n", "frontend")]
    {
        logs.open(Source::new("myapp-dev", pod, container, &format!("myapp-dev-{container}"), "myapp-dev/myapp-dev"));
    }
}

/// Lines of `source`, read now.
pub fn push(logs: &Logs, source: &str, texts: impl IntoIterator<Item = String>) {
    logs.push(source, texts.into_iter().map(|t| (nexus_dev::ui::feed::now_ms(), t)));
}

/// What a flood cost.
pub struct Flood {
    pub lines: usize,
    pub seconds: f64,
    /// Cores used on average, by this process (the in-process server: the daemon's side) and by
    /// Chromium (the processes under the browser script `node`).
    pub daemon_cpu: f64,
    pub chromium_cpu: f64,
}

/// 10,000 lines a second for `seconds` over both sources, 100 every 10 ms, then the line "last
/// marker: the flood is over".
pub async fn flood(logs: Arc<Logs>, node: u32, seconds: u64) -> Flood {
    let hz = cpu::ticks_per_second();
    let me = std::process::id();
    let (daemon0, chromium0) = (cpu::process(me).unwrap().1, cpu::descendants(node));
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let source = if n % 200 == 0 { FRONTEND } else { BACKEND };
        push(
            &logs,
            source,
            (n..n + 100).map(|i| format!("{i:>6} GET /api/items/{} 200 OK in {}ms user=u{}", i % 977, i % 13, i % 31)),
        );
        n += 100;
    }
    push(&logs, BACKEND, ["last marker: the flood is over".into()]);
    let seconds = start.elapsed().as_secs_f64();
    let (daemon1, chromium1) = (cpu::process(me).unwrap().1, cpu::descendants(node));
    Flood {
        lines: n,
        seconds,
        daemon_cpu: (daemon1 - daemon0) as f64 / hz / seconds,
        chromium_cpu: chromium1.saturating_sub(chromium0) as f64 / hz / seconds,
    }
}

/// This process's resident memory, in bytes.
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * page
}

/// Fills `sources` buffers past their cap with lines of 200 bytes (12,000 lines each).
pub fn fill(logs: &Logs, sources: usize) {
    for s in 0..sources {
        let pod = format!("myapp-dev-backend-7c9d-{s:05}");
        logs.open(Source::new("myapp-dev", &pod, "backend", "myapp-dev-backend", "myapp-dev/myapp-dev"));
        for batch in 0..24 {
            push(logs, &format!("myapp-dev/{pod}/backend"), (0..500).map(|i| format!("{:0>200}", batch * 500 + i)));
        }
    }
}
