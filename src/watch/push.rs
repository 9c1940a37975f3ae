//! Pushing a content-tagged image to the registry. Docker sends only the layers the registry
//! lacks; the push reports which, and the registry digest the Deployment is pinned to
//! (`repository@sha256:…`, what `promote` later retags byte for byte).

use bollard::Docker;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures::StreamExt;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("cannot push {image}: {message}")]
    PushImage { image: String, message: String },
    #[error("pushed {image} but the registry reported no digest")]
    NoDigest { image: String },
    #[error("the Docker Engine is unreachable: {source}")]
    Unreachable { source: bollard::errors::Error },
}

/// A pushed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `repository@sha256:…`
    pub reference: String,
    pub layers_pushed: usize,
    pub layers_existing: usize,
}

/// `repository:tag` split at the tag (a registry port is not a tag).
pub fn split_tag(image: &str) -> (&str, Option<&str>) {
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], Some(&image[last_slash + i + 1..])),
        None => (image, None),
    }
}

/// The digest in the push's last status line: `sha-…: digest: sha256:… size: 1234`.
fn digest_in(status: &str) -> Option<&str> {
    let rest = status.split("digest: ").nth(1)?;
    let d = rest.split_whitespace().next()?;
    let hex = d.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(d)
}

/// Pushes `image` (`repository:tag`) and returns its registry reference by digest.
#[tracing::instrument(skip(docker))]
pub async fn push(docker: &Docker, image: &str) -> Result<Pushed, PushError> {
    let (repository, tag) = split_tag(image);
    let mut options = PushImageOptionsBuilder::default();
    if let Some(t) = tag {
        options = options.tag(t);
    }
    let mut stream = docker.push_image(repository, Some(options.build()), None);
    let mut out = Pushed { reference: String::new(), layers_pushed: 0, layers_existing: 0 };
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                let status = info.status.unwrap_or_default();
                match status.as_str() {
                    "Pushed" => out.layers_pushed += 1,
                    "Layer already exists" => out.layers_existing += 1,
                    s => {
                        if let Some(d) = digest_in(s) {
                            out.reference = format!("{repository}@{d}");
                        }
                    }
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(PushError::PushImage { image: image.to_owned(), message: error });
            }
            Err(e @ bollard::errors::Error::DockerResponseServerError { .. }) => {
                return Err(PushError::PushImage { image: image.to_owned(), message: e.to_string() });
            }
            Err(source) => return Err(PushError::Unreachable { source }),
        }
    }
    if out.reference.is_empty() {
        // Older daemons may not print the digest line; the image then records it.
        let digests = docker.inspect_image(image).await.ok().and_then(|i| i.repo_digests).unwrap_or_default();
        let prefix = format!("{repository}@");
        match digests.into_iter().find(|d| d.starts_with(&prefix)) {
            Some(d) => out.reference = d,
            None => return Err(PushError::NoDigest { image: image.to_owned() }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_after_the_registry_port() {
        assert_eq!(split_tag("localhost:5001/api:sha-1"), ("localhost:5001/api", Some("sha-1")));
        assert_eq!(split_tag("localhost:5001/api"), ("localhost:5001/api", None));
        assert_eq!(split_tag("api:1"), ("api", Some("1")));
    }

    #[test]
    fn the_digest_comes_from_the_final_status() {
        let hex = "a".repeat(64);
        let line = format!("sha-0123: digest: sha256:{hex} size: 527");
        assert_eq!(digest_in(&line), Some(format!("sha256:{hex}").as_str()));
        assert_eq!(digest_in("Pushed"), None);
        assert_eq!(digest_in("x: digest: sha256:abc size: 1"), None);
    }
}
