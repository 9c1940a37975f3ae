//! Which paths of a component matter: its `.dockerignore` (a file the build never sees cannot
//! need a rebuild), the `.gitignore` files above and inside its context, nexus-dev's defaults
//! (VCS and dependency directories, editor swap/backup/temp files) and the component's own
//! `ignore:` rules, restricted to its `watch:` paths. The Dockerfile and `.dockerignore` always
//! matter, as `docker build` always sends them.
//!
//! Loading reads files; matching is pure, so the decision over a batch of paths
//! (`decide::classify`) is tested without a file system.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::dockerignore::{DockerIgnore, DockerignoreError};

/// Ignored in every context, before the component's own rules (which may re-include with `!`).
/// Editor files: vim swap/backup and its `4913` write probe, emacs locks and autosaves, JetBrains
/// safe-write temporaries, Kate swaps, Chrome's File System Access temporaries, and `*.tmp`.
pub const DEFAULT_IGNORES: &[&str] = &[
    ".git/",
    ".hg/",
    ".svn/",
    "target/",
    "node_modules/",
    "__pycache__/",
    ".DS_Store",
    "*.swp",
    "*.swo",
    "*.swx",
    "*.swpx",
    "*~",
    ".#*",
    "\\#*#",
    "4913",
    "*.tmp",
    "*___jb_tmp___",
    "*___jb_old___",
    "*.kate-swp",
    "*.crswap",
];

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error(transparent)]
    Dockerignore(#[from] DockerignoreError),
    #[error("{file}: {source}")]
    Gitignore { file: String, source: ignore::Error },
    #[error("ignore rule `{rule}` of component {component}: {source}")]
    Rule { component: String, rule: String, source: ignore::Error },
}

/// What one component watches and ignores.
#[derive(Debug, Clone)]
pub struct Filter {
    context: PathBuf,
    dockerfile: PathBuf,
    watch: Vec<PathBuf>,
    docker: DockerIgnore,
    /// `.gitignore` files, shallowest first (a deeper one overrides a shallower one).
    git: Vec<Gitignore>,
    /// Defaults, then the component's `ignore:`; these override `.gitignore`.
    rules: Gitignore,
}

impl Filter {
    /// Loads the ignore files of `context` and the `.gitignore` files of its parent directories
    /// up to the repository root. `dockerfile` is relative to the context; `watch` are paths
    /// relative to the context (empty: all of it). Nested `.gitignore` files inside the context
    /// are added by the watcher's walk (`add_gitignore`).
    pub fn load(
        component: &str,
        context: &Path,
        dockerfile: &Path,
        watch: &[PathBuf],
        ignore: &[String],
    ) -> Result<Self, FilterError> {
        let mut rules = GitignoreBuilder::new(context);
        for rule in DEFAULT_IGNORES.iter().copied().chain(ignore.iter().map(String::as_str)) {
            rules.add_line(None, rule).map_err(|source| FilterError::Rule {
                component: component.to_owned(),
                rule: rule.to_owned(),
                source,
            })?;
        }
        let rules = rules.build().map_err(|source| FilterError::Rule {
            component: component.to_owned(),
            rule: ignore.join(", "),
            source,
        })?;
        let mut git = Vec::new();
        for dir in repository_dirs(context) {
            if let Some(g) = read_gitignore(&dir)? {
                git.push(g);
            }
        }
        Ok(Self {
            context: context.to_path_buf(),
            dockerfile: normalize(&context.join(dockerfile)),
            watch: watch.to_vec(),
            docker: DockerIgnore::load(context)?,
            git,
            rules,
        })
    }

    /// A filter from values, for tests of the pure parts.
    pub fn from_parts(context: &Path, dockerfile: &Path, docker: DockerIgnore, rules: &[&str]) -> Self {
        let mut b = GitignoreBuilder::new(context);
        for r in DEFAULT_IGNORES.iter().chain(rules) {
            let _ = b.add_line(None, r);
        }
        Self {
            context: context.to_path_buf(),
            dockerfile: normalize(&context.join(dockerfile)),
            watch: Vec::new(),
            docker,
            git: Vec::new(),
            rules: b.build().unwrap_or_else(|_| Gitignore::empty()),
        }
    }

    pub fn with_watch(mut self, watch: Vec<PathBuf>) -> Self {
        self.watch = watch;
        self
    }

    /// Adds the rules of a `.gitignore` in `dir` (found inside the context by the watcher).
    pub fn add_gitignore(&mut self, dir: &Path) -> Result<(), FilterError> {
        if self.git.iter().any(|g| g.path() == dir) {
            return Ok(());
        }
        if let Some(g) = read_gitignore(dir)? {
            self.git.push(g);
            self.git.sort_by_key(|g| g.path().components().count());
        }
        Ok(())
    }

    pub fn context(&self) -> &Path {
        &self.context
    }

    pub fn dockerfile(&self) -> &Path {
        &self.dockerfile
    }

    /// The path relative to the context when `abs` can affect this component's image, `None`
    /// when it cannot (outside the context, ignored, or outside the watched paths).
    pub fn relevant<'a>(&self, abs: &'a Path, is_dir: bool) -> Option<&'a Path> {
        if abs == self.dockerfile {
            return Some(abs.strip_prefix(&self.context).unwrap_or(abs));
        }
        let rel = abs.strip_prefix(&self.context).ok()?;
        if rel.as_os_str().is_empty() {
            return None;
        }
        if rel == Path::new(".dockerignore") {
            return Some(rel);
        }
        if !self.watch.is_empty() && !self.watch.iter().any(|w| rel.starts_with(w)) {
            return None;
        }
        if self.ignored(abs, rel, is_dir) { None } else { Some(rel) }
    }

    /// Whether the watcher should look inside directory `abs`: inside the context, on the way
    /// to or under a watched path, and not ignored.
    pub fn descend(&self, abs: &Path) -> bool {
        let Ok(rel) = abs.strip_prefix(&self.context) else { return false };
        if rel.as_os_str().is_empty() {
            return true;
        }
        if !self.watch.is_empty() && !self.watch.iter().any(|w| rel.starts_with(w) || w.starts_with(rel)) {
            return false;
        }
        // A directory excluded by .dockerignore may hold re-included files; look when it can.
        let docker_out = self.docker.excludes(rel) && !self.docker.has_exceptions();
        !docker_out && !self.git_ignored(abs, true)
    }

    fn ignored(&self, abs: &Path, rel: &Path, is_dir: bool) -> bool {
        self.git_ignored(abs, is_dir) || self.docker.excludes(rel)
    }

    fn git_ignored(&self, abs: &Path, is_dir: bool) -> bool {
        match self.rules.matched_path_or_any_parents(abs, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
        for g in self.git.iter().rev() {
            if !abs.starts_with(g.path()) || abs == g.path() {
                continue;
            }
            match g.matched_path_or_any_parents(abs, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}

/// `dir` and its parents up to the repository root (the first with a `.git`), root first; only
/// `dir` when it is not in a repository.
fn repository_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dir.ancestors() {
        out.push(d.to_path_buf());
        if d.join(".git").exists() {
            out.reverse();
            return out;
        }
    }
    vec![dir.to_path_buf()]
}

fn read_gitignore(dir: &Path) -> Result<Option<Gitignore>, FilterError> {
    let file = dir.join(".gitignore");
    if !file.is_file() {
        return Ok(None);
    }
    let mut b = GitignoreBuilder::new(dir);
    if let Some(source) = b.add(&file) {
        return Err(FilterError::Gitignore { file: file.display().to_string(), source });
    }
    b.build().map(Some).map_err(|source| FilterError::Gitignore { file: file.display().to_string(), source })
}

/// Removes `.` and resolves `..` lexically (a Dockerfile may live outside its context).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(docker: &str, rules: &[&str]) -> Filter {
        Filter::from_parts(
            Path::new("/p/api"),
            Path::new("Dockerfile"),
            DockerIgnore::parse(".dockerignore", docker).unwrap(),
            rules,
        )
    }

    fn rel(f: &Filter, p: &str) -> Option<String> {
        f.relevant(Path::new(p), false).map(|r| r.display().to_string())
    }

    #[test]
    fn editor_and_vcs_files_are_ignored_by_default() {
        let f = filter("", &[]);
        for p in [
            "/p/api/.git/index",
            "/p/api/src/.main.sh.swp",
            "/p/api/src/main.sh~",
            "/p/api/src/.#main.sh",
            "/p/api/src/#main.sh#",
            "/p/api/src/4913",
            "/p/api/x.tmp",
            "/p/api/node_modules/a/b.js",
            "/p/api/target/debug/x",
            "/p/api/src/main.sh___jb_tmp___",
        ] {
            assert_eq!(rel(&f, p), None, "{p}");
        }
        assert_eq!(rel(&f, "/p/api/src/main.sh").as_deref(), Some("src/main.sh"));
    }

    #[test]
    fn paths_outside_the_context_are_not_relevant() {
        let f = filter("", &[]);
        assert_eq!(rel(&f, "/p/web/index.html"), None);
        assert_eq!(rel(&f, "/p/api"), None);
        assert_eq!(rel(&f, "/p/apix/a"), None);
    }

    #[test]
    fn dockerignored_files_do_not_matter_but_the_dockerfile_and_dockerignore_do() {
        let f = filter("*.md\nDockerfile\n.dockerignore\n", &[]);
        assert_eq!(rel(&f, "/p/api/README.md"), None);
        assert_eq!(rel(&f, "/p/api/Dockerfile").as_deref(), Some("Dockerfile"));
        assert_eq!(rel(&f, "/p/api/.dockerignore").as_deref(), Some(".dockerignore"));
    }

    #[test]
    fn component_rules_override_defaults() {
        let f = filter("", &["!target/", "*.log"]);
        assert_eq!(rel(&f, "/p/api/target/app").as_deref(), Some("target/app"));
        assert_eq!(rel(&f, "/p/api/logs/a.log"), None);
    }

    #[test]
    fn watch_paths_restrict_and_guide_descent() {
        let f = filter("", &[]).with_watch(vec![PathBuf::from("src/app")]);
        assert_eq!(rel(&f, "/p/api/src/app/a.sh").as_deref(), Some("src/app/a.sh"));
        assert_eq!(rel(&f, "/p/api/docs/a.md"), None);
        assert_eq!(rel(&f, "/p/api/Dockerfile").as_deref(), Some("Dockerfile"));
        assert!(f.descend(Path::new("/p/api/src")));
        assert!(f.descend(Path::new("/p/api/src/app/x")));
        assert!(!f.descend(Path::new("/p/api/docs")));
    }

    #[test]
    fn ignored_directories_are_not_descended() {
        let f = filter("dist\n", &[]);
        assert!(f.descend(Path::new("/p/api")));
        assert!(f.descend(Path::new("/p/api/src")));
        assert!(!f.descend(Path::new("/p/api/node_modules")));
        assert!(!f.descend(Path::new("/p/api/.git")));
        assert!(!f.descend(Path::new("/p/api/dist")));
        assert!(!f.descend(Path::new("/p/web")));
        let f = filter("dist\n!dist/keep\n", &[]);
        assert!(f.descend(Path::new("/p/api/dist")), "an exception may re-include files inside");
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_relevant() {
        let f = Filter::from_parts(
            Path::new("/p/api"),
            Path::new("../docker/api.Dockerfile"),
            DockerIgnore::default(),
            &[],
        );
        assert_eq!(f.dockerfile(), Path::new("/p/docker/api.Dockerfile"));
        assert!(f.relevant(Path::new("/p/docker/api.Dockerfile"), false).is_some());
        assert!(f.relevant(Path::new("/p/docker/other"), false).is_none());
    }

    #[test]
    fn gitignore_files_apply_deepest_first_and_component_rules_win() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("apps/api/gen")).unwrap();
        std::fs::write(root.join(".gitignore"), "*.log\ncoverage/\n").unwrap();
        std::fs::write(root.join("apps/api/gen/.gitignore"), "*.out\n!keep.log\n").unwrap();
        let ctx = root.join("apps/api");
        let mut f = Filter::load("api", &ctx, Path::new("Dockerfile"), &[], &["!coverage/".into()]).unwrap();
        f.add_gitignore(&ctx.join("gen")).unwrap();
        assert!(f.relevant(&ctx.join("x.log"), false).is_none(), "repository root .gitignore applies");
        assert!(f.relevant(&ctx.join("gen/a.out"), false).is_none(), "nested .gitignore applies");
        assert!(f.relevant(&ctx.join("gen/keep.log"), false).is_some(), "deeper file overrides");
        assert!(f.relevant(&ctx.join("coverage/x"), false).is_some(), "component rules win");
        assert!(f.relevant(&ctx.join("src/a.sh"), false).is_some());
    }
}
