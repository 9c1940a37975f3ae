//! A copy of `examples/apps` on a real kind cluster, driven through the `nexus-dev` binary
//! with the test bed's images (`NEXUS_DEV_KIND_IMAGE`, `NEXUS_DEV_EMULATOR_IMAGE`,
//! `NEXUS_DEV_REGISTRY_IMAGE`): what `kind_e2e` and `ci` run on. It owns the machine's fixed
//! names; callers hold `fixed_names_lock()`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::TestBed;
use super::project::{copy_dir, text};

/// The shipped local profile's cluster.
pub const CLUSTER: &str = "nexus-dev";

pub struct Env {
    pub root: PathBuf,
    pub project: PathBuf,
    pub kubeconfig: PathBuf,
    pub state: PathBuf,
    pub bed: TestBed,
    pub node_image: String,
}

/// A failed run leaves nothing behind for the tests after it: the fixed-name containers and the
/// kind cluster would make every later `up` on this machine fail.
impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.nexus(&["down", "--purge"]);
        }
    }
}

impl Env {
    /// A fresh copy of the examples in a fixed directory under the temp dir, so that the project
    /// id is the same on every run: what a crashed earlier run left is this project's, and
    /// `down --purge` removes it first. Outside the repository: its .gitignore ignores target/,
    /// and watch mode honours the .gitignore files above a context.
    pub fn prepare(dir: &str, bed: &TestBed, node_image: String) -> Self {
        let root = std::env::temp_dir().join(dir);
        let mut env = Env {
            project: root.join("examples/apps"),
            kubeconfig: root.join("kubeconfig"),
            state: root.join("state"),
            root: root.clone(),
            bed: bed.clone(),
            node_image,
        };
        if env.project.join("nexus-dev.yaml").is_file() {
            let _ = env.nexus(&["down", "--purge"]);
        }
        let _ = std::fs::remove_dir_all(&env.root);
        std::fs::create_dir_all(&env.root).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&env.root, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        env.project = copy_examples(&env.root, &bed.base_image);
        env
    }

    /// The settings nexus-dev gets: the test bed's images, and a state directory and kubeconfig
    /// of this copy's own.
    pub fn settings(&self) -> [(&'static str, std::ffi::OsString); 5] {
        [
            ("KUBECONFIG", self.kubeconfig.clone().into()),
            ("NEXUS_DEV_STATE_DIR", self.state.clone().into()),
            ("NEXUS_DEV_KIND_IMAGE", self.node_image.clone().into()),
            ("NEXUS_DEV_EMULATOR_IMAGE", self.bed.ministack_image.clone().into()),
            ("NEXUS_DEV_REGISTRY_IMAGE", self.bed.registry_image.clone().into()),
        ]
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nexus-dev"));
        c.args(args).current_dir(&self.project).envs(self.settings()).env_remove("NEXUS_DEV_PROFILE");
        c
    }

    pub fn nexus(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("nexus-dev runs")
    }

    pub fn kind(&self, args: &[&str]) -> Output {
        Command::new("kind").args(args).env("KUBECONFIG", &self.kubeconfig).output().expect("kind is on PATH")
    }

    pub fn clusters(&self) -> Vec<String> {
        let out = self.kind(&["get", "clusters"]);
        assert!(out.status.success(), "kind get clusters: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    }

    pub async fn kube(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kind wrote the kubeconfig");
        let opts = kube::config::KubeConfigOptions { context: Some(format!("kind-{CLUSTER}")), ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kc, &opts).await.expect("the kind context");
        kube::Client::try_from(config).expect("a client of the kind cluster")
    }
}

/// Copies `examples/` (the spec and the apps) to `dest`; the project file gets the test bed's
/// base image as the Dockerfiles' `BASE_IMAGE` (their default, debian:bookworm-slim, cannot be
/// pulled here). Nothing else changes.
pub fn copy_examples(dest: &Path, base_image: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    copy_dir(&src, &dest.join("examples"));
    let project = dest.join("examples/apps");
    let file = project.join("nexus-dev.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let args = format!("    buildArgs: {{BASE_IMAGE: \"{base_image}\"}}\n");
    let patched = text
        .replace("    context: web\n", &format!("    context: web\n{args}"))
        .replace("    context: api\n", &format!("    context: api\n{args}"));
    assert_eq!(patched.matches("buildArgs").count(), 2, "both components get the base image:\n{patched}");
    std::fs::write(&file, patched).unwrap();
    project.canonicalize().unwrap()
}
