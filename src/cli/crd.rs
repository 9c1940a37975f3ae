use std::process::ExitCode;

use kube::CustomResourceExt;

use crate::model::spec::NexusAICapability;

/// The CRD as YAML, ready for `kubectl apply -f -`.
pub fn crd_yaml() -> anyhow::Result<String> {
    Ok(serde_yaml::to_string(&NexusAICapability::crd())?)
}

pub fn run() -> anyhow::Result<ExitCode> {
    print!("{}", crd_yaml()?);
    Ok(ExitCode::SUCCESS)
}
