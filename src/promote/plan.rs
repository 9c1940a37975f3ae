//! The one plan of a promotion, observed read-only before anything is written: the images to
//! copy, the AWS changes (the executor's dry run, as `diff`), the Kubernetes changes (server-side
//! apply with dry run), the target, and the profile-scoped differences from where the release
//! was made. Its `observed` hash covers what was found in the target, so that a plan reviewed
//! earlier (`--plan-out`, then `--plan`) is applied only while the target is as it was.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::registry::digest_of;
use super::release::Release;
use super::{Connection, Image, PromoteError};
use crate::model::plan::parity::{self, ScopedDifference};
use crate::model::plan::{self as model};
use crate::model::spec::NexusAICapability;
use crate::provision::aws::{Clients, Ctx, Target as AwsTarget};
use crate::provision::kube::{apply as k8s_apply, objects};
use crate::provision::{self, Options};

/// One resource of the plan and what applying would do to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub kind: String,
    pub name: String,
    /// `created`, `updated`, `unchanged`, or `failed` when it cannot be read.
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

impl Step {
    pub fn changes_anything(&self) -> bool {
        self.action != "unchanged"
    }

    fn line(&self) -> String {
        let detail = if self.changes.is_empty() { String::new() } else { format!(": {}", self.changes.join("; ")) };
        format!("{} {} {}{detail}", self.action, self.kind, self.name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub release: Release,
    pub release_id: String,
    /// The profile promoted to.
    pub profile: String,
    /// The profile the release was made in.
    pub from: String,
    pub target: super::target::Target,
    pub images: Vec<Image>,
    pub aws: Vec<Step>,
    pub kubernetes: Vec<Step>,
    /// The profile-scoped fields that differ from where the release was made.
    pub parity: Vec<ScopedDifference>,
    /// `sha256:` of what was observed in the target.
    pub observed: String,
}

impl Plan {
    /// Whether applying would change nothing: every image present, every resource unchanged.
    pub fn nothing_to_do(&self) -> bool {
        self.images.iter().all(|i| i.present) && !self.aws.iter().chain(&self.kubernetes).any(Step::changes_anything)
    }

    /// What was observed, one line each, for the hash and for saying what changed.
    fn observations(&self) -> Vec<String> {
        let t = &self.target;
        let mut lines = vec![
            format!("release {}", self.release_id),
            format!("target {} {} {} {}", t.account, t.region, t.cluster_arn, t.endpoint),
        ];
        lines.extend(
            self.images.iter().map(|i| {
                format!("image {} {} {}", i.component, i.target, if i.present { "present" } else { "to copy" })
            }),
        );
        lines.extend(self.aws.iter().map(|s| format!("aws {}", s.line())));
        lines.extend(self.kubernetes.iter().map(|s| format!("kubernetes {}", s.line())));
        lines
    }

    fn hash(&self) -> String {
        digest_of(self.observations().join("\n").as_bytes())
    }

    /// Refuses when the target is no longer as `self` (a reviewed plan) observed it, naming
    /// what differs.
    pub fn still_holds(&self, now: &Plan) -> Result<(), PromoteError> {
        if self.observed == now.observed {
            return Ok(());
        }
        let (was, is) = (self.observations(), now.observations());
        let mut changed: Vec<String> =
            was.iter().filter(|l| !is.contains(l)).map(|l| format!("planned: {l}")).collect();
        changed.extend(is.iter().filter(|l| !was.contains(l)).map(|l| format!("now:     {l}")));
        Err(PromoteError::Stale(changed))
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(path, text)
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("{}: not a promotion plan", path.display()))
    }
}

/// What a promotion of `release` would do, observed read-only: the images, the AWS dry run and
/// the Kubernetes dry runs at once. `cr` is the capability as it goes (`pinned_capability`),
/// `source` the plan where the release was made.
pub async fn observe(
    conn: &Connection,
    cr: &NexusAICapability,
    release: &Release,
    source: &model::Plan,
) -> Result<Plan, PromoteError> {
    let planned = model::build(cr, &conn.profile);
    let differences = parity::differences(source, &planned);
    if !differences.is_empty() {
        return Err(PromoteError::Parity(differences));
    }
    let (images, aws, kubernetes) =
        futures::join!(super::images(conn, release), aws_steps(conn, &planned), kubernetes_steps(conn, cr, &planned));
    let (aws, kubernetes) = (aws, kubernetes?);
    let failed = |section: &'static str, steps: &[Step]| -> Vec<String> {
        steps.iter().filter(|s| s.action == "failed").map(|s| format!("{section} {}", s.line())).collect()
    };
    let unreadable = [failed("aws", &aws), failed("kubernetes", &kubernetes)].concat();
    if !unreadable.is_empty() {
        return Err(PromoteError::Unreadable(unreadable));
    }
    let mut plan = Plan {
        release_id: release.id(),
        release: release.clone(),
        profile: conn.profile.name.clone(),
        from: source.profile.clone(),
        target: conn.target.clone(),
        images: images?,
        aws,
        kubernetes,
        parity: parity::scoped_differences(source, &planned),
        observed: String::new(),
    };
    plan.observed = plan.hash();
    Ok(plan)
}

/// The target's AWS, read only.
async fn target_aws(conn: &Connection, planned: &model::Plan) -> Ctx {
    Ctx::new(
        Clients::connect(&AwsTarget::of(&conn.profile, &planned.target.region)).await,
        conn.profile.aws.account.clone(),
    )
    .dry_run(true)
}

/// The AWS part: the executor's dry run, as `diff` runs it.
async fn aws_steps(conn: &Connection, planned: &model::Plan) -> Vec<Step> {
    let report = provision::apply(planned, &target_aws(conn, planned).await, &Options::default()).await;
    report
        .resources
        .iter()
        .map(|r| Step {
            kind: r.kind.to_string(),
            name: r.name.clone(),
            action: r.outcome.as_str().into(),
            changes: r.error.clone().map(|e| vec![e]).unwrap_or_else(|| r.changes.clone()),
        })
        .collect()
}

/// The Kubernetes part: the custom resource as sent, then each object by server-side apply
/// with dry run, all at once.
async fn kubernetes_steps(
    conn: &Connection,
    cr: &NexusAICapability,
    planned: &model::Plan,
) -> Result<Vec<Step>, PromoteError> {
    let mut objects = objects::objects(planned, &crate::reconcile::key(cr));
    // The pods' Secret compared with the target's values; before the first promote they do not
    // exist yet, and the Secret shows as a change, its values read when it is applied.
    if planned.of_kind(model::Kind::PodSecret).next().is_some()
        && let Err(e) = crate::provision::kube::secrets::fill(&mut objects, &target_aws(conn, planned).await).await
    {
        tracing::debug!(error = %e, "the target's secret values are not readable yet");
    }
    let each = objects.iter().map(|(r, obj)| async move {
        let step = |action: &str, changes| Step {
            kind: r.kind.to_string(),
            name: r.name.clone(),
            action: action.into(),
            changes,
        };
        match k8s_apply::apply(&conn.kube, obj, k8s_apply::Mode::DRY_RUN).await {
            Ok(done) => Ok(step(done.outcome.as_str(), done.changes)),
            Err(e @ k8s_apply::ApplyError::NotOwned { .. }) => Err(PromoteError::Kube(e.to_string())),
            Err(e) => Ok(step("failed", vec![e.to_string()])),
        }
    });
    let (capability, objects) = futures::join!(capability_step(conn, cr), futures::future::try_join_all(each));
    Ok(std::iter::once(capability).chain(objects?).collect())
}

/// The custom resource: missing, or differing in its spec or its pinned images.
async fn capability_step(conn: &Connection, cr: &NexusAICapability) -> Step {
    use kube::ResourceExt as _;
    let api: kube::Api<NexusAICapability> =
        kube::Api::namespaced(conn.kube.clone(), cr.metadata.namespace.as_deref().unwrap_or_default());
    let step = |action: &str, changes| Step {
        kind: "nexus.capability".into(),
        name: format!("{}/{}", cr.namespace().unwrap_or_default(), cr.name_any()),
        action: action.into(),
        changes,
    };
    match api.get_opt(&cr.name_any()).await {
        Ok(None) => step("created", vec![]),
        Ok(Some(live)) => {
            let mut changes = Vec::new();
            if live.spec != cr.spec {
                changes.push("spec".to_owned());
            }
            if model::built_images(&live) != model::built_images(cr) {
                changes.push("images".to_owned());
            }
            step(if changes.is_empty() { "unchanged" } else { "updated" }, changes)
        }
        Err(e) => step("failed", vec![crate::provision::kube::describe(&e)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let release = Release {
            capability: "myapp".into(),
            environment: "dev".into(),
            spec_hash: "sha256:s".into(),
            plan_hash: "sha256:p".into(),
            profile: "local".into(),
            images: Default::default(),
        };
        let mut p = Plan {
            release_id: release.id(),
            release,
            profile: "eks-staging".into(),
            from: "local".into(),
            target: serde_json::from_value(serde_json::json!({
                "account": "123456789012", "caller": "arn:aws:iam::123456789012:user/me", "region": "eu-west-1",
                "cluster": "c", "clusterArn": "arn:aws:eks:eu-west-1:123456789012:cluster/c", "endpoint": "https://c"
            }))
            .unwrap(),
            images: vec![],
            aws: vec![Step { kind: "s3.bucket".into(), name: "b".into(), action: "unchanged".into(), changes: vec![] }],
            kubernetes: vec![],
            parity: vec![],
            observed: String::new(),
        };
        p.observed = p.hash();
        p
    }

    #[test]
    fn a_reviewed_plan_holds_only_while_the_target_is_as_observed() {
        let reviewed = plan();
        assert!(reviewed.nothing_to_do());
        assert!(reviewed.still_holds(&plan()).is_ok());
        let mut now = plan();
        now.aws[0] = Step {
            action: "updated".into(),
            changes: vec!["versioning: Enabled → Suspended".into()],
            ..now.aws[0].clone()
        };
        now.observed = now.hash();
        let err = reviewed.still_holds(&now).unwrap_err().to_string();
        assert!(err.contains("planned: aws unchanged s3.bucket b"), "{err}");
        assert!(err.contains("now:     aws updated s3.bucket b: versioning"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
    }

    #[test]
    fn a_plan_file_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let p = plan();
        p.write(&path).unwrap();
        let back = Plan::read(&path).unwrap();
        assert_eq!(back.observed, p.observed);
        assert!(back.still_holds(&p).is_ok());
        std::fs::write(&path, "{}").unwrap();
        assert!(Plan::read(&path).unwrap_err().to_string().contains("not a promotion plan"));
    }
}
