//! Probes: real flows from `pod` to destinations, and receivers that report the source
//! address each flow arrived with.
//!
//! Every probe is a new flow (a new socket, so a new source port or ICMP id) carrying a
//! token. Receivers run in `world` and in `node` (for the node's own addresses) on one
//! polling thread per case; they answer "token T arrived from address A". Sockets are
//! created on a thread that has entered the right namespace and are used from anywhere
//! (a socket belongs to the namespace it was created in). No `ping` or `nc` subprocesses.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, Socket, Type};

use crate::guard::GuardError;
use crate::topology;

/// The port UDP and TCP receivers listen on.
pub const PROBE_PORT: u16 = 7777;
/// UDP receivers also listen on the next `SPREAD_PORTS` ports: flows from one source port
/// to one address differ only in their destination port (the `--random-fully` check).
pub const SPREAD_PORTS: u16 = 8;
const TOKEN_PREFIX: &[u8] = b"mcnf-probe:";

/// A transport protocol a probe uses.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Udp,
    Tcp,
    Icmp,
}

impl Proto {
    pub const ALL: [Proto; 3] = [Proto::Udp, Proto::Tcp, Proto::Icmp];
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Icmp => "icmp",
        }
    }
}

/// What the destination saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Source was the node's egress address.
    Masqueraded,
    /// Source was the pod's address.
    NotMasqueraded,
    /// Nothing arrived before the deadline.
    Dropped,
    /// Something arrived from another address.
    Unexpected(IpAddr),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Masqueraded => f.write_str("masqueraded"),
            Outcome::NotMasqueraded => f.write_str("not-masqueraded"),
            Outcome::Dropped => f.write_str("dropped"),
            Outcome::Unexpected(a) => write!(f, "unexpected {a}"),
        }
    }
}

/// Classifies a source address seen by a receiver.
pub fn classify(source: IpAddr) -> Outcome {
    let source = match source {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(source),
        v4 => v4,
    };
    if source == IpAddr::V4(topology::POD_V4) || source == IpAddr::V6(topology::POD_V6) {
        Outcome::NotMasqueraded
    } else if source == IpAddr::V4(topology::NODE_V4) || source == IpAddr::V6(topology::NODE_V6) {
        Outcome::Masqueraded
    } else {
        Outcome::Unexpected(source)
    }
}

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

/// Listening sockets in `world` and `node`, served by one polling thread.
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
    /// Opens receivers in `world` and `node`.
    pub fn start(world: &File, node: &File) -> Result<Self, ProbeError> {
        let mut listeners = listeners_in(world)?;
        listeners.extend(listeners_in(node)?);
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

/// One probe to send.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub address: IpAddr,
    pub proto: Proto,
}

/// A fresh token, unique in this process.
pub fn next_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The source port of a UDP probe: distinct for every token within 40,000 probes, so no
/// probe meets the conntrack entry of an earlier one (ports 20000-59999, apart from the
/// receivers' port).
fn udp_source_port(token: u64) -> u16 {
    20_000 + (token % 40_000) as u16
}

fn payload(token: u64) -> Vec<u8> {
    format!("mcnf-probe:{token}\n").into_bytes()
}

fn icmp_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo_request(v6: bool, token: u64) -> Vec<u8> {
    let mut pkt = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    pkt.extend_from_slice(&(token as u16).to_be_bytes()); // identifier: a new flow each time
    pkt.extend_from_slice(&1u16.to_be_bytes()); // sequence
    pkt.extend_from_slice(&payload(token));
    if !v6 {
        // The kernel fills in the ICMPv6 checksum itself; ICMPv4's is ours.
        let sum = icmp_checksum(&pkt);
        pkt[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    pkt
}

/// Sends each probe from `pod` as a new flow; returns the tokens in the order of `specs`.
/// TCP connections are completed (or given up) within `connect_deadline`.
pub fn send_from_pod(
    pod: &File,
    specs: &[ProbeSpec],
    connect_deadline: Duration,
) -> Result<Vec<u64>, ProbeError> {
    crate::netns::in_ns(pod, || -> Result<Vec<u64>, ProbeError> {
        let mut tokens = Vec::with_capacity(specs.len());
        let mut pending_tcp: Vec<(Socket, u64)> = Vec::new();
        for spec in specs {
            let token = next_token();
            tokens.push(token);
            let v6 = spec.address.is_ipv6();
            let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
            let target = SocketAddr::new(spec.address, PROBE_PORT);
            match spec.proto {
                Proto::Udp => {
                    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
                        .map_err(io("udp socket"))?;
                    // A source port of its own: an ephemeral one may repeat an earlier
                    // probe's, and conntrack would give it that flow's old NAT decision.
                    let any: IpAddr = if v6 {
                        Ipv6Addr::UNSPECIFIED.into()
                    } else {
                        Ipv4Addr::UNSPECIFIED.into()
                    };
                    let _ = s.bind(&SocketAddr::new(any, udp_source_port(token)).into());
                    // An unreachable destination is an outcome (dropped), not an error.
                    let _ = s.send_to(&payload(token), &target.into());
                }
                Proto::Tcp => {
                    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
                        .map_err(io("tcp socket"))?;
                    s.set_nonblocking(true).map_err(io("O_NONBLOCK"))?;
                    match s.connect(&target.into()) {
                        Ok(()) => pending_tcp.push((s, token)),
                        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {
                            pending_tcp.push((s, token))
                        }
                        Err(_) => {}
                    }
                }
                Proto::Icmp => {
                    let s = if v6 {
                        Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
                    } else {
                        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
                    }
                    .map_err(io("raw icmp socket"))?;
                    let _ = s.send_to(
                        &echo_request(v6, token),
                        &SocketAddr::new(spec.address, 0).into(),
                    );
                }
            }
        }
        finish_tcp(pending_tcp, Instant::now() + connect_deadline);
        Ok(tokens)
    })?
}

/// Sends one UDP datagram from `pod` for each of the `SPREAD_PORTS` extra receiver ports
/// of `address`, all from the one source port `source_port`: as many flows, one source
/// port. Returns the tokens.
pub fn send_spread_from_pod(
    pod: &File,
    address: IpAddr,
    source_port: u16,
) -> Result<Vec<u64>, ProbeError> {
    crate::netns::in_ns(pod, || -> Result<Vec<u64>, ProbeError> {
        let domain = if address.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let any: IpAddr = if address.is_ipv6() {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(io("udp socket"))?;
        s.bind(&SocketAddr::new(any, source_port).into())
            .map_err(io(format!("bind udp source port {source_port}")))?;
        let mut tokens = Vec::new();
        for extra in 1..=SPREAD_PORTS {
            let token = next_token();
            tokens.push(token);
            let target = SocketAddr::new(address, PROBE_PORT + extra);
            let _ = s.send_to(&payload(token), &target.into());
        }
        Ok(tokens)
    })?
}

/// The source port of a `--random-fully` spread check: apart from every probe's (UDP
/// probes use 20000-59999).
pub fn spread_source_port(token: u64) -> u16 {
    60_000 + (token % 5_000) as u16
}

/// Waits for pending connects and sends each token once connected.
fn finish_tcp(mut pending: Vec<(Socket, u64)>, deadline: Instant) {
    while !pending.is_empty() && Instant::now() < deadline {
        let writable: Vec<bool> = {
            let mut fds: Vec<PollFd> = pending
                .iter()
                .map(|(s, _)| PollFd::new(s.as_fd(), PollFlags::POLLOUT))
                .collect();
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            if poll(&mut fds, PollTimeout::from(ms)).is_err() {
                return;
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        let mut done = Vec::new();
        for (i, (s, token)) in pending.iter().enumerate() {
            if !writable[i] {
                continue;
            }
            if matches!(s.take_error(), Ok(None)) {
                let mut w: &Socket = s;
                let _ = w.write_all(&payload(*token));
            }
            done.push(i);
        }
        for i in done.into_iter().rev() {
            // Close after the token is queued; the receiver reads it before the FIN.
            let _ = pending.swap_remove(i).0.as_raw_fd();
        }
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn classifies_sources() {
        assert_eq!(classify(topology::POD_V4.into()), Outcome::NotMasqueraded);
        assert_eq!(classify(topology::NODE_V6.into()), Outcome::Masqueraded);
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(classify(other), Outcome::Unexpected(other));
    }
}
