//! Building a component's image through the Docker Engine API: the context streamed as a tar,
//! build args and target from the project file, the layer cache reused (never `nocache`), and
//! the build output kept so a failure shows what the builder said. Works with the legacy builder
//! of Docker 20.10 (API 1.41): the image ID comes from the `aux` message, or from its
//! "Successfully built" line. The image is then tagged by its content: `sha-<12 hex of the ID>`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, TagImageOptionsBuilder};
use futures::StreamExt;

use super::context::{self, ContextError, Sent};
use super::dockerignore::DockerIgnore;

/// Build output lines kept for a failure report.
const KEPT_LINES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("{message}")]
    BuildImage { message: String, output: Vec<String> },
    #[error("the build ended without an image ID")]
    NoImageId { output: Vec<String> },
    #[error("cannot tag {image} as {tag}: {source}")]
    TagImage { image: String, tag: String, source: bollard::errors::Error },
    #[error("the Docker Engine is unreachable: {source}")]
    Unreachable { source: bollard::errors::Error },
}

impl BuildError {
    /// The builder's last lines, when there are any.
    pub fn output(&self) -> &[String] {
        match self {
            BuildError::BuildImage { output, .. } | BuildError::NoImageId { output } => output,
            _ => &[],
        }
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    pub context: PathBuf,
    /// Relative to the context; may point outside it.
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    /// Repository the content tag goes on, such as `localhost:5001/api`.
    pub repository: String,
}

/// A built and tagged image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// `sha256:…`
    pub image_id: String,
    /// `repository:sha-<12 hex>`
    pub tag: String,
    pub context: Sent,
    /// Steps served from the layer cache.
    pub cached_steps: usize,
}

/// The content tag of an image ID: `sha-` and the first 12 hex digits.
pub fn content_tag(image_id: &str) -> String {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    format!("sha-{}", &hex[..hex.len().min(12)])
}

/// The image ID in the legacy builder's last line, when the `aux` message is missing.
fn id_from_line(line: &str) -> Option<String> {
    line.trim().strip_prefix("Successfully built ").map(|id| id.trim().to_owned())
}

#[tracing::instrument(skip_all, fields(repository = %req.repository))]
pub async fn build(docker: &Docker, req: &Request) -> Result<Built, BuildError> {
    let ignore = DockerIgnore::load(&req.context).map_err(ContextError::from)?;
    let (body, dockerfile, sent) = context::stream(req.context.clone(), req.dockerfile.clone(), ignore);
    let args: HashMap<String, String> = req.build_args.clone().into_iter().collect();
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&dockerfile)
        .buildargs(&args)
        .rm(true)
        .forcerm(true)
        .pull("false");
    if let Some(t) = &req.target {
        options = options.target(t);
    }
    let mut stream = docker.build_image(options.build(), None, Some(bollard::body_try_stream(body)));
    let mut output: VecDeque<String> = VecDeque::new();
    let keep = |line: &str, output: &mut VecDeque<String>| {
        for l in line.lines().filter(|l| !l.trim().is_empty()) {
            if output.len() == KEPT_LINES {
                output.pop_front();
            }
            output.push_back(l.trim_end().to_owned());
        }
    };
    let mut image_id = None;
    let mut cached_steps = 0;
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = &info.stream {
                    cached_steps += s.matches("Using cache").count();
                    if let Some(id) = id_from_line(s) {
                        image_id.get_or_insert(id);
                    }
                    keep(s, &mut output);
                }
                if let Some(id) = info.aux.as_ref().and_then(|a| a.id.clone()) {
                    image_id = Some(id);
                }
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    failure = Some(e);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => failure = Some(error),
            Err(e @ bollard::errors::Error::DockerResponseServerError { .. }) => failure = Some(e.to_string()),
            Err(e) => {
                // The context stream failing shows up here too; its own error says more.
                let ctx = sent.await;
                if let Ok(Err(c)) = ctx {
                    return Err(c.into());
                }
                return Err(BuildError::Unreachable { source: e });
            }
        }
    }
    let sent = match sent.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => Sent::default(),
    };
    let output: Vec<String> = output.into();
    if let Some(message) = failure {
        return Err(BuildError::BuildImage { message: message.trim().to_owned(), output });
    }
    let Some(short) = image_id else { return Err(BuildError::NoImageId { output }) };
    // The legacy builder's line has the short ID; the full one comes from the image itself.
    let image_id = if short.starts_with("sha256:") {
        short
    } else {
        docker.inspect_image(&short).await.ok().and_then(|i| i.id).unwrap_or_else(|| format!("sha256:{short}"))
    };
    let tag = content_tag(&image_id);
    let full = format!("{}:{tag}", req.repository);
    docker
        .tag_image(&image_id, Some(TagImageOptionsBuilder::default().repo(&req.repository).tag(&tag).build()))
        .await
        .map_err(|source| BuildError::TagImage { image: image_id.clone(), tag: full.clone(), source })?;
    Ok(Built { image_id, tag: full, context: sent, cached_steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_tags_are_twelve_hex_digits_of_the_image_id() {
        assert_eq!(
            content_tag("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            "sha-0123456789ab"
        );
        assert_eq!(content_tag("abc"), "sha-abc");
    }

    #[test]
    fn the_legacy_builder_line_names_the_image() {
        assert_eq!(id_from_line("Successfully built 5a1089db5cce\n").as_deref(), Some("5a1089db5cce"));
        assert_eq!(id_from_line("Step 1/2 : FROM x"), None);
    }
}
