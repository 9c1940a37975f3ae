use std::process::ExitCode;

fn main() -> ExitCode {
    // Like every Unix tool, end quietly when the reader of our output goes away
    // (`nexus-dev plan | head`); Rust's runtime ignores SIGPIPE, which turns that into a panic.
    // SAFETY: called first, before the runtime starts any thread; restoring the default
    // disposition of one signal has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(nexus_dev::cli::main()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
