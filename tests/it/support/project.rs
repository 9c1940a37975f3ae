//! A scratch project for driving the `nexus-dev` binary the way a user does (`up`, `status`,
//! `down`): a directory with `nexus-dev.yaml`, one capability (the seed's minimal example under
//! a unique name) and a `dev` profile on the test bed's control plane with the emulator
//! container on a free loopback port, plus a private daemon state directory. Both directories
//! are removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{TestBed, unique};

pub struct ScratchProject {
    pub dir: PathBuf,
    pub state: PathBuf,
    /// The capability's name (`capabilityName`).
    pub capability: String,
    bin: PathBuf,
    bed: TestBed,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl ScratchProject {
    /// `bin` is the binary under test (`env!("CARGO_BIN_EXE_nexus-dev")`); `prefix` starts the
    /// unique capability name.
    pub fn new(bed: &TestBed, bin: &Path, prefix: &str) -> Self {
        Self::create(bed, bin, prefix, None)
    }

    /// Another project on the same machine as `self`: the same state directory and profile (so
    /// the same emulator container and port), its own directory and capability.
    pub fn sharing(&self, prefix: &str) -> Self {
        Self::create(&self.bed, &self.bin, prefix, Some(self))
    }

    fn create(bed: &TestBed, bin: &Path, prefix: &str, machine: Option<&ScratchProject>) -> Self {
        let root = std::env::temp_dir().join(unique(&format!("nexus-dev-{prefix}")));
        let dir = root.join("project");
        let state = machine.map(|m| m.state.clone()).unwrap_or_else(|| root.join("state"));
        for d in [dir.join("profiles"), dir.join("capabilities"), state.clone()] {
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("cannot create {}: {e}", d.display()));
        }
        // Whatever the umask: project discovery refuses directories others can write.
        for d in [&root, &dir] {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755));
        }
        let capability = unique(prefix);
        let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml"))
            .expect("examples/minimal.yaml");
        let write = |rel: &str, text: String| {
            std::fs::write(dir.join(rel), text).unwrap_or_else(|e| panic!("cannot write {rel}: {e}"));
        };
        write("capabilities/app.yaml", example.replace("myapp", &capability));
        let profile = machine.map(|m| std::fs::read_to_string(m.profile()).expect("the shared profile"));
        write(
            "profiles/dev.yaml",
            profile.unwrap_or_else(|| format!(
                "name: dev\ncluster: {{provider: existing, kubeconfig: \"{}\", context: {}}}\naws: {{emulator: moto, endpoint: \"http://127.0.0.1:{}\", podEndpoint: \"http://nexus-dev-aws:5000\", account: \"123456789012\"}}\nirsa: {{issuer: \"{}\", registerOidcProvider: true}}\n",
                bed.kubeconfig,
                bed.context,
                free_port(),
                bed.sa_issuer
            )),
        );
        write("nexus-dev.yaml", "specs: [capabilities/]\nprofile: dev\n".to_owned());
        Self { dir, state, capability, bin: bin.to_owned(), bed: bed.clone() }
    }

    /// The binary in the project directory, with its own state directory and the stand-in
    /// emulator and registry images.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .current_dir(&self.dir)
            .env("NEXUS_DEV_STATE_DIR", &self.state)
            .env("NEXUS_DEV_EMULATOR_IMAGE", &self.bed.moto_image)
            .env("NEXUS_DEV_REGISTRY_IMAGE", &self.bed.registry_image)
            .env_remove("NEXUS_DEV_PROFILE");
        c
    }

    pub fn nexus(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("nexus-dev runs")
    }

    pub fn profile(&self) -> PathBuf {
        self.dir.join("profiles/dev.yaml")
    }

    pub fn spec(&self) -> PathBuf {
        self.dir.join("capabilities/app.yaml")
    }
}

impl Drop for ScratchProject {
    /// Stops whatever `up` left running (its daemon, emulator and registry containers), so that
    /// a failed test does not break the next one, then removes the directories.
    fn drop(&mut self) {
        let _ = self.command(&["down", "--purge"]).output();
        if let Some(root) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// Copies the directory tree `from` to `to` (created as needed), as a scratch copy of an
/// example to edit in a test.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()));
    for e in entries.flatten() {
        let target = to.join(e.file_name());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap_or_else(|err| panic!("cannot copy {}: {err}", e.path().display()));
        }
    }
}

/// stdout and stderr of a finished command, for assertion messages.
/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
