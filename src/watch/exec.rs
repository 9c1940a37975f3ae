//! Running a command in a container with bytes on its stdin: `kind load`'s image import into a
//! node and live sync's `afterSync`. The implementation is the Docker layer's
//! (`env::docker::exec`), shared with KinD's node wiring.

pub use crate::env::docker::exec::{ExecError, Output, no_stdin, run};
