//! Starting an implementation inside a sandbox (its profile is in [`crate::profile`]).
//!
//! The implementation's environment:
//! - the sandbox's `node` network namespace;
//! - a private mount namespace in which the case's ConfigMap volume is mounted at the
//!   config file's parent directory — so an implementation with a hard-coded path (the
//!   reference reads `/etc/config/ip-masq-agent`) works unchanged — `/etc` is an overlay
//!   (see [`plan_mounts`]), and the host's filesystem is untouched;
//! - a private, empty `/run/netns` (a tmpfs): a namespace it names with `ip netns add`
//!   never appears in the host's `ip netns list`, and goes away with the case;
//! - its own PID namespace, as pid 2 below a minimal init of the runner's (see
//!   [`crate::pid_namespace`]), with a fresh `/proc` showing that namespace: when the
//!   case ends the whole namespace is killed, so nothing it started outlives the case,
//!   even a process that left the node's network namespace (`unshare -n`);
//! - stdout and stderr go to a file in the case's scratch directory, of which only the
//!   last [`LOG_TAIL`] bytes are ever read back ([`Running::log`]), decoded lossily.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;

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

/// Everything the child needs between fork and exec, prepared beforehand (no allocation
/// is allowed there).
struct MountPlan {
    /// Private overlays: (target, options). `/etc` always comes first, so that
    /// `/etc/alternatives` can be pointed at the case's shims; a second one covers the
    /// config directory's nearest existing ancestor when that is outside `/etc`.
    overlays: Vec<(CString, CString)>,
    /// `/etc/alternatives` entries to re-point: (link, target in the shim dir).
    alternatives: Vec<(CString, CString)>,
    mkdirs: Vec<CString>,
    bind_source: CString,
    bind_target: CString,
}

/// At most this many bytes of the implementation's output are read back (its tail).
pub const LOG_TAIL: u64 = 64 * 1024;

fn cstring(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

fn overlay_over(anchor: &Path, scratch: &Path, tag: &str) -> std::io::Result<(CString, CString)> {
    let upper = scratch.join(format!("{tag}-upper"));
    let work = scratch.join(format!("{tag}-work"));
    std::fs::create_dir_all(&upper)?;
    std::fs::create_dir_all(&work)?;
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        anchor.display(),
        upper.display(),
        work.display()
    );
    Ok((cstring(anchor), CString::new(opts).expect("no NUL")))
}

/// Plans the implementation's private view of the filesystem:
/// - `/etc` is overlaid (changes land in the case's scratch dir, never on the host);
/// - every `/etc/alternatives/{ip,ip6}tables*` link points into `shim_dir`, so even an
///   implementation that runs `/usr/sbin/iptables-restore` by absolute path (or falls
///   through PATH) gets the case's backend — and a fault shim that removes a tool really
///   removes it;
/// - the ConfigMap volume is bind-mounted at the config file's directory, created inside
///   an overlay if it does not exist.
fn plan_mounts(
    volume: &Path,
    config_dir: &Path,
    scratch: &Path,
    shim_dir: &Path,
) -> std::io::Result<MountPlan> {
    let etc = Path::new("/etc");
    let mut overlays = vec![overlay_over(etc, scratch, "etc")?];
    let alternatives = crate::iptables::TOOL_NAMES
        .iter()
        .map(|tool| (etc.join("alternatives").join(tool), shim_dir.join(tool)))
        .filter(|(link, _)| std::fs::symlink_metadata(link).is_ok())
        .map(|(link, target)| (cstring(&link), cstring(&target)))
        .collect();
    let mut anchor = config_dir.to_path_buf();
    let mut missing = Vec::new();
    while !anchor.is_dir() {
        missing.push(anchor.clone());
        anchor = anchor
            .parent()
            .ok_or_else(|| std::io::Error::other("config path has no existing ancestor"))?
            .to_path_buf();
    }
    if !missing.is_empty() && !anchor.starts_with(etc) {
        if anchor == Path::new("/") {
            return Err(std::io::Error::other(
                "config_path's top-level directory does not exist; choose a path under an existing directory",
            ));
        }
        overlays.push(overlay_over(&anchor, scratch, "config")?);
    }
    missing.reverse();
    Ok(MountPlan {
        overlays,
        alternatives,
        mkdirs: missing.iter().map(|p| cstring(p)).collect(),
        bind_source: cstring(volume),
        bind_target: cstring(config_dir),
    })
}

/// What the child (pid 1 of a fresh PID namespace) does between fork and exec: enter
/// `node`, take a private mount namespace, mount the config volume, a private
/// `/run/netns` and a fresh `/proc`, die with the runner, and fork the implementation
/// below itself as its init.
fn enter_sandbox(
    node_fd: i32,
    plan: &MountPlan,
    init: InitPlan,
    limits: ChildLimits,
) -> std::io::Result<()> {
    let io = std::io::Error::from;
    // SAFETY: the runner keeps the namespace file open until after spawn.
    let node = unsafe { BorrowedFd::borrow_raw(node_fd) };
    setns(node, CloneFlags::CLONE_NEWNET).map_err(io)?;
    limits.apply()?;
    unshare(CloneFlags::CLONE_NEWNS).map_err(io)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(io)?;
    for (target, opts) in &plan.overlays {
        mount(
            Some(c"overlay"),
            target.as_c_str(),
            Some(c"overlay"),
            MsFlags::empty(),
            Some(opts.as_c_str()),
        )
        .map_err(io)?;
    }
    for (link, target) in &plan.alternatives {
        nix::unistd::unlink(link.as_c_str()).map_err(io)?;
        nix::unistd::symlinkat(target.as_c_str(), nix::fcntl::AT_FDCWD, link.as_c_str())
            .map_err(io)?;
    }
    for dir in &plan.mkdirs {
        match nix::unistd::mkdir(dir.as_c_str(), Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(io(e)),
        }
    }
    mount(
        Some(plan.bind_source.as_c_str()),
        plan.bind_target.as_c_str(),
        None::<&CStr>,
        MsFlags::MS_BIND,
        None::<&CStr>,
    )
    .map_err(io)?;
    // A private /run/netns: what `ip netns add` names inside stays inside. (It exists:
    // the sandbox's own namespaces are named there.)
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some(c"tmpfs"),
        c"/run/netns",
        Some(c"tmpfs"),
        hardened,
        Some(c"mode=0755"),
    )
    .map_err(io)?;
    // A /proc that shows this PID namespace (the host's would show the host's pids).
    mount(
        Some(c"proc"),
        c"/proc",
        Some(c"proc"),
        hardened,
        None::<&CStr>,
    )
    .map_err(io)?;
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(io)?;
    // Checks that the runner is still alive (it may have died before the death signal
    // was armed) and forks the implementation; only the latter returns.
    pid_namespace::become_init(init)
}

use std::ffi::CStr;

/// A running implementation; killed and reaped on drop (with everything it started).
pub struct Running {
    /// The implementation's init (pid 1 of its PID namespace).
    child: Option<Child>,
    /// Where the init reports the implementation's wait status.
    status_pipe: StatusPipe,
    /// The implementation's exit status, once known.
    status: Option<std::process::ExitStatus>,
    log_path: PathBuf,
}

/// Options for one start.
pub struct StartOptions<'a> {
    pub profile: &'a Profile,
    pub node: &'a File,
    pub backend: IptablesBackend,
    /// Fixture flags, appended to the profile's command.
    pub flags: &'a [String],
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
        let plan = plan_mounts(opts.volume, config_dir, opts.scratch, opts.shim_dir)
            .map_err(ImplementationError::Prepare)?;
        let log_path = opts.scratch.join("implementation.log");
        let log = File::create(&log_path).map_err(ImplementationError::Prepare)?;
        let log2 = log.try_clone().map_err(ImplementationError::Prepare)?;
        let path = crate::toolpath::implementation_path(opts.shim_dir, opts.tool_dir);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .args(opts.flags)
            .env("PATH", path)
            .env("XTABLES_LOCKFILE", opts.lock_file)
            .envs(&opts.profile.env)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let node_fd = opts.node.as_raw_fd();
        let limits = opts.limits;
        let (status_pipe, init, keep_open) =
            pid_namespace::prepare().map_err(ImplementationError::Prepare)?;
        // SAFETY: enter_sandbox makes only syscalls on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || enter_sandbox(node_fd, &plan, init, limits));
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
        Ok(Self {
            child: Some(child),
            status_pipe,
            status: None,
            log_path,
        })
    }

    /// The file its stdout and stderr go to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Its output so far: the last [`LOG_TAIL`] bytes at most (with a note of how much
    /// came before), invalid UTF-8 replaced by U+FFFD.
    pub fn log(&self) -> String {
        read_tail(&self.log_path, LOG_TAIL)
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

/// The last `max` bytes of the file at `path` (empty if it cannot be read), decoded
/// lossily, preceded by a line saying how many bytes were left out.
fn read_tail(path: &Path, max: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let skipped = len.saturating_sub(max);
    if file.seek(SeekFrom::Start(skipped)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    // The file may still grow: never read more than `max`.
    let _ = file.take(max).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    if skipped == 0 {
        text.into_owned()
    } else {
        format!("[{skipped} earlier bytes of output not shown]\n{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_tail_is_bounded_and_lossy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut content = vec![b'x'; 100_000];
        content.extend_from_slice(b"before \xff after\n");
        std::fs::write(&path, &content).unwrap();
        let tail = read_tail(&path, 1000);
        assert!(
            tail.starts_with("[99015 earlier bytes of output not shown]\n"),
            "{tail}"
        );
        assert!(tail.ends_with("before \u{fffd} after\n"), "{tail}");
        assert!(tail.len() < 1100);
        std::fs::write(&path, b"short \xfe\n").unwrap();
        assert_eq!(read_tail(&path, 1000), "short \u{fffd}\n");
        assert_eq!(read_tail(&dir.path().join("missing"), 1000), "");
    }
}
