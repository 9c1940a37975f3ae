//! The capability spec: its types, how it is read from YAML, and how it is validated.

mod load;
mod types;
pub mod validate;

pub use load::{LoadError, LoadedSpec, load_specs, read_file as load_file, read_sources};
pub use types::*;

/// `apiVersion` of the custom resource.
pub const API_VERSION: &str = "nexus.ai/v1";
pub const KIND: &str = "NexusAICapability";
