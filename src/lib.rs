//! nexus-dev: a local-first development environment for Kubernetes services that depend on
//! AWS. Data flows one way: spec + profile → plan → apply → status (DESIGN.md §2).

pub mod cli;
pub mod diag;
pub mod logging;
pub mod names;
pub mod plan;
pub mod profile;
pub mod schema_check;
pub mod spec;
pub mod yaml;
