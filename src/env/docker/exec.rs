//! Running a command in a running container, optionally feeding it stdin — KinD's way of
//! writing files into a node (`docker exec -i NODE cp /dev/stdin FILE`). Exec may target
//! containers nexus-dev did not create (KinD's nodes): it changes files in them, never stops
//! or removes them.

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{DockerError, Engine};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Engine {
    /// Runs `cmd` in `container`, writing `stdin` (then end-of-file) when given, and returns its
    /// exit code and output.
    #[tracing::instrument(skip(self, stdin), fields(cmd = %cmd.join(" ")))]
    pub async fn exec(&self, container: &str, cmd: &[&str], stdin: Option<&[u8]>) -> Result<ExecOutput, DockerError> {
        let shown = cmd.join(" ");
        let failed = |source| DockerError::Exec { container: container.to_owned(), cmd: shown.clone(), source };
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.to_vec()),
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(failed)?;
        let mut out = ExecOutput::default();
        match self.docker.start_exec(&created.id, None::<StartExecOptions>).await.map_err(failed)? {
            StartExecResults::Attached { mut output, mut input } => {
                if let Some(bytes) = stdin {
                    // Write and close stdin before reading: `cp /dev/stdin` ends at end-of-file.
                    let written = async {
                        input.write_all(bytes).await?;
                        input.shutdown().await
                    };
                    written.await.map_err(|e| failed(bollard::errors::Error::IOError { err: e }))?;
                }
                while let Some(chunk) = output.next().await {
                    match chunk.map_err(failed)? {
                        LogOutput::StdOut { message } | LogOutput::Console { message } => {
                            out.stdout.push_str(&String::from_utf8_lossy(&message))
                        }
                        LogOutput::StdErr { message } => out.stderr.push_str(&String::from_utf8_lossy(&message)),
                        LogOutput::StdIn { .. } => {}
                    }
                }
            }
            StartExecResults::Detached => {}
        }
        let inspected = self.docker.inspect_exec(&created.id).await.map_err(failed)?;
        out.code = inspected.exit_code.unwrap_or(-1);
        Ok(out)
    }

    /// `exec` that fails unless the command exits 0.
    pub async fn exec_ok(
        &self,
        container: &str,
        cmd: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, DockerError> {
        let out = self.exec(container, cmd, stdin).await?;
        if out.code != 0 {
            let output = if out.stderr.trim().is_empty() { out.stdout.trim() } else { out.stderr.trim() };
            return Err(DockerError::ExecFailed {
                container: container.to_owned(),
                cmd: cmd.join(" "),
                code: out.code,
                output: output.to_owned(),
            });
        }
        Ok(out)
    }
}
