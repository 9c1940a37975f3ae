//! The snapshot of a failed `nexus-dev ci` run: everything needed to see why, in one tarball.
//!
//! - `events.txt`: the events of the capabilities' namespaces, oldest first;
//! - `describe/`: each Pod, Deployment and Job that is not ready, with its events;
//! - `logs/`: every container's log, and its previous one when it restarted;
//! - `containers/`: the logs of the environment's containers (the emulator, the registry);
//! - `emulator-inventory.json`: what the emulator holds for each capability;
//! - `daemon.log`, `build.log`: the daemon's log and what watch mode built;
//! - `capabilities/`: the plan and the status of each capability;
//! - `summary.json`: the run's summary; `errors.txt`: what could not be collected.
//!
//! Collection never fails the run: what cannot be read is listed in `errors.txt`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::LogParams;
use kube::{Api, Client, Resource, ResourceExt};

use crate::input::spec::LoadedSpec;
use crate::model::profile::Profile;
use crate::model::spec::NexusAICapability;

/// What a snapshot is taken of.
pub struct Subject<'a> {
    pub run_id: &'a str,
    pub profile: &'a Profile,
    pub specs: &'a [LoadedSpec],
    pub client: Option<Client>,
    pub engine: Option<&'a crate::env::Engine>,
    /// The daemon's log.
    pub daemon_log: &'a Path,
    /// The run's own files (`build.log`, `summary.json`), copied in.
    pub run_files: &'a [PathBuf],
}

/// Files being gathered, and what could not be.
struct Gather {
    root: PathBuf,
    errors: Vec<String>,
}

impl Gather {
    fn write(&mut self, rel: &str, data: impl AsRef<[u8]>) {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            self.errors.push(format!("{rel}: {e}"));
            return;
        }
        if let Err(e) = std::fs::write(&path, data) {
            self.errors.push(format!("{rel}: {e}"));
        }
    }

    fn failed(&mut self, what: impl std::fmt::Display, e: impl std::fmt::Display) {
        self.errors.push(format!("{what}: {e}"));
    }
}

/// Takes the snapshot into a gzip tarball in `out_dir`; returns its path.
pub async fn take(subject: &Subject<'_>, out_dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(out_dir)?;
    let name = format!("nexus-dev-snapshot-{}", subject.run_id);
    // Gathered beside the tarball, then removed.
    let mut g = Gather { root: out_dir.join(format!(".{name}")), errors: Vec::new() };
    std::fs::create_dir_all(&g.root)?;

    let namespaces: Vec<String> =
        subject.specs.iter().map(|s| crate::model::plan::build(&s.cr, subject.profile).namespace).collect();
    for s in subject.specs {
        let plan = crate::model::plan::build(&s.cr, subject.profile);
        g.write(&format!("capabilities/{}.plan.json", plan.capability), serde_json::to_vec_pretty(&plan)?);
    }
    match &subject.client {
        Some(client) => cluster(&mut g, client, subject.specs, &namespaces).await,
        None => g.failed("cluster", "no client: the cluster was not reached"),
    }
    if let Some(engine) = subject.engine {
        containers(&mut g, engine).await;
    }
    if subject.profile.aws.endpoint.is_some() {
        inventory(&mut g, subject).await;
    }
    match std::fs::read(subject.daemon_log) {
        Ok(log) => g.write("daemon.log", log),
        Err(e) => g.failed("daemon.log", e),
    }
    for f in subject.run_files {
        if let (Some(file), Ok(data)) = (f.file_name(), std::fs::read(f)) {
            g.write(&file.to_string_lossy(), data);
        }
    }
    let errors = g.errors.join("\n");
    g.write("errors.txt", errors);

    let tarball = out_dir.join(format!("{name}.tar.gz"));
    let file = std::fs::File::create(&tarball)?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
    tar.append_dir_all(&name, &g.root)?;
    tar.into_inner()?.finish()?;
    let _ = std::fs::remove_dir_all(&g.root);
    Ok(tarball)
}

/// Events, describes of what is not ready, Pod logs, the capabilities' status.
async fn cluster(g: &mut Gather, client: &Client, specs: &[LoadedSpec], namespaces: &[String]) {
    let mut events = Vec::new();
    for ns in namespaces {
        match Api::<Event>::namespaced(client.clone(), ns).list(&Default::default()).await {
            Ok(list) => events.extend(list.items),
            Err(e) => g.failed(format!("events of {ns}"), e),
        }
    }
    events.sort_by_key(event_time);
    let mut text = String::new();
    for e in &events {
        let _ = writeln!(text, "{}", event_line(e));
    }
    g.write("events.txt", text);

    for ns in namespaces {
        let pods = Api::<Pod>::namespaced(client.clone(), ns).list(&Default::default()).await;
        let deployments = Api::<Deployment>::namespaced(client.clone(), ns).list(&Default::default()).await;
        let jobs = Api::<Job>::namespaced(client.clone(), ns).list(&Default::default()).await;
        match pods {
            Ok(pods) => {
                for p in &pods.items {
                    if !pod_ready(p) {
                        describe(g, p, &events);
                    }
                    logs(g, client, p).await;
                }
            }
            Err(e) => g.failed(format!("pods of {ns}"), e),
        }
        match deployments {
            Ok(list) => list.items.iter().filter(|d| !deployment_ready(d)).for_each(|d| describe(g, d, &events)),
            Err(e) => g.failed(format!("deployments of {ns}"), e),
        }
        match jobs {
            Ok(list) => list.items.iter().filter(|j| !job_complete(j)).for_each(|j| describe(g, j, &events)),
            Err(e) => g.failed(format!("jobs of {ns}"), e),
        }
    }
    for s in specs {
        let (Some(name), Some(ns)) = (s.cr.metadata.name.as_deref(), s.cr.metadata.namespace.as_deref()) else {
            continue;
        };
        match Api::<NexusAICapability>::namespaced(client.clone(), ns).get_opt(name).await {
            Ok(Some(cr)) => g.write(
                &format!("capabilities/{}.status.yaml", s.spec().capability_name),
                serde_yaml::to_string(&cr.status).unwrap_or_default(),
            ),
            Ok(None) => g.failed(format!("capability {ns}/{name}"), "not in the cluster"),
            Err(e) => g.failed(format!("capability {ns}/{name}"), e),
        }
    }
}

fn event_time(e: &Event) -> String {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()))
        .unwrap_or_default()
}

fn event_line(e: &Event) -> String {
    format!(
        "{} {} {}/{} {}: {}",
        event_time(e),
        e.type_.as_deref().unwrap_or(""),
        e.involved_object.kind.as_deref().unwrap_or(""),
        e.involved_object.name.as_deref().unwrap_or(""),
        e.reason.as_deref().unwrap_or(""),
        e.message.as_deref().unwrap_or("").trim()
    )
}

fn pod_ready(p: &Pod) -> bool {
    let status = p.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Succeeded")
        || status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn deployment_ready(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0) >= want
}

fn job_complete(j: &Job) -> bool {
    j.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Complete" && c.status == "True")
}

/// The object as YAML (without managed fields), then its events: what `kubectl describe` tells.
fn describe<K>(g: &mut Gather, obj: &K, events: &[Event])
where
    K: Resource<DynamicType = ()> + serde::Serialize + Clone,
{
    let mut obj = obj.clone();
    obj.meta_mut().managed_fields = None;
    let kind = K::kind(&());
    let name = obj.name_any();
    let ns = obj.namespace().unwrap_or_default();
    let mut text = serde_yaml::to_string(&obj).unwrap_or_default();
    text.push_str("\n# events\n");
    for e in events.iter().filter(|e| {
        e.involved_object.kind.as_deref() == Some(kind.as_ref()) && e.involved_object.name.as_deref() == Some(&name)
    }) {
        let _ = writeln!(text, "# {}", event_line(e));
    }
    g.write(&format!("describe/{ns}/{}-{name}.yaml", kind.to_lowercase()), text);
}

/// Every container's log, and the previous one's when it restarted.
async fn logs(g: &mut Gather, client: &Client, p: &Pod) {
    let api = Api::<Pod>::namespaced(client.clone(), &p.namespace().unwrap_or_default());
    let name = p.name_any();
    let statuses = p
        .status
        .iter()
        .flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()));
    for c in statuses {
        let current = LogParams { container: Some(c.name.clone()), tail_lines: Some(2000), ..Default::default() };
        let ns = p.namespace().unwrap_or_default();
        match api.logs(&name, &current).await {
            Ok(text) => g.write(&format!("logs/{ns}/{name}/{}.log", c.name), text),
            Err(e) => g.failed(format!("log of {ns}/{name}/{}", c.name), e),
        }
        if c.restart_count > 0 {
            let previous = LogParams { previous: true, ..current };
            if let Ok(text) = api.logs(&name, &previous).await {
                g.write(&format!("logs/{ns}/{name}/{}.previous.log", c.name), text);
            }
        }
    }
}

/// The logs of the environment's containers (the emulator, the registry; shared by the machine's projects).
async fn containers(g: &mut Gather, engine: &crate::env::Engine) {
    match engine.list_owned().await {
        Ok(owned) => {
            for c in owned.containers {
                let lines = engine.last_logs(&c.name).await;
                g.write(&format!("containers/{}.log", c.name), lines.0.join("\n"));
            }
        }
        Err(e) => g.failed("containers", e),
    }
}

/// What the emulator holds for each capability: tables, buckets, parameters, secrets.
async fn inventory(g: &mut Gather, subject: &Subject<'_>) {
    let mut all = serde_json::Map::new();
    for s in subject.specs {
        let spec = s.spec();
        let target = crate::provision::aws::Target::of(subject.profile, &spec.region);
        let c = crate::provision::aws::Clients::connect(&target).await;
        let mut held = serde_json::Map::new();
        match c.dynamodb.list_tables().send().await {
            Ok(t) => held.insert("tables".into(), serde_json::json!(t.table_names())),
            Err(e) => held.insert("tables".into(), serde_json::json!(format!("error: {e}"))),
        };
        match c.s3.list_buckets().send().await {
            Ok(b) => held.insert(
                "buckets".into(),
                serde_json::json!(b.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>()),
            ),
            Err(e) => held.insert("buckets".into(), serde_json::json!(format!("error: {e}"))),
        };
        let root = format!("/{}/{}/", spec.capability_name, spec.environment);
        match super::parameters(&c.ssm, &root).await {
            Ok(p) => held.insert("parameters".into(), serde_json::json!(p)),
            Err(e) => held.insert("parameters".into(), serde_json::json!(format!("error: {e}"))),
        };
        match c.secrets.list_secrets().send().await {
            Ok(s) => held.insert(
                "secrets".into(),
                serde_json::json!(s.secret_list().iter().filter_map(|s| s.name()).collect::<Vec<_>>()),
            ),
            Err(e) => held.insert("secrets".into(), serde_json::json!(format!("error: {e}"))),
        };
        all.insert(spec.capability_name.clone(), serde_json::Value::Object(held));
    }
    g.write("emulator-inventory.json", serde_json::to_vec_pretty(&all).unwrap_or_default());
}
