//! Reading specs: `-f FILE`, `-f DIR` (every `*.yaml`/`*.yml`, sorted), `-f -` (stdin);
//! multi-document YAML. Everything is checked before anything is returned.

use std::io::Read;
use std::path::{Path as FsPath, PathBuf};

use kube::CustomResourceExt;
use serde_json::Value;

use super::validate;
use crate::input::diag::{Diagnostic, Diagnostics, Source, did_you_mean};
use crate::input::schema_check;
use crate::input::yaml::{Document, NodeKind, Path, parse_documents};
use crate::model::spec::{API_VERSION, KIND, NexusAICapability};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not valid UTF-8 text")]
    NotText { path: String },
    #[error(
        "{path} is larger than {limit} MiB\n  hint: specs, profiles and project files are small; check that this is the file you meant"
    )]
    TooLarge { path: String, limit: usize },
    #[error("no *.yaml or *.yml files in directory {path}")]
    EmptyDir { path: String },
    #[error("no NexusAICapability documents found in {what}")]
    NoSpecs { what: String },
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error(
        "--env {name}: there is no project file here to define environments\n  hint: run inside a project (a directory with nexus-dev.yaml and `environments:`), or leave out --env"
    )]
    NoProject { name: String },
}

/// A capability spec with the document it was read from, for locating later problems.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub doc: Document,
    pub cr: NexusAICapability,
    /// Where each layered setting came from (`input::layers`); empty until layers are merged.
    pub origins: Vec<crate::input::layers::Origin>,
}

impl LoadedSpec {
    pub fn spec(&self) -> &crate::model::spec::NexusAICapabilitySpec {
        &self.cr.spec
    }

    /// `file:line` of the document, for messages.
    pub fn origin(&self) -> String {
        format!("{}:{}", self.doc.source.name, self.doc.root.pos.line)
    }
}

/// Reads the sources named on the command line. `-` is stdin; a directory contributes its
/// `*.yaml` and `*.yml` files (not recursively), in name order so results are deterministic.
pub fn read_sources(inputs: &[PathBuf]) -> Result<Vec<Source>, LoadError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            let text = read_bounded(std::io::stdin().lock(), "<stdin>")?;
            out.push(Source::new("<stdin>", text));
        } else if input.is_dir() {
            let shown = input.display().to_string();
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|source| LoadError::Read { path: shown.clone(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(LoadError::EmptyDir { path: shown });
            }
            for f in files {
                out.push(read_file(&f)?);
            }
        } else {
            out.push(read_file(input)?);
        }
    }
    Ok(out)
}

pub fn read_file(path: &FsPath) -> Result<Source, LoadError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| LoadError::Read { path: shown.clone(), source })?;
    let text = read_bounded(file, &shown)?;
    Ok(Source::new(shown, text))
}

/// Reads at most [`crate::input::yaml::MAX_BYTES`] of text: the limit is checked while reading, so
/// `/dev/zero` or an endless stdin is refused after 8 MiB, not when memory runs out.
pub fn read_bounded(reader: impl Read, shown: &str) -> Result<String, LoadError> {
    let limit = crate::input::yaml::MAX_BYTES;
    let mut buf = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|source| LoadError::Read { path: shown.to_owned(), source })?;
    if buf.len() > limit {
        return Err(LoadError::TooLarge { path: shown.to_owned(), limit: limit >> 20 });
    }
    String::from_utf8(buf).map_err(|_| LoadError::NotText { path: shown.to_owned() })
}

/// Parses and validates every capability in `sources`. Either all are valid, or every problem
/// found is returned.
pub fn load_specs(sources: &[Source]) -> Result<Vec<LoadedSpec>, LoadError> {
    let mut problems = Diagnostics::default();
    let mut specs = Vec::new();
    for source in sources {
        let docs = match parse_documents(source) {
            Ok(d) => d,
            Err(d) => {
                problems.push(d);
                continue;
            }
        };
        for doc in docs {
            match load_document(&doc) {
                Ok(cr) => specs.push(LoadedSpec { doc, cr, origins: Vec::new() }),
                Err(mut ds) => problems.0.append(&mut ds),
            }
        }
    }
    if problems.is_empty() {
        validate::across(&specs, &mut problems);
    }
    if !problems.is_empty() {
        return Err(LoadError::Invalid(problems));
    }
    if specs.is_empty() {
        let what = sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        return Err(LoadError::NoSpecs { what });
    }
    Ok(specs)
}

const METADATA_FIELDS: [&str; 4] = ["name", "namespace", "labels", "annotations"];
/// Fields of exported objects (`kubectl get -o yaml`) that are accepted and ignored.
const METADATA_SERVER_FIELDS: [&str; 9] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "finalizers",
    "ownerReferences",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

fn load_document(doc: &Document) -> Result<NexusAICapability, Vec<Diagnostic>> {
    let root = &doc.root;
    let mut out = Vec::new();
    let NodeKind::Map(entries) = &root.kind else {
        return Err(vec![
            doc.diag(&Path::root(), format!("expected a NexusAICapability mapping, found {}", root.type_name())),
        ]);
    };

    let kind = root.get("kind").and_then(|n| n.as_str());
    match kind {
        Some(KIND) => {}
        Some(other) => {
            let hint = match did_you_mean(other, [KIND]) {
                Some(k) => format!("did you mean `{k}`?"),
                None => "nexus-dev reads NexusAICapability documents only; keep other manifests in another file".into(),
            };
            return Err(vec![
                doc.diag(&Path::root().key("kind"), format!("expected kind `{KIND}`, found `{other}`")).with_hint(hint),
            ]);
        }
        None => out.push(
            doc.diag_at_key(&Path::root(), "missing required field `kind`").with_hint(format!("add `kind: {KIND}`")),
        ),
    }
    match root.get("apiVersion").map(|n| (n, n.as_str())) {
        Some((_, Some(API_VERSION))) => {}
        Some((n, v)) => out.push(
            doc.diag(
                &Path::root().key("apiVersion"),
                format!(
                    "expected `{API_VERSION}`, found `{}`",
                    v.map_or_else(|| n.to_json().to_string(), str::to_owned)
                ),
            )
            .with_hint(format!("use `apiVersion: {API_VERSION}`")),
        ),
        None => out.push(
            doc.diag_at_key(&Path::root(), "missing required field `apiVersion`")
                .with_hint(format!("add `apiVersion: {API_VERSION}`")),
        ),
    }
    for e in entries {
        if !["apiVersion", "kind", "metadata", "spec", "status"].contains(&e.key.as_str()) {
            let hint = did_you_mean(&e.key, ["apiVersion", "kind", "metadata", "spec"])
                .map_or("top-level fields are apiVersion, kind, metadata and spec".to_owned(), |s| {
                    format!("did you mean `{s}`?")
                });
            out.push(doc.diag_at_key(&Path::root().key(&e.key), format!("unknown field `{}`", e.key)).with_hint(hint));
        }
    }

    let meta_path = Path::root().key("metadata");
    match root.get("metadata") {
        None => out.push(
            doc.diag_at_key(&Path::root(), "missing required field `metadata`")
                .with_hint("add `metadata:` with a `name:`"),
        ),
        Some(meta) => match &meta.kind {
            NodeKind::Map(fields) => {
                for f in fields {
                    let k = f.key.as_str();
                    if !METADATA_FIELDS.contains(&k) && !METADATA_SERVER_FIELDS.contains(&k) {
                        let hint = did_you_mean(k, METADATA_FIELDS)
                            .map_or("metadata fields are name, namespace, labels and annotations".to_owned(), |s| {
                                format!("did you mean `{s}`?")
                            });
                        out.push(doc.diag_at_key(&meta_path.key(k), format!("unknown field `{k}`")).with_hint(hint));
                    }
                }
                if meta.get("name").is_none() {
                    let mut d = doc.diag_at_key(&meta_path, "missing required field `name`");
                    d.path = "metadata.name".into();
                    out.push(d.with_hint(
                        "add `name:` under `metadata`, for example the capability and environment: `myapp-dev`",
                    ));
                }
            }
            _ => out.push(doc.diag(&meta_path, format!("expected a mapping of fields, found {}", meta.type_name()))),
        },
    }

    let crd = NexusAICapability::crd();
    let schema = crd.spec.versions.first().and_then(|v| v.schema.as_ref()).and_then(|s| s.open_api_v3_schema.as_ref());
    let schema = schema.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).unwrap_or(Value::Null);
    let mut meta_schema = schema["properties"]["metadata"].clone();
    if meta_schema.is_null() || meta_schema.get("properties").is_none() {
        meta_schema = serde_json::json!({"type": "object", "properties": {
            "name": {"type": "string"}, "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}}
        }, "additionalProperties": true});
    }
    if let Some(meta) = root.get("metadata") {
        schema_check::check(doc, meta, &meta_path, &meta_schema, &mut out);
    }
    let spec_path = Path::root().key("spec");
    match root.get("spec") {
        None => out.push(
            doc.diag_at_key(&Path::root(), "missing required field `spec`")
                .with_hint("add `spec:` with capabilityName, version, environment, region, frontend and backend"),
        ),
        Some(spec) => schema_check::check(doc, spec, &spec_path, &schema["properties"]["spec"], &mut out),
    }
    if !out.is_empty() {
        return Err(out);
    }

    // The structure is right; serde now builds the typed value. Status is the server's.
    let mut json = root.to_json();
    if let Some(obj) = json.as_object_mut() {
        obj.remove("status");
    }
    drop_nulls(&mut json);
    let cr: NexusAICapability = serde_path_to_error::deserialize(json).map_err(|e| {
        let path = Path::parse(&e.path().to_string());
        vec![doc.diag(&path, e.inner().to_string())]
    })?;
    validate::spec(doc, &cr, &mut out);
    if out.is_empty() { Ok(cr) } else { Err(out) }
}

/// `key:` with no value means "not set"; serde sees it as absent.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
