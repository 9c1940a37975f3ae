//! Issue #12's benchmark on a real kind cluster, reported and not asserted, through the binary
//! as a user runs it, on a copy of `examples/apps` with the shipped `local` profile (MiniStack) (only
//! the images replaced by the test bed's, as in tests/it/kind_e2e.rs):
//!
//! - cold `up` (no cluster: kind create, registry, emulator, daemon, both images built, every
//!   pod Running) and warm `up` (everything running; median of 3);
//! - rebuild path: save `api/server.pl` → the new answer over HTTP through the port-forward,
//!   against a bare `docker build` of the same kind of change (goal: ≤ 1.3 × bare + 2 s);
//! - sync path: save `web/static/index.html` → the new file served (goal: ≤ 500 ms);
//! - `down --purge`.
//!
//! Run with `scripts/bench --bench kind`. It owns the fixed names tests/it/kind_e2e.rs owns.

// The integration tests' support code: the test bed as a benchmark sees it.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::support::TestBed;
use crate::support::kind::Env;
use crate::support::project::copy_dir;

/// `nexus-dev ARGS` on the bench's copy of the examples: how long it took, and its JSON output.
fn timed(env: &Env, args: &[&str]) -> (Duration, serde_json::Value) {
    let t = Instant::now();
    let out = env.command(args).output().expect("nexus-dev runs");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "nexus-dev {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (d, serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null))
}

/// `GET url` (http://127.0.0.1:PORT/path) over HTTP/1.0: the status code and the body.
fn get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (addr, path) = rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    // Read up to the end of the body by its Content-Length, as HTTP clients do: through a
    // port-forward the connection's end reaches this side later than the answer.
    let mut reply = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).ok()?;
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok());
            if n == 0 || length.is_some_and(|len| body.len() >= len) {
                let code = head.split_whitespace().nth(1)?.parse().ok()?;
                return Some((code, body.to_owned()));
            }
        } else if n == 0 {
            return None;
        }
    }
}

fn until_served(url: &str, want: &str, timeout: Duration) -> Duration {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if let Some((200, b)) = get(url)
            && b.contains(want)
        {
            return t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{url} did not serve `{want}` within {timeout:?}");
}

fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("nexus-bench-tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn wait_for(events: &Receiver<serde_json::Value>, event: &str, component: &str) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let v = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no `{event}` of {component}"));
        if v["event"] == event && v["component"] == component {
            return;
        }
        assert!(v["event"] != "failed", "{v}");
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let _lock = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let node_image = TestBed::kind_node_image();
    let env = Env::prepare("nexus-dev-kind-bench", &bed, node_image);
    let root = env.root.clone();
    println!("nexus-dev on a real kind cluster (examples/apps, profile local (MiniStack), the test bed's images)\n");

    let (cold, v) = timed(&env, &["up", "--no-watch", "-o", "json", "--timeout", "5m"]);
    let steps: Vec<String> = v["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| format!("{} {} ms", s["step"].as_str().unwrap_or("?"), s["ms"]))
        .collect();
    println!("cold up (no cluster):       {}  ({})", secs(cold), steps.join(", "));
    let url = |c: &str| -> String {
        v["capabilities"][0]["forwards"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["component"] == c))
            .and_then(|f| f["url"].as_str())
            .unwrap_or_else(|| panic!("no {c} forward: {v:#}"))
            .to_owned()
    };
    let (web, api) = (url("frontend"), url("backend"));
    let warm = median((0..3).map(|_| timed(&env, &["up", "--no-watch", "-o", "json"]).0).collect());
    println!("warm up (median of 3):      {}", secs(warm));

    // Bare docker build of the same kind of change (a new greeting: the same layers miss).
    let bare_dir = root.join("bare-api");
    copy_dir(&env.project.join("api"), &bare_dir);
    let server = bare_dir.join("server.pl");
    let original = std::fs::read_to_string(&server).unwrap();
    let mut bare = Vec::new();
    for i in 0..3 {
        save(&server, &original.replace("hello from the example api", &format!("bare build {i}")));
        let t = Instant::now();
        let out = Command::new("docker")
            .args(["build", "-q", "--build-arg", &format!("BASE_IMAGE={}", bed.base_image), "-t"])
            .arg(format!("nexus-dev-bench/bare:{i}"))
            .arg(&bare_dir)
            .output()
            .expect("docker runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        bare.push(t.elapsed());
    }
    for i in 0..3 {
        let _ = Command::new("docker").args(["rmi", &format!("nexus-dev-bench/bare:{i}")]).output();
    }

    let mut watch = env
        .command(&["watch", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("nexus-dev watch runs");
    let (tx, events) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    // The initial builds, in either order.
    let mut missing = vec!["web", "api"];
    while !missing.is_empty() {
        let v = events.recv_timeout(Duration::from_secs(240)).expect("the initial deploys");
        if v["event"] == "deployed" {
            missing.retain(|c| v["component"] != *c);
        }
    }

    let server = env.project.join("api/server.pl");
    let original = std::fs::read_to_string(&server).unwrap();
    let mut rebuild = Vec::new();
    for i in 0..3 {
        let want = format!("rebuilt {i}");
        let t = Instant::now();
        save(&server, &original.replace("hello from the example api", &want));
        until_served(&format!("{api}api/hello"), &want, Duration::from_secs(240));
        rebuild.push(t.elapsed());
        // let the rollout finish (old pods gone) before the next save
        wait_for(&events, "deployed", "api");
    }
    let index = env.project.join("web/static/index.html");
    let page = std::fs::read_to_string(&index).unwrap();
    let mut sync = Vec::new();
    for i in 0..5 {
        let want = format!("synced {i}");
        let t = Instant::now();
        save(&index, &page.replace("Hello from the example web frontend", &want));
        until_served(&web, &want, Duration::from_secs(60));
        sync.push(t.elapsed());
        wait_for(&events, "synced", "web");
    }
    // SAFETY: kill(2) on our own child's pid, no memory involved.
    unsafe { libc::kill(watch.id() as libc::pid_t, libc::SIGINT) };
    let _ = watch.wait();

    let (bare_m, rebuild_m, sync_m) = (median(bare), median(rebuild.clone()), median(sync.clone()));
    println!("bare docker build (median): {}", secs(bare_m));
    println!(
        "save → new answer over HTTP (rebuild path, median of 3): {}  goal ≤ {} (1.3 × bare + 2 s); runs: {:?}",
        secs(rebuild_m),
        secs(bare_m.mul_f64(1.3) + Duration::from_secs(2)),
        rebuild.iter().map(|d| secs(*d)).collect::<Vec<_>>()
    );
    println!(
        "save → new file served (sync path, median of 5): {} ms  goal ≤ 500 ms; runs: {:?}",
        sync_m.as_millis(),
        sync.iter().map(|d| d.as_millis()).collect::<Vec<_>>()
    );
    let (purge, _) = timed(&env, &["down", "--purge"]);
    println!("down --purge:               {}", secs(purge));
    let _ = std::fs::remove_dir_all(&root);
}
