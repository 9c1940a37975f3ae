//! What the engine reports: one value per step, rendered as a line for people (stderr) or as a
//! JSON line for scripts (`-o json`, stdout). Tests read the same values, and the project's
//! daemon reads the same JSON lines from a watch session (`daemon::watching`): one definition,
//! read back exactly as written.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// Files named in a report; the rest are counted.
pub const SHOWN_FILES: usize = 3;

/// Where the time of one rebuild went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// First file event to build start (the debounce window and any wait for a previous build).
    #[serde(serialize_with = "secs", deserialize_with = "from_secs")]
    pub detect: Duration,
    #[serde(serialize_with = "secs", deserialize_with = "from_secs")]
    pub build: Duration,
    /// Push to the registry, or import into the kind nodes.
    #[serde(serialize_with = "secs", deserialize_with = "from_secs")]
    pub push: Duration,
    /// Recording the image, applying the Deployment, and waiting for it to be available.
    #[serde(serialize_with = "secs", deserialize_with = "from_secs")]
    pub rollout: Duration,
}

impl Timings {
    pub fn total(&self) -> Duration {
        self.detect + self.build + self.push + self.rollout
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

fn from_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    Duration::try_from_secs_f64(f64::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// What a `changed` event starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Rebuild,
    Sync,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Rebuild => "rebuild",
            Action::Sync => "sync",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The step that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Build,
    Push,
    Load,
    Deploy,
    Rollout,
    Sync,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Build => "build",
            Stage::Push => "push",
            Stage::Load => "load",
            Stage::Deploy => "deploy",
            Stage::Rollout => "rollout",
            Stage::Sync => "sync",
        }
    }
}

/// One report of the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// Watching started.
    Watching {
        components: Vec<String>,
        directories: usize,
    },
    Warning {
        message: String,
    },
    /// A rebuild or sync starts, and the files that caused it.
    Changed {
        component: String,
        action: Action,
        files: Vec<PathBuf>,
        count: usize,
        reason: Option<String>,
    },
    Built {
        component: String,
        image: String,
        cached_steps: usize,
        #[serde(serialize_with = "secs", deserialize_with = "from_secs")]
        took: Duration,
    },
    Delivered {
        component: String,
        reference: String,
        layers_pushed: usize,
        layers_existing: usize,
    },
    /// The new version runs.
    Deployed {
        component: String,
        image: String,
        timings: Timings,
        unchanged: bool,
    },
    Synced {
        component: String,
        files: usize,
        removed: usize,
        targets: Vec<String>,
        #[serde(serialize_with = "secs", deserialize_with = "from_secs")]
        took: Duration,
        #[serde(serialize_with = "secs", deserialize_with = "from_secs")]
        since_save: Duration,
    },
    /// A step failed; `running` is what keeps serving.
    Failed {
        component: String,
        stage: Stage,
        message: String,
        output: Vec<String>,
        running: Option<String>,
    },
    /// A sync could not be done; a rebuild follows.
    SyncFallback {
        component: String,
        reason: String,
    },
    /// The engine stopped.
    Stopped {
        reason: String,
    },
}

fn d(x: Duration) -> String {
    format!("{:.2}s", x.as_secs_f64())
}

/// "a.sh, b.sh, c.sh and 997 more"
pub fn describe_files(files: &[PathBuf], count: usize) -> String {
    let shown: Vec<String> = files.iter().take(SHOWN_FILES).map(|f| f.display().to_string()).collect();
    match count.saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// The line a person reads.
pub fn human(e: &Event) -> String {
    match e {
        Event::Watching { components, directories } => {
            format!("watching {} ({directories} directories)", components.join(", "))
        }
        Event::Warning { message } => format!("warning: {message}"),
        Event::Changed { component, action, files, count, reason } => {
            let what = match (count, reason) {
                (0, Some(r)) => r.clone(),
                (n, _) => format!("{n} file{} changed: {}", if *n == 1 { "" } else { "s" }, describe_files(files, *n)),
            };
            format!("{component}: {what} → {action}")
        }
        Event::Built { component, image, cached_steps, took } => {
            format!("{component}: built {image} in {} ({cached_steps} cached steps)", d(*took))
        }
        Event::Delivered { component, reference, layers_pushed, layers_existing } => {
            format!("{component}: delivered {reference} ({layers_pushed} layers sent, {layers_existing} already there)")
        }
        Event::Deployed { component, image, timings: t, unchanged } => format!(
            "{component}: {} {image} in {} (detect {}, build {}, push {}, rollout {})",
            if *unchanged { "unchanged, still running" } else { "deployed" },
            d(t.total()),
            d(t.detect),
            d(t.build),
            d(t.push),
            d(t.rollout)
        ),
        Event::Synced { component, files, removed, targets, took, since_save } => format!(
            "{component}: synced {files} file{} ({removed} removed) into {} in {} ({} since the save)",
            if *files == 1 { "" } else { "s" },
            targets.join(", "),
            d(*took),
            d(*since_save)
        ),
        Event::Failed { component, stage, message, output, running } => {
            let mut s = format!("{component}: {} failed: {message}", stage.as_str());
            for l in output {
                s.push_str("\n  | ");
                s.push_str(l);
            }
            s.push_str(&match running {
                Some(r) => format!("\n  the previous version keeps running ({r}); the next save retries"),
                None => "\n  the next save retries".to_owned(),
            });
            s
        }
        Event::SyncFallback { component, reason } => format!("{component}: cannot sync ({reason}) → rebuild"),
        Event::Stopped { reason } => format!("stopped: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_lines_name_the_first_files_and_count_the_rest() {
        let files: Vec<PathBuf> = (0..5).map(|i| PathBuf::from(format!("f{i}"))).collect();
        let e = Event::Changed { component: "api".into(), action: Action::Rebuild, files, count: 1000, reason: None };
        assert_eq!(human(&e), "api: 1000 files changed: f0, f1, f2 and 997 more → rebuild");
        let e = Event::Changed {
            component: "api".into(),
            action: Action::Rebuild,
            files: vec![],
            count: 0,
            reason: Some("initial build".into()),
        };
        assert_eq!(human(&e), "api: initial build → rebuild");
    }

    #[test]
    fn the_timing_line_has_the_breakdown() {
        let t = Timings {
            detect: Duration::from_millis(310),
            build: Duration::from_millis(1900),
            push: Duration::from_millis(400),
            rollout: Duration::from_millis(600),
        };
        let e =
            Event::Deployed { component: "api".into(), image: "r/api@sha256:1".into(), timings: t, unchanged: false };
        assert_eq!(
            human(&e),
            "api: deployed r/api@sha256:1 in 3.21s (detect 0.31s, build 1.90s, push 0.40s, rollout 0.60s)"
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["event"], "deployed");
        assert_eq!(json["timings"]["build"], 1.9);
    }

    #[test]
    fn failures_show_the_output_and_what_keeps_running() {
        let e = Event::Failed {
            component: "api".into(),
            stage: Stage::Build,
            message: "returned a non-zero code: 1".into(),
            output: vec!["Step 2/3 : RUN false".into()],
            running: Some("r/api@sha256:1".into()),
        };
        let s = human(&e);
        assert!(s.starts_with("api: build failed: returned a non-zero code: 1\n  | Step 2/3 : RUN false"), "{s}");
        assert!(s.ends_with("previous version keeps running (r/api@sha256:1); the next save retries"), "{s}");
        assert_eq!(serde_json::to_value(&e).unwrap()["stage"], "build");
    }

    #[test]
    fn every_event_reads_back_as_written() {
        let t = Timings { detect: Duration::from_millis(310), ..Timings::default() };
        let events = [
            Event::Watching { components: vec!["api".into()], directories: 3 },
            Event::Changed {
                component: "api".into(),
                action: Action::Sync,
                files: vec!["a.py".into()],
                count: 1,
                reason: None,
            },
            Event::Built {
                component: "api".into(),
                image: "r/api:sha-1".into(),
                cached_steps: 2,
                took: Duration::from_millis(1500),
            },
            Event::Deployed { component: "api".into(), image: "r/api@sha256:1".into(), timings: t, unchanged: false },
            Event::Failed {
                component: "api".into(),
                stage: Stage::Rollout,
                message: "timed out".into(),
                output: vec![],
                running: None,
            },
            Event::Stopped { reason: "shutdown".into() },
        ];
        for e in events {
            let line = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e, "{line}");
        }
        let bad = r#"{"event":"changed","component":"api","action":"delete","files":[],"count":0,"reason":null}"#;
        assert!(serde_json::from_str::<Event>(bad).unwrap_err().to_string().contains("unknown variant `delete`"));
    }
}
