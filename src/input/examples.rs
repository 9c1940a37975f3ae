//! The shipped example specs and profiles, for unit tests (integration tests have their own
//! builders in `tests/it/support`).

use super::diag::Source;
use super::spec::{LoadedSpec, load_specs};
use crate::model::profile::Profile;
use crate::model::spec::NexusAICapability;

const EXAMPLES: &[(&str, &str)] = &[
    ("minimal", include_str!("../../examples/minimal.yaml")),
    ("nexus-ai-complete", include_str!("../../examples/nexus-ai-complete.yaml")),
    ("with-cognito", include_str!("../../examples/with-cognito.yaml")),
    ("hardened", include_str!("../../examples/hardened.yaml")),
];

/// The names of the shipped examples.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    EXAMPLES.iter().map(|(n, _)| *n)
}

/// `examples/{name}.yaml`, loaded and validated.
pub(crate) fn loaded(name: &str) -> LoadedSpec {
    let name = name.trim_end_matches(".yaml");
    let (_, text) = EXAMPLES.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no example {name}"));
    load_specs(&[Source::new(format!("examples/{name}.yaml"), *text)]).expect("examples are valid").remove(0)
}

/// The custom resource of `examples/{name}.yaml`.
pub(crate) fn example(name: &str) -> NexusAICapability {
    loaded(name).cr
}

/// A shipped profile (`local`, `local-localstack`, `local-moto`, `eks-staging`, `eks-prod`).
pub(crate) fn profile(name: &str) -> Profile {
    super::profile::built_in(name).unwrap_or_else(|| panic!("no built-in profile {name}"))
}
