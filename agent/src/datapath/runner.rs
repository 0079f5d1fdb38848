//! Child processes with a deadline and the stop flag, shared by every command-line tool
//! the agent drives (iptables, ip6tables, their `-restore`, nft).

use super::backend::{BackendError, StopFlag};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How much of a child's stderr an error message carries.
const MAX_STDERR_CHARS: usize = 1000;

/// Runs child processes with a deadline and the stop flag: shared by every command-line
/// tool the agent drives (iptables, ip6tables, their `-restore`, nft).
#[derive(Debug, Clone)]
pub struct Runner {
    stop: StopFlag,
    timeout: Duration,
}

impl Runner {
    /// Children are killed after `timeout`, or as soon as `stop` is set.
    pub fn new(stop: StopFlag, timeout: Duration) -> Self {
        Runner { stop, timeout }
    }

    /// The deadline of each child.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// What a child printed and how it ended.
pub(super) struct Output {
    pub(super) code: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
    pub(super) command: String,
}

impl Output {
    /// The failure this output means (the exit status and the start of stderr).
    pub(super) fn into_error(self) -> BackendError {
        let stderr = self.stderr.trim();
        let stderr = if stderr.chars().count() > MAX_STDERR_CHARS {
            let cut: String = stderr.chars().take(MAX_STDERR_CHARS).collect();
            format!("{cut}... (cut)")
        } else {
            stderr.to_string()
        };
        BackendError::Failed {
            command: self.command,
            status: match self.code {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            },
            stderr,
        }
    }
}

/// Kills a child's whole process group (it is the group's leader); a member left over
/// after the leader exited is killed too. ESRCH (nobody left) is fine.
fn kill_group(pgid: u32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks on a full pipe
/// while we wait for it.
fn drain(
    pipe: Option<impl Read + Send + 'static>,
    tx: mpsc::Sender<(bool, Vec<u8>)>,
    is_err: bool,
) {
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((is_err, buf));
        });
    }
}

impl Runner {
    /// Runs `program` (looked up on `PATH`) with `args` and `stdin`, in its own process
    /// group, killed with that group at the deadline or when the stop flag is set.
    pub(super) fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<Output, BackendError> {
        let command = format!("{program} {}", args.join(" "));
        if self.stop.is_set() {
            return Err(BackendError::Interrupted { command });
        }
        tracing::debug!(%command, "running");
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a deadline or a stop kills whatever it started.
            .process_group(0)
            .spawn()
            .map_err(|source| BackendError::Spawn {
                command: program.to_string(),
                source,
            })?;
        let pgid = child.id();
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // On a thread: a child that never reads must not block us past its deadline.
            // A child that exits early closes its stdin; its exit status tells the story.
            let input = input.to_owned();
            std::thread::spawn(move || {
                let _ = pipe.write_all(input.as_bytes());
            });
        }
        let (tx, rx) = mpsc::channel();
        drain(child.stdout.take(), tx.clone(), false);
        drain(child.stderr.take(), tx, true);

        // The exit arrives on a channel the moment it happens; every 10 ms in between the
        // stop flag and the deadline are checked.
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(child.wait());
        });
        let start = Instant::now();
        let status = loop {
            let left = self.timeout.saturating_sub(start.elapsed());
            match done_rx.recv_timeout(left.min(Duration::from_millis(10))) {
                Ok(Ok(status)) => break status,
                Ok(Err(source)) => {
                    kill_group(pgid);
                    return Err(BackendError::Spawn { command, source });
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    kill_group(pgid);
                    return Err(BackendError::Spawn {
                        command,
                        source: std::io::Error::other("lost track of the child"),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let stopped = self.stop.is_set();
            if stopped || start.elapsed() >= self.timeout {
                kill_group(pgid);
                // Reaped by the waiter thread; bounded all the same.
                let _ = done_rx.recv_timeout(Duration::from_secs(1));
                return Err(if stopped {
                    BackendError::Interrupted { command }
                } else {
                    BackendError::Timeout {
                        command,
                        after: self.timeout,
                    }
                });
            }
        };
        kill_group(pgid);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        // Both pipes reach their end once the group is gone; bounded all the same.
        for _ in 0..2 {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok((true, b)) => stderr = b,
                Ok((false, b)) => stdout = b,
                Err(_) => break,
            }
        }
        Ok(Output {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            command,
        })
    }
}
