//! Every broken spec under tests/fixtures/broken is refused with the error its header expects:
//! `# expect: LINE:COL PATH: MESSAGE` (a prefix), `# hint: TEXT` and `# text: TEXT` (substrings).

use std::path::{Path, PathBuf};
use std::process::Command;

use nexus_dev::input::spec::{LoadError, load_specs, read_sources};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 20, "fixtures missing");
    files
}

struct Expect {
    line: usize,
    col: usize,
    text: String,
    hints: Vec<String>,
    anywhere: Vec<String>,
}

fn expectations(text: &str) -> Expect {
    let mut e = Expect { line: 0, col: 0, text: String::new(), hints: vec![], anywhere: vec![] };
    for l in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(rest) = l.strip_prefix("# expect: ") {
            let (pos, msg) = rest.split_once(' ').unwrap();
            let (line, col) = pos.split_once(':').unwrap();
            e.line = line.parse().unwrap();
            e.col = col.parse().unwrap();
            e.text = msg.to_owned();
        } else if let Some(h) = l.strip_prefix("# hint: ") {
            e.hints.push(h.to_owned());
        } else if let Some(t) = l.strip_prefix("# text: ") {
            e.anywhere.push(t.to_owned());
        }
    }
    assert!(e.line > 0, "fixture without `# expect:`");
    e
}

#[test]
fn every_broken_spec_is_refused_naming_field_and_line() {
    for file in fixtures() {
        let text = std::fs::read_to_string(&file).unwrap();
        let want = expectations(&text);
        let sources = read_sources(std::slice::from_ref(&file)).unwrap();
        let problems = match load_specs(&sources) {
            Err(LoadError::Invalid(d)) => d,
            Err(other) => panic!("{}: unexpected error kind: {other}", file.display()),
            Ok(_) => panic!("{}: accepted, but it is broken", file.display()),
        };
        let found = problems.iter().find(|d| {
            let shown = if d.path.is_empty() { d.message.clone() } else { format!("{}: {}", d.path, d.message) };
            d.pos.line == want.line && d.pos.col == want.col && shown.starts_with(&want.text)
        });
        let all = problems.to_string();
        let d = found.unwrap_or_else(|| {
            panic!("{}: expected {}:{} {}\ngot:\n{all}", file.display(), want.line, want.col, want.text)
        });
        assert_eq!(d.file, file.display().to_string());
        for h in &want.hints {
            assert!(
                d.hint.as_deref().unwrap_or("").contains(h.as_str()),
                "{}: hint `{h}` missing in:\n{all}",
                file.display()
            );
        }
        for t in &want.anywhere {
            assert!(all.contains(t.as_str()), "{}: `{t}` missing in:\n{all}", file.display());
        }
    }
}

#[test]
fn the_cli_reports_problems_on_stderr_and_exits_non_zero() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken/negative-replicas.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_nexus-dev")).args(["validate", "-f"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("negative-replicas.yaml:15:15: spec.backend.replicas: must be at least 0, found -1"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["validate", "-o", "json", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"][0]["line"], 15);
    assert_eq!(v["problems"][0]["path"], "spec.backend.replicas");
}

#[test]
fn examples_are_valid_through_the_cli_from_a_directory_and_stdin() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["validate", "-f"])
        .arg(root.join("examples"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shipped = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert!(shipped >= 4, "the examples, hardened.yaml among them");
    assert_eq!(stderr.matches("ok  ").count(), shipped, "{stderr}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["plan", "-o", "json", "-f", "-", "--profile", "local"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&std::fs::read(root.join("examples/minimal.yaml")).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["capability"], "myapp");
    assert!(v["resources"].as_array().unwrap().len() > 30);
}

/// Issue #11: inside a project, commands that take `--profile` default to the project's profile
/// (as `up` does), elsewhere to `local`.
#[test]
fn the_project_profile_is_the_default_inside_a_project() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = |dir: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
            .args(["plan", "-f", root.join("examples/minimal.yaml").to_str().unwrap(), "-o", "json"])
            .current_dir(dir)
            .env_remove("NEXUS_DEV_PROFILE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["profile"].as_str().unwrap().to_owned()
    };
    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("nexus-dev.yaml");
    let specs = root.join("examples/minimal.yaml");
    std::fs::write(&file, format!("specs: [\"{}\"]\nprofile: local-moto\n", specs.display())).unwrap();
    assert_eq!(plan(project.path()), "local-moto");
    // A broken project file is an error, not a silent `local`.
    std::fs::write(&file, "specs: []\nprofile: local-moto\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nexus-dev"))
        .args(["plan", "-f", specs.to_str().unwrap()])
        .current_dir(project.path())
        .env_remove("NEXUS_DEV_PROFILE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("nexus-dev.yaml:1:8: specs: lists no specs"), "{err}");
    let elsewhere = tempfile::tempdir().unwrap();
    assert_eq!(plan(elsewhere.path()), "local");
}
