//! Request-and-answers exchanges on `NETLINK_NETFILTER` sockets of the agent's own: a
//! one-off socket per exchange ([`exchange`], the dumps), or one kept open across rounds
//! ([`Channel`], the ruleset generation read ([`super::generation`]) and the element batch
//! ([`super::netlink`])). Every receive is bounded by a timeout (`SO_RCVTIMEO`), so a
//! kernel that never answers costs at most that, never a stuck round.
//!
//! Closing a `NETLINK_NETFILTER` socket makes the kernel finish the destroy work of the
//! last commit first (`nft_rcv_nl_event` flushes it with the commit mutex held, and it
//! waits for an RCU grace period): 6-16 ms of sleep measured on Linux 6.18 after a commit,
//! none of it work the round needs to wait for. So a one-off socket is closed on a thread
//! of its own, and the round's own exchanges (two generation reads and the batch) go over
//! the [`Channel`], which is not closed at all while it works: no socket to open, no
//! thread to start, no close, no wait on the destroy work (docs/performance.md).

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
#[derive(Debug)]
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

/// Sends `request` (one datagram) to the kernel on a socket of its own and hands each
/// datagram of the answer to `read` until it returns `Some`, within `timeout`.
pub fn exchange<T, E: From<SocketError>>(
    request: &[u8],
    timeout: Duration,
    read: impl FnMut(&[u8]) -> Result<Option<T>, E>,
) -> Result<T, E> {
    let fd = open(timeout, request.len())?;
    let raw = fd.as_raw_fd();
    let _closed_later = Socket(Some(fd));
    send_and_read(raw, request, timeout, read)
}

fn send_and_read<T, E: From<SocketError>>(
    raw: std::os::fd::RawFd,
    request: &[u8],
    timeout: Duration,
    mut read: impl FnMut(&[u8]) -> Result<Option<T>, E>,
) -> Result<T, E> {
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

/// `count` consecutive sequence numbers from `next` on, never 0 and never wrapping
/// inside the range (past `u32::MAX` it starts again at 1); returns the first.
fn take_sequence(next: &mut u32, count: u32) -> u32 {
    if next.checked_add(count).is_none() {
        *next = 1;
    }
    let first = *next;
    *next += count;
    first
}

/// A socket kept open for the requests that answer with one message per request message
/// (no dumps: a dump left unread would keep the socket busy). Each exchange takes fresh
/// sequence numbers and first drops whatever an earlier, abandoned exchange left
/// unread, so an answer is only ever taken for the request it answers. A channel whose
/// exchange failed is not reused: [`Channel::exchange`]'s caller drops it, and the next
/// exchange opens another.
#[derive(Debug)]
pub struct Channel {
    socket: Socket,
    raw: std::os::fd::RawFd,
    timeout: Duration,
    /// The send buffer raised for requests up to this size.
    request_room: usize,
    next_seq: u32,
}

impl Channel {
    pub fn open(timeout: Duration) -> Result<Channel, SocketError> {
        let fd = open(timeout, 0)?;
        Ok(Channel {
            raw: fd.as_raw_fd(),
            socket: Socket(Some(fd)),
            timeout,
            request_room: 128 << 10,
            next_seq: 1,
        })
    }

    /// `count` consecutive sequence numbers not used before on this channel (never 0);
    /// returns the first.
    pub fn sequence(&mut self, count: u32) -> u32 {
        take_sequence(&mut self.next_seq, count)
    }

    /// Sends `request` and hands each datagram of the answer to `read` until it returns
    /// `Some`, within the channel's timeout. What was left unread before is dropped first.
    pub fn exchange<T, E: From<SocketError>>(
        &mut self,
        request: &[u8],
        read: impl FnMut(&[u8]) -> Result<Option<T>, E>,
    ) -> Result<T, E> {
        let mut buf = [0u8; 4096];
        loop {
            match recv(
                self.raw,
                &mut buf,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            ) {
                Ok(_) | Err(nix::Error::EINTR) => continue,
                Err(nix::Error::EAGAIN) => break,
                Err(e) => return Err(SocketError::Receive(e).into()),
            }
        }
        if request.len() > self.request_room {
            let room = request.len() + (64 << 10);
            if let Some(fd) = &self.socket.0 {
                setsockopt(fd, sockopt::SndBufForce, &room).map_err(SocketError::Open)?;
            }
            self.request_room = room;
        }
        send_and_read(self.raw, request, self.timeout, read)
    }
}

#[cfg(test)]
mod tests {
    use super::take_sequence;

    #[test]
    fn sequence_numbers_are_consecutive_never_zero_and_never_wrap_inside_a_request() {
        let mut next = 1;
        assert_eq!(take_sequence(&mut next, 1), 1);
        assert_eq!(take_sequence(&mut next, 5), 2);
        assert_eq!(take_sequence(&mut next, 1), 7);
        let mut next = u32::MAX - 2;
        assert_eq!(take_sequence(&mut next, 2), u32::MAX - 2);
        // Three more would pass u32::MAX: start again at 1.
        assert_eq!(take_sequence(&mut next, 3), 1);
        assert_eq!(next, 4);
    }
}
