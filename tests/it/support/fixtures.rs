//! Test objects, built from the shipped examples and changed with chainable setters.

use nexus_dev::input::diag::Source;
use nexus_dev::input::spec::load_specs;
use nexus_dev::model::profile::{Aws, Cluster, ClusterProvider, IngressProfile, Irsa, Profile, Registry};
use nexus_dev::model::spec::{DeletionPolicy, NexusAICapability};

use super::TestBed;

const EXAMPLES: &[(&str, &str)] = &[
    ("minimal", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/minimal.yaml"))),
    ("nexus-ai-complete", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/nexus-ai-complete.yaml"))),
    ("with-cognito", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/with-cognito.yaml"))),
    ("hardened", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hardened.yaml"))),
];

/// A capability to test with: `Spec::example("nexus-ai-complete").capability("t-x1").build()`.
#[derive(Debug, Clone)]
pub struct Spec(NexusAICapability);

impl Spec {
    /// One of the shipped examples (`minimal`, `nexus-ai-complete`, `with-cognito`, `hardened`).
    pub fn example(name: &str) -> Self {
        let (_, text) = EXAMPLES.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no example {name}"));
        let mut specs = load_specs(&[Source::new(format!("examples/{name}.yaml"), *text)]).expect("examples are valid");
        Self(specs.remove(0).cr)
    }

    pub fn capability(mut self, name: &str) -> Self {
        self.0.spec.capability_name = name.to_owned();
        self.0.metadata.name = Some(format!("{name}-{}", self.0.spec.environment));
        self.0.metadata.namespace = Some(format!("{name}-{}", self.0.spec.environment));
        self
    }

    pub fn region(mut self, region: &str) -> Self {
        self.0.spec.region = region.to_owned();
        self
    }

    pub fn cognito(mut self, on: bool) -> Self {
        self.0.spec.enable_cognito = on;
        self
    }

    pub fn deletion_policy(mut self, p: DeletionPolicy) -> Self {
        self.0.spec.deletion_policy = p;
        self
    }

    pub fn build(self) -> NexusAICapability {
        self.0
    }
}

/// A profile aimed at the test bed: its control plane as an existing cluster, its emulator.
pub fn testbed_profile(bed: &TestBed) -> Profile {
    Profile {
        name: "testbed".into(),
        description: None,
        production: false,
        cluster: Cluster {
            provider: ClusterProvider::Existing,
            name: None,
            config: None,
            image: None,
            kubeconfig: Some(bed.kubeconfig.clone()),
            context: Some(bed.context.clone()),
        },
        aws: Aws {
            emulator: Some(bed.emulator),
            endpoint: Some(bed.aws_endpoint.clone()),
            pod_endpoint: None,
            sts_endpoint: None,
            account: bed.account().into(),
            credentials_profile: None,
            auth_token_env: None,
        },
        registry: Some(Registry { host: "localhost:5001".into(), rewrite_images: false }),
        ingress: IngressProfile::default(),
        irsa: Irsa { issuer: Some(bed.sa_issuer.clone()), register_oidc_provider: true },
    }
}

/// [`testbed_profile`] as a file `testbed.yaml` in `dir`, for driving the binary; its path.
pub fn testbed_profile_file(dir: &std::path::Path, bed: &TestBed) -> String {
    testbed_profile_file_via(dir, bed, &bed.aws_endpoint)
}

/// [`testbed_profile_file`] with AWS reached at `aws_endpoint` (a proxy in front of the emulator).
pub fn testbed_profile_file_via(dir: &std::path::Path, bed: &TestBed, aws_endpoint: &str) -> String {
    let path = dir.join("testbed.yaml");
    let text = format!(
        "name: testbed\ncluster: {{provider: existing, kubeconfig: \"{}\", context: {}}}\naws: {{emulator: {}, endpoint: \"{}\", account: \"{}\"}}\nirsa: {{issuer: \"{}\", registerOidcProvider: true}}\ningress: {{class: nginx, domain: localhost}}\n",
        bed.kubeconfig,
        bed.context,
        bed.emulator.as_str(),
        aws_endpoint,
        bed.account(),
        bed.sa_issuer
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path.display().to_string()
}

/// A registry of the test bed's stand-in image (Debian's docker-registry, which keeps its data
/// in /var/lib/docker-registry) on a free loopback port, with unique container and volume names.
pub fn standin_registry(bed: &TestBed, attach: Vec<String>) -> nexus_dev::env::registry::RegistryConfig {
    use nexus_dev::env::registry::{RegistryConfig, RegistryImage};
    RegistryConfig {
        name: super::unique("registry"),
        image: RegistryImage { reference: bed.registry_image.clone(), data_dir: "/var/lib/docker-registry".into() },
        host: "localhost:5001".into(),
        host_ip: "127.0.0.1".into(),
        host_port: None,
        volume: super::unique("registry-data"),
        attach,
        ready_timeout: std::time::Duration::from_secs(60),
    }
}
