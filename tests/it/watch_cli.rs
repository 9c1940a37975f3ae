//! `nexus-dev watch --once -o json` through the binary, from a project directory: the project
//! file names the spec, a profile with the test bed's cluster and a stand-in registry, and the
//! example app; the capability is applied with `nexus-dev apply`, then watch builds, pushes,
//! records and rolls out its backend, printing JSON events on stdout and progress on stderr.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::watch::{self, Images, Registry};
use crate::support::{TestBed, unique};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

fn nexus(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nexus-dev")).args(args).current_dir(dir).output().expect("nexus-dev runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_once_builds_pushes_and_deploys_the_project() {
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let client = bed.kube().await;
    let registry = Registry::start(&docker, &bed.registry_image).await;
    let _images = Images { docker: docker.clone(), repository: format!("{}/api", registry.host()) };
    let dir = tempfile::tempdir().unwrap();
    watch::copy_example("api", dir.path());
    let cap = unique("wcli");
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal.yaml")).unwrap();
    std::fs::write(dir.path().join("cap.yaml"), example.replace("myapp", &cap)).unwrap();
    std::fs::write(
        dir.path().join("testbed.yaml"),
        format!(
            "name: testbed\ncluster: {{provider: existing, kubeconfig: \"{}\", context: {}}}\naws: {{emulator: moto, endpoint: \"{}\", account: \"123456789012\"}}\nirsa: {{issuer: \"{}\", registerOidcProvider: true}}\nregistry: {{host: \"{}\"}}\n",
            bed.kubeconfig, bed.context, bed.aws_endpoint, bed.sa_issuer, registry.host()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nexus-dev.yaml"),
        format!(
            "specs: [cap.yaml]\nprofile: testbed.yaml\ncomponents:\n  - name: api\n    component: backend\n    context: api\n    buildArgs: {{BASE_IMAGE: \"{}\"}}\n    sync: [{{from: static, to: /tmp/static}}]\n    afterSync: [\"sh\", \"-c\", \"date > /tmp/synced-at\"]\nwatch: {{debounce: 200ms}}\n",
            bed.base_image
        ),
    )
    .unwrap();

    let applied = nexus(dir.path(), &["apply", "-f", "cap.yaml", "-p", "testbed.yaml", "--wait", "--timeout", "90s"]);
    assert!(applied.status.success(), "{}", text(&applied));

    let out = nexus(dir.path(), &["watch", "--once", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout holds JSON lines only ({e}): {l}")))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["changed", "built", "delivered", "deployed", "stopped"], "{events:#?}");
    let deployed = &events[3];
    let image = deployed["image"].as_str().unwrap();
    assert!(image.starts_with(&format!("{}/api@sha256:", registry.host())), "{image}");
    assert!(deployed["timings"]["build"].as_f64().unwrap() > 0.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("api: initial build → rebuild") && stderr.contains("api: deployed"), "{stderr}");

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &format!("{cap}-dev"));
    let d = deployments.get(&format!("{cap}-dev-backend")).await.unwrap();
    let running = d.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert_eq!(running, image);

    let deleted = nexus(dir.path(), &["delete", "-f", "cap.yaml", "-p", "testbed.yaml", "--yes"]);
    assert!(deleted.status.success(), "{}", text(&deleted));
}

#[test]
fn the_example_project_file_is_valid_and_names_its_capability() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/apps/nexus-dev.yaml");
    let project = nexus_dev::input::project::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let c = project.project.components.iter().find(|c| c.name == "api").expect("the api component");
    assert_eq!((c.name.as_str(), c.component.as_str(), c.context.as_str()), ("api", "backend", "api"));
    assert_eq!(c.sync[0].to, "/tmp/static", "synced to the hardened pod's writable volume");
    let w = project.project.components.iter().find(|c| c.name == "web").expect("the web component");
    assert_eq!((w.component.as_str(), w.context.as_str()), ("frontend", "web"), "both images are built");
    assert_eq!(project.project.profile, "local", "the default: MiniStack, no token");
    let sources = nexus_dev::input::spec::read_sources(&project.spec_paths()).unwrap();
    let specs = nexus_dev::input::spec::load_specs(&sources).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(specs[0].spec().capability_name, "myapp");
}
