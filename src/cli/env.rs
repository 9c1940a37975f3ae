//! The environment commands: `up`, `down`, `doctor`, `logs`, and the hidden `daemon`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::daemon::protocol::{self, Request};
use crate::daemon::{self, Daemon, Paths};
use crate::env::preflight::{self, GatherOptions, Status};
use crate::env::{Engine, ProjectId, emulator, kind, registry};
use crate::input::profile::LoadedProfile;
use crate::model::profile::ClusterProvider;
use crate::model::project::LoadedProject;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Profile (default: the project file's `profile`).
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
    /// Keep the daemon attached to this terminal (for CI); Ctrl-C stops it.
    #[arg(long)]
    pub foreground: bool,
    /// Return once the environment is up instead of going on to watch mode (which rebuilds and
    /// redeploys the project file's `components` on every save, until Ctrl-C).
    #[arg(long)]
    pub no_watch: bool,
    /// In watch mode, how long a rollout may take before it is reported as failed.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    pub rollout_timeout: Duration,
    /// How long to wait for every capability to be Running.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// `text` (progress on stderr) or `json` (a summary on stdout).
    #[arg(short = 'o', long, value_enum, default_value_t = super::apply::Output::Text)]
    pub output: super::apply::Output,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also delete the KinD cluster, the volumes (emulator and registry data) and the daemon's state.
    #[arg(long)]
    pub purge: bool,
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[arg(short = 'p', long, value_name = "NAME|PATH", env = crate::input::settings::PROFILE_ENV)]
    pub profile: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value_t = super::apply::Output::Text)]
    pub output: super::apply::Output,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Capability (capabilityName); all when omitted.
    pub capability: Option<String>,
    /// Component: backend or frontend; both when omitted.
    pub component: Option<String>,
    /// Follow the logs.
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The project's directory.
    #[arg(long)]
    pub project_dir: PathBuf,
    #[arg(short = 'p', long)]
    pub profile: String,
}

/// The project of the current directory, its profile and id.
struct Here {
    project: LoadedProject,
    profile: LoadedProfile,
    id: ProjectId,
}

fn here(profile: Option<&str>) -> anyhow::Result<Here> {
    let cwd = std::env::current_dir()?;
    let project = crate::input::project::discover(&cwd)?;
    let name = crate::input::settings::profile_name(profile, Some(&project));
    let profile = crate::input::profile::resolve(&name, &project.dir)?;
    let id = ProjectId::from_dir(&project.dir);
    Ok(Here { project, profile, id })
}

/// One line of progress per step, with its time (stderr; quiet for JSON).
struct Steps {
    show: bool,
    start: Instant,
    rows: Vec<(String, String, u128)>,
}

impl Steps {
    fn new(show: bool) -> Self {
        Self { show, start: Instant::now(), rows: Vec::new() }
    }

    async fn run<T, E: std::fmt::Display>(
        &mut self,
        name: &str,
        f: impl std::future::Future<Output = Result<(T, String), E>>,
    ) -> anyhow::Result<T> {
        let t = Instant::now();
        match f.await {
            Ok((v, what)) => {
                let ms = t.elapsed().as_millis();
                if self.show {
                    eprintln!("  ✓ {name:<20} {what:<40} {ms:>6} ms");
                }
                self.rows.push((name.to_owned(), what, ms));
                Ok(v)
            }
            Err(e) => {
                if self.show {
                    eprintln!("  ✗ {name:<20} failed after {} ms", t.elapsed().as_millis());
                }
                Err(anyhow::anyhow!("{name}: {e}"))
            }
        }
    }
}

pub async fn run_up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let text = args.output == super::apply::Output::Text;
    let h = here(args.profile.as_deref())?;
    let profile = &h.profile.profile;
    // Everything is read and checked before anything is touched.
    let sources = crate::input::spec::read_sources(&h.project.spec_paths())?;
    let specs = crate::input::spec::load_specs(&sources)?;
    let mut needed: Vec<String> = specs
        .iter()
        .flat_map(|s| crate::model::plan::build(&s.cr, profile).aws_services().into_iter().map(str::to_owned))
        .collect();
    needed.sort();
    needed.dedup();
    if text {
        eprintln!("nexus-dev up: project {} ({} capabilities), profile {}", h.id.as_str(), specs.len(), profile.name);
    }
    let mut steps = Steps::new(text);
    let paths = Paths::for_project(h.id.as_str());
    // Two `up` of one project at once would race to create the same containers (issue #11):
    // the second waits for the first, then finds everything up.
    paths.prepare()?;
    let up_lock = crate::provision::lock::hold(&paths.dir.join("up.lock"), "is bringing this project up").await?;
    let already = daemon::running(&paths);

    // Preflight, unless a daemon already runs this project (then its ports are ours).
    if !already {
        let facts = preflight::gather(profile, &GatherOptions::new(h.id.clone(), needed.clone())).await;
        let checks = preflight::evaluate(profile, &facts);
        if preflight::blocks_up(&checks) {
            for c in checks.iter().filter(|c| c.blocks()) {
                eprintln!("  ✗ {}: {}", c.name, c.detail);
                if let Some(f) = &c.fix {
                    eprintln!("      fix: {f}");
                }
            }
            anyhow::bail!("prerequisites missing; nothing was started (see `nexus-dev doctor`)");
        }
        if text {
            for c in checks.iter().filter(|c| c.status == Status::Warn) {
                eprintln!(
                    "  ! {}: {}{}",
                    c.name,
                    c.detail,
                    c.fix.as_ref().map(|f| format!(" (fix: {f})")).unwrap_or_default()
                );
            }
        }
    }

    let engine = steps
        .run("docker", async {
            Engine::connect(h.id.clone()).await.map(|e| {
                let what = format!("engine {} (API {})", e.engine_version(), e.api_version());
                (e, what)
            })
        })
        .await?;

    if profile.cluster.provider == ClusterProvider::Kind {
        let name = profile.cluster.name.clone().unwrap_or_else(|| "nexus-dev".into());
        let cli = kind::KindCli::locate()?;
        let source = kind::config::load(profile, h.profile.base_dir.as_deref())?;
        let config = kind::config::render(&source, &name)?;
        let kubeconfig = profile.cluster.kubeconfig.as_ref().map(PathBuf::from);
        let image = crate::input::settings::kind_node_image(profile).map_err(anyhow::Error::msg)?;
        steps
            .run("kind cluster", async {
                kind::ensure_cluster(&cli, &engine, &name, &config, image.as_deref(), &paths.dir, kubeconfig.as_deref())
                    .await
                    .map(|o| ((), format!("{name}: {o}")))
            })
            .await?;
    }
    let registry_image = registry::RegistryImage {
        reference: crate::input::settings::registry_image()
            .unwrap_or_else(|| registry::RegistryImage::default().reference),
        ..registry::RegistryImage::default()
    };
    let registry_cfg = registry::RegistryConfig::from_profile(profile, registry_image)?;
    if let Some(cfg) = &registry_cfg {
        steps
            .run("registry", async {
                registry::ensure(&engine, cfg).await.map(|s| ((), format!("{} {}", s.endpoint, s.outcome)))
            })
            .await?;
        if profile.cluster.provider == ClusterProvider::Kind {
            let name = profile.cluster.name.clone().unwrap_or_else(|| "nexus-dev".into());
            steps
                .run("registry wiring", async {
                    kind::wire_registry_kind(&engine, &name, cfg)
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
    )?;
    if let Some(cfg) = &emulator_cfg {
        steps
            .run("aws emulator", async {
                emulator::ensure(&engine, cfg).await.map(|s| ((), format!("{} {}", s.endpoint, s.outcome)))
            })
            .await?;
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
    ingress_class(&client, &profile.ingress.class, text).await;
    steps
        .run("crd", async {
            crate::provision::kube::install_crd(&client).await.map(|_| ((), "nexuscapabilities.nexus.ai".to_owned()))
        })
        .await?;

    // The daemon: reuse, start in the background, or run here (--foreground).
    let d = Arc::new(Daemon {
        project: h.project.clone(),
        project_id: h.id.as_str().to_owned(),
        profile: profile.clone(),
        client: client.clone(),
        paths: paths.clone(),
        resync: Duration::from_secs(60),
        emulator_check: Duration::from_secs(5),
        forwards: Default::default(),
    });
    let mut foreground = None;
    if already {
        steps.run("daemon", async { Ok::<_, String>(((), "running".to_owned())) }).await?;
    } else if args.foreground {
        let lock = daemon::lock(&paths)?;
        let d2 = d.clone();
        foreground = Some(tokio::spawn(async move {
            let r = d2.run(&lock, super::shutdown_signal()).await;
            drop(lock);
            r
        }));
        steps.run("daemon", wait_socket(&paths.socket, "started here (--foreground)", None)).await?;
    } else {
        let mut child = spawn_daemon(&h, &paths)?;
        let started = wait_socket(&paths.socket, "started in the background", Some((&mut child, &paths.log)));
        steps.run("daemon", started).await?;
    }
    let applied = steps
        .run("apply", async {
            protocol::call(&paths.socket, &Request::Apply, |_| {}).await.map(|r| {
                (
                    (),
                    format!("{} capabilities", r.data.and_then(|d| d["applied"].as_array().map(Vec::len)).unwrap_or(0)),
                )
            })
        })
        .await;
    applied?;
    // The project's images, before waiting for Running: the spec's images are the project's own
    // (rewritten to the local registry), so on a fresh project they do not exist until built.
    // A warm `up` rebuilds from Docker's cache to the same digests and changes nothing.
    let components = &h.project.project.components;
    if !components.is_empty() {
        let options = super::watch::Options { once: true, rollout_timeout: args.rollout_timeout, json: false };
        let built = steps
            .run("images", async {
                super::watch::watch_project(
                    &h.project,
                    &specs,
                    profile,
                    client.clone(),
                    options,
                    std::future::pending(),
                )
                .await
                .map_err(|e| e.to_string())
                .and_then(|s| {
                    if s.failures > 0 {
                        Err(format!("{} of {} components failed (see above)", s.failures, components.len()))
                    } else {
                        Ok(((), format!("{} components built and deployed", components.len())))
                    }
                })
            })
            .await;
        if let Err(e) = built {
            eprintln!("{e}\n  hint: fix the build and run `nexus-dev up` again (or `nexus-dev watch`)");
            return Ok(ExitCode::FAILURE);
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
    let summary = steps.run("running", wait_running(&paths.socket, args.timeout, &markers)).await;
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "{e}\n  hint: `nexus-dev status` shows the phases; `nexus-dev logs` the workloads; the daemon logs to {}",
                paths.log.display()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let failed = summary.as_array().map(|a| a.iter().any(|c| c["phase"] == "Failed")).unwrap_or(false);
    let watching = !args.no_watch && !failed && !components.is_empty();
    match args.output {
        super::apply::Output::Json => {
            let steps_json: Vec<_> =
                steps.rows.iter().map(|(n, w, ms)| serde_json::json!({"step": n, "result": w, "ms": ms})).collect();
            let doc = serde_json::json!({"project": h.id.as_str(), "profile": profile.name, "steps": steps_json, "capabilities": summary, "ms": steps.start.elapsed().as_millis()});
            // Watch mode's events follow as JSON lines, so the summary is one line too.
            let doc = if watching { serde_json::to_string(&doc)? } else { serde_json::to_string_pretty(&doc)? };
            println!("{doc}");
        }
        super::apply::Output::Text => {
            for c in summary.as_array().into_iter().flatten() {
                println!(
                    "{} ({}) {}: {}",
                    c["capability"].as_str().unwrap_or(""),
                    c["environment"].as_str().unwrap_or(""),
                    c["phase"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or("")
                );
                for e in c["endpoints"].as_array().into_iter().flatten().take(2) {
                    println!("  {:<8} {} (ingress)", e["name"].as_str().unwrap_or(""), e["url"].as_str().unwrap_or(""));
                }
                print_forwards(c);
            }
            eprintln!("up in {} ms", steps.start.elapsed().as_millis());
        }
    }
    // The environment is up: another `up` may go on (watching is not bringing up).
    drop(up_lock);
    if watching {
        if text {
            let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
            eprintln!(
                "watch mode: {} ({}); Ctrl-C stops watching, {}",
                names.join(", "),
                h.project.file.display(),
                if foreground.is_some() {
                    "and the daemon"
                } else {
                    "the environment keeps running (`nexus-dev down` stops it)"
                }
            );
        }
        let options = super::watch::Options { once: false, rollout_timeout: args.rollout_timeout, json: !text };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        super::watch::watch_project(&h.project, &specs, profile, client.clone(), options, shutdown).await?;
    } else if !args.no_watch && components.is_empty() && text && std::io::stderr().is_terminal() {
        eprintln!(
            "watch mode: {} lists no `components` to rebuild on save (see README, \"Watch mode\")",
            h.project.file.display()
        );
    }
    if let Some(task) = foreground {
        if text && !watching {
            eprintln!("the daemon runs in the foreground; Ctrl-C stops it");
        }
        task.await??;
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The local URLs of a capability's port-forwards (from the daemon's `status`), one line each.
pub fn print_forwards(capability: &serde_json::Value) {
    for f in capability["forwards"].as_array().into_iter().flatten() {
        println!(
            "  {:<8} {} (port-forward to Service {})",
            f["component"].as_str().unwrap_or(""),
            f["url"].as_str().unwrap_or(""),
            f["service"].as_str().unwrap_or("")
        );
    }
}

/// Warns when the cluster has no IngressClass of the profile's class: ingresses would be
/// created but nothing would serve them.
async fn ingress_class(client: &kube::Client, class: &str, show: bool) {
    let api: kube::Api<k8s_openapi::api::networking::v1::IngressClass> = kube::Api::all(client.clone());
    if let Ok(None) = api.get_opt(class).await
        && show
    {
        eprintln!(
            "  ! ingress: the cluster has no IngressClass `{class}`; ingresses are created but nothing serves them\n      fix: install an ingress controller, for KinD: kubectl apply -f https://kind.sigs.k8s.io/examples/ingress/deploy-ingress-nginx.yaml"
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
) -> Result<(serde_json::Value, String), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = protocol::call(socket, &Request::Status, |_| {}).await.map_err(|e| e.to_string())?;
        let caps = status.data.unwrap_or_default();
        let all = caps.as_array().cloned().unwrap_or_default();
        let settled = |c: &serde_json::Value| {
            (c["phase"] == "Running" || c["phase"] == "Failed") && c["observedGeneration"] == c["generation"]
        };
        let lost = if !all.is_empty() && all.iter().all(settled) { emulator_lost(markers).await } else { Vec::new() };
        if !lost.is_empty() && Instant::now() > deadline {
            return Err(format!(
                "the emulator lost the resources of {} and they were not provisioned again within {}",
                lost.join(", "),
                humantime::format_duration(timeout)
            ));
        }
        if !all.is_empty() && all.iter().all(settled) && lost.is_empty() {
            let running = all.iter().filter(|c| c["phase"] == "Running").count();
            return Ok((caps.clone(), format!("{running} of {} Running", all.len())));
        }
        if Instant::now() > deadline {
            let waiting: Vec<String> = all
                .iter()
                .filter(|c| !settled(c))
                .map(|c| format!("{} ({})", c["name"].as_str().unwrap_or(""), c["message"].as_str().unwrap_or("")))
                .collect();
            return Err(format!("not Running after {}: {}", humantime::format_duration(timeout), waiting.join("; ")));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Starts `nexus-dev daemon` in its own process group, logging to the project's log file.
fn spawn_daemon(h: &Here, paths: &Paths) -> anyhow::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let log = paths.open_log()?;
    let exe = std::env::current_exe()?;
    std::process::Command::new(exe)
        .arg("daemon")
        .arg("--project-dir")
        .arg(&h.project.dir)
        .arg("--profile")
        .arg(h.profile.origin_arg())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(Into::into)
}

pub async fn run_daemon(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let project = crate::input::project::discover(&args.project_dir)?;
    let profile = crate::input::profile::resolve(&args.profile, &project.dir)?;
    let id = ProjectId::from_dir(&project.dir);
    let paths = Paths::for_project(id.as_str());
    let lock = daemon::lock(&paths)?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let d = Arc::new(Daemon {
        project,
        project_id: id.as_str().to_owned(),
        profile: profile.profile,
        client,
        paths,
        resync: Duration::from_secs(60),
        emulator_check: Duration::from_secs(5),
        forwards: Default::default(),
    });
    d.run(&lock, super::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_down(args: DownArgs) -> anyhow::Result<ExitCode> {
    let h = here(args.profile.as_deref())?;
    let profile = &h.profile.profile;
    let paths = Paths::for_project(h.id.as_str());
    if daemon::running(&paths) {
        let _ = protocol::call(&paths.socket, &Request::Shutdown, |_| {}).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while daemon::running(&paths) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("  ✓ daemon stopped");
    } else {
        eprintln!("  - daemon was not running");
    }
    let engine = Engine::connect(h.id.clone()).await?;
    if args.purge {
        if profile.cluster.provider == ClusterProvider::Kind {
            let name = profile.cluster.name.clone().unwrap_or_else(|| "nexus-dev".into());
            match kind::KindCli::locate() {
                Ok(cli) => {
                    let kubeconfig = profile.cluster.kubeconfig.as_ref().map(PathBuf::from);
                    let o = kind::delete_cluster(&cli, &engine, &name, kubeconfig.as_deref()).await?;
                    eprintln!("  ✓ kind cluster {name}: {o}");
                }
                Err(e) => eprintln!("  ! kind cluster {name} not deleted: {e}"),
            }
        }
        for (name, outcome) in engine.purge_owned().await? {
            eprintln!("  ✓ {name}: {outcome}");
        }
        let _ = std::fs::remove_dir_all(&paths.dir);
    } else {
        for (name, outcome) in engine.stop_owned().await? {
            eprintln!("  ✓ {name}: {outcome}");
        }
        eprintln!("  the cluster and the volumes are kept; `nexus-dev down --purge` removes them too");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_doctor(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let (profile, id, needed) = match crate::input::project::discover(&cwd) {
        Ok(project) => {
            let name = crate::input::settings::profile_name(args.profile.as_deref(), Some(&project));
            let profile = crate::input::profile::resolve(&name, &project.dir)?.profile;
            let needed = crate::input::spec::read_sources(&project.spec_paths())
                .ok()
                .and_then(|s| crate::input::spec::load_specs(&s).ok())
                .map(|specs| {
                    specs
                        .iter()
                        .flat_map(|s| crate::model::plan::build(&s.cr, &profile).aws_services())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            (profile, ProjectId::from_dir(&project.dir), needed)
        }
        Err(_) => {
            let profile = crate::input::profile::resolve(args.profile.as_deref().unwrap_or("local"), &cwd)?.profile;
            (profile, ProjectId::from_dir(&cwd), Vec::new())
        }
    };
    let facts = preflight::gather(&profile, &GatherOptions::new(id, needed)).await;
    let checks = preflight::evaluate(&profile, &facts);
    let blocked = preflight::blocks_up(&checks);
    match args.output {
        super::apply::Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"profile": profile.name, "ok": !blocked, "checks": checks})
            )?
        ),
        super::apply::Output::Text => {
            for c in &checks {
                let mark = match c.status {
                    Status::Ok => "✓",
                    Status::Warn => "!",
                    Status::Fail => "✗",
                };
                println!("{mark} {:<24} {}", c.name, c.detail);
                if c.status != Status::Ok
                    && let Some(f) = &c.fix
                {
                    println!("  {:<24} fix: {f}", "");
                }
            }
            println!(
                "{}",
                if blocked {
                    "`nexus-dev up` cannot start until the ✗ items above are fixed"
                } else {
                    "ready for `nexus-dev up`"
                }
            );
        }
    }
    Ok(if blocked { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub async fn run_logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let h = here(None)?;
    let paths = Paths::for_project(h.id.as_str());
    let req = Request::Logs { capability: args.capability, component: args.component, follow: args.follow };
    protocol::call(&paths.socket, &req, |r| {
        if let Some(l) = &r.line {
            println!("{l}");
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `status` through the project's daemon, when one runs here.
pub async fn status_via_daemon() -> Option<anyhow::Result<serde_json::Value>> {
    let h = here(None).ok()?;
    let paths = Paths::for_project(h.id.as_str());
    if !daemon::running(&paths) {
        return None;
    }
    Some(
        protocol::call(&paths.socket, &Request::Status, |_| {})
            .await
            .map(|r| r.data.unwrap_or_default())
            .map_err(Into::into),
    )
}
