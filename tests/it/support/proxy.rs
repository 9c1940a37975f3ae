//! A loopback TCP proxy for tests and benchmarks: it can add latency to every request (a real
//! AWS region's round trip), be cut and restored (an endpoint that goes away mid-run), and
//! counts the HTTP requests that go through it (what the emulator sees).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    /// Delay before each chunk sent upstream, in microseconds.
    delay_us: AtomicU64,
    up: AtomicBool,
    /// Bumped on every cut, so open connections notice and close.
    cut: watch::Sender<u64>,
    /// HTTP requests sent upstream so far.
    requests: AtomicU64,
}

/// A running proxy; it stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            upstream,
            delay_us: AtomicU64::new(0),
            up: AtomicBool::new(true),
            cut,
            requests: AtomicU64::new(0),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !s.up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                tokio::spawn(serve(s.clone(), client));
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds `d` before every request that goes upstream.
    pub fn set_latency(&self, d: Duration) {
        self.shared.delay_us.store(d.as_micros() as u64, Ordering::SeqCst);
    }

    /// Drops every open connection and refuses new ones, as a stopped server would.
    pub fn cut(&self) {
        self.shared.up.store(false, Ordering::SeqCst);
        self.shared.cut.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.shared.up.store(true, Ordering::SeqCst);
    }

    /// The HTTP requests that went upstream so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn serve(s: Arc<Shared>, mut client: TcpStream) {
    let Ok(mut upstream) = TcpStream::connect(s.upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let mut cut = s.cut.subscribe();
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = upstream.split();
    // Chunks are stamped on arrival and forwarded `delay` later, so the latency is added once
    // per request however the client splits its writes (a pipe, not a queue of sleeps).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut requests = Requests::default();
        loop {
            let n = cr.read(&mut buf).await?;
            s.requests.fetch_add(requests.feed(&buf[..n]), Ordering::SeqCst);
            let due = tokio::time::Instant::now() + Duration::from_micros(s.delay_us.load(Ordering::Relaxed));
            if tx.send((due, buf[..n].to_vec())).is_err() || n == 0 {
                return Ok::<(), std::io::Error>(());
            }
        }
    };
    let up = async {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if chunk.is_empty() {
                return uw.shutdown().await;
            }
            uw.write_all(&chunk).await?;
        }
        Ok(())
    };
    let up = async { tokio::try_join!(read, up).map(|_| ()) };
    let down = tokio::io::copy(&mut ur, &mut cw);
    tokio::select! {
        _ = async { tokio::try_join!(up, down) } => {}
        _ = cut.changed() => {}
    }
}

/// Counts the HTTP/1.1 requests in what a client sends: a head up to its blank line, then a
/// body of `Content-Length` bytes, or chunks up to the last, empty one. Enough for the AWS SDK.
#[derive(Debug, Default)]
struct Requests {
    unread: Vec<u8>,
    body: Body,
}

#[derive(Debug, Default, PartialEq)]
enum Body {
    #[default]
    None,
    Length(usize),
    Chunked,
}

impl Requests {
    /// Takes the next bytes; returns how many request heads they completed.
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        self.unread.extend_from_slice(bytes);
        let mut heads = 0;
        loop {
            match self.body {
                Body::Length(left) => {
                    let n = left.min(self.unread.len());
                    self.unread.drain(..n);
                    self.body = if left > n { Body::Length(left - n) } else { Body::None };
                    if left > n {
                        return heads;
                    }
                }
                Body::Chunked => {
                    let end = if self.unread.starts_with(b"0\r\n\r\n") {
                        Some(5)
                    } else {
                        find(&self.unread, b"\r\n0\r\n\r\n").map(|i| i + 7)
                    };
                    let Some(end) = end else { return heads };
                    self.unread.drain(..end);
                    self.body = Body::None;
                }
                Body::None => {}
            }
            let Some(end) = find(&self.unread, b"\r\n\r\n") else { return heads };
            let head = String::from_utf8_lossy(&self.unread[..end]).to_ascii_lowercase();
            self.unread.drain(..end + 4);
            heads += 1;
            let header = |name: &str| {
                head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim_start_matches(':').trim().to_owned()))
            };
            self.body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                Body::Chunked
            } else {
                match header("content-length").and_then(|v| v.parse().ok()) {
                    Some(n) if n > 0 => Body::Length(n),
                    _ => Body::None,
                }
            };
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_however_the_bytes_are_split() {
        let stream = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: a\r\n\r\nPUT /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /z HTTP/1.1\r\n\r\n";
        let mut whole = Requests::default();
        assert_eq!(whole.feed(stream), 4);
        for size in [1, 2, 3, 7, 16] {
            let mut split = Requests::default();
            let n: u64 = stream.chunks(size).map(|c| split.feed(c)).sum();
            assert_eq!(n, 4, "split into chunks of {size}");
        }
    }

    #[test]
    fn a_body_that_looks_like_a_request_is_not_one() {
        let body = b"GET /fake HTTP/1.1\r\n\r\n";
        let mut r = Requests::default();
        let head = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len());
        assert_eq!(r.feed(head.as_bytes()) + r.feed(body), 1);
    }
}
