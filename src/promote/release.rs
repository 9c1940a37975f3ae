//! Release records: what gets promoted. One per capability and content, written under
//! `.nexus-dev/releases/` of the project: the spec's hash, the plan's hash, and the image of each
//! workload as `repository@sha256:…`, read from what runs in the local cluster (watch mode pins
//! its deployments to the digests it pushed). The same spec and images give the same record,
//! under the same name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use serde::{Deserialize, Serialize};

use super::registry::digest_of;
use crate::model::names::Names;
use crate::model::profile::Profile;
use crate::model::spec::NexusAICapability;

/// The components a capability runs.
pub const COMPONENTS: [&str; 2] = ["frontend", "backend"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub capability: String,
    pub environment: String,
    /// `sha256:` of the spec as JSON.
    pub spec_hash: String,
    /// `sha256:` of the plan for the profile the release was made in.
    pub plan_hash: String,
    /// The profile the release was made in.
    pub profile: String,
    /// Each component's image, `repository@sha256:…`.
    pub images: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(
        "{component} of {capability} is not running in the cluster ({deployment} in {namespace}: {reason})\n  hint: `nexus-dev up` first; a release records what runs"
    )]
    NotRunning { capability: String, component: String, deployment: String, namespace: String, reason: String },
    #[error(
        "{component} of {capability} runs {image}, a tag, not a digest: a release pins digests\n  hint: list the component in nexus-dev.yaml so that watch mode builds and pins it, or give its image as repository@sha256:… in the spec"
    )]
    NotPinned { capability: String, component: String, image: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a release record: {source}")]
    Invalid { path: String, source: serde_json::Error },
}

impl Release {
    /// The record's name: the capability and 12 hex digits of what it holds.
    pub fn id(&self) -> String {
        let images: Vec<&str> = self.images.values().map(String::as_str).collect();
        let content = digest_of(format!("{}\n{}\n{}", self.spec_hash, self.plan_hash, images.join("\n")).as_bytes());
        format!("{}-{}", self.capability, &content["sha256:".len().."sha256:".len() + 12])
    }

    /// Writes the record to `dir` (created if missing); its path. Writing the same record again
    /// changes nothing.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ReleaseError> {
        fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReleaseError + '_ {
            move |source| ReleaseError::Io { path: path.display().to_string(), source }
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(format!("{}.json", self.id()));
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        Ok(path)
    }

    pub fn read(path: &Path) -> Result<Self, ReleaseError> {
        let text =
            std::fs::read(path).map_err(|source| ReleaseError::Io { path: path.display().to_string(), source })?;
        serde_json::from_slice(&text)
            .map_err(|source| ReleaseError::Invalid { path: path.display().to_string(), source })
    }
}

/// Whether `image` names a digest: `repository@sha256:<64 hex>`.
pub fn pinned(image: &str) -> bool {
    image
        .split_once("@sha256:")
        .is_some_and(|(repo, hex)| !repo.is_empty() && hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The release of `cr` as it runs in `client`'s cluster under `profile`.
pub async fn make(cr: &NexusAICapability, profile: &Profile, client: &kube::Client) -> Result<Release, ReleaseError> {
    let spec = &cr.spec;
    let names = Names::of(spec);
    let plan = crate::model::plan::build(cr, profile);
    let deployments: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), &plan.namespace);
    let mut images = BTreeMap::new();
    for component in COMPONENTS {
        let name = names.deployment(component);
        let not_running = |reason: String| ReleaseError::NotRunning {
            capability: spec.capability_name.clone(),
            component: component.to_owned(),
            deployment: name.clone(),
            namespace: plan.namespace.clone(),
            reason,
        };
        let d = deployments.get_opt(&name).await.map_err(|e| not_running(e.to_string()))?;
        let image = d
            .and_then(|d| d.spec)
            .and_then(|s| s.template.spec)
            .and_then(|p| p.containers.into_iter().next())
            .and_then(|c| c.image)
            .ok_or_else(|| not_running("no such deployment".into()))?;
        if !pinned(&image) {
            return Err(ReleaseError::NotPinned {
                capability: spec.capability_name.clone(),
                component: component.to_owned(),
                image,
            });
        }
        images.insert(component.to_owned(), image);
    }
    Ok(Release {
        capability: spec.capability_name.clone(),
        environment: spec.environment.clone(),
        spec_hash: digest_of(&serde_json::to_vec(spec).unwrap_or_default()),
        plan_hash: digest_of(&serde_json::to_vec(&plan).unwrap_or_default()),
        profile: profile.name.clone(),
        images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(image: &str) -> Release {
        Release {
            capability: "myapp".into(),
            environment: "dev".into(),
            spec_hash: "sha256:s".into(),
            plan_hash: "sha256:p".into(),
            profile: "local".into(),
            images: BTreeMap::from([("backend".into(), image.into())]),
        }
    }

    #[test]
    fn only_digests_are_pinned() {
        let hex = "a".repeat(64);
        assert!(pinned(&format!("localhost:5001/api@sha256:{hex}")));
        assert!(!pinned("localhost:5001/api:sha-123"));
        assert!(!pinned("localhost:5001/api@sha256:abc"));
        assert!(!pinned(&format!("@sha256:{hex}")));
    }

    #[test]
    fn the_same_content_is_the_same_record_and_a_new_image_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let a = release(&format!("r@sha256:{}", "a".repeat(64)));
        let first = a.write(dir.path()).unwrap();
        let modified = std::fs::metadata(&first).unwrap().modified().unwrap();
        assert_eq!(a.write(dir.path()).unwrap(), first, "written twice, one record");
        assert_eq!(std::fs::metadata(&first).unwrap().modified().unwrap(), modified, "and not rewritten");
        assert_eq!(Release::read(&first).unwrap(), a);
        let b = release(&format!("r@sha256:{}", "b".repeat(64)));
        assert_ne!(b.write(dir.path()).unwrap(), first);
        assert!(first.file_name().unwrap().to_str().unwrap().starts_with("myapp-"));
    }
}
