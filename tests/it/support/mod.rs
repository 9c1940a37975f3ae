//! The test harness: from the environment `scripts/testbed env` prints, it gives tests a
//! Kubernetes client, an AWS configuration pointed at the emulator, a Docker client, unique
//! names and namespaces, and cleanup. A missing service fails the test, naming what is
//! missing and how to start it; nothing passes by skipping (DESIGN.md §8).

pub mod browser;
pub mod cpu;
pub mod dashboard;
pub mod eks;
pub mod env;
pub mod fixtures;
pub mod kind;
pub mod project;
pub mod proxy;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
pub use nexus_dev::model::profile::Emulator;

/// The test bed as seen from a test.
#[derive(Debug, Clone)]
pub struct TestBed {
    pub kubeconfig: String,
    pub context: String,
    /// The emulator the AWS tests run against: moto unless [`TestBed::on`] says otherwise.
    pub emulator: Emulator,
    /// The endpoint of `emulator`.
    pub aws_endpoint: String,
    /// MiniStack, the LocalStack-compatible emulator, on the host (issue 17).
    pub ministack_endpoint: String,
    pub sa_issuer: String,
    pub base_image: String,
    pub registry_image: String,
    pub moto_image: String,
    /// MiniStack, built from the pinned PyPI release (LocalStack's protocol on :4566).
    pub ministack_image: String,
}

/// Region every test uses against the emulator.
pub const REGION: &str = "us-east-1";

const HOW_TO_START: &str = "start the test bed with `scripts/testbed up` and export its settings with `eval \"$(scripts/testbed env)\"` (scripts/test does both)";

fn var(name: &str, what: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{what} is missing: ${name} is not set; {HOW_TO_START}"),
    }
}

impl TestBed {
    /// Reads the test bed's settings; panics, naming the missing one, when it is not there.
    pub fn from_env() -> Self {
        nexus_dev::init_tls();
        Self {
            kubeconfig: var("NEXUS_TESTBED_KUBECONFIG", "the Kubernetes control plane"),
            context: std::env::var("NEXUS_TESTBED_KUBE_CONTEXT").unwrap_or_else(|_| "nexus-testbed".into()),
            emulator: Emulator::Moto,
            aws_endpoint: var("NEXUS_TESTBED_AWS_ENDPOINT", "the AWS emulator"),
            ministack_endpoint: var("NEXUS_TESTBED_MINISTACK_ENDPOINT", "the MiniStack emulator"),
            sa_issuer: std::env::var("NEXUS_TESTBED_SA_ISSUER")
                .unwrap_or_else(|_| "https://kubernetes.default.svc.cluster.local".into()),
            base_image: var("NEXUS_TESTBED_BASE_IMAGE", "the local base image"),
            registry_image: var("NEXUS_TESTBED_REGISTRY_IMAGE", "the stand-in registry image"),
            moto_image: var("NEXUS_TESTBED_MOTO_IMAGE", "the stand-in AWS emulator image"),
            ministack_image: var("NEXUS_TESTBED_MINISTACK_IMAGE", "the MiniStack emulator image"),
        }
    }

    /// The test bed with its AWS tests aimed at `emulator`: the AWS tests take the emulator as a
    /// parameter (issue 17), `#[values(Emulator::Moto, Emulator::Ministack)]`.
    pub fn on(emulator: Emulator) -> Self {
        let mut bed = Self::from_env();
        bed.aws_endpoint = match emulator {
            Emulator::Moto => bed.aws_endpoint,
            Emulator::Ministack => bed.ministack_endpoint.clone(),
            Emulator::Localstack => {
                panic!("the test bed has no LocalStack (it needs a token); MiniStack speaks its protocol")
            }
        };
        bed.emulator = emulator;
        bed
    }

    /// The account the emulator makes every resource in.
    pub fn account(&self) -> &'static str {
        match self.emulator {
            Emulator::Moto => "123456789012",
            Emulator::Ministack | Emulator::Localstack => "000000000000",
        }
    }

    /// A client of the test bed's API server, checked to answer.
    pub async fn kube(&self) -> Client {
        let kc = Kubeconfig::read_from(&self.kubeconfig)
            .unwrap_or_else(|e| panic!("cannot read the test bed kubeconfig {}: {e}; {HOW_TO_START}", self.kubeconfig));
        let opts = KubeConfigOptions { context: Some(self.context.clone()), ..Default::default() };
        let config = Config::from_custom_kubeconfig(kc, &opts)
            .await
            .unwrap_or_else(|e| panic!("invalid test bed kubeconfig {}: {e}", self.kubeconfig));
        let url = config.cluster_url.to_string();
        let client = Client::try_from(config).unwrap_or_else(|e| panic!("cannot build a Kubernetes client: {e}"));
        if let Err(e) = client.apiserver_version().await {
            panic!("the Kubernetes API server of the test bed does not answer at {url}: {e}; {HOW_TO_START}");
        }
        client
    }

    /// AWS settings pointed at the emulator, checked to answer.
    pub async fn aws(&self) -> SdkConfig {
        let probe = match self.emulator {
            Emulator::Moto => "/moto-api/",
            Emulator::Ministack | Emulator::Localstack => "/_localstack/health",
        };
        let health = format!("{}{probe}", self.aws_endpoint.trim_end_matches('/'));
        if let Err(e) = reqwest::get(&health).await.and_then(|r| r.error_for_status()) {
            panic!("the AWS emulator does not answer at {}: {e}; {HOW_TO_START}", self.aws_endpoint);
        }
        nexus_dev::provision::aws::sdk_config(&nexus_dev::provision::aws::Target::emulator(&self.aws_endpoint, REGION))
            .await
    }

    /// A Docker Engine client, checked to answer.
    pub async fn docker(&self) -> bollard::Docker {
        let docker = bollard::Docker::connect_with_defaults()
            .unwrap_or_else(|e| panic!("cannot connect to the Docker Engine: {e}; {HOW_TO_START}"));
        if let Err(e) = docker.ping().await {
            panic!("the Docker Engine does not answer: {e}; {HOW_TO_START}");
        }
        docker
    }

    /// The kind node image the test bed builds (`NEXUS_TESTBED_KIND_NODE_IMAGE`), for tests on
    /// real kind clusters; panics, saying how to build it, when it is not there.
    pub fn kind_node_image() -> String {
        var("NEXUS_TESTBED_KIND_NODE_IMAGE", "the kind node image")
    }
}

/// A name unique to this test run: `{prefix}-{6 random lowercase characters}`, a valid DNS label
/// that starts with a letter.
pub fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.write_u32(std::process::id());
    let mut n = h.finish();
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..6)
        .map(|_| {
            let c = alphabet[(n % alphabet.len() as u64) as usize] as char;
            n /= alphabet.len() as u64;
            c
        })
        .collect();
    format!("{prefix}-{suffix}")
}

/// A namespace made for one test, deleted when dropped (also when the test panics).
pub struct TestNamespace {
    pub name: String,
    bed: Option<TestBed>,
}

impl TestNamespace {
    pub async fn create(client: &Client, prefix: &str) -> Self {
        let name = unique(prefix);
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"nexus-dev/test": "true"}}
        }))
        .expect("namespace object");
        api.create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("cannot create test namespace {name}: {e}"));
        Self { name, bed: std::env::var("NEXUS_TESTBED_KUBECONFIG").ok().map(|_| TestBed::from_env()) }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        let Some(bed) = self.bed.take() else { return };
        // Drop cannot await; a short-lived runtime on another thread does the delete, with a
        // client of its own (the test's client lives on the test's runtime, blocked here).
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                let client = bed.kube().await;
                // Capabilities a test left behind would hold the namespace forever with their
                // finalizer (no controller runs any more): release them first.
                let caps: Api<nexus_dev::model::spec::NexusAICapability> = Api::namespaced(client.clone(), &name);
                if let Ok(list) = caps.list(&Default::default()).await {
                    for c in list.items {
                        let patch = serde_json::json!({"metadata": {"finalizers": null}});
                        let n = c.metadata.name.unwrap_or_default();
                        let _ =
                            caps.patch(&n, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await;
                    }
                }
                let api: Api<Namespace> = Api::all(client);
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), api.delete(&name, &DeleteParams::background())).await;
            });
        })
        .join();
    }
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout` with `what` and
/// the last state seen.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(v) => return v,
            Err(state) => state,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last state: {last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Serializes the tests that own machine-wide fixed names (the `nexus-dev-aws` and
/// `nexus-dev-registry` containers, their ports, the `nexus-dev` kind cluster) across processes:
/// nextest runs them in one test group (`.config/nextest.toml`), and under `cargo test` — or two
/// `cargo test` runs at once — this lock. Held until the returned file is dropped.
pub fn fixed_names_lock() -> std::fs::File {
    let path = std::env::temp_dir().join("nexus-dev-fixed-names.lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    file.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    file
}

/// Every user pool the emulator holds, all pages: it keeps the pools of every test before.
pub async fn user_pools(
    c: &aws_sdk_cognitoidentityprovider::Client,
) -> Vec<aws_sdk_cognitoidentityprovider::types::UserPoolDescriptionType> {
    let mut pools = Vec::new();
    let mut pages = c.list_user_pools().max_results(60).into_paginator().send();
    while let Some(page) = pages.next().await {
        pools.extend(page.expect("ListUserPools").user_pools.unwrap_or_default());
    }
    pools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_dns_labels_and_differ() {
        let a = unique("t");
        let b = unique("t");
        assert_ne!(a, b);
        assert!(nexus_dev::input::validate::dns_label(&a).is_ok(), "{a}");
        assert_eq!(a.len(), 8);
    }
}
