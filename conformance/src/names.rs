//! Per-run names for everything the runner creates, and the start-up sweep of leftovers.
//!
//! Every namespace and scratch directory is named `mcnf-<pid>-<case>-...`. A run killed by
//! SIGKILL cannot clean up after itself; the next run finds names whose pid is dead,
//! kills any process still inside those namespaces, and removes them.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Prefix of every name this runner creates.
pub const PREFIX: &str = "mcnf-";

/// Where `ip netns` (and netns-rs) keep named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// A fresh, run-unique tag for one case: `mcnf-<pid>-<n>`.
pub fn next_case_tag() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{}-{n}", std::process::id())
}

/// Scratch directory root for cases (config files, PATH shims, overlay dirs).
pub fn scratch_root() -> PathBuf {
    std::env::temp_dir()
}

/// The pid embedded in a runner-made name, if it is one.
pub fn owner_pid(name: &str) -> Option<i32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

fn pid_alive(pid: i32) -> bool {
    // Signal 0 checks existence; EPERM still means it exists.
    !matches!(
        kill(Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// What a sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub namespaces: Vec<String>,
    pub processes: Vec<i32>,
    pub directories: Vec<PathBuf>,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.processes.is_empty() && self.directories.is_empty()
    }
}

/// Entries of `dir` named by a runner whose pid is no longer alive.
fn stale_entries(dir: &str) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = owner_pid(&name)?;
            (!pid_alive(pid)).then(|| (name, entry.path()))
        })
        .collect()
}

/// Removes namespaces, processes and scratch directories left by runs that are no longer
/// alive. Names owned by live processes (a concurrent run) are left alone.
pub fn sweep_stale() -> Swept {
    let mut swept = Swept::default();
    for (name, path) in stale_entries(NETNS_DIR) {
        swept.processes.extend(kill_processes_in(&path));
        remove_named_namespace(&path);
        swept.namespaces.push(name);
    }
    for (_, path) in stale_entries(&scratch_root().to_string_lossy()) {
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while killed.iter().any(|&pid| pid_alive(pid)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
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
    fn case_tags_are_unique_and_carry_our_pid() {
        let a = next_case_tag();
        let b = next_case_tag();
        assert_ne!(a, b);
        assert_eq!(owner_pid(&a), Some(std::process::id() as i32));
    }
}
