//! `doctor` and `up`'s preflight (issue #6, DESIGN.md §5): every prerequisite with its status
//! and the exact fix. `gather` collects the facts (I/O); `evaluate` turns them into checks
//! (pure, tested without a machine in a particular state). Whether a failed check blocks `up`
//! is part of each check.

mod gather;

pub use gather::{GatherOptions, gather};

use crate::env::kind::INSTALL_HINT;
use crate::model::profile::{ClusterProvider, Emulator, Profile};

/// KinD's and Tilt's recommended limits (kind's known issue "Pod errors due to too many open
/// files"); file watching needs them too.
pub const MIN_INOTIFY_WATCHES: u64 = 524_288;
pub const MIN_INOTIFY_INSTANCES: u64 = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// The exact fix, when something is to be done.
    pub fix: Option<String>,
    /// Whether this check failing stops `up` (a warning never does).
    pub blocks_up: bool,
}

impl Check {
    pub(crate) fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Self { name: name.into(), status, detail: detail.into(), fix: None, blocks_up: false }
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub(crate) fn blocking(mut self) -> Self {
        self.blocks_up = true;
        self
    }

    /// Failed, and `up` must not go on.
    pub fn blocks(&self) -> bool {
        self.status == Status::Fail && self.blocks_up
    }
}

/// Whether any check stops `up` (and makes `doctor` exit non-zero).
pub fn blocks_up(checks: &[Check]) -> bool {
    checks.iter().any(Check::blocks)
}

/// The Docker Engine, as reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerFacts {
    pub host: String,
    pub engine_version: String,
    pub api_version: String,
}

/// A command-line tool on PATH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tool {
    Found {
        path: String,
        version: String,
    },
    Missing,
    /// On PATH but `version` failed.
    Broken {
        path: String,
        error: String,
    },
}

/// Who holds a host port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortState {
    Free,
    /// A container publishes it; `ours` when it is this project's (reused by `up`).
    Container {
        name: String,
        ours: bool,
    },
    /// Something else listens (the bind error).
    Busy(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortFact {
    /// `registry` or `AWS emulator`.
    pub what: String,
    /// The profile field that sets it, for the fix.
    pub field: String,
    pub ip: String,
    pub port: u16,
    pub state: PortState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Every needed service is offered.
    Covered { endpoint: String },
    /// The emulator answers but lacks services (the full message, with the ways out).
    Missing(String),
    /// The emulator does not answer (yet).
    Unreachable(String),
}

/// Everything `evaluate` needs to know about the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub docker: Result<DockerFacts, String>,
    pub kind: Tool,
    pub kubectl: Tool,
    pub ports: Vec<PortFact>,
    /// `None` where there is no `/proc/sys/fs/inotify` (not Linux).
    pub inotify_watches: Option<u64>,
    pub inotify_instances: Option<u64>,
    /// For LocalStack: the variable the token is read from, and whether it is set.
    pub token: Option<(String, bool)>,
    /// `None` when the profile uses no emulator.
    pub coverage: Option<Coverage>,
}

const DOCKER_FIX: &str = "start Docker (Linux: `sudo systemctl start docker`; macOS/Windows: start Docker Desktop), make sure your user may use it (`docker version` must work without sudo), or point DOCKER_HOST at a running Engine";
const KUBECTL_FIX: &str = "install kubectl: https://kubernetes.io/docs/tasks/tools/";

/// The checks for `profile` from `facts`, in the order `doctor` prints them.
pub fn evaluate(profile: &Profile, facts: &Facts) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(match &facts.docker {
        Ok(d) => Check::new(
            "docker",
            Status::Ok,
            format!("Docker Engine {} (API {}) at {}", d.engine_version, d.api_version, d.host),
        ),
        Err(e) => Check::new("docker", Status::Fail, format!("the Docker Engine is not reachable: {e}"))
            .fix(DOCKER_FIX)
            .blocking(),
    });

    let kind_needed = profile.cluster.provider == ClusterProvider::Kind;
    checks.push(match (&facts.kind, kind_needed) {
        (Tool::Found { path, version }, _) => Check::new("kind", Status::Ok, format!("kind {version} at {path}")),
        (_, false) => Check::new(
            "kind",
            Status::Ok,
            format!("not needed (cluster.provider: {})", provider_name(profile.cluster.provider)),
        ),
        (Tool::Missing, true) => {
            Check::new("kind", Status::Fail, "`kind` is not installed (not found on PATH)").fix(INSTALL_HINT).blocking()
        }
        (Tool::Broken { path, error }, true) => {
            Check::new("kind", Status::Fail, format!("{path} does not run: {error}")).fix(INSTALL_HINT).blocking()
        }
    });

    checks.push(match &facts.kubectl {
        Tool::Found { path, version } => Check::new("kubectl", Status::Ok, format!("kubectl {version} at {path}")),
        // nexus-dev talks to the API server itself; kubectl is for the developer.
        Tool::Missing => {
            Check::new("kubectl", Status::Warn, "`kubectl` is not installed (not found on PATH)").fix(KUBECTL_FIX)
        }
        Tool::Broken { path, error } => {
            Check::new("kubectl", Status::Warn, format!("{path} does not run: {error}")).fix(KUBECTL_FIX)
        }
    });

    for p in &facts.ports {
        let name = format!("port {}:{} ({})", p.ip, p.port, p.what);
        checks.push(match &p.state {
            PortState::Free => Check::new(name, Status::Ok, "free"),
            PortState::Container { name: c, ours: true } => {
                Check::new(name, Status::Ok, format!("published by {c}, nexus-dev's own (reused by `up`)"))
            }
            PortState::Container { name: c, ours: false } => {
                Check::new(name, Status::Fail, format!("published by container {c}, which is not this project's"))
                    .fix(format!("stop it (`docker stop {c}`), or choose another port in the profile's `{}`", p.field))
                    .blocking()
            }
            PortState::Busy(e) => Check::new(name, Status::Fail, format!("in use: {e}"))
                .fix(format!(
                    "find what listens with `ss -ltnp 'sport = :{}'` (macOS: `lsof -nP -iTCP:{} -sTCP:LISTEN`) and stop it, or choose another port in the profile's `{}`",
                    p.port, p.port, p.field
                ))
                .blocking(),
        });
    }

    checks.extend(inotify("inotify watches", "max_user_watches", facts.inotify_watches, MIN_INOTIFY_WATCHES));
    checks.extend(inotify("inotify instances", "max_user_instances", facts.inotify_instances, MIN_INOTIFY_INSTANCES));

    if let Some(check) = emulator_check(profile) {
        checks.push(check);
    }
    if let Some((var, set)) = &facts.token {
        checks.push(if *set {
            Check::new("emulator token", Status::Ok, format!("${var} is set"))
        } else {
            Check::new("emulator token", Status::Fail, format!("LocalStack needs an auth token, but ${var} is not set"))
                .fix(format!(
                    "export {var}=<your token> (app.localstack.cloud → Auth Tokens), or use MiniStack, which needs none: --profile local"
                ))
                .blocking()
        });
    }

    if let Some(coverage) = &facts.coverage {
        let emulator = profile.aws.emulator.map(Emulator::as_str).unwrap_or("the emulator");
        checks.push(match coverage {
            Coverage::Covered { endpoint } => Check::new(
                "emulator services",
                Status::Ok,
                format!("{emulator} at {endpoint} offers every service the capabilities need"),
            ),
            Coverage::Missing(message) => {
                let (detail, hint) = message.split_once("\n  hint: ").unwrap_or((message.as_str(), ""));
                Check::new("emulator services", Status::Fail, detail).fix(hint).blocking()
            }
            Coverage::Unreachable(e) => Check::new(
                "emulator services",
                Status::Warn,
                format!(
                    "{emulator} is not running, so its services are unchecked ({e}); `up` starts it and checks then"
                ),
            ),
        });
    }
    checks
}

fn inotify(name: &str, key: &str, value: Option<u64>, min: u64) -> Option<Check> {
    let value = value?;
    Some(if value >= min {
        Check::new(name, Status::Ok, format!("fs.inotify.{key} = {value}"))
    } else {
        // A warning: too few watches break file watching and can make KinD's pods fail
        // ("too many open files"), but `up` itself works.
        Check::new(name, Status::Warn, format!("fs.inotify.{key} = {value}, below {min}")).fix(format!(
            "sudo sysctl -w fs.inotify.{key}={min} (to keep it after a reboot: echo fs.inotify.{key}={min} | sudo tee /etc/sysctl.d/99-nexus-dev-{key}.conf)"
        ))
    })
}

fn provider_name(p: ClusterProvider) -> &'static str {
    match p {
        ClusterProvider::Kind => "kind",
        ClusterProvider::Existing => "existing",
        ClusterProvider::Eks => "eks",
    }
}

/// Which emulator the profile runs, and what it needs and keeps.
fn emulator_check(profile: &Profile) -> Option<Check> {
    let emulator = profile.aws.emulator?;
    let at = profile.aws.endpoint.as_deref().unwrap_or("?");
    let detail = match emulator {
        Emulator::Ministack => {
            format!("MiniStack at {at}: no token; keeps its state across restarts (volume nexus-dev-aws-data)")
        }
        Emulator::Localstack => {
            format!(
                "LocalStack at {at}: needs an auth token; keeps its state across restarts (volume nexus-dev-aws-data)"
            )
        }
        Emulator::Moto => format!(
            "moto at {at}: no token; keeps its state in memory only, so a restart loses it and the daemon provisions again"
        ),
    };
    Some(Check::new("emulator", Status::Ok, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctor_names_the_emulator_and_what_it_needs_and_keeps() {
        let says = |name: &str| emulator_check(&profile(name)).map(|c| c.detail).unwrap_or_default();
        assert!(says("local").starts_with("MiniStack at http://localhost:4566: no token; keeps its state"));
        assert!(says("local-localstack").starts_with("LocalStack at http://localhost:4566: needs an auth token"));
        assert!(says("local-moto").contains("in memory only"));
        assert!(emulator_check(&profile("eks-prod")).is_none(), "real AWS runs no emulator");
    }

    fn profile(name: &str) -> Profile {
        crate::input::profile::built_in(name).unwrap()
    }

    fn healthy() -> Facts {
        Facts {
            docker: Ok(DockerFacts {
                host: "unix:///var/run/docker.sock".into(),
                engine_version: "20.10.24".into(),
                api_version: "1.41".into(),
            }),
            kind: Tool::Found { path: "/usr/local/bin/kind".into(), version: "v0.27.0".into() },
            kubectl: Tool::Found { path: "/usr/bin/kubectl".into(), version: "v1.34.4".into() },
            ports: vec![PortFact {
                what: "registry".into(),
                field: "registry.host".into(),
                ip: "127.0.0.1".into(),
                port: 5001,
                state: PortState::Free,
            }],
            inotify_watches: Some(524_288),
            inotify_instances: Some(512),
            token: Some(("LOCALSTACK_AUTH_TOKEN".into(), true)),
            coverage: Some(Coverage::Covered { endpoint: "http://localhost:4566".into() }),
        }
    }

    fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check {name}: {checks:#?}"))
    }

    #[test]
    fn a_healthy_machine_passes_everything() {
        let checks = evaluate(&profile("local"), &healthy());
        assert!(checks.iter().all(|c| c.status == Status::Ok), "{checks:#?}");
        assert!(!blocks_up(&checks));
        assert_eq!(find(&checks, "docker").detail, "Docker Engine 20.10.24 (API 1.41) at unix:///var/run/docker.sock");
        assert_eq!(find(&checks, "emulator token").detail, "$LOCALSTACK_AUTH_TOKEN is set");
    }

    #[test]
    fn what_blocks_up_and_what_only_warns() {
        let mut f = healthy();
        f.docker = Err("connection refused".into());
        f.kind = Tool::Missing;
        f.kubectl = Tool::Missing;
        f.inotify_watches = Some(8192);
        f.inotify_instances = Some(128);
        f.token = Some(("LOCALSTACK_AUTH_TOKEN".into(), false));
        f.coverage = Some(Coverage::Unreachable("connection refused".into()));
        let checks = evaluate(&profile("local-localstack"), &f);
        let blocking: Vec<&str> = checks.iter().filter(|c| c.blocks()).map(|c| c.name.as_str()).collect();
        assert_eq!(blocking, ["docker", "kind", "emulator token"]);
        let warnings: Vec<&str> = checks.iter().filter(|c| c.status == Status::Warn).map(|c| c.name.as_str()).collect();
        assert_eq!(warnings, ["kubectl", "inotify watches", "inotify instances", "emulator services"]);
        let kind = find(&checks, "kind");
        assert_eq!(kind.fix.as_deref(), Some(INSTALL_HINT));
        assert_eq!(
            find(&checks, "inotify watches").fix.as_deref().unwrap().split(" (").next(),
            Some("sudo sysctl -w fs.inotify.max_user_watches=524288")
        );
        assert!(
            find(&checks, "inotify instances")
                .fix
                .as_deref()
                .unwrap()
                .starts_with("sudo sysctl -w fs.inotify.max_user_instances=512")
        );
        let token = find(&checks, "emulator token");
        assert!(token.fix.as_deref().unwrap().contains("MiniStack, which needs none: --profile local"));
    }

    #[test]
    fn kind_is_only_required_for_kind_clusters() {
        let mut f = healthy();
        f.kind = Tool::Missing;
        let mut p = profile("local-moto");
        p.cluster.provider = ClusterProvider::Existing;
        let checks = evaluate(&p, &f);
        let kind = find(&checks, "kind");
        assert_eq!((kind.status, kind.detail.as_str()), (Status::Ok, "not needed (cluster.provider: existing)"));
        assert!(!blocks_up(&checks));
    }

    #[test]
    fn ports_held_by_our_containers_are_fine_others_block() {
        let mut f = healthy();
        let port = |state| PortFact {
            what: "AWS emulator".into(),
            field: "aws.endpoint".into(),
            ip: "127.0.0.1".into(),
            port: 4566,
            state,
        };
        f.ports = vec![
            port(PortState::Container { name: "nexus-dev-aws".into(), ours: true }),
            port(PortState::Container { name: "localstack-main".into(), ours: false }),
            port(PortState::Busy("address in use".into())),
        ];
        let checks = evaluate(&profile("local"), &f);
        let ports: Vec<&Check> = checks.iter().filter(|c| c.name.starts_with("port ")).collect();
        assert_eq!(ports[0].status, Status::Ok);
        assert!(ports[1].blocks());
        assert_eq!(
            ports[1].fix.as_deref(),
            Some("stop it (`docker stop localstack-main`), or choose another port in the profile's `aws.endpoint`")
        );
        assert!(ports[2].blocks());
        assert!(ports[2].fix.as_deref().unwrap().starts_with("find what listens with `ss -ltnp 'sport = :4566'`"));
    }

    #[test]
    fn missing_services_block_with_the_coverage_hint_as_fix() {
        let mut f = healthy();
        f.coverage = Some(Coverage::Missing(
            "the AWS emulator at http://localhost:4566 (LocalStack, community) does not offer glue\n  hint: use a token"
                .into(),
        ));
        let checks = evaluate(&profile("local"), &f);
        let c = find(&checks, "emulator services");
        assert!(c.blocks());
        assert_eq!(c.fix.as_deref(), Some("use a token"));
        assert!(c.detail.ends_with("does not offer glue"));
    }

    #[test]
    fn not_linux_means_no_inotify_checks() {
        let mut f = healthy();
        f.inotify_watches = None;
        f.inotify_instances = None;
        let checks = evaluate(&profile("local"), &f);
        assert!(checks.iter().all(|c| !c.name.starts_with("inotify")));
    }
}
