//! Running code and commands inside a network namespace.
//!
//! `setns` is per thread, and libtest-mimic reuses its threads, so namespace work never
//! happens on a caller's thread: [`in_ns`] runs a closure on a fresh scoped thread that
//! enters the namespace and then ends, and [`command_in`] makes child processes enter it
//! between fork and exec. Both go through the [`guard`](crate::guard) first.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::process::Command;

use nix::sched::{setns, CloneFlags};

use crate::guard::{self, GuardError};

/// Runs `f` on a fresh thread inside the namespace behind `ns` (which must be runner-made).
pub fn in_ns<T: Send>(ns: &File, f: impl FnOnce() -> T + Send) -> Result<T, GuardError> {
    guard::check(ns)?;
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(ns, CloneFlags::CLONE_NEWNET)
                .map_err(|e| GuardError::Unidentifiable(format!("setns: {e}")))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// A `Command` that runs inside the namespace behind `ns` (which must be runner-made).
///
/// The namespace file descriptor is inherited across fork and entered in the child before
/// exec; the caller keeps `ns` open until the child has been spawned.
pub fn command_in(ns: &File, program: &str) -> Result<Command, GuardError> {
    guard::check(ns)?;
    let fd = ns.as_raw_fd();
    let mut cmd = Command::new(program);
    // SAFETY: between fork and exec only async-signal-safe calls are made (setns).
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            let borrowed = BorrowedFd::borrow_raw(fd);
            setns(borrowed, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
        });
    }
    Ok(cmd)
}

/// Writes `key` (dotted, e.g. `net.ipv4.ip_forward`) under /proc/sys. /proc/sys/net shows
/// the calling thread's network namespace: call it from inside [`in_ns`].
pub fn write_sysctl(key: &str, value: &str) -> std::io::Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value)
}
