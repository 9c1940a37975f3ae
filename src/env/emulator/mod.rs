//! The AWS emulator container, `nexus-dev-aws`, as the profile asks: LocalStack (port 4566,
//! auth token, persistence volume, init hooks), MiniStack (LocalStack's protocol on 4566, no
//! token, persistence volume, init hooks) or moto (port 5000, state in memory). It is attached
//! to the `kind` network so that pods reach it by name: the shipped profiles' `aws.podEndpoint`
//! is `http://nexus-dev-aws:4566` (LocalStack, MiniStack) or `:5000` (moto).
//! `state` detects an emulator that restarted and lost what was provisioned.

pub mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::docker::{
    ContainerSpec, Engine, Outcome, Probe, Removal, Restart, Secret, ServiceError, ServiceStatus,
};
use crate::env::registry::KIND_NETWORK;
use crate::model::profile::{ClusterProvider, Emulator, Profile};

pub const NAME: &str = "nexus-dev-aws";
/// Pinned: since 2026-03-23 LocalStack's `latest` moved to calendar versions and needs an auth
/// token (TESTBED-NOTES §6); a pinned tag keeps every developer on the same emulator.
pub const LOCALSTACK_IMAGE: &str = "localstack/localstack:2026.07.0";
/// Pinned to the moto release the test bed verifies (5.2.5).
pub const MOTO_IMAGE: &str = "motoserver/moto:5.2.5";
/// Pinned to the MiniStack release the test bed verifies (PyPI `ministack` 1.5.33).
pub const MINISTACK_IMAGE: &str = "ministackorg/ministack:1.5.33";
/// Where MiniStack keeps its state (the volume's mount point).
pub const MINISTACK_DATA_DIR: &str = "/var/lib/ministack";
pub const LOCALSTACK_PORT: u16 = 4566;
pub const MOTO_PORT: u16 = 5000;
pub const VOLUME: &str = "nexus-dev-aws-data";
pub const LOCALSTACK_DATA_DIR: &str = "/var/lib/localstack";
/// LocalStack runs the scripts here once its services are ready.
pub const INIT_HOOKS_TARGET: &str = "/etc/localstack/init/ready.d";
/// The project directory whose contents become the init hooks.
pub const INIT_HOOKS_DIR: &str = "localstack";
/// The variable LocalStack reads its token from (whatever the profile's `authTokenEnv` is
/// called on the host).
pub const TOKEN_VAR: &str = "LOCALSTACK_AUTH_TOKEN";
pub const ROLE: &str = "emulator";

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "LocalStack needs an auth token, but ${var} is not set\n  hint: export {var}=<your token> (app.localstack.cloud → Auth Tokens), or use MiniStack, which needs none: --profile local"
    )]
    MissingToken { var: String },
    #[error(
        "aws.endpoint `{endpoint}` is not on this machine, so nexus-dev cannot run the emulator there\n  hint: use http://localhost:PORT, or remove `aws.emulator` to use that endpoint as it is"
    )]
    NotLocal { endpoint: String },
    #[error(
        "aws.podEndpoint `{pod_endpoint}` does not reach the {emulator} container ({name}:{port})\n  hint: set aws.podEndpoint to http://{name}:{port}"
    )]
    PodEndpoint { pod_endpoint: String, emulator: &'static str, name: String, port: u16 },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Where the profile's emulator is published on the host: `(ip, port)` from `aws.endpoint`;
/// `None` when the profile runs no emulator.
pub fn host_binding(profile: &Profile) -> Result<Option<(String, u16)>, EmulatorError> {
    if profile.aws.emulator.is_none() {
        return Ok(None);
    }
    let endpoint = profile.aws.endpoint.clone().unwrap_or_default();
    let not_local = || EmulatorError::NotLocal { endpoint: endpoint.clone() };
    let url = url::Url::parse(&endpoint).map_err(|_| not_local())?;
    let ip = match url.host_str() {
        Some("localhost" | "127.0.0.1") => "127.0.0.1",
        Some("[::1]") => "::1",
        _ => return Err(not_local()),
    };
    let port = url.port_or_known_default().ok_or_else(not_local)?;
    Ok(Some((ip.to_owned(), port)))
}

/// The emulator container for a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatorConfig {
    pub emulator: Emulator,
    pub name: String,
    pub image: String,
    pub host_ip: String,
    /// `None`: any free port (tests).
    pub host_port: Option<u16>,
    /// LocalStack's token (kept out of `Debug`, labels and logs by `EnvValue::Secret`).
    pub auth_token: Option<Secret>,
    /// Host directory mounted read-only as LocalStack's ready hooks.
    pub init_hooks: Option<PathBuf>,
    /// Persistence volume (LocalStack; moto keeps its state in memory).
    pub volume: Option<String>,
    pub attach: Vec<String>,
    pub ready_timeout: Duration,
}

impl EmulatorConfig {
    /// The emulator a profile asks for, or `None` when it names none. `image` overrides the
    /// pinned image (tests pass the stand-in); `env` reads the host environment (the token).
    pub fn from_profile(
        profile: &Profile,
        project_dir: &Path,
        image: Option<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, EmulatorError> {
        let Some(emulator) = profile.aws.emulator else { return Ok(None) };
        let Some((host_ip, host_port)) = host_binding(profile)? else { return Ok(None) };
        let image_default = match emulator {
            Emulator::Localstack => LOCALSTACK_IMAGE,
            Emulator::Ministack => MINISTACK_IMAGE,
            Emulator::Moto => MOTO_IMAGE,
        };
        let port = port_of(emulator);
        if let Some(pod) = &profile.aws.pod_endpoint
            && let Ok(u) = url::Url::parse(pod)
            && u.host_str() == Some(NAME)
            && u.port_or_known_default() != Some(port)
        {
            return Err(EmulatorError::PodEndpoint {
                pod_endpoint: pod.clone(),
                emulator: emulator.as_str(),
                name: NAME.into(),
                port,
            });
        }
        let (auth_token, volume, init_hooks) = match emulator {
            Emulator::Localstack => {
                let var = profile.aws.auth_token_env.clone().unwrap_or_else(|| TOKEN_VAR.into());
                let token = env(&var).filter(|t| !t.trim().is_empty());
                let Some(token) = token else { return Err(EmulatorError::MissingToken { var }) };
                let hooks = project_dir.join(INIT_HOOKS_DIR);
                (Some(Secret::new(token)), Some(VOLUME.to_owned()), hooks.is_dir().then_some(hooks))
            }
            Emulator::Ministack => {
                let hooks = project_dir.join(INIT_HOOKS_DIR);
                (None, Some(VOLUME.to_owned()), hooks.is_dir().then_some(hooks))
            }
            Emulator::Moto => (None, None, None),
        };
        let attach = match profile.cluster.provider {
            ClusterProvider::Kind => vec![KIND_NETWORK.to_owned()],
            ClusterProvider::Existing | ClusterProvider::Eks => vec![],
        };
        Ok(Some(Self {
            emulator,
            name: NAME.into(),
            image: image.unwrap_or_else(|| image_default.into()),
            host_ip,
            host_port: Some(host_port),
            auth_token,
            init_hooks,
            volume,
            attach,
            ready_timeout: Duration::from_secs(90),
        }))
    }

    /// The port the emulator listens on inside its container.
    pub fn container_port(&self) -> u16 {
        port_of(self.emulator)
    }

    /// The readiness endpoint: LocalStack's health (which also lists its services), MiniStack's
    /// (503 until its init hooks have run), moto's dashboard API.
    pub fn probe(&self) -> Probe {
        match self.emulator {
            Emulator::Localstack => Probe::http(LOCALSTACK_PORT, "/_localstack/health"),
            Emulator::Ministack => Probe::http(LOCALSTACK_PORT, "/_ministack/ready"),
            Emulator::Moto => Probe::http(MOTO_PORT, "/moto-api/"),
        }
    }

    pub fn spec(&self) -> ContainerSpec {
        let mut spec = ContainerSpec::new(&self.name, &self.image, ROLE)
            .port(self.container_port(), &self.host_ip, self.host_port)
            // `unless-stopped`: back after a reboot, but `down` stays down.
            .restart(Restart::UnlessStopped);
        match self.emulator {
            Emulator::Localstack => spec = spec.env("PERSISTENCE", "1"),
            // State is written on a clean stop (SIGTERM, as `down` stops it) and read at start.
            Emulator::Ministack => {
                spec = spec
                    .env("PERSIST_STATE", "1")
                    .env("STATE_DIR", format!("{MINISTACK_DATA_DIR}/state"))
                    .env("S3_PERSIST", "1")
                    .env("S3_DATA_DIR", format!("{MINISTACK_DATA_DIR}/s3"))
            }
            Emulator::Moto => {}
        }
        if let Some(token) = &self.auth_token {
            spec = spec.secret_env(TOKEN_VAR, token.clone());
        }
        if let Some(volume) = &self.volume {
            let target = if self.emulator == Emulator::Ministack { MINISTACK_DATA_DIR } else { LOCALSTACK_DATA_DIR };
            spec = spec.volume(volume, target);
        }
        if let Some(hooks) = &self.init_hooks {
            spec = spec.bind(hooks, INIT_HOOKS_TARGET, true);
        }
        spec.attach = self.attach.clone();
        spec
    }
}

/// The port an emulator listens on inside its container.
fn port_of(emulator: Emulator) -> u16 {
    match emulator {
        Emulator::Localstack | Emulator::Ministack => LOCALSTACK_PORT,
        Emulator::Moto => MOTO_PORT,
    }
}

/// A running, ready emulator.
pub type EmulatorStatus = ServiceStatus;

/// What errors call the emulator.
const WHAT: &str = "AWS emulator";

/// Creates or reuses the emulator container, starts it and waits until it answers.
#[tracing::instrument(skip_all, fields(emulator = %cfg.emulator.as_str(), container = %cfg.name))]
pub async fn ensure(engine: &Engine, cfg: &EmulatorConfig) -> Result<EmulatorStatus, EmulatorError> {
    Ok(engine.ensure_service(WHAT, &cfg.spec(), &cfg.probe(), cfg.ready_timeout).await?)
}

/// `down`: stops the emulator; its container and (LocalStack) data volume stay.
pub async fn stop(engine: &Engine, name: &str) -> Result<Outcome, EmulatorError> {
    Ok(engine.stop_service(WHAT, name).await?)
}

/// `down --purge`: removes the emulator and its data volume.
pub async fn purge(engine: &Engine, name: &str) -> Result<Removal, EmulatorError> {
    Ok(engine.purge_service(WHAT, name).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::env::docker::{EnvValue, MountSpec};

    fn profile(name: &str) -> Profile {
        crate::input::profile::built_in(name).unwrap()
    }

    #[test]
    fn localstack_gets_token_persistence_volume_and_hooks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("localstack")).unwrap();
        let env = |v: &str| (v == "LOCALSTACK_AUTH_TOKEN").then(|| "ls-secret-123".to_owned());
        let cfg = EmulatorConfig::from_profile(&profile("local-localstack"), dir.path(), None, env).unwrap().unwrap();
        assert_eq!(cfg.image, LOCALSTACK_IMAGE);
        assert_eq!((cfg.host_ip.as_str(), cfg.host_port), ("127.0.0.1", Some(4566)));
        assert_eq!(cfg.attach, ["kind"]);
        let spec = cfg.spec();
        assert_eq!(spec.name, "nexus-dev-aws");
        assert_eq!(spec.env["PERSISTENCE"], EnvValue::Plain("1".into()));
        assert_eq!(spec.env["LOCALSTACK_AUTH_TOKEN"], EnvValue::Secret(Secret::new("ls-secret-123")));
        assert_eq!(spec.ports[0].container_port, 4566);
        assert!(spec.mounts.contains(&MountSpec::Volume {
            name: "nexus-dev-aws-data".into(),
            target: "/var/lib/localstack".into(),
            read_only: false
        }));
        assert!(spec.mounts.contains(&MountSpec::Bind {
            source: dir.path().join("localstack"),
            target: "/etc/localstack/init/ready.d".into(),
            read_only: true
        }));
        assert_eq!(cfg.probe(), Probe::http(4566, "/_localstack/health"));
        assert!(!format!("{cfg:?}{spec:?}").contains("ls-secret-123"));
    }

    #[test]
    fn ministack_needs_no_token_and_keeps_its_state_on_a_volume_with_the_hooks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("localstack")).unwrap();
        let p = profile("local");
        assert_eq!(p.aws.emulator, Some(Emulator::Ministack), "the default emulator");
        let cfg = EmulatorConfig::from_profile(&p, dir.path(), None, |_| None).unwrap().unwrap();
        assert_eq!(cfg.image, MINISTACK_IMAGE);
        assert!(cfg.auth_token.is_none());
        let spec = cfg.spec();
        assert_eq!(spec.ports[0].container_port, 4566);
        assert_eq!(spec.env["PERSIST_STATE"], EnvValue::Plain("1".into()));
        assert_eq!(spec.env["STATE_DIR"], EnvValue::Plain("/var/lib/ministack/state".into()));
        assert!(!spec.env.contains_key("LOCALSTACK_AUTH_TOKEN"));
        assert!(spec.mounts.contains(&MountSpec::Volume {
            name: "nexus-dev-aws-data".into(),
            target: "/var/lib/ministack".into(),
            read_only: false
        }));
        assert!(spec.mounts.contains(&MountSpec::Bind {
            source: dir.path().join("localstack"),
            target: "/etc/localstack/init/ready.d".into(),
            read_only: true
        }));
        assert_eq!(cfg.probe(), Probe::http(4566, "/_ministack/ready"));
    }

    #[test]
    fn localstack_without_a_token_names_the_variable_and_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let err = EmulatorConfig::from_profile(&profile("local-localstack"), dir.path(), None, |_| None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("$LOCALSTACK_AUTH_TOKEN is not set"), "{msg}");
        assert!(msg.contains("MiniStack, which needs none: --profile local"), "{msg}");
        let blank = EmulatorConfig::from_profile(&profile("local-localstack"), dir.path(), None, |_| Some(" ".into()));
        assert!(matches!(blank, Err(EmulatorError::MissingToken { .. })));
    }

    #[test]
    fn moto_maps_the_endpoint_port_to_5000_and_has_no_volume() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("localstack")).unwrap();
        let cfg = EmulatorConfig::from_profile(&profile("local-moto"), dir.path(), Some("stand-in:1".into()), |_| None)
            .unwrap()
            .unwrap();
        let spec = cfg.spec();
        assert_eq!(spec.image, "stand-in:1");
        assert_eq!(
            spec.ports,
            [crate::env::docker::PortSpec { container_port: 5000, host_ip: "127.0.0.1".into(), host_port: Some(4566) }]
        );
        assert!(spec.mounts.is_empty());
        assert!(spec.env.is_empty());
        assert_eq!(cfg.probe(), Probe::http(5000, "/moto-api/"));
    }

    #[test]
    fn real_aws_has_no_emulator_and_a_wrong_pod_endpoint_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        assert!(EmulatorConfig::from_profile(&profile("eks-prod"), dir.path(), None, |_| None).unwrap().is_none());
        let mut p = profile("local-moto");
        p.aws.pod_endpoint = Some("http://nexus-dev-aws:4566".into());
        let err = EmulatorConfig::from_profile(&p, dir.path(), None, |_| None).unwrap_err().to_string();
        assert!(err.contains("set aws.podEndpoint to http://nexus-dev-aws:5000"), "{err}");
        p.aws.endpoint = Some("http://10.1.2.3:4566".into());
        p.aws.pod_endpoint = None;
        assert!(matches!(
            EmulatorConfig::from_profile(&p, dir.path(), None, |_| None),
            Err(EmulatorError::NotLocal { .. })
        ));
    }
}
