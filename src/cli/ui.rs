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
    if !crate::daemon::running(&paths) {
        anyhow::bail!("no daemon runs for this project, so no dashboard either\n  hint: start it with `nexus-dev up`");
    }
    let record = crate::ui::record::read(&paths.ui_record()).map_err(|e| {
        anyhow::anyhow!(
            "the daemon runs but has not recorded a dashboard ({}: {e})\n  hint: its log says why: {}",
            paths.ui_record().display(),
            paths.log.display()
        )
    })?;
    if !args.output.is_text() {
        args.output.document(&record)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", record.url);
    if !args.no_open {
        match open(&record.url) {
            Some(with) => eprintln!("opened with {with}"),
            None => eprintln!("no browser opener found (xdg-open, open): open the URL above yourself"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Hands `url` to the desktop's opener, if there is one; the command it used. Never fails:
/// a machine without a browser still has the printed URL.
fn open(url: &str) -> Option<&'static str> {
    ["xdg-open", "open"].into_iter().find(|opener| {
        std::process::Command::new(opener)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
    })
}
