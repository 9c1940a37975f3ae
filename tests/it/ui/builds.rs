//! The builds and watch view's daemon side (issue 16): watch mode's real link
//! (`watch::link`) talks to the daemon's real session handler (`daemon::watching`) over a Unix
//! socket, with real event lines; the dashboard's API shows the builds, their log marks and
//! the sessions, and a rebuild asked for by the API comes back down the link.

use std::path::PathBuf;
use std::time::Duration;

use nexus_dev::daemon::protocol::Request;
use nexus_dev::watch::event::{Action, Event, Stage, Timings};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

use super::{Dashboard, next};

const DIGEST: &str = "sha256:4f1c2b9d0e8a7f6c5b4a3928171605f4e3d2c1b0a99887766554433221100ffe";

/// Serves watch sessions on `socket` as the daemon does: the request line, then the session.
fn daemon_socket(d: &Dashboard, socket: PathBuf) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let (builds, logs) = (d.builds.clone(), d.logs.clone());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (builds, logs) = (builds.clone(), logs.clone());
            tokio::spawn(async move {
                let (r, w) = stream.into_split();
                let mut r = tokio::io::BufReader::new(r);
                let mut line = String::new();
                r.read_line(&mut line).await.unwrap();
                let Request::Watch { components } = serde_json::from_str(&line).unwrap() else { panic!("{line}") };
                nexus_dev::daemon::watching::serve(&builds, &logs, components, r, w).await;
            });
        }
    })
}

fn changed(component: &str, action: Action, files: &[&str], reason: Option<&str>) -> Event {
    Event::Changed {
        component: component.into(),
        action,
        files: files.iter().map(PathBuf::from).collect(),
        count: files.len(),
        reason: reason.map(Into::into),
    }
}

fn deployed(component: &str, digest: &str) -> Event {
    Event::Deployed {
        component: component.into(),
        image: format!("localhost:5001/{component}@{digest}"),
        timings: Timings {
            detect: Duration::from_millis(310),
            build: Duration::from_millis(1900),
            push: Duration::from_millis(400),
            rollout: Duration::from_millis(600),
        },
        unchanged: false,
    }
}

impl Dashboard {
    async fn post(&self, path: &str) -> (u16, serde_json::Value) {
        let res = self.http.post(self.url(path)).bearer_auth(self.server.token.as_str()).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap_or_default())
    }

    /// `GET /api/v1/builds` once `done` holds of it (within 5 s).
    async fn builds_when(&self, what: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let t = std::time::Instant::now();
        loop {
            let v = self.json("/api/v1/builds").await;
            if done(&v) {
                return v;
            }
            assert!(t.elapsed() < Duration::from_secs(5), "{what} within 5 s: {v:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn ui_builds_come_from_a_watch_session_over_the_socket_and_a_rebuild_goes_back() {
    let d = Dashboard::start(16).await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("daemon.sock");
    let _daemon = daemon_socket(&d, socket.clone());

    let (status, body) = d.post("/api/v1/builds/api/rebuild").await;
    assert_eq!(status, 409, "no session yet: {body}");
    assert!(body["error"].as_str().unwrap().contains("nexus-dev up"), "{body}");
    assert_eq!(d.post("/api/v1/builds/nope/rebuild").await.0, 404);

    let (events, events_rx) = mpsc::unbounded_channel();
    let (requests_tx, mut requests) = mpsc::unbounded_channel();
    let link =
        tokio::spawn(nexus_dev::watch::link::run(socket, vec!["api".into(), "web".into()], events_rx, requests_tx));
    let send = |e: Event| events.send(e).unwrap();
    send(Event::Watching { components: vec!["api".into(), "web".into()], directories: 4 });
    send(changed("api", Action::Rebuild, &[], Some("initial build")));
    send(Event::Built {
        component: "api".into(),
        image: "localhost:5001/api:sha-4f1c2b9d0e8a".into(),
        cached_steps: 2,
        took: Duration::from_millis(1900),
    });
    send(Event::Delivered {
        component: "api".into(),
        reference: format!("localhost:5001/api@{DIGEST}"),
        layers_pushed: 1,
        layers_existing: 3,
    });
    send(deployed("api", DIGEST));
    send(changed("web", Action::Sync, &["static/app.css"], None));
    send(Event::Synced {
        component: "web".into(),
        files: 1,
        removed: 0,
        targets: vec!["myapp-dev/web-1/web".into()],
        took: Duration::from_millis(120),
        since_save: Duration::from_millis(170),
    });
    send(changed("api", Action::Rebuild, &["src/main.rs", "src/lib.rs", "Cargo.toml", "Cargo.lock"], None));
    send(Event::Failed {
        component: "api".into(),
        stage: Stage::Build,
        message: "The command '/bin/sh -c cargo build' returned a non-zero code: 101".into(),
        output: vec!["error[E0425]: cannot find value `x` in this scope".into()],
        running: Some(format!("localhost:5001/api@{DIGEST}")),
    });

    let v = d
        .builds_when("four builds, the last failed", |v| {
            v["builds"].as_array().is_some_and(|b| b.len() == 3 && b[0]["result"] == "failed")
        })
        .await;
    assert_eq!(v["type"], "snapshot");
    assert_eq!(v["keep"], 50);
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["components"],
        serde_json::json!([{"name": "api", "watched": true}, {"name": "web", "watched": true}])
    );
    let [failed, synced, first] = v["builds"].as_array().unwrap().as_slice() else { panic!("{v:#}") };
    assert_eq!(first["trigger"]["reason"], "initial build");
    assert_eq!((first["result"].as_str(), first["digest"].as_str()), (Some("deployed"), Some(DIGEST)));
    let stages: Vec<_> =
        first["stages"].as_array().unwrap().iter().map(|s| (s["name"].clone(), s["ms"].clone())).collect();
    assert_eq!(stages.len(), 4, "detect, build, push, rollout: {stages:?}");
    assert_eq!((synced["kind"].as_str(), synced["result"].as_str()), (Some("sync"), Some("synced")));
    assert_eq!(failed["trigger"]["count"], 4);
    assert_eq!(failed["error"]["stage"], "build");
    assert_eq!(failed["error"]["output"][0], "error[E0425]: cannot find value `x` in this scope");

    // Each rebuild set a log mark, for "since the last build"; a sync did not.
    let marks = d.json("/api/v1/logs/sources").await["marks"].clone();
    let labels: Vec<_> = marks.as_array().unwrap().iter().map(|m| m["label"].as_str().unwrap().to_owned()).collect();
    assert_eq!(labels, ["build api", "build api"]);

    // The page's Rebuild: it reaches the watch process's engine channel.
    let (status, body) = d.post("/api/v1/builds/api/rebuild").await;
    assert_eq!(status, 202, "{body}");
    let asked = tokio::time::timeout(Duration::from_secs(2), requests.recv()).await.expect("the request within 2 s");
    assert_eq!(asked.as_deref(), Some("api"));

    // The stream: a snapshot, then the builds that change; a resume gets only what it missed.
    let origin = d.server.origin();
    let mut ws = builds_stream(&d, Some(&origin), None).await.unwrap();
    let snapshot = next(&mut ws).await;
    assert_eq!((snapshot["type"].as_str(), snapshot["builds"].as_array().unwrap().len()), (Some("snapshot"), 3));
    let (run, seen) = (snapshot["run"].as_u64().unwrap(), snapshot["seq"].as_u64().unwrap());
    send(changed("api", Action::Rebuild, &[], Some("requested from the dashboard")));
    let delta = next(&mut ws).await;
    assert_eq!(delta["type"], "delta");
    assert_eq!(delta["builds"].as_array().unwrap().len(), 1, "only the new build: {delta:#}");
    assert_eq!(
        (delta["builds"][0]["result"].as_str(), delta["builds"][0]["stage"].as_str()),
        (Some("running"), Some("build"))
    );
    drop(ws);
    send(deployed("api", DIGEST));
    d.builds_when("the new build deployed", |v| v["builds"][0]["result"] == "deployed").await;
    let mut resumed = builds_stream(&d, Some(&origin), Some((run, seen))).await.unwrap();
    let missed = next(&mut resumed).await;
    assert_eq!(missed["type"], "delta");
    let ids: Vec<_> = missed["builds"].as_array().unwrap().iter().map(|b| b["result"].as_str().unwrap()).collect();
    assert_eq!(ids, ["deployed"], "the build that changed after the seq seen, once");
    let mut other_run = builds_stream(&d, None, Some((run + 1, seen))).await.unwrap();
    assert_eq!(next(&mut other_run).await["type"], "snapshot", "a seq of another daemon run gets a snapshot");
    match builds_stream(&d, Some("http://evil.example"), None).await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("a foreign Origin: {other:?}"),
    }

    // Watch mode stops: the session goes, and with it the Rebuild.
    drop(events);
    tokio::time::timeout(Duration::from_secs(5), link).await.expect("the link ends with the events").unwrap();
    d.builds_when("no session", |v| v["sessions"].as_array().is_some_and(|s| s.is_empty())).await;
    assert_eq!(d.post("/api/v1/builds/api/rebuild").await.0, 409);
}

/// Without a daemon, the link drops the events and ends with them, quietly.
#[tokio::test]
async fn ui_builds_watch_mode_without_a_daemon_goes_on_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (events, events_rx) = mpsc::unbounded_channel();
    let (requests_tx, _requests) = mpsc::unbounded_channel();
    let link = tokio::spawn(nexus_dev::watch::link::run(dir.path().join("none.sock"), vec![], events_rx, requests_tx));
    for _ in 0..100 {
        events.send(Event::Warning { message: "nobody listens".into() }).unwrap();
    }
    drop(events);
    tokio::time::timeout(Duration::from_secs(5), link).await.expect("the link ends with the events").unwrap();
}

/// The builds stream with `origin` (none: not a browser) and a resume point (run, seq).
async fn builds_stream(
    d: &Dashboard,
    origin: Option<&str>,
    since: Option<(u64, u64)>,
) -> Result<super::Ws, tungstenite::Error> {
    let since = since.map(|(run, seq)| format!("&run={run}&since={seq}")).unwrap_or_default();
    let url = format!("ws://{}/api/v1/builds/stream?token={}{since}", d.server.addr, d.server.token.as_str());
    let mut req = url.into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", HeaderValue::from_str(o).unwrap());
    }
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

/// The builds view in headless Chromium (tests/browser/builds.cjs): a session's builds per
/// component, a failure's output; a save shows a new build with its digest by itself; the
/// Rebuild button reaches the session; a session that ends turns the buttons off.
/// Screenshots: `builds.png`, `builds-saved.png`, `builds-stopped.png`.
#[tokio::test]
async fn ui_builds_in_headless_chromium_show_a_save_as_a_new_build_with_its_digest() {
    const NEW: &str = "sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";
    let d = Dashboard::start(16).await;
    let mut session = Some(d.builds.connect(vec!["api".into(), "web".into()]));
    let record = |s: &Option<nexus_dev::ui::builds::Session<'_>>, e: Event| {
        s.as_ref().unwrap().record(&e);
    };
    record(&session, changed("api", Action::Rebuild, &[], Some("initial build")));
    record(&session, deployed("api", DIGEST));
    record(&session, changed("web", Action::Rebuild, &[], Some("initial build")));
    record(&session, deployed("web", DIGEST));
    record(&session, changed("web", Action::Sync, &["static/app.css", "static/index.html"], None));
    record(
        &session,
        Event::Synced {
            component: "web".into(),
            files: 2,
            removed: 0,
            targets: vec!["myapp-dev/web-1/web".into()],
            took: Duration::from_millis(120),
            since_save: Duration::from_millis(170),
        },
    );
    record(&session, changed("api", Action::Rebuild, &["src/main.rs", "src/lib.rs", "Cargo.toml", "Cargo.lock"], None));
    record(
        &session,
        Event::Failed {
            component: "api".into(),
            stage: Stage::Build,
            message: "The command '/bin/sh -c cargo build --release' returned a non-zero code: 101".into(),
            output: vec![
                "Step 5/7 : RUN cargo build --release".into(),
                "error[E0425]: cannot find value `port` in this scope".into(),
                " --> src/main.rs:12:22".into(),
            ],
            running: Some(format!("localhost:5001/api@{DIGEST}")),
        },
    );
    let (mut node, mut lines, _shots) = super::browser("builds.cjs", &d.server.url());
    let mut stages = std::collections::HashMap::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        let Some(line) = line.expect("the browser answers within 60 s").unwrap() else { break };
        let stage: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let name = stage["stage"].as_str().unwrap().to_owned();
        if name == "done" {
            println!("browser: {line}");
        }
        assert_ne!(name, "failed", "{}: {stages:?}", stage["error"].as_str().unwrap_or_default());
        match name.as_str() {
            // A save.
            "builds" => {
                record(&session, changed("api", Action::Rebuild, &["src/main.rs"], None));
                record(
                    &session,
                    Event::Built {
                        component: "api".into(),
                        image: "localhost:5001/api:sha-9e8d7c6b5a4f".into(),
                        cached_steps: 4,
                        took: Duration::from_millis(1900),
                    },
                );
                record(&session, deployed("api", NEW));
            }
            "rebuild" => {
                let s = session.as_mut().unwrap();
                let asked = s.requests.try_recv().expect("the page's Rebuild reached the session");
                assert_eq!(asked, "api");
                record(&session, changed("api", Action::Rebuild, &[], Some("requested from the dashboard")));
                session = None;
            }
            _ => {}
        }
        stages.insert(name, stage);
    }
    assert!(node.wait().await.unwrap().success(), "the browser script failed: {stages:?}");
    assert_eq!(stages["done"]["errors"], serde_json::json!([]), "no error in the page's console");

    let builds = &stages["builds"];
    assert_eq!(builds["watching"], "yes");
    let results: Vec<_> = builds["api"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["failed", "deployed"], "newest first");
    assert!(builds["failure"].as_str().unwrap().contains("cannot find value `port`"), "{}", builds["failure"]);
    assert_eq!(builds["api"][1]["digest"], format!("localhost:5001/api@{DIGEST}"), "the full reference on hover");
    let web: Vec<_> = builds["web"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert_eq!(web, ["synced", "deployed"]);

    let saved = &stages["save"];
    assert_eq!(
        saved["api"][0]["digest"],
        format!("localhost:5001/api@{NEW}"),
        "a save shows a new build with its digest"
    );
    let cells = saved["api"][0]["cells"].as_array().unwrap();
    assert!(cells.iter().any(|c| c.as_str().unwrap().contains(&NEW[..19])), "the short digest shows: {cells:?}");
    assert!(cells.iter().any(|c| c.as_str().unwrap().contains("src/main.rs")), "the trigger shows: {cells:?}");
    println!("a save showed on the page in {} ms", saved["ms"]);
    assert!(stages["rebuild"]["note"].as_str().unwrap().starts_with("asked"), "{}", stages["rebuild"]);
    assert!(stages["stopped"]["state"].as_str().unwrap().contains("not running"));
    assert_eq!(stages["stopped"]["stopped"], "stopped", "the build under way when the session went");
}
