//! The implementation's own PID namespace, with a minimal init of the runner's as its
//! pid 1, so that everything the implementation starts dies with the case.
//!
//! ```text
//!  runner (case thread)
//!   └─ init      pid 1 of a fresh PID namespace: code of this module, never execs
//!       └─ implementation   pid 2: the profile's command
//!           └─ whatever it starts (even after leaving the node's network namespace)
//! ```
//!
//! - The case thread marks its *next child* for a new PID namespace
//!   ([`spawn_in_new_pid_namespace`]: `unshare(CLONE_NEWPID)`, spawn, `setns` back), so
//!   the process `std::process::Command` forks is pid 1 of that namespace and remains the
//!   runner's direct child (its `Child`, its `PR_SET_PDEATHSIG`).
//! - Between fork and exec that child prepares the sandbox (see
//!   [`crate::implementation`]), then [`become_init`] forks once more: the grandchild
//!   returns to `Command`, which execs the implementation as pid 2; the child stays
//!   behind as init. The implementation is deliberately not pid 1: the kernel drops
//!   signals to a namespace's init that it has no handler for, so an implementation
//!   relying on SIGTERM's default action would survive a `terminate` step.
//! - The init forwards every signal it receives (SIGTERM from a `terminate` step, ...)
//!   to the implementation, reaps orphans, and when the implementation exits writes its
//!   raw wait status to a pipe and exits. The runner reads the real status from the pipe
//!   ([`StatusPipe`]), so an exit code or a death by signal is reported as the
//!   implementation's own.
//! - When pid 1 of a PID namespace dies, the kernel SIGKILLs every process in it and
//!   reaps them before the init's parent can reap the init: once the runner has waited
//!   for the init (after killing it, or after the implementation exited), nothing the
//!   implementation started is left, whatever network or mount namespace it moved to.
//!
//! No allocation happens between fork and exec: the init uses only raw system calls on
//! data prepared by the runner.

use std::fs::File;
use std::io::Read as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::libc;
use nix::sched::{setns, unshare, CloneFlags};

/// Runs `spawn` (which forks exactly one child) with the calling thread's next children
/// placed in a new PID namespace, then puts the thread back in its own.
pub fn spawn_in_new_pid_namespace<T>(
    spawn: impl FnOnce() -> std::io::Result<T>,
) -> std::io::Result<T> {
    let own = File::open("/proc/thread-self/ns/pid")?;
    unshare(CloneFlags::CLONE_NEWPID).map_err(std::io::Error::from)?;
    let spawned = spawn();
    if let Err(e) = setns(&own, CloneFlags::CLONE_NEWPID) {
        // Every later child of this thread would land in a namespace whose init may be
        // gone (fork fails with ENOMEM): this thread must not go on.
        panic!("cannot return to the runner's own PID namespace: {e}");
    }
    spawned
}

/// The runner's end of the pipe through which the init reports the implementation's
/// wait status.
pub struct StatusPipe {
    read: File,
}

/// What the init needs between fork and exec, prepared by the runner.
#[derive(Clone, Copy)]
pub struct InitPlan {
    /// The write end of the status pipe (close-on-exec: the implementation never has it).
    status_fd: RawFd,
    /// A pidfd of the runner, to detect a runner that died before the death signal was
    /// armed (its pid is not visible from inside the new namespace).
    runner_pidfd: RawFd,
}

/// The runner's side: a status pipe and a pidfd of the runner. The returned `OwnedFd`s
/// must stay open until the child has been spawned, then be dropped.
pub fn prepare() -> std::io::Result<(StatusPipe, InitPlan, [OwnedFd; 2])> {
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
            .map_err(std::io::Error::from)?;
    // SAFETY: pidfd_open takes a pid and flags; the result is a new fd (close-on-exec).
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if pidfd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd owned by nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    let plan = InitPlan {
        status_fd: write.as_raw_fd(),
        runner_pidfd: pidfd.as_raw_fd(),
    };
    Ok((StatusPipe { read: read.into() }, plan, [write, pidfd]))
}

impl StatusPipe {
    /// The implementation's wait status, once the init has exited (`init_status` is the
    /// init's own: used when it was killed before the implementation exited).
    pub fn status(&mut self, init_status: ExitStatus) -> ExitStatus {
        let mut raw = [0u8; 4];
        match self.read.read_exact(&mut raw) {
            Ok(()) => ExitStatus::from_raw(i32::from_ne_bytes(raw)),
            Err(_) => init_status,
        }
    }
}

fn last_errno() -> std::io::Error {
    // A raw OS error: no allocation.
    std::io::Error::from_raw_os_error(nix::errno::Errno::last_raw())
}

/// Called in the child between fork and exec, after the sandbox is set up and the death
/// signal armed. Returns `Ok(())` only in the implementation's process (pid 2), which
/// goes on to exec; the init never returns.
pub fn become_init(plan: InitPlan) -> std::io::Result<()> {
    // SAFETY (whole function): raw system calls on stack data only.
    unsafe {
        // Is the runner still there? (It may have died before PR_SET_PDEATHSIG.) A pidfd
        // becomes readable when its process has exited; polling works across PID
        // namespaces, where signalling through it does not.
        let mut runner = libc::pollfd {
            fd: plan.runner_pidfd,
            events: libc::POLLIN,
            revents: 0,
        };
        match libc::poll(&mut runner, 1, 0) {
            0 => {}
            1 => return Err(std::io::Error::from_raw_os_error(libc::ESRCH)),
            _ => return Err(last_errno()),
        }
        // Only pid 1 of a fresh namespace may go on: otherwise the containment failed.
        if libc::getpid() != 1 {
            return Err(std::io::Error::from_raw_os_error(libc::EPERM));
        }
        // Block every signal before the fork, so none is lost or acts on the init; the
        // implementation unblocks them before exec.
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let mut old: libc::sigset_t = std::mem::zeroed();
        // pthread_sigmask returns the error number instead of setting errno.
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        // A SIGCHLD ignored by inheritance would auto-reap the implementation.
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        match libc::fork() {
            -1 => Err(last_errno()),
            0 => {
                // The implementation: back to the signal mask the runner's fork gave.
                let rc = libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                if rc != 0 {
                    return Err(std::io::Error::from_raw_os_error(rc));
                }
                Ok(())
            }
            implementation => init_loop(implementation, plan.status_fd, &all),
        }
    }
}

/// pid 1: forwards signals, reaps, reports the implementation's exit and dies with it.
///
/// # Safety
/// Only in the forked child, with every signal in `all` blocked.
unsafe fn init_loop(implementation: libc::pid_t, status_fd: RawFd, all: &libc::sigset_t) -> ! {
    // Keep nothing of the runner's but the status pipe: in particular not the pipe
    // through which `Command::spawn` learns that the exec happened (it would wait for
    // the init to exit), nor the case's namespace files.
    let fd = status_fd as libc::c_uint;
    let below = fd <= 3 || libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, fd - 1, 0) == 0;
    let above = libc::syscall(libc::SYS_close_range, fd + 1, libc::c_uint::MAX, 0) == 0;
    if !(below && above) {
        // A kernel without close_range (before 5.9): one by one, up to the fd limit.
        let mut limit: libc::rlimit = std::mem::zeroed();
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur.min(1 << 20) as libc::c_int
        } else {
            1024
        };
        for other in 3..max {
            if other != status_fd {
                libc::close(other);
            }
        }
    }
    loop {
        let mut signal: libc::c_int = 0;
        if libc::sigwait(all, &mut signal) != 0 {
            continue;
        }
        if signal != libc::SIGCHLD {
            libc::kill(implementation, signal);
            continue;
        }
        loop {
            let mut status: libc::c_int = 0;
            let pid = libc::waitpid(-1, &mut status, libc::WNOHANG);
            if pid <= 0 {
                break;
            }
            if pid == implementation {
                let bytes = status.to_ne_bytes();
                libc::write(status_fd, bytes.as_ptr().cast(), bytes.len());
                // Exiting kills whatever the implementation left running.
                libc::_exit(0);
            }
        }
    }
}
