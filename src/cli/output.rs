//! How every command prints its result: `text` for people (progress on stderr), `json` or
//! `yaml` for scripts (the result on stdout, nothing else there).

use clap::ValueEnum;
use serde::Serialize;

use crate::env::preflight::{Check, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// For people (`table` is the same).
    #[default]
    #[value(alias = "table")]
    Text,
    /// For scripts.
    Json,
    /// For scripts.
    Yaml,
}

impl Output {
    pub fn is_text(self) -> bool {
        self == Output::Text
    }

    /// Prints `doc` on stdout as JSON or YAML; does nothing for `text` (the caller renders it).
    pub fn document<T: Serialize + ?Sized>(self, doc: &T) -> anyhow::Result<()> {
        match self {
            Output::Text => {}
            Output::Json => println!("{}", serde_json::to_string_pretty(doc)?),
            Output::Yaml => print!("{}", serde_yaml::to_string(doc)?),
        }
        Ok(())
    }

    /// [`Output::document`] of one item alone, or of the list: what `-f` with one spec or
    /// several prints.
    pub fn documents<T: Serialize>(self, items: &[T]) -> anyhow::Result<()> {
        match items {
            [one] => self.document(one),
            many => self.document(many),
        }
    }

    /// Prints one item of a stream on stdout: a JSON line, or a YAML document.
    pub fn item<T: Serialize + ?Sized>(self, item: &T) -> anyhow::Result<()> {
        use std::io::Write;
        let text = match self {
            Output::Text => return Ok(()),
            Output::Json => format!("{}\n", serde_json::to_string(item)?),
            Output::Yaml => format!("---\n{}", serde_yaml::to_string(item)?),
        };
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

/// Checks for people, one a line with its mark, and the fix under each problem (`doctor`, `scan`).
pub fn print_checks(checks: &[Check]) {
    for c in checks {
        let mark = match c.status {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
        };
        println!("{mark} {:<24} {}", c.name, c.detail);
        if c.status != Status::Ok
            && let Some(f) = &c.fix
        {
            println!("  {:<24} fix: {f}", "");
        }
    }
}

/// A report of checks (`doctor`, `scan`): the document for scripts, or the checks and a verdict
/// (`[when ok, when not]`) for people; the exit code says whether nothing blocks.
pub fn checks_report<T: Serialize>(
    output: Output,
    report: &T,
    checks: &[Check],
    ok: bool,
    verdict: [&str; 2],
) -> anyhow::Result<std::process::ExitCode> {
    if output.is_text() {
        print_checks(checks);
        println!("{}", if ok { verdict[0] } else { verdict[1] });
    } else {
        output.document(report)?;
    }
    Ok(if ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
}

/// Rows as aligned columns, three spaces apart, as `kubectl get` prints them; the last column
/// is not padded (it holds messages). The first row is the header.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_table_aligns_its_columns_and_leaves_the_last_unpadded() {
        let rows = [
            vec!["NAME".into(), "PHASE".into(), "MESSAGE".into()],
            vec!["a-long-name".into(), "Running".into(), "".into()],
        ];
        assert_eq!(super::table(&rows), "NAME          PHASE     MESSAGE\na-long-name   Running\n");
    }
}
