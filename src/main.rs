use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    nexus_dev::cli::main().await
}
