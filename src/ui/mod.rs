//! `nexus-dev ui` (issue 16): a live dashboard served by the project's daemon on 127.0.0.1 with
//! a session token. API first: REST snapshots and one WebSocket of numbered deltas, which the
//! page (embedded, plain ES modules) reads like any script would (docs/design/ui.md).
//!
//! `model` builds the objects from the plan, the status and the live replicas; `steps` maps
//! resources to the seed's eleven steps; `graph` lays out the dependency graph; `hub` numbers
//! changes and resumes clients; `auth` checks the token and the Origin; `server` serves it all;
//! `feed` is the daemon's watch that publishes; `record` tells `nexus-dev ui` where it runs;
//! `client` and `condition` are the command line's side (`get`, `wait`, `status -o json`);
//! `logs` keeps the project's pods' logs and serves them in chunks with checkpoints.

pub mod assets;
pub mod auth;
pub mod client;
pub mod condition;
pub mod feed;
pub mod graph;
pub mod hub;
pub mod logs;
pub mod model;
pub mod record;
pub mod server;
pub mod steps;
