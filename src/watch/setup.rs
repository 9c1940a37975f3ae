//! From the project file, its capability specs and the profile to the engine's components:
//! where each image is built, where it goes (the profile's registry, or the kind nodes), which
//! Deployment runs it, and which pods live sync reaches.

use std::path::{Path, PathBuf};

use kube::Client;

use super::build;
use super::deploy::Deploy;
use super::sync::SyncRule;
use super::target::SyncTo;
use super::worker::{Component, Delivery};
use crate::input::spec::LoadedSpec;
use crate::model::names::Names;
use crate::model::profile::{ClusterProvider, Profile};
use crate::model::project::{BuildComponent, LoadedProject};

/// Repository host for images when there is no registry (kind load, or a local cluster).
pub const LOCAL_REPOSITORY_HOST: &str = "nexus-dev.local";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("component {component}: no capability named `{capability}` in the project's specs (found: {found})")]
    UnknownCapability { component: String, capability: String, found: String },
    #[error(
        "component {component}: the project has {count} capabilities; say which with `capability:` (one of: {found})"
    )]
    AmbiguousCapability { component: String, count: usize, found: String },
    #[error("cannot resolve the build context of {component} ({path}): {source}")]
    ResolveContext { component: String, path: String, source: std::io::Error },
}

/// How images travel for `profile`: its registry, else the kind nodes, else nowhere.
pub fn delivery(profile: &Profile) -> Delivery {
    match (&profile.registry, profile.cluster.provider, &profile.cluster.name) {
        (Some(_), _, _) => Delivery::Registry,
        (None, ClusterProvider::Kind, Some(name)) => Delivery::Kind { cluster: name.clone() },
        _ => Delivery::Local,
    }
}

/// The repository of a component's images.
pub fn repository(profile: &Profile, component: &str) -> String {
    let host = profile.registry.as_ref().map(|r| r.host.as_str()).unwrap_or(LOCAL_REPOSITORY_HOST);
    format!("{}/{component}", host.trim_end_matches('/'))
}

/// The capability spec a component's image is for: the one its `capability:` names, or the
/// project's only one.
pub fn spec_of<'a>(c: &BuildComponent, specs: &'a [LoadedSpec]) -> Result<&'a LoadedSpec, SetupError> {
    let found = || specs.iter().map(|s| s.spec().capability_name.clone()).collect::<Vec<_>>().join(", ");
    match &c.capability {
        Some(name) => specs.iter().find(|s| &s.spec().capability_name == name).ok_or_else(|| {
            SetupError::UnknownCapability { component: c.name.clone(), capability: name.clone(), found: found() }
        }),
        None => match specs {
            [one] => Ok(one),
            _ => Err(SetupError::AmbiguousCapability { component: c.name.clone(), count: specs.len(), found: found() }),
        },
    }
}

/// The engine's components for a project.
pub fn components(
    project: &LoadedProject,
    specs: &[LoadedSpec],
    profile: &Profile,
    kube: &Client,
) -> Result<Vec<Component>, SetupError> {
    let mut out = Vec::new();
    for c in &project.project.components {
        let spec = spec_of(c, specs)?;
        let names = Names::of(spec.spec());
        let namespace = spec.cr.metadata.namespace.clone().unwrap_or_else(|| names.namespace());
        let name = spec.cr.metadata.name.clone().unwrap_or_else(|| names.stem());
        let raw = project.context(c);
        // inotify reports the paths it was given; canonical ones make every comparison exact.
        let context = raw.canonicalize().map_err(|source| SetupError::ResolveContext {
            component: c.name.clone(),
            path: raw.display().to_string(),
            source,
        })?;
        out.push(Component {
            name: c.name.clone(),
            build: build::Request {
                context: context.clone(),
                dockerfile: PathBuf::from(&c.dockerfile),
                target: c.target.clone(),
                build_args: c.build_args.clone(),
                repository: repository(profile, &c.name),
            },
            watch: c.watch.iter().map(|w| relative(w)).collect(),
            ignore: c.ignore.clone(),
            sync: c.sync.iter().map(SyncRule::of).collect(),
            after_sync: c.after_sync.clone(),
            deploy: Deploy::Capability { namespace, name, workload: c.component, profile: Box::new(profile.clone()) },
            sync_to: if c.sync.is_empty() {
                SyncTo::Nowhere
            } else {
                SyncTo::Pods {
                    client: kube.clone(),
                    namespace: names.namespace(),
                    deployment: names.deployment(c.component.as_str()),
                    container: c.component.as_str().to_owned(),
                }
            },
        });
    }
    Ok(out)
}

/// `./src/` → `src`.
fn relative(p: &str) -> PathBuf {
    Path::new(p).components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        crate::input::profile::resolve(name, Path::new("/")).unwrap().profile
    }

    #[test]
    fn the_profile_decides_how_images_travel_and_are_named() {
        let local = profile("local");
        assert_eq!(delivery(&local), Delivery::Registry);
        assert_eq!(repository(&local, "api"), format!("{}/api", local.registry.as_ref().unwrap().host));
        let mut kind = local.clone();
        kind.registry = None;
        assert_eq!(delivery(&kind), Delivery::Kind { cluster: kind.cluster.name.clone().unwrap() });
        assert_eq!(repository(&kind, "api"), "nexus-dev.local/api");
        let mut other = kind.clone();
        other.cluster.provider = ClusterProvider::Existing;
        assert_eq!(delivery(&other), Delivery::Local);
    }

    #[test]
    fn watch_paths_are_normalised() {
        assert_eq!(relative("./src/"), PathBuf::from("src"));
        assert_eq!(relative("a/b"), PathBuf::from("a/b"));
    }
}
