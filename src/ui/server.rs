//! The dashboard's HTTP server: the page, REST snapshots under `/api/v1/` and the WebSocket
//! stream, on 127.0.0.1 only, every request with the session token (docs/design/ui.md).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;

use super::actions::{ActionError, Actions};
use super::assets;
use super::auth::{self, Token};
use super::builds::Builds;
use super::environments::Environments;
use super::hub::{Live, Message};
use super::logs::Logs;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    #[error("cannot make a session token: {0}")]
    Token(getrandom::Error),
}

/// A running dashboard: where it listens and its token.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    pub token: Token,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The page, with the token: what `nexus-dev ui` prints.
    pub fn url(&self) -> String {
        format!("{}/?token={}", self.origin(), self.token.as_str())
    }

    /// `http://127.0.0.1:PORT`, the only Origin the stream accepts (with its `localhost` twin).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the dashboard serves beside the capabilities, each the daemon's own. A part the
/// daemon has not got answers 503 (the actions) or holds nothing (the rest).
#[derive(Debug, Clone, Default)]
pub struct Parts {
    pub logs: Arc<Logs>,
    pub builds: Arc<Builds>,
    /// Re-run a reconcile, check drift: the daemon's controller.
    pub actions: Option<Arc<Actions>>,
    /// The local profile beside the EKS profiles.
    pub environments: Arc<Environments>,
}

/// Serves `live` and `parts` on a port of 127.0.0.1 the OS chooses, with a new random token,
/// until the returned server is dropped.
pub async fn start(live: Arc<Live>, parts: Parts) -> Result<Server, ServeError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(ServeError::Listen)?;
    serve(listener, live, parts, Token::random().map_err(ServeError::Token)?)
}

/// Serves `live` and `parts` on `listener` with `token`.
pub fn serve(listener: TcpListener, live: Arc<Live>, parts: Parts, token: Token) -> Result<Server, ServeError> {
    let addr = listener.local_addr().map_err(ServeError::Listen)?;
    let Parts { logs, builds, actions, environments } = parts;
    let state = Arc::new(AppState { live, actions, token: token.clone(), port: addr.port() });
    let app = axum::Router::new()
        .route("/", get(page))
        .route("/assets/{file}", get(asset))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/capabilities/{namespace}/{name}", get(capability))
        .route("/api/v1/capabilities/{namespace}/{name}/graph", get(graph))
        .route("/api/v1/capabilities/{namespace}/{name}/drift", get(drift))
        .route("/api/v1/capabilities/{namespace}/{name}/reconcile", post(reconcile))
        .route("/api/v1/stream", get(stream))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint (see docs/design/ui.md)") })
        .with_state(state.clone())
        .merge(super::logs::api::routes(logs, addr.port()))
        .merge(super::builds::api::routes(builds, addr.port()))
        .merge(super::environments::api::routes(environments))
        .layer(middleware::from_fn_with_state(state, require_token));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the dashboard stopped serving");
        }
    });
    Ok(Server { addr, token, task })
}

#[derive(Debug)]
struct AppState {
    live: Arc<Live>,
    actions: Option<Arc<Actions>>,
    token: Token,
    port: u16,
}

type Shared = State<Arc<AppState>>;

/// An error answer: `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn require_token(State(s): Shared, req: Request, next: Next) -> Response {
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match auth::presented(req.uri().query(), authorization) {
        Some(t) if s.token.matches(t) => {
            let mut res = next.run(req).await;
            // The token is in the page's URL: it must not leave in a Referer.
            res.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        _ => error(StatusCode::UNAUTHORIZED, "a session token is needed: use the URL `nexus-dev ui` prints"),
    }
}

async fn page(State(s): Shared) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], assets::page(s.token.as_str())).into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match assets::get(&file) {
        Some((mime, body)) => ([(header::CONTENT_TYPE, mime)], body).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such asset"),
    }
}

async fn snapshot(State(s): Shared) -> Response {
    Json(s.live.snapshot()).into_response()
}

async fn capability(State(s): Shared, Path((namespace, name)): Path<(String, String)>) -> Response {
    match s.live.capability(&format!("{namespace}/{name}")) {
        Some(c) => Json(c).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no capability {namespace}/{name} in this project")),
    }
}

async fn graph(State(s): Shared, Path((namespace, name)): Path<(String, String)>) -> Response {
    match s.live.capability(&format!("{namespace}/{name}")) {
        Some(c) => Json(super::graph::layout(&c)).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no capability {namespace}/{name} in this project")),
    }
}

/// The project's capability `namespace/name` and the daemon's actions, or the error answer.
fn acting(s: &AppState, namespace: &str, name: &str) -> Result<Arc<Actions>, Box<Response>> {
    if s.live.capability(&format!("{namespace}/{name}")).is_none() {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            &format!("no capability {namespace}/{name} in this project"),
        )));
    }
    s.actions
        .clone()
        .ok_or_else(|| Box::new(error(StatusCode::SERVICE_UNAVAILABLE, "this dashboard has no controller to ask")))
}

/// Asks the controller for a pass (202: it runs when the controller takes it).
async fn reconcile(State(s): Shared, Path((namespace, name)): Path<(String, String)>) -> Response {
    let actions = match acting(&s, &namespace, &name) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    match actions.reconcile(&namespace, &name) {
        Ok(()) => {
            tracing::info!(capability = %format!("{namespace}/{name}"), "reconcile asked from the dashboard");
            let body = serde_json::json!({ "key": format!("{namespace}/{name}"), "queued": true });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Compares the planned AWS resources with what is there (a read-only dry run).
async fn drift(State(s): Shared, Path((namespace, name)): Path<(String, String)>) -> Response {
    let actions = match acting(&s, &namespace, &name) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    match actions.drift(&namespace, &name).await {
        Ok(d) => Json(d).into_response(),
        Err(e @ ActionError::NotFound(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e) => error(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct StreamQuery {
    /// The last seq the client saw.
    since: Option<u64>,
}

async fn stream(State(s): Shared, headers: HeaderMap, Query(q): Query<StreamQuery>, ws: WebSocketUpgrade) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !auth::origin_allowed(origin, s.port) {
        return error(StatusCode::FORBIDDEN, "the stream is only for this dashboard's own page (Origin)");
    }
    let live = s.live.clone();
    ws.on_upgrade(move |socket| follow(socket, live, q.since))
}

async fn send(socket: &mut WebSocket, m: &Message) -> bool {
    match serde_json::to_string(m) {
        Ok(text) => socket.send(ws::Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

/// Sends what the client missed since `since`, then every delta, until it goes away. A client
/// too slow to keep up is closed; it reconnects with `since` and resumes (or gets a snapshot).
async fn follow(mut socket: WebSocket, live: Arc<Live>, since: Option<u64>) {
    let (first, mut deltas) = live.follow(since);
    for m in &first {
        if !send(&mut socket, m).await {
            return;
        }
    }
    loop {
        tokio::select! {
            d = deltas.recv() => match d {
                Ok(d) => if !send(&mut socket, &Message::Delta((*d).clone())).await { return },
                Err(RecvError::Lagged(_)) => {
                    let reason = ws::CloseFrame { code: 4000, reason: "too far behind: reconnect with since".into() };
                    let _ = socket.send(ws::Message::Close(Some(reason))).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            m = socket.recv() => match m {
                None | Some(Err(_)) | Some(Ok(ws::Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
