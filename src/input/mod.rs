//! Reading what users write: YAML with positions, schema checks, diagnostics that name the
//! file, line and field, and the loading of specs, profiles and the project file.

pub mod diag;
#[cfg(test)]
pub(crate) mod examples;
pub mod layers;
pub mod profile;
pub mod project;
pub mod schema_check;
pub mod settings;
pub mod spec;
pub mod validate;
pub mod yaml;
