//! Whose is it: the ownership that nexus-dev records on everything it creates, and the rules
//! that keep it away from everything else (issue #11). Pure: tags and labels in, a claim out.
//!
//! The owner of a capability's resources is the pair (capabilityName, environment), recorded as
//! two separate values. Names join the two with a hyphen (`a-b` + `c` and `a` + `b-c` both give
//! `a-b-c-…`), so a name alone never says whose a resource is; the pair always does. The pair is
//! also stable: a custom resource deleted under Retain and created again finds its data, which a
//! UID would not.
//!
//! - AWS: tags `app.kubernetes.io/managed-by=nexus-dev`, `nexus.ai/capability`,
//!   `nexus.ai/environment` (Glue tables, which take no tags, carry them as parameters).
//! - Kubernetes: the same three labels, plus the `nexus.ai/owner` annotation. A namespace carries
//!   them only when nexus-dev created it: an existing namespace is never labelled.
//!
//! Resources made before the `nexus.ai/capability` label existed carry
//! `app.kubernetes.io/name=<capability>` instead; that still counts (the upgrade path).

use std::collections::BTreeMap;
use std::fmt;

pub const MANAGED_BY_KEY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "nexus-dev";
pub const CAPABILITY_KEY: &str = "nexus.ai/capability";
pub const ENVIRONMENT_KEY: &str = "nexus.ai/environment";
/// The label older releases recorded the capability under (Kubernetes only).
const LEGACY_CAPABILITY_LABEL: &str = "app.kubernetes.io/name";

/// The owner of a capability's resources.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub capability: String,
    pub environment: String,
}

impl Owner {
    pub fn new(capability: impl Into<String>, environment: impl Into<String>) -> Self {
        Self { capability: capability.into(), environment: environment.into() }
    }

    /// The tags (and labels) that mark a resource as this owner's.
    pub fn tags(&self) -> BTreeMap<String, String> {
        [
            (MANAGED_BY_KEY, MANAGED_BY),
            (CAPABILITY_KEY, self.capability.as_str()),
            (ENVIRONMENT_KEY, self.environment.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// What a set of tags says about this owner's claim on the resource carrying them.
    pub fn claim<'a, I>(&self, tags: I) -> Claim
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let tags: BTreeMap<&str, &str> = tags.into_iter().collect();
        if tags.get(MANAGED_BY_KEY) != Some(&MANAGED_BY) {
            return Claim::Foreign;
        }
        let capability = tags.get(CAPABILITY_KEY).or_else(|| tags.get(LEGACY_CAPABILITY_LABEL)).copied();
        let environment = tags.get(ENVIRONMENT_KEY).copied();
        match (capability, environment) {
            (Some(c), Some(e)) if c == self.capability && e == self.environment => Claim::Ours,
            (Some(c), Some(e)) => Claim::Other(Owner::new(c, e)),
            // Marked as nexus-dev's, but not whose: not provably ours.
            _ => Claim::Foreign,
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "capability {} (environment {})", self.capability, self.environment)
    }
}

/// Whose an existing resource is, as its tags or labels say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// It carries this capability's ownership.
    Ours,
    /// It carries another capability's ownership.
    Other(Owner),
    /// It carries no (complete) nexus-dev ownership: somebody else made it.
    Foreign,
}

impl Claim {
    /// Why a write or delete of `what` is refused, with what to do about it; `None` when ours.
    /// Another capability's resource is refused even with `--adopt`: taking it would strip that
    /// capability of its data.
    pub fn refusal(&self, what: &str, adopt: bool) -> Option<String> {
        match self {
            Claim::Ours => None,
            Claim::Other(o) => Some(format!(
                "{what} belongs to {o}: two capabilities derive the same name. Choose another capabilityName or environment"
            )),
            Claim::Foreign if adopt => None,
            Claim::Foreign => Some(format!(
                "{what} exists but nexus-dev did not create it (it has no nexus-dev ownership tags), so nexus-dev will not change or delete it. \
                 Choose another capabilityName or environment, remove it yourself, or run apply with --adopt to take it over"
            )),
        }
    }

    /// Why a delete leaves the resource alone; `None` when it is ours to delete.
    pub fn kept(&self) -> Option<String> {
        match self {
            Claim::Ours => None,
            Claim::Other(o) => Some(format!("kept: it belongs to {o}")),
            Claim::Foreign => Some("kept: nexus-dev did not create it (no ownership tags)".into()),
        }
    }
}

/// The reason a resource is deleted, for `delete --dry-run` and reports.
pub fn why_ours(owner: &Owner) -> String {
    format!(
        "ours: {MANAGED_BY_KEY}={MANAGED_BY}, {CAPABILITY_KEY}={}, {ENVIRONMENT_KEY}={}",
        owner.capability, owner.environment
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(owner: &Owner, tags: &[(&str, &str)]) -> Claim {
        owner.claim(tags.iter().copied())
    }

    #[test]
    fn our_tags_are_ours_and_nothing_else_is() {
        let o = Owner::new("a", "dev");
        let tags = o.tags();
        assert_eq!(o.claim(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))), Claim::Ours);
        assert_eq!(claim(&o, &[]), Claim::Foreign);
        assert_eq!(claim(&o, &[(CAPABILITY_KEY, "a"), (ENVIRONMENT_KEY, "dev")]), Claim::Foreign);
        assert_eq!(claim(&o, &[(MANAGED_BY_KEY, MANAGED_BY)]), Claim::Foreign);
        assert_eq!(
            claim(&o, &[(MANAGED_BY_KEY, "helm"), (CAPABILITY_KEY, "a"), (ENVIRONMENT_KEY, "dev")]),
            Claim::Foreign
        );
    }

    #[test]
    fn the_split_of_a_hyphenated_name_is_told_apart() {
        let first = Owner::new("a-b", "c");
        let second = Owner::new("a", "b-c");
        let tags = first.tags();
        let seen = second.claim(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(seen, Claim::Other(first.clone()));
        let why = seen.refusal("table a-b-c-license", true).unwrap();
        assert!(why.contains("capability a-b (environment c)"), "{why}");
    }

    #[test]
    fn legacy_labels_still_count() {
        let o = Owner::new("shop", "dev");
        let labels = [(MANAGED_BY_KEY, MANAGED_BY), (LEGACY_CAPABILITY_LABEL, "shop"), (ENVIRONMENT_KEY, "dev")];
        assert_eq!(claim(&o, &labels), Claim::Ours);
    }

    #[test]
    fn adopt_takes_only_what_nobody_owns() {
        assert_eq!(Claim::Foreign.refusal("x", true), None);
        assert!(Claim::Foreign.refusal("x", false).unwrap().contains("--adopt"));
        assert!(Claim::Other(Owner::new("o", "e")).refusal("x", true).is_some());
        assert_eq!(Claim::Ours.refusal("x", false), None);
    }

    proptest::proptest! {
        /// No two distinct (capability, environment) pairs can both claim a resource, whatever
        /// names they derive (issue #11, item 2).
        #[test]
        fn distinct_owners_never_share_a_claim(
            c1 in "[a-z]([a-z0-9-]{0,6}[a-z0-9])?", e1 in "[a-z]([a-z0-9-]{0,6}[a-z0-9])?",
            c2 in "[a-z]([a-z0-9-]{0,6}[a-z0-9])?", e2 in "[a-z]([a-z0-9-]{0,6}[a-z0-9])?",
        ) {
            let (a, b) = (Owner::new(&c1, &e1), Owner::new(&c2, &e2));
            let tags = a.tags();
            let seen = b.claim(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            proptest::prop_assert_eq!(seen == Claim::Ours, a == b);
        }

        /// Two splits of one hyphenated stem derive the same names; each sees the other's
        /// resources as another capability's, never as its own.
        #[test]
        fn two_splits_of_one_stem_are_two_owners(
            parts in proptest::collection::vec("[a-z][a-z0-9]{0,4}", 3..6), i in 1usize..5, j in 1usize..5,
        ) {
            let (i, j) = (i.min(parts.len() - 1), j.min(parts.len() - 1));
            let split = |k: usize| Owner::new(parts[..k].join("-"), parts[k..].join("-"));
            let (a, b) = (split(i), split(j));
            let tags = a.tags();
            let seen = b.claim(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if i == j {
                proptest::prop_assert_eq!(seen, Claim::Ours);
            } else {
                proptest::prop_assert_eq!(seen, Claim::Other(a));
            }
        }
    }
}
