//! Who owns a container, volume or network. Everything nexus-dev creates carries two labels:
//! `app.kubernetes.io/managed-by=nexus-dev` and `nexus.ai/project=<project id>`; nothing without
//! both (for this project) is ever stopped or removed (issue #6: "never touches containers it did
//! not create").

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

pub const MANAGED_BY_KEY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "nexus-dev";
pub const PROJECT_KEY: &str = "nexus.ai/project";
/// The project label of the parts every project of the machine shares (the kind cluster, the
/// registry, the emulator and their volumes; issue 21). A project's own id is 12 hex digits,
/// never this.
pub const SHARED: &str = "shared";
/// What the container is for (`registry`, `emulator`), so that `down` can report it by role.
pub const ROLE_KEY: &str = "nexus.ai/role";
/// Names (never values) of the environment variables nexus-dev set on a container, so that a
/// variable removed from the spec is noticed even though the image may define others.
pub const ENV_KEYS_KEY: &str = "nexus.ai/env-keys";

/// A stable, short id of a project, derived from its directory. Names and logs carry the id,
/// never the path (which can hold a user name or a customer's name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(String);

impl ProjectId {
    /// The id of the project in `dir`: 12 hex digits of a 64-bit FNV-1a hash of the canonical
    /// path. FNV rather than `DefaultHasher`, whose output may change between Rust releases:
    /// the id must survive an upgrade of nexus-dev, or `down` would no longer find what `up`
    /// made.
    pub fn from_dir(dir: &Path) -> Self {
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        Self::from_bytes(canonical.as_os_str().as_encoded_bytes())
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Self(format!("{:012x}", h >> 16))
    }

    /// An id given as is (tests use one per test, so that parallel tests never see each
    /// other's containers). Must be a valid Docker label value; 1–63 of `[a-z0-9-]`.
    pub fn new(id: impl Into<String>) -> Option<Self> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 63
            && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        valid.then_some(Self(id))
    }

    /// The owner of the machine's shared environment ([`SHARED`]).
    pub fn shared() -> Self {
        Self(SHARED.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels every object of this project carries, plus `role`.
    pub fn labels(&self, role: &str) -> HashMap<String, String> {
        HashMap::from([
            (MANAGED_BY_KEY.to_owned(), MANAGED_BY.to_owned()),
            (PROJECT_KEY.to_owned(), self.0.clone()),
            (ROLE_KEY.to_owned(), role.to_owned()),
        ])
    }

    /// Docker `label=` filters that select this project's objects.
    pub fn filters(&self) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_owned(),
            vec![format!("{MANAGED_BY_KEY}={MANAGED_BY}"), format!("{PROJECT_KEY}={}", self.0)],
        )])
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whose an object is, judged from its labels alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Made by nexus-dev for this project.
    Ours,
    /// Made by nexus-dev for another project (its id): the fixed names `nexus-dev-registry` and
    /// `nexus-dev-aws` are shared by all projects of a machine.
    OtherProject(String),
    /// Made by nexus-dev for every project of the machine ([`SHARED`]), seen by a project.
    Shared,
    /// Not made by nexus-dev.
    Foreign,
}

pub fn ownership(labels: Option<&HashMap<String, String>>, project: &ProjectId) -> Ownership {
    let Some(labels) = labels else { return Ownership::Foreign };
    if labels.get(MANAGED_BY_KEY).map(String::as_str) != Some(MANAGED_BY) {
        return Ownership::Foreign;
    }
    match labels.get(PROJECT_KEY) {
        Some(p) if p == project.as_str() => Ownership::Ours,
        Some(p) if p == SHARED => Ownership::Shared,
        Some(p) => Ownership::OtherProject(p.clone()),
        None => Ownership::Foreign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_short_and_path_free() {
        let a = ProjectId::from_bytes(b"/home/alice/acme-payments");
        assert_eq!(a, ProjectId::from_bytes(b"/home/alice/acme-payments"));
        assert_ne!(a, ProjectId::from_bytes(b"/home/alice/acme-payment"));
        assert_eq!(a.as_str().len(), 12);
        assert!(a.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!a.as_str().contains("alice"));
        // Pinned: changing the hash would orphan every user's containers.
        assert_eq!(ProjectId::from_bytes(b"").as_str(), "cbf29ce48422");
    }

    #[test]
    fn from_dir_resolves_the_same_directory_to_one_id() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a");
        std::fs::create_dir(&nested).unwrap();
        assert_eq!(ProjectId::from_dir(dir.path()), ProjectId::from_dir(&nested.join("..")));
    }

    #[test]
    fn ownership_needs_both_labels_and_this_project() {
        let me = ProjectId::new("p1").unwrap();
        let ours = me.labels("registry");
        assert_eq!(ownership(Some(&ours), &me), Ownership::Ours);
        let other = ProjectId::new("p2").unwrap().labels("registry");
        assert_eq!(ownership(Some(&other), &me), Ownership::OtherProject("p2".into()));
        let shared = ProjectId::shared().labels("emulator");
        assert_eq!(ownership(Some(&shared), &me), Ownership::Shared);
        assert_eq!(ownership(Some(&shared), &ProjectId::shared()), Ownership::Ours);
        let mut half = ours.clone();
        half.remove(MANAGED_BY_KEY);
        assert_eq!(ownership(Some(&half), &me), Ownership::Foreign);
        let mut spoofed = ours.clone();
        spoofed.insert(MANAGED_BY_KEY.into(), "helm".into());
        assert_eq!(ownership(Some(&spoofed), &me), Ownership::Foreign);
        let mut no_project = ours;
        no_project.remove(PROJECT_KEY);
        assert_eq!(ownership(Some(&no_project), &me), Ownership::Foreign);
        assert_eq!(ownership(None, &me), Ownership::Foreign);
    }

    #[test]
    fn given_ids_must_be_label_values() {
        assert!(ProjectId::new("t-abc123").is_some());
        assert!(ProjectId::new("").is_none());
        assert!(ProjectId::new("Has Space").is_none());
    }
}
