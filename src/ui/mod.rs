//! `nexus-dev ui` (issue 16): a live dashboard served by the project's daemon on 127.0.0.1 with
//! a session token. API first: REST snapshots and one WebSocket of numbered deltas, which the
//! page (embedded, plain ES modules) reads like any script would (docs/design/ui.md).
//!
//! `model` builds the objects from the plan, the status and the live replicas; `steps` maps
//! resources to the seed's eleven steps; `graph` lays out the dependency graph; `hub` numbers
//! changes and resumes clients; `auth` checks the token and the Origin; `server` serves it all;
//! `feed` is the daemon's watch that publishes; `record` tells `nexus-dev ui` where it runs;
//! `detail` summarises its pods and events and `commands` the commands to copy; `actions` re-runs
//! a reconcile and checks AWS drift on request; `logs` keeps the project's pods' logs and serves
//! them in chunks with checkpoints; `builds` keeps watch mode's builds and syncs, which watch
//! sessions send through the daemon's socket.
//! `environments` sets the local profile beside each EKS profile: plan differences, digests, drift.
//! `client` and `condition` are the command line's side (`get`, `wait`, `status -o json`).

pub mod actions;
pub mod assets;
pub mod auth;
pub mod builds;
pub mod client;
pub mod commands;
pub mod condition;
pub mod detail;
pub mod environments;
pub mod feed;
pub mod graph;
pub mod hub;
pub mod logs;
pub mod model;
pub mod record;
pub mod server;
pub mod steps;
