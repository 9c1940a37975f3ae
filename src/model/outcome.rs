//! What acting on a resource did: one vocabulary for every report, AWS and Kubernetes alike.
//! `apply -o json` prints these (`kind`, `name`, `outcome`, `resources` and `mutatingCalls` are a
//! contract).

use serde::Serialize;

use super::plan::Kind;

/// What became of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Deleted,
    /// Already absent when deleting.
    Absent,
    /// Kept on purpose: deletionPolicy Retain, shared with other capabilities, or not
    /// nexus-dev's.
    Retained,
    /// No longer in the plan, and deleted (deletionPolicy Delete).
    Pruned,
    /// No longer in the plan, and kept (deletionPolicy Retain, or a dry run).
    Orphaned,
    Failed,
}

impl Outcome {
    /// Every outcome, in the order reports count them.
    pub const ALL: [Outcome; 9] = [
        Outcome::Created,
        Outcome::Updated,
        Outcome::Unchanged,
        Outcome::Deleted,
        Outcome::Absent,
        Outcome::Retained,
        Outcome::Pruned,
        Outcome::Orphaned,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Deleted => "deleted",
            Outcome::Absent => "absent",
            Outcome::Retained => "retained",
            Outcome::Pruned => "pruned",
            Outcome::Orphaned => "orphaned",
            Outcome::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What one ensure or delete did (or, in a dry run, would do): the outcome, the changes in
/// words (`versioning: Suspended → Enabled`), and what the resource offers others (its ARN or
/// ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub outcome: Outcome,
    pub changes: Vec<String>,
    pub outputs: Vec<(&'static str, String)>,
}

impl Done {
    pub fn new(outcome: Outcome) -> Self {
        Self { outcome, changes: Vec::new(), outputs: Vec::new() }
    }

    pub fn with_changes(outcome: Outcome, changes: Vec<String>) -> Self {
        Self { outcome, changes, outputs: Vec::new() }
    }

    pub fn output(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.outputs.push((key, value.into()));
        self
    }

    /// The resource's ID output, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.outputs.iter().find(|(k, _)| *k == "id").map(|(_, v)| v.as_str())
    }

    /// `Created` when the resource was missing, `Updated` when changes were made, else
    /// `Unchanged`.
    pub fn from_changes(created: bool, changes: Vec<String>) -> Self {
        let outcome = if created {
            Outcome::Created
        } else if changes.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::Updated
        };
        Self::with_changes(outcome, changes)
    }
}

/// The error code of a resource not attempted because its endpoint stopped answering.
pub const NOT_ATTEMPTED: &str = "Unreachable";
/// The error code of a resource skipped because one it depends on failed.
pub const DEPENDENCY_FAILED: &str = "DependencyFailed";

/// The outcome of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceReport {
    pub kind: Kind,
    pub name: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's code: the AWS error code, [`NOT_ATTEMPTED`], [`DEPENDENCY_FAILED`], or a
    /// reconcile error's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub attempts: u32,
    pub duration_ms: u64,
    /// The ID AWS gave it, where finding it again takes a list call (a user pool, an app
    /// client): remembered and tried first the next time (issue 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl ResourceReport {
    /// A resource acted on once.
    pub fn done(kind: Kind, name: &str, done: Done) -> Self {
        Self {
            id: done.id().map(str::to_owned),
            kind,
            name: name.to_owned(),
            outcome: done.outcome,
            changes: done.changes,
            error: None,
            error_code: None,
            attempts: 1,
            duration_ms: 0,
        }
    }

    /// A resource that failed with `error` (and its code, if it has one).
    pub fn failure(kind: Kind, name: &str, error: impl Into<String>, code: Option<&str>) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            outcome: Outcome::Failed,
            changes: Vec::new(),
            error: Some(error.into()),
            error_code: code.map(str::to_owned),
            attempts: 1,
            duration_ms: 0,
            id: None,
        }
    }

    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Failed
    }

    /// Failed without being tried, because the endpoint stopped answering.
    pub fn not_attempted(&self) -> bool {
        self.failed() && self.error_code.as_deref() == Some(NOT_ATTEMPTED)
    }
}

/// What one run did: every resource, and the AWS requests it made (reads and writes).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub resources: Vec<ResourceReport>,
    pub mutating_calls: u64,
    pub read_calls: u64,
    pub duration_ms: u64,
    /// The most requests any one resource waited on one after another, its dependencies'
    /// included: the run's critical path in round trips, whatever the machine (issue 20).
    pub depth: u32,
}

impl Report {
    pub fn failures(&self) -> impl Iterator<Item = &ResourceReport> {
        self.resources.iter().filter(|r| r.failed())
    }

    pub fn ok(&self) -> bool {
        self.failures().next().is_none()
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.resources.iter().filter(|r| r.outcome == outcome).count()
    }

    /// Adds another run's resources and calls to this one.
    pub fn merge(&mut self, other: Report) {
        self.resources.extend(other.resources);
        self.mutating_calls += other.mutating_calls;
        self.read_calls += other.read_calls;
        self.duration_ms += other.duration_ms;
        // Runs merged are runs made one after the other.
        self.depth += other.depth;
    }

    /// Adds `other`, a run made at the same time as this one: its calls count, but the time and
    /// the depth are the longer run's.
    pub fn merge_alongside(&mut self, other: Report) {
        let (duration_ms, depth) = (self.duration_ms.max(other.duration_ms), self.depth.max(other.depth));
        self.merge(other);
        (self.duration_ms, self.depth) = (duration_ms, depth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_print_as_the_json_contract_says_and_pad_in_tables() {
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert_eq!(format!("[{:<9}]", Outcome::Created), "[created  ]");
    }

    #[test]
    fn changes_decide_between_created_updated_and_unchanged() {
        assert_eq!(Done::from_changes(true, vec![]).outcome, Outcome::Created);
        assert_eq!(Done::from_changes(false, vec!["x".into()]).outcome, Outcome::Updated);
        assert_eq!(Done::from_changes(false, vec![]).outcome, Outcome::Unchanged);
    }

    #[test]
    fn counts_and_failures_read_the_outcomes() {
        let mut r = Report::default();
        r.resources.push(ResourceReport::done(Kind::S3Bucket, "b", Done::new(Outcome::Created)));
        r.resources.push(ResourceReport::failure(Kind::DynamoTable, "t", "lost", Some(NOT_ATTEMPTED)));
        assert_eq!((r.count(Outcome::Created), r.count(Outcome::Failed)), (1, 1));
        assert!(!r.ok());
        assert!(r.failures().all(ResourceReport::not_attempted));
    }
}
