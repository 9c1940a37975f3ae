//! The daemon's local API: newline-delimited JSON over a Unix socket (mode 0600). One request
//! per connection; the answer is one or more JSON lines, the last with `"done": true`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::forward::Forward;
use crate::model::spec::{Endpoint, Phase};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "camelCase")]
pub enum Request {
    /// Is the daemon up, and for which project.
    Ping,
    /// Re-read the project's specs and apply them (the daemon's controller converges them).
    Apply,
    /// Every capability of the project: phase, message, resources, endpoints.
    Status,
    /// Pod logs of a capability's workloads.
    Logs { capability: Option<String>, component: Option<String>, follow: bool },
    /// Stop the daemon.
    Shutdown,
    /// A watch session (`up` or `watch`) of `components`. The connection stays open: after the
    /// daemon's first line (`{"data":{"session":N}}`), the client writes each watch event as a
    /// JSON line and the daemon writes `{"data":{"rebuild":"NAME"}}` when the dashboard asks
    /// for a rebuild (docs/design/ui.md, "Builds").
    Watch { components: Vec<String> },
}

/// One capability of the project, as `status` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityStatus {
    /// Local URLs of its frontend and backend Services.
    pub forwards: Vec<Forward>,
    pub namespace: Option<String>,
    /// The custom resource's name.
    pub name: String,
    /// `capabilityName`.
    pub capability: String,
    pub environment: String,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    pub phase: Phase,
    pub message: Option<String>,
    /// Resources Ready, of `resources`.
    pub ready: usize,
    pub resources: usize,
    pub endpoints: Vec<Endpoint>,
}

impl CapabilityStatus {
    /// Running or Failed for its current spec: nothing more happens without a change.
    pub fn settled(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Failed) && self.observed_generation == self.generation
    }
}

/// What an answer carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Data {
    /// `status`: every capability of the project.
    Status(Vec<CapabilityStatus>),
    /// `ping`.
    Pong { project: String, pid: u32, profile: String },
    /// `apply`: the capabilities applied (`namespace/name`).
    Applied { applied: Vec<String> },
    /// `shutdown`.
    Stopping { stopping: bool },
    /// `watch`: the session is registered, under this id.
    Session { session: u64 },
    /// On a watch connection: rebuild this component.
    Rebuild { rebuild: String },
}

/// One line of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
    /// A line of text (a log line, a message for people).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub done: bool,
}

impl Reply {
    pub fn data(v: Data) -> Self {
        Self { data: Some(v), line: None, error: None, done: true }
    }

    pub fn line(l: impl Into<String>) -> Self {
        Self { data: None, line: Some(l.into()), error: None, done: false }
    }

    pub fn error(e: impl Into<String>) -> Self {
        Self { data: None, line: None, error: Some(e.into()), done: true }
    }

    pub fn done() -> Self {
        Self { data: None, line: None, error: None, done: true }
    }

    /// A line of an answer that goes on (a watch connection's).
    pub fn more(v: Data) -> Self {
        Self { data: Some(v), line: None, error: None, done: false }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no daemon answers for this project ({0})\n  hint: start it with `nexus-dev up`")]
    NotRunning(std::io::Error),
    #[error("talking to the daemon: {0}")]
    Io(#[from] std::io::Error),
    #[error("the daemon sent something unreadable: {0}")]
    Protocol(#[from] serde_json::Error),
    #[error("{0}")]
    Daemon(String),
    #[error("the daemon answered something else: {0}")]
    Unexpected(String),
}

/// Sends `req` and calls `each` with every reply line until the last; returns the last.
pub async fn call(socket: &Path, req: &Request, mut each: impl FnMut(&Reply)) -> Result<Reply, ClientError> {
    let mut stream = UnixStream::connect(socket).await.map_err(ClientError::NotRunning)?;
    let mut body = serde_json::to_vec(req)?;
    body.push(b'\n');
    stream.write_all(&body).await?;
    let mut lines = BufReader::new(stream).lines();
    while let Some(line) = lines.next_line().await? {
        let reply: Reply = serde_json::from_str(&line)?;
        if let Some(e) = &reply.error {
            return Err(ClientError::Daemon(e.clone()));
        }
        if reply.done {
            return Ok(reply);
        }
        each(&reply);
    }
    Err(ClientError::Io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the daemon closed the connection")))
}

/// `status`: every capability of the project.
pub async fn status(socket: &Path) -> Result<Vec<CapabilityStatus>, ClientError> {
    match call(socket, &Request::Status, |_| {}).await?.data {
        Some(Data::Status(caps)) => Ok(caps),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

/// `apply`: the capabilities applied.
pub async fn apply(socket: &Path) -> Result<Vec<String>, ClientError> {
    match call(socket, &Request::Apply, |_| {}).await?.data {
        Some(Data::Applied { applied }) => Ok(applied),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_wire_form() {
        let r = Request::Logs { capability: Some("nexus-ai".into()), component: None, follow: true };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"request":"logs","capability":"nexus-ai","component":null,"follow":true}"#);
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        assert_eq!(serde_json::to_string(&Request::Status).unwrap(), r#"{"request":"status"}"#);
    }

    #[test]
    fn answers_read_back_as_what_they_are() {
        let applied = Reply::data(Data::Applied { applied: vec!["ns/a".into()] });
        let text = serde_json::to_string(&applied).unwrap();
        assert_eq!(text, r#"{"data":{"applied":["ns/a"]},"done":true}"#);
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), applied);
        let rebuild = Reply::more(Data::Rebuild { rebuild: "api".into() });
        let text = serde_json::to_string(&rebuild).unwrap();
        assert_eq!(text, r#"{"data":{"rebuild":"api"},"done":false}"#);
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), rebuild);
        let watch = serde_json::to_string(&Request::Watch { components: vec!["api".into()] }).unwrap();
        assert_eq!(watch, r#"{"request":"watch","components":["api"]}"#);
        let none = Reply::data(Data::Status(Vec::new()));
        assert_eq!(serde_json::from_str::<Reply>(&serde_json::to_string(&none).unwrap()).unwrap(), none);
    }
}
