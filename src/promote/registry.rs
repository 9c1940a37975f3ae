//! Images copied by digest between registries with the OCI distribution API, never rebuilt and
//! never through the Docker Engine: the manifest (an index with every platform's manifest),
//! then every blob it names. A blob the target has is skipped (one HEAD), one another of its
//! repositories has is mounted, the rest is uploaded; blobs go in parallel. Every manifest and
//! blob is checked against its digest on the way, and the target's manifest is read back.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{registry}: {what}: {source}")]
    Http { registry: String, what: String, source: reqwest::Error },
    #[error("{registry}: {what}: HTTP {status}: {body}")]
    Status { registry: String, what: String, status: u16, body: String },
    #[error("{registry}: {what} has digest {got}, not {want}")]
    Digest { registry: String, what: String, want: String, got: String },
    #[error("{registry}: the manifest {what} cannot be read: {reason}")]
    Manifest { registry: String, what: String, reason: String },
    #[error("{0}")]
    Setup(String),
}

/// One registry, as `scheme://host[:port]`, with its credentials.
#[derive(Debug, Clone)]
pub struct Registry {
    base: String,
    authorization: Option<String>,
    http: reqwest::Client,
    /// Which repository of this registry holds a blob (for cross-repository mounts).
    seen: std::sync::Arc<Mutex<HashMap<String, String>>>,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Copied {
    pub manifests_copied: usize,
    pub manifests_present: usize,
    pub blobs_copied: usize,
    pub blobs_mounted: usize,
    pub blobs_present: usize,
    pub bytes_copied: u64,
}

impl Copied {
    fn add(&mut self, o: &Copied) {
        self.manifests_copied += o.manifests_copied;
        self.manifests_present += o.manifests_present;
        self.blobs_copied += o.blobs_copied;
        self.blobs_mounted += o.blobs_mounted;
        self.blobs_present += o.blobs_present;
        self.bytes_copied += o.bytes_copied;
    }
}

/// `sha256:` + the hex SHA-256 of `data`.
pub fn digest_of(data: &[u8]) -> String {
    let sum = Sha256::digest(data);
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `scheme://host` of a registry: http for one on loopback (the local registry, a stand-in),
/// https for any other.
pub fn base_url(host: &str) -> String {
    let loopback = ["localhost", "127.0.0.1", "[::1]"].iter().any(|l| host == *l || host.starts_with(&format!("{l}:")));
    format!("{}://{host}", if loopback { "http" } else { "https" })
}

/// An image pinned by digest: `host/repository@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub host: String,
    pub repository: String,
    pub digest: String,
}

impl Pinned {
    /// Parses `host/repository@sha256:<64 hex>`; `None` for a tag or an image without a
    /// registry host.
    pub fn parse(image: &str) -> Option<Self> {
        let (name, digest) = image.split_once('@')?;
        let hex = digest.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let (host, repository) = name.split_once('/')?;
        if !(host.contains(['.', ':']) || host == "localhost") || repository.is_empty() {
            return None;
        }
        Some(Self { host: host.into(), repository: repository.into(), digest: digest.into() })
    }
}

impl std::fmt::Display for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}@{}", self.host, self.repository, self.digest)
    }
}

/// The descriptors a manifest names: an index's manifests, or an image's config and layers.
fn children(media_type: &str, body: &[u8]) -> Result<(bool, Vec<String>), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let media_type = v["mediaType"].as_str().unwrap_or(media_type);
    let digests = |key: &str| -> Vec<String> {
        v[key].as_array().into_iter().flatten().filter_map(|d| d["digest"].as_str().map(str::to_owned)).collect()
    };
    match media_type {
        OCI_INDEX | DOCKER_LIST => Ok((true, digests("manifests"))),
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let mut blobs: Vec<String> = v["config"]["digest"].as_str().map(str::to_owned).into_iter().collect();
            blobs.extend(digests("layers"));
            Ok((false, blobs))
        }
        other => Err(format!("unsupported media type {other:?}")),
    }
}

/// The descriptors under `key` of a manifest (`manifests`, `layers`, or the one `config`), by
/// digest, with their sizes.
fn sizes(body: &[u8], key: &str) -> std::collections::BTreeMap<String, u64> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let one = |d: &serde_json::Value| Some((d["digest"].as_str()?.to_owned(), d["size"].as_u64().unwrap_or(0)));
    match &v[key] {
        serde_json::Value::Array(items) => items.iter().filter_map(one).collect(),
        d @ serde_json::Value::Object(_) => one(d).into_iter().collect(),
        _ => Default::default(),
    }
}

impl Registry {
    /// `base` such as `http://localhost:5001` or `https://ID.dkr.ecr.REGION.amazonaws.com`;
    /// `basic` the user and password (ECR's `AWS` and its authorization token's password);
    /// `ca_pem` a CA to trust besides the system's.
    pub fn new(base: &str, basic: Option<(&str, &str)>, ca_pem: Option<&[u8]>) -> Result<Self, RegistryError> {
        use base64::Engine as _;
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(300));
        if let Some(pem) = ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| RegistryError::Setup(format!("the CA: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| RegistryError::Setup(e.to_string()))?;
        let authorization = basic
            .map(|(u, p)| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))));
        Ok(Self { base: base.trim_end_matches('/').to_owned(), authorization, http, seen: Default::default() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, url);
        match &self.authorization {
            Some(a) => r.header(reqwest::header::AUTHORIZATION, a),
            None => r,
        }
    }

    async fn send(&self, what: &str, r: reqwest::RequestBuilder) -> Result<reqwest::Response, RegistryError> {
        r.send().await.map_err(|source| RegistryError::Http { registry: self.base.clone(), what: what.into(), source })
    }

    async fn failed(&self, what: &str, r: reqwest::Response) -> RegistryError {
        let status = r.status().as_u16();
        let body: String = r.text().await.unwrap_or_default().chars().take(300).collect();
        RegistryError::Status { registry: self.base.clone(), what: what.into(), status, body }
    }

    /// Whether `repo` has the manifest or blob `digest` (`kind`: `manifests` or `blobs`).
    async fn has(&self, kind: &str, repo: &str, digest: &str) -> Result<bool, RegistryError> {
        let what = format!("HEAD {repo} {kind} {digest}");
        let r = self.request(reqwest::Method::HEAD, &self.url(&format!("{repo}/{kind}/{digest}")));
        let r = self.send(&what, r.header(reqwest::header::ACCEPT, ACCEPT)).await?;
        match r.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.failed(&what, r).await),
        }
    }

    /// Whether `repo` has the manifest `digest` (and so, a registry being consistent, every
    /// blob it names): one HEAD.
    pub async fn has_manifest(&self, repo: &str, digest: &str) -> Result<bool, RegistryError> {
        self.has("manifests", repo, digest).await
    }

    /// The bytes an image takes in the registry: its manifests, configs and layers, each blob
    /// counted once however many platforms share it.
    pub async fn size(&self, repo: &str, digest: &str) -> Result<u64, RegistryError> {
        let (body, media_type) = self.manifest(repo, digest).await?;
        let unreadable = |reason: String| RegistryError::Manifest {
            registry: self.base.clone(),
            what: format!("{repo}@{digest}"),
            reason,
        };
        let mut total = body.len() as u64;
        let mut manifests = vec![(body, media_type)];
        if children(&manifests[0].1, &manifests[0].0).map_err(unreadable)?.0 {
            let named = sizes(&manifests[0].0, "manifests");
            manifests = futures::future::try_join_all(named.keys().map(|d| self.manifest(repo, d))).await?;
            total += named.values().sum::<u64>();
        }
        let blobs: std::collections::BTreeMap<String, u64> =
            manifests.iter().flat_map(|(b, _)| sizes(b, "config").into_iter().chain(sizes(b, "layers"))).collect();
        Ok(total + blobs.values().sum::<u64>())
    }

    /// The manifest `reference` of `repo`: its bytes and media type, checked against `reference`
    /// when it is a digest.
    pub async fn manifest(&self, repo: &str, reference: &str) -> Result<(Bytes, String), RegistryError> {
        let what = format!("manifest {repo}@{reference}");
        let r = self.request(reqwest::Method::GET, &self.url(&format!("{repo}/manifests/{reference}")));
        let r = self.send(&what, r.header(reqwest::header::ACCEPT, ACCEPT)).await?;
        if !r.status().is_success() {
            return Err(self.failed(&what, r).await);
        }
        let media_type =
            r.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = r.bytes().await.map_err(|source| RegistryError::Http {
            registry: self.base.clone(),
            what: what.clone(),
            source,
        })?;
        if reference.starts_with("sha256:") && digest_of(&body) != reference {
            return Err(RegistryError::Digest {
                registry: self.base.clone(),
                what,
                want: reference.into(),
                got: digest_of(&body),
            });
        }
        Ok((body, media_type))
    }

    async fn blob(&self, repo: &str, digest: &str) -> Result<Bytes, RegistryError> {
        let what = format!("blob {repo}@{digest}");
        let r =
            self.send(&what, self.request(reqwest::Method::GET, &self.url(&format!("{repo}/blobs/{digest}")))).await?;
        if !r.status().is_success() {
            return Err(self.failed(&what, r).await);
        }
        let body = r.bytes().await.map_err(|source| RegistryError::Http {
            registry: self.base.clone(),
            what: what.clone(),
            source,
        })?;
        if digest_of(&body) != digest {
            return Err(RegistryError::Digest {
                registry: self.base.clone(),
                what,
                want: digest.into(),
                got: digest_of(&body),
            });
        }
        Ok(body)
    }

    /// Mounts `digest` into `repo` from `from`; false when the registry started an upload
    /// instead (it does not have the blob there, or does not mount).
    async fn mount(&self, repo: &str, digest: &str, from: &str) -> Result<bool, RegistryError> {
        let what = format!("mount {digest} from {from} into {repo}");
        let url = self.url(&format!("{repo}/blobs/uploads/?mount={digest}&from={from}"));
        let r = self.send(&what, self.request(reqwest::Method::POST, &url)).await?;
        match r.status().as_u16() {
            201 => Ok(true),
            202 => Ok(false),
            _ => Err(self.failed(&what, r).await),
        }
    }

    /// Uploads `data` as blob `digest` of `repo` (one POST, one monolithic PUT).
    pub async fn upload(&self, repo: &str, digest: &str, data: Bytes) -> Result<(), RegistryError> {
        let what = format!("upload {repo}@{digest}");
        let r =
            self.send(&what, self.request(reqwest::Method::POST, &self.url(&format!("{repo}/blobs/uploads/")))).await?;
        if r.status().as_u16() != 202 {
            return Err(self.failed(&what, r).await);
        }
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::Setup(format!("{}: {what}: no Location", self.base)))?;
        let mut url = if location.starts_with('/') { format!("{}{location}", self.base) } else { location.to_owned() };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={digest}"));
        let put = self
            .request(reqwest::Method::PUT, &url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(data);
        let r = self.send(&what, put).await?;
        if r.status().as_u16() != 201 {
            return Err(self.failed(&what, r).await);
        }
        Ok(())
    }

    /// Puts `body` as manifest `digest` of `repo`; the digest the registry answers.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Bytes,
    ) -> Result<String, RegistryError> {
        let what = format!("put manifest {repo}@{reference}");
        let put = self
            .request(reqwest::Method::PUT, &self.url(&format!("{repo}/manifests/{reference}")))
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(body.clone());
        let r = self.send(&what, put).await?;
        if r.status().as_u16() != 201 {
            return Err(self.failed(&what, r).await);
        }
        Ok(r.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| digest_of(&body)))
    }
}

/// Copies the manifest `digest` of `src_repo` (an index with all its platforms) and every blob
/// it names to `dst_repo`: the blobs first, each once however many platforms share it, in
/// parallel; then the platform manifests, then the index. Afterwards the target's manifest is
/// read back and its digest checked.
pub async fn copy(
    src: &Registry,
    src_repo: &str,
    digest: &str,
    dst: &Registry,
    dst_repo: &str,
) -> Result<Copied, RegistryError> {
    let mut done = Copied::default();
    if dst.has("manifests", dst_repo, digest).await? {
        // A registry accepts a manifest only once everything it names is there.
        done.manifests_present += 1;
        return Ok(done);
    }
    let unreadable = |what: &str, reason: String| RegistryError::Manifest {
        registry: src.base.clone(),
        what: format!("{src_repo}@{what}"),
        reason,
    };
    let (body, media_type) = src.manifest(src_repo, digest).await?;
    let (is_index, named) = children(&media_type, &body).map_err(|r| unreadable(digest, r))?;
    // The manifests to put, platforms before the index, and the blobs they name.
    let mut manifests = Vec::new();
    let mut blobs = std::collections::BTreeSet::new();
    if is_index {
        let platforms = futures::future::try_join_all(named.iter().map(|d| src.manifest(src_repo, d))).await?;
        for (d, (body, media_type)) in named.into_iter().zip(platforms) {
            let (nested, names) = children(&media_type, &body).map_err(|r| unreadable(&d, r))?;
            if nested {
                return Err(unreadable(&d, "an index inside an index is not copied".into()));
            }
            blobs.extend(names);
            manifests.push((d, media_type, body));
        }
    } else {
        blobs.extend(named);
    }
    manifests.push((digest.to_owned(), media_type, body));
    let parts = futures::future::try_join_all(blobs.iter().map(|b| copy_blob(src, src_repo, b, dst, dst_repo))).await?;
    parts.iter().for_each(|p| done.add(p));
    for (d, media_type, body) in manifests {
        let media_type = if media_type.is_empty() { OCI_MANIFEST.to_owned() } else { media_type };
        let put = dst.put_manifest(dst_repo, &d, &media_type, body).await?;
        if put != d {
            let what = format!("manifest {dst_repo}");
            return Err(RegistryError::Digest { registry: dst.base.clone(), what, want: d, got: put });
        }
        done.manifests_copied += 1;
    }
    dst.manifest(dst_repo, digest).await?;
    Ok(done)
}

async fn copy_blob(
    src: &Registry,
    src_repo: &str,
    digest: &str,
    dst: &Registry,
    dst_repo: &str,
) -> Result<Copied, RegistryError> {
    let mut done = Copied::default();
    if dst.has("blobs", dst_repo, digest).await? {
        done.blobs_present += 1;
    } else {
        let elsewhere = dst.seen.lock().unwrap_or_else(|e| e.into_inner()).get(digest).cloned();
        match elsewhere {
            Some(from) if from != dst_repo && dst.mount(dst_repo, digest, &from).await? => done.blobs_mounted += 1,
            _ => {
                let data = src.blob(src_repo, digest).await?;
                done.bytes_copied += data.len() as u64;
                dst.upload(dst_repo, digest, data).await?;
                done.blobs_copied += 1;
            }
        }
    }
    dst.seen.lock().unwrap_or_else(|e| e.into_inner()).insert(digest.to_owned(), dst_repo.to_owned());
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_images_name_a_registry_a_repository_and_a_digest() {
        let hex = "ab".repeat(32);
        let p = Pinned::parse(&format!("localhost:5001/team/api@sha256:{hex}")).unwrap();
        assert_eq!((p.host.as_str(), p.repository.as_str()), ("localhost:5001", "team/api"));
        assert_eq!(p.to_string(), format!("localhost:5001/team/api@sha256:{hex}"));
        assert!(Pinned::parse("localhost:5001/api:latest").is_none());
        assert!(Pinned::parse(&format!("api@sha256:{hex}")).is_none(), "no registry host");
        assert!(Pinned::parse("localhost:5001/api@sha256:abc").is_none());
        assert_eq!(base_url("localhost:5001"), "http://localhost:5001");
        assert_eq!(base_url("127.0.0.1:40001"), "http://127.0.0.1:40001");
        assert_eq!(base_url("1234.dkr.ecr.eu-west-1.amazonaws.com"), "https://1234.dkr.ecr.eu-west-1.amazonaws.com");
    }

    #[test]
    fn sizes_count_configs_layers_and_platform_manifests() {
        let image = br#"{"config":{"digest":"sha256:c","size":5},"layers":[{"digest":"sha256:l1","size":7}]}"#;
        assert_eq!(sizes(image, "config").into_iter().collect::<Vec<_>>(), [("sha256:c".to_owned(), 5)]);
        assert_eq!(sizes(image, "layers").values().sum::<u64>(), 7);
        assert!(sizes(image, "manifests").is_empty());
    }

    #[test]
    fn digests_are_sha256_of_the_bytes() {
        assert_eq!(digest_of(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn an_index_names_manifests_and_an_image_its_config_and_layers() {
        let index = br#"{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:a"},{"digest":"sha256:b"}]}"#;
        assert_eq!(children("", index).unwrap(), (true, vec!["sha256:a".into(), "sha256:b".into()]));
        let image = br#"{"config":{"digest":"sha256:c"},"layers":[{"digest":"sha256:l1"},{"digest":"sha256:l2"}]}"#;
        assert_eq!(
            children(DOCKER_MANIFEST, image).unwrap(),
            (false, vec!["sha256:c".into(), "sha256:l1".into(), "sha256:l2".into()])
        );
        assert!(children("application/x-nope", b"{}").is_err());
    }
}
