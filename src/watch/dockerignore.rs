//! `.dockerignore` with Docker's own semantics (moby/patternmatcher), not gitignore's: patterns
//! are anchored at the context root, `*` stops at `/`, `**` spans directories, a pattern that
//! matches a parent directory matches everything below it, and the last matching pattern wins
//! (`!` re-includes). Used both for the build context (what the daemon receives) and the watch
//! filter (a file the build never sees cannot need a rebuild).

use std::path::{Component, Path};

use regex::Regex;

#[derive(Debug, thiserror::Error)]
pub enum DockerignoreError {
    #[error("{file}:{line}: invalid pattern `{pattern}`: {source}")]
    CompilePattern { file: String, line: usize, pattern: String, source: Box<regex::Error> },
}

#[derive(Debug, Clone)]
struct Pattern {
    regex: Regex,
    exclusion: bool,
}

/// The compiled patterns of one `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

impl DockerIgnore {
    /// Reads `<context>/.dockerignore`; a missing file means nothing is excluded.
    pub fn load(context: &Path) -> Result<Self, DockerignoreError> {
        let file = context.join(".dockerignore");
        match std::fs::read_to_string(&file) {
            Ok(text) => Self::parse(&file.display().to_string(), &text),
            Err(_) => Ok(Self::default()),
        }
    }

    /// Parses the file the way `docker build` does (moby's ignorefile.ReadAll).
    pub fn parse(file: &str, text: &str) -> Result<Self, DockerignoreError> {
        let mut patterns = Vec::new();
        for (i, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let mut p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
            }
            let cleaned = clean(p);
            let cleaned = if cleaned.len() > 1 { cleaned.trim_start_matches('/').to_owned() } else { cleaned };
            let regex = Regex::new(&translate(&cleaned)).map_err(|source| DockerignoreError::CompilePattern {
                file: file.to_owned(),
                line: i + 1,
                pattern: raw.to_owned(),
                source: Box::new(source),
            })?;
            patterns.push(Pattern { regex, exclusion });
        }
        Ok(Self { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any `!` pattern exists: then an excluded directory may still hold included files,
    /// and a walk must look inside it.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `rel` (relative to the context, `/`-separated) is left out of the build context.
    pub fn excludes(&self, rel: &Path) -> bool {
        let path = slash_path(rel);
        if path.is_empty() {
            return false;
        }
        let parents: Vec<&str> = path.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            // Only a pattern that can flip the current answer needs evaluating.
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.regex.is_match(&path);
            if !hit {
                for i in 1..parents.len() {
                    if p.regex.is_match(&parents[..i].join("/")) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

/// `filepath.Clean` for slash paths: no `.`, no empty parts, `..` resolved where possible.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            ".." if rooted => {}
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// A relative path as Docker compares it: `/`-separated, without `.` parts.
fn slash_path(rel: &Path) -> String {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// moby's pattern compiler: `**` (with an optional `/` after it) is any number of directories,
/// `*` and `?` never cross `/`, `[…]` classes pass through, `\` escapes.
fn translate(pattern: &str) -> String {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(ch) = chars.next() {
        if in_class {
            match ch {
                ']' => {
                    in_class = false;
                    re.push(']');
                }
                '\\' => {
                    if let Some(next) = chars.next() {
                        re.push_str(&regex::escape(&next.to_string()));
                    }
                }
                // Go's classes have no nesting or set operations; Rust's do.
                '[' | '&' | '~' => {
                    re.push('\\');
                    re.push(ch);
                }
                other => re.push(other),
            }
            continue;
        }
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    re.push_str(".*");
                } else {
                    re.push_str("(.*/)?");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => match chars.next() {
                Some(next) => re.push_str(&regex::escape(&next.to_string())),
                None => re.push_str("\\\\"),
            },
            '[' => {
                in_class = true;
                re.push('[');
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    fn di(text: &str) -> DockerIgnore {
        DockerIgnore::parse(".dockerignore", text).unwrap()
    }

    fn ex(d: &DockerIgnore, p: &str) -> bool {
        d.excludes(Path::new(p))
    }

    #[test]
    fn patterns_are_anchored_at_the_context_root() {
        let d = di("*.md\nbuild\n");
        assert!(ex(&d, "README.md"));
        assert!(!ex(&d, "docs/README.md"), "unlike gitignore, *.md is root-only");
        assert!(ex(&d, "build"));
        assert!(ex(&d, "build/out/a.o"), "a matching parent excludes everything below");
        assert!(!ex(&d, "src/build"));
    }

    #[test]
    fn double_star_spans_directories() {
        let d = di("**/*.log\nvendor/**\n");
        assert!(ex(&d, "a.log"));
        assert!(ex(&d, "x/y/z.log"));
        assert!(ex(&d, "vendor/a/b"));
        assert!(!ex(&d, "vendorx/a"));
        let all = di("**");
        assert!(ex(&all, "anything/at/all"));
    }

    #[test]
    fn star_and_question_mark_stop_at_slashes() {
        let d = di("src/*.tmp\nf?o\n");
        assert!(ex(&d, "src/a.tmp"));
        assert!(!ex(&d, "src/x/a.tmp"));
        assert!(ex(&d, "foo"));
        assert!(!ex(&d, "f/o"));
    }

    #[test]
    fn the_last_match_wins_and_exceptions_reinclude() {
        let d = di("docs\n!docs/keep.md\n*.txt\n!important.txt\n");
        assert!(ex(&d, "docs/other.md"));
        assert!(!ex(&d, "docs/keep.md"));
        assert!(ex(&d, "notes.txt"));
        assert!(!ex(&d, "important.txt"));
        assert!(d.has_exceptions());
        let d = di("!a.txt\n*.txt\n");
        assert!(ex(&d, "a.txt"), "a later exclusion overrides an earlier exception");
    }

    #[test]
    fn parsing_follows_docker() {
        let d = di("\u{feff}# comment\n\n  ./node_modules/  \n/dist\n! keep\n#not-a-pattern.txt\nx/../y\n");
        assert!(ex(&d, "node_modules/x/y.js"));
        assert!(ex(&d, "dist/app.js"));
        assert!(ex(&d, "y/z"));
        assert!(!ex(&d, "#not-a-pattern.txt"), "only whole-line comments");
        assert!(!ex(&d, "x/z"));
        assert!(!ex(&d, "keep"));
    }

    #[test]
    fn regex_characters_are_literal_and_escapes_work() {
        let d = di("a+b(1).txt\n\\*star\n[ab]c\nr[0-9]\nn[^x]\n");
        assert!(ex(&d, "a+b(1).txt"));
        assert!(!ex(&d, "aab1.txt"));
        assert!(ex(&d, "*star"));
        assert!(!ex(&d, "xstar"));
        assert!(ex(&d, "ac") && ex(&d, "bc") && !ex(&d, "cc"));
        assert!(ex(&d, "r5") && !ex(&d, "r-"), "ranges are ranges");
        assert!(ex(&d, "ny") && !ex(&d, "nx"));
    }

    #[test]
    fn an_empty_file_excludes_nothing_and_bad_patterns_are_located() {
        assert!(!ex(&di(""), "anything"));
        assert!(!ex(&di("x"), ""));
        let err = DockerIgnore::parse(".dockerignore", "ok\n[z-a]\n").unwrap_err().to_string();
        assert!(err.starts_with(".dockerignore:2: invalid pattern `[z-a]`"), "{err}");
    }

    #[test]
    fn clean_matches_go() {
        assert_eq!(clean("./a//b/"), "a/b");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("."), ".");
    }
}
