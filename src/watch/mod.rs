//! Watch mode (issue #7): every save becomes the new version running in the cluster.
//!
//! Data flows one way, as everywhere in nexus-dev: file events → batch (`watcher`) → what it
//! means per component (`decide`, pure) → what to start (`state`, pure) → the work (`worker`:
//! `build` → `push` or `kind_load` → `deploy` → `rollout`, or `sync` into `target`s). The
//! `engine` is the select loop that ties them; `event` is what it reports; `link` sends the
//! reports to the project's daemon (the dashboard) and takes its rebuild requests. See
//! docs/design/watch.md.

pub mod build;
pub mod context;
pub mod decide;
pub mod deploy;
pub mod dockerignore;
pub mod engine;
pub mod event;
pub mod exec;
pub mod filter;
pub mod kind_load;
pub mod link;
pub mod preflight;
pub mod project;
pub mod push;
pub mod rollout;
pub mod setup;
pub mod state;
pub mod sync;
pub mod target;
pub mod watcher;
pub mod worker;

pub use deploy::Deploy;
pub use engine::{Engine, EngineError, Settings, Summary};
pub use event::{Event, Timings};
pub use target::SyncTo;
pub use worker::{Component, Delivery};
