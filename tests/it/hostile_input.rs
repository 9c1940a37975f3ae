//! Issue #11, items 10, 11 and 15 through the binary: inputs meant to exhaust memory are refused
//! early, with a message that names the input, and the process stays small. Each case reports
//! its peak memory (the child's maximum resident set, from `wait4`).

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// Peak RSS a refused hostile input may take: the binary itself takes ~20 MiB, the largest file
/// it will read is 8 MiB.
const PEAK_LIMIT_KIB: i64 = 200 * 1024;

struct Run {
    code: Option<i32>,
    stderr: String,
    peak_kib: i64,
}

// The child is reaped by `wait4`, which also gives its peak memory.
#[allow(clippy::zombie_processes)]
fn run(args: &[&str], stdin: Stdio) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nexus-dev runs");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let mut status = 0;
    // SAFETY: rusage is plain data, fully written by wait4 on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, not yet reaped.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let exit = std::process::ExitStatus::from_raw(status);
    Run { code: exit.code(), stderr: reader.join().unwrap(), peak_kib: usage.ru_maxrss }
}

fn refused(case: &str, r: &Run, says: &str) {
    eprintln!("hostile input {case}: exit {:?}, peak {} KiB", r.code, r.peak_kib);
    assert!(r.code.is_some_and(|c| c != 0), "{case}: refused, not crashed: {:?}\n{}", r.code, r.stderr);
    assert!(r.stderr.contains(says), "{case}: says {says:?}:\n{}", r.stderr);
    assert!(r.peak_kib < PEAK_LIMIT_KIB, "{case}: peak {} KiB", r.peak_kib);
}

#[test]
fn endless_files_and_stdin_are_refused_while_reading() {
    let r = run(&["validate", "-f", "/dev/zero"], Stdio::null());
    refused("-f /dev/zero", &r, "/dev/zero is larger than 8 MiB");
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let r = run(&["validate", "-f", "-"], Stdio::from(zero));
    refused("endless stdin", &r, "<stdin> is larger than 8 MiB");
}

#[test]
fn a_large_string_aliased_thousands_of_times_is_refused_without_expanding_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.yaml");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(f, "apiVersion: nexus.ai/v1\nkind: NexusAICapability\nmetadata: {{name: x}}\nspec:\n  s: &s \"").unwrap();
    f.write_all(&vec![b'x'; 1 << 20]).unwrap();
    writeln!(f, "\"\n  l: [{}]", vec!["*s"; 6000].join(", ")).unwrap();
    drop(f);
    let r = run(&["validate", "-f", path.to_str().unwrap()], Stdio::null());
    refused("1 MiB string x 6000 aliases", &r, "too large once its aliases are expanded");
}

#[test]
fn a_kubeconfig_that_is_a_device_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.yaml");
    std::fs::write(
        &profile,
        "name: p\ncluster: {provider: existing, kubeconfig: /dev/zero, context: x}\naws: {endpoint: \"http://127.0.0.1:9\", account: \"123456789012\"}\n",
    )
    .unwrap();
    let r = run(&["status", "-p", profile.to_str().unwrap()], Stdio::null());
    refused("kubeconfig: /dev/zero", &r, "kubeconfig /dev/zero is not a regular file");
}

/// Issue #11, item 13: an endpoint that accepts connections and never answers (a stopped
/// emulator) fails the run with one message naming it, instead of every resource waiting out
/// its own retries.
#[test]
fn a_stalled_endpoint_fails_once_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let holder = {
        let stop = stop.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((c, _)) => held.push(c),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("stalled.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: stalled\ncluster: {{provider: existing, context: none}}\naws: {{endpoint: \"http://127.0.0.1:{port}\", account: \"123456789012\"}}\n"
        ),
    )
    .unwrap();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/minimal.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["apply", "--only", "aws", "-f", spec, "-p", profile.to_str().unwrap()])
        .env("NEXUS_DEV_STATE_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    holder.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let endpoint = format!("http://127.0.0.1:{port}");
    assert!(stdout.contains(&format!("not attempted: the AWS endpoint {endpoint} stopped answering")), "{stdout}");
    let failed_lines = stdout.lines().filter(|l| l.trim_start().starts_with("failed ")).count();
    assert!(failed_lines <= 40, "one message for the lost endpoint, not one per resource:\n{stdout}");
}
