//! The dashboard's logs (issue 16), served in-process: lines pushed into the server's buffers as
//! the daemon's collector pushes them, read back by REST, by the stream, and in headless
//! Chromium.

use std::collections::HashMap;
use std::time::Duration;

use futures::SinkExt;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

use super::{Dashboard, Ws, browser, next};
use crate::support::dashboard::{BACKEND, FRONTEND, Flood, fill, flood, open, push, rss};
use nexus_dev::ui::logs::{Logs, Source};

const KWOK: &str = "myapp-dev/myapp-dev-worker-6d5c-kw0k1/worker";

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

/// The daemon's memory with its log buffers full: 16 sources past the cap of 10,000 lines of
/// 200 bytes. The counted bytes stay within the cap; the process's resident memory is printed.
#[test]
fn ui_logs_full_buffers_stay_within_their_cap() {
    use nexus_dev::ui::logs::ring::{MAX_BYTES, MAX_LINES};
    let before = rss();
    let logs = Logs::default();
    fill(&logs, 16);
    let grown = rss().saturating_sub(before);
    let sources = logs.sources().sources;
    let counted: usize = sources.iter().map(|s| s.bytes).sum();
    for s in &sources {
        assert_eq!(s.lines, MAX_LINES, "{}", s.source.id);
        assert!(s.bytes <= MAX_BYTES, "{}: {} bytes", s.source.id, s.bytes);
    }
    println!(
        "16 full log buffers: {} lines, {:.1} MiB counted, resident memory grew {:.1} MiB (the cap for 16 sources is {} MiB)",
        sources.iter().map(|s| s.lines).sum::<usize>(),
        counted as f64 / (1 << 20) as f64,
        grown as f64 / (1 << 20) as f64,
        (16 * MAX_BYTES) >> 20,
    );
}

/// The page's Logs view in headless Chromium (tests/browser/logs.cjs): lines pushed here show
/// within 1 s; a text filter, a regex, a source and "since the last build" narrow them; and
/// 10,000 lines a second for 3 s leave the page responsive (frame times and CPU are printed,
/// not asserted); a source that cannot be read says why. Screenshots: logs.png,
/// logs-filtered.png, logs-problems.png, logs-flood.png.
#[tokio::test]
async fn ui_logs_in_headless_chromium_show_live_filter_and_keep_up_with_10k_lines_a_second() {
    let d = Dashboard::start(16).await;
    let (mut node, mut lines, shots) = browser("logs.cjs", &format!("{}#/logs", d.server.url()));
    let node_pid = node.id().unwrap();
    let mut stages: HashMap<String, serde_json::Value> = HashMap::new();
    let mut flooding: Option<tokio::task::JoinHandle<Flood>> = None;
    loop {
        let line = tokio::time::timeout(Duration::from_secs(90), lines.next_line()).await;
        let Some(line) = line.expect("the browser answers within 90 s").unwrap() else { break };
        eprintln!("browser: {}", &line[..line.len().min(2000)]);
        let stage: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let name = stage["stage"].as_str().unwrap().to_owned();
        assert_ne!(name, "failed", "{}", stage["error"].as_str().unwrap_or_default());
        match name.as_str() {
            // The page waits for these lines now.
            "ready" => {
                open(&d.logs);
                for i in 0..100 {
                    push(&d.logs, BACKEND, [format!("GET /api/items/{i} 200 in {}ms", i % 7)]);
                    let level = if i % 10 == 0 { "ERROR" } else { "INFO" };
                    push(&d.logs, FRONTEND, [format!("{level} rendered page {i}")]);
                }
                push(&d.logs, BACKEND, ["first marker: the page shows this".into()]);
            }
            "mark" => {
                d.logs.mark("backend build 7".into(), nexus_dev::ui::feed::now_ms());
                push(&d.logs, BACKEND, (1..=5).map(|i| format!("after the build {i}")));
                d.logs.open(Source::new(
                    "myapp-dev",
                    "myapp-dev-worker-6d5c-kw0k1",
                    "worker",
                    "myapp-dev-worker",
                    "myapp-dev/myapp-dev",
                ));
                d.logs.note(
                    KWOK,
                    Some("runs on kwok-node-0, a simulated node with no container runtime: it has no logs".into()),
                );
            }
            "flood" => flooding = Some(tokio::spawn(flood(d.logs.clone(), node_pid, 3))),
            _ => {}
        }
        stages.insert(name, stage);
    }
    assert!(node.wait().await.unwrap().success(), "the browser script failed: {stages:?}");
    let flood = flooding.expect("the script asked for the flood").await.unwrap();
    assert_eq!(stages["done"]["errors"], serde_json::json!([]), "no error in the page's console");

    let visible = &stages["visible"];
    assert!(visible["ms"].as_u64().unwrap() < 1_000, "lines show within 1 s: {visible}");
    assert_eq!(visible["total"], 201);
    assert!(visible["rows"].as_u64().unwrap() < 100, "only the visible rows are in the DOM: {visible}");
    let filter = &stages["filter"];
    assert_eq!(filter["text"]["shown"], 10, "ERROR: {filter}");
    assert!(
        filter["text"]["rows"].as_array().unwrap().iter().all(|r| r.as_str().unwrap().contains("ERROR")),
        "{filter}"
    );
    assert_eq!(filter["text"]["marks"], serde_json::json!(["ERROR"]), "the matches are marked: {filter}");
    assert_eq!(filter["regex"]["shown"], 11, "items/[0-9]$ and the marker do not match, …/1[0-9] … do: {filter}");
    assert_eq!(filter["source"]["shown"], 101, "the backend's lines only: {filter}");

    let since = &stages["since-build"];
    assert_eq!(since["shown"], 5, "since the last build: {since}");
    assert!(since["rows"][0].as_str().unwrap().starts_with("after the build"), "{since}");
    assert!(since["label"].as_str().unwrap().contains("backend build 7"), "{since}");
    let problems = since["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{since}");
    assert!(problems[0].as_str().unwrap().starts_with(&format!("{KWOK}: runs on kwok-node-0")), "{since}");

    let f = &stages["flood-done"];
    println!(
        "logs flood: {} lines pushed in {:.1} s; page: {} frames, frame time p95 {} ms, max {} ms, long tasks (50 ms or more) {}; {} lines held, {} rows in the DOM; an input answered in {} ms; renderer main thread busy {:.0}% (CDP TaskDuration; scripts {:.0}%, layout and style {:.0}%); chromium processes {:.0}% of a core; daemon (this process) {:.0}% of a core",
        flood.lines,
        flood.seconds,
        f["frames"],
        f["p95"],
        f["max"],
        f["longTasks"],
        f["total"],
        f["rows"],
        f["inputMs"],
        f["busy"].as_f64().unwrap_or(0.0) * 100.0,
        f["script"].as_f64().unwrap_or(0.0) * 100.0,
        f["layout"].as_f64().unwrap_or(0.0) * 100.0,
        flood.chromium_cpu * 100.0,
        flood.daemon_cpu * 100.0,
    );
    assert!(f["frames"].as_u64().unwrap() > 0, "the page drew frames during the flood: {f}");
    assert_eq!(f["lastSeen"], true, "the last line pushed reached the page: {f}");
    assert!(f["rows"].as_u64().unwrap() < 100, "still only the visible rows: {f}");
    for shot in ["logs.png", "logs-filtered.png", "logs-problems.png", "logs-flood.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1_000, "{shot}");
    }
}
