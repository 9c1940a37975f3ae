//! CPU time from /proc, for benchmarks: one process's, or every process's by name, so a
//! benchmark can say where the machine's time went (the API server, the emulator, us).

use std::collections::HashMap;

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// The command name and utime + stime (in ticks) of a process, from /proc/PID/stat.
pub fn process(pid: u32) -> Option<(String, u64)> {
    stat(pid).map(|(name, _, ticks)| (name, ticks))
}

fn stat(pid: u32) -> Option<(String, u32, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The command name, parent pid and utime + stime of a /proc/PID/stat line.
fn parse_stat(stat: &str) -> Option<(String, u32, u64)> {
    // The command name may contain spaces and parentheses; fields follow its last `)`.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let f: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    Some((name, f.get(1)?.parse().ok()?, f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
}

/// Every pid now running.
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
}

/// CPU ticks of the processes under `root`, not counting it (for a browser script: node
/// drives, Chromium works).
pub fn descendants(root: u32) -> u64 {
    let all: Vec<(u32, u32, u64)> = pids().filter_map(|pid| stat(pid).map(|(_, ppid, t)| (pid, ppid, t))).collect();
    let mut under = vec![root];
    let mut ticks = 0;
    while let Some(parent) = under.pop() {
        for (pid, ppid, t) in &all {
            if *ppid == parent {
                under.push(*pid);
                ticks += t;
            }
        }
    }
    ticks
}

/// CPU ticks of every process at one moment, by pid.
#[derive(Debug, Clone)]
pub struct Snapshot(HashMap<u32, (String, u64)>);

impl Snapshot {
    pub fn take() -> Self {
        Self(pids().filter_map(|pid| process(pid).map(|p| (pid, p))).collect())
    }

    /// CPU seconds used since `before`, summed by command name, largest first (processes
    /// started in between count from zero).
    pub fn since(&self, before: &Snapshot) -> Vec<(String, f64)> {
        let mut by_name: HashMap<&str, u64> = HashMap::new();
        for (pid, (name, now)) in &self.0 {
            let then = before.0.get(pid).filter(|(n, _)| n == name).map_or(0, |(_, t)| *t);
            *by_name.entry(name).or_default() += now.saturating_sub(then);
        }
        let hz = ticks_per_second();
        let mut v: Vec<(String, f64)> =
            by_name.into_iter().filter(|(_, t)| *t > 0).map(|(n, t)| (n.to_owned(), t as f64 / hz)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }
}

/// `name 12.3 s, name 4.5 s, …` for the `n` largest.
pub fn top(usage: &[(String, f64)], n: usize) -> String {
    usage.iter().take(n).map(|(name, s)| format!("{name} {s:.1} s")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "42 (tokio-rt (w) 1) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 5 0 0";
        assert_eq!(parse_stat(line), Some(("tokio-rt (w) 1".to_owned(), 1, 300)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_uses_cpu_and_shows_up_by_name() {
        let before = Snapshot::take();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        let (name, _) = process(std::process::id()).expect("own stat");
        let used = Snapshot::take().since(&before);
        assert!(used.iter().any(|(n, s)| *n == name && *s > 0.0), "{name} missing from {used:?}");
    }
}
