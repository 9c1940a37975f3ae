//! The project file, `nexus-dev.yaml`: which capability specs, which profile, and how each
//! component is built, watched and synced. Found from the current directory upwards; checked
//! with the same error quality as specs.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};

use crate::input::diag::{Diagnostic, Diagnostics, Source, did_you_mean};
use crate::input::schema_check;
use crate::input::yaml::{Document, Path, parse_documents};
use crate::model::project::{FILE_NAME, LoadedProject, Project};

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(
        "no {FILE_NAME} in {start} or any parent directory\n  hint: create one (see README: \"The project file\"), or pass -f SPEC"
    )]
    NotFound { start: String },
    /// Discovery met a file or directory that another user may have written (issue #11).
    #[error(
        "not using {path}: {why}, so another user could have put it there\n  hint: run nexus-dev from a directory of your own, or fix the ownership or permissions of {path}"
    )]
    Unsafe { path: String, why: String },
    #[error(transparent)]
    Read(#[from] crate::input::spec::LoadError),
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Finds `nexus-dev.yaml` in `start` or a parent. Like git's `safe.directory`, the walk trusts
/// only what the current user (or root) owns: a project file of another user is refused, and the
/// walk stops at a directory others can write to (such as `/tmp`), where anyone could plant one.
pub fn discover(start: &FsPath) -> Result<LoadedProject, ProjectError> {
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    for dir in start.ancestors() {
        let file = dir.join(FILE_NAME);
        if file.is_file() {
            trusted(&file, me)?;
            trusted(dir, me)?;
            return load(&file);
        }
        if writable_by_others(dir) {
            break;
        }
    }
    Err(ProjectError::NotFound { start: start.display().to_string() })
}

fn writable_by_others(path: &FsPath) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o022 != 0)
}

/// Refuses `path` unless it is owned by `me` or root and only its owner can write it.
fn trusted(path: &FsPath, me: u32) -> Result<(), ProjectError> {
    use std::os::unix::fs::MetadataExt;
    let unsafe_because = |why: String| ProjectError::Unsafe { path: path.display().to_string(), why };
    let meta = std::fs::metadata(path).map_err(|e| unsafe_because(format!("cannot read its owner ({e})")))?;
    if meta.uid() != me && meta.uid() != 0 {
        return Err(unsafe_because(format!("it belongs to user id {}, not to you", meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_because(format!("it is writable by other users (mode {:o})", meta.mode() & 0o777)));
    }
    Ok(())
}

pub fn load(file: &FsPath) -> Result<LoadedProject, ProjectError> {
    let source = crate::input::spec::read_file(file)?;
    let dir = file.parent().map(FsPath::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let (project, doc) = parse(&source, &dir)?;
    Ok(LoadedProject { file: file.to_path_buf(), dir, project, doc })
}

/// The project's capability specs, read and checked, with its layers (`defaults`, and the
/// environment `environment` selects, else each spec's own) merged in.
pub fn specs(
    project: &LoadedProject,
    environment: Option<&str>,
) -> Result<Vec<crate::input::spec::LoadedSpec>, crate::input::spec::LoadError> {
    let sources = crate::input::spec::read_sources(&project.spec_paths())?;
    let mut specs = crate::input::spec::load_specs(&sources)?;
    crate::input::layers::apply(&mut specs, project, environment)?;
    Ok(specs)
}

/// Parses and checks a project file; paths are checked against `dir`.
pub fn parse(source: &Source, dir: &FsPath) -> Result<(Project, Document), ProjectError> {
    let docs = parse_documents(source).map_err(|d| ProjectError::Invalid(d.into()))?;
    let [doc] = docs.as_slice() else {
        let d = Diagnostic::new(
            source,
            crate::input::diag::Pos { line: 1, col: 1 },
            "",
            "a project file holds exactly one document",
        )
        .with_hint("remove the other documents (`---`)");
        return Err(ProjectError::Invalid(d.into()));
    };
    let mut out = Vec::new();
    schema_check::check(doc, &doc.root, &Path::root(), &schema_check::schema_for::<Project>(), &mut out);
    if !out.is_empty() {
        return Err(ProjectError::Invalid(Diagnostics(out)));
    }
    let project: Project = serde_path_to_error::deserialize(doc.root.to_json()).map_err(|e| {
        ProjectError::Invalid(doc.diag(&Path::parse(&e.path().to_string()), e.inner().to_string()).into())
    })?;
    if project.specs.is_empty() {
        out.push(
            doc.diag(&Path::parse("specs"), "lists no specs")
                .with_hint("add the capability spec files or directories, such as `- capabilities/`"),
        );
    }
    for (i, s) in project.specs.iter().enumerate() {
        if !dir.join(s).exists() {
            out.push(doc.diag(
                &Path::root().key("specs").index(i),
                format!("`{s}` does not exist (relative to {})", FILE_NAME),
            ));
        }
    }
    if humantime::parse_duration(&project.watch.debounce).is_err() {
        out.push(
            doc.diag(&Path::parse("watch.debounce"), format!("invalid duration `{}`", project.watch.debounce))
                .with_hint("use a duration such as 300ms or 1s"),
        );
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in project.components.iter().enumerate() {
        let p = Path::root().key("components").index(i);
        if let Some(first) = names.insert(&c.name, i) {
            out.push(
                doc.diag(&p.key("name"), format!("component `{}` is also defined at components[{first}]", c.name))
                    .with_hint("give each component its own name"),
            );
        }
        if let Err(why) = crate::input::validate::dns_label(&c.name) {
            out.push(doc.diag(&p.key("name"), format!("invalid component name `{}`: {why}", c.name)));
        }
        let ctx = dir.join(&c.context);
        if !ctx.is_dir() {
            out.push(
                doc.diag(&p.key("context"), format!("build context `{}` is not a directory", c.context))
                    .with_hint("give the directory of the component's sources, relative to nexus-dev.yaml"),
            );
        } else if !ctx.join(&c.dockerfile).is_file() {
            let existing: Vec<String> = std::fs::read_dir(&ctx)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.contains("ockerfile"))
                .collect();
            let hint = match did_you_mean(&c.dockerfile, existing.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "give the Dockerfile's path relative to the context".to_owned(),
            };
            out.push(
                doc.diag(&p.key("dockerfile"), format!("`{}` not found in {}", c.dockerfile, c.context))
                    .with_hint(hint),
            );
        }
        for (j, r) in c.sync.iter().enumerate() {
            if !r.to.starts_with('/') {
                out.push(
                    doc.diag(&p.key("sync").index(j).key("to"), format!("`{}` is not an absolute path", r.to))
                        .with_hint("give the destination in the container, such as /app/static"),
                );
            }
        }
        if !c.after_sync.is_empty() && c.sync.is_empty() {
            out.push(
                doc.diag(&p.key("afterSync"), "afterSync without sync rules")
                    .with_hint("add `sync:` rules, or remove afterSync"),
            );
        }
    }
    seed(&project, doc, &mut out);
    layers(&project, doc, &mut out);
    if out.is_empty() { Ok((project, doc.clone())) } else { Err(ProjectError::Invalid(Diagnostics(out))) }
}

/// Environments are named as a spec's `environment` is; a profile belongs to an environment.
fn layers(project: &Project, doc: &Document, out: &mut Vec<Diagnostic>) {
    if project.defaults.profile.is_some() {
        out.push(
            doc.diag(&Path::parse("defaults.profile"), "a profile belongs to an environment, not to the defaults")
                .with_hint("set the project's profile with `profile:` at the top, or give each environment its own under `environments:`"),
        );
    }
    for name in project.environments.keys() {
        if let Err(why) = crate::input::validate::dns_label(name) {
            out.push(
                doc.diag_at_key(
                    &Path::root().key("environments").key(name),
                    format!("invalid environment name `{name}`: {why}"),
                )
                .with_hint("name environments as specs do: dev, staging, prod"),
            );
        }
    }
}

/// Seed data names resources its capability has, and holds values a resource can take.
fn seed(project: &Project, doc: &crate::input::yaml::Document, out: &mut Vec<Diagnostic>) {
    use crate::model::names::{BUCKET_PURPOSES, SECRET_TYPES, TABLE_PURPOSES};
    let known = |out: &mut Vec<Diagnostic>, path: &Path, name: &str, what: &str, all: &[&str]| {
        if !all.contains(&name) {
            let hint = match did_you_mean(name, all.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("a capability's {what}s are: {}", all.join(", ")),
            };
            out.push(doc.diag(path, format!("no {what} `{name}`")).with_hint(hint));
        }
    };
    for (cap, seed) in &project.seed {
        let p = Path::root().key("seed").key(cap);
        for (table, items) in &seed.tables {
            let tp = p.key("tables").key(table);
            known(out, &tp, table, "table", &TABLE_PURPOSES);
            for (i, item) in items.iter().enumerate() {
                for (attr, v) in item {
                    if !(v.is_string() || v.is_number() || v.is_boolean()) {
                        out.push(
                            doc.diag(
                                &tp.index(i).key(attr),
                                format!("attribute `{attr}` is not a string, number or boolean"),
                            )
                            .with_hint("seed items hold plain values"),
                        );
                    }
                }
            }
        }
        for bucket in seed.buckets.keys() {
            known(out, &p.key("buckets").key(bucket), bucket, "bucket", &BUCKET_PURPOSES);
        }
        for secret in seed.secrets.keys() {
            known(out, &p.key("secrets").key(secret), secret, "secret", &SECRET_TYPES);
        }
        for name in seed.parameters.keys() {
            if name.split('/').count() != 2 || name.split('/').any(str::is_empty) {
                out.push(
                    doc.diag(&p.key("parameters").key(name), format!("`{name}` is not `category/key`"))
                        .with_hint("name a parameter by its category and key, such as app/feature_flag"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("apps/api")).unwrap();
        std::fs::write(dir.path().join("apps/api/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.path().join("cap.yaml"), "").unwrap();
        dir
    }

    #[test]
    fn a_valid_project_loads_with_defaults() {
        let dir = setup();
        let text = "specs: [cap.yaml]\ncomponents:\n  - name: api\n    component: backend\n    context: apps/api\n";
        let (p, _) = parse(&Source::new("nexus-dev.yaml", text), dir.path()).unwrap();
        assert_eq!(p.profile, "local");
        assert_eq!(p.components[0].dockerfile, "Dockerfile");
        assert_eq!(p.watch.debounce, "300ms");
    }

    #[test]
    fn errors_name_field_line_and_fix() {
        let dir = setup();
        let text =
            "specs: [cap.yaml, missing/]\ncomponents:\n  - name: api\n    component: backnd\n    context: apps/api\n";
        let err = parse(&Source::new("nexus-dev.yaml", text), dir.path()).unwrap_err().to_string();
        assert!(err.contains("nexus-dev.yaml:4:16: components[0].component: invalid value `backnd`"), "{err}");
        assert!(err.contains("did you mean `backend`"), "{err}");
        let text = "specs: [cap.yaml, missing/]\ncomponents:\n  - name: api\n    component: backend\n    context: apps/api\n    dockerfile: Dockerflie\n    sync: [{from: src, to: app}]\n";
        let err = parse(&Source::new("nexus-dev.yaml", text), dir.path()).unwrap_err().to_string();
        assert!(err.contains("specs[1]: `missing/` does not exist"), "{err}");
        assert!(err.contains("components[0].dockerfile: `Dockerflie` not found in apps/api"), "{err}");
        assert!(err.contains("did you mean `Dockerfile`"), "{err}");
        assert!(err.contains("components[0].sync[0].to: `app` is not an absolute path"), "{err}");
    }

    #[test]
    fn seed_data_is_checked_against_what_a_capability_has() {
        let dir = setup();
        let text = "specs: [cap.yaml]\nseed:\n  myapp:\n    tables:\n      licence: [{pk: a, sk: b, nested: {x: 1}}]\n    buckets:\n      call-data: {a.txt: hi}\n    parameters:\n      greeting: hi\n";
        let err = parse(&Source::new("nexus-dev.yaml", text), dir.path()).unwrap_err().to_string();
        assert!(err.contains("nexus-dev.yaml:5:16: seed.myapp.tables.licence: no table `licence`"), "{err}");
        assert!(err.contains("did you mean `license`"), "{err}");
        assert!(err.contains("seed.myapp.tables.licence[0].nested: attribute `nested` is not a string"), "{err}");
        assert!(err.contains("seed.myapp.parameters.greeting: `greeting` is not `category/key`"), "{err}");
        assert!(!err.contains("call-data"), "a known bucket is fine: {err}");
    }

    #[test]
    fn discovery_walks_up() {
        let dir = setup();
        std::fs::write(dir.path().join(FILE_NAME), "specs: [cap.yaml]\n").unwrap();
        let p = discover(&dir.path().join("apps/api")).unwrap();
        assert_eq!(p.dir, dir.path());
        assert!(matches!(discover(&std::env::temp_dir().join("nope-nexus")), Err(ProjectError::NotFound { .. })));
    }

    #[test]
    fn discovery_stops_at_directories_and_files_others_can_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = setup();
        let mode = |p: &FsPath, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        // A project file planted in a world-writable parent is never reached.
        std::fs::write(dir.path().join(FILE_NAME), "specs: [cap.yaml]\n").unwrap();
        mode(&dir.path().join("apps"), 0o777);
        let err = discover(&dir.path().join("apps/api")).unwrap_err();
        assert!(matches!(err, ProjectError::NotFound { .. }), "{err}");
        mode(&dir.path().join("apps"), 0o755);
        assert!(discover(&dir.path().join("apps/api")).is_ok());
        // A project file others may write is refused, saying why.
        mode(&dir.path().join(FILE_NAME), 0o666);
        let err = discover(&dir.path().join("apps/api")).unwrap_err().to_string();
        assert!(err.contains("writable by other users (mode 666)"), "{err}");
        mode(&dir.path().join(FILE_NAME), 0o644);
        // So is one in a directory others may write.
        mode(dir.path(), 0o775);
        let err = discover(&dir.path().join("apps/api")).unwrap_err().to_string();
        assert!(err.contains("writable by other users (mode 775)"), "{err}");
        mode(dir.path(), 0o700);
        // And one owned by another user.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(dir.path().join(FILE_NAME), Some(4242), None).unwrap();
            let err = discover(&dir.path().join("apps/api")).unwrap_err().to_string();
            assert!(err.contains("belongs to user id 4242, not to you"), "{err}");
        }
    }
}
