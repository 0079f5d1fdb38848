//! The HTTP side of `/healthz` and `/readyz`: a listener thread that hands each
//! connection to a thread of its own, up to [`MAX_CONNECTIONS`] at once, and gives each
//! request [`REQUEST_DEADLINE`] in all (not per read). So no client can hold the server:
//! a slow client (one byte a second) or idle connections each hold one thread until
//! their deadline, while a probe gets its own thread and is answered at once. Past the
//! cap, a new connection is answered 503 without being read, by the listener itself.

use super::Health;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one request may take, from its connection to the last byte of the answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// Connections served at once; past that a connection gets 503 at once.
pub const MAX_CONNECTIONS: usize = 64;

/// The longest request head read.
const MAX_HEAD_BYTES: usize = 8192;

/// Why the health server could not start.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("--health-address {address:?}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `address` now (so a bad address fails at start) and serves on threads.
pub fn serve(address: &str, health: Health) -> Result<SocketAddr, HealthError> {
    let bind_err = |source| HealthError::Bind {
        address: address.to_string(),
        source,
    };
    let addrs: Vec<_> = address.to_socket_addrs().map_err(bind_err)?.collect();
    let listener = TcpListener::bind(&addrs[..]).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    std::thread::spawn(move || accept_loop(listener, health));
    Ok(local)
}

/// Counts a connection's thread while it lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(listener: TcpListener, health: Health) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            busy(stream);
            continue;
        }
        let slot = Slot(active.clone());
        let health = health.clone();
        let spawned = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || {
                let _slot = slot;
                let _ = answer(stream, &health, Instant::now() + REQUEST_DEADLINE);
            });
        if let Err(e) = spawned {
            tracing::warn!("health: cannot start a connection thread: {e}");
        }
    }
}

/// The answer past the cap: written without reading the request, never blocking the
/// listener (a short reply fits the socket's send buffer; the write is bounded anyway).
fn busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = stream
        .write_all(reply("503 Service Unavailable", "too many connections", false).as_bytes());
}

/// Reads a request's head, until the blank line or `deadline`.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

/// The whole HTTP/1.1 answer (`Connection: close`), without its body for `HEAD`.
fn reply(status: &str, body: &str, head_only: bool) -> String {
    let body = format!("{body}\n");
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        out.push_str(&body);
    }
    out
}

/// Reads one request's head and answers it, all before `deadline`.
fn answer(mut stream: TcpStream, health: &Health, deadline: Instant) -> std::io::Result<()> {
    let head = read_head(&mut stream, deadline)?;
    let line = String::from_utf8_lossy(&head);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let verdict = match path {
        "/healthz" => Some(health.liveness(Instant::now())),
        "/readyz" => Some(health.readiness(Instant::now())),
        _ => None,
    };
    let (status, body) = match (method, verdict) {
        ("GET" | "HEAD", Some(Ok(text))) => ("200 OK", text),
        ("GET" | "HEAD", Some(Err(reason))) => ("503 Service Unavailable", reason),
        ("GET" | "HEAD", None) => (
            "404 Not Found",
            "not found; try /healthz or /readyz".to_string(),
        ),
        _ => (
            "405 Method Not Allowed",
            "GET /healthz or /readyz".to_string(),
        ),
    };
    let left = deadline.saturating_duration_since(Instant::now());
    stream.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
    stream.write_all(reply(status, &body, method == "HEAD").as_bytes())
}
