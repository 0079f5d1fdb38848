//! `/healthz` (`--health-address HOST:PORT`, off by default): 200 while a sync succeeded
//! within the last two resync periods, 503 with the reason otherwise, as Kubernetes
//! components answer their liveness probes.
//!
//! "Succeeded" means rules were applied: a round that keeps the last good rules because
//! the config is invalid, or one whose iptables call fails, does not count. Two periods
//! rather than one so that a round that merely runs late is not a failure. The server is a
//! plain `TcpListener` on one thread: a probe every few seconds needs nothing more, and
//! each connection is bounded by a read/write timeout so a stuck client cannot wedge it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Per-connection read and write timeout.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct State {
    last_success: Option<Instant>,
    last_error: Option<String>,
    interval: Duration,
}

/// The daemon's health record, shared between the loop and the server.
#[derive(Debug, Clone, Default)]
pub struct Health(Arc<Mutex<State>>);

impl Health {
    /// A round applied the rules at `now`; `interval` is the current resync interval.
    pub fn succeeded(&self, now: Instant, interval: Duration) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.last_success = Some(now);
        s.last_error = None;
        s.interval = interval;
    }

    /// A round failed with `reason`.
    pub fn failed(&self, reason: &str, interval: Duration) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.last_error = Some(reason.to_string());
        s.interval = interval;
    }

    /// `Ok(text)` when healthy at `now`, `Err(reason)` otherwise.
    pub fn verdict(&self, now: Instant) -> Result<String, String> {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let allowed = s.interval * 2;
        let why = |what: String| match &s.last_error {
            Some(e) => format!("{what}; last error: {e}"),
            None => what,
        };
        match s.last_success {
            None => Err(why("no successful sync yet".into())),
            Some(t) if now.saturating_duration_since(t) <= allowed => Ok(format!(
                "ok: last sync {:?} ago",
                now.saturating_duration_since(t)
            )),
            Some(t) => Err(why(format!(
                "last successful sync {:?} ago, more than two resync periods ({allowed:?})",
                now.saturating_duration_since(t)
            ))),
        }
    }
}

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

/// Binds `address` now (so a bad address fails at start) and serves on a thread.
pub fn serve(address: &str, health: Health) -> Result<std::net::SocketAddr, HealthError> {
    let bind_err = |source| HealthError::Bind {
        address: address.to_string(),
        source,
    };
    let addrs: Vec<_> = address.to_socket_addrs().map_err(bind_err)?.collect();
    let listener = TcpListener::bind(&addrs[..]).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &health);
        }
    });
    Ok(local)
}

/// Reads one request's head and answers it.
fn answer(mut stream: TcpStream, health: &Health) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, body) = match (method, path) {
        ("GET" | "HEAD", "/healthz") => match health.verdict(Instant::now()) {
            Ok(text) => ("200 OK", text),
            Err(reason) => ("503 Service Unavailable", reason),
        },
        ("GET" | "HEAD", _) => ("404 Not Found", "not found; try /healthz".to_string()),
        _ => ("405 Method Not Allowed", "GET /healthz".to_string()),
    };
    let body = format!("{body}\n");
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        reply.push_str(&body);
    }
    stream.write_all(reply.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let h = Health::default();
        let t0 = Instant::now();
        assert_eq!(
            h.verdict(t0).unwrap_err(),
            "no successful sync yet".to_string()
        );
        h.failed("bad config", Duration::from_secs(1));
        assert!(h
            .verdict(t0)
            .unwrap_err()
            .contains("last error: bad config"));
        h.succeeded(t0, Duration::from_secs(1));
        assert!(h.verdict(t0 + Duration::from_millis(1999)).is_ok());
        h.failed("restore failed", Duration::from_secs(1));
        // Still within two periods of the last success.
        assert!(h.verdict(t0 + Duration::from_millis(1500)).is_ok());
        let e = h.verdict(t0 + Duration::from_millis(2500)).unwrap_err();
        assert!(
            e.contains("more than two resync periods") && e.contains("restore failed"),
            "{e}"
        );
    }
    // The server itself is tested over HTTP inside a network namespace
    // (agent/tests/in_namespace), never on the machine's own loopback.
}
