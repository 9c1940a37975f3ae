//! Running a command in a Docker container, optionally with bytes on its stdin (what `docker
//! exec -i` does): used by `kind load`'s image import into a node and by live sync's
//! `afterSync`. Stdin is shut down after the last byte so the command sees EOF; output is drained
//! while stdin is written, so a chatty command cannot stall the copy; the exit code is read back.

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot create exec of `{command}` in container {container}: {source}")]
    CreateExec { container: String, command: String, source: bollard::errors::Error },
    #[error("cannot start exec of `{command}` in container {container}: {source}")]
    StartExec { container: String, command: String, source: bollard::errors::Error },
    #[error("cannot send stdin to `{command}` in container {container}: {detail}")]
    WriteStdin { container: String, command: String, detail: String },
    #[error("cannot read the result of `{command}` in container {container}: {source}")]
    InspectExec { container: String, command: String, source: bollard::errors::Error },
}

/// How a command ended: its exit code and its output (stdout and stderr, interleaved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub exit_code: i64,
    pub output: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// The last `n` lines, for error messages.
    pub fn tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self.output.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Runs `cmd` in `container` (as `user`, else the container's user) and waits for it; `stdin`,
/// when given, is streamed to it.
#[tracing::instrument(skip(docker, stdin), fields(container = %container))]
pub async fn run<S, E>(
    docker: &Docker,
    container: &str,
    cmd: &[String],
    user: Option<&str>,
    stdin: Option<S>,
) -> Result<Output, ExecError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let command = cmd.join(" ");
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdin: Some(stdin.is_some()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                user: user.map(str::to_owned),
                ..Default::default()
            },
        )
        .await
        .map_err(|source| ExecError::CreateExec {
            container: container.to_owned(),
            command: command.clone(),
            source,
        })?;
    let started = docker.start_exec(&created.id, None).await.map_err(|source| ExecError::StartExec {
        container: container.to_owned(),
        command: command.clone(),
        source,
    })?;
    let mut collected = String::new();
    if let StartExecResults::Attached { mut output, mut input } = started {
        let write = async {
            if let Some(mut stdin) = stdin {
                while let Some(chunk) = stdin.next().await {
                    let chunk = chunk.map_err(|e| e.to_string())?;
                    input.write_all(&chunk).await.map_err(|e| e.to_string())?;
                }
            }
            // EOF for the command's stdin: without it `ctr import` or `cat` waits forever.
            input.shutdown().await.map_err(|e| e.to_string())
        };
        let read = async {
            let mut text = String::new();
            while let Some(Ok(chunk)) = output.next().await {
                text.push_str(&chunk.to_string());
            }
            text
        };
        let (written, text) = tokio::join!(write, read);
        collected = text;
        if let Err(detail) = written {
            return Err(ExecError::WriteStdin {
                container: container.to_owned(),
                command,
                detail: format!("{detail}; output: {}", collected.trim()),
            });
        }
    }
    // The output closes as the process exits; the daemon may record the exit code a moment later.
    for _ in 0..200 {
        let inspected = docker.inspect_exec(&created.id).await.map_err(|source| ExecError::InspectExec {
            container: container.to_owned(),
            command: command.clone(),
            source,
        })?;
        if inspected.running != Some(true) {
            return Ok(Output { exit_code: inspected.exit_code.unwrap_or(-1), output: collected });
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(Output { exit_code: -1, output: collected })
}

/// No stdin, with the types `run` needs spelled out.
pub fn no_stdin() -> Option<futures::stream::Empty<Result<Bytes, std::io::Error>>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let o = Output { exit_code: 1, output: "a\nb\nc\n".into() };
        assert_eq!(o.tail(2), "b\nc");
        assert_eq!(o.tail(10), "a\nb\nc");
        assert!(!o.success());
    }
}
