//! What a container should look like, and the pure comparison of that with what the Engine
//! reports: `ensure_container` recreates a container only when this comparison finds a
//! difference, and says which (never a secret's value).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HostConfig, Mount, MountType, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};

use crate::env::owner::{ENV_KEYS_KEY, ProjectId, ROLE_KEY};

/// A value that must not be shown: `Debug` prints `<redacted>`, and nothing nexus-dev logs or
/// labels contains it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Also tells the log writer to mask the value wherever it shows up: the Docker client logs
    /// request bodies at trace level, and those carry the container's environment.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::logging::mask(&value);
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An environment variable's value. A secret is passed to the container but never appears in
/// `Debug` output, labels, logs or the reasons for a recreate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    Plain(String),
    Secret(Secret),
}

impl EnvValue {
    fn expose(&self) -> &str {
        match self {
            Self::Plain(v) => v,
            Self::Secret(s) => s.expose(),
        }
    }
}

/// A TCP port published on the host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortSpec {
    pub container_port: u16,
    pub host_ip: String,
    /// `None`: any free port (tests; the bound port is read back from the Engine).
    pub host_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountSpec {
    /// A named volume (created with the project's labels by `ensure_container`).
    Volume { name: String, target: String, read_only: bool },
    /// A host directory; the source must exist (the Engine refuses a missing one).
    Bind { source: PathBuf, target: String, read_only: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    UnlessStopped,
}

impl Restart {
    fn as_str(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Always => "always",
            Self::UnlessStopped => "unless-stopped",
        }
    }
}

/// A container as nexus-dev wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `registry`, `emulator`, …: the `nexus.ai/role` label.
    pub role: String,
    /// Overrides the image's CMD when set.
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, EnvValue>,
    pub ports: Vec<PortSpec>,
    pub mounts: Vec<MountSpec>,
    /// The network the container is created on; `None` is Docker's default bridge.
    pub network: Option<String>,
    /// Networks the container is connected to after creation (KinD's `kind` network): a missing
    /// one is connected, never a reason to recreate.
    pub attach: Vec<String>,
    pub restart: Restart,
}

impl ContainerSpec {
    pub fn new(name: impl Into<String>, image: impl Into<String>, role: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            role: role.into(),
            cmd: None,
            env: BTreeMap::new(),
            ports: Vec::new(),
            mounts: Vec::new(),
            network: None,
            attach: Vec::new(),
            restart: Restart::No,
        }
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), EnvValue::Plain(value.into()));
        self
    }

    pub fn secret_env(mut self, key: impl Into<String>, value: Secret) -> Self {
        self.env.insert(key.into(), EnvValue::Secret(value));
        self
    }

    pub fn cmd<S: Into<String>>(mut self, cmd: impl IntoIterator<Item = S>) -> Self {
        self.cmd = Some(cmd.into_iter().map(Into::into).collect());
        self
    }

    pub fn port(mut self, container_port: u16, host_ip: impl Into<String>, host_port: Option<u16>) -> Self {
        self.ports.push(PortSpec { container_port, host_ip: host_ip.into(), host_port });
        self
    }

    pub fn volume(mut self, name: impl Into<String>, target: impl Into<String>) -> Self {
        self.mounts.push(MountSpec::Volume { name: name.into(), target: target.into(), read_only: false });
        self
    }

    pub fn bind(mut self, source: impl Into<PathBuf>, target: impl Into<String>, read_only: bool) -> Self {
        self.mounts.push(MountSpec::Bind { source: source.into(), target: target.into(), read_only });
        self
    }

    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.network = Some(network.into());
        self
    }

    pub fn attach(mut self, network: impl Into<String>) -> Self {
        self.attach.push(network.into());
        self
    }

    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Named volumes the container mounts.
    pub fn volumes(&self) -> impl Iterator<Item = &str> {
        self.mounts.iter().filter_map(|m| match m {
            MountSpec::Volume { name, .. } => Some(name.as_str()),
            MountSpec::Bind { .. } => None,
        })
    }

    /// The Engine's create request for this spec, labelled for `project`.
    pub fn create_body(&self, project: &ProjectId) -> ContainerCreateBody {
        let mut labels = project.labels(&self.role);
        if !self.env.is_empty() {
            labels.insert(ENV_KEYS_KEY.to_owned(), self.env.keys().cloned().collect::<Vec<_>>().join(","));
        }
        let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = self
            .ports
            .iter()
            .map(|p| {
                let binding = PortBinding {
                    host_ip: Some(p.host_ip.clone()),
                    host_port: Some(p.host_port.map(|n| n.to_string()).unwrap_or_default()),
                };
                (format!("{}/tcp", p.container_port), Some(vec![binding]))
            })
            .collect();
        let mounts = self
            .mounts
            .iter()
            .map(|m| {
                let (typ, source, target, read_only) = match m {
                    MountSpec::Volume { name, target, read_only } => {
                        (MountType::VOLUME, name.clone(), target, read_only)
                    }
                    MountSpec::Bind { source, target, read_only } => {
                        (MountType::BIND, source.display().to_string(), target, read_only)
                    }
                };
                Mount {
                    typ: Some(typ),
                    source: Some(source),
                    target: Some(target.clone()),
                    read_only: Some(*read_only),
                    ..Default::default()
                }
            })
            .collect();
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: self.cmd.clone(),
            env: Some(self.env.iter().map(|(k, v)| format!("{k}={}", v.expose())).collect()),
            labels: Some(labels),
            exposed_ports: Some(self.ports.iter().map(|p| format!("{}/tcp", p.container_port)).collect()),
            host_config: Some(HostConfig {
                port_bindings: Some(port_bindings),
                mounts: Some(mounts),
                network_mode: self.network.clone(),
                restart_policy: Some(RestartPolicy {
                    name: Some(restart_name(self.restart)),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

fn restart_name(r: Restart) -> RestartPolicyNameEnum {
    match r {
        Restart::No => RestartPolicyNameEnum::NO,
        Restart::Always => RestartPolicyNameEnum::ALWAYS,
        Restart::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
    }
}

fn describe_ports(set: &BTreeSet<(String, String, String)>) -> String {
    if set.is_empty() {
        return "none".into();
    }
    set.iter()
        .map(|(c, ip, hp)| format!("{ip}:{}->{c}", if hp.is_empty() { "any" } else { hp }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_mounts(set: &BTreeSet<(String, String, String, bool)>) -> String {
    if set.is_empty() {
        return "none".into();
    }
    set.iter()
        .map(|(t, s, d, ro)| format!("{t} {s}:{d}{}", if *ro { ":ro" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// Why the container the Engine reports is not the one `spec` describes; empty when it is.
/// `image_id` is the current ID of `spec.image`, if known: a tag that now points to another
/// build (a `docker pull` of a newer `registry:2`) is a reason too. Extra networks are not
/// compared here (they are connected, not recreated); nor are settings `spec` leaves to the
/// image (an absent `cmd`).
pub fn differences(spec: &ContainerSpec, observed: &ContainerInspectResponse, image_id: Option<&str>) -> Vec<String> {
    let mut why = Vec::new();
    let config = observed.config.clone().unwrap_or_default();
    let host = observed.host_config.clone().unwrap_or_default();

    let image = config.image.unwrap_or_default();
    if image != spec.image {
        why.push(format!("image {image} → {}", spec.image));
    } else if let (Some(want), Some(have)) = (image_id, observed.image.as_deref())
        && want != have
    {
        why.push(format!("image {image} now refers to another build ({} → {})", short_id(have), short_id(want)));
    }

    if let Some(cmd) = &spec.cmd
        && config.cmd.as_ref() != Some(cmd)
    {
        why.push(format!("command {:?} → {cmd:?}", config.cmd.unwrap_or_default()));
    }

    let labels = config.labels.unwrap_or_default();
    let have_env: HashMap<&str, &str> =
        config.env.iter().flatten().map(|kv| kv.split_once('=').unwrap_or((kv.as_str(), ""))).collect();
    for (k, v) in &spec.env {
        match have_env.get(k.as_str()) {
            None => why.push(format!("env {k} added")),
            Some(have) if *have != v.expose() => why.push(format!("env {k} changed")),
            Some(_) => {}
        }
    }
    let set_before = labels.get(ENV_KEYS_KEY).map(String::as_str).unwrap_or_default();
    for k in set_before.split(',').filter(|k| !k.is_empty()) {
        if !spec.env.contains_key(k) {
            why.push(format!("env {k} removed"));
        }
    }
    if labels.get(ROLE_KEY) != Some(&spec.role) {
        why.push(format!("role {} → {}", labels.get(ROLE_KEY).map_or("none", String::as_str), spec.role));
    }

    let have_ports: BTreeSet<(String, String, String)> = host
        .port_bindings
        .iter()
        .flatten()
        .flat_map(|(port, bindings)| {
            bindings.iter().flatten().map(move |b| {
                (port.clone(), b.host_ip.clone().unwrap_or_default(), b.host_port.clone().unwrap_or_default())
            })
        })
        .collect();
    let want_ports: BTreeSet<(String, String, String)> = spec
        .ports
        .iter()
        .map(|p| {
            (
                format!("{}/tcp", p.container_port),
                p.host_ip.clone(),
                p.host_port.map(|n| n.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    if have_ports != want_ports {
        why.push(format!("ports {} → {}", describe_ports(&have_ports), describe_ports(&want_ports)));
    }

    let have_mounts: BTreeSet<(String, String, String, bool)> = host
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            (
                m.typ.map(|t| t.to_string()).unwrap_or_default(),
                m.source.clone().unwrap_or_default(),
                m.target.clone().unwrap_or_default(),
                m.read_only.unwrap_or(false),
            )
        })
        .collect();
    let want_mounts: BTreeSet<(String, String, String, bool)> = spec
        .mounts
        .iter()
        .map(|m| match m {
            MountSpec::Volume { name, target, read_only } => {
                ("volume".into(), name.clone(), target.clone(), *read_only)
            }
            MountSpec::Bind { source, target, read_only } => {
                ("bind".into(), source.display().to_string(), target.clone(), *read_only)
            }
        })
        .collect();
    if have_mounts != want_mounts {
        why.push(format!("volumes {} → {}", describe_mounts(&have_mounts), describe_mounts(&want_mounts)));
    }

    // The Engine reports the default network as "default" (or "bridge" when named so).
    let have_net = host.network_mode.unwrap_or_else(|| "default".into());
    let same_net = match &spec.network {
        Some(n) => &have_net == n,
        None => matches!(have_net.as_str(), "default" | "bridge" | ""),
    };
    if !same_net {
        why.push(format!("network {have_net} → {}", spec.network.as_deref().unwrap_or("default")));
    }

    let have_restart = host.restart_policy.and_then(|r| r.name).map(|n| n.to_string()).unwrap_or_default();
    let have_restart = if have_restart.is_empty() { "no".to_owned() } else { have_restart };
    if have_restart != spec.restart.as_str() {
        why.push(format!("restart policy {have_restart} → {}", spec.restart.as_str()));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec::new("reg", "registry:2", "registry")
            .env("A", "1")
            .secret_env("TOKEN", Secret::new("s3cret"))
            .port(5000, "127.0.0.1", Some(5001))
            .volume("reg-data", "/var/lib/registry")
            .bind("/src/init", "/etc/init", true)
            .restart(Restart::Always)
    }

    /// What the Engine reports for a container created from `s`: the create body read back,
    /// with image defaults added to the environment as the Engine does.
    fn observed(s: &ContainerSpec) -> ContainerInspectResponse {
        let body = s.create_body(&ProjectId::new("p").unwrap());
        let mut env = body.env.clone().unwrap();
        env.push("PATH=/usr/bin".into());
        let mut host = body.host_config.clone().unwrap();
        host.network_mode.get_or_insert_with(|| "default".into());
        ContainerInspectResponse {
            image: Some("sha256:aaaaaaaaaaaaaaaa".into()),
            config: Some(bollard::models::ContainerConfig {
                image: body.image,
                cmd: body.cmd.or(Some(vec!["serve".into()])),
                env: Some(env),
                labels: body.labels,
                ..Default::default()
            }),
            host_config: Some(host),
            ..Default::default()
        }
    }

    #[test]
    fn a_container_made_from_the_spec_matches_it() {
        let s = spec();
        assert_eq!(differences(&s, &observed(&s), Some("sha256:aaaaaaaaaaaaaaaa")), Vec::<String>::new());
        let s = s.network("kind");
        assert!(differences(&s, &observed(&s), None).is_empty());
    }

    #[test]
    fn each_kind_of_change_is_named() {
        let base = spec();
        let seen = observed(&base);
        let cases: Vec<(ContainerSpec, &str)> = vec![
            (ContainerSpec { image: "registry:3".into(), ..base.clone() }, "image registry:2 → registry:3"),
            (base.clone().env("A", "2"), "env A changed"),
            (base.clone().env("B", "1"), "env B added"),
            (ContainerSpec { env: BTreeMap::new(), ..base.clone() }, "env A removed"),
            (
                base.clone().port(4566, "127.0.0.1", None),
                "ports 127.0.0.1:5001->5000/tcp → 127.0.0.1:any->4566/tcp, 127.0.0.1:5001->5000/tcp",
            ),
            (
                ContainerSpec { mounts: vec![], ..base.clone() },
                "volumes bind /src/init:/etc/init:ro, volume reg-data:/var/lib/registry → none",
            ),
            (base.clone().network("kind"), "network default → kind"),
            (base.clone().restart(Restart::No), "restart policy always → no"),
            (base.clone().cmd(["run"]), "command [\"serve\"] → [\"run\"]"),
            (ContainerSpec { role: "emulator".into(), ..base.clone() }, "role registry → emulator"),
        ];
        for (changed, reason) in cases {
            let why = differences(&changed, &seen, None);
            assert!(why.iter().any(|w| w == reason), "want {reason:?}, got {why:?}");
        }
        let why = differences(&base, &seen, Some("sha256:bbbbbbbbbbbbbbbbbbbb"));
        assert_eq!(why, ["image registry:2 now refers to another build (aaaaaaaaaaaa → bbbbbbbbbbbb)"]);
    }

    #[test]
    fn secrets_stay_out_of_reasons_labels_and_debug() {
        let base = spec();
        let seen = observed(&base);
        let changed = base.clone().secret_env("TOKEN", Secret::new("n3w-s3cret"));
        let why = differences(&changed, &seen, None).join("; ");
        assert_eq!(why, "env TOKEN changed");
        let body = changed.create_body(&ProjectId::new("p").unwrap());
        let labels = format!("{:?}", body.labels);
        assert!(!labels.contains("s3cret"), "{labels}");
        assert!(labels.contains("A,TOKEN"), "{labels}");
        assert!(!format!("{changed:?}").contains("s3cret"));
        assert!(body.env.unwrap().contains(&"TOKEN=n3w-s3cret".to_owned()));
    }

    #[test]
    fn create_body_carries_labels_ports_mounts_and_policy() {
        let body = spec().network("kind").create_body(&ProjectId::new("p1").unwrap());
        let labels = body.labels.unwrap();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "nexus-dev");
        assert_eq!(labels["nexus.ai/project"], "p1");
        assert_eq!(labels["nexus.ai/role"], "registry");
        let host = body.host_config.unwrap();
        let binding = &host.port_bindings.unwrap()["5000/tcp"].clone().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some("5001"));
        assert_eq!(host.network_mode.as_deref(), Some("kind"));
        assert_eq!(host.restart_policy.unwrap().name, Some(RestartPolicyNameEnum::ALWAYS));
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts[1].typ, Some(MountType::BIND));
        assert_eq!(mounts[1].read_only, Some(true));
        assert_eq!(body.exposed_ports.unwrap(), ["5000/tcp"]);
    }
}
