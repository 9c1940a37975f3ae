//! Layered configuration (seed 002: Project → Environment → Application). The project file's
//! `defaults` and `environments` are merged into each capability spec before anything reads
//! it: a spec's own fields win over its environment's, which win over the project's defaults.
//! The merge is by field and typed (the layers are checked against their schema, so an unknown
//! key is an error where it is written), and each merged setting remembers the level it came
//! from (`plan --explain`).
//!
//! The environment is the one `--env` (or `NEXUS_DEV_ENV`) names, which also becomes the spec's
//! `environment`; without it, the spec's own `environment` when the project defines it.

// Diagnostics are returned once per spec, on the rare error path; boxing them buys nothing.
#![allow(clippy::result_large_err)]

use serde::Serialize;
use serde_json::Value;

use crate::input::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::input::spec::{LoadError, LoadedSpec};
use crate::input::yaml::{Document, Path};
use crate::model::project::{Layer, LoadedProject};
use crate::model::spec::NexusAICapabilitySpec;

/// The settings a layer can give, as paths under a spec's `spec` (and a layer's root).
pub const SETTINGS: &[&str] = &[
    "frontend.replicas",
    "frontend.image",
    "frontend.resources",
    "frontend.healthCheckPath",
    "frontend.probes",
    "frontend.securityContext",
    "frontend.autoscaling",
    "frontend.terminationGracePeriodSeconds",
    "backend.replicas",
    "backend.image",
    "backend.resources",
    "backend.healthCheckPath",
    "backend.probes",
    "backend.securityContext",
    "backend.autoscaling",
    "backend.terminationGracePeriodSeconds",
    "ingress.enabled",
    "ingress.host",
    "ingress.scheme",
];

/// The workloads whose environment variables layers merge key by key.
const WORKLOADS: [&str; 2] = ["frontend", "backend"];

/// Where one setting of a capability came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    /// `backend.replicas`, `backend.env.LOG_LEVEL`, `environment`.
    pub setting: String,
    pub value: Value,
    /// `spec`, `environment NAME`, `project defaults`, `--env`, or `built-in default`.
    pub level: String,
    /// `file:line` where it is written; none for a built-in default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// One level of the hierarchy, as a merge reads it.
struct Level<'a> {
    name: String,
    /// The layer as JSON (absent fields left out).
    values: Value,
    /// Where the layer is in the project file.
    path: Path,
    doc: &'a Document,
}

impl Level<'_> {
    fn get(&self, setting: &str) -> Option<&Value> {
        lookup(&self.values, setting)
    }

    fn at(&self, setting: &str) -> Option<String> {
        let path = setting.split('.').fold(self.path.clone(), |p, k| p.key(k));
        Some(format!("{}:{}", relative(&self.doc.source.name), self.doc.root.locate(&path).line))
    }
}

/// A file's name as the user would type it here: relative to the current directory when inside it.
fn relative(name: &str) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    match std::path::Path::new(name).strip_prefix(&cwd) {
        Ok(rel) if !cwd.as_os_str().is_empty() => rel.display().to_string(),
        _ => name.to_owned(),
    }
}

fn lookup<'v>(v: &'v Value, setting: &str) -> Option<&'v Value> {
    setting.split('.').try_fold(v, |v, k| v.get(k)).filter(|v| !v.is_null())
}

fn insert(v: &mut Value, setting: &str, value: Value) {
    let keys: Vec<&str> = setting.split('.').collect();
    let Some((last, parents)) = keys.split_last() else { return };
    let mut here = v;
    for k in parents {
        if !here.get(*k).is_some_and(Value::is_object) {
            here[*k] = Value::Object(Default::default());
        }
        here = &mut here[*k];
    }
    here[*last] = value;
}

/// The environment whose layer applies: `selected` (which must exist), else the spec's own
/// when the project defines it.
fn environment<'p>(
    project: &'p LoadedProject,
    selected: Option<&str>,
    spec_env: &str,
) -> Result<Option<(&'p str, &'p Layer)>, Diagnostic> {
    let envs = &project.project.environments;
    match selected {
        Some(name) => match envs.get_key_value(name) {
            Some((k, l)) => Ok(Some((k.as_str(), l))),
            None => {
                let hint = match did_you_mean(name, envs.keys().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if envs.is_empty() => "the project file defines no `environments:`".to_owned(),
                    None => {
                        format!("the project's environments: {}", envs.keys().cloned().collect::<Vec<_>>().join(", "))
                    }
                };
                Err(project
                    .doc
                    .diag(&Path::root().key("environments"), format!("no environment `{name}`"))
                    .with_hint(hint))
            }
        },
        None => Ok(envs.get_key_value(spec_env).map(|(k, l)| (k.as_str(), l))),
    }
}

/// Merges the project's layers into every spec, recording where each setting came from.
pub fn apply(specs: &mut [LoadedSpec], project: &LoadedProject, selected: Option<&str>) -> Result<(), LoadError> {
    let mut problems = Vec::new();
    for s in specs.iter_mut() {
        if let Err(d) = apply_one(s, project, selected) {
            problems.push(d);
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(LoadError::Invalid(Diagnostics(problems))) }
}

fn apply_one(s: &mut LoadedSpec, project: &LoadedProject, selected: Option<&str>) -> Result<(), Diagnostic> {
    let spec_path = Path::root().key("spec");
    let raw = s.doc.root.get("spec").map(|n| n.to_json()).unwrap_or_default();
    let layer = |name: String, layer: &Layer, path: Path| Level {
        name,
        values: serde_json::to_value(layer).unwrap_or_default(),
        path,
        doc: &project.doc,
    };
    let mut levels = Vec::new();
    let env = environment(project, selected, &s.cr.spec.environment)?;
    if let Some((name, l)) = env {
        levels.push(layer(format!("environment {name}"), l, Path::root().key("environments").key(name)));
    }
    levels.push(layer("project defaults".into(), &project.project.defaults, Path::root().key("defaults")));

    let at_spec = |setting: &str| {
        let path = setting.split('.').fold(spec_path.clone(), |p, k| p.key(k));
        Some(format!("{}:{}", s.doc.source.name, s.doc.root.locate(&path).line))
    };
    let mut merged = raw.clone();
    let mut origins = Vec::new();
    let from = |origins: &mut Vec<Origin>, setting: &str, value: Value, level: String, at: Option<String>| {
        origins.push(Origin { setting: setting.to_owned(), value, level, at });
    };
    if let (Some(name), Some(_)) = (selected, env) {
        merged["environment"] = Value::String(name.to_owned());
        from(&mut origins, "environment", merged["environment"].clone(), "--env".into(), None);
    }
    for setting in SETTINGS {
        if let Some(v) = lookup(&raw, setting) {
            from(&mut origins, setting, v.clone(), "spec".into(), at_spec(setting));
        } else if let Some(l) = levels.iter().find(|l| l.get(setting).is_some()) {
            let v = l.get(setting).cloned().unwrap_or_default();
            insert(&mut merged, setting, v.clone());
            from(&mut origins, setting, v, l.name.clone(), l.at(setting));
        }
    }
    for workload in WORKLOADS {
        let list = lookup(&raw, &format!("{workload}.env")).and_then(Value::as_array).cloned().unwrap_or_default();
        let mut vars = list.clone();
        for (i, var) in list.iter().enumerate() {
            let name = var["name"].as_str().unwrap_or_default();
            let setting = format!("{workload}.env.{name}");
            let path = spec_path.key(workload).key("env").index(i);
            let at = Some(format!("{}:{}", s.doc.source.name, s.doc.root.locate(&path).line));
            from(&mut origins, &setting, var["value"].clone(), "spec".into(), at);
        }
        for l in &levels {
            let Some(Value::Object(layer_vars)) = l.get(&format!("{workload}.env")) else { continue };
            for (name, value) in layer_vars {
                if vars.iter().any(|v| v["name"] == name.as_str()) {
                    continue;
                }
                vars.push(serde_json::json!({"name": name, "value": value}));
                let setting = format!("{workload}.env.{name}");
                from(&mut origins, &setting, value.clone(), l.name.clone(), l.at(&setting));
            }
        }
        if vars.len() > list.len() {
            insert(&mut merged, &format!("{workload}.env"), Value::Array(vars));
        }
    }
    if merged != raw {
        let spec: NexusAICapabilitySpec = serde_path_to_error::deserialize(merged)
            .map_err(|e| s.doc.diag(&spec_path, format!("with the project's layers: {}: {}", e.path(), e.inner())))?;
        let mut cr = s.cr.clone();
        cr.spec = spec;
        let mut out = Vec::new();
        crate::input::validate::spec(&s.doc, &cr, &mut out);
        if let Some(d) = out.into_iter().next() {
            return Err(d);
        }
        s.cr = cr;
    }
    // What no level set: the built-in defaults.
    let mut typed = serde_json::to_value(&s.cr.spec).unwrap_or_default();
    for (workload, w) in [("frontend", &s.cr.spec.frontend), ("backend", &s.cr.spec.backend)] {
        insert(&mut typed, &format!("{workload}.healthCheckPath"), w.health_path().into());
    }
    for setting in SETTINGS {
        if !origins.iter().any(|o| o.setting == *setting)
            && let Some(v) = lookup(&typed, setting)
        {
            from(&mut origins, setting, v.clone(), "built-in default".into(), None);
        }
    }
    origins.sort_by(|a, b| a.setting.cmp(&b.setting));
    s.origins = origins;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "apiVersion: nexus.ai/v1
kind: NexusAICapability
metadata: {name: myapp}
spec:
  capabilityName: myapp
  version: 1.0.0
  environment: dev
  region: eu-west-1
  frontend: {image: web:1}
  backend:
    image: api:1
    replicas: 5
    env:
      - {name: MODE, value: spec}
";

    fn project(text: &str) -> Result<LoadedProject, crate::input::project::ProjectError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.yaml"), SPEC).unwrap();
        let file = dir.path().join("nexus-dev.yaml");
        std::fs::write(&file, text).unwrap();
        let loaded = crate::input::project::load(&file);
        std::mem::forget(dir);
        loaded
    }

    fn specs() -> Vec<LoadedSpec> {
        crate::input::spec::load_specs(&[crate::input::diag::Source::new("app.yaml", SPEC)]).unwrap()
    }

    const LAYERED: &str = "specs: [app.yaml]
defaults:
  frontend: {replicas: 4}
  backend:
    env: {LOG_LEVEL: info, REGION_NAME: eu, MODE: defaults}
  ingress: {host: app.example.com}
environments:
  dev:
    profile: local
    frontend: {replicas: 3}
    backend:
      replicas: 1
      env: {LOG_LEVEL: debug}
  prod:
    profile: eks-prod
    backend: {replicas: 3, image: api:1.0.0}
";

    fn origin<'a>(s: &'a LoadedSpec, setting: &str) -> &'a Origin {
        s.origins
            .iter()
            .find(|o| o.setting == setting)
            .unwrap_or_else(|| panic!("no origin of {setting}: {:#?}", s.origins))
    }

    #[test]
    fn the_spec_wins_over_its_environment_which_wins_over_the_defaults() {
        let p = project(LAYERED).unwrap();
        let mut s = specs();
        apply(&mut s, &p, None).unwrap();
        let spec = &s[0].cr.spec;
        assert_eq!(spec.backend.replicas, 5, "the spec's own");
        assert_eq!(spec.frontend.replicas, 3, "dev's, over the defaults' 4");
        assert_eq!(spec.ingress.host.as_deref(), Some("app.example.com"), "the defaults'");
        let env: Vec<(&str, &str)> = spec.backend.env.iter().map(|v| (v.name.as_str(), v.value.as_str())).collect();
        assert_eq!(env, [("MODE", "spec"), ("LOG_LEVEL", "debug"), ("REGION_NAME", "eu")]);
        assert_eq!(origin(&s[0], "backend.replicas").level, "spec");
        assert_eq!(origin(&s[0], "backend.replicas").at.as_deref(), Some("app.yaml:12"));
        assert_eq!(origin(&s[0], "frontend.replicas").level, "environment dev");
        assert!(origin(&s[0], "frontend.replicas").at.as_deref().unwrap().ends_with("nexus-dev.yaml:10"));
        assert_eq!(origin(&s[0], "backend.env.LOG_LEVEL").level, "environment dev");
        assert_eq!(origin(&s[0], "backend.env.REGION_NAME").level, "project defaults");
        assert_eq!(origin(&s[0], "backend.env.MODE").level, "spec");
        assert_eq!(origin(&s[0], "ingress.host").level, "project defaults");
        assert_eq!(origin(&s[0], "frontend.healthCheckPath").level, "built-in default");
    }

    #[test]
    fn env_selects_another_environment_and_sets_the_specs() {
        let p = project(LAYERED).unwrap();
        let mut s = specs();
        apply(&mut s, &p, Some("prod")).unwrap();
        let spec = &s[0].cr.spec;
        assert_eq!(spec.environment, "prod");
        assert_eq!(spec.backend.replicas, 5, "the spec still wins");
        assert_eq!(spec.backend.image, "api:1", "the spec still wins");
        assert_eq!(spec.frontend.replicas, 4, "prod sets none: the defaults'");
        assert_eq!(origin(&s[0], "environment").level, "--env");
        let err = apply(&mut specs(), &p, Some("prd")).unwrap_err().to_string();
        assert!(err.contains("no environment `prd`") && err.contains("did you mean `prod`?"), "{err}");
    }

    #[test]
    fn a_project_without_layers_changes_nothing() {
        let p = project("specs: [app.yaml]\n").unwrap();
        let mut s = specs();
        apply(&mut s, &p, None).unwrap();
        assert_eq!(serde_json::to_value(&s[0].cr).unwrap(), serde_json::to_value(&specs()[0].cr).unwrap());
        assert_eq!(origin(&s[0], "frontend.replicas").level, "built-in default");
    }

    #[test]
    fn an_unknown_key_at_each_level_is_located_with_a_suggestion() {
        for (text, line, want) in [
            ("specs: [app.yaml]\ndefaults:\n  backend: {replica: 2}\n", 3, "replicas"),
            ("specs: [app.yaml]\nenvironments:\n  dev:\n    backned: {replicas: 1}\n", 4, "backend"),
            ("specs: [app.yaml]\nenvironments:\n  dev:\n    ingress: {hots: x}\n", 4, "host"),
        ] {
            let err = project(text).unwrap_err().to_string();
            assert!(err.contains(&format!("nexus-dev.yaml:{line}")), "{text}: {err}");
            assert!(err.contains(&format!("did you mean `{want}`")), "{text}: {err}");
        }
        let err = project("specs: [app.yaml]\ndefaults:\n  profile: local\n").unwrap_err().to_string();
        assert!(err.contains("nexus-dev.yaml:3") && err.contains("environments"), "{err}");
        let err = project("specs: [app.yaml]\nenvironments:\n  Prod: {}\n").unwrap_err().to_string();
        assert!(err.contains("nexus-dev.yaml:3") && err.contains("Prod"), "{err}");
    }
}
