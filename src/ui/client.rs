//! The dashboard's API as the command line reads it (`get`, `wait`, `status -o json`; issue 16:
//! "the same API backs" them, so scripts see what the page shows). It finds the project's
//! daemon through `ui.json`, reads the REST endpoints with the session token and follows the
//! stream: a snapshot, then deltas, resumed with `since` after a drop.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio_tungstenite::tungstenite;

use super::hub::{Message, Snapshot};
use super::model::Capability;
use super::record::{self, Record};
use crate::daemon::Paths;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no daemon runs for this project, so no dashboard either\n  hint: start it with `nexus-dev up`")]
    NoDaemon,
    #[error("the daemon runs but has not recorded a dashboard ({path}: {source})\n  hint: its log says why: {log}")]
    NoRecord { path: String, log: String, source: std::io::Error },
    #[error("the dashboard's record has an unusable URL {0:?}")]
    BadUrl(String),
    #[error("cannot reach the dashboard at {url}: {source}\n  hint: is the daemon still up? `nexus-dev up` starts it")]
    Request { url: String, source: reqwest::Error },
    #[error("the dashboard answered {status} for {path}: {message}")]
    Answer { path: String, status: u16, message: String },
    #[error("the dashboard's stream: {0}")]
    Stream(String),
}

/// Where a dashboard is and its token.
#[derive(Debug, Clone)]
pub struct Client {
    /// `http://127.0.0.1:PORT`.
    origin: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// The dashboard of the project whose daemon keeps its state in `paths`.
    pub fn discover(paths: &Paths) -> Result<Self, ClientError> {
        Self::from_record(&locate(paths)?)
    }

    /// The dashboard `record` names (its URL is `http://127.0.0.1:PORT/?token=…`).
    pub fn from_record(r: &Record) -> Result<Self, ClientError> {
        let url = reqwest::Url::parse(&r.url).map_err(|_| ClientError::BadUrl(r.url.clone()))?;
        let token = url.query_pairs().find(|(k, _)| k == "token").map(|(_, v)| v.into_owned());
        match (token, url.host_str(), url.port()) {
            (Some(token), Some(host), Some(port)) => Ok(Self::new(&format!("http://{host}:{port}"), &token)),
            _ => Err(ClientError::BadUrl(r.url.clone())),
        }
    }

    /// The dashboard at `origin` (`http://127.0.0.1:PORT`) with `token`.
    pub fn new(origin: &str, token: &str) -> Self {
        crate::init_tls();
        Self { origin: origin.trim_end_matches('/').to_owned(), token: token.to_owned(), http: reqwest::Client::new() }
    }

    /// `GET /api/v1/PATH` as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}/api/v1/{path}", self.origin);
        let request = |source| ClientError::Request { url: url.clone(), source };
        let res = self.http.get(&url).bearer_auth(&self.token).send().await.map_err(request)?;
        let status = res.status();
        if !status.is_success() {
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            let message = body["error"].as_str().unwrap_or("no message").to_owned();
            return Err(ClientError::Answer { path: format!("/api/v1/{path}"), status: status.as_u16(), message });
        }
        res.json().await.map_err(request)
    }

    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        self.get("snapshot").await
    }

    /// The dependency graph of `namespace/name`, as the API gives it.
    pub async fn graph(&self, key: &str) -> Result<serde_json::Value, ClientError> {
        self.get(&format!("capabilities/{key}/graph")).await
    }

    /// Follows the stream, calling `changed` with every capability after each message, until it
    /// returns something. A drop is resumed with `since` after 250 ms, doubling to 5 s (as the
    /// page does); `dropped` hears of each drop, for people.
    pub async fn follow<T>(
        &self,
        mut changed: impl FnMut(&Held) -> Option<T>,
        mut dropped: impl FnMut(&str),
    ) -> Result<T, ClientError> {
        let mut held = Held::default();
        let mut pause = Duration::from_millis(250);
        loop {
            let since = held.seq.map(|s| format!("&since={s}")).unwrap_or_default();
            let url = format!("{}/api/v1/stream?token={}{since}", self.origin.replacen("http", "ws", 1), self.token);
            let why = match tokio_tungstenite::connect_async(url).await {
                Ok((mut ws, _)) => loop {
                    match ws.next().await {
                        Some(Ok(tungstenite::Message::Text(text))) => {
                            let m: Message =
                                serde_json::from_str(&text).map_err(|e| ClientError::Stream(e.to_string()))?;
                            held.apply(m);
                            pause = Duration::from_millis(250);
                            if let Some(t) = changed(&held) {
                                return Ok(t);
                            }
                        }
                        Some(Ok(tungstenite::Message::Close(frame))) => {
                            break frame.map(|f| f.reason.to_string()).unwrap_or_else(|| "closed".into());
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break e.to_string(),
                        None => break "closed".into(),
                    }
                },
                Err(tungstenite::Error::Http(res)) if res.status().is_client_error() => {
                    return Err(ClientError::Stream(format!("refused with {}", res.status())));
                }
                Err(e) => e.to_string(),
            };
            dropped(&why);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}

/// The record of the dashboard of the project whose daemon keeps its state in `paths`: an error
/// with the way out when no daemon runs, or it runs without one.
pub fn locate(paths: &Paths) -> Result<Record, ClientError> {
    if !crate::daemon::running(paths) {
        return Err(ClientError::NoDaemon);
    }
    let path = paths.ui_record();
    record::read(&path).map_err(|source| ClientError::NoRecord {
        path: path.display().to_string(),
        log: paths.log.display().to_string(),
        source,
    })
}

/// What a follower of the stream holds: the capabilities by key at `seq`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Held {
    pub seq: Option<u64>,
    pub capabilities: BTreeMap<String, Capability>,
}

impl Held {
    /// A snapshot replaces everything; a delta replaces what it names.
    pub fn apply(&mut self, m: Message) {
        match m {
            Message::Snapshot(s) => {
                self.seq = Some(s.seq);
                self.capabilities = s.capabilities.into_iter().map(|c| (c.key.clone(), c)).collect();
            }
            Message::Delta(d) => {
                self.seq = Some(d.seq);
                for key in d.remove {
                    self.capabilities.remove(&key);
                }
                for c in d.upsert {
                    self.capabilities.insert(c.key.clone(), c);
                }
            }
        }
    }
}

/// The capability `wanted` names among `keys`: its key (`NAMESPACE/NAME`), or its name when one
/// capability has it. The error lists what there is.
pub fn find<'a>(wanted: &str, keys: impl IntoIterator<Item = &'a str>) -> Result<&'a str, String> {
    let keys: Vec<&str> = keys.into_iter().collect();
    if let Some(k) = keys.iter().find(|k| **k == wanted) {
        return Ok(k);
    }
    let by_name: Vec<&str> = keys.iter().copied().filter(|k| k.rsplit('/').next() == Some(wanted)).collect();
    match by_name.as_slice() {
        [one] => Ok(one),
        [] if keys.is_empty() => Err(format!("no capability {wanted:?}: the project has none yet")),
        [] => Err(format!("no capability {wanted:?} in this project; it has: {}", keys.join(", "))),
        many => Err(format!("{wanted:?} names several capabilities, give NAMESPACE/NAME: {}", many.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::Phase;
    use crate::ui::hub::Delta;
    use crate::ui::model::tests::named as cap;

    #[test]
    fn a_follower_holds_the_snapshot_then_applies_deltas() {
        let mut h = Held::default();
        h.apply(Message::Snapshot(Snapshot {
            seq: 3,
            capabilities: vec![cap("a", Phase::Pending), cap("b", Phase::Pending)],
        }));
        assert_eq!((h.seq, h.capabilities.len()), (Some(3), 2));
        h.apply(Message::Delta(Delta {
            seq: 4,
            upsert: vec![cap("a", Phase::Running)],
            remove: vec!["myapp-dev/b".into()],
        }));
        assert_eq!(h.seq, Some(4));
        assert_eq!(h.capabilities.keys().collect::<Vec<_>>(), ["myapp-dev/a"]);
        assert_eq!(h.capabilities["myapp-dev/a"].phase, Phase::Running);
        // The wire form reads back: what the server sends is what the client holds.
        let wire =
            serde_json::to_string(&Message::Snapshot(Snapshot { seq: 9, capabilities: vec![cap("c", Phase::Failed)] }));
        h.apply(serde_json::from_str(&wire.unwrap()).unwrap());
        assert_eq!(h.capabilities.values().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["myapp-dev/c"]);
    }

    #[test]
    fn a_capability_is_found_by_key_or_by_a_name_of_its_own() {
        let keys = ["a-dev/a-dev", "b-dev/b-dev", "x/same", "y/same"];
        assert_eq!(find("b-dev/b-dev", keys), Ok("b-dev/b-dev"));
        assert_eq!(find("a-dev", keys), Ok("a-dev/a-dev"));
        assert!(find("same", keys).unwrap_err().contains("several capabilities, give NAMESPACE/NAME: x/same, y/same"));
        assert!(find("nope", keys).unwrap_err().contains("it has: a-dev/a-dev, b-dev/b-dev"));
        assert!(find("nope", []).unwrap_err().contains("has none yet"));
    }

    #[test]
    fn the_record_gives_the_origin_and_the_token() {
        let c = Client::from_record(&Record { url: "http://127.0.0.1:4321/?token=ab12".into(), pid: 1 }).unwrap();
        assert_eq!((c.origin.as_str(), c.token.as_str()), ("http://127.0.0.1:4321", "ab12"));
        assert!(Client::from_record(&Record { url: "http://127.0.0.1:4321/".into(), pid: 1 }).is_err());
    }
}
