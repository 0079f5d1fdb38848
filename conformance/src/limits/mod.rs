//! Per-case limits on what an implementation may take from the host: processes, memory
//! and the output kept on disk (docs/threat-model.md; issue 20, item 3).
//!
//! Why here and not in the sandbox's namespaces: a PID namespace bounds how long a fork
//! bomb lives (the case's end), not how many processes it makes meanwhile, and no
//! namespace bounds memory. The mechanism, best first:
//! - **cgroup v2** (`/sys/fs/cgroup` is cgroup2): a cgroup `mcnf-<pid>-<n>` below the
//!   root with `pids.max`, `memory.max` and `memory.swap.max=0`; hits are read from
//!   `pids.events` (`max`) and `memory.events` (`oom_kill`).
//! - **cgroup v1** (the `pids` and `memory` hierarchies mounted under `/sys/fs/cgroup`):
//!   one cgroup in each, below the runner's own (so whatever bounds the runner still
//!   bounds the case), with `pids.max` and `memory.limit_in_bytes` (and
//!   `memory.memsw.limit_in_bytes` where swap is accounted); hits from `pids.events` and
//!   `memory.oom_control`'s `oom_kill` (`memory.failcnt` on kernels without it).
//! - **rlimits only**: `RLIMIT_AS` bounds each process's address space (not their sum);
//!   `RLIMIT_NPROC` bounds a non-root user's processes but never uid 0 (the kernel exempts
//!   the initial user's root), so a fork bomb run as root is bounded only by the case's
//!   end. `hit` then reports only the output cap.
//!
//! Whatever the mechanism, `RLIMIT_FSIZE` caps every file the implementation writes (its
//! log first: the disk cannot fill) and `RLIMIT_CORE` is 0. The cgroups are joined by the
//! implementation's init between fork and exec ([`ChildLimits::apply`]: `write("0")` to
//! `cgroup.procs` files opened beforehand), so the init and all it starts are counted.

use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::libc;

mod cgroup;
mod settings;

pub use cgroup::{cgroup_parents, remove_cgroup, sweep_cgroups, Mechanism};
use cgroup::{enable_v2_controllers, own_v1_cgroup, write};
pub use settings::{bytes, ByteCount, LimitHit, LimitSettings, LimitsKey};

/// Where cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Errors setting up a case's limits.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("limits: {0}")]
    Invalid(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LimitError {
    let what = what.into();
    move |source| LimitError::Io { what, source }
}
/// A memory peak, rounded up to whole MiB.
fn mib_in_use(n: u64) -> String {
    format!("{} MiB in use at most", n.div_ceil(1 << 20))
}

/// A case's limits: owns its cgroup(s); dropping it kills whatever is still inside and
/// removes them.
pub struct CaseLimits {
    /// The case's cgroup directories (none with rlimits only), and what reads them.
    watch: LimitWatch,
    /// Their `cgroup.procs`, opened for the child to write "0" to.
    procs: Vec<File>,
}

/// Reads which limit a case hit: cheap to clone, for the case's waits to poll.
#[derive(Debug, Clone)]
pub struct LimitWatch {
    settings: LimitSettings,
    mechanism: Mechanism,
    dirs: Vec<PathBuf>,
    /// The implementation's log: at the cap, the output limit was hit.
    /// (A descriptor of it: never re-opened by path after the implementation started.)
    output: Arc<Mutex<Option<fs::File>>>,
}

/// What the implementation's init applies between fork and exec: raw numbers and fds.
#[derive(Debug, Clone, Copy)]
pub struct ChildLimits {
    procs: [RawFd; 2],
    nprocs: usize,
    output_bytes: u64,
    /// Set only without cgroups: `RLIMIT_AS` and `RLIMIT_NPROC`.
    fallback: Option<(u64, u64)>,
}

impl CaseLimits {
    /// Creates the case's cgroup(s) named `tag` (a runner name, `mcnf-<pid>-<n>`).
    ///
    /// Where the machine has cgroups that this process cannot use (a container with a
    /// read-only cgroup file system; cgroup v2 whose root has processes, so controllers
    /// cannot be enabled below it), the first failure is said once on stderr and the run
    /// goes on with rlimits only (see the module's documentation for what they bound).
    pub fn create(tag: &str, settings: LimitSettings) -> Result<CaseLimits, LimitError> {
        settings.check().map_err(LimitError::Invalid)?;
        static UNUSABLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let mechanism = match UNUSABLE.get() {
            Some(_) => Mechanism::Rlimits,
            None => Mechanism::detect(),
        };
        match Self::create_with(tag, settings, mechanism.clone()) {
            Err(e) if mechanism != Mechanism::Rlimits => {
                let why = e.to_string();
                if UNUSABLE.set(why.clone()).is_ok() {
                    eprintln!(
                        "warning: cannot use cgroup {mechanism:?} for the cases' limits ({why}): \
                         only rlimits bound them (no pids limit for root, memory per process)"
                    );
                }
                Self::create_with(tag, settings, Mechanism::Rlimits)
            }
            made => made,
        }
    }

    fn create_with(
        tag: &str,
        settings: LimitSettings,
        mechanism: Mechanism,
    ) -> Result<CaseLimits, LimitError> {
        let mut limits = CaseLimits {
            watch: LimitWatch {
                settings,
                mechanism: mechanism.clone(),
                dirs: Vec::new(),
                output: Arc::new(Mutex::new(None)),
            },
            procs: Vec::new(),
        };
        let memory = settings.memory_bytes.to_string();
        let pids = settings.pids.to_string();
        match mechanism {
            Mechanism::V2 => {
                let root = Path::new(CGROUP_ROOT);
                enable_v2_controllers(root)?;
                let dir = limits.make(root, tag)?;
                write(&dir, "pids.max", &pids)?;
                write(&dir, "memory.max", &memory)?;
                if dir.join("memory.swap.max").exists() {
                    write(&dir, "memory.swap.max", "0")?;
                }
            }
            Mechanism::V1 => {
                let p = limits.make(&own_v1_cgroup("pids"), tag)?;
                write(&p, "pids.max", &pids)?;
                let m = limits.make(&own_v1_cgroup("memory"), tag)?;
                write(&m, "memory.limit_in_bytes", &memory)?;
                if m.join("memory.memsw.limit_in_bytes").exists() {
                    // Swap accounting: memory and swap together, no more than memory.
                    write(&m, "memory.memsw.limit_in_bytes", &memory)?;
                }
            }
            Mechanism::Rlimits => {}
        }
        Ok(limits)
    }

    /// Makes cgroup `tag` below `parent` (refusing one that exists: not ours) and opens
    /// its `cgroup.procs`.
    fn make(&mut self, parent: &Path, tag: &str) -> Result<PathBuf, LimitError> {
        let dir = parent.join(tag);
        fs::create_dir(&dir).map_err(io_err(format!("creating cgroup {}", dir.display())))?;
        self.watch.dirs.push(dir.clone());
        let procs = OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .map_err(io_err(format!("opening {}/cgroup.procs", dir.display())))?;
        self.procs.push(procs);
        Ok(dir)
    }

    /// How the limits are enforced here.
    pub fn mechanism(&self) -> &Mechanism {
        &self.watch.mechanism
    }

    pub fn settings(&self) -> LimitSettings {
        self.watch.settings
    }

    /// The case's cgroup directories (none with rlimits only).
    pub fn cgroups(&self) -> &[PathBuf] {
        &self.watch.dirs
    }

    /// The file the implementation's output goes to: reaching the cap there is the
    /// output limit's hit (whether it died of `SIGXFSZ` or ignored it).
    pub fn watch_output(&self, log: &fs::File) {
        *self.watch.output.lock().unwrap_or_else(|p| p.into_inner()) = log.try_clone().ok();
    }

    /// A reader of [`CaseLimits::hit`] that does not own the cgroups.
    pub fn watch(&self) -> LimitWatch {
        self.watch.clone()
    }

    /// Prepared before fork; used between fork and exec: no allocation, raw syscalls only.
    pub fn child_plan(&self) -> ChildLimits {
        let mut procs = [-1; 2];
        for (slot, f) in procs.iter_mut().zip(&self.procs) {
            *slot = f.as_raw_fd();
        }
        let s = self.watch.settings;
        ChildLimits {
            procs,
            nprocs: self.procs.len().min(2),
            output_bytes: s.output_bytes,
            fallback: (self.watch.mechanism == Mechanism::Rlimits)
                .then_some((s.memory_bytes, u64::from(s.pids))),
        }
    }

    /// After the implementation ran (or at the case's end): which limit it hit, if any.
    pub fn hit(&self) -> Option<LimitHit> {
        self.watch.hit()
    }

    /// See [`LimitWatch::seen`].
    pub fn seen(&self, hit: LimitHit) -> Option<String> {
        self.watch.seen(hit)
    }
}

impl LimitWatch {
    /// What the runner saw of `hit`, for the failure message: the peak the cgroup
    /// recorded (v2 `pids.peak`/`memory.peak`; v1 `pids.peak`/`memory.max_usage_in_bytes`)
    /// or the size the log stopped at.
    pub fn seen(&self, hit: LimitHit) -> Option<String> {
        let number = |dir: &Path, file: &str| -> Option<u64> {
            fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
        };
        let dirs = self.dirs.as_slice();
        match (hit, &self.mechanism, dirs) {
            (LimitHit::Pids(_), _, [first, ..]) => number(first, "pids.peak")
                .map(|n| format!("{n} processes and threads at most at once")),
            (LimitHit::Memory(_), Mechanism::V2, [dir]) => {
                number(dir, "memory.peak").map(mib_in_use)
            }
            (LimitHit::Memory(_), Mechanism::V1, [_, m]) => {
                number(m, "memory.max_usage_in_bytes").map(mib_in_use)
            }
            (LimitHit::Output(_), _, _) => {
                let len = self
                    .output
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()?
                    .metadata()
                    .ok()?
                    .len();
                Some(format!("its output stopped at {len} bytes"))
            }
            _ => None,
        }
    }

    /// Which limit the case's implementation hit so far, if any.
    pub fn hit(&self) -> Option<LimitHit> {
        let counter = |dir: &Path, file: &str, key: &str| -> Option<u64> {
            let text = fs::read_to_string(dir.join(file)).ok()?;
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok()).flatten()
            })
        };
        let s = self.settings;
        let (pids, memory) = match (&self.mechanism, self.dirs.as_slice()) {
            (Mechanism::V2, [dir]) => (
                counter(dir, "pids.events", "max"),
                counter(dir, "memory.events", "oom_kill"),
            ),
            (Mechanism::V1, [p, m]) => (
                counter(p, "pids.events", "max"),
                counter(m, "memory.oom_control", "oom_kill").or_else(|| {
                    fs::read_to_string(m.join("memory.failcnt"))
                        .ok()
                        .and_then(|t| t.trim().parse().ok())
                }),
            ),
            _ => (None, None),
        };
        if pids.unwrap_or(0) > 0 {
            return Some(LimitHit::Pids(s.pids));
        }
        if memory.unwrap_or(0) > 0 {
            return Some(LimitHit::Memory(s.memory_bytes));
        }
        let written = self
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|l| l.metadata().ok())
            .map_or(0, |m| m.len());
        (written >= s.output_bytes).then_some(LimitHit::Output(s.output_bytes))
    }
}

impl Drop for CaseLimits {
    fn drop(&mut self) {
        self.procs.clear();
        for dir in self.watch.dirs.iter().rev() {
            remove_cgroup(dir);
        }
    }
}

impl ChildLimits {
    /// Only the rlimits of `settings`, joining no cgroup (for a start that never gets
    /// that far, or a caller without a case).
    pub fn rlimits_only(settings: LimitSettings) -> ChildLimits {
        ChildLimits {
            procs: [-1; 2],
            nprocs: 0,
            output_bytes: settings.output_bytes,
            fallback: Some((settings.memory_bytes, u64::from(settings.pids))),
        }
    }

    /// Joins the cgroup(s) and sets the rlimits; allocation-free (between fork and exec).
    pub fn apply(&self) -> std::io::Result<()> {
        let last = || std::io::Error::from_raw_os_error(nix::errno::Errno::last_raw());
        // SAFETY (whole function): raw system calls on stack data only.
        unsafe {
            for &fd in &self.procs[..self.nprocs] {
                if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(last());
                }
            }
            let set = |resource, value: u64| {
                let limit = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                if libc::setrlimit(resource, &limit) == 0 {
                    Ok(())
                } else {
                    Err(last())
                }
            };
            set(libc::RLIMIT_FSIZE, self.output_bytes)?;
            set(libc::RLIMIT_CORE, 0)?;
            if let Some((memory, pids)) = self.fallback {
                set(libc::RLIMIT_AS, memory)?;
                set(libc::RLIMIT_NPROC, pids)?;
            }
        }
        Ok(())
    }
}
