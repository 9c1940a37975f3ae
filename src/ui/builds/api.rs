//! The builds' endpoints (docs/design/ui.md, "Builds"): the history by REST, a WebSocket that
//! starts with a snapshot (or what a reconnecting client missed) and sends the builds that
//! change, and the Rebuild action. The server's token check covers them; the WebSocket checks
//! the Origin as the other streams do.

use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::{Builds, RebuildError, View};
use crate::ui::auth;
use crate::ui::server::error;

#[derive(Debug)]
struct ApiState {
    builds: Arc<Builds>,
    port: u16,
}

type Shared = State<Arc<ApiState>>;

/// The routes under `/api/v1/builds`, for the server on `port` (the Origin the stream accepts).
pub fn routes(builds: Arc<Builds>, port: u16) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/builds", get(snapshot))
        .route("/api/v1/builds/stream", get(stream))
        .route("/api/v1/builds/{component}/rebuild", post(rebuild))
        .with_state(Arc::new(ApiState { builds, port }))
}

/// A snapshot (every build kept) or a delta (the builds changed after the client's seq); both
/// carry the run, the components and the sessions whole.
#[derive(Debug, Serialize)]
struct Message {
    #[serde(rename = "type")]
    kind: &'static str,
    run: u64,
    #[serde(flatten)]
    view: View,
}

impl Message {
    fn of(builds: &Builds, after: Option<u64>) -> Self {
        Self { kind: if after.is_some() { "delta" } else { "snapshot" }, run: builds.run(), view: builds.view(after) }
    }
}

async fn snapshot(State(s): Shared) -> Response {
    Json(Message::of(&s.builds, None)).into_response()
}

async fn rebuild(State(s): Shared, Path(component): Path<String>) -> Response {
    match s.builds.rebuild(&component) {
        Ok(session) => (StatusCode::ACCEPTED, Json(serde_json::json!({ "component": component, "session": session })))
            .into_response(),
        Err(e @ RebuildError::Unknown(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e @ RebuildError::NotWatched(_)) => error(StatusCode::CONFLICT, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct StreamParams {
    /// The run and the last seq the client saw; a snapshot without them (or for another run).
    run: Option<u64>,
    since: Option<u64>,
}

async fn stream(State(s): Shared, headers: HeaderMap, Query(p): Query<StreamParams>, ws: WebSocketUpgrade) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !auth::origin_allowed(origin, s.port) {
        return error(StatusCode::FORBIDDEN, "the stream is only for this dashboard's own page (Origin)");
    }
    let builds = s.builds.clone();
    // A seq of this run, not beyond the current one: the client resumes.
    let since = p.since.filter(|_| p.run == Some(builds.run()));
    ws.on_upgrade(move |socket| follow(socket, builds, since))
}

/// Sends a snapshot, or what changed after `since`; then, on every change, the builds changed
/// since the last message. The history is the record: a slow client is never dropped.
async fn follow(mut socket: WebSocket, builds: Arc<Builds>, since: Option<u64>) {
    let mut changes = builds.subscribe();
    let mut after = since.filter(|s| *s <= *changes.borrow_and_update());
    loop {
        let m = Message::of(&builds, after);
        after = Some(m.view.seq);
        let Ok(text) = serde_json::to_string(&m) else { return };
        if socket.send(ws::Message::Text(text.into())).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                c = changes.changed() => if c.is_err() { return } else { break },
                m = socket.recv() => match m {
                    None | Some(Err(_)) | Some(Ok(ws::Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                },
            }
        }
        changes.borrow_and_update();
    }
}
