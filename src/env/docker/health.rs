//! Health waits: bounded, polling an HTTP endpoint through the container's published port, and
//! failing with the last error and the container's last log lines (the reason is nearly always
//! in them). A container that exits while being waited for fails at once.

use std::time::{Duration, Instant};

use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;

use super::container::ContainerInfo;
use super::{DockerError, Engine, LastLogs};

/// An HTTP GET that answers 2xx once the service is ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub container_port: u16,
    /// Path with a leading slash, such as `/v2/`.
    pub path: String,
}

impl Probe {
    pub fn http(container_port: u16, path: impl Into<String>) -> Self {
        Self { container_port, path: path.into() }
    }

    /// The probe's URL on the host for `container`.
    pub fn url(&self, container: &ContainerInfo) -> Option<String> {
        let (ip, port) = container.host_address(self.container_port)?;
        let host = if ip.contains(':') { format!("[{ip}]") } else { ip };
        Some(format!("http://{host}:{port}{}", self.path))
    }
}

/// Log lines attached to failures.
const LOG_LINES: usize = 20;

impl Engine {
    /// Waits until `probe` answers 2xx for container `name`, at most `timeout`. Returns the
    /// base URL (`http://ip:port`) the host reaches the service at.
    #[tracing::instrument(skip(self, probe), fields(path = %probe.path))]
    pub async fn wait_healthy(&self, name: &str, probe: &Probe, timeout: Duration) -> Result<String, DockerError> {
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(2)).build().map_err(|e| DockerError::Unhealthy {
                name: name.to_owned(),
                waited: Duration::ZERO,
                last_error: e.to_string(),
                logs: LastLogs::default(),
            })?;
        let started = Instant::now();
        let mut restarts_before = None;
        loop {
            let Some(c) = self.inspect_container(name).await? else {
                return Err(DockerError::Missing { kind: "container", name: name.to_owned() });
            };
            let state = c.state.clone().unwrap_or_default();
            // A restart policy hides a crash behind "restarting": any restart while waiting is
            // a failed start, reported at once rather than after the timeout.
            let restarts = c.restart_count.unwrap_or(0);
            let crashed = state.restarting.unwrap_or(false) || restarts > *restarts_before.get_or_insert(restarts);
            if !state.running.unwrap_or(false) || crashed {
                let status = if crashed {
                    "restarting".to_owned()
                } else {
                    state.status.map(|s| s.to_string()).unwrap_or_else(|| "not running".into())
                };
                let what = match (state.exit_code, state.error.filter(|e| !e.is_empty())) {
                    (_, Some(err)) => format!("{status}: {err}"),
                    (Some(code), None) if crashed => format!("{status} after exit code {code}"),
                    (Some(code), None) => format!("{status}, exit code {code}"),
                    (None, None) => status,
                };
                return Err(DockerError::Exited {
                    name: name.to_owned(),
                    state: what,
                    logs: self.last_logs(name).await,
                });
            }
            let info = ContainerInfo::from_inspect(&c);
            let last_error = match probe.url(&info) {
                None => {
                    return Err(DockerError::NoPublishedPort {
                        name: name.to_owned(),
                        container_port: probe.container_port,
                    });
                }
                Some(url) => match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        tracing::debug!(after = ?started.elapsed(), "healthy");
                        return Ok(url.trim_end_matches(&probe.path).to_owned());
                    }
                    Ok(r) => format!("GET {url}: HTTP {}", r.status()),
                    Err(e) => format!("GET {url}: {}", crate::error_chain(&e)),
                },
            };
            if started.elapsed() >= timeout {
                return Err(DockerError::Unhealthy {
                    name: name.to_owned(),
                    waited: timeout,
                    last_error,
                    logs: self.last_logs(name).await,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The last lines container `name` wrote to stdout and stderr (empty when unreadable:
    /// this only decorates another error).
    pub async fn last_logs(&self, name: &str) -> LastLogs {
        let tail = LOG_LINES.to_string();
        let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&tail).build();
        let chunks: Vec<String> = self
            .docker
            .logs(name, Some(opts))
            .filter_map(|c| async move { c.ok().map(|c| String::from_utf8_lossy(&c.into_bytes()).into_owned()) })
            .collect()
            .await;
        let text = chunks.concat();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let skip = lines.len().saturating_sub(LOG_LINES);
        LastLogs(lines.into_iter().skip(skip).collect())
    }
}
