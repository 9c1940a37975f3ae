//! The `kind` CLI, the supported way to create KinD clusters: the exact invocations (pure, unit
//! tested like tilt-dev/ctlptl's admin), a narrow `Runner` seam so tests can assert what runs,
//! and the parsing of what `kind` prints.

use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::KindError;

/// How to install kind; `doctor` and the `NotInstalled` error say the same.
pub const INSTALL_HINT: &str = "install kind and put it on PATH: https://kind.sigs.k8s.io/docs/user/quick-start/#installation (for example `go install sigs.k8s.io/kind@latest`, or a release binary from https://github.com/kubernetes-sigs/kind/releases)";

/// One invocation of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.program.file_name().unwrap_or(self.program.as_os_str()).to_string_lossy();
        write!(f, "{name}")?;
        for a in &self.args {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

fn cmd(program: &Path, args: &[&str]) -> Command {
    Command { program: program.to_path_buf(), args: args.iter().map(|a| (*a).to_owned()).collect() }
}

/// `kind get clusters`
pub fn get_clusters(kind: &Path) -> Command {
    cmd(kind, &["get", "clusters"])
}

/// `kind create cluster --name N --config F --wait 60s [--image I] [--kubeconfig K]`
pub fn create_cluster(
    kind: &Path,
    name: &str,
    config: &Path,
    wait: Duration,
    image: Option<&str>,
    kubeconfig: Option<&Path>,
) -> Command {
    let wait = format!("{}s", wait.as_secs());
    let config = config.display().to_string();
    let mut c = cmd(kind, &["create", "cluster", "--name", name, "--config", &config, "--wait", &wait]);
    if let Some(i) = image {
        c.args.extend(["--image".to_owned(), i.to_owned()]);
    }
    if let Some(k) = kubeconfig {
        c.args.extend(["--kubeconfig".to_owned(), k.display().to_string()]);
    }
    c
}

/// `kind delete cluster --name N [--kubeconfig K]`
pub fn delete_cluster(kind: &Path, name: &str, kubeconfig: Option<&Path>) -> Command {
    let mut c = cmd(kind, &["delete", "cluster", "--name", name]);
    if let Some(k) = kubeconfig {
        c.args.extend(["--kubeconfig".to_owned(), k.display().to_string()]);
    }
    c
}

/// `kind get kubeconfig --name N`
pub fn get_kubeconfig(kind: &Path, name: &str) -> Command {
    cmd(kind, &["get", "kubeconfig", "--name", name])
}

/// `kind version`
pub fn version(kind: &Path) -> Command {
    cmd(kind, &["version"])
}

/// What a finished process left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs commands. The real one spawns processes; tests record and script.
pub trait Runner: Send + Sync {
    fn run(&self, command: &Command) -> impl Future<Output = Result<Output, std::io::Error>> + Send;
}

/// Spawns the process, stdin closed, output captured; killed if the future is dropped.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessRunner;

impl Runner for ProcessRunner {
    async fn run(&self, command: &Command) -> Result<Output, std::io::Error> {
        let out = tokio::process::Command::new(&command.program)
            .args(&command.args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// The first executable `name` in the directories of `path` (a PATH value).
pub fn find_in_path(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `kind` CLI behind a runner.
#[derive(Clone, Debug)]
pub struct KindCli<R> {
    pub program: PathBuf,
    pub runner: R,
}

impl KindCli<ProcessRunner> {
    /// `kind` from PATH, or `NotInstalled` with the install hint.
    pub fn locate() -> Result<Self, KindError> {
        Self::locate_in(&std::env::var_os("PATH").unwrap_or_default())
    }

    pub fn locate_in(path: &OsStr) -> Result<Self, KindError> {
        let program = find_in_path("kind", path).ok_or(KindError::NotInstalled)?;
        Ok(Self { program, runner: ProcessRunner })
    }
}

impl<R: Runner> KindCli<R> {
    pub fn new(program: impl Into<PathBuf>, runner: R) -> Self {
        Self { program: program.into(), runner }
    }

    /// Runs `command`, failing with its stderr unless it exits 0. A program that vanished
    /// since `locate` is `NotInstalled` again, not an I/O error.
    async fn run_ok(&self, command: Command) -> Result<Output, KindError> {
        tracing::debug!(command = %command, "running");
        let out = match self.runner.run(&command).await {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(KindError::NotInstalled),
            Err(source) => return Err(KindError::Run { command: command.to_string(), source }),
        };
        if !out.success() {
            return Err(KindError::Failed { command: command.to_string(), code: out.code, stderr: out.stderr });
        }
        Ok(out)
    }

    /// Names of the KinD clusters on this machine.
    pub async fn clusters(&self) -> Result<Vec<String>, KindError> {
        let out = self.run_ok(get_clusters(&self.program)).await?;
        Ok(parse_clusters(&out.stdout))
    }

    pub async fn create(
        &self,
        name: &str,
        config: &Path,
        wait: Duration,
        image: Option<&str>,
        kubeconfig: Option<&Path>,
    ) -> Result<(), KindError> {
        self.run_ok(create_cluster(&self.program, name, config, wait, image, kubeconfig)).await.map(drop)
    }

    pub async fn delete(&self, name: &str, kubeconfig: Option<&Path>) -> Result<(), KindError> {
        self.run_ok(delete_cluster(&self.program, name, kubeconfig)).await.map(drop)
    }

    /// The cluster's kubeconfig (for the host: the API server on a 127.0.0.1 port).
    pub async fn kubeconfig(&self, name: &str) -> Result<String, KindError> {
        Ok(self.run_ok(get_kubeconfig(&self.program, name)).await?.stdout)
    }

    /// `v0.27.0` from `kind v0.27.0 go1.23.4 linux/amd64`.
    pub async fn version(&self) -> Result<String, KindError> {
        let out = self.run_ok(version(&self.program)).await?;
        Ok(parse_version(&out.stdout))
    }
}

/// `kind get clusters` prints one name a line; with none, it prints "No kind clusters found."
/// (to stderr in current releases, to stdout in some older ones).
pub fn parse_clusters(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("No kind clusters found"))
        .map(str::to_owned)
        .collect()
}

pub fn parse_version(stdout: &str) -> String {
    let mut words = stdout.split_whitespace();
    match (words.next(), words.next()) {
        (Some("kind"), Some(v)) => v.to_owned(),
        _ => stdout.trim().to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    /// Records every command and answers from a script, in order.
    #[derive(Default)]
    pub(crate) struct Scripted {
        pub ran: Mutex<Vec<String>>,
        pub answers: Mutex<VecDeque<Result<Output, std::io::ErrorKind>>>,
    }

    impl Scripted {
        pub(crate) fn answering(answers: Vec<Result<Output, std::io::ErrorKind>>) -> Self {
            Self { ran: Mutex::default(), answers: Mutex::new(answers.into()) }
        }

        pub(crate) fn ran(&self) -> Vec<String> {
            self.ran.lock().unwrap().clone()
        }
    }

    pub(crate) fn ok(stdout: &str) -> Result<Output, std::io::ErrorKind> {
        Ok(Output { code: Some(0), stdout: stdout.into(), stderr: String::new() })
    }

    impl Runner for &Scripted {
        async fn run(&self, command: &Command) -> Result<Output, std::io::Error> {
            self.ran.lock().unwrap().push(command.to_string());
            let next = self.answers.lock().unwrap().pop_front().unwrap_or_else(|| ok(""));
            next.map_err(std::io::Error::from)
        }
    }

    #[test]
    fn invocations_are_exact() {
        let kind = Path::new("/usr/local/bin/kind");
        assert_eq!(get_clusters(kind).args, ["get", "clusters"]);
        assert_eq!(get_clusters(kind).program, kind);
        assert_eq!(
            create_cluster(kind, "nexus-dev", Path::new("/s/kind-nexus-dev.yaml"), Duration::from_secs(60), None, None)
                .args,
            ["create", "cluster", "--name", "nexus-dev", "--config", "/s/kind-nexus-dev.yaml", "--wait", "60s"]
        );
        assert_eq!(
            create_cluster(kind, "c", Path::new("c.yaml"), Duration::from_secs(90), None, Some(Path::new("/k/config")))
                .to_string(),
            "kind create cluster --name c --config c.yaml --wait 90s --kubeconfig /k/config"
        );
        assert_eq!(
            create_cluster(kind, "c", Path::new("c.yaml"), Duration::from_secs(90), Some("kindest/node:v1.34.0"), None)
                .to_string(),
            "kind create cluster --name c --config c.yaml --wait 90s --image kindest/node:v1.34.0"
        );
        assert_eq!(delete_cluster(kind, "nexus-dev", None).to_string(), "kind delete cluster --name nexus-dev");
        assert_eq!(get_kubeconfig(kind, "nexus-dev").to_string(), "kind get kubeconfig --name nexus-dev");
        assert_eq!(version(kind).to_string(), "kind version");
    }

    #[test]
    fn output_is_parsed() {
        assert_eq!(parse_clusters("kind\nnexus-dev\n"), ["kind", "nexus-dev"]);
        assert!(parse_clusters("No kind clusters found.\n").is_empty());
        assert!(parse_clusters("").is_empty());
        assert_eq!(parse_version("kind v0.27.0 go1.23.4 linux/amd64\n"), "v0.27.0");
    }

    #[tokio::test]
    async fn failures_carry_the_command_and_stderr_and_a_vanished_binary_is_not_installed() {
        let script = Scripted::answering(vec![
            Ok(Output { code: Some(1), stdout: String::new(), stderr: "ERROR: node(s) already exist".into() }),
            Err(std::io::ErrorKind::NotFound),
        ]);
        let cli = KindCli::new("kind", &script);
        let err =
            cli.create("a", Path::new("a.yaml"), Duration::from_secs(60), None, None).await.unwrap_err().to_string();
        assert!(err.contains("kind create cluster --name a --config a.yaml --wait 60s"), "{err}");
        assert!(err.contains("node(s) already exist"), "{err}");
        let err = cli.clusters().await.unwrap_err();
        assert!(matches!(err, KindError::NotInstalled), "{err}");
        assert_eq!(script.ran(), ["kind create cluster --name a --config a.yaml --wait 60s", "kind get clusters"]);
        assert!(err.to_string().contains("https://kind.sigs.k8s.io/docs/user/quick-start/#installation"));
    }

    #[test]
    fn a_missing_binary_is_reported_with_the_install_hint() {
        let empty = tempfile::tempdir().unwrap();
        let err = KindCli::locate_in(empty.path().as_os_str()).unwrap_err().to_string();
        assert!(err.starts_with("`kind` is not installed"), "{err}");
        assert!(err.contains(INSTALL_HINT), "{err}");
        // A non-executable file named kind does not count.
        std::fs::write(empty.path().join("kind"), "#!/bin/sh\n").unwrap();
        assert!(KindCli::locate_in(empty.path().as_os_str()).is_err());
    }
}
