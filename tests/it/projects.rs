//! Issue 21 through the binary, on the test bed: several projects on one machine share one
//! environment (the emulator container of their profile, on its fixed name and port). Both reach
//! Running; `status --all` lists both; `down` in one leaves the other's capabilities and the
//! shared emulator running; the last `down` stops it; a purge keeps it while another project
//! still has it; a third project whose capability derives the same names is refused, with the
//! first project's directory named.
//!
//! The fixed names make this a test of the `fixed-container-names` group (`.config/nextest.toml`).

use std::path::Path;

use bollard::query_parameters::InspectContainerOptions;

use crate::support::TestBed;
use crate::support::project::{ScratchProject, text};

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[tokio::test]
async fn two_projects_share_one_environment_and_the_last_down_stops_it() {
    let _machine = crate::support::fixed_names_lock();
    let bed = TestBed::from_env();
    let docker = bed.docker().await;
    let emulator = || async {
        docker.inspect_container("nexus-dev-aws", None::<InspectContainerOptions>).await.ok().map(|c| {
            let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
            (c.state.and_then(|s| s.running).unwrap_or(false), labels.get("nexus.ai/project").cloned())
        })
    };
    let a = ScratchProject::new(&bed, Path::new(env!("CARGO_BIN_EXE_nexus-dev")), "pa");
    let b = a.sharing("pb");
    for p in [&a, &b] {
        let up = json(&p.nexus(&["up", "-o", "json", "--no-watch", "--timeout", "120s"]));
        assert_eq!(up["capabilities"][0]["phase"], "Running", "{up:#}");
    }
    assert_eq!(emulator().await, Some((true, Some("shared".to_owned()))), "one emulator, the machine's");

    // Every project of the machine, from anywhere.
    let all = json(&a.nexus(&["status", "--all", "-o", "json"]));
    let listed: Vec<(String, bool, String)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let phase = p["capabilities"][0]["capability"].as_str().unwrap_or("").to_owned();
            (p["dir"].as_str().unwrap().to_owned(), p["up"].as_bool().unwrap(), phase)
        })
        .collect();
    for p in [&a, &b] {
        assert!(
            listed
                .iter()
                .any(|(dir, up, cap)| Path::new(dir) == p.dir.canonicalize().unwrap() && *up && cap == &p.capability),
            "{} listed as up with {}: {all:#}",
            p.dir.display(),
            p.capability
        );
    }

    // A third project whose capability has the first one's name: refused, naming the first.
    let c = a.sharing("pc");
    let spec = std::fs::read_to_string(a.spec()).unwrap();
    std::fs::write(c.spec(), spec).unwrap();
    let refused = c.nexus(&["up", "--no-watch", "--timeout", "60s"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    let said = text(&refused);
    assert!(
        said.contains("two projects cannot provision the same resources")
            && said.contains(&a.dir.canonicalize().unwrap().display().to_string()),
        "{said}"
    );
    let down = c.nexus(&["down", "--purge"]);
    assert!(down.status.success(), "{}", text(&down));
    let a_status = json(&a.nexus(&["status", "-o", "json"]));
    assert_eq!(a_status[0]["phase"], "Running", "the refused project changed nothing of the first: {a_status:#}");

    // `down` in one project: the other's daemon, capability and emulator stay.
    let down = a.nexus(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(text(&down).contains("the shared environment keeps running"), "{}", text(&down));
    assert_eq!(emulator().await, Some((true, Some("shared".to_owned()))));
    let b_status = json(&b.nexus(&["status", "-o", "json"]));
    assert_eq!(b_status[0]["phase"], "Running", "{b_status:#}");

    // The last `down` stops it.
    let down = b.nexus(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(emulator().await, Some((false, Some("shared".to_owned()))), "{}", text(&down));

    // A purge keeps what another project still has; the last purge removes it.
    let purge = a.nexus(&["down", "--purge"]);
    assert!(purge.status.success(), "{}", text(&purge));
    assert!(
        text(&purge).contains("the shared environment (cluster, registry, emulator and their data) is kept for"),
        "{}",
        text(&purge)
    );
    assert!(emulator().await.is_some(), "kept for the other project");
    let purge = b.nexus(&["down", "--purge"]);
    assert!(purge.status.success(), "{}", text(&purge));
    assert_eq!(emulator().await, None, "{}", text(&purge));
}
