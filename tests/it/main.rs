//! The integration tests: one binary (building one instead of twenty-odd, each linking every SDK,
//! is most of the build on two cores). Each module is one area; `support` is the test bed as
//! tests see it. They run against the real test bed (`scripts/testbed up`); a missing service
//! fails a test, never skips it (DESIGN.md §8).

// Shared with benches/, which use a few helpers no test does.
#[allow(dead_code)]
mod support;

use rstest_reuse::template;

/// The emulators every AWS test runs on, each its own case (`…::case_1_moto`,
/// `…::case_2_ministack`): `#[apply(emulators)] #[tokio::test] async fn t(#[case] emulator:
/// Emulator)` and `TestBed::on(emulator)` in the body (issue 17).
#[template]
#[rstest::rstest]
#[case::moto(Emulator::Moto)]
#[case::ministack(Emulator::Ministack)]
fn emulators(#[case] emulator: Emulator) {}

mod aws_apply;
mod ci_harness;
mod cli_cluster;
mod cli_scan;
mod controller;
mod crash;
mod env_docker;
mod env_emulator;
mod env_kind;
mod env_preflight;
mod env_registry;
mod environments;
mod hostile_input;
mod kind_e2e;
mod kind_ui;
mod loader_fuzz;
mod operator_kind;
mod ownership;
mod projects;
mod promote;
mod testbed_aws;
mod testbed_docker;
mod testbed_kubernetes;
mod ui;
mod up;
mod up_races;
mod validation;
mod watch_burst;
mod watch_cli;
mod watch_deploy;
mod watch_failure;
mod watch_kind_load;
mod watch_sync;
