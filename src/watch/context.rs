//! The build context as `docker build` sends it: a tar of the context directory without what
//! `.dockerignore` excludes (the Dockerfile and `.dockerignore` always go, as the Docker CLI
//! re-includes them), symlinks as symlinks, sorted so the same tree gives the same archive. It
//! is written on a blocking thread and streamed to the daemon while the walk goes on.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::dockerignore::{DockerIgnore, DockerignoreError};

/// Name under which a Dockerfile from outside the context travels (the Docker CLI does the same
/// with a random name).
pub const OUTSIDE_DOCKERFILE: &str = ".nexus-dev.Dockerfile";

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(transparent)]
    Dockerignore(#[from] DockerignoreError),
    #[error("cannot read the build context {path}: {source}")]
    ReadContext { path: String, source: std::io::Error },
}

/// The files `docker build` would send, relative to `context`, sorted; directories included.
pub fn entries(context: &Path, ignore: &DockerIgnore, dockerfile: &Path) -> Result<Vec<(PathBuf, bool)>, ContextError> {
    let always = [PathBuf::from(".dockerignore"), dockerfile.to_path_buf()];
    let mut out = Vec::new();
    walk(context, Path::new(""), ignore, &always, &mut out)?;
    Ok(out)
}

fn walk(
    root: &Path,
    rel: &Path,
    ignore: &DockerIgnore,
    always: &[PathBuf],
    out: &mut Vec<(PathBuf, bool)>,
) -> Result<(), ContextError> {
    let dir = root.join(rel);
    let read = std::fs::read_dir(&dir);
    let mut children: Vec<(std::ffi::OsString, bool)> = match read {
        Ok(r) => r
            .filter_map(Result::ok)
            .map(|e| (e.file_name(), e.file_type().map(|t| t.is_dir()).unwrap_or(false)))
            .collect(),
        // A directory deleted while the walk runs is simply no longer part of the context.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !rel.as_os_str().is_empty() => return Ok(()),
        Err(source) => return Err(ContextError::ReadContext { path: dir.display().to_string(), source }),
    };
    children.sort();
    for (name, is_dir) in children {
        let child = rel.join(&name);
        let excluded = ignore.excludes(&child) && !always.contains(&child);
        if is_dir {
            // Exceptions (`!`) can re-include files inside an excluded directory.
            if excluded && !ignore.has_exceptions() {
                continue;
            }
            if !excluded {
                out.push((child.clone(), true));
            }
            walk(root, &child, ignore, always, out)?;
        } else if !excluded {
            out.push((child, false));
        }
    }
    Ok(())
}

/// Bytes sent through a channel as they are written, in chunks of `CHUNK`.
struct ChannelWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

const CHUNK: usize = 256 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the build request ended"))
    }
}

/// What was sent, for the build report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub files: usize,
    pub bytes: u64,
}

/// Starts streaming the context of `context` (with `dockerfile`, relative to it, which may lie
/// outside); returns the byte stream for the build request, the Dockerfile name to give the
/// daemon, and a handle yielding what was sent.
pub fn stream(
    context: PathBuf,
    dockerfile: PathBuf,
    ignore: DockerIgnore,
) -> (
    impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    String,
    tokio::task::JoinHandle<Result<Sent, ContextError>>,
) {
    let abs_dockerfile = super::filter::normalize(&context.join(&dockerfile));
    let inside = abs_dockerfile.strip_prefix(&context).ok().map(Path::to_path_buf);
    let name = match &inside {
        Some(rel) => rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
        None => OUTSIDE_DOCKERFILE.to_owned(),
    };
    let (tx, rx) = mpsc::channel(4);
    let handle = tokio::task::spawn_blocking(move || {
        let err_tx = tx.clone();
        let result = write_tar(&context, inside.as_deref(), &abs_dockerfile, &ignore, tx);
        if let Err(e) = &result {
            // Abort the request rather than let the daemon build a truncated context.
            let _ = err_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        result
    });
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    (body, name, handle)
}

fn write_tar(
    context: &Path,
    inside: Option<&Path>,
    abs_dockerfile: &Path,
    ignore: &DockerIgnore,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<Sent, ContextError> {
    let read_err = |path: &Path, source| ContextError::ReadContext { path: path.display().to_string(), source };
    let list = entries(context, ignore, inside.unwrap_or(Path::new(OUTSIDE_DOCKERFILE)))?;
    let mut tar = tar::Builder::new(ChannelWriter { buf: Vec::with_capacity(CHUNK), tx });
    // Plain entries only: the Engine's tar reader refuses GNU sparse headers ("unhandled tar
    // header type 83"), which a file with holes (a freshly linked binary) would get.
    tar.sparse(false);
    tar.follow_symlinks(false);
    let mut sent = Sent::default();
    for (rel, _) in &list {
        let abs = context.join(rel);
        match tar.append_path_with_name(&abs, rel) {
            Ok(()) => sent.files += 1,
            // Deleted between the listing and now: the next batch of events says so.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(read_err(&abs, e)),
        }
    }
    if inside.is_none() {
        let mut f = std::fs::File::open(abs_dockerfile).map_err(|e| read_err(abs_dockerfile, e))?;
        tar.append_file(OUTSIDE_DOCKERFILE, &mut f).map_err(|e| read_err(abs_dockerfile, e))?;
        sent.files += 1;
    }
    let mut w = tar.into_inner().map_err(|e| read_err(context, e))?;
    w.flush().map_err(|e| read_err(context, e))?;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for (f, c) in [
            ("Dockerfile", "FROM scratch\n"),
            (".dockerignore", "*.md\nnode_modules\ndocs\n!docs/keep.md\nDockerfile\n.dockerignore\n"),
            ("src/main.sh", "echo hi\n"),
            ("README.md", "x"),
            ("node_modules/a/b.js", "x"),
            ("docs/keep.md", "x"),
            ("docs/drop.txt", "x"),
        ] {
            std::fs::create_dir_all(p.join(f).parent().unwrap()).unwrap();
            std::fs::write(p.join(f), c).unwrap();
        }
        std::os::unix::fs::symlink("src/main.sh", p.join("link")).unwrap();
        d
    }

    #[test]
    fn the_context_honours_dockerignore_like_the_docker_cli() {
        let d = tree();
        let ignore = DockerIgnore::load(d.path()).unwrap();
        let names: Vec<String> = entries(d.path(), &ignore, Path::new("Dockerfile"))
            .unwrap()
            .into_iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert_eq!(names, vec![".dockerignore", "Dockerfile", "docs/keep.md", "link", "src", "src/main.sh"]);
    }

    #[tokio::test]
    async fn the_stream_is_a_tar_of_those_entries_with_symlinks_kept() {
        let d = tree();
        let ignore = DockerIgnore::load(d.path()).unwrap();
        let (body, name, handle) = stream(d.path().to_path_buf(), PathBuf::from("Dockerfile"), ignore);
        assert_eq!(name, "Dockerfile");
        let chunks: Vec<Bytes> = body.map(|c| c.unwrap()).collect().await;
        let sent = handle.await.unwrap().unwrap();
        assert_eq!(sent.files, 6);
        let bytes = chunks.concat();
        let mut a = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            if e.header().entry_type().is_symlink() {
                assert_eq!(e.link_name().unwrap().unwrap().display().to_string(), "src/main.sh");
            }
            seen.push(e.path().unwrap().display().to_string());
        }
        assert_eq!(seen.len(), 6, "{seen:?}");
    }

    #[tokio::test]
    async fn a_dockerfile_outside_the_context_travels_under_its_own_name() {
        let d = tree();
        std::fs::write(d.path().join("other.Dockerfile"), "FROM scratch\n").unwrap();
        let ctx = d.path().join("src");
        let (body, name, handle) = stream(ctx, PathBuf::from("../other.Dockerfile"), DockerIgnore::default());
        assert_eq!(name, OUTSIDE_DOCKERFILE);
        let bytes: Vec<Bytes> = body.map(|c| c.unwrap()).collect().await;
        handle.await.unwrap().unwrap();
        let bytes = bytes.concat();
        let mut a = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> =
            a.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, vec!["main.sh", OUTSIDE_DOCKERFILE]);
    }
}
