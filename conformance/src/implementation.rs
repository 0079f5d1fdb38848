//! Implementation profiles, and starting an implementation inside a sandbox.
//!
//! A profile is the whole contract between the suite and an implementation (after
//! toml-test): an argv, where it reads its config, and which cases it is known to fail.
//! The process runs in the sandbox's `node` network namespace and in a private mount
//! namespace in which the case's ConfigMap volume is mounted at the config file's parent
//! directory — so an implementation with a hard-coded path (the reference reads
//! `/etc/config/ip-masq-agent`) works unchanged, and the host's filesystem is untouched.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;
use serde::Deserialize;

use crate::guard::{self, GuardError};
use crate::iptables::Backend;

/// How the runner knows an implementation is ready after start and after a change.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    /// Its rules appear in the nat table (chain with a MASQUERADE rule, POSTROUTING jump).
    #[default]
    Iptables,
    /// It keeps no iptables rules (eBPF, nftables-native): wait until probe outcomes stop
    /// changing between two rounds.
    Outcomes,
}

/// Whether rule listings in snapshots bind this implementation.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RuleListings {
    /// `iptables-save` and `iptables -L` must match the snapshot, like outcomes.
    #[default]
    Normative,
    /// Only outcomes are compared; the listings are shown but not asserted.
    Waived,
}

/// One implementation under test (`conformance/implementations/*.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Shown in reports.
    pub name: String,
    /// argv, no shell. `${VAR}` is replaced by the environment variable VAR (an unset one
    /// is an error naming it); `${VAR:-default}` falls back to `default` when VAR is unset
    /// or empty. Relative paths are relative to the working directory.
    pub command: Vec<String>,
    /// Where the implementation reads its config.
    #[serde(default = "default_config_path")]
    pub config_path: PathBuf,
    /// Cases (`fixture` or `fixture::backend`) this implementation is known to fail.
    #[serde(default)]
    pub expected_failures: Vec<String>,
    #[serde(default)]
    pub readiness: Readiness,
    #[serde(default)]
    pub rule_listings: RuleListings,
    /// Extra environment for the process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn default_config_path() -> PathBuf {
    PathBuf::from("/etc/config/ip-masq-agent")
}

/// Errors loading a profile or starting an implementation.
#[derive(Debug, thiserror::Error)]
pub enum ImplementationError {
    #[error("reading profile {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
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

impl Profile {
    /// Loads and checks a profile file.
    pub fn load(path: &Path) -> Result<Self, ImplementationError> {
        let text = std::fs::read_to_string(path).map_err(|source| ImplementationError::Read {
            path: path.into(),
            source,
        })?;
        let invalid = |message: String| ImplementationError::Invalid {
            path: path.into(),
            message,
        };
        let profile: Profile = serde_saphyr::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if profile.command.is_empty() {
            return Err(invalid("command: must name a program".into()));
        }
        if !profile.config_path.is_absolute() || profile.config_path.parent().is_none() {
            return Err(invalid(format!(
                "config_path: {:?} must be an absolute file path",
                profile.config_path
            )));
        }
        profile.argv().map_err(invalid)?;
        Ok(profile)
    }

    /// The command with `${VAR}` references expanded.
    pub fn argv(&self) -> Result<Vec<String>, String> {
        self.command.iter().map(|a| expand_env(a)).collect()
    }

    /// Whether `trial` (`fixture::backend`) is listed as a known failure.
    pub fn expects_failure(&self, fixture: &str, backend: Backend) -> bool {
        let trial = format!("{fixture}::{}", backend.name());
        self.expected_failures
            .iter()
            .any(|f| f == fixture || *f == trial)
    }
}

/// Replaces `${VAR}` with the variable's value.
fn expand_env(arg: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("command: unterminated ${{ in {arg:?}"))?;
        let (var, default) = match after[..end].split_once(":-") {
            Some((var, default)) => (var, Some(default)),
            None => (&after[..end], None),
        };
        let value = match (std::env::var(var), default) {
            (Ok(v), _) if !v.is_empty() => v,
            (_, Some(default)) => default.to_string(),
            (Ok(v), None) => v,
            (Err(_), None) => return Err(format!(
                "command: {arg:?} uses ${{{var}}}, but the environment variable {var} is not set"
            )),
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
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
    /// The runner's pid, to detect a runner that died before the death signal was armed.
    runner_pid: u32,
}

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
        runner_pid: std::process::id(),
    })
}

/// What the child does between fork and exec: enter `node`, take a private mount
/// namespace, mount the config volume, and die with the runner.
fn enter_sandbox(node_fd: i32, plan: &MountPlan) -> std::io::Result<()> {
    let io = std::io::Error::from;
    // SAFETY: the runner keeps the namespace file open until after spawn.
    let node = unsafe { BorrowedFd::borrow_raw(node_fd) };
    setns(node, CloneFlags::CLONE_NEWNET).map_err(io)?;
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
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(io)?;
    // The runner may have died before the death signal was armed: then never start.
    // ESRCH ("no such process": the runner) is a raw OS error, which does not allocate.
    if nix::unistd::getppid().as_raw() as u32 != plan.runner_pid {
        return Err(io(nix::errno::Errno::ESRCH));
    }
    Ok(())
}

use std::ffi::CStr;

/// A running implementation; killed and reaped on drop.
pub struct Running {
    child: Option<Child>,
    log_path: PathBuf,
}

/// Options for one start.
pub struct StartOptions<'a> {
    pub profile: &'a Profile,
    pub node: &'a File,
    pub backend: Backend,
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
        let path = format!(
            "{}:{}",
            opts.shim_dir.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        );
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
        // SAFETY: enter_sandbox makes only syscalls on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || enter_sandbox(node_fd, &plan));
        }
        let child = cmd.spawn().map_err(|source| ImplementationError::Spawn {
            program: argv[0].clone(),
            source,
        })?;
        Ok(Self {
            child: Some(child),
            log_path,
        })
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `Some(status)` if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Sends `signal` and waits (bounded) for the exit; returns the status if it exited.
    pub fn signal_and_wait(
        &mut self,
        signal: nix::sys::signal::Signal,
        within: Duration,
    ) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
        let exited = crate::poll::until(
            || format!("process {pid} to exit after {signal}"),
            within,
            Duration::from_millis(5),
            || Ok::<_, std::convert::Infallible>(child.try_wait().ok().flatten()),
        );
        match exited {
            Ok(Ok(status)) => Some(status),
            Ok(Err(_timed_out)) => None,
            Err(never) => match never {},
        }
    }

    /// Kills and reaps the process.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_environment_and_names_missing_variables() {
        std::env::set_var("MASQ_TEST_BIN", "/opt/agent");
        assert_eq!(expand_env("${MASQ_TEST_BIN}/x").unwrap(), "/opt/agent/x");
        assert_eq!(
            expand_env("${MASQ_TEST_SURELY_UNSET:-target/x}").unwrap(),
            "target/x"
        );
        assert_eq!(expand_env("${MASQ_TEST_BIN:-y}").unwrap(), "/opt/agent");
        let err = expand_env("${MASQ_TEST_SURELY_UNSET}").unwrap_err();
        assert!(err.contains("MASQ_TEST_SURELY_UNSET"), "{err}");
    }

    #[test]
    fn known_failures_match_fixture_or_trial() {
        let p = Profile {
            name: "x".into(),
            command: vec!["x".into()],
            config_path: default_config_path(),
            expected_failures: vec!["a".into(), "b::nft".into()],
            readiness: Readiness::default(),
            rule_listings: RuleListings::default(),
            env: BTreeMap::new(),
        };
        assert!(p.expects_failure("a", Backend::Legacy));
        assert!(p.expects_failure("b", Backend::Nft));
        assert!(!p.expects_failure("b", Backend::Legacy));
    }
}
