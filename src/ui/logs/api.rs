//! The logs' endpoints (docs/design/ui.md, "Logs"): chunks by REST, the sources and build marks,
//! and a WebSocket that sends chunks batched, so 10,000 lines a second are a few messages. The
//! server's token check covers them; the WebSocket checks the Origin as the other stream does.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::{Chunk, Logs, Query, Sources, store::MAX_CHUNK};
use crate::ui::auth;
use crate::ui::server::error;

/// Lines a REST chunk holds when the client does not say.
pub const DEFAULT_LIMIT: usize = 1_000;
/// The stream gathers the lines of this long into one message.
pub const BATCH: Duration = Duration::from_millis(50);

#[derive(Debug)]
struct ApiState {
    logs: Arc<Logs>,
    port: u16,
}

type Shared = State<Arc<ApiState>>;

/// The routes under `/api/v1/logs`, for the server on `port` (the Origin the stream accepts).
pub fn routes(logs: Arc<Logs>, port: u16) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/logs", get(chunk))
        .route("/api/v1/logs/sources", get(sources))
        .route("/api/v1/logs/marks", post(mark))
        .route("/api/v1/logs/stream", get(stream))
        .with_state(Arc::new(ApiState { logs, port }))
}

#[derive(Debug, Deserialize)]
struct ChunkParams {
    /// A source id (`namespace/pod/container`) or a workload (`namespace/deployment`); all
    /// sources without it.
    source: Option<String>,
    /// The checkpoint the client has read up to; the newest lines without it.
    after: Option<u64>,
    limit: Option<usize>,
}

impl ChunkParams {
    fn query(self, default_limit: usize) -> Query {
        Query { selector: self.source, after: self.after, limit: self.limit.unwrap_or(default_limit) }
    }
}

async fn chunk(State(s): Shared, UrlQuery(p): UrlQuery<ChunkParams>) -> Response {
    if let Some(source) = p.source.as_deref().filter(|id| !s.logs.knows(id)) {
        return error(StatusCode::NOT_FOUND, &format!("no log source {source} (see /api/v1/logs/sources)"));
    }
    Json(s.logs.chunk(&p.query(DEFAULT_LIMIT))).into_response()
}

async fn sources(State(s): Shared) -> Response {
    Json(s.logs.sources()).into_response()
}

/// A mark's label is cut to this many characters.
const MAX_LABEL: usize = 200;

#[derive(Debug, Deserialize)]
struct MarkBody {
    label: String,
}

/// Sets a "build started" mark at the newest checkpoint (what watch and builds will call).
async fn mark(State(s): Shared, Json(body): Json<MarkBody>) -> Response {
    let label = body.label.chars().take(MAX_LABEL).collect();
    (StatusCode::CREATED, Json(s.logs.mark(label, crate::ui::feed::now_ms()))).into_response()
}

/// One message of the logs stream.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Message {
    Sources(Sources),
    Logs(Chunk),
}

async fn stream(
    State(s): Shared,
    headers: HeaderMap,
    UrlQuery(p): UrlQuery<ChunkParams>,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !auth::origin_allowed(origin, s.port) {
        return error(StatusCode::FORBIDDEN, "the stream is only for this dashboard's own page (Origin)");
    }
    let logs = s.logs.clone();
    ws.on_upgrade(move |socket| follow(socket, logs, p.query(MAX_CHUNK)))
}

async fn send(socket: &mut WebSocket, m: &Message) -> bool {
    match serde_json::to_string(m) {
        Ok(text) => socket.send(ws::Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

/// Whether the client went away (anything else it sends is ignored).
fn gone(m: Option<Result<ws::Message, axum::Error>>) -> bool {
    matches!(m, None | Some(Err(_)) | Some(Ok(ws::Message::Close(_))))
}

/// Sends the sources, then the lines after the client's checkpoint (the newest without one),
/// then new lines at most every [`BATCH`], until the client goes away. The store is the
/// history: a slow client is never dropped, it reads on from its checkpoint and is told of a
/// gap if lines went for room meanwhile.
async fn follow(mut socket: WebSocket, logs: Arc<Logs>, mut q: Query) {
    let mut changes = logs.subscribe();
    let mut listed = None;
    let mut first = true;
    loop {
        let version = *changes.borrow_and_update();
        if listed != Some(version.sources) {
            if !send(&mut socket, &Message::Sources(logs.sources())).await {
                return;
            }
            listed = Some(version.sources);
        }
        loop {
            let chunk = logs.chunk(&q);
            let more = chunk.more;
            q.after = Some(chunk.next);
            // An empty chunk only tells a new client its checkpoint.
            if (first || !chunk.lines.is_empty() || chunk.gap || chunk.reset)
                && !send(&mut socket, &Message::Logs(chunk)).await
            {
                return;
            }
            first = false;
            if !more {
                break;
            }
        }
        tokio::select! {
            c = changes.changed() => if c.is_err() { return },
            m = socket.recv() => if gone(m) { return } else { continue },
        }
        tokio::select! {
            _ = tokio::time::sleep(BATCH) => {}
            m = socket.recv() => if gone(m) { return },
        }
    }
}
