//! Logs go to stderr through `tracing`; `-v`/`-q` pick the level and `RUST_LOG` overrides.
//! User-facing progress is separate (stderr, plain lines); `--output json` owns stdout.
//!
//! Every log line passes through [`Masking`], which replaces secret values with `<redacted>`
//! (issue #11): at `-vvv` the Docker and HTTP clients log whole request bodies, and a body can
//! carry a token. The values masked are those of [`SECRET_VARS`] and every value handed to
//! [`mask`] (each `Secret` of a container's environment).

use std::io::Write;
use std::sync::RwLock;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Environment variables whose values are secrets wherever they appear.
pub const SECRET_VARS: &[&str] =
    &["LOCALSTACK_AUTH_TOKEN", "LOCALSTACK_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/// Values shorter than this are not masked: they would mask ordinary words.
const MIN_SECRET_LEN: usize = 6;

const REDACTED: &str = "<redacted>";

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Masks `value` in every log line from now on.
pub fn mask(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut s = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !s.iter().any(|v| v == value) {
        s.push(value.to_owned());
        // Longest first, so that a secret containing another is masked whole.
        s.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// `text` with every masked value replaced.
pub fn redact(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_owned();
    for v in secrets.iter() {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), REDACTED);
        }
    }
    out
}

/// Installs the subscriber once. `verbose` counts `-v`; `quiet` wins over it. A `service` (the
/// daemon, the operator) runs unattended and writes to a log file: it logs what it does (info)
/// with the time of each line.
pub fn init(verbose: u8, quiet: bool, service: bool) {
    for var in SECRET_VARS {
        if let Ok(v) = std::env::var(var) {
            mask(&v);
        }
    }
    let level = match (quiet, verbose) {
        (true, _) => "error",
        // The credential chain warns, with a whole HTTP response, for each provider that has
        // nothing (no IMDS off EC2); the error that follows says what to do.
        (false, 0) if service => "info,aws_config::meta::credentials=error",
        (false, 0) => "warn,aws_config::meta::credentials=error",
        (false, 1) => "info,nexus_dev=debug",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Masking)
        .with_target(verbose > 1)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if service { builder.try_init() } else { builder.without_time().try_init() };
}

/// Writes log events to stderr with secrets masked. One writer per event: the event is
/// collected whole, then masked (a secret split across two writes is still found).
#[derive(Debug, Clone, Copy)]
pub struct Masking;

impl<'a> MakeWriter<'a> for Masking {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter(Vec::new())
    }
}

pub struct EventWriter(Vec<u8>);

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let _ = std::io::stderr().write_all(redact(&text).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_values_never_show_and_short_ones_are_left_alone() {
        mask("tok-abc-123456");
        mask("tok-abc-123456-longer");
        mask("abc");
        let shown = redact(r#"{"Env":["LOCALSTACK_AUTH_TOKEN=tok-abc-123456-longer","X=tok-abc-123456"]} abc"#);
        assert_eq!(shown, r#"{"Env":["LOCALSTACK_AUTH_TOKEN=<redacted>","X=<redacted>"]} abc"#);
    }
}
