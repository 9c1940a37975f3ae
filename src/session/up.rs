//! `up`: everything a project needs, in order, each step idempotent: preflight, Docker, the
//! kind cluster, the registry and its wiring, the emulator and its coverage, the cluster's
//! CRD, the daemon, the specs applied, the images built and deployed, and every capability
//! Running. A second `up` finds everything in place and changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{BoxError, Error, Progress, Result, Session, StepRow, Steps};
use crate::daemon::protocol::{self, CapabilityStatus, Request};
use crate::daemon::{self, Daemon, DaemonError, Paths};
use crate::env::preflight::{self, GatherOptions, Status};
use crate::env::{Engine, ProjectId, emulator, kind, registry};
use crate::input::spec::LoadedSpec;
use crate::model::profile::ClusterProvider;
use crate::provision::lock::WriterLock;
use crate::watch::Summary;

/// How `up` runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Run the daemon in this process (for CI) instead of in the background.
    pub foreground: bool,
    /// How long a rollout of a built image may take.
    pub rollout_timeout: Duration,
    /// How long to wait for every capability to be Running.
    pub timeout: Duration,
    /// Load the project's seed data over what is there.
    pub reseed: bool,
}

/// What `up` reports (`up -o json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub project: String,
    pub profile: String,
    pub steps: Vec<StepRow>,
    pub capabilities: Vec<CapabilityStatus>,
    pub ms: u128,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.capabilities.iter().any(|c| c.phase == crate::model::spec::Phase::Failed)
    }
}

/// An environment that is up.
pub struct Up {
    pub report: Report,
    /// Held until the caller has shown the report: another `up` of the project waits for it.
    pub lock: WriterLock,
    /// The daemon, when it runs in this process (`foreground`).
    pub foreground: Option<tokio::task::JoinHandle<Result<(), DaemonError>>>,
    pub client: kube::Client,
    pub specs: Vec<LoadedSpec>,
}

/// Brings the project of `session` up.
pub async fn up(session: &Session, options: &Options, progress: &dyn Progress) -> Result<Up> {
    let h = session;
    let profile = &h.profile.profile;
    // Everything is read and checked before anything is touched.
    let specs = h.specs().map_err(Error::input)?;
    let mut needed: Vec<String> = specs
        .iter()
        .flat_map(|s| crate::model::plan::build(&s.cr, profile).aws_services().into_iter().map(str::to_owned))
        .collect();
    needed.sort();
    needed.dedup();
    progress.begin(h.id.as_str(), specs.len(), &profile.name);
    let mut steps = Steps::new(progress);
    let paths = session.paths();
    // Two `up` of one project at once would race to create the same containers (issue #11):
    // the second waits for the first, then finds everything up.
    paths.prepare().map_err(Error::input)?;
    let lock = crate::provision::lock::hold(&paths.dir.join("up.lock"), "is bringing this project up")
        .await
        .map_err(Error::input)?;
    let already = daemon::running(&paths);
    // The kind cluster, the registry and the emulator are the machine's, shared by its projects
    // (issue 21): recorded here, so that another project's `down` knows this one uses them.
    daemon::machine::register(&paths, &session.record()).map_err(Error::input)?;
    let others = daemon::machine::others(h.id.as_str());
    let users: Vec<String> = others.iter().filter(|p| p.up).map(|p| p.describe()).collect();

    // Preflight, unless a daemon already runs this project (then its ports are ours).
    if !already {
        let facts = preflight::gather(profile, &GatherOptions::new(h.id.clone(), needed.clone())).await;
        let checks = preflight::evaluate(profile, &facts);
        if preflight::blocks_up(&checks) {
            checks.iter().filter(|c| c.blocks()).for_each(|c| progress.check(c));
            return Err(Error::Prerequisites);
        }
        checks.iter().filter(|c| c.status == Status::Warn).for_each(|c| progress.check(c));
    }

    let engine = steps
        .run("docker", async {
            Engine::connect(ProjectId::shared()).await.map(|e| {
                let mut what = format!("engine {} (API {})", e.engine_version(), e.api_version());
                if !users.is_empty() {
                    what.push_str(&format!("; environment shared with {}", users.join(", ")));
                }
                (e.used_by(users.clone()), what)
            })
        })
        .await?;
    let own = engine.acting_for(h.id.clone());

    let cluster_name = profile.cluster.name.clone().unwrap_or_else(|| "nexus-dev".into());
    if profile.cluster.provider == ClusterProvider::Kind {
        let cli = kind::KindCli::locate().map_err(Error::input)?;
        let source = kind::config::load(profile, h.profile.base_dir.as_deref()).map_err(Error::input)?;
        let config = kind::config::render(&source, &cluster_name).map_err(Error::input)?;
        let kubeconfig = profile.cluster.kubeconfig.as_ref().map(PathBuf::from);
        let image = crate::input::settings::kind_node_image(profile).map_err(Error::input)?;
        steps
            .run("kind cluster", async {
                kind::ensure_cluster(
                    &cli,
                    &engine,
                    &cluster_name,
                    &config,
                    image.as_deref(),
                    &paths.dir,
                    kubeconfig.as_deref(),
                )
                .await
                .map(|o| ((), format!("{cluster_name}: {o}")))
            })
            .await?;
    }
    let registry_image = registry::RegistryImage {
        reference: crate::input::settings::registry_image()
            .unwrap_or_else(|| registry::RegistryImage::default().reference),
        ..registry::RegistryImage::default()
    };
    let registry_cfg = registry::RegistryConfig::from_profile(profile, registry_image).map_err(Error::input)?;
    if let Some(cfg) = &registry_cfg {
        steps
            .run("registry", async {
                hand_over(&own, &cfg.name).await.map_err(BoxError::from)?;
                registry::ensure(&engine, cfg)
                    .await
                    .map_err(BoxError::from)
                    .map(|s| ((), format!("{} {}", s.endpoint, s.outcome)))
            })
            .await?;
        if profile.cluster.provider == ClusterProvider::Kind {
            steps
                .run("registry wiring", async {
                    kind::wire_registry_kind(&engine, &cluster_name, cfg)
                        .await
                        .map(|_| ((), "containerd hosts.toml".to_owned()))
                })
                .await?;
        }
    }
    let emulator_cfg = emulator::EmulatorConfig::from_profile(
        profile,
        &h.project.dir,
        crate::input::settings::emulator_image(),
        |v| std::env::var(v).ok(),
    )
    .map_err(Error::input)?;
    if let Some(cfg) = &emulator_cfg {
        let outcome = steps
            .run("aws emulator", async {
                hand_over(&own, &cfg.name).await.map_err(BoxError::from)?;
                emulator::ensure(&engine, cfg)
                    .await
                    .map_err(BoxError::from)
                    .map(|s| (s.outcome.clone(), format!("{} {}", s.endpoint, s.outcome)))
            })
            .await?;
        // Said once, when the container is made: what a developer puts in moto does not last.
        if cfg.emulator == crate::model::profile::Emulator::Moto && outcome == crate::env::Outcome::Created {
            progress.warning(
                "aws emulator",
                "moto keeps its state in memory: a restart of its container loses tables, objects and secrets (the daemon provisions the capabilities again, empty)",
                "to keep them, use MiniStack: `profile: local` in nexus-dev.yaml",
            );
        }
    }
    steps
        .run("emulator coverage", async {
            let needed: Vec<&str> = needed.iter().map(String::as_str).collect();
            crate::provision::aws::coverage::check(profile, &needed)
                .await
                .map(|_| ((), format!("{} services", needed.len())))
        })
        .await?;
    let client = steps
        .run("kubernetes", async {
            let c = crate::provision::kube::client::for_profile(profile).await.map_err(|e| e.to_string())?;
            let v = c.apiserver_version().await.map_err(|e| format!("the cluster does not answer: {e}"))?;
            Ok::<_, String>((
                c,
                format!("{} {}", crate::provision::kube::client::context(profile).unwrap_or_default(), v.git_version),
            ))
        })
        .await?;
    if let (Some(cfg), ClusterProvider::Kind) = (&registry_cfg, profile.cluster.provider) {
        let hosting = kind::wiring::LocalRegistryHosting::new(&cfg.host, &cfg.cluster_address());
        steps
            .run("registry hosting", async {
                kind::wiring::apply_local_registry_hosting(&client, &hosting)
                    .await
                    .map(|o| ((), format!("kube-public/local-registry-hosting {o}")))
            })
            .await?;
    }
    ingress_class(&client, &profile.ingress.class, progress).await;
    steps
        .run("crd", async {
            crate::provision::kube::install_crd(&client).await.map(|_| ((), "nexuscapabilities.nexus.ai".to_owned()))
        })
        .await?;

    // The daemon: reuse, start in the background, or run here (foreground).
    let mut foreground = None;
    if already {
        steps.run("daemon", async { Ok::<_, String>(((), "running".to_owned())) }).await?;
    } else if options.foreground {
        let d = Arc::new(
            Daemon::new(h.project.clone(), h.id.as_str(), profile.clone(), client.clone(), paths.clone())
                .in_environment(h.environment.clone()),
        );
        let held = daemon::lock(&paths).map_err(Error::input)?;
        foreground = Some(tokio::spawn(async move {
            let r = d.run(&held, crate::session::shutdown_signal()).await;
            drop(held);
            r
        }));
        steps.run("daemon", wait_socket(&paths.socket, "started here (--foreground)", None)).await?;
    } else {
        // A daemon of this project that lost its lock (its state directory was deleted) and
        // has not stopped yet would heal the same emulator: it goes first.
        for pid in daemon::orphan::stop_orphans_of(&h.project.dir, &crate::input::settings::state_dir()).await {
            progress.warning(
                "daemon",
                &format!("stopped an orphaned daemon of this project (pid {pid}); it held no lock"),
                "nothing to do",
            );
        }
        let mut child = spawn_daemon(session, &paths).map_err(Error::input)?;
        let started = wait_socket(&paths.socket, "started in the background", Some((&mut child, &paths.log)));
        steps.run("daemon", started).await?;
    }
    steps
        .run("apply", async {
            protocol::apply(&paths.socket).await.map(|applied| ((), format!("{} capabilities", applied.len())))
        })
        .await?;
    // The project's images, before waiting for Running: the spec's images are the project's own
    // (rewritten to the local registry), so on a fresh project they do not exist until built.
    // A warm `up` rebuilds from Docker's cache to the same digests and changes nothing.
    let components = h.project.project.components.len();
    if components > 0 {
        let built = async {
            images(session, &specs, client.clone(), options.rollout_timeout, progress).await.and_then(|s| {
                match s.failures {
                    0 => Ok(((), format!("{components} components built and deployed"))),
                    n => Err(format!("{n} of {components} components failed (see above)")),
                }
            })
        };
        if let Err(e) = steps.run("images", built).await {
            return Err(Error::Images(e.to_string()));
        }
    }
    // Each capability's marker parameter, which an emulator that lost its state no longer has:
    // until the daemon has provisioned again, a Running status is stale (issue #11, item 14).
    let markers: Vec<Marker> = if profile.aws.emulator.is_some() {
        specs
            .iter()
            .map(|s| Marker {
                name: s.cr.metadata.name.clone().unwrap_or_default(),
                target: crate::provision::aws::Target::of(profile, &s.spec().region),
                parameter: crate::model::names::Names::of(s.spec()).ssm_parameter("app", "capability"),
            })
            .collect()
    } else {
        Vec::new()
    };
    // Pods reach the emulator by name: `running` means they can.
    let dns = crate::provision::kube::wait_cluster_dns(&client, options.timeout);
    steps.run("cluster dns", async { dns.await.map(|detail| ((), detail)) }).await?;
    let capabilities = match steps.run("running", wait_running(&paths.socket, options.timeout, &markers)).await {
        Ok(c) => c,
        Err(e) => return Err(Error::NotRunning { message: e.to_string(), log: paths.log.display().to_string() }),
    };
    // The project's seed data, into resources that now exist.
    let seeded: Vec<_> =
        specs.iter().filter_map(|s| Some((s, h.project.project.seed.get(&s.spec().capability_name)?))).collect();
    if !seeded.is_empty() {
        steps
            .run("seed data", async {
                crate::provision::seed::check(profile)?;
                let mut done = Vec::new();
                for (s, seed) in &seeded {
                    let target = crate::provision::aws::Target::of(profile, &s.spec().region);
                    let ctx = crate::provision::aws::Ctx::new(
                        crate::provision::aws::Clients::connect(&target).await,
                        profile.aws.account.clone(),
                    );
                    let names = crate::model::names::Names::of(s.spec());
                    let loaded = crate::provision::seed::load(seed, &names, &ctx, options.reseed).await?;
                    done.push(format!("{}: {loaded}", s.spec().capability_name));
                }
                Ok::<_, crate::provision::seed::SeedError>(((), done.join("; ")))
            })
            .await?;
    }
    let report = Report {
        project: h.id.as_str().to_owned(),
        profile: profile.name.clone(),
        steps: steps.rows,
        capabilities,
        ms: steps.start.elapsed().as_millis(),
    };
    Ok(Up { report, lock, foreground, client, specs })
}

/// A container this project made before the environment was shared (labelled with the
/// project's own id) is removed, its volumes kept, so that the shared one takes its place.
async fn hand_over(own: &Engine, name: &str) -> Result<(), crate::env::docker::DockerError> {
    let labels = own.inspect_container(name).await?.and_then(|c| c.config?.labels);
    if crate::env::owner::ownership(labels.as_ref(), own.project()) == crate::env::owner::Ownership::Ours {
        tracing::info!(container = name, "handing this project's container over to the shared environment");
        own.remove(name, false).await?;
    }
    Ok(())
}

/// Builds and deploys every component once, through watch mode.
async fn images(
    session: &Session,
    specs: &[LoadedSpec],
    client: kube::Client,
    rollout_timeout: Duration,
    progress: &dyn Progress,
) -> Result<Summary, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The daemon's dashboard hears of builds from watch mode proper, after `up`.
    let options = crate::watch::project::Options { once: true, rollout_timeout, daemon: None };
    let run = crate::watch::project::run(
        &session.project,
        specs,
        &session.profile.profile,
        client,
        options,
        move |e| {
            let _ = tx.send(e.clone());
        },
        std::future::pending(),
    );
    tokio::pin!(run);
    loop {
        tokio::select! {
            Some(e) = rx.recv() => progress.event(&e),
            done = &mut run => {
                while let Ok(e) = rx.try_recv() {
                    progress.event(&e);
                }
                return done.map_err(|e| e.to_string());
            }
        }
    }
}

/// Warns when the cluster has no IngressClass of the profile's class: ingresses would be
/// created but nothing would serve them.
async fn ingress_class(client: &kube::Client, class: &str, progress: &dyn Progress) {
    let api: kube::Api<k8s_openapi::api::networking::v1::IngressClass> = kube::Api::all(client.clone());
    if let Ok(None) = api.get_opt(class).await {
        progress.warning(
            "ingress",
            &format!("the cluster has no IngressClass `{class}`; ingresses are created but nothing serves them"),
            "install an ingress controller, for KinD: kubectl apply -f https://kind.sigs.k8s.io/examples/ingress/deploy-ingress-nginx.yaml",
        );
    }
}

/// Waits for the daemon to answer on its socket. With the daemon's process and log, a daemon
/// that exits instead (its socket path too long, its directory read-only, the address in use)
/// is reported at once with its own last words, not after 30 s as "no daemon".
async fn wait_socket(
    socket: &Path,
    what: &str,
    mut process: Option<(&mut std::process::Child, &Path)>,
) -> Result<((), String), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match protocol::call(socket, &Request::Ping, |_| {}).await {
            Ok(_) => return Ok(((), what.to_owned())),
            Err(e) if Instant::now() > deadline => return Err(format!("the daemon did not answer within 30 s: {e}")),
            Err(_) => {
                if let Some((child, log)) = process.as_mut()
                    && let Ok(Some(status)) = child.try_wait()
                {
                    let log: &Path = log;
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    let last: Vec<&str> = text.lines().rev().filter(|l| !l.trim().is_empty()).take(3).collect();
                    let said: Vec<&str> = last.into_iter().rev().collect();
                    return Err(format!(
                        "the daemon exited ({status}): {}\n  hint: its log is {}",
                        crate::input::diag::printable(&said.join(" | ")),
                        log.display()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await
            }
        }
    }
}

/// A parameter every provisioned capability has in the emulator.
struct Marker {
    /// The custom resource's name.
    name: String,
    target: crate::provision::aws::Target,
    parameter: String,
}

/// Names of the capabilities whose marker the emulator lacks: it lost their resources.
async fn emulator_lost(markers: &[Marker]) -> Vec<String> {
    let mut lost = Vec::new();
    for m in markers {
        let ssm = crate::provision::aws::Clients::connect(&m.target).await.ssm;
        let missing = matches!(
            ssm.get_parameter().name(&m.parameter).send().await,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found())
        );
        if missing {
            lost.push(m.name.clone());
        }
    }
    lost
}

/// Waits until every capability of the project is Running (or Failed) for its current spec,
/// with its resources present in the emulator.
async fn wait_running(
    socket: &Path,
    timeout: Duration,
    markers: &[Marker],
) -> Result<(Vec<CapabilityStatus>, String), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let all = protocol::status(socket).await.map_err(|e| e.to_string())?;
        let settled = !all.is_empty() && all.iter().all(CapabilityStatus::settled);
        let lost = if settled { emulator_lost(markers).await } else { Vec::new() };
        if !lost.is_empty() && Instant::now() > deadline {
            return Err(format!(
                "the emulator lost the resources of {} and they were not provisioned again within {}",
                lost.join(", "),
                humantime::format_duration(timeout)
            ));
        }
        if settled && lost.is_empty() {
            let running = all.iter().filter(|c| c.phase == crate::model::spec::Phase::Running).count();
            let what = format!("{running} of {} Running", all.len());
            return Ok((all, what));
        }
        if Instant::now() > deadline {
            let waiting: Vec<String> = all
                .iter()
                .filter(|c| !c.settled())
                .map(|c| format!("{} ({})", c.name, c.message.as_deref().unwrap_or("")))
                .collect();
            return Err(format!("not Running after {}: {}", humantime::format_duration(timeout), waiting.join("; ")));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Starts `nexus-dev daemon` in its own process group, logging to the project's log file.
fn spawn_daemon(session: &Session, paths: &Paths) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let log = paths.open_log()?;
    let exe = std::env::current_exe()?;
    std::process::Command::new(exe)
        .arg("daemon")
        .arg("--project-dir")
        .arg(&session.project.dir)
        .arg("--profile")
        .arg(session.profile.origin_arg())
        .args(session.environment.iter().flat_map(|e| ["--env", e.as_str()]))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
}
