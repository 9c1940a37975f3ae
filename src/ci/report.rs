//! What `nexus-dev ci` reports: a JUnit XML file (each setup phase and each step a test case,
//! so a setup failure shows in CI's test view, with the command's own JUnit merged in), and a
//! Markdown table for GitHub's step summary.

use std::fmt::Write as _;

use serde::Serialize;

/// One test case: a phase, a step of `up`, a capability's condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    /// Stable from run to run (CI's test views follow a case by its name).
    pub name: String,
    /// What it did this time, such as `nexus-dev: created`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub ms: u128,
    /// `None` when it passed; what went wrong otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

impl Case {
    pub fn passed(name: impl Into<String>, ms: u128) -> Self {
        Self { name: name.into(), detail: None, ms, failure: None, skipped: false }
    }

    pub fn failed(name: impl Into<String>, ms: u128, why: impl Into<String>) -> Self {
        Self { name: name.into(), detail: None, ms, failure: Some(why.into()), skipped: false }
    }

    pub fn skipped(name: impl Into<String>) -> Self {
        Self { name: name.into(), detail: None, ms: 0, failure: None, skipped: true }
    }

    pub fn with(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The name, and what it did.
    pub fn shown(&self) -> String {
        match &self.detail {
            Some(d) => format!("{}: {d}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A named group of cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn secs(ms: u128) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The JUnit document: `suites`, then the `<testsuite>` elements of `merged` (the command's own
/// JUnit file, as written) as they are.
pub fn junit(suites: &[Suite], merged: Option<&str>) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"nexus-dev ci\">\n");
    for s in suites {
        let failures = s.cases.iter().filter(|c| c.failure.is_some()).count();
        let skipped = s.cases.iter().filter(|c| c.skipped).count();
        let total: u128 = s.cases.iter().map(|c| c.ms).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
            escape(&s.name),
            s.cases.len(),
            secs(total)
        );
        for c in &s.cases {
            let _ = write!(
                x,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                escape(&s.name),
                escape(&c.name),
                secs(c.ms)
            );
            let out = c.detail.as_deref().map(|d| format!("\n      <system-out>{}</system-out>", escape(d)));
            match (&c.failure, c.skipped, out) {
                (Some(why), _, out) => {
                    let first = why.lines().next().unwrap_or_default();
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\">{}</failure>{}\n    </testcase>",
                        escape(first),
                        escape(why),
                        out.unwrap_or_default()
                    );
                }
                (None, true, _) => x.push_str(">\n      <skipped/>\n    </testcase>\n"),
                (None, false, Some(out)) => {
                    let _ = writeln!(x, ">{out}\n    </testcase>");
                }
                (None, false, None) => x.push_str("/>\n"),
            }
        }
        x.push_str("  </testsuite>\n");
    }
    if let Some(doc) = merged {
        for suite in testsuites(doc) {
            x.push_str("  ");
            x.push_str(suite.trim());
            x.push('\n');
        }
    }
    x.push_str("</testsuites>\n");
    x
}

/// The `<testsuite>…</testsuite>` elements of a JUnit document, whether its root is
/// `<testsuites>` or a single `<testsuite>`. Nested suites stay inside their parent.
fn testsuites(doc: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = doc;
    while let Some(start) = find_open(rest, "testsuite") {
        let from = &rest[start..];
        // A self-closing suite has no cases.
        let head_end = from.find('>').map(|i| i + 1).unwrap_or(from.len());
        if from[..head_end].ends_with("/>") {
            found.push(&from[..head_end]);
            rest = &from[head_end..];
            continue;
        }
        // The matching close: count nested <testsuite> elements.
        let mut depth = 0usize;
        let mut at = 0usize;
        let mut end = None;
        while at < from.len() {
            let next_open = find_open(&from[at + 1..], "testsuite").map(|i| i + at + 1);
            let next_close = from[at..].find("</testsuite>").map(|i| i + at);
            match (next_open, next_close) {
                (Some(o), Some(c)) if o < c => {
                    depth += 1;
                    at = o;
                }
                (_, Some(c)) if depth > 0 => {
                    depth -= 1;
                    at = c + 1;
                }
                (_, Some(c)) => {
                    end = Some(c + "</testsuite>".len());
                    break;
                }
                (_, None) => break,
            }
        }
        let Some(end) = end else { break };
        found.push(&from[..end]);
        rest = &from[end..];
    }
    found
}

/// Where `<tag` opens an element named exactly `tag` (not `<testsuites`).
fn find_open(s: &str, tag: &str) -> Option<usize> {
    let needle = format!("<{tag}");
    let mut from = 0;
    while let Some(i) = s[from..].find(&needle) {
        let at = from + i;
        let after = s[at + needle.len()..].chars().next();
        if matches!(after, Some(c) if c.is_whitespace() || c == '>' || c == '/') {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

/// A Markdown table of the phases and their times, for `GITHUB_STEP_SUMMARY`.
pub fn step_summary(title: &str, phases: &[Case]) -> String {
    let mut md = format!("### {title}\n\n| phase | result | time |\n|---|---|---:|\n");
    for p in phases {
        let result = match (&p.failure, p.skipped) {
            (Some(why), _) => format!("❌ {}", why.lines().next().unwrap_or_default().replace('|', "\\|")),
            (None, true) => "skipped".to_owned(),
            (None, false) => "✅".to_owned(),
        };
        let _ = writeln!(md, "| {} | {result} | {} s |", p.name, secs(p.ms));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_failures_and_skips_are_junit_with_escaping() {
        let suites = [Suite {
            name: "setup".into(),
            cases: vec![
                Case::passed("kind cluster", 1234).with("nexus-dev: created"),
                Case::failed("ready", 20_000, "pod/a-dev/x: ImagePullBackOff: <nope> & \"gone\""),
                Case::skipped("test"),
            ],
        }];
        let x = junit(&suites, None);
        assert!(
            x.contains(r#"<testsuite name="setup" tests="3" failures="1" errors="0" skipped="1" time="21.234">"#),
            "{x}"
        );
        assert!(
            x.contains(
                r#"<testcase classname="setup" name="kind cluster" time="1.234">
      <system-out>nexus-dev: created</system-out>"#
            ),
            "{x}"
        );
        assert!(x.contains("&lt;nope&gt; &amp; &quot;gone&quot;"), "{x}");
        assert!(x.contains("<skipped/>"));
    }

    #[test]
    fn the_commands_suites_are_merged_whatever_its_root() {
        let pytest = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="2"><testcase name="a"/><testcase name="b"><failure message="x">y</failure></testcase></testsuite></testsuites>"#;
        let x = junit(&[], Some(pytest));
        assert!(x.contains(r#"<testsuite name="pytest" tests="2"><testcase name="a"/>"#), "{x}");
        assert_eq!(x.matches("<testsuites").count(), 1, "one root: {x}");
        let single = r#"<testsuite name="go"><testsuite name="inner"><testcase name="c"/></testsuite></testsuite><testsuite name="empty"/>"#;
        let found = testsuites(single);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].ends_with("</testsuite></testsuite>"));
        assert_eq!(found[1], r#"<testsuite name="empty"/>"#);
        assert!(testsuites("not xml at all").is_empty());
    }

    #[test]
    fn the_step_summary_is_a_table_of_phases() {
        let md =
            step_summary("nexus-dev ci", &[Case::passed("up", 15_250), Case::failed("test", 3000, "exit 1 | bad")]);
        assert!(md.contains("| up | ✅ | 15.250 s |"), "{md}");
        assert!(md.contains("| test | ❌ exit 1 \\| bad | 3.000 s |"), "{md}");
    }
}
