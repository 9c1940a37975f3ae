//! A Kubernetes client for the cluster a profile names.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::model::profile::{ClusterProvider, Profile};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot read kubeconfig {path}: {source}\n  hint: check `cluster.kubeconfig` in the profile, or $KUBECONFIG"
    )]
    Kubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error(
        "cannot use kubeconfig context `{context}`: {source}\n  hint: list contexts with `kubectl config get-contexts`; set `cluster.context` in the profile"
    )]
    Context { context: String, source: kube::config::KubeconfigError },
    #[error("cannot create a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    #[error("kubeconfig {path} {problem}\n  hint: check `cluster.kubeconfig` in the profile, or $KUBECONFIG")]
    Unreadable { path: String, problem: String },
}

/// The largest kubeconfig read; real ones are a few KiB, even with many clusters.
const MAX_KUBECONFIG_BYTES: u64 = 16 << 20;

/// Refuses what is not a regular file of a sane size before the whole of it is read (a path
/// such as `/dev/zero` would otherwise be read until memory runs out).
fn check_readable(path: &str) -> Result<(), ClientError> {
    let problem = match std::fs::metadata(path) {
        // Missing files are left to the kubeconfig reader, which says so in its own words.
        Err(_) => return Ok(()),
        Ok(m) if !m.is_file() => "is not a regular file".to_owned(),
        Ok(m) if m.len() > MAX_KUBECONFIG_BYTES => format!("is larger than {} MiB", MAX_KUBECONFIG_BYTES >> 20),
        Ok(_) => return Ok(()),
    };
    Err(ClientError::Unreadable { path: path.to_owned(), problem })
}

/// The kubeconfig context of a profile: its own, or `kind-{name}` for KinD clusters.
pub fn context(profile: &Profile) -> Option<String> {
    profile.cluster.context.clone().or_else(|| match profile.cluster.provider {
        ClusterProvider::Kind => profile.cluster.name.as_ref().map(|n| format!("kind-{n}")),
        _ => None,
    })
}

pub async fn for_profile(profile: &Profile) -> Result<Client, ClientError> {
    let kubeconfig = match &profile.cluster.kubeconfig {
        Some(path) => {
            let expanded = match path.strip_prefix("~/") {
                Some(rest) => std::env::var("HOME").map(|h| format!("{h}/{rest}")).unwrap_or_else(|_| path.clone()),
                None => path.clone(),
            };
            check_readable(&expanded)?;
            Kubeconfig::read_from(&expanded).map_err(|source| ClientError::Kubeconfig { path: path.clone(), source })?
        }
        None => {
            for p in std::env::var("KUBECONFIG").unwrap_or_default().split(':').filter(|p| !p.is_empty()) {
                check_readable(p)?;
            }
            Kubeconfig::read()
                .map_err(|source| ClientError::Kubeconfig { path: "$KUBECONFIG or ~/.kube/config".into(), source })?
        }
    };
    let context = context(profile);
    let opts = KubeConfigOptions { context: context.clone(), ..Default::default() };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &opts)
        .await
        .map_err(|source| ClientError::Context { context: context.unwrap_or_else(|| "(current)".into()), source })?;
    // A cluster that does not accept a connection in 10 s is not there. Reads keep kube's
    // default (295 s): watches are long polls that may carry no event for minutes.
    config.connect_timeout = Some(std::time::Duration::from_secs(10));
    Ok(Client::try_from(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_huge_files_are_refused_before_reading() {
        let err = check_readable("/dev/zero").unwrap_err().to_string();
        assert!(err.contains("/dev/zero is not a regular file"), "{err}");
        assert!(check_readable("/no/such/kubeconfig").is_ok(), "missing files are the reader's to report");
        let f = tempfile::NamedTempFile::new().unwrap();
        f.as_file().set_len(MAX_KUBECONFIG_BYTES + 1).unwrap();
        let err = check_readable(f.path().to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("larger than 16 MiB"), "{err}");
    }
}
