//! The operator's image (issue 19): the running nexus-dev binary on a minimal base, run as a
//! non-root user, with OCI labels for its version and commit. Built through the Docker Engine
//! as watch mode builds a component (`watch::build`), pushed by digest (`watch::push`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bollard::Docker;

use crate::watch::{build, push};

/// The base unless told otherwise: distroless's glibc base, running as its `nonroot` user. The
/// binary is linked against glibc (Debian 12's, as the base's).
pub const DEFAULT_BASE: &str = "gcr.io/distroless/cc-debian12:nonroot";
/// The repository under a registry (`--push REGISTRY`).
pub const REPOSITORY: &str = "nexus-dev-operator";
/// The commit nexus-dev was built from, when its build knew it.
pub const COMMIT: &str = match option_env!("NEXUS_DEV_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    /// The binary to ship (the running one).
    pub binary: PathBuf,
    pub base: String,
    /// Where the image goes: `REGISTRY/nexus-dev-operator`, or the bare name to keep it local.
    pub repository: String,
    /// Extra labels (`--label KEY=VALUE`).
    pub labels: BTreeMap<String, String>,
}

/// A built (and maybe pushed) operator image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Image {
    /// `repository:sha-…`
    pub tag: String,
    /// `repository@sha256:…` once pushed.
    pub reference: Option<String>,
    pub image_id: String,
    pub version: String,
    pub commit: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot prepare the build context: {0}")]
    Context(#[from] std::io::Error),
    #[error("the operator image did not build: {0}")]
    Build(#[from] build::BuildError),
    #[error(
        "the operator image did not push: {0}\n  hint: is the registry running and reachable (`docker push` works)?"
    )]
    Push(#[from] push::PushError),
}

/// The building machine's CA bundle (Debian's and most distributions' path).
const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Where the image keeps it: not under `/etc/nexus-dev`, where the profile is mounted.
const IMAGE_CA_BUNDLE: &str = "/usr/local/share/nexus-dev/ca-certificates.crt";

/// The Dockerfile: the binary, a non-root user, the labels, and (`ca_bundle`) the building
/// machine's CA bundle with `SSL_CERT_FILE` pointing at it, so that TLS to AWS works on a base
/// without one (the AWS SDK's rustls refuses to start with no root certificate at all). A
/// read-only root file system is the Deployment's (`readOnlyRootFilesystem`); the binary writes
/// nothing but to `/tmp`.
pub fn dockerfile(labels: &BTreeMap<String, String>, ca_bundle: bool) -> String {
    let mut all = BTreeMap::from([
        ("org.opencontainers.image.title".to_owned(), "nexus-dev operator".to_owned()),
        ("org.opencontainers.image.version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        ("org.opencontainers.image.revision".to_owned(), COMMIT.to_owned()),
        ("org.opencontainers.image.licenses".to_owned(), env!("CARGO_PKG_LICENSE").to_owned()),
    ]);
    all.extend(labels.clone());
    let labels: Vec<String> =
        all.iter().map(|(k, v)| format!("LABEL {k}={}", serde_json::Value::from(v.as_str()))).collect();
    let ca = match ca_bundle {
        true => format!("COPY ca-certificates.crt {IMAGE_CA_BUNDLE}\nENV SSL_CERT_FILE={IMAGE_CA_BUNDLE}\n"),
        false => String::new(),
    };
    format!(
        "ARG BASE\nFROM ${{BASE}}\nCOPY nexus-dev /usr/local/bin/nexus-dev\n{ca}{}\nUSER 65532:65532\nENTRYPOINT [\"/usr/local/bin/nexus-dev\"]\nCMD [\"operator\"]\n",
        labels.join("\n")
    )
}

/// Builds the image, and pushes it when its repository is in a registry (has a host part).
pub async fn build_image(docker: &Docker, req: &Request, push_it: bool) -> Result<Image, ImageError> {
    let context = tempfile::tempdir()?;
    copy_binary(&req.binary, &context.path().join("nexus-dev"))?;
    let ca_bundle = std::fs::copy(HOST_CA_BUNDLE, context.path().join("ca-certificates.crt")).is_ok();
    std::fs::write(context.path().join("Dockerfile"), dockerfile(&req.labels, ca_bundle))?;
    let built = build::build(
        docker,
        &build::Request {
            context: context.path().to_owned(),
            dockerfile: "Dockerfile".into(),
            target: None,
            build_args: BTreeMap::from([("BASE".to_owned(), req.base.clone())]),
            repository: req.repository.clone(),
        },
    )
    .await?;
    let reference = match push_it {
        true => Some(push::push(docker, &built.tag).await?.reference),
        false => None,
    };
    Ok(Image {
        tag: built.tag,
        reference,
        image_id: built.image_id,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: COMMIT.to_owned(),
    })
}

/// A hard link when it can be (the binary is large), else a copy.
fn copy_binary(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dockerfile_runs_the_binary_as_non_root_with_oci_labels() {
        let d = dockerfile(&BTreeMap::from([("org.example.team".to_owned(), "platform \"core\"".to_owned())]), true);
        assert!(d.contains("ENV SSL_CERT_FILE=/usr/local/share/nexus-dev/ca-certificates.crt"), "{d}");
        assert!(!dockerfile(&BTreeMap::new(), false).contains("SSL_CERT_FILE"));
        assert!(d.starts_with("ARG BASE\nFROM ${BASE}\n"), "{d}");
        assert!(d.contains("USER 65532:65532"));
        assert!(d.contains(&format!("LABEL org.opencontainers.image.version=\"{}\"", env!("CARGO_PKG_VERSION"))));
        assert!(d.contains("LABEL org.opencontainers.image.revision="));
        assert!(d.contains(r#"LABEL org.example.team="platform \"core\"""#), "quoted: {d}");
        assert!(d.contains("ENTRYPOINT [\"/usr/local/bin/nexus-dev\"]"));
    }
}
