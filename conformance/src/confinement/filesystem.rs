//! The implementation's view of the filesystem (docs/threat-model.md, "Filesystem").
//!
//! In its private mount namespace:
//! - every mount of the host is read-only (one recursive `mount_setattr`), so the
//!   checkout, the host's `/etc` and everything else it can still see cannot be written,
//!   even by uid 0 owning the files; it has no CAP_SYS_ADMIN left to remount them;
//! - `/tmp`, `/run`, `/home` and `/root` are fresh, size-bounded tmpfs: the host's are
//!   invisible (other runs' scratch, the runner's user's files); what the implementation
//!   must still reach below them (its program's directory, directories named on its
//!   command line, the working directory, an `--iptables` tree, the case's scratch with
//!   its PATH shims) is carried across read-only, at the same path ([`Reattach`]);
//! - `/etc` is an overlay whose changes land in the private `/tmp`, never on the host;
//!   `/etc/alternatives` points the iptables tools at the case's shims;
//! - the ConfigMap volume is bind-mounted read-only at the config file's directory, as
//!   the kubelet mounts it;
//! - `/run/xtables.lock` is the case's own lock (shared with the runner's fault steps),
//!   `/run/netns` is empty: what it names with `ip netns add` never reaches the host;
//! - `/dev` holds only null, zero, full, random, urandom and tty; `/proc` shows its PID
//!   namespace, with `/proc/sys` and the other kernel knobs read-only; `/sys` is a fresh,
//!   read-only sysfs of the node's network namespace.
//!
//! Everything here is planned before the fork ([`FilesystemPlan::new`]) and applied
//! between fork and exec ([`FilesystemPlan::apply`]) with raw system calls only.

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::libc;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;

use super::mount_api::{self, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

/// Directories replaced by a private tmpfs: (path, mount options).
const HIDDEN: [(&CStr, &CStr, &str); 4] = [
    (c"/tmp", c"mode=1777,size=64m", "/tmp"),
    (c"/run", c"mode=0755,size=16m", "/run"),
    (c"/home", c"mode=0755,size=1m", "/home"),
    (c"/root", c"mode=0700,size=1m", "/root"),
];

/// Where the overlays keep their changes: in the private `/tmp`.
const OVERLAY_DIRS: [&CStr; 5] = [
    c"/tmp/.masq-sandbox",
    c"/tmp/.masq-sandbox/etc-upper",
    c"/tmp/.masq-sandbox/etc-work",
    c"/tmp/.masq-sandbox/config-upper",
    c"/tmp/.masq-sandbox/config-work",
];
const ETC_OVERLAY: &CStr =
    c"lowerdir=/etc,upperdir=/tmp/.masq-sandbox/etc-upper,workdir=/tmp/.masq-sandbox/etc-work";

/// The lock the implementation's iptables takes (`XTABLES_LOCKFILE` names it too).
pub const LOCK_PATH: &str = "/run/xtables.lock";

/// The device nodes of its `/dev`.
const DEVICES: [(&CStr, &CStr); 6] = [
    (c"/dev/null", c"/dev/null"),
    (c"/dev/zero", c"/dev/zero"),
    (c"/dev/full", c"/dev/full"),
    (c"/dev/random", c"/dev/random"),
    (c"/dev/urandom", c"/dev/urandom"),
    (c"/dev/tty", c"/dev/tty"),
];
const DEV_LINKS: [(&CStr, &CStr); 4] = [
    (c"/proc/self/fd", c"/dev/fd"),
    (c"/proc/self/fd/0", c"/dev/stdin"),
    (c"/proc/self/fd/1", c"/dev/stdout"),
    (c"/proc/self/fd/2", c"/dev/stderr"),
];
/// Kernel knobs under /proc made read-only (as container runtimes do).
const PROC_READ_ONLY: [&CStr; 5] = [
    c"/proc/sys",
    c"/proc/sysrq-trigger",
    c"/proc/irq",
    c"/proc/bus",
    c"/proc/fs",
];
/// Files under /proc hidden behind /dev/null.
const PROC_MASKED: [&CStr; 4] = [
    c"/proc/kcore",
    c"/proc/keys",
    c"/proc/timer_list",
    c"/proc/sched_debug",
];

/// At most this many trees are carried across the private tmpfs.
const MAX_REATTACH: usize = 12;

/// A path below a hidden directory that must stay reachable, read-only.
struct Reattach {
    source: CString,
    /// Directories to create in the tmpfs, parents first (the last is the mount point
    /// when `file` is false).
    mkdirs: Vec<CString>,
    /// The source is a file: an empty file is made as its mount point.
    file: bool,
}

/// Everything [`FilesystemPlan::apply`] needs, prepared before the fork.
pub struct FilesystemPlan {
    volume: CString,
    lock_file: CString,
    config_dir: CString,
    config_mkdirs: Vec<CString>,
    /// An overlay over the config directory's nearest existing ancestor, when it is
    /// neither under `/etc` nor under a private tmpfs: (target, options).
    config_overlay: Option<(CString, CString)>,
    /// `/etc/alternatives` entries to re-point: (link, target in the shim dir).
    alternatives: Vec<(CString, CString)>,
    reattach: Vec<Reattach>,
}

/// What the plan needs to know.
pub struct FilesystemInputs<'a> {
    pub volume: &'a Path,
    pub lock_file: &'a Path,
    pub config_dir: &'a Path,
    pub shim_dir: &'a Path,
    /// Paths that must stay reachable (the program, the case's scratch, ...).
    pub reachable: Vec<PathBuf>,
}

fn cstring(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

fn hidden_root(path: &Path) -> Option<&'static str> {
    HIDDEN
        .iter()
        .map(|(_, _, root)| *root)
        .find(|root| path.starts_with(root) && path != Path::new(root))
}

/// `config_path` must be absolute and normal (no `.`, `..` or empty components), at
/// least two levels deep, and outside `/dev`, `/proc` and `/sys`: the volume is mounted
/// over its directory.
pub fn check_config_path(path: &Path) -> Result<(), String> {
    let bytes = path.as_os_str().as_bytes();
    let Some(relative) = bytes.strip_prefix(b"/") else {
        return Err(format!("config_path: {path:?} must be an absolute path"));
    };
    let parts: Vec<&[u8]> = relative.split(|&b| b == b'/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == b"." || *p == b"..")
    {
        return Err(format!(
            "config_path: {path:?} must be a normal path (no '.', '..' or empty components)"
        ));
    }
    if parts.len() < 3 {
        return Err(format!(
            "config_path: {path:?} must name a file in a directory below a top-level one (like /etc/config/ip-masq-agent): the ConfigMap volume is mounted over its directory"
        ));
    }
    if ["/dev", "/proc", "/sys"]
        .iter()
        .any(|top| path.starts_with(top))
    {
        return Err(format!(
            "config_path: {path:?} is under /dev, /proc or /sys, which are not the implementation's to configure"
        ));
    }
    Ok(())
}

impl FilesystemPlan {
    pub fn new(inputs: FilesystemInputs<'_>) -> std::io::Result<Self> {
        let etc = Path::new("/etc");
        let alternatives = crate::iptables::TOOL_NAMES
            .iter()
            .map(|tool| {
                (
                    etc.join("alternatives").join(tool),
                    inputs.shim_dir.join(tool),
                )
            })
            .filter(|(link, _)| std::fs::symlink_metadata(link).is_ok())
            .map(|(link, target)| (cstring(&link), cstring(&target)))
            .collect();
        let config_dir = inputs.config_dir;
        let mut config_overlay = None;
        let config_mkdirs = if let Some(root) = hidden_root(config_dir) {
            // Nothing exists below a fresh tmpfs: make the whole chain.
            chain_below(Path::new(root), config_dir)
        } else {
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
                let opts = format!(
                    "lowerdir={},upperdir=/tmp/.masq-sandbox/config-upper,workdir=/tmp/.masq-sandbox/config-work",
                    anchor.display()
                );
                config_overlay = Some((cstring(&anchor), CString::new(opts)?));
            }
            missing.reverse();
            missing.iter().map(|p| cstring(p)).collect()
        };
        Ok(FilesystemPlan {
            volume: cstring(inputs.volume),
            lock_file: cstring(inputs.lock_file),
            config_dir: cstring(config_dir),
            config_mkdirs,
            config_overlay,
            alternatives,
            reattach: plan_reattach(inputs.reachable)?,
        })
    }

    /// Between fork and exec, in a fresh mount namespace with CAP_SYS_ADMIN still held.
    ///
    /// # Safety
    /// Only in a forked child before exec; raw system calls on the plan's data.
    pub unsafe fn apply(&self) -> std::io::Result<()> {
        let io = std::io::Error::from;
        let none = None::<&CStr>;
        mount(
            none,
            c"/",
            none,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            none,
        )
        .map_err(io)?;
        mount_api::set_attributes(c"/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, true)?;
        // Detached copies of what must survive the tmpfs mounts (read-only copies).
        let volume = mount_api::clone_tree(&self.volume)?;
        let lock = mount_api::clone_tree(&self.lock_file)?;
        let mut kept: [RawFd; MAX_REATTACH] = [-1; MAX_REATTACH];
        for (slot, r) in kept.iter_mut().zip(&self.reattach) {
            *slot = mount_api::clone_tree(&r.source)?;
        }
        let mut devices: [RawFd; DEVICES.len()] = [-1; DEVICES.len()];
        for (slot, (source, _)) in devices.iter_mut().zip(DEVICES) {
            *slot = mount_api::clone_tree(source)?;
        }
        let private = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        for (target, opts, _) in HIDDEN {
            mount(Some(c"tmpfs"), target, Some(c"tmpfs"), private, Some(opts)).map_err(io)?;
        }
        for dir in OVERLAY_DIRS {
            make_dir(dir, 0o700)?;
        }
        make_dir(c"/run/netns", 0o755)?;
        make_file(c"/run/xtables.lock")?;
        mount_api::attach(lock, c"/run/xtables.lock")?;
        mount(
            Some(c"overlay"),
            c"/etc",
            Some(c"overlay"),
            MsFlags::MS_NOSUID,
            Some(ETC_OVERLAY),
        )
        .map_err(io)?;
        for (link, target) in &self.alternatives {
            nix::unistd::unlink(link.as_c_str()).map_err(io)?;
            nix::unistd::symlinkat(target.as_c_str(), nix::fcntl::AT_FDCWD, link.as_c_str())
                .map_err(io)?;
        }
        for (r, fd) in self.reattach.iter().zip(kept) {
            for dir in &r.mkdirs {
                make_dir(dir, 0o755)?;
            }
            if r.file {
                make_file(&r.source)?;
            }
            mount_api::attach(fd, &r.source)?;
        }
        if let Some((target, opts)) = &self.config_overlay {
            mount(
                Some(c"overlay"),
                target.as_c_str(),
                Some(c"overlay"),
                MsFlags::MS_NOSUID,
                Some(opts.as_c_str()),
            )
            .map_err(io)?;
        }
        for dir in &self.config_mkdirs {
            make_dir(dir, 0o755)?;
        }
        mount_api::attach(volume, &self.config_dir)?;
        self.private_dev(&devices)?;
        let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some(c"proc"), c"/proc", Some(c"proc"), hardened, none).map_err(io)?;
        for knob in PROC_READ_ONLY {
            match mount(
                Some(knob),
                knob,
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            ) {
                Ok(()) => mount_api::set_attributes(knob, MOUNT_ATTR_RDONLY, true)?,
                Err(nix::errno::Errno::ENOENT) => {}
                Err(e) => return Err(io(e)),
            }
        }
        for file in PROC_MASKED {
            match mount(Some(c"/dev/null"), file, none, MsFlags::MS_BIND, none) {
                Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
                Err(e) => return Err(io(e)),
            }
        }
        mount(
            Some(c"sysfs"),
            c"/sys",
            Some(c"sysfs"),
            hardened | MsFlags::MS_RDONLY,
            none,
        )
        .map_err(io)
    }

    /// A `/dev` of a few harmless nodes (the host's block devices stay out of reach:
    /// a read-only mount does not stop writes to a device node).
    unsafe fn private_dev(&self, devices: &[RawFd; DEVICES.len()]) -> std::io::Result<()> {
        let io = std::io::Error::from;
        mount(
            Some(c"tmpfs"),
            c"/dev",
            Some(c"tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some(c"mode=0755,size=64k"),
        )
        .map_err(io)?;
        for ((_, target), &fd) in DEVICES.iter().zip(devices) {
            make_file(target)?;
            mount_api::attach(fd, target)?;
        }
        for (target, link) in DEV_LINKS {
            nix::unistd::symlinkat(target, nix::fcntl::AT_FDCWD, link).map_err(io)?;
        }
        Ok(())
    }
}

/// The directories strictly below `root` down to `path`, parents first.
fn chain_below(root: &Path, path: &Path) -> Vec<CString> {
    let mut chain: Vec<CString> = path
        .ancestors()
        .take_while(|a| *a != root)
        .map(cstring)
        .collect();
    chain.reverse();
    chain
}

/// Which of `reachable` must be carried across a private tmpfs, and how. A path inside
/// another one carried already is reachable through it.
fn plan_reattach(reachable: Vec<PathBuf>) -> std::io::Result<Vec<Reattach>> {
    let mut wanted: Vec<(PathBuf, bool)> = reachable
        .into_iter()
        .filter(|p| hidden_root(p).is_some())
        .filter_map(|p| {
            let meta = std::fs::metadata(&p).ok()?;
            // A file directly in the hidden directory is carried alone; elsewhere its
            // directory goes with it (a script's helpers, a binary's data).
            match meta.is_dir() {
                true => Some((p, false)),
                false => {
                    let parent = p.parent()?.to_path_buf();
                    if HIDDEN.iter().any(|(_, _, root)| parent == Path::new(root)) {
                        Some((p, true))
                    } else {
                        Some((parent, false))
                    }
                }
            }
        })
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut chosen: Vec<(PathBuf, bool)> = Vec::new();
    for (path, file) in wanted {
        if chosen.iter().any(|(c, f)| !f && path.starts_with(c)) {
            continue;
        }
        chosen.push((path, file));
    }
    if chosen.len() > MAX_REATTACH {
        return Err(std::io::Error::other(format!(
            "more than {MAX_REATTACH} separate directories below /tmp, /run, /home or /root must stay reachable for the implementation: {chosen:?}"
        )));
    }
    Ok(chosen
        .into_iter()
        .map(|(path, file)| {
            let root = Path::new(hidden_root(&path).expect("filtered"));
            let mut mkdirs = chain_below(root, &path);
            if file {
                mkdirs.pop();
            }
            Reattach {
                source: cstring(&path),
                mkdirs,
                file,
            }
        })
        .collect())
}

unsafe fn make_dir(path: &CStr, mode: u32) -> std::io::Result<()> {
    match nix::unistd::mkdir(path, Mode::from_bits_truncate(mode)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

unsafe fn make_file(path: &CStr) -> std::io::Result<()> {
    let fd = libc::open(
        path.as_ptr(),
        libc::O_CREAT | libc::O_CLOEXEC | libc::O_RDONLY,
        0o644,
    );
    if fd < 0 {
        return Err(std::io::Error::from_raw_os_error(
            nix::errno::Errno::last_raw(),
        ));
    }
    libc::close(fd);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths_must_be_absolute_normal_and_outside_kernel_filesystems() {
        assert!(check_config_path(Path::new("/etc/config/ip-masq-agent")).is_ok());
        assert!(check_config_path(Path::new("/var/lib/agent/config.yaml")).is_ok());
        for bad in [
            "etc/config/x",
            "/etc/../tmp/x",
            "/etc/./config/x",
            "/etc//config/x",
            "/etc/config/",
            "/dev/null",
            "/dev/shm/x/y",
            "/proc/self/x",
            "/sys/fs/x",
            "/config",
            "/etc/x",
        ] {
            let err = check_config_path(Path::new(bad)).unwrap_err();
            assert!(err.starts_with("config_path: "), "{bad}: {err}");
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn paths_below_a_private_tmpfs_are_carried_across_once() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let program = sub.join("agent");
        std::fs::write(&program, b"").unwrap();
        let plan = plan_reattach(vec![
            program.clone(),
            sub.clone(),
            PathBuf::from("/usr/bin/true"),
        ])
        .unwrap();
        if dir.path().starts_with("/tmp") {
            assert_eq!(
                plan.len(),
                1,
                "{:?}",
                plan.iter().map(|r| &r.source).collect::<Vec<_>>()
            );
            assert_eq!(plan[0].source, cstring(&sub));
            assert!(!plan[0].file);
            assert_eq!(plan[0].mkdirs.last(), Some(&cstring(&sub)));
            assert_eq!(plan[0].mkdirs.first(), Some(&cstring(dir.path())));
        } else {
            assert!(plan.is_empty());
        }
    }
}
