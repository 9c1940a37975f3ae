//! Logs go to stderr through `tracing`; `-v`/`-q` pick the level and `RUST_LOG` overrides.
//! User-facing progress is separate (stderr, plain lines); `--output json` owns stdout.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber once. `verbose` counts `-v`; `quiet` wins over it.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,nexus_dev=debug",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 1)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}
