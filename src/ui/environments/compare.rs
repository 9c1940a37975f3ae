//! The Environments view's decisions, pure (issue 16): what differs between the plans of one
//! spec for two profiles, which promotion of a capability to a profile counts, and whether each
//! component runs the same digest on both sides.

use serde::Serialize;

use crate::model::plan::{Plan, parity};
use crate::promote::registry::Pinned;
use crate::promote::release::{Promotion, Release};

/// A resource planned under one profile only (the IAM OIDC provider, which a local profile
/// registers and an EKS platform team usually has).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlyIn {
    /// `kind/name`.
    pub resource: String,
    pub kind: String,
    /// The profile that plans it.
    pub profile: String,
}

/// How the plans of one spec differ between two profiles.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDifferences {
    /// Resources only one of the plans has, the left's first.
    pub only_in: Vec<OnlyIn>,
    /// Profile-scoped settings that differ (`parity::scoped_differences`: `from` is the
    /// left's value, `to` the right's).
    pub settings: Vec<parity::ScopedDifference>,
    /// Differences outside the profile-scoped fields, which the parity contract (DESIGN.md §5)
    /// forbids: empty unless the planner breaks it.
    pub outside_scope: Vec<String>,
}

/// What differs between `left`'s plan and `right`'s for the same spec.
pub fn plan_differences(left: &Plan, right: &Plan) -> PlanDifferences {
    let only = |a: &Plan, b: &Plan| {
        a.resources
            .iter()
            .filter(|r| !b.resources.iter().any(|o| o.kind == r.kind && o.name == r.name))
            .map(|r| OnlyIn { resource: r.id(), kind: r.kind.as_str().to_owned(), profile: a.profile.clone() })
            .collect::<Vec<_>>()
    };
    let mut only_in = only(left, right);
    only_in.extend(only(right, left));
    PlanDifferences {
        only_in,
        settings: parity::scoped_differences(left, right),
        // Resources only in one plan are listed above, by kind, whatever the kind.
        outside_scope: parity::differences(left, right)
            .into_iter()
            .filter(|d| !d.contains(": only in the plan for profile"))
            .collect(),
    }
}

/// The last successful promotion of `release`'s capability and environment to `profile`, from
/// the history (oldest first), with its release record (`read` by id; a promotion whose record
/// is gone does not count), and the failed attempts after it.
pub fn last_promotion<'h>(
    history: &'h [Promotion],
    mut read: impl FnMut(&str) -> Option<Release>,
    capability: &str,
    environment: &str,
    profile: &str,
) -> (Option<(&'h Promotion, Release)>, Vec<&'h Promotion>) {
    let mut failed_since = Vec::new();
    // The id is `<capability>-<12 hex>`; the record itself says which capability and environment.
    let prefix = format!("{capability}-");
    for p in history.iter().rev().filter(|p| p.profile == profile && p.release.starts_with(&prefix)) {
        let Some(release) = read(&p.release) else { continue };
        if release.capability != capability || release.environment != environment {
            continue;
        }
        if p.outcome == "succeeded" {
            failed_since.reverse();
            return (Some((p, release)), failed_since);
        }
        failed_since.push(p);
    }
    failed_since.reverse();
    (None, failed_since)
}

/// Whether a component runs the same image on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Drift {
    /// The same digest locally and in the last promotion.
    Same,
    /// Another digest locally: local is ahead of (or apart from) what was promoted.
    Differs,
    /// Not comparable: never promoted, not running locally, or running a tag.
    Unknown,
}

/// One component's images on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentDigests {
    pub component: String,
    /// What the local Deployment runs now.
    pub local: Option<String>,
    /// What the last promotion pinned on EKS: the release's digest in the profile's registry.
    pub eks: Option<String>,
    pub drift: Drift,
    /// Why, in words.
    pub why: String,
}

/// Compares each component's local image (`local`: what the Deployments run, by component)
/// with the release last promoted to `profile` (none: never promoted), whose images went to
/// `registry` (the profile's registry host; none: the release's own references).
pub fn digests<'a>(
    components: impl IntoIterator<Item = &'a str>,
    local: &std::collections::BTreeMap<String, String>,
    promoted: Option<&Release>,
    profile: &str,
    registry: Option<&str>,
) -> Vec<ComponentDigests> {
    components
        .into_iter()
        .map(|component| {
            let here = local.get(component).cloned();
            let there =
                promoted.and_then(|r| r.images.get(component)).map(|image| match (Pinned::parse(image), registry) {
                    (Some(p), Some(host)) => Pinned { host: host.to_owned(), ..p }.to_string(),
                    _ => image.clone(),
                });
            let digest = |image: &str| Pinned::parse(image).map(|p| p.digest);
            let (drift, why) = match (&here, promoted, &there) {
                (_, None, _) => (Drift::Unknown, format!("never promoted to {profile}")),
                (_, Some(_), None) => (Drift::Unknown, format!("the release promoted to {profile} has no {component}")),
                (None, _, _) => (Drift::Unknown, "not running locally".to_owned()),
                (Some(h), _, Some(t)) => match (digest(h), digest(t)) {
                    (None, _) => (Drift::Unknown, format!("runs {h} locally, a tag, not a digest")),
                    (Some(a), Some(b)) if a == b => (Drift::Same, "the digest promoted runs locally".to_owned()),
                    (Some(a), _) => (
                        Drift::Differs,
                        format!(
                            "local runs {}, {profile} was promoted {}",
                            short(&a),
                            digest(t).as_deref().map_or("?", short)
                        ),
                    ),
                },
            };
            ComponentDigests { component: component.to_owned(), local: here, eks: there, drift, why }
        })
        .collect()
}

/// `sha256:0123456789ab`: enough of a digest to tell two apart.
fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::input::examples::{example, profile};
    use crate::model::plan::build;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn release(capability: &str, environment: &str, images: &[(&str, String)]) -> Release {
        Release {
            capability: capability.into(),
            environment: environment.into(),
            spec_hash: "sha256:s".into(),
            plan_hash: "sha256:p".into(),
            profile: "local".into(),
            images: images.iter().map(|(c, i)| (c.to_string(), i.clone())).collect(),
        }
    }

    fn promotion(release: &str, profile: &str, outcome: &str, time: &str) -> Promotion {
        Promotion {
            time: time.into(),
            release: release.into(),
            profile: profile.into(),
            account: "123456789012".into(),
            region: "ap-southeast-1".into(),
            cluster_arn: "arn:aws:eks:ap-southeast-1:123456789012:cluster/nexus-staging".into(),
            outcome: outcome.into(),
        }
    }

    #[test]
    fn local_and_eks_plans_differ_in_the_oidc_provider_the_ingress_and_the_images_only() {
        let cr = example("minimal");
        let (local, eks) = (build(&cr, &profile("local")), build(&cr, &profile("eks-staging")));
        let d = plan_differences(&local, &eks);
        assert_eq!(d.only_in.len(), 1, "{:?}", d.only_in);
        assert_eq!((d.only_in[0].kind.as_str(), d.only_in[0].profile.as_str()), ("iam.oidc-provider", "local"));
        let field = |resource: &str, field: &str| {
            d.settings.iter().find(|s| s.resource.ends_with(resource) && s.field == field).unwrap_or_else(|| {
                panic!("{resource} {field} in {:#?}", d.settings);
            })
        };
        let class = field("-app-ingress", "settings.ingressClassName");
        assert_eq!((class.from.as_str(), class.to.as_str()), (Some("nginx"), Some("alb")));
        assert_eq!(field("-app-ingress", "settings.tls").to, true);
        let image = field("-backend", "settings.image");
        assert!(image.to.as_str().unwrap().starts_with("123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/"));
        assert!(d.outside_scope.is_empty(), "{:?}", d.outside_scope);
        // The same profile on both sides: nothing.
        let same = plan_differences(&local, &local);
        assert!(same.only_in.is_empty() && same.settings.is_empty() && same.outside_scope.is_empty());
        // And the other way round, the OIDC provider is still the local profile's.
        let back = plan_differences(&eks, &local);
        assert_eq!(back.only_in[0].profile, "local");
    }

    #[test]
    fn a_difference_outside_the_profile_scoped_fields_is_named() {
        let cr = example("minimal");
        let local = build(&cr, &profile("local"));
        let mut eks = build(&cr, &profile("eks-staging"));
        for r in &mut eks.resources {
            if let crate::model::plan::Settings::Deployment(d) = &mut r.settings {
                d.replicas += 1;
            }
        }
        let d = plan_differences(&local, &eks);
        assert!(!d.outside_scope.is_empty());
        assert!(d.outside_scope.iter().all(|l| l.contains("k8s.deployment/")), "{:?}", d.outside_scope);
    }

    #[test]
    fn the_last_successful_promotion_of_the_capability_and_environment_to_the_profile_counts() {
        let records = BTreeMap::from([
            ("myapp-000000000001".to_owned(), release("myapp", "dev", &[])),
            ("myapp-000000000002".to_owned(), release("myapp", "dev", &[])),
            ("myapp-000000000003".to_owned(), release("myapp", "prod", &[])),
            ("myapp-api-00000000004".to_owned(), release("myapp-api", "dev", &[])),
        ]);
        let history = [
            promotion("myapp-000000000001", "eks-staging", "succeeded", "t1"),
            promotion("myapp-000000000002", "eks-staging", "succeeded", "t2"),
            promotion("myapp-000000000002", "eks-prod", "succeeded", "t3"),
            promotion("myapp-000000000003", "eks-staging", "succeeded", "t4"),
            promotion("myapp-api-00000000004", "eks-staging", "succeeded", "t5"),
            promotion("myapp-000000000001", "eks-staging", "failed: Failed", "t6"),
            promotion("myapp-gone00000000", "eks-staging", "succeeded", "t7"),
        ];
        let read = |id: &str| records.get(id).cloned();
        let (last, failed) = last_promotion(&history, read, "myapp", "dev", "eks-staging");
        let (p, _) = last.unwrap();
        assert_eq!(p.time, "t2", "not prod's t4, not myapp-api's t5, not the record that is gone");
        assert_eq!(failed.iter().map(|p| p.time.as_str()).collect::<Vec<_>>(), ["t6"]);
        assert_eq!(last_promotion(&history, read, "myapp", "dev", "eks-prod").0.unwrap().0.time, "t3");
        let (never, none) = last_promotion(&history, read, "myapp", "dev", "eks-other");
        assert!(never.is_none() && none.is_empty());
        let (only_failed, failed) = last_promotion(&history[5..6], read, "myapp", "dev", "eks-staging");
        assert!(only_failed.is_none());
        assert_eq!(failed.len(), 1);
    }

    #[test]
    fn each_component_is_the_same_differs_or_unknown_with_why() {
        let ecr = "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com";
        let local = BTreeMap::from([
            ("backend".to_owned(), format!("localhost:5001/myapp-backend@{}", digest('a'))),
            ("frontend".to_owned(), format!("localhost:5001/myapp-frontend@{}", digest('c'))),
            ("worker".to_owned(), "localhost:5001/worker:latest".to_owned()),
        ]);
        let promoted = release(
            "myapp",
            "dev",
            &[
                ("backend", format!("localhost:5001/myapp-backend@{}", digest('a'))),
                ("frontend", format!("localhost:5001/myapp-frontend@{}", digest('b'))),
                ("worker", format!("localhost:5001/worker@{}", digest('d'))),
                ("cron", format!("localhost:5001/cron@{}", digest('e'))),
            ],
        );
        let components = ["backend", "frontend", "worker", "cron", "other"];
        let d = digests(components, &local, Some(&promoted), "eks-staging", Some(ecr));
        let drift: Vec<(&str, Drift)> = d.iter().map(|c| (c.component.as_str(), c.drift)).collect();
        assert_eq!(
            drift,
            [
                ("backend", Drift::Same),
                ("frontend", Drift::Differs),
                ("worker", Drift::Unknown),
                ("cron", Drift::Unknown),
                ("other", Drift::Unknown)
            ]
        );
        assert_eq!(d[0].eks.as_deref(), Some(format!("{ecr}/myapp-backend@{}", digest('a')).as_str()), "in ECR");
        assert_eq!(d[1].why, "local runs sha256:cccccccccccc, eks-staging was promoted sha256:bbbbbbbbbbbb");
        assert!(d[2].why.contains("a tag"), "{}", d[2].why);
        assert_eq!(d[3].why, "not running locally");
        assert_eq!(d[4].why, "the release promoted to eks-staging has no other");
        let never = digests(["backend"], &local, None, "eks-prod", Some(ecr));
        assert_eq!(
            (never[0].drift, never[0].why.as_str(), never[0].eks.as_deref()),
            (Drift::Unknown, "never promoted to eks-prod", None)
        );
    }
}
