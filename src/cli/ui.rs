//! `ui`: where the project's dashboard is (issue 16). The daemon serves it; this prints its URL,
//! token included, and opens a browser unless told not to.

use std::process::ExitCode;

use clap::Args;

use super::output::Output;

#[derive(Debug, Args)]
#[command(after_help = "The dashboard runs inside the project's daemon (`nexus-dev up` starts it), on \
                        127.0.0.1 only. The URL carries a session token: anyone with the URL sees \
                        the project, so do not share it. Its API is in docs/design/ui.md.")]
pub struct UiArgs {
    /// Print the URL without opening a browser.
    #[arg(long)]
    pub no_open: bool,
    /// `json` prints `{"url": …, "pid": …}` for scripts (and opens nothing).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub async fn run(args: UiArgs) -> anyhow::Result<ExitCode> {
    let paths = super::env::session(None, None)?.paths();
    let record = crate::ui::client::locate(&paths)?;
    if !args.output.is_text() {
        args.output.document(&record)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", record.url);
    if !args.no_open {
        let graphical =
            ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        match opener(cfg!(target_os = "macos"), graphical) {
            Some(cmd) if spawn(cmd, &record.url) => eprintln!("asked {cmd} to open it in your browser"),
            Some(cmd) => eprintln!("{cmd} is not available: open the URL above yourself"),
            None => eprintln!("no graphical session (DISPLAY and WAYLAND_DISPLAY unset): open the URL above yourself"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The command that opens a URL in the desktop's browser: `open` on macOS; `xdg-open` elsewhere,
/// when there is a display to open it on (on Linux, `open` is `openvt`).
fn opener(macos: bool, graphical: bool) -> Option<&'static str> {
    match (macos, graphical) {
        (true, _) => Some("open"),
        (false, true) => Some("xdg-open"),
        (false, false) => None,
    }
}

/// Starts `cmd URL` without waiting (xdg-open may run the browser in the foreground). Never
/// fails the command: the URL is printed already.
fn spawn(cmd: &str, url: &str) -> bool {
    std::process::Command::new(cmd)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_is_opened_with_open_on_macos_and_xdg_open_only_with_a_display() {
        assert_eq!(opener(true, false), Some("open"));
        assert_eq!(opener(false, true), Some("xdg-open"));
        assert_eq!(opener(false, false), None, "a server or a container: print only");
    }
}
