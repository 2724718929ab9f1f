//! A fault-injecting HTTP/1.1 server for the tests, hand-rolled on a `TcpListener` because the
//! faults (a body cut off mid-stream, an endless chunked body, a stall before the headers) are
//! exactly what a well-behaved server library will not produce. 127.0.0.1 only; one response per
//! connection; every request logged with the time its head arrived.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use url::Url;

#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub method: String,
    /// The request target as sent: path and query, percent-encoded.
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Logged {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub enum Reply {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Wait, then send the inner reply.
    Slow(Duration, Box<Reply>),
    /// Announce `declared` bytes, send `sent`, close.
    CutOff { declared: usize, sent: Vec<u8> },
    /// The body in chunked encoding, without Content-Length.
    Chunked(Vec<u8>),
    /// Chunks until the client hangs up (bounded at 256 MiB so a broken client cannot hang us).
    Endless,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply::Full {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
        .header("Content-Type", "text/html")
    }

    /// Sets a header, replacing one of the same name (so `ok(..).header("Content-Type", ..)`
    /// does not send two).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Full { headers, .. } = &mut self {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            headers.push((name.into(), value.into()));
        }
        self
    }
}

type Handler = Arc<dyn Fn(&Logged, usize) -> Reply + Send + Sync>;

pub struct Server {
    addr: std::net::SocketAddr,
    log: Arc<Mutex<Vec<Logged>>>,
    streamed: Arc<AtomicU64>,
    endless_done: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Server {
    /// `handler(request, n)` where `n` counts earlier requests to the same path (0 for the
    /// first), so "fail twice, then succeed" is `if n < 2`.
    pub async fn start(handler: impl Fn(&Logged, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let streamed = Arc::new(AtomicU64::new(0));
        let endless_done = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let (l, s, d) = (log.clone(), streamed.clone(), endless_done.clone());
        let task = tokio::spawn(async move {
            // Dropping the set (when the server task is aborted) aborts every connection.
            let mut conns = JoinSet::new();
            while let Ok((sock, _)) = listener.accept().await {
                let (h, l, s, d) = (handler.clone(), l.clone(), s.clone(), d.clone());
                conns.spawn(async move {
                    let _ = serve(sock, h, l, s, d).await;
                });
            }
        });
        Self {
            addr,
            log,
            streamed,
            endless_done,
            task,
        }
    }

    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    pub fn hits(&self, path: &str) -> Vec<Logged> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Bytes of body written by `Reply::Endless` before the client went away, once it has.
    pub async fn endless_written(&self) -> u64 {
        for _ in 0..200 {
            if self.endless_done.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            self.endless_done.load(Ordering::SeqCst),
            "endless writer still running"
        );
        self.streamed.load(Ordering::SeqCst)
    }

    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    sock: TcpStream,
    handler: Handler,
    log: Arc<Mutex<Vec<Logged>>>,
    streamed: Arc<AtomicU64>,
    endless_done: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            break;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let req = Logged {
        at: Instant::now(),
        method,
        path,
        headers,
    };
    let n = {
        let mut log = log.lock().unwrap();
        let n = log.iter().filter(|r| r.path == req.path).count();
        log.push(req.clone());
        n
    };
    let mut reply = handler(&req, n);
    while let Reply::Slow(wait, inner) = reply {
        tokio::time::sleep(wait).await;
        reply = *inner;
    }
    let head_only = req.method == "HEAD";
    let mut sock = reader.into_inner();
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            sock.write_all(head.as_bytes()).await?;
            if !head_only {
                sock.write_all(&body).await?;
            }
        }
        Reply::CutOff { declared, sent } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {declared}\r\n\
                 Connection: close\r\n\r\n"
            );
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(&sent).await?;
        }
        Reply::Chunked(body) => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\
                  Connection: close\r\n\r\n",
            )
            .await?;
            for chunk in body.chunks(8192) {
                sock.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                sock.write_all(chunk).await?;
                sock.write_all(b"\r\n").await?;
            }
            sock.write_all(b"0\r\n\r\n").await?;
        }
        Reply::Endless => {
            let result = async {
                sock.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\
                      Connection: close\r\n\r\n",
                )
                .await?;
                let chunk = vec![b'x'; 16 * 1024];
                for _ in 0..(256 * 64) {
                    sock.write_all(b"4000\r\n").await?;
                    sock.write_all(&chunk).await?;
                    sock.write_all(b"\r\n").await?;
                    streamed.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                }
                std::io::Result::Ok(())
            }
            .await;
            endless_done.store(true, Ordering::SeqCst);
            result?;
        }
        Reply::Slow(..) => unreachable!("unwrapped above"),
    }
    sock.flush().await?;
    sock.shutdown().await
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}
