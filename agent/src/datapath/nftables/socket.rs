//! One request-and-answers exchange on a `NETLINK_NETFILTER` socket of the agent's own,
//! shared by the ruleset generation read ([`super::generation`]) and the element batch
//! ([`super::netlink`]): every receive is bounded by a timeout (`SO_RCVTIMEO`), so a
//! kernel that never answers costs at most that, never a stuck round.
//!
//! The socket is closed on a thread of its own: closing a `NETLINK_NETFILTER` socket
//! makes the kernel finish the destroy work of the last commit first (`nft_rcv_nl_event`
//! flushes it, and it waits for an RCU grace period): 6-16 ms of sleep measured on
//! Linux 6.18 after a commit, none of it work the round needs to wait for.

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

/// A socket closed on a thread of its own (see the module docs); closed here when no
/// thread can be started.
struct Socket(Option<OwnedFd>);

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(fd) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("netlink-close".into())
                .spawn(move || drop(fd));
        }
    }
}

/// Sends `request` (one datagram) to the kernel and hands each datagram of the answer
/// to `read` until it returns `Some`, within `timeout`.
pub fn exchange<T, E: From<SocketError>>(
    request: &[u8],
    timeout: Duration,
    mut read: impl FnMut(&[u8]) -> Result<Option<T>, E>,
) -> Result<T, E> {
    let fd = open(timeout, request.len())?;
    let raw = fd.as_raw_fd();
    let _closed_later = Socket(Some(fd));
    sendto(raw, request, &NetlinkAddr::new(0, 0), MsgFlags::empty()).map_err(SocketError::Send)?;
    let mut buf = vec![0u8; 64 << 10];
    let deadline = Instant::now() + timeout;
    loop {
        let n = match recv(raw, &mut buf, MsgFlags::empty()) {
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
