//! Per-run names for everything the runner creates, and the start-up sweep of leftovers.
//!
//! Every namespace and cgroup is named `mcnf-<pid>-<case>-...`; scratch directories live
//! below the run's own `mcnf-<pid>-<random>` (mode 0700, never one that existed: `/tmp`
//! is world-writable, and a predictable name there could be planted by any user). A run
//! killed by SIGKILL cannot clean up after itself; the next run finds names whose pid is
//! dead, kills any process still inside those namespaces and cgroups, and removes them.
//! On SIGINT or SIGTERM the run does the same to its own names ([`sweep_own`]).
//!
//! An implementation dies with its runner (its init has `PR_SET_PDEATHSIG`, and its PID
//! namespace dies with the init, see [`crate::pid_namespace`]), and what it names with
//! `ip netns add` never reaches the host's `/run/netns` (it has a private one). The
//! sweep does not rely on either: it also kills any process, in whatever network
//! namespace, whose mount table still shows a stale case's scratch directory (the case's
//! private mount namespace, with its overlays, pinned by a process that left `node`).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Prefix of every name this runner creates.
pub const PREFIX: &str = "mcnf-";

/// Where `ip netns` (and netns-rs) keep named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// A fresh, run-unique tag for one case: `mcnf-<pid>-<n>`. It names the case's
/// namespaces and cgroups (both in places only root can write); its scratch directory is
/// made below [`run_scratch`], whose name cannot be guessed.
pub fn next_case_tag() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{}-{n}", std::process::id())
}

/// Where scratch directories are made: the system's temporary directory.
pub fn scratch_root() -> PathBuf {
    std::env::temp_dir()
}

/// Set once the run is stopping (a signal): nothing new is created from then on.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Marks the run as stopping: [`make_case_dir`] (so every new case) refuses from now on.
pub fn stop_creating() {
    STOPPING.store(true, Ordering::SeqCst);
}

pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Sixteen hex digits from the kernel's random source.
fn random_suffix() -> std::io::Result<String> {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { nix::libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        return Err(std::io::Error::last_os_error());
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Makes directory `path` with mode 0700, never accepting one that exists, and checks
/// that what is there now is ours: a directory (not a link), owned by this process's
/// user, mode 0700. In a world-writable `/tmp`, anything else may be another user's.
pub fn make_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o700).create(path)?;
    check_private_dir(path)
}

/// Whether `path` is a directory (not a link) of this process's user with mode 0700.
pub fn check_private_dir(path: &Path) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let uid = nix::unistd::geteuid().as_raw();
    if !meta.file_type().is_dir() || meta.uid() != uid || meta.mode() & 0o7777 != 0o700 {
        return Err(std::io::Error::other(format!(
            "{} is not a directory of uid {uid} with mode 0700 (it is uid {}, mode {:o}): not made by this run",
            path.display(),
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

type Made = Result<PathBuf, (std::io::ErrorKind, String)>;
static RUN_SCRATCH: OnceLock<Made> = OnceLock::new();

/// Removes this run's scratch root (at the run's end; cases have removed their own).
pub fn remove_run_scratch() {
    if let Some(Ok(path)) = RUN_SCRATCH.get() {
        unmount_below(path);
        let _ = fs::remove_dir_all(path);
    }
}

/// This run's private scratch root, `<tmp>/mcnf-<pid>-<random>` (mode 0700), made on
/// first use. A name that exists already is never reused: another is drawn.
pub fn run_scratch() -> std::io::Result<&'static Path> {
    let made = RUN_SCRATCH.get_or_init(|| {
        let mut last = None;
        for _ in 0..16 {
            let attempt = random_suffix().and_then(|r| {
                let path = scratch_root().join(format!("{PREFIX}{}-{r}", std::process::id()));
                make_private_dir(&path).map(|()| path)
            });
            match attempt {
                Ok(path) => return Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err((e.kind(), e.to_string())),
            }
        }
        let e = last.expect("tried at least once");
        Err((e.kind(), e.to_string()))
    });
    match made {
        Ok(path) => Ok(path.as_path()),
        Err((kind, message)) => Err(std::io::Error::new(
            *kind,
            format!(
                "making this run's scratch directory in {}: {message}",
                scratch_root().display()
            ),
        )),
    }
}

/// Makes the case's scratch directory `<run scratch>/<tag>` (mode 0700, never an existing
/// one). Refused once the run is stopping.
pub fn make_case_dir(tag: &str) -> std::io::Result<PathBuf> {
    if stopping() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the run is stopping",
        ));
    }
    let dir = run_scratch()?.join(tag);
    make_private_dir(&dir)?;
    Ok(dir)
}

/// The pid embedded in a runner-made name, if it is one.
pub fn owner_pid(name: &str) -> Option<i32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

fn pid_alive(pid: i32) -> bool {
    // Signal 0 checks existence; EPERM still means it exists. A zombie has let go of its
    // namespaces and mounts already: it counts as gone.
    let exists = !matches!(
        kill(Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    );
    exists && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which is in parentheses and may contain any.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            == Some("Z")
    })
}

/// What a sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub namespaces: Vec<String>,
    pub processes: Vec<i32>,
    pub directories: Vec<PathBuf>,
    pub cgroups: Vec<PathBuf>,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.processes.is_empty()
            && self.directories.is_empty()
            && self.cgroups.is_empty()
    }
}

impl std::fmt::Display for Swept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            f,
            "{} namespace(s) [{}], {} process(es), {} scratch director(ies) [{}], {} cgroup(s) [{}]",
            self.namespaces.len(),
            self.namespaces.join(", "),
            self.processes.len(),
            self.directories.len(),
            paths(&self.directories),
            self.cgroups.len(),
            paths(&self.cgroups)
        )
    }
}

/// Entries of `dir` with a runner's name that `owned` accepts.
fn entries_named(dir: &Path, owned: &dyn Fn(&str) -> bool) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            owned(&name).then(|| (name, entry.path()))
        })
        .collect()
}

/// Whether `name` was made by a runner that is no longer alive.
fn stale(name: &str) -> bool {
    owner_pid(name).is_some_and(|pid| !pid_alive(pid))
}

/// Removes namespaces, processes, scratch directories and cgroups left by runs that are
/// no longer alive. Names owned by live processes (a concurrent run) are left alone.
pub fn sweep_stale() -> Swept {
    sweep_named(&stale)
}

/// Removes everything this run made (on SIGINT/SIGTERM, as a normal end would): its
/// namespaces and what runs in them, its scratch directory, its cgroups.
pub fn sweep_own() -> Swept {
    let me = std::process::id() as i32;
    sweep_named(&|name: &str| owner_pid(name) == Some(me))
}

fn sweep_named(owned: &dyn Fn(&str) -> bool) -> Swept {
    let mut swept = Swept::default();
    let dirs_found = entries_named(&scratch_root(), owned);
    for (name, path) in entries_named(Path::new(NETNS_DIR), owned) {
        swept.processes.extend(kill_processes_in(&path));
        remove_named_namespace(&path);
        swept.namespaces.push(name);
    }
    let dirs: Vec<&Path> = dirs_found.iter().map(|(_, p)| p.as_path()).collect();
    swept.processes.extend(kill_processes_mounting(&dirs));
    swept.cgroups = crate::limits::sweep_cgroups(owned);
    for (_, path) in dirs_found {
        unmount_below(&path);
        if fs::remove_dir_all(&path).is_ok() {
            swept.directories.push(path);
        }
    }
    swept
}

/// SIGKILLs every process whose network namespace is the one bound at `ns_path`, and
/// waits (bounded) until they are gone. Returns their pids.
pub fn kill_processes_in(ns_path: &Path) -> Vec<i32> {
    kill_processes_in_any(&[ns_path])
}

/// The same for several namespaces with one walk over /proc.
pub fn kill_processes_in_any(ns_paths: &[&Path]) -> Vec<i32> {
    let targets: Vec<(u64, u64)> = ns_paths
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    let mut killed = Vec::new();
    if targets.is_empty() {
        return killed;
    }
    let Ok(procs) = fs::read_dir("/proc") else {
        return killed;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(m) = fs::metadata(p.path().join("ns/net")) else {
            continue;
        };
        if targets.contains(&(m.dev(), m.ino()))
            && kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok()
        {
            killed.push(pid);
        }
    }
    wait_gone(&killed);
    killed
}

/// Waits (bounded) until the killed processes are gone.
fn wait_gone(killed: &[i32]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while killed.iter().any(|&pid| pid_alive(pid)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// SIGKILLs every process whose mount table mentions a path below one of `dirs` (a
/// stale case's scratch directory: the overlays of its private mount namespace), and
/// waits (bounded) until they are gone. Processes in this process's own mount
/// namespace, or PID 1's, are never touched: a mount there is unmounted instead (see
/// [`sweep_stale`]). Returns their pids.
pub fn kill_processes_mounting(dirs: &[&Path]) -> Vec<i32> {
    let mut killed = Vec::new();
    if dirs.is_empty() {
        return killed;
    }
    let needles: Vec<String> = dirs.iter().map(|d| format!("{}/", d.display())).collect();
    let mnt_ns = |pid: &str| fs::metadata(format!("/proc/{pid}/ns/mnt")).map(|m| m.ino());
    let spared: Vec<u64> = ["self", "1"]
        .into_iter()
        .filter_map(|p| mnt_ns(p).ok())
        .collect();
    if spared.is_empty() {
        return killed; // cannot tell which namespace is ours: touch nothing
    }
    // One reading of the mount table per mount namespace.
    let mut verdicts: std::collections::HashMap<u64, bool> = std::collections::HashMap::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return killed;
    };
    let me = std::process::id() as i32;
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(ns) = mnt_ns(&pid.to_string()) else {
            continue;
        };
        if pid == me || spared.contains(&ns) {
            continue;
        }
        let stale = *verdicts.entry(ns).or_insert_with(|| {
            fs::read_to_string(p.path().join("mountinfo"))
                .map(|table| needles.iter().any(|n| table.contains(n.as_str())))
                .unwrap_or(false)
        });
        if stale && kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
            killed.push(pid);
        }
    }
    wait_gone(&killed);
    killed
}

/// Unmounts and deletes a namespace bind mount under /run/netns.
pub fn remove_named_namespace(path: &Path) {
    let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
    let _ = fs::remove_file(path);
}

/// Detaches any mount left below a scratch directory (an overlay from a killed case).
fn unmount_below(dir: &Path) {
    let Ok(mounts) = fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    for line in mounts.lines() {
        if let Some(target) = line.split_whitespace().nth(1) {
            if Path::new(target).starts_with(dir) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_parses_only_runner_names() {
        assert_eq!(owner_pid("mcnf-1234-7-pod"), Some(1234));
        assert_eq!(owner_pid("mcnf-1234-7"), Some(1234));
        assert_eq!(owner_pid("cni-1234"), None);
        assert_eq!(owner_pid("mcnf-x-1"), None);
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !is_zombie(pid) {
            assert!(std::time::Instant::now() < deadline, "true never exited");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!pid_alive(pid));
        child.wait().unwrap();
        assert!(pid_alive(std::process::id() as i32));
    }

    #[test]
    fn a_private_dir_is_never_one_that_existed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("fresh");
        make_private_dir(&fresh).unwrap();
        let mode = fs::metadata(&fresh).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        let err = make_private_dir(&fresh).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_private_dir(&open).unwrap_err().to_string();
        assert!(
            err.contains("mode 777") && err.contains("not made by this run"),
            "{err}"
        );
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(
            check_private_dir(&link).is_err(),
            "a symlink to a private dir"
        );
    }

    #[test]
    fn the_run_scratch_has_a_random_suffix() {
        let root = run_scratch().unwrap();
        let name = root.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(owner_pid(&name), Some(std::process::id() as i32));
        let suffix = name.rsplit('-').next().unwrap();
        assert_eq!(suffix.len(), 16, "{name}");
        check_private_dir(root).unwrap();
        let case = make_case_dir(&next_case_tag()).unwrap();
        assert!(case.starts_with(root));
        check_private_dir(&case).unwrap();
        remove_run_scratch();
        assert!(!root.exists());
    }

    #[test]
    fn case_tags_are_unique_and_carry_our_pid() {
        let a = next_case_tag();
        let b = next_case_tag();
        assert_ne!(a, b);
        assert_eq!(owner_pid(&a), Some(std::process::id() as i32));
    }
}
