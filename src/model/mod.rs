//! What nexus-dev reasons about, as plain values: the capability spec, the profile it targets,
//! the project file, the names derived from a spec, who owns what, the plan, and
//! the outcome of acting on it. Pure: nothing here does I/O.

pub mod names;
pub mod outcome;
pub mod ownership;
pub mod plan;
pub mod profile;
pub mod project;
pub mod spec;
