//! The cgroup file system: which version this machine has, making, filling and removing
//! a case's cgroups, and sweeping those of a run that is gone.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::libc;

use super::{io_err, LimitError, CGROUP_ROOT};

/// How this machine limits a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    V2,
    V1,
    Rlimits,
}

impl Mechanism {
    /// What this machine offers: cgroup v2 at `/sys/fs/cgroup`, else v1's `pids` and
    /// `memory` hierarchies, else rlimits.
    pub fn detect() -> Mechanism {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let fstype = |target: &str| {
            mounts.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                let (_, t, ty, opts) = (f.next()?, f.next()?, f.next()?, f.next()?);
                (t == target).then(|| (ty.to_string(), opts.to_string()))
            })
        };
        let v1 = |c: &str| {
            fstype(&format!("{CGROUP_ROOT}/{c}"))
                .is_some_and(|(ty, opts)| ty == "cgroup" && opts.split(',').any(|o| o == c))
        };
        match fstype(CGROUP_ROOT) {
            Some((ty, _)) if ty == "cgroup2" => Mechanism::V2,
            _ if v1("pids") && v1("memory") => Mechanism::V1,
            _ => Mechanism::Rlimits,
        }
    }
}

/// The runner's own cgroup in v1 hierarchy `controller` (`/` when it is the root).
pub(super) fn own_v1_cgroup(controller: &str) -> PathBuf {
    let text = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let path = text
        .lines()
        .filter_map(|l| {
            let mut fields = l.splitn(3, ':').skip(1);
            fields.next().zip(fields.next())
        })
        .find(|(ctrls, _)| ctrls.split(',').any(|c| c == controller))
        .map(|(_, p)| p.trim_start_matches('/').to_string())
        .unwrap_or_default();
    Path::new(CGROUP_ROOT).join(controller).join(path)
}

pub(super) fn write(dir: &Path, file: &str, value: &str) -> Result<(), LimitError> {
    let path = dir.join(file);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(io_err(format!("writing {value} to {}", path.display())))
}

/// `+pids +memory` in the root's `cgroup.subtree_control`, unless already there.
pub(super) fn enable_v2_controllers(root: &Path) -> Result<(), LimitError> {
    let enabled = fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
    let on = |c: &str| enabled.split_whitespace().any(|e| e == c);
    if on("pids") && on("memory") {
        return Ok(());
    }
    write(root, "cgroup.subtree_control", "+pids +memory")
}

/// Kills everything in the cgroup at `dir` (bounded: a fork bomb keeps forking until its
/// last member is gone) and removes it. Returns whether it is gone.
pub fn remove_cgroup(dir: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    // v2 kills the whole cgroup at once where the kernel has cgroup.kill (5.14).
    let _ = fs::write(dir.join("cgroup.kill"), "1");
    loop {
        let pids: Vec<i32> = fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        for pid in &pids {
            // SAFETY: kill with a pid read from the cgroup; a reused pid cannot be in it.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        match fs::remove_dir(dir) {
            Ok(()) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return false,
        }
    }
}

/// Where runner-made cgroups may be: the root of each hierarchy this machine limits with,
/// and the runner's own cgroup there (v1).
pub fn cgroup_parents() -> Vec<PathBuf> {
    let mut parents = match Mechanism::detect() {
        Mechanism::V2 => vec![PathBuf::from(CGROUP_ROOT)],
        Mechanism::V1 => ["pids", "memory"]
            .iter()
            .flat_map(|c| [Path::new(CGROUP_ROOT).join(c), own_v1_cgroup(c)])
            .collect(),
        Mechanism::Rlimits => Vec::new(),
    };
    parents.dedup();
    parents
}

/// Kills what is inside, and removes, every cgroup whose name `is_ours` accepts (runner
/// names of a dead run, or of this run on a signal). Returns those removed.
pub fn sweep_cgroups(is_ours: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for parent in cgroup_parents() {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_ours(&name) && entry.path().is_dir() && remove_cgroup(&entry.path()) {
                removed.push(entry.path());
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_own_cgroup_is_below_the_hierarchy() {
        assert!(own_v1_cgroup("pids").starts_with("/sys/fs/cgroup/pids"));
    }
}
