//! A Kubernetes client for the cluster a profile names.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::profile::{ClusterProvider, Profile};

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
            Kubeconfig::read_from(&expanded).map_err(|source| ClientError::Kubeconfig { path: path.clone(), source })?
        }
        None => Kubeconfig::read()
            .map_err(|source| ClientError::Kubeconfig { path: "$KUBECONFIG or ~/.kube/config".into(), source })?,
    };
    let context = context(profile);
    let opts = KubeConfigOptions { context: context.clone(), ..Default::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &opts)
        .await
        .map_err(|source| ClientError::Context { context: context.unwrap_or_else(|| "(current)".into()), source })?;
    Ok(Client::try_from(config)?)
}
