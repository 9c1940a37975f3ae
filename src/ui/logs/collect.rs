//! The daemon's log collector: follows every container of the project's pods (those of the
//! Deployments nexus-dev manages whose owner is one of the project's capabilities, as the
//! dashboard's feed finds them) into the store, starting and ending followers as pods come and go.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncBufReadExt, FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::LogParams;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};

use super::{Logs, Source};
use crate::model::ownership::{MANAGED_BY, MANAGED_BY_KEY};
use crate::ui::detail::{owner, workload};
use crate::ui::feed::now_ms;
use crate::ui::hub::Live;

/// Lines of a container's past read when it is first followed.
pub const TAIL: i64 = 1_000;
/// How often the pods are compared with the project's capabilities, besides on every pod change.
const RESYNC: Duration = Duration::from_secs(2);
/// A follower whose stream failed or ended (a restart, a dropped connection) retries after
/// this, doubling up to [`RETRY_MAX`].
const RETRY: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// Lines read at once are appended under one lock.
const BATCH_LINES: usize = 512;

/// The sources to follow: each started container of each pod whose owner is in `owners`.
pub fn wanted(pods: &[Arc<Pod>], owners: &BTreeSet<String>) -> BTreeMap<String, Source> {
    let mut out = BTreeMap::new();
    for pod in pods {
        let Some(owner) = owner(pod).filter(|o| owners.contains(*o)) else { continue };
        let (namespace, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
        let workload = workload(pod);
        let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
        // A container that never started has no logs to read yet.
        let started = statuses.iter().filter(|c| {
            let ran = |s: &Option<k8s_openapi::api::core::v1::ContainerState>| {
                s.as_ref().is_some_and(|s| s.running.is_some() || s.terminated.is_some())
            };
            ran(&c.state) || ran(&c.last_state)
        });
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
        for c in started {
            let s = Source::new(&namespace, &name, &c.name, &workload, owner).on(node);
            out.insert(s.id.clone(), s);
        }
    }
    out
}

/// A line as the API server sends it with `timestamps=true`: its time, and its text (lossy
/// UTF-8, without the line end).
pub fn parse(raw: &[u8]) -> (Option<Timestamp>, String) {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let text = String::from_utf8_lossy(raw);
    match text.split_once(' ').and_then(|(ts, rest)| Some((ts.parse::<Timestamp>().ok()?, rest))) {
        Some((ts, rest)) => (Some(ts), rest.to_owned()),
        None => (None, text.into_owned()),
    }
}

/// Why a source's logs cannot be read, as the page shows it. A kwok node simulates pods without
/// a container runtime: said plainly, as `nexus-dev logs` does.
pub fn unreadable(node: &str, error: &kube::Error) -> String {
    if node.starts_with("kwok") {
        format!("runs on {node}, a simulated node with no container runtime: it has no logs")
    } else {
        format!("cannot read its logs (retrying): {error}")
    }
}

/// Follows the project's pods into `logs` (the project's capabilities are those `live` holds).
/// Runs until dropped; its followers stop with it.
pub async fn run(client: Client, live: Arc<Live>, logs: Arc<Logs>) {
    let (pods, writer) = reflector::store::<Pod>();
    let selector = format!("{MANAGED_BY_KEY}={MANAGED_BY}");
    let events =
        reflector(writer, watcher(Api::<Pod>::all(client.clone()), watcher::Config::default().labels(&selector)))
            .default_backoff()
            .map(|r| {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "the log collector's pod watch failed; retrying");
                }
            });
    let mut events = events.boxed();
    let mut followers = Followers { client, logs, running: HashMap::new() };
    let mut tick = tokio::time::interval(RESYNC);
    loop {
        tokio::select! {
            e = events.next() => if e.is_none() { return },
            _ = tick.tick() => {}
        }
        // A burst (a rollout) is looked at once.
        while let Some(Some(())) = events.next().now_or_never() {}
        if pods.wait_until_ready().now_or_never().is_none_or(|r| r.is_err()) {
            continue;
        }
        followers.converge(wanted(&pods.state(), &live.keys()));
    }
}

/// One follower task per source; aborted with the collector.
struct Followers {
    client: Client,
    logs: Arc<Logs>,
    running: HashMap<String, tokio::task::JoinHandle<()>>,
}

impl Followers {
    fn converge(&mut self, wanted: BTreeMap<String, Source>) {
        self.running.retain(|id, task| {
            let keep = wanted.contains_key(id);
            if !keep {
                task.abort();
                self.logs.end(id);
            }
            keep
        });
        for (id, source) in wanted {
            if self.running.contains_key(&id) {
                continue;
            }
            self.logs.open(source.clone());
            let pods = Api::<Pod>::namespaced(self.client.clone(), &source.namespace);
            self.running.insert(id, tokio::spawn(follow(pods, source, self.logs.clone())));
        }
    }
}

impl Drop for Followers {
    fn drop(&mut self) {
        for task in self.running.values() {
            task.abort();
        }
    }
}

/// Follows one container until aborted: its last [`TAIL`] lines first, then, after a restart
/// or a dropped connection, from the time of the last line read (lines at or before it are
/// skipped, so none is kept twice).
async fn follow(pods: Api<Pod>, source: Source, logs: Arc<Logs>) {
    let mut last: Option<Timestamp> = None;
    let mut retry = RETRY;
    loop {
        let params = LogParams {
            container: Some(source.container.clone()),
            follow: true,
            timestamps: true,
            tail_lines: last.is_none().then_some(TAIL),
            since_time: last,
            ..Default::default()
        };
        match pods.log_stream(&source.pod, &params).await {
            Ok(reader) => {
                logs.note(&source.id, None);
                let lines = futures::stream::unfold(Box::pin(reader), |mut r| async move {
                    let mut buf = Vec::new();
                    match r.read_until(b'\n', &mut buf).await {
                        Ok(0) | Err(_) => None,
                        Ok(_) => Some((buf, r)),
                    }
                });
                let mut batches = Box::pin(lines.ready_chunks(BATCH_LINES));
                while let Some(batch) = batches.next().await {
                    retry = RETRY;
                    let now = now_ms();
                    let mut fresh = Vec::with_capacity(batch.len());
                    for (ts, text) in batch.iter().map(|raw| parse(raw)) {
                        if last.is_some_and(|l| ts.is_some_and(|t| t <= l)) {
                            continue;
                        }
                        last = ts.or(last);
                        fresh.push((ts.map_or(now, |t| t.as_millisecond().max(0) as u64), text));
                    }
                    logs.push(&source.id, fresh);
                }
            }
            Err(e) => {
                // A pod on a kwok node always ends here: it has no container runtime.
                tracing::debug!(source = %source.id, error = %e, "cannot read a container's logs; retrying");
                logs.note(&source.id, Some(unreadable(&source.node, &e)));
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::kube::objects::OWNER_ANNOTATION;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    /// A pod of `owner`'s Deployment `app-dev-backend`, with containers `(name, started)`.
    fn pod(name: &str, owner: &str, containers: &[(&str, bool)]) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("app-dev".into());
        p.metadata.annotations = Some([(OWNER_ANNOTATION.to_owned(), owner.to_owned())].into());
        p.metadata.labels = Some([("pod-template-hash".to_owned(), "5d8f".to_owned())].into());
        p.spec =
            Some(k8s_openapi::api::core::v1::PodSpec { node_name: Some("kwok-node-0".into()), ..Default::default() });
        p.metadata.owner_references = Some(vec![OwnerReference {
            kind: "ReplicaSet".into(),
            name: "app-dev-backend-5d8f".into(),
            ..Default::default()
        }]);
        let status = |(c, started): &(&str, bool)| ContainerStatus {
            name: (*c).into(),
            state: Some(if *started {
                ContainerState { running: Some(ContainerStateRunning::default()), ..Default::default() }
            } else {
                ContainerState { waiting: Some(ContainerStateWaiting::default()), ..Default::default() }
            }),
            ..Default::default()
        };
        p.status =
            Some(PodStatus { container_statuses: Some(containers.iter().map(status).collect()), ..Default::default() });
        Arc::new(p)
    }

    #[test]
    fn the_started_containers_of_the_projects_pods_are_followed() {
        let owners: BTreeSet<String> = ["app-dev/app-dev".to_owned()].into();
        let pods = [
            pod("backend-1", "app-dev/app-dev", &[("backend", true), ("sidecar", false)]),
            pod("other-1", "other/other", &[("backend", true)]),
        ];
        let w = wanted(&pods, &owners);
        assert_eq!(w.keys().collect::<Vec<_>>(), ["app-dev/backend-1/backend"], "not another project's, not unstarted");
        let s = &w["app-dev/backend-1/backend"];
        assert_eq!((s.workload.as_str(), s.capability.as_str()), ("app-dev/app-dev-backend", "app-dev/app-dev"));
        assert_eq!(s.node, "kwok-node-0");
        let refused = kube::Error::Service("connection refused".into());
        assert_eq!(
            unreadable(&s.node, &refused),
            "runs on kwok-node-0, a simulated node with no container runtime: it has no logs"
        );
        assert_eq!(
            unreadable("kind-worker", &refused),
            "cannot read its logs (retrying): ServiceError: connection refused"
        );
        assert!(wanted(&pods, &BTreeSet::new()).is_empty(), "no capabilities yet, nothing to follow");
    }

    /// A follower against a fake API server whose first log stream ends after three lines (a
    /// restart): it reopens from the last line's time and keeps each line once.
    #[tokio::test]
    async fn a_follower_resumes_after_a_restart_from_the_last_lines_time() {
        use axum::extract::{Query, State};
        use std::sync::Mutex;
        type Asked = Arc<Mutex<Vec<HashMap<String, String>>>>;
        async fn log(State(asked): State<Asked>, Query(q): Query<HashMap<String, String>>) -> axum::body::Body {
            let first = {
                let mut asked = asked.lock().unwrap();
                asked.push(q);
                asked.len() == 1
            };
            let lines: &[&str] = if first {
                &["2026-12-03T18:30:01.000000001Z one\n", "2026-12-03T18:30:02Z two\n", "2026-12-03T18:30:03Z three\n"]
            } else {
                &["2026-12-03T18:30:03Z three\n", "2026-12-03T18:30:04Z four\n"]
            };
            let body = futures::stream::iter(lines.iter().map(|l| Ok::<_, std::io::Error>(l.as_bytes().to_vec())));
            // The restarted container goes on running: its stream stays open.
            match first {
                true => axum::body::Body::from_stream(body),
                false => axum::body::Body::from_stream(body.chain(futures::stream::pending())),
            }
        }
        crate::init_tls();
        let asked: Asked = Arc::default();
        let app = axum::Router::new()
            .route("/api/v1/namespaces/app-dev/pods/backend-1/log", axum::routing::get(log))
            .with_state(asked.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        let logs = Arc::new(Logs::default());
        let source = Source::new("app-dev", "backend-1", "backend", "app-dev-backend", "app-dev/app-dev");
        logs.open(source.clone());
        let follower = tokio::spawn(follow(Api::namespaced(client, "app-dev"), source, logs.clone()));
        let texts = || {
            let chunk = logs.chunk(&super::super::Query { after: Some(0), limit: 100, ..Default::default() });
            chunk.lines.into_iter().map(|l| l.text).collect::<Vec<_>>()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while texts().len() < 4 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        follower.abort();
        assert_eq!(texts(), ["one", "two", "three", "four"], "each line once");
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 2);
        assert_eq!((asked[0].get("tailLines"), asked[0].get("sinceTime")), (Some(&"1000".to_owned()), None));
        assert_eq!(asked[0].get("timestamps").map(String::as_str), Some("true"));
        assert_eq!(asked[1].get("tailLines"), None, "after a restart, from the last line's time");
        assert!(asked[1]["sinceTime"].starts_with("2026-12-03T18:30:03"), "{:?}", asked[1]);
        let first = logs.chunk(&super::super::Query { after: Some(0), limit: 1, ..Default::default() });
        assert_eq!(first.lines[0].ts, 1_796_322_601_000, "the runtime's time, in ms");
    }

    #[tokio::test]
    async fn followers_start_for_new_sources_and_end_with_their_pods() {
        crate::init_tls();
        // No API server: the followers only retry, and say why.
        let client = Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
        let logs = Arc::new(Logs::default());
        let mut followers = Followers { client, logs: logs.clone(), running: HashMap::new() };
        let owners: BTreeSet<String> = ["app-dev/app-dev".to_owned()].into();
        let live = |logs: &Logs| logs.sources().sources.into_iter().map(|s| (s.source.pod, s.live)).collect::<Vec<_>>();
        let (one, two) = (
            pod("backend-1", "app-dev/app-dev", &[("backend", true)]),
            pod("backend-2", "app-dev/app-dev", &[("backend", true)]),
        );
        followers.converge(wanted(std::slice::from_ref(&one), &owners));
        assert_eq!(live(&logs), [("backend-1".to_owned(), true)]);
        // A rollout: the new pod comes, then the old one goes.
        followers.converge(wanted(&[one, two.clone()], &owners));
        followers.converge(wanted(&[two], &owners));
        assert_eq!(live(&logs), [("backend-1".to_owned(), false), ("backend-2".to_owned(), true)]);
        assert_eq!(followers.running.len(), 1);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let error = || logs.sources().sources.into_iter().find(|s| s.source.pod == "backend-2").unwrap().error;
        while error().is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(error().unwrap().contains("a simulated node with no container runtime"), "{:?}", error());
        followers.converge(BTreeMap::new());
        assert!(followers.running.is_empty());
        assert!(live(&logs).iter().all(|(_, live)| !live), "ended, still readable");
    }

    #[test]
    fn lines_carry_the_runtimes_time_when_it_gives_one() {
        let (ts, text) = parse(b"2026-12-03T18:30:00.123456789Z GET /health 200\n");
        assert_eq!(ts.unwrap().as_millisecond(), 1_796_322_600_123);
        assert_eq!(text, "GET /health 200");
        assert_eq!(parse(b"no time here\r\n"), (None, "no time here".into()));
        assert_eq!(parse(b"2026-12-03T18:30:00Z \xff\n").1, "\u{fffd}", "not UTF-8: replaced, not dropped");
    }
}
