//! The daemon's side of a watch session (`Request::Watch`, from `watch::link`): watch mode runs
//! in the `up` or `watch` process, and this is how its builds reach the dashboard. Each event
//! line goes into the builds' history; a rebuild that starts sets a log mark ("build api"),
//! so the logs view can show what came "since the last build"; the dashboard's rebuild
//! requests go back down the same connection. The session ends with the connection.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::protocol::{Data, Reply};
use crate::ui::builds::Builds;
use crate::ui::logs::Logs;
use crate::watch::Event;

/// The longest event line (a failure's output is 25 lines).
pub const MAX_LINE: usize = 1024 * 1024;

async fn send(w: &mut (impl AsyncWrite + Unpin), r: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

/// Serves one watch session of `components` on a connection whose request line was read.
pub async fn serve(
    builds: &Builds,
    logs: &Logs,
    components: Vec<String>,
    r: impl AsyncRead + Unpin,
    mut w: impl AsyncWrite + Unpin,
) {
    let mut session = builds.connect(components);
    tracing::debug!(session = session.id, "a watch session connected");
    if send(&mut w, &Reply::more(Data::Session { session: session.id })).await.is_err() {
        return;
    }
    let mut reader = BufReader::new(r);
    let mut line = Vec::new();
    loop {
        let room = (MAX_LINE + 1).saturating_sub(line.len()) as u64;
        tokio::select! {
            // `read_until` keeps what it read in `line` if the other branch wins: nothing is
            // lost, and the next call goes on.
            n = async { (&mut reader).take(room).read_until(b'\n', &mut line).await } => {
                match n {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.len() > MAX_LINE => {
                        let _ = send(&mut w, &Reply::error(format!("an event line longer than {} KiB", MAX_LINE / 1024))).await;
                        break;
                    }
                    Ok(_) if line.ends_with(b"\n") => {
                        record(&session, logs, &line);
                        line.clear();
                    }
                    Ok(_) => {}
                }
            }
            Some(component) = session.requests.recv() => {
                if send(&mut w, &Reply::more(Data::Rebuild { rebuild: component })).await.is_err() {
                    break;
                }
            }
        }
    }
    tracing::debug!(session = session.id, "a watch session ended");
}

fn record(session: &crate::ui::builds::Session<'_>, logs: &Logs, line: &[u8]) {
    match serde_json::from_slice::<Event>(line) {
        Ok(event) => {
            if let Some(label) = session.record(&event) {
                logs.mark(label, crate::ui::feed::now_ms());
            }
        }
        // A newer nexus-dev's event: the history skips what it does not know.
        Err(e) => tracing::debug!(error = %e, "an event line the daemon does not know"),
    }
}
