//! nexus-dev: a local-first development environment for Kubernetes services that depend on
//! AWS. Data flows one way: spec + profile → plan → apply → status (DESIGN.md §2).

pub mod ci;
pub mod cli;
pub mod daemon;
pub mod env;
pub mod input;
pub mod logging;
pub mod model;
pub mod operator;
pub mod promote;
pub mod provision;
pub mod reconcile;
pub mod session;
pub mod ui;
pub mod watch;

/// Selects the TLS crypto provider once per process. The AWS SDK, kube and reqwest all use
/// rustls; with a single explicit provider none of them has to guess.
pub fn init_tls() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// An error with its causes, `outer: cause: root`: many errors' Display stops at the outermost
/// one (reqwest's "error sending request", the SDK's "dispatch failure"), while the cause
/// ("connection refused") is what a user needs.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
