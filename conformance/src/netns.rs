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

/// How long the runner lets one of its own tools (iptables-save, nft, conntrack) run in a
/// sandbox before it kills it: they act on a namespace the implementation shares, and a
/// hostile or broken one must not hang the run.
pub const TOOL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Feeds `stdin` to `child` (spawned with piped stdout and stderr, and a piped stdin when
/// `stdin` is given), collects its output and waits for it, at most `within`: past it
/// the child is killed and the error says what was waited for.
pub fn output_within(
    mut child: std::process::Child,
    stdin: Option<Vec<u8>>,
    within: std::time::Duration,
    what: &str,
) -> std::io::Result<std::process::Output> {
    use std::io::{Read as _, Write as _};
    let feeder = match (stdin, child.stdin.take()) {
        (Some(bytes), Some(mut pipe)) => Some(std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })),
        _ => None,
    };
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = std::time::Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{what} did not finish within {within:?}; killed"),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    #[test]
    fn a_child_past_its_deadline_is_killed_and_named() {
        let child = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let err = output_within(child, None, Duration::from_millis(100), "sleep 30").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(
            err.to_string(),
            "sleep 30 did not finish within 100ms; killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "it was not killed"
        );
    }

    #[test]
    fn output_and_stdin_are_carried_within_the_deadline() {
        let child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // More than a pipe holds: stdin is fed while stdout is read.
        let input = vec![b'x'; 1 << 20];
        let out =
            output_within(child, Some(input.clone()), Duration::from_secs(30), "cat").unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, input);
    }
}
