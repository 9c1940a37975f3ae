//! Release records: what gets promoted. One per capability and content, written under
//! `.nexus-dev/releases/` of the project: the spec's hash, the plan's hash, and the image of each
//! workload as `repository@sha256:…`, read from what runs in the local cluster (watch mode pins
//! its deployments to the digests it pushed). The same spec and images give the same record,
//! under the same name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use serde::{Deserialize, Serialize};

use super::registry::{Pinned, digest_of};
use crate::model::names::Names;
use crate::model::profile::Profile;
use crate::model::spec::{NexusAICapability, NexusAICapabilitySpec};

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

/// One promotion, as the history beside the release records keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    /// When it finished, RFC 3339.
    pub time: String,
    pub release: String,
    /// The profile promoted to.
    pub profile: String,
    pub account: String,
    pub region: String,
    pub cluster_arn: String,
    /// `succeeded`, or `failed: <why>`.
    pub outcome: String,
}

/// Where the project in `project_dir` keeps its release records and promotion history.
pub fn dir_of(project_dir: &Path) -> PathBuf {
    project_dir.join(".nexus-dev/releases")
}

/// The history file of `dir` (the release records' directory): one JSON line per promotion.
pub fn history(dir: &Path) -> PathBuf {
    dir.join("history.jsonl")
}

impl Promotion {
    /// Appends this promotion to the history of `dir`; the history's path.
    pub fn append(&self, dir: &Path) -> Result<PathBuf, ReleaseError> {
        use std::io::Write as _;
        let path = history(dir);
        let io = |source| ReleaseError::Io { path: path.display().to_string(), source };
        std::fs::create_dir_all(dir).map_err(|source| ReleaseError::Io { path: dir.display().to_string(), source })?;
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        Ok(path)
    }
}

/// The hash a release records of a spec: `sha256:` of its JSON.
pub fn spec_hash(spec: &NexusAICapabilitySpec) -> String {
    digest_of(&serde_json::to_vec(spec).unwrap_or_default())
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
        if Pinned::parse(&image).is_none() {
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
        spec_hash: spec_hash(spec),
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
    fn promotions_are_appended_one_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let p = Promotion {
            time: "2026-12-03T10:00:00Z".into(),
            release: "myapp-0123456789ab".into(),
            profile: "eks-staging".into(),
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            cluster_arn: "arn:aws:eks:eu-west-1:123456789012:cluster/c".into(),
            outcome: "succeeded".into(),
        };
        let path = p.append(dir.path()).unwrap();
        p.append(dir.path()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Promotion> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines, [p.clone(), p]);
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
