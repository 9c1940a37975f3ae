//! Diagnostics for user input: every error names the file, line, column and field path, says
//! what is wrong and what would be right (issue #2), and shows the offending line.

use std::fmt;
use std::sync::Arc;

/// One input document's text and the name it is shown under (a path, or `<stdin>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Self { name: name.into(), text: text.into() }
    }

    /// The 1-based line `line` of the text, without its newline.
    pub fn line(&self, line: usize) -> Option<&str> {
        self.text.lines().nth(line.checked_sub(1)?)
    }
}

/// A position in a source: 1-based line, 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A problem with user input, located in its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub pos: Pos,
    /// Field path, such as `spec.frontend.replicas`; empty for the document itself.
    pub path: String,
    pub message: String,
    /// What would be right, or how to fix it.
    pub hint: Option<String>,
    /// The source line the position points at, for display.
    pub excerpt: Option<String>,
}

impl Diagnostic {
    pub fn new(source: &Source, pos: Pos, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: source.name.clone(),
            pos,
            path: path.into(),
            message: message.into(),
            hint: None,
            excerpt: source.line(pos.line).map(str::to_owned),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

/// The widest excerpt shown; a longer line is cut around the column.
const EXCERPT_WIDTH: usize = 120;

/// `text` safe to print on a terminal: control characters (an ESC starts a terminal command)
/// are shown escaped, as `\u{1b}`.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() })
        .collect()
}

/// The part of `line` around 1-based column `col` that fits [`EXCERPT_WIDTH`], escaped, and
/// the caret's column in it.
fn excerpt(line: &str, col: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let at = col.saturating_sub(1).min(chars.len());
    let (start, end) = if chars.len() <= EXCERPT_WIDTH {
        (0, chars.len())
    } else {
        let start = at.saturating_sub(EXCERPT_WIDTH / 2).min(chars.len() - EXCERPT_WIDTH);
        (start, start + EXCERPT_WIDTH)
    };
    let piece = |r: &[char]| printable(&r.iter().collect::<String>());
    let head = if start > 0 { "…" } else { "" };
    let tail = if end < chars.len() { "…" } else { "" };
    let before = piece(&chars[start..at.max(start)]);
    let caret = head.chars().count() + before.chars().count();
    (format!("{head}{}{tail}", piece(&chars[start..end])), caret)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", printable(&self.file), self.pos.line, self.pos.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", printable(&self.path))?;
        }
        write!(f, "{}", printable(&self.message))?;
        if let Some(line) = &self.excerpt {
            let gutter = self.pos.line.to_string();
            let (shown, caret) = excerpt(line, self.pos.col);
            write!(f, "\n {gutter} | {shown}")?;
            let pad = " ".repeat(gutter.len());
            write!(f, "\n {pad} | {}^", " ".repeat(caret))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {}", printable(hint))?;
        }
        Ok(())
    }
}

/// Every problem found in a set of inputs; validation reports them all at once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// `Ok(())` when nothing was found.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{d}")?;
        }
        match self.0.len() {
            1 => write!(f, "1 problem found; nothing was changed"),
            n => write!(f, "{n} problems found; nothing was changed"),
        }
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self(vec![d])
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn control_bytes_are_escaped_and_long_lines_cut_around_the_column() {
        let long = format!("key: {}\u{1b}[31mred", "x".repeat(200_000));
        let src = Source::new("t.yaml", long);
        let d = Diagnostic::new(&src, Pos { line: 1, col: 200_006 }, "spec.key", "bad value `\u{1b}[31m`");
        let shown = d.to_string();
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert!(shown.contains("\\u{1b}[31m"), "{shown}");
        assert!(shown.len() < 600, "a 200 KB line is not printed whole: {} bytes", shown.len());
        let lines: Vec<&str> = shown.lines().collect();
        let caret = lines[2].chars().position(|c| c == '^').unwrap();
        let at: String = lines[1].chars().skip(caret).take(6).collect();
        assert_eq!(at, "\\u{1b}", "the caret points at the offending byte:\n{shown}");
    }
}

/// The closest candidate to `word`, if any is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1) || c.eq_ignore_ascii_case(word))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_column_path_and_points_at_the_column() {
        let src = Source::new("cap.yaml", "spec:\n  replicas: -1\n");
        let d = Diagnostic::new(&src, Pos { line: 2, col: 13 }, "spec.replicas", "must not be negative")
            .with_hint("use 0 or more");
        let text = d.to_string();
        assert!(text.starts_with("cap.yaml:2:13: spec.replicas: must not be negative"), "{text}");
        assert!(text.contains(" 2 |   replicas: -1\n   |             ^"), "{text}");
        assert!(text.ends_with("hint: use 0 or more"), "{text}");
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let c = ["replicas", "image", "port", "env", "resources", "healthCheckPath"];
        assert_eq!(did_you_mean("replica", c), Some("replicas"));
        assert_eq!(did_you_mean("imgae", c), Some("image"));
        assert_eq!(did_you_mean("healthcheckpath", c), Some("healthCheckPath"));
        assert_eq!(did_you_mean("volumes", c), None);
    }
}
