//! Sending probes: each a new flow from a namespace of the sandbox, carrying a token the
//! receivers ([`super::Receivers`]) report.

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, Socket, Type};

use super::{io, ProbeError, PROBE_PORT, SPREAD_PORTS};
use crate::vocabulary::Proto;

/// One probe to send.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub address: IpAddr,
    pub proto: Proto,
    /// The source address to send from (bound; failing to bind is an error, never a
    /// silent fallback to another source). `None`: the kernel's choice.
    pub source: Option<IpAddr>,
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

pub(super) fn payload(token: u64) -> Vec<u8> {
    format!("mcnf-probe:{token}\n").into_bytes()
}

pub(super) fn icmp_checksum(data: &[u8]) -> u16 {
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

pub(super) fn echo_request(v6: bool, token: u64) -> Vec<u8> {
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
    send_in(pod, specs, connect_deadline)
}

/// [`send_from_pod`] from any namespace of the sandbox (`ns`).
pub fn send_in(
    ns: &File,
    specs: &[ProbeSpec],
    connect_deadline: Duration,
) -> Result<Vec<u64>, ProbeError> {
    crate::netns::in_ns(ns, || -> Result<Vec<u64>, ProbeError> {
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
                    let from = SocketAddr::new(spec.source.unwrap_or(any), udp_source_port(token));
                    let bound = s.bind(&from.into());
                    if spec.source.is_some() {
                        bound.map_err(io(format!("bind udp {from}")))?;
                    }
                    // An unreachable destination is an outcome (dropped), not an error.
                    let _ = s.send_to(&payload(token), &target.into());
                }
                Proto::Tcp => {
                    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
                        .map_err(io("tcp socket"))?;
                    s.set_nonblocking(true).map_err(io("O_NONBLOCK"))?;
                    bind_source(&s, spec.source)?;
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
                    bind_source(&s, spec.source)?;
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

/// Binds `s` to `source` (any port), if given.
fn bind_source(s: &Socket, source: Option<IpAddr>) -> Result<(), ProbeError> {
    match source {
        Some(a) => s
            .bind(&SocketAddr::new(a, 0).into())
            .map_err(io(format!("bind {a}"))),
        None => Ok(()),
    }
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
