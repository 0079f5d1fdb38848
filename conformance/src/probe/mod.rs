//! Probes: real flows from `pod` (or `node`, or `world`: [`crate::vocabulary::direction`]) to
//! destinations, and receivers that report the source address each flow arrived with.
//!
//! Every probe is a new flow (a new socket, so a new source port or ICMP id) carrying a
//! token. Receivers run in `world`, in `node` (for the node's own addresses) and in `pod`
//! (for inbound flows) on one polling thread per case; they answer "token T arrived from
//! address A". Sockets are
//! created on a thread that has entered the right namespace and are used from anywhere
//! (a socket belongs to the namespace it was created in). No `ping` or `nc` subprocesses.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, Socket, Type};

use crate::guard::GuardError;

mod send;

pub use send::{
    next_token, send_from_pod, send_in, send_spread_from_pod, spread_source_port, ProbeSpec,
};

/// The port UDP and TCP receivers listen on.
pub const PROBE_PORT: u16 = 7777;
/// UDP receivers also listen on the next `SPREAD_PORTS` ports: flows from one source port
/// to one address differ only in their destination port (the `--random-fully` check).
pub const SPREAD_PORTS: u16 = 8;
const TOKEN_PREFIX: &[u8] = b"mcnf-probe:";

/// Errors setting up probes.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ProbeError {
    let what = what.into();
    move |source| ProbeError::Io { what, source }
}

/// Where a probe arrived from: the source address and, for udp and tcp, the source port
/// (after any translation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub address: IpAddr,
    pub port: Option<u16>,
}

type Seen = Arc<(Mutex<HashMap<u64, Arrival>>, Condvar)>;

/// Listening sockets in `world`, `node` and `pod`, served by one polling thread.
pub struct Receivers {
    seen: Seen,
    /// Dropping this end wakes the serving thread, which then ends.
    wake: Option<std::os::unix::net::UnixStream>,
    thread: Option<std::thread::JoinHandle<()>>,
}

enum Listener {
    Udp(Socket),
    Tcp(Socket),
    /// Accepted TCP connection waiting for its token.
    Stream(Socket, SocketAddr),
    Icmp4(Socket),
    Icmp6(Socket),
}

fn listeners_in(ns: &File) -> Result<Vec<Listener>, ProbeError> {
    crate::netns::in_ns(ns, || -> Result<Vec<Listener>, ProbeError> {
        let mut out = Vec::new();
        for v6 in [false, true] {
            let (domain, any): (Domain, IpAddr) = if v6 {
                (Domain::IPV6, Ipv6Addr::UNSPECIFIED.into())
            } else {
                (Domain::IPV4, Ipv4Addr::UNSPECIFIED.into())
            };
            let addr = SocketAddr::new(any, PROBE_PORT);
            let udp =
                Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(io("udp socket"))?;
            let tcp =
                Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(io("tcp socket"))?;
            if v6 {
                udp.set_only_v6(true).map_err(io("IPV6_V6ONLY"))?;
                tcp.set_only_v6(true).map_err(io("IPV6_V6ONLY"))?;
            }
            tcp.set_reuse_address(true).map_err(io("SO_REUSEADDR"))?;
            udp.bind(&addr.into())
                .map_err(io(format!("bind udp {addr}")))?;
            tcp.bind(&addr.into())
                .map_err(io(format!("bind tcp {addr}")))?;
            tcp.listen(128).map_err(io("listen"))?;
            let icmp = if v6 {
                Listener::Icmp6(
                    Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
                        .map_err(io("raw icmpv6 socket"))?,
                )
            } else {
                Listener::Icmp4(
                    Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
                        .map_err(io("raw icmp socket"))?,
                )
            };
            out.push(Listener::Udp(udp));
            out.push(Listener::Tcp(tcp));
            out.push(icmp);
            for extra in 1..=SPREAD_PORTS {
                let addr = SocketAddr::new(any, PROBE_PORT + extra);
                let udp = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
                    .map_err(io("udp socket"))?;
                if v6 {
                    udp.set_only_v6(true).map_err(io("IPV6_V6ONLY"))?;
                }
                udp.bind(&addr.into())
                    .map_err(io(format!("bind udp {addr}")))?;
                out.push(Listener::Udp(udp));
            }
        }
        for l in &out {
            listener_socket(l)
                .set_nonblocking(true)
                .map_err(io("O_NONBLOCK"))?;
        }
        Ok(out)
    })?
}

fn listener_socket(l: &Listener) -> &Socket {
    match l {
        Listener::Udp(s) | Listener::Tcp(s) | Listener::Icmp4(s) | Listener::Icmp6(s) => s,
        Listener::Stream(s, _) => s,
    }
}

/// Extracts the token from a probe payload.
fn parse_token(payload: &[u8]) -> Option<u64> {
    let pos = payload
        .windows(TOKEN_PREFIX.len())
        .position(|w| w == TOKEN_PREFIX)?;
    let rest = &payload[pos + TOKEN_PREFIX.len()..];
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

fn recv_from(s: &Socket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    // SAFETY: MaybeUninit<u8> has the layout of u8; recv only writes initialised bytes.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let (n, addr) = s.recv_from(uninit).ok()?;
    Some((n, addr.as_socket()?))
}

impl Receivers {
    /// Opens receivers in each of `namespaces`.
    pub fn start(namespaces: &[&File]) -> Result<Self, ProbeError> {
        let mut listeners = Vec::new();
        for ns in namespaces {
            listeners.extend(listeners_in(ns)?);
        }
        let seen: Seen = Arc::new((Mutex::new(HashMap::new()), Condvar::new()));
        let (wake, woken) = std::os::unix::net::UnixStream::pair().map_err(io("wake socket"))?;
        let thread = {
            let seen = seen.clone();
            std::thread::Builder::new()
                .name("probe-receivers".into())
                .spawn(move || serve(listeners, &seen, &woken))
                .map_err(io("receiver thread"))?
        };
        Ok(Self {
            seen,
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Waits until every token has arrived or `deadline` passes; returns the source
    /// address of what arrived.
    pub fn wait_for(&self, tokens: &[u64], deadline: Instant) -> HashMap<u64, IpAddr> {
        self.arrivals(tokens, deadline)
            .into_iter()
            .map(|(t, a)| (t, a.address))
            .collect()
    }

    /// Like [`Self::wait_for`], with the source ports.
    pub fn arrivals(&self, tokens: &[u64], deadline: Instant) -> HashMap<u64, Arrival> {
        let (lock, cvar) = &*self.seen;
        let mut seen = lock.lock().expect("receiver map poisoned");
        loop {
            if tokens.iter().all(|t| seen.contains_key(t)) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            seen = cvar
                .wait_timeout(seen, deadline - now)
                .expect("receiver map poisoned")
                .0;
        }
        tokens
            .iter()
            .filter_map(|t| seen.get(t).map(|a| (*t, *a)))
            .collect()
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut listeners: Vec<Listener>, seen: &Seen, woken: &std::os::unix::net::UnixStream) {
    let mut buf = vec![0u8; 65536];
    let record = |token: u64, from: IpAddr, port: Option<u16>| {
        let (lock, cvar) = &**seen;
        lock.lock().expect("receiver map poisoned").insert(
            token,
            Arrival {
                address: from,
                port,
            },
        );
        cvar.notify_all();
    };
    loop {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = listeners
                .iter()
                .map(|l| PollFd::new(listener_socket(l).as_fd(), PollFlags::POLLIN))
                .collect();
            fds.push(PollFd::new(woken.as_fd(), PollFlags::POLLIN));
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        if ready[listeners.len()] {
            return; // the other end was dropped: the case is over
        }
        let mut accepted = Vec::new();
        let mut finished = Vec::new();
        for (i, l) in listeners.iter_mut().enumerate() {
            if !ready[i] {
                continue;
            }
            match l {
                Listener::Udp(s) => {
                    while let Some((n, from)) = recv_from(s, &mut buf) {
                        if let Some(t) = parse_token(&buf[..n]) {
                            record(t, from.ip(), Some(from.port()));
                        }
                    }
                }
                Listener::Tcp(s) => {
                    while let Ok((conn, from)) = s.accept() {
                        if let Some(from) = from.as_socket() {
                            let _ = conn.set_nonblocking(true);
                            accepted.push(Listener::Stream(conn, from));
                        }
                    }
                }
                Listener::Stream(s, from) => {
                    let mut sock: &Socket = s;
                    match sock.read(&mut buf) {
                        Ok(n) if n > 0 => {
                            if let Some(t) = parse_token(&buf[..n]) {
                                record(t, from.ip(), Some(from.port()));
                            }
                            finished.push(i);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        _ => finished.push(i),
                    }
                }
                Listener::Icmp4(s) => {
                    while let Some((n, from)) = recv_from(s, &mut buf) {
                        // IPv4 raw sockets deliver the IP header; ICMP follows it.
                        let ihl = usize::from(buf[0] & 0x0f) * 4;
                        if n > ihl + 8 && buf[ihl] == 8 {
                            if let Some(t) = parse_token(&buf[ihl + 8..n]) {
                                record(t, from.ip(), None);
                            }
                        }
                    }
                }
                Listener::Icmp6(s) => {
                    while let Some((n, from)) = recv_from(s, &mut buf) {
                        if n > 8 && buf[0] == 128 {
                            if let Some(t) = parse_token(&buf[8..n]) {
                                record(t, from.ip(), None);
                            }
                        }
                    }
                }
            }
        }
        for i in finished.into_iter().rev() {
            listeners.swap_remove(i);
        }
        listeners.extend(accepted);
    }
}

#[cfg(test)]
mod tests {
    use super::send::{echo_request, icmp_checksum, payload};
    use super::*;

    #[test]
    fn tokens_round_trip_through_payloads() {
        assert_eq!(parse_token(&payload(42)), Some(42));
        assert_eq!(parse_token(&echo_request(false, 7)[8..]), Some(7));
        assert_eq!(parse_token(b"noise"), None);
    }

    #[test]
    fn icmp_checksum_verifies_to_zero() {
        let pkt = echo_request(false, 12345);
        assert_eq!(icmp_checksum(&pkt), 0);
    }
}
