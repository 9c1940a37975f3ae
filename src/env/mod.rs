//! The local environment `up` and `down` manage (issue #6, DESIGN.md §1, §5, §8): containers of
//! the Docker Engine (the image registry and the AWS emulator), the KinD cluster and its
//! registry wiring, and the prerequisites `doctor` checks. docs/design/environment.md describes
//! names, labels, ports, volumes and what `down` and `down --purge` remove.
//!
//! Every layer has the same verbs: *ensure* (create, converge or leave alone, then read back),
//! *stop*, *remove* (not-found is success), and never acts on what nexus-dev did not create.

pub mod docker;
pub mod emulator;
pub mod kind;
pub mod owner;
pub mod preflight;
pub mod registry;

pub use docker::{ContainerSpec, Engine, Outcome};
pub use owner::ProjectId;
