//! Watch mode's link to the project's daemon, whose dashboard shows the builds (issue 16): one
//! socket connection (`Request::Watch`) that stays open. The engine's events go up as JSON
//! lines; the daemon's `rebuild` lines come back as requests into the engine. Watch mode needs
//! no daemon: without one (`watch` on its own), or with one that stops, events are dropped and
//! the link tries again every [`RETRY`]; watching is not disturbed (debug logs only).

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::Event;
use crate::daemon::protocol::{Data, Reply, Request};

/// How long the link waits before connecting again.
pub const RETRY: Duration = Duration::from_secs(2);
/// How long the daemon may take to accept the session.
const ACCEPT: Duration = Duration::from_secs(2);

/// Sends `events` to the daemon at `socket` and its rebuild requests to `requests`, until
/// `events` ends (the engine stopped); what is still queued then is sent first.
pub async fn run(
    socket: PathBuf,
    components: Vec<String>,
    mut events: UnboundedReceiver<Event>,
    requests: UnboundedSender<String>,
) {
    loop {
        match connect(&socket, &components).await {
            Ok((session, stream)) => {
                tracing::debug!(session, "watch events go to the daemon's dashboard");
                if forward(stream, &mut events, &requests).await {
                    return;
                }
                tracing::debug!("the daemon's dashboard stopped listening; trying again");
            }
            Err(e) => tracing::debug!(error = %e, "no daemon takes watch events; trying again later"),
        }
        // Events while no daemon listens are not kept: the dashboard shows what it heard.
        let retry = tokio::time::sleep(RETRY);
        tokio::pin!(retry);
        loop {
            tokio::select! {
                _ = &mut retry => break,
                e = events.recv() => if e.is_none() { return },
            }
        }
    }
}

/// Opens a watch session: its id and the connection.
async fn connect(socket: &std::path::Path, components: &[String]) -> Result<(u64, UnixStream), String> {
    let mut stream = UnixStream::connect(socket).await.map_err(|e| e.to_string())?;
    let mut line =
        serde_json::to_vec(&Request::Watch { components: components.to_vec() }).map_err(|e| e.to_string())?;
    line.push(b'\n');
    stream.write_all(&line).await.map_err(|e| e.to_string())?;
    // The daemon's first line accepts the session; the events follow only then, so none is
    // read into the daemon's request buffer and lost. It is read a byte at a time (a few dozen)
    // so that nothing after it is buffered here and lost either.
    let first = tokio::time::timeout(ACCEPT, async {
        let mut first = Vec::new();
        loop {
            match stream.read_u8().await? {
                b'\n' => return Ok::<_, std::io::Error>(first),
                b => first.push(b),
            }
        }
    })
    .await
    .map_err(|_| format!("no answer within {}s", ACCEPT.as_secs()))?
    .map_err(|e| e.to_string())?;
    let reply: Reply = serde_json::from_slice(&first).map_err(|e| e.to_string())?;
    match (reply.data, reply.error) {
        (Some(Data::Session { session }), _) => Ok((session, stream)),
        (_, Some(e)) => Err(format!("the daemon refused the session: {e}")),
        (other, _) => Err(format!("the daemon answered something else: {other:?}")),
    }
}

/// Forwards until the connection goes (false) or the events end (true).
async fn forward(
    stream: UnixStream,
    events: &mut UnboundedReceiver<Event>,
    requests: &UnboundedSender<String>,
) -> bool {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    loop {
        tokio::select! {
            e = events.recv() => {
                let Some(e) = e else {
                    let _ = w.shutdown().await;
                    return true;
                };
                let Ok(mut line) = serde_json::to_vec(&e) else { continue };
                line.push(b'\n');
                if w.write_all(&line).await.is_err() {
                    return false;
                }
            }
            // `next_line` is cancel-safe: a line half read stays in the reader.
            l = lines.next_line() => match l {
                Ok(Some(l)) => match serde_json::from_str::<Reply>(&l).map(|r| r.data) {
                    Ok(Some(Data::Rebuild { rebuild })) => {
                        tracing::debug!(component = %rebuild, "the dashboard asks for a rebuild");
                        let _ = requests.send(rebuild);
                    }
                    other => tracing::debug!(line = %l, ?other, "an unknown line from the daemon"),
                },
                Ok(None) | Err(_) => return false,
            },
        }
    }
}
