//! Starting an implementation inside a sandbox (its profile is in [`crate::profile`]).
//!
//! The implementation runs in the sandbox's `node` network namespace, confined as
//! [`crate::confinement`] says (its own mount, UTS, IPC and cgroup namespaces, a read-only
//! host with private scratch, the ConfigMap volume read-only at the config file's
//! directory, only the capabilities its profile grants), in its own PID namespace as
//! pid 2 below a minimal init of the runner's ([`crate::pid_namespace`]): when the case
//! ends the whole namespace is killed, so nothing it started outlives the case. Its
//! environment is PATH (the case's shims first), HOME, `XTABLES_LOCKFILE` and the
//! profile's `env`, nothing of the runner's. Its stdout and stderr go to a file in the
//! case's scratch directory, of which only the last [`LOG_TAIL`] bytes are ever read
//! back ([`Running::log`]), by descriptor and decoded lossily.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

use crate::confinement::{Confinement, FilesystemInputs, FilesystemPlan};

use crate::guard::{self, GuardError};
use crate::limits::ChildLimits;
use crate::pid_namespace::{self, InitPlan, StatusPipe};
pub use crate::profile::{Profile, Readiness, RuleListings};
use crate::vocabulary::IptablesBackend;

/// Errors starting an implementation.
#[derive(Debug, thiserror::Error)]
pub enum ImplementationError {
    #[error("profile {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error("starting {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("preparing the sandbox for the implementation: {0}")]
    Prepare(std::io::Error),
}

/// At most this many bytes of the implementation's output are read back (its tail).
pub const LOG_TAIL: u64 = 64 * 1024;

/// What the child (pid 1 of a fresh PID namespace) does between fork and exec: enter
/// `node`, confine itself (namespaces, filesystem, capabilities: see
/// [`crate::confinement`]), die with the runner, keep the program's descriptor open
/// across the exec, and fork the implementation below itself as its init.
fn enter_sandbox(
    node_fd: i32,
    confinement: &Confinement,
    program_fd: RawFd,
    init: InitPlan,
    limits: ChildLimits,
) -> std::io::Result<()> {
    let io = std::io::Error::from;
    // SAFETY: the runner keeps the namespace file open until after spawn.
    let node = unsafe { BorrowedFd::borrow_raw(node_fd) };
    setns(node, CloneFlags::CLONE_NEWNET).map_err(io)?;
    limits.apply()?;
    // SAFETY: this is the forked child; the plans were prepared before the fork.
    unsafe {
        confinement.enter()?;
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(io)?;
        confinement.drop_privileges()?;
        // Exec'd as /proc/self/fd/N: the program is reached by the descriptor the runner
        // opened, whatever the implementation can see of its path.
        if nix::libc::fcntl(program_fd, nix::libc::F_SETFD, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    // Checks that the runner is still alive (it may have died before the death signal
    // was armed) and forks the implementation; only the latter returns.
    pid_namespace::become_init(init)
}

/// A running implementation; killed and reaped on drop (with everything it started).
pub struct Running {
    /// The implementation's init (pid 1 of its PID namespace).
    child: Option<Child>,
    /// Where the init reports the implementation's wait status.
    status_pipe: StatusPipe,
    /// The implementation's exit status, once known.
    status: Option<std::process::ExitStatus>,
    /// Its output, opened by the runner before the start (never re-opened by path).
    log: File,
}

/// Options for one start.
pub struct StartOptions<'a> {
    pub profile: &'a Profile,
    pub node: &'a File,
    pub backend: IptablesBackend,
    /// Fixture flags, appended to the profile's command.
    pub flags: &'a [String],
    /// Environment beyond the profile's `env` (an adapter's rendering).
    pub env: &'a [(String, String)],
    /// The output file of an earlier start in this case: a restart appends to it.
    pub log: Option<&'a File>,
    /// The ConfigMap volume directory to mount at the config file's parent.
    pub volume: &'a Path,
    /// The case's scratch directory.
    pub scratch: &'a Path,
    /// Directory placed first on PATH (backend symlinks, fault shims).
    pub shim_dir: &'a Path,
    /// The per-case xtables lock file.
    pub lock_file: &'a Path,
    /// With `--without-iptables`: the directory of tools that replaces the runner's PATH.
    pub tool_dir: Option<&'a Path>,
    /// The case's limits, joined by the init before it forks the implementation.
    pub limits: ChildLimits,
}

impl Running {
    /// Starts the implementation inside the sandbox.
    pub fn start(opts: StartOptions<'_>) -> Result<Self, ImplementationError> {
        guard::check(opts.node)?;
        let argv = opts
            .profile
            .argv()
            .map_err(|message| ImplementationError::Invalid {
                path: PathBuf::from(&opts.profile.name),
                message,
            })?;
        let config_dir = opts.profile.config_path.parent().expect("checked at load");
        let prepare = ImplementationError::Prepare;
        let path = crate::toolpath::implementation_path(opts.shim_dir, opts.tool_dir);
        let program =
            resolve_program(&argv[0], path.as_ref()).ok_or_else(|| ImplementationError::Spawn {
                program: argv[0].clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such program (a bare name is looked up on the implementation's PATH)",
                ),
            })?;
        // Opened here, with every privilege, and exec'd by descriptor: the program starts
        // wherever it lives, even below a directory root cannot search without
        // CAP_DAC_READ_SEARCH (a checkout in a 0750 home directory).
        let program_file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_PATH | nix::libc::O_CLOEXEC)
            .open(&program)
            .map_err(|source| ImplementationError::Spawn {
                program: argv[0].clone(),
                source,
            })?;
        // The case's xtables lock must exist to be mounted at /run/xtables.lock.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(opts.lock_file)
            .map_err(prepare)?;
        let filesystem = FilesystemPlan::new(FilesystemInputs {
            volume: opts.volume,
            lock_file: opts.lock_file,
            config_dir,
            shim_dir: opts.shim_dir,
            reachable: reachable_paths(&program, &argv, &opts),
        })
        .map_err(prepare)?;
        let confinement = Confinement::new(filesystem, opts.profile.granted_capabilities());
        let log_path = opts.scratch.join("implementation.log");
        // Append-only for the implementation, read back by position (never by path).
        let log = match opts.log {
            Some(earlier) => earlier.try_clone().map_err(prepare)?,
            None => std::fs::OpenOptions::new()
                .read(true)
                .append(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&log_path)
                .map_err(prepare)?,
        };
        let stdout = log.try_clone().map_err(prepare)?;
        let stderr = log.try_clone().map_err(prepare)?;
        let program_fd = program_file.as_raw_fd();
        let mut cmd = Command::new(format!("/proc/self/fd/{program_fd}"));
        cmd.arg0(&argv[0])
            .args(&argv[1..])
            .args(opts.flags)
            .env_clear()
            .env("PATH", path)
            .env("HOME", "/root")
            .env("XTABLES_LOCKFILE", crate::confinement::LOCK_PATH)
            .envs(&opts.profile.env)
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let node_fd = opts.node.as_raw_fd();
        let limits = opts.limits;
        let (status_pipe, init, keep_open) =
            pid_namespace::prepare().map_err(ImplementationError::Prepare)?;
        // SAFETY: enter_sandbox makes only syscalls on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || enter_sandbox(node_fd, &confinement, program_fd, init, limits));
        }
        let child = pid_namespace::spawn_in_new_pid_namespace(|| {
            let _spawning = crate::forks::spawning();
            cmd.spawn()
        })
        .map_err(|source| ImplementationError::Spawn {
            program: argv[0].clone(),
            source,
        })?;
        // The init has its copies; the runner keeps only the read end.
        drop(cmd);
        drop(keep_open);
        drop(program_file);
        Ok(Self {
            child: Some(child),
            status_pipe,
            status: None,
            log,
        })
    }

    /// The file its stdout and stderr go to (the runner's own descriptor).
    pub fn log_file(&self) -> &File {
        &self.log
    }

    /// Its output so far: the last [`LOG_TAIL`] bytes at most (with a note of how much
    /// came before), invalid UTF-8 replaced by U+FFFD.
    pub fn log(&self) -> String {
        read_tail(&self.log, LOG_TAIL)
    }

    /// `Some(status)` if it has exited: the implementation's own status (an exit code, or
    /// the signal that killed it).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        if self.status.is_none() {
            let init = self.child.as_mut()?.try_wait().ok().flatten()?;
            self.status = Some(self.status_pipe.status(init));
        }
        self.status
    }

    /// Sends `signal` and waits (bounded) for the exit; returns the status if it exited.
    pub fn signal_and_wait(
        &mut self,
        signal: nix::sys::signal::Signal,
        within: Duration,
    ) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        // To the init, which forwards it to the implementation.
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
        let exited = crate::poll::until(
            || format!("process {pid} to exit after {signal}"),
            within,
            Duration::from_millis(5),
            || Ok::<_, std::convert::Infallible>(self.exited()),
        );
        match exited {
            Ok(Ok(status)) => Some(status),
            Ok(Err(_timed_out)) => None,
            Err(never) => match never {},
        }
    }

    /// Kills and reaps the process, and with its init everything it started: once the
    /// init is reaped, its PID namespace is empty.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `max` bytes of `file` (empty if it cannot be read), read by position so the
/// writer's offset is untouched, decoded lossily, preceded by a line saying how many
/// bytes were left out.
fn read_tail(file: &File, max: u64) -> String {
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let skipped = len.saturating_sub(max);
    // The file may still grow: never read more than `max`.
    let mut bytes = vec![0u8; (len - skipped) as usize];
    let mut filled = 0;
    while filled < bytes.len() {
        match file.read_at(&mut bytes[filled..], skipped + filled as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    bytes.truncate(filled);
    let text = String::from_utf8_lossy(&bytes);
    if skipped == 0 {
        text.into_owned()
    } else {
        format!("[{skipped} earlier bytes of output not shown]\n{text}")
    }
}

/// The program the profile's command names: a path (relative to the working directory),
/// or a bare name looked up on the implementation's `PATH`.
fn resolve_program(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    if name.contains('/') {
        return std::fs::canonicalize(name).ok();
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .and_then(|found| std::fs::canonicalize(found).ok())
}

/// What must stay reachable for the implementation below a directory the sandbox
/// replaces: its program, absolute paths on its command line, the working directory
/// (relative arguments), an `--iptables` tree and the case's scratch (its PATH shims).
fn reachable_paths(program: &Path, argv: &[String], opts: &StartOptions<'_>) -> Vec<PathBuf> {
    let mut paths = vec![program.to_path_buf(), opts.scratch.to_path_buf()];
    paths.extend(
        argv.iter()
            .chain(opts.flags)
            .filter(|a| a.starts_with('/'))
            .filter_map(|a| std::fs::canonicalize(a).ok()),
    );
    paths.extend(std::env::current_dir().ok());
    paths.extend(crate::iptables::tree().map(|t| t.dir.clone()));
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_found_by_path_or_on_the_implementations_path() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("agent");
        std::fs::write(&program, b"#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let canonical = std::fs::canonicalize(&program).unwrap();
        let path = std::ffi::OsString::from(format!("/nonexistent:{}", dir.path().display()));
        assert_eq!(resolve_program("agent", &path), Some(canonical.clone()));
        assert_eq!(
            resolve_program(program.to_str().unwrap(), "/nonexistent".as_ref()),
            Some(canonical)
        );
        // Not executable, or absent: not found.
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(resolve_program("agent", &path), None);
        assert_eq!(resolve_program("no-such-agent", &path), None);
    }

    #[test]
    fn the_log_tail_is_bounded_and_lossy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut content = vec![b'x'; 100_000];
        content.extend_from_slice(b"before \xff after\n");
        std::fs::write(&path, &content).unwrap();
        let tail = read_tail(&File::open(&path).unwrap(), 1000);
        assert!(
            tail.starts_with("[99015 earlier bytes of output not shown]\n"),
            "{tail}"
        );
        assert!(tail.ends_with("before \u{fffd} after\n"), "{tail}");
        assert!(tail.len() < 1100);
        std::fs::write(&path, b"short \xfe\n").unwrap();
        assert_eq!(
            read_tail(&File::open(&path).unwrap(), 1000),
            "short \u{fffd}\n"
        );
    }
}
