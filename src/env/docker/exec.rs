//! Running a command in a running container, optionally streaming bytes to its stdin (what
//! `docker exec -i` does): KinD's way of writing files into a node (`cp /dev/stdin FILE`), watch
//! mode's `kind load` (`ctr images import`) and live sync's `afterSync`. Stdin is shut down after
//! the last byte so the command sees EOF; output is drained while stdin is written, so a chatty
//! command cannot stall the copy; the exit code is read back once the daemon has recorded it.
//! Exec may target containers nexus-dev did not create (KinD's nodes): it changes files in them,
//! never stops or removes them.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::{DockerError, Engine};

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
    let s = run_split(docker, container, cmd, user, stdin).await?;
    Ok(Output { exit_code: s.exit_code, output: s.output })
}

/// What [`run_split`] collects: the exit code, each stream, and both interleaved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Streams {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
    pub output: String,
}

/// [`run`], keeping stdout and stderr apart as well.
#[tracing::instrument(skip(docker, stdin), fields(container = %container))]
pub async fn run_split<S, E>(
    docker: &Docker,
    container: &str,
    cmd: &[String],
    user: Option<&str>,
    stdin: Option<S>,
) -> Result<Streams, ExecError>
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
    let mut collected = Streams::default();
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
            let mut s = Streams::default();
            while let Some(Ok(chunk)) = output.next().await {
                let text = String::from_utf8_lossy(chunk.as_ref()).into_owned();
                match chunk {
                    LogOutput::StdErr { .. } => s.stderr.push_str(&text),
                    LogOutput::StdOut { .. } | LogOutput::Console { .. } => s.stdout.push_str(&text),
                    LogOutput::StdIn { .. } => continue,
                }
                s.output.push_str(&text);
            }
            s
        };
        let (written, streams) = tokio::join!(write, read);
        collected = streams;
        if let Err(detail) = written {
            return Err(ExecError::WriteStdin {
                container: container.to_owned(),
                command,
                detail: format!("{detail}; output: {}", collected.output.trim()),
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
            return Ok(Streams { exit_code: inspected.exit_code.unwrap_or(-1), ..collected });
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(Streams { exit_code: -1, ..collected })
}

/// No stdin, with the types `run` needs spelled out.
pub fn no_stdin() -> Option<futures::stream::Empty<Result<Bytes, std::io::Error>>> {
    None
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Engine {
    /// Runs `cmd` in `container`, writing `stdin` (then end-of-file) when given, and returns its
    /// exit code and output.
    pub async fn exec(&self, container: &str, cmd: &[&str], stdin: Option<&[u8]>) -> Result<ExecOutput, DockerError> {
        let cmd: Vec<String> = cmd.iter().map(|s| (*s).to_owned()).collect();
        let input = stdin.map(|b| futures::stream::iter([Ok::<_, std::io::Error>(Bytes::copy_from_slice(b))]));
        let s = run_split(&self.docker, container, &cmd, None, input).await?;
        Ok(ExecOutput { code: s.exit_code, stdout: s.stdout, stderr: s.stderr })
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
