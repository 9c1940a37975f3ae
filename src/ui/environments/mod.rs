//! The Environments view (issue 16): the daemon's own profile and each EKS profile of the
//! project side by side, for the same spec: the profile-scoped differences of their plans, the
//! digests running on each, and the drift (docs/design/ui.md, "Environments").
//!
//! The local column is live: the capabilities and the images their Deployments run, as the
//! feed last saw them. The EKS columns are recorded: the daemon never contacts an EKS cluster
//! (it has no credentials for one, and the dashboard offers nothing that writes there), so what
//! runs on EKS is what the last successful promotion recorded (`promote::release`: the history
//! and the release records under `.nexus-dev/releases/`).

pub mod api;
pub mod compare;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt as _;
use serde::Serialize;

use self::compare::{ComponentDigests, PlanDifferences};
use crate::input::profile::{BUILT_IN, LoadedProfile};
use crate::model::profile::{ClusterProvider, Profile};
use crate::model::spec::NexusAICapability;
use crate::promote::release::{self, Promotion, Release};

/// One environment: where a profile puts a spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub profile: String,
    pub description: Option<String>,
    /// The profile's file, `built-in:NAME`, or `daemon` for the daemon's own.
    pub origin: String,
    /// `kind`, `existing` or `eks`.
    pub provider: ClusterProvider,
    /// The cluster's name, and the kubeconfig context that reaches it.
    pub cluster: Option<String>,
    pub context: Option<String>,
    pub account: String,
    /// The region of the EKS context's ARN; none: each capability's own region.
    pub region: Option<String>,
    /// The AWS emulator, and the endpoint AWS calls go to; none: real AWS.
    pub emulator: Option<String>,
    pub endpoint: Option<String>,
    pub registry: Option<String>,
    pub ingress_class: String,
    pub domain: Option<String>,
    pub tls: bool,
    pub production: bool,
    /// `live` (read from the local cluster) or `recorded` (from the promotion history).
    pub source: &'static str,
}

impl Environment {
    fn of(profile: &Profile, origin: String, source: &'static str) -> Self {
        let region = Some(crate::promote::target::region(profile, "")).filter(|r| !r.is_empty());
        let context = profile.cluster.context.clone().or_else(|| match profile.cluster.provider {
            ClusterProvider::Kind => profile.cluster.name.as_ref().map(|n| format!("kind-{n}")),
            _ => None,
        });
        Self {
            profile: profile.name.clone(),
            description: profile.description.clone(),
            origin,
            provider: profile.cluster.provider,
            cluster: profile.cluster.name.clone(),
            context,
            account: profile.aws.account.clone(),
            region,
            emulator: profile.aws.emulator.map(|e| e.as_str().to_owned()),
            endpoint: profile.aws.endpoint.clone(),
            registry: profile.registry.as_ref().map(|r| r.host.clone()),
            ingress_class: profile.ingress.class.clone(),
            domain: profile.ingress.domain.clone(),
            tls: profile.ingress.tls,
            production: profile.production,
            source,
        }
    }
}

/// The last successful promotion of a capability to a profile, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Promoted {
    pub time: String,
    pub release: String,
    pub account: String,
    pub region: String,
    pub cluster_arn: String,
    /// Whether the release was made from the spec the local cluster runs now.
    pub same_spec: bool,
}

/// A failed promotion after the last successful one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub time: String,
    pub release: String,
    pub outcome: String,
}

/// One capability, local against one EKS profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub profile: String,
    /// What differs between the local plan and this profile's (left: local).
    pub plan: PlanDifferences,
    /// None: never promoted to this profile.
    pub promoted: Option<Promoted>,
    pub failed_since: Vec<Attempt>,
    pub components: Vec<ComponentDigests>,
}

/// One capability in every environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityEnvironments {
    pub key: String,
    pub capability: String,
    pub environment: String,
    pub region: String,
    pub spec_hash: String,
    pub comparisons: Vec<Comparison>,
}

/// `GET /api/v1/environments`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct View {
    /// The daemon's own profile.
    pub local: Environment,
    /// Every EKS profile `promote --to NAME` can name from the project.
    pub eks: Vec<Environment>,
    /// Profiles, records or a history that could not be read.
    pub problems: Vec<String>,
    pub capabilities: Vec<CapabilityEnvironments>,
}

/// What the feed last saw of the local cluster.
#[derive(Debug, Default)]
struct Seen {
    crs: Vec<Arc<NexusAICapability>>,
    /// By capability key, each component's image.
    images: HashMap<String, BTreeMap<String, String>>,
}

/// The view's inputs: the project's directory (its profiles and release records), the
/// daemon's profile, and what the feed last saw.
#[derive(Debug)]
pub struct Environments {
    project_dir: Option<PathBuf>,
    local: Profile,
    seen: RwLock<Seen>,
}

/// No project: the built-in profiles beside the built-in `local` (a dashboard without a daemon's
/// project, in tests and benchmarks).
impl Default for Environments {
    fn default() -> Self {
        Self::new(None, crate::input::profile::built_in("local").expect("the built-in local profile"))
    }
}

impl Environments {
    /// For the project in `project_dir` (none: only the built-in profiles, no records), whose
    /// daemon runs `local`.
    pub fn new(project_dir: Option<PathBuf>, local: Profile) -> Self {
        Self { project_dir, local, seen: RwLock::default() }
    }

    /// Keeps what the feed saw: the project's capabilities and, by capability key, the image
    /// each component's Deployment runs ([`local_images`]).
    pub fn observe(&self, crs: Vec<Arc<NexusAICapability>>, images: HashMap<String, BTreeMap<String, String>>) {
        // A poisoned lock only means a reader panicked; the data is whole.
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        *seen = Seen { crs, images };
    }

    /// The view now: profiles and records read from the project directory on each call (they
    /// change when a promotion runs, in another process).
    pub fn view(&self) -> View {
        let mut problems = Vec::new();
        let eks = self.eks_profiles(&mut problems);
        let (history, records) = match &self.project_dir {
            Some(dir) => read_records(&release::dir_of(dir), &mut problems),
            None => (Vec::new(), HashMap::new()),
        };
        let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
        let none = BTreeMap::new();
        let capabilities = seen
            .crs
            .iter()
            .map(|cr| {
                let key = crate::reconcile::key(cr);
                let images = seen.images.get(&key).unwrap_or(&none);
                capability(cr, key, images, &self.local, &eks, &history, &records)
            })
            .collect();
        View {
            local: Environment::of(&self.local, "daemon".into(), "live"),
            eks: eks.iter().map(|p| Environment::of(&p.profile, p.origin.clone(), "recorded")).collect(),
            problems,
            capabilities,
        }
    }

    /// The EKS profiles `promote --to NAME` resolves from the project directory: its
    /// `profiles/*.yaml`, then the built-in ones it does not shadow.
    fn eks_profiles(&self, problems: &mut Vec<String>) -> Vec<LoadedProfile> {
        let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| (*n).to_owned()).collect();
        if let Some(dir) = &self.project_dir
            && let Ok(entries) = std::fs::read_dir(dir.join("profiles"))
        {
            for path in entries.flatten().map(|e| e.path()) {
                if matches!(path.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                    && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                {
                    names.push(stem.to_owned());
                }
            }
        }
        names.sort();
        names.dedup();
        names
            .iter()
            .filter_map(|name| match (&self.project_dir, crate::input::profile::built_in(name)) {
                (Some(dir), _) => match crate::input::profile::resolve(name, dir) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        problems.push(format!("profile {name}: {e}"));
                        None
                    }
                },
                (None, builtin) => {
                    builtin.map(|profile| LoadedProfile { profile, origin: format!("built-in:{name}"), base_dir: None })
                }
            })
            .filter(|p| p.profile.cluster.provider == ClusterProvider::Eks && p.profile.name != self.local.name)
            .collect()
    }
}

/// The history and the release records it names, from the records' directory. No directory or
/// no history: nothing promoted yet.
fn read_records(dir: &Path, problems: &mut Vec<String>) -> (Vec<Promotion>, HashMap<String, Release>) {
    let path = release::history(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), HashMap::new()),
        Err(e) => {
            problems.push(format!("{}: {e}", path.display()));
            return (Vec::new(), HashMap::new());
        }
    };
    let mut history = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str::<Promotion>(line) {
            Ok(p) => history.push(p),
            Err(e) => problems.push(format!("{}:{}: {e}", path.display(), n + 1)),
        }
    }
    let mut records = HashMap::new();
    for p in &history {
        if records.contains_key(&p.release) {
            continue;
        }
        let file = dir.join(format!("{}.json", p.release));
        match Release::read(&file) {
            Ok(r) => {
                records.insert(p.release.clone(), r);
            }
            Err(e) if p.outcome == "succeeded" => problems.push(e.to_string()),
            Err(_) => {}
        }
    }
    (history, records)
}

fn capability(
    cr: &NexusAICapability,
    key: String,
    images: &BTreeMap<String, String>,
    local: &Profile,
    eks: &[LoadedProfile],
    history: &[Promotion],
    records: &HashMap<String, Release>,
) -> CapabilityEnvironments {
    let spec = &cr.spec;
    let spec_hash = release::spec_hash(spec);
    let local_plan = crate::model::plan::build(cr, local);
    // The local pins name the local registry; on EKS a workload runs what promote pinned. And a
    // local build awaited (0 replicas until watch mode builds it) is this machine's alone.
    let mut unpinned = cr.clone();
    unpinned.annotations_mut().retain(|k, _| {
        !k.starts_with(crate::model::plan::BUILT_IMAGE_ANNOTATION)
            && !k.starts_with(crate::model::plan::AWAITING_BUILD_ANNOTATION)
    });
    let comparisons = eks
        .iter()
        .map(|p| {
            let profile = &p.profile;
            let (last, failed) = compare::last_promotion(
                history,
                |id| records.get(id).cloned(),
                &spec.capability_name,
                &spec.environment,
                &profile.name,
            );
            let registry = profile.registry.as_ref().map(|r| r.host.as_str());
            // The EKS plan as promote sends it: the spec, each workload pinned to the promoted
            // digest in the profile's registry; never promoted, the spec's own images.
            let sent = last
                .as_ref()
                .zip(registry)
                .and_then(|((_, r), host)| crate::promote::pinned_capability(&unpinned, r, host).ok())
                .unwrap_or_else(|| unpinned.clone());
            let eks_plan = crate::model::plan::build(&sent, profile);
            let components = release::COMPONENTS.iter().copied();
            Comparison {
                profile: profile.name.clone(),
                plan: compare::plan_differences(&local_plan, &eks_plan),
                components: compare::digests(
                    components,
                    images,
                    last.as_ref().map(|(_, r)| r),
                    &profile.name,
                    registry,
                ),
                promoted: last.map(|(p, r)| Promoted {
                    time: p.time.clone(),
                    release: p.release.clone(),
                    account: p.account.clone(),
                    region: p.region.clone(),
                    cluster_arn: p.cluster_arn.clone(),
                    same_spec: r.spec_hash == spec_hash,
                }),
                failed_since: failed
                    .into_iter()
                    .map(|p| Attempt { time: p.time.clone(), release: p.release.clone(), outcome: p.outcome.clone() })
                    .collect(),
            }
        })
        .collect();
    CapabilityEnvironments {
        key,
        capability: spec.capability_name.clone(),
        environment: spec.environment.clone(),
        region: spec.region.clone(),
        spec_hash,
        comparisons,
    }
}

/// By capability key (the owner annotation), the image each component's Deployment runs (its
/// first container's), as `release::make` reads it.
pub fn local_images(deployments: &[Arc<Deployment>]) -> HashMap<String, BTreeMap<String, String>> {
    let mut out: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for d in deployments {
        let owner =
            d.metadata.annotations.as_ref().and_then(|a| a.get(crate::provision::kube::objects::OWNER_ANNOTATION));
        let component = d.metadata.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/component"));
        let image = d
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.containers.first())
            .and_then(|c| c.image.clone());
        if let (Some(owner), Some(component), Some(image)) = (owner, component, image) {
            out.entry(owner.clone()).or_default().insert(component.clone(), image);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The capability as the daemon holds it on a real cluster: its images built (pinned to the
    /// local registry) and once awaited (the annotation stays).
    #[test]
    fn local_builds_pinned_or_awaited_are_not_plan_differences_with_eks() {
        let mut cr = crate::input::examples::example("minimal");
        cr.metadata.namespace = Some("myapp-dev".into());
        cr.metadata.name = Some("myapp-dev".into());
        for component in ["frontend", "backend"] {
            let annotations = cr.annotations_mut();
            annotations.insert(format!("{}{component}", crate::model::plan::AWAITING_BUILD_ANNOTATION), "api".into());
            annotations.insert(
                format!("{}{component}", crate::model::plan::BUILT_IMAGE_ANNOTATION),
                format!("localhost:5001/{component}@sha256:{}", "a".repeat(64)),
            );
        }
        let local = crate::input::profile::built_in("local").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let eks = vec![crate::input::profile::resolve("eks-prod", dir.path()).unwrap()];
        let c = capability(&cr, "myapp-dev/myapp-dev".into(), &BTreeMap::new(), &local, &eks, &[], &HashMap::new());
        let plan = &c.comparisons[0].plan;
        assert!(plan.outside_scope.is_empty(), "{:#?}", plan.outside_scope);
        assert!(!plan.settings.is_empty(), "the profile-scoped fields differ, as they should");
    }
}
