//! A loopback TCP proxy for tests and benchmarks: it can add latency to every request (a real
//! AWS region's round trip) and be cut and restored (an endpoint that goes away mid-run).

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
        let shared = Arc::new(Shared { upstream, delay_us: AtomicU64::new(0), up: AtomicBool::new(true), cut });
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
        loop {
            let n = cr.read(&mut buf).await?;
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
