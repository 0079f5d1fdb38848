//! One request-and-answers exchange on a `NETLINK_NETFILTER` socket of the agent's own,
//! shared by the ruleset generation read ([`super::generation`]) and the element batch
//! ([`super::netlink`]): every receive is bounded by a timeout (`SO_RCVTIMEO`), so a
//! kernel that never answers costs at most that, never a stuck round.

use nix::sys::socket::{
    recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// `SOL_NETLINK` / `NETLINK_CAP_ACK`: acknowledgements without a copy of the request.
const SOL_NETLINK: i32 = 270;
const NETLINK_CAP_ACK: i32 = 10;

/// Why the exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("netlink socket: {0}")]
    Open(#[source] nix::Error),
    #[error("netlink send: {0}")]
    Send(#[source] nix::Error),
    #[error("netlink receive: {0}")]
    Receive(#[source] nix::Error),
    #[error("no netlink answer within {0:?}")]
    Timeout(Duration),
}

fn open(timeout: Duration, request_len: usize) -> Result<OwnedFd, SocketError> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )
    .map_err(SocketError::Open)?;
    let tv = TimeVal::new(
        timeout.as_secs().try_into().unwrap_or(i64::MAX),
        timeout.subsec_micros().into(),
    );
    setsockopt(&fd, sockopt::ReceiveTimeout, &tv).map_err(SocketError::Open)?;
    // A request goes in one datagram; past the default buffer, raise it (the agent has
    // CAP_NET_ADMIN, which the forced variant needs).
    if request_len > 128 << 10 {
        setsockopt(&fd, sockopt::SndBufForce, &(request_len + (64 << 10)))
            .map_err(SocketError::Open)?;
    }
    let one: nix::libc::c_int = 1;
    // SAFETY: a valid socket, an int option and its size.
    let r = unsafe {
        nix::libc::setsockopt(
            fd.as_raw_fd(),
            SOL_NETLINK,
            NETLINK_CAP_ACK,
            (&one as *const nix::libc::c_int).cast(),
            std::mem::size_of::<nix::libc::c_int>() as nix::libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(SocketError::Open(nix::Error::last()));
    }
    Ok(fd)
}

/// Sends `request` (one datagram) to the kernel and hands each datagram of the answer
/// to `read` until it returns `Some`, within `timeout`.
pub fn exchange<T, E: From<SocketError>>(
    request: &[u8],
    timeout: Duration,
    mut read: impl FnMut(&[u8]) -> Result<Option<T>, E>,
) -> Result<T, E> {
    let fd = open(timeout, request.len())?;
    sendto(
        fd.as_raw_fd(),
        request,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(SocketError::Send)?;
    let mut buf = vec![0u8; 64 << 10];
    let deadline = Instant::now() + timeout;
    loop {
        let n = match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            Err(nix::Error::EAGAIN) => return Err(SocketError::Timeout(timeout).into()),
            Err(nix::Error::EINTR) => 0,
            Err(e) => return Err(SocketError::Receive(e).into()),
        };
        if let Some(done) = read(&buf[..n])? {
            return Ok(done);
        }
        if Instant::now() >= deadline {
            return Err(SocketError::Timeout(timeout).into());
        }
    }
}
