//! The dashboard's logs (issue 16), served in-process: lines pushed into the server's buffers as
//! the daemon's collector pushes them, read back by REST and by the stream.

use std::time::Duration;

use futures::SinkExt;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

use super::{Dashboard, Ws, next};
use nexus_dev::ui::logs::{Logs, Source};

const BACKEND: &str = "myapp-dev/myapp-dev-backend-7c9d-x2x9z/backend";
const FRONTEND: &str = "myapp-dev/myapp-dev-frontend-5f6b-k8s2n/frontend";

/// The backend's and the frontend's pod, as the collector opens them.
fn open(logs: &Logs) {
    logs.open(Source::new(
        "myapp-dev",
        "myapp-dev-backend-7c9d-x2x9z",
        "backend",
        "myapp-dev-backend",
        "myapp-dev/myapp-dev",
    ));
    logs.open(Source::new(
        "myapp-dev",
        "myapp-dev-frontend-5f6b-k8s2n",
        "frontend",
        "myapp-dev-frontend",
        "myapp-dev/myapp-dev",
    ));
}

fn push(logs: &Logs, source: &str, texts: impl IntoIterator<Item = String>) {
    logs.push(source, texts.into_iter().map(|t| (nexus_dev::ui::feed::now_ms(), t)));
}

fn texts(chunk: &serde_json::Value) -> Vec<String> {
    chunk["lines"].as_array().unwrap().iter().map(|l| l["text"].as_str().unwrap().to_owned()).collect()
}

impl Dashboard {
    async fn logs_stream(&self, origin: Option<&str>, query: &str) -> Result<Ws, tungstenite::Error> {
        let url = format!("ws://{}/api/v1/logs/stream?token={}{query}", self.server.addr, self.server.token.as_str());
        let mut req = url.into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", HeaderValue::from_str(o).unwrap());
        }
        Ok(tokio_tungstenite::connect_async(req).await?.0)
    }
}

#[tokio::test]
async fn ui_logs_rest_needs_the_token_and_serves_chunks_after_a_checkpoint() {
    let d = Dashboard::start(16).await;
    open(&d.logs);
    for i in 1..=3 {
        push(&d.logs, BACKEND, [format!("b{i}")]);
        push(&d.logs, FRONTEND, [format!("f{i}")]);
    }
    for path in ["/api/v1/logs", "/api/v1/logs/sources", "/api/v1/logs?after=0"] {
        assert_eq!(d.get(path, None).await.status(), 401, "{path} without a token");
        assert_eq!(d.get(path, Some("0123")).await.status(), 401, "{path} with another token");
    }
    let marked = d.http.post(d.url("/api/v1/logs/marks")).json(&serde_json::json!({"label": "x"})).send().await;
    assert_eq!(marked.unwrap().status(), 401, "a mark needs the token too");
    match tokio_tungstenite::connect_async(format!("ws://{}/api/v1/logs/stream", d.server.addr)).await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401),
        other => panic!("a logs stream without a token: {:?}", other.map(|_| "connected")),
    }

    let sources = d.json("/api/v1/logs/sources").await;
    assert_eq!(sources["seq"], 6);
    let listed: Vec<(&str, &str, bool, u64)> = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap(),
                s["workload"].as_str().unwrap(),
                s["live"].as_bool().unwrap(),
                s["lines"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [(BACKEND, "myapp-dev/myapp-dev-backend", true, 3), (FRONTEND, "myapp-dev/myapp-dev-frontend", true, 3)]
    );

    // All together, in chunks of 4: the first says there is more, the second resumes after it.
    let first = d.json("/api/v1/logs?after=0&limit=4").await;
    assert_eq!(texts(&first), ["b1", "f1", "b2", "f2"]);
    assert_eq!((first["next"].as_u64(), first["more"].as_bool()), (Some(4), Some(true)));
    assert_eq!(first["sources"], serde_json::json!([BACKEND, FRONTEND]));
    assert_eq!(first["lines"][1]["source"], 1, "a line names its source by index");
    let second = d.json(&format!("/api/v1/logs?after={}&limit=4", first["next"])).await;
    assert_eq!(texts(&second), ["b3", "f3"]);
    assert_eq!((second["next"].as_u64(), second["more"].as_bool()), (Some(6), Some(false)));
    push(&d.logs, FRONTEND, ["f4".into()]);
    assert_eq!(texts(&d.json("/api/v1/logs?after=6").await), ["f4"], "only what came after the checkpoint");

    // One source, one workload, the newest lines, and a checkpoint of another daemon run.
    assert_eq!(texts(&d.json(&format!("/api/v1/logs?source={BACKEND}&after=0")).await), ["b1", "b2", "b3"]);
    assert_eq!(texts(&d.json("/api/v1/logs?source=myapp-dev/myapp-dev-frontend").await), ["f1", "f2", "f3", "f4"]);
    assert_eq!(texts(&d.json("/api/v1/logs?limit=2").await), ["f3", "f4"], "the newest");
    let other_run = d.json("/api/v1/logs?after=1000&limit=1").await;
    assert_eq!((texts(&other_run), other_run["reset"].as_bool()), (vec!["f4".to_owned()], Some(true)));
    let unknown = d.get("/api/v1/logs?source=myapp-dev/nope", Some(d.server.token.as_str())).await;
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("no log source myapp-dev/nope"));

    // "Since the last build": a mark at the newest checkpoint.
    let mark = d
        .http
        .post(d.url("/api/v1/logs/marks"))
        .bearer_auth(d.server.token.as_str())
        .json(&serde_json::json!({"label": "backend build 2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(mark.status(), 201);
    let mark: serde_json::Value = mark.json().await.unwrap();
    assert_eq!((mark["seq"].as_u64(), mark["label"].as_str()), (Some(7), Some("backend build 2")));
    push(&d.logs, BACKEND, ["new code".into()]);
    assert_eq!(texts(&d.json(&format!("/api/v1/logs?after={}", mark["seq"])).await), ["new code"]);
    assert_eq!(d.json("/api/v1/logs/sources").await["marks"][0]["label"], "backend build 2");
}

#[tokio::test]
async fn ui_logs_stream_batches_lines_and_resumes_after_a_checkpoint() {
    let d = Dashboard::start(16).await;
    open(&d.logs);
    push(&d.logs, BACKEND, ["before".into()]);
    match d.logs_stream(Some("http://evil.example"), "").await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("a foreign Origin: {:?}", other.map(|_| "connected")),
    }
    let mut ws = d.logs_stream(Some(&d.server.origin()), "").await.unwrap();
    let sources = next(&mut ws).await;
    assert_eq!((sources["type"].as_str(), sources["sources"].as_array().unwrap().len()), (Some("sources"), 2));
    let tail = next(&mut ws).await;
    assert_eq!((tail["type"].as_str(), texts(&tail)), (Some("logs"), vec!["before".to_owned()]));
    assert_eq!(tail["next"], 1);

    // 10,000 lines in bursts over half a second come as a few batched messages, in order.
    let logs = d.logs.clone();
    let pusher = tokio::spawn(async move {
        for burst in 0..50 {
            push(
                &logs,
                if burst % 2 == 0 { BACKEND } else { FRONTEND },
                (0..200).map(|i| format!("line {}", burst * 200 + i)),
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let (mut received, mut messages, mut next_seq) = (Vec::new(), 0, 1);
    while received.len() < 10_000 {
        let m = next(&mut ws).await;
        assert_eq!(m["type"], "logs");
        messages += 1;
        for l in m["lines"].as_array().unwrap() {
            assert!(l["seq"].as_u64().unwrap() > next_seq, "in checkpoint order, none twice");
            next_seq = l["seq"].as_u64().unwrap();
        }
        received.extend(texts(&m));
        assert_eq!(m["next"].as_u64(), Some(next_seq));
    }
    pusher.await.unwrap();
    assert_eq!(received, (0..10_000).map(|i| format!("line {i}")).collect::<Vec<_>>());
    println!("10,000 lines in {messages} messages");
    assert!(messages <= 40, "batched (every {:?}): {messages} messages", nexus_dev::ui::logs::api::BATCH);
    ws.close(None).await.unwrap();

    // Missed while away: a resume after the checkpoint gets just those lines, then live ones.
    push(&d.logs, FRONTEND, ["missed 1".into(), "missed 2".into()]);
    let mut back = d.logs_stream(None, &format!("&after={next_seq}&source={FRONTEND}")).await.unwrap();
    assert_eq!(next(&mut back).await["type"], "sources");
    let missed = next(&mut back).await;
    assert_eq!(texts(&missed), ["missed 1", "missed 2"]);
    push(&d.logs, BACKEND, ["not the frontend".into()]);
    push(&d.logs, FRONTEND, ["live".into()]);
    assert_eq!(texts(&next(&mut back).await), ["live"], "only the chosen source");
    back.send(tungstenite::Message::Close(None)).await.unwrap();
}
