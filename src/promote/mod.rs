//! `nexus-dev promote` (issue 14): the identical spec and image digests, from the local
//! environment to an EKS profile. The order is fixed, and each step has its module:
//!
//! 1. the target, checked before anything is written (`target`: STS identity against the
//!    profile's account, the cluster ACTIVE through EKS `DescribeCluster`, a Kubernetes client
//!    from what it describes, authenticated with `eks_token`'s tokens): [`connect`];
//! 2. the release that is sent (`release`: spec hash, plan hash, images by digest);
//! 3. one plan of everything that would change (`plan`): the images to copy, the AWS changes,
//!    the Kubernetes changes, the profile-scoped differences from the source environment;
//! 4. after confirmation, the images copied by digest (`registry`, `ecr`): [`copy_images`];
//!    then the capability applied through the reconciler with those digests pinned, verified,
//!    and the promotion appended to the history (`release::History`).
//!
//! The command line (`cli/promote.rs`) puts them in that order. Design:
//! docs/design/promote.md.

pub mod ecr;
pub mod eks_token;
pub mod plan;
pub mod registry;
pub mod release;
pub mod target;

use std::sync::Arc;

use aws_credential_types::provider::ProvideCredentials as _;
use kube::ResourceExt as _;
use serde::{Deserialize, Serialize};

use self::ecr::{Ecr, EcrError, Repository};
use self::registry::{Copied, Pinned, Registry, RegistryError};
use self::release::Release;
use self::target::{Target, TargetError};
use crate::model::profile::Profile;
use crate::model::spec::NexusAICapability;

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(
        "profile {profile} names no registry for the images; nothing was changed\n  hint: set registry.host to the account's ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com)"
    )]
    NoRegistry { profile: String },
    #[error("no AWS credentials to sign EKS tokens with: {0}; nothing was changed")]
    Credentials(String),
    #[error(
        "the image of {component} in the release, {image}, is not pinned by digest in a registry; nothing was changed\n  hint: make the release again with `nexus-dev release`"
    )]
    NotPinned { component: String, image: String },
    #[error(
        "release {release} was made from another spec ({want}); the spec given has {got}; nothing was changed\n  hint: promote the spec the release was made from, or make a release of this one (`nexus-dev release -f SPEC`)"
    )]
    SpecChanged { release: String, want: String, got: String },
    #[error(transparent)]
    Ecr(#[from] EcrError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("the source registry of {component}: {source}")]
    Source { component: String, source: RegistryError },
    #[error("Kubernetes: {0}")]
    Kube(String),
    #[error(
        "the target changed since the plan was made; nothing was changed:\n{}\n  hint: review a new plan (`promote --plan-out FILE`), then apply it",
        .0.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
    )]
    Stale(Vec<String>),
    #[error(
        "the target cannot be read, so there is no plan; nothing was changed:\n{}\n  hint: check that the credentials may read the account and the cluster (EKS access entries)",
        .0.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
    )]
    Unreadable(Vec<String>),
    #[error(
        "the plans for the two profiles differ outside profile-scoped fields (DESIGN.md §5); nothing was changed:\n{}",
        .0.join("\n")
    )]
    Parity(Vec<String>),
}

/// The target, checked and connected.
pub struct Connection {
    pub target: Target,
    /// The profile, with the cluster's OIDC issuer (from DescribeCluster) as its IRSA issuer
    /// unless it names one.
    pub profile: Profile,
    /// The registry host the images go to: the profile's `registry.host`.
    pub registry: String,
    pub ecr: Ecr,
    pub kube: kube::Client,
}

/// Checks the target (identity first, nothing written) and connects to it: AWS with the usual
/// credential chain, the cluster through EKS tokens made from the same credentials.
pub async fn connect(profile: &Profile, spec_region: &str) -> Result<Connection, PromoteError> {
    let registry = profile
        .registry
        .as_ref()
        .map(|r| r.host.clone())
        .ok_or_else(|| PromoteError::NoRegistry { profile: profile.name.clone() })?;
    let region = target::region(profile, spec_region);
    let config = crate::provision::aws::sdk_config(&crate::provision::aws::Target::of(profile, &region)).await;
    let sts = aws_sdk_sts::Client::new(&config);
    let eks = aws_sdk_eks::Client::new(&config);
    let target = target::resolve(profile, &region, &sts, &eks).await?;
    let credentials = config
        .credentials_provider()
        .ok_or_else(|| PromoteError::Credentials("none configured".into()))?
        .provide_credentials()
        .await
        .map_err(|e| PromoteError::Credentials(crate::error_chain(&e)))?;
    let sts_endpoint = profile.aws.sts_endpoint.as_deref().or(profile.aws.endpoint.as_deref());
    let tokens = eks_token::TokenSource::new(credentials, &region, &target.cluster, sts_endpoint);
    let kube = target::kube_client(&target, Arc::new(tokens))?;
    let mut resolved = profile.clone();
    if resolved.irsa.issuer.is_none() {
        resolved.irsa.issuer = target.oidc_issuer.clone();
    }
    let ecr = Ecr::new(aws_sdk_ecr::Client::new(&config), &target.account, &registry);
    Ok(Connection { target, profile: resolved, registry, ecr, kube })
}

/// Refuses a release made from another spec than the one given.
pub fn check_release(release: &Release, cr: &NexusAICapability) -> Result<(), PromoteError> {
    let got = release::spec_hash(&cr.spec);
    if release.spec_hash != got || release.capability != cr.spec.capability_name {
        return Err(PromoteError::SpecChanged { release: release.id(), want: release.spec_hash.clone(), got });
    }
    Ok(())
}

/// One workload image of a promotion: where it is, where it goes, and whether it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub component: String,
    /// `host/repository@digest` in the source registry.
    pub source: String,
    /// `host/repository@digest` in the target's registry: the same repository and digest.
    pub target: String,
    pub digest: String,
    /// Bytes of its manifests and blobs.
    pub size: u64,
    /// Already in the target's registry: nothing to copy.
    pub present: bool,
}

impl Image {
    fn pinned(&self) -> (Pinned, Pinned) {
        let parse = |s: &str| Pinned::parse(s).expect("made from pinned references");
        (parse(&self.source), parse(&self.target))
    }
}

/// Where each image of `release` goes: by component, its source and its target (`host`, the
/// same repository and digest).
pub fn destinations(release: &Release, host: &str) -> Result<Vec<(String, Pinned, Pinned)>, PromoteError> {
    release
        .images
        .iter()
        .map(|(component, image)| {
            let source = Pinned::parse(image)
                .ok_or_else(|| PromoteError::NotPinned { component: component.clone(), image: image.clone() })?;
            let target = Pinned { host: host.to_owned(), ..source.clone() };
            Ok((component.clone(), source, target))
        })
        .collect()
}

/// The release's images as the target would take them, read only: their size in the source
/// registry, and whether the target's registry has each (one HEAD).
pub async fn images(conn: &Connection, release: &Release) -> Result<Vec<Image>, PromoteError> {
    let dst = conn.ecr.registry().await?;
    let each = destinations(release, &conn.registry)?.into_iter().map(|(component, source, target)| {
        let dst = &dst;
        async move {
            let src = Registry::new(&registry::base_url(&source.host), None, None)?;
            let (size, present) = futures::join!(
                src.size(&source.repository, &source.digest),
                dst.has_manifest(&target.repository, &target.digest)
            );
            let size = size.map_err(|e| PromoteError::Source { component: component.clone(), source: e })?;
            Ok::<_, PromoteError>(Image {
                component,
                source: source.to_string(),
                target: target.to_string(),
                digest: source.digest,
                size,
                present: present?,
            })
        }
    });
    futures::future::try_join_all(each).await
}

/// What copying one image did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageCopy {
    pub component: String,
    pub repository: Repository,
    #[serde(flatten)]
    pub copied: Copied,
}

/// Copies every image to the target's registry by digest, the images in parallel: the
/// repository made when missing, then the manifests and blobs (`registry::copy`).
pub async fn copy_images(conn: &Connection, images: &[Image]) -> Result<Vec<ImageCopy>, PromoteError> {
    let dst = conn.ecr.registry().await?;
    let each = images.iter().map(|image| {
        let dst = &dst;
        async move {
            let (source, target) = image.pinned();
            let repository = conn.ecr.ensure_repository(&target.repository).await?;
            let src = Registry::new(&registry::base_url(&source.host), None, None)?;
            let copied = registry::copy(&src, &source.repository, &source.digest, dst, &target.repository).await?;
            Ok::<_, PromoteError>(ImageCopy { component: image.component.clone(), repository, copied })
        }
    });
    futures::future::try_join_all(each).await
}

/// The capability as it goes to the target: the spec unchanged, in its namespace, each
/// workload's image pinned to its digest in the target's registry `host` (the annotation watch
/// mode pins local builds with, so the reconciler plans it the same way).
pub fn pinned_capability(
    cr: &NexusAICapability,
    release: &Release,
    host: &str,
) -> Result<NexusAICapability, PromoteError> {
    let mut out = cr.clone();
    if out.metadata.namespace.is_none() {
        out.metadata.namespace = Some(crate::model::names::Names::of(&cr.spec).namespace());
    }
    let annotations = out.annotations_mut();
    annotations.retain(|k, _| !k.starts_with(crate::model::plan::BUILT_IMAGE_ANNOTATION));
    for (component, _, target) in destinations(release, host)? {
        annotations.insert(format!("{}{component}", crate::model::plan::BUILT_IMAGE_ANNOTATION), target.to_string());
    }
    Ok(out)
}

/// `Running` when the capability is there as `cr` has it (spec and pinned images) and its
/// status says Running; `None` otherwise.
pub async fn running(client: &kube::Client, cr: &NexusAICapability) -> Option<String> {
    let api: kube::Api<NexusAICapability> =
        kube::Api::namespaced(client.clone(), cr.metadata.namespace.as_deref().unwrap_or_default());
    let live = api.get_opt(&cr.name_any()).await.ok()??;
    let same = live.spec == cr.spec
        && crate::model::plan::built_images(&live) == crate::model::plan::built_images(cr)
        && live.metadata.generation == live.status.as_ref().and_then(|s| s.observed_generation);
    let phase = live.status.and_then(|s| s.phase)?;
    (same && phase == crate::model::spec::Phase::Running).then(|| "Running".to_owned())
}

/// The capability as it ran where the release was made: its images those of the release.
pub fn released_capability(cr: &NexusAICapability, release: &Release) -> NexusAICapability {
    let mut out = cr.clone();
    let annotations = out.annotations_mut();
    annotations.retain(|k, _| !k.starts_with(crate::model::plan::BUILT_IMAGE_ANNOTATION));
    for (component, image) in &release.images {
        annotations.insert(format!("{}{component}", crate::model::plan::BUILT_IMAGE_ANNOTATION), image.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capability_sent_is_the_spec_with_the_targets_digests_pinned() {
        let cr = crate::input::examples::example("minimal");
        let mut local = cr.clone();
        local.annotations_mut().insert("nexus.ai/built-image.frontend".into(), "localhost:5001/old@sha256:1".into());
        let hex = "a".repeat(64);
        let release = Release {
            capability: "myapp".into(),
            environment: "dev".into(),
            spec_hash: release::spec_hash(&cr.spec),
            plan_hash: "sha256:p".into(),
            profile: "local".into(),
            images: [("backend".to_owned(), format!("localhost:5001/myapp-backend@sha256:{hex}"))].into(),
        };
        let host = "123.dkr.ecr.eu-west-1.amazonaws.com";
        let target = format!("{host}/myapp-backend@sha256:{hex}");
        let sent = pinned_capability(&local, &release, host).unwrap();
        assert_eq!(sent.spec, cr.spec, "the spec is identical");
        assert_eq!(sent.annotations().get("nexus.ai/built-image.backend"), Some(&target));
        assert!(!sent.annotations().contains_key("nexus.ai/built-image.frontend"), "no local pin goes along");
        assert_eq!(sent.metadata.namespace.as_deref(), Some("myapp-dev"));
        let plan = crate::model::plan::build(&sent, &crate::input::examples::profile("eks-staging"));
        let Some(crate::model::plan::Settings::Deployment(d)) =
            plan.get(crate::model::plan::Kind::Deployment, "myapp-dev-backend").map(|r| &r.settings)
        else {
            panic!("no backend deployment")
        };
        assert_eq!(d.image, target);
        let mut tagged = release.clone();
        tagged.images.insert("frontend".into(), "localhost:5001/web:latest".into());
        let err = pinned_capability(&cr, &tagged, host).unwrap_err().to_string();
        assert!(err.contains("frontend") && err.contains("not pinned by digest"), "{err}");
    }
}
