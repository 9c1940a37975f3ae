//! The project file, `nexus-dev.yaml`: which capability specs, which profile, and how each
//! component is built, watched and synced. How it is found and checked is `input::project`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "nexus-dev.yaml";

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Project {
    /// Capability specs: files or directories, relative to this file.
    pub specs: Vec<String>,
    /// Profile for `up` and `watch` unless `--profile` says otherwise.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// How each component's image is built, watched and synced.
    #[serde(default)]
    pub components: Vec<BuildComponent>,
    #[serde(default)]
    pub watch: WatchSettings,
    /// Data for local use only, by capabilityName: `up` loads it into the emulator after
    /// provisioning, never over what is there (unless `up --reseed`), and never into real AWS.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seed: BTreeMap<String, Seed>,
    /// Settings for every capability of the project unless an environment or the spec sets
    /// them (the project level of seed 002's hierarchy).
    #[serde(default, skip_serializing_if = "is_empty_layer")]
    pub defaults: Layer,
    /// Environments by name (a DNS label, as a spec's `environment`): what each sets over the
    /// defaults, and the profile it deploys to. `--env NAME` selects one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, Layer>,
}

fn is_empty_layer(l: &Layer) -> bool {
    *l == Layer::default()
}

/// One capability's seed data, by the names of its resources' purposes.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// DynamoDB items by table (`license`, `transformation-system`, `wxcc-task-tracking`): each
    /// item an object of string, number or boolean attributes, its key attributes included.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, Vec<BTreeMap<String, serde_json::Value>>>,
    /// S3 objects by bucket (`call-data`, ...): object key → text content.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buckets: BTreeMap<String, BTreeMap<String, String>>,
    /// SSM parameters: `category/key` → value (the parameter `/{cap}/{env}/category/key`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Secret values by secret (`api-keys`, `openai`, ...): key → value. Loaded only over the
    /// placeholder nexus-dev created, never over a value someone set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// One level of the layered configuration (seed 002): what the project's `defaults` or one of
/// its `environments` sets for every capability, unless the capability's spec sets it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Layer {
    /// Environments only: the profile the environment deploys to (`--env` selects it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<WorkloadLayer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<WorkloadLayer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressLayer>,
}

/// A workload's settings in a layer; each as in the spec.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: Option<i32>,
    /// Container image reference, such as a tag per environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
    /// Environment variables by name; merged name by name with the spec's `env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<crate::model::spec::Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/"))]
    pub health_check_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<crate::model::spec::Probes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<crate::model::spec::WorkloadSecurity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<crate::model::spec::Autoscaling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub termination_grace_period_seconds: Option<i64>,
}

/// The ingress settings a layer can give.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<crate::model::spec::IngressScheme>,
}

fn default_profile() -> String {
    "local".into()
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildComponent {
    /// A short name, for logs and flags.
    pub name: String,
    /// The capability (its capabilityName); optional when the project has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// Which workload of the capability this image runs: backend or frontend.
    pub component: Tier,
    /// Build context, relative to the project file.
    pub context: String,
    /// Dockerfile, relative to the context.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// Multi-stage build target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub build_args: BTreeMap<String, String>,
    /// Paths to watch, relative to the context (default: all of it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<String>,
    /// Extra ignore patterns (gitignore syntax), besides .dockerignore, .gitignore and editor files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Live sync: files under `from` are copied to `to` in the running container, no rebuild.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync: Vec<SyncRule>,
    /// Command run in the container after a sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_sync: Vec<String>,
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}

/// Which of a capability's two workloads an image runs as.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Backend,
    Frontend,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Backend => "backend",
            Tier::Frontend => "frontend",
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRule {
    /// Relative to the context.
    pub from: String,
    /// Absolute path in the container.
    pub to: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchSettings {
    /// Quiet time after the last change before a rebuild, such as 300ms.
    #[serde(default = "default_debounce")]
    pub debounce: String,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self { debounce: default_debounce() }
    }
}

fn default_debounce() -> String {
    "300ms".into()
}

/// A loaded project: the file, its directory, and the parsed settings.
#[derive(Debug, Clone)]
pub struct LoadedProject {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub project: Project,
    /// The file as parsed, for locating its settings in messages and `plan --explain`.
    pub doc: crate::input::yaml::Document,
}

impl LoadedProject {
    /// Absolute build context of a component.
    pub fn context(&self, c: &BuildComponent) -> PathBuf {
        self.dir.join(&c.context)
    }

    pub fn spec_paths(&self) -> Vec<PathBuf> {
        self.project.specs.iter().map(|s| self.dir.join(s)).collect()
    }

    pub fn debounce(&self) -> std::time::Duration {
        humantime::parse_duration(&self.project.watch.debounce).unwrap_or(std::time::Duration::from_millis(300))
    }
}
