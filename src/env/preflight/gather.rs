//! Collecting `Facts`: the Docker Engine, tools on PATH, host ports, inotify limits, the
//! emulator token (whether it is set, never its value) and the emulator's services.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::{Coverage, DockerFacts, Facts, PortFact, PortState, Tool};
use crate::env::docker::Engine;
use crate::env::kind::command::{Command, ProcessRunner, Runner, find_in_path, parse_version};
use crate::env::owner::ProjectId;
use crate::env::registry::{RegistryConfig, RegistryImage};
use crate::env::{emulator, owner};
use crate::model::profile::{Emulator, Profile};
use crate::provision::aws::coverage::{self, CoverageError};

/// Where `gather` looks; the defaults are the machine's.
#[derive(Clone, Debug)]
pub struct GatherOptions {
    pub project: ProjectId,
    /// AWS services the project's capabilities need (the plan's), for the coverage check.
    pub needed: Vec<String>,
    /// PATH to search for `kind` and `kubectl`; `None` is `$PATH`.
    pub path: Option<OsString>,
    /// Where the inotify limits are read.
    pub inotify_dir: PathBuf,
}

impl GatherOptions {
    pub fn new(project: ProjectId, needed: Vec<String>) -> Self {
        Self { project, needed, path: None, inotify_dir: PathBuf::from("/proc/sys/fs/inotify") }
    }
}

/// How long a tool's `version` may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything `evaluate` needs about this machine and `profile`.
#[tracing::instrument(skip_all, fields(profile = %profile.name))]
pub async fn gather(profile: &Profile, opts: &GatherOptions) -> Facts {
    let engine = Engine::connect(opts.project.clone()).await;
    let docker = match &engine {
        Ok(e) => Ok(DockerFacts {
            host: std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into()),
            engine_version: e.engine_version().to_owned(),
            api_version: e.api_version().to_owned(),
        }),
        Err(e) => Err(e.to_string().lines().next().unwrap_or_default().to_owned()),
    };
    let path = opts.path.clone().or_else(|| std::env::var_os("PATH")).unwrap_or_default();
    let kind = tool(find_in_path("kind", &path), &["version"], parse_version).await;
    let kubectl = tool(find_in_path("kubectl", &path), &["version", "--client", "-o", "json"], |out| {
        serde_json::from_str::<serde_json::Value>(out)
            .ok()
            .and_then(|v| v["clientVersion"]["gitVersion"].as_str().map(str::to_owned))
            .unwrap_or_else(|| out.trim().to_owned())
    })
    .await;

    let mut ports = Vec::new();
    if let Ok(Some(r)) = RegistryConfig::from_profile(profile, RegistryImage::default())
        && let Some(port) = r.host_port
    {
        ports.push(("registry", "registry.host", r.host_ip, port));
    }
    if let Ok(Some((ip, port))) = emulator::host_binding(profile) {
        ports.push(("AWS emulator", "aws.endpoint", ip, port));
    }
    let mut port_facts = Vec::new();
    for (what, field, ip, port) in ports {
        let state = port_state(engine.as_ref().ok(), &ip, port).await;
        port_facts.push(PortFact { what: what.into(), field: field.into(), ip, port, state });
    }

    let token = match profile.aws.emulator {
        Some(Emulator::Localstack) => {
            let var = profile.aws.auth_token_env.clone().unwrap_or_else(|| emulator::TOKEN_VAR.into());
            let set = std::env::var(&var).is_ok_and(|v| !v.trim().is_empty());
            Some((var, set))
        }
        _ => None,
    };

    let coverage = match profile.aws.emulator {
        None => None,
        Some(_) => {
            let needed: Vec<&str> = opts.needed.iter().map(String::as_str).collect();
            Some(match coverage::check(profile, &needed).await {
                Ok(()) => Coverage::Covered { endpoint: profile.aws.endpoint.clone().unwrap_or_default() },
                Err(e @ CoverageError::Missing { .. }) => Coverage::Missing(e.to_string()),
                Err(CoverageError::Unreachable { detail, .. }) => Coverage::Unreachable(detail),
            })
        }
    };

    Facts {
        docker,
        kind,
        kubectl,
        ports: port_facts,
        inotify_watches: read_u64(opts.inotify_dir.join("max_user_watches")),
        inotify_instances: read_u64(opts.inotify_dir.join("max_user_instances")),
        token,
        coverage,
    }
}

async fn tool(path: Option<PathBuf>, args: &[&str], parse: impl Fn(&str) -> String) -> Tool {
    let Some(path) = path else { return Tool::Missing };
    let shown = path.display().to_string();
    let command = Command { program: path, args: args.iter().map(|a| (*a).to_owned()).collect() };
    match tokio::time::timeout(TOOL_TIMEOUT, ProcessRunner.run(&command)).await {
        Ok(Ok(out)) if out.success() => Tool::Found { path: shown, version: parse(&out.stdout) },
        Ok(Ok(out)) => Tool::Broken {
            path: shown,
            error: format!("`{command}` exited with {:?}: {}", out.code, out.stderr.trim()),
        },
        Ok(Err(e)) => Tool::Broken { path: shown, error: e.to_string() },
        Err(_) => Tool::Broken { path: shown, error: format!("`{command}` took longer than {TOOL_TIMEOUT:?}") },
    }
}

/// A running container publishing `port`, else whether the port can be bound.
async fn port_state(engine: Option<&Engine>, ip: &str, port: u16) -> PortState {
    if let Some(engine) = engine
        && let Ok(Some((name, labels))) = engine.publisher_of(port).await
    {
        // The project's own, or the environment every project of the machine shares.
        let ours = matches!(
            owner::ownership(Some(&labels), engine.project()),
            owner::Ownership::Ours | owner::Ownership::Shared
        );
        return PortState::Container { name, ours };
    }
    match std::net::TcpListener::bind((ip, port)) {
        Ok(_) => PortState::Free,
        Err(e) => PortState::Busy(e.to_string()),
    }
}

fn read_u64(path: PathBuf) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
