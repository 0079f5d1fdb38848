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
use std::io::Write as _;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::libc;

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

/// The bounds of one case (profile key `limits: {pids, memory, output}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Processes and threads at once, the implementation's init included.
    pub pids: u32,
    /// Memory (RAM; no swap) of all its processes together.
    pub memory_bytes: u64,
    /// The largest file it may write: its log is one, so this caps the output kept.
    pub output_bytes: u64,
}

impl LimitSettings {
    /// Ample for any agent (the reference uses a few threads and tens of MiB); small
    /// enough that a hostile one cannot take the host down with it.
    pub const DEFAULT: LimitSettings = LimitSettings {
        pids: 512,
        memory_bytes: 512 << 20,
        output_bytes: 16 << 20,
    };

    /// Refuses bounds too small for any implementation to start.
    pub fn check(&self) -> Result<(), String> {
        if self.pids < 8 {
            return Err(format!("pids: {} is too few (at least 8)", self.pids));
        }
        if self.memory_bytes < 16 << 20 {
            return Err(format!(
                "memory: {} is too little (at least 16Mi)",
                self.memory_bytes
            ));
        }
        if self.output_bytes < 64 << 10 {
            return Err(format!(
                "output: {} is too little (at least 64Ki)",
                self.output_bytes
            ));
        }
        Ok(())
    }
}

/// The profile key `limits: {pids, memory, output}`: each overrides its default.
/// `memory` and `output` are bytes, as a number or with a binary suffix (`256Mi`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsKey {
    #[serde(default)]
    pub pids: Option<u32>,
    #[serde(default)]
    pub memory: Option<ByteCount>,
    #[serde(default)]
    pub output: Option<ByteCount>,
}

/// A number of bytes as a profile writes it: `1048576` or `1Mi` (`Ki`, `Mi`, `Gi`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum ByteCount {
    Number(u64),
    Text(String),
}

impl ByteCount {
    pub fn bytes(&self) -> Result<u64, String> {
        let text = match self {
            ByteCount::Number(n) => return Ok(*n),
            ByteCount::Text(t) => t.trim(),
        };
        let (digits, shift) = [("Ki", 10), ("Mi", 20), ("Gi", 30)]
            .iter()
            .find_map(|(suffix, shift)| text.strip_suffix(suffix).map(|d| (d, *shift)))
            .unwrap_or((text, 0));
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(1 << shift))
            .ok_or_else(|| format!("{text:?} is not a number of bytes (like 512Mi, 64Ki, 1048576)"))
    }
}

impl LimitsKey {
    /// The settings it gives: the defaults, overridden; checked.
    pub fn settings(&self) -> Result<LimitSettings, String> {
        let d = LimitSettings::DEFAULT;
        let field = |key: &str, v: &Option<ByteCount>, default: u64| {
            v.as_ref()
                .map_or(Ok(default), ByteCount::bytes)
                .map_err(|e| format!("{key}: {e}"))
        };
        let settings = LimitSettings {
            pids: self.pids.unwrap_or(d.pids),
            memory_bytes: field("memory", &self.memory, d.memory_bytes)?,
            output_bytes: field("output", &self.output, d.output_bytes)?,
        };
        settings.check()?;
        Ok(settings)
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which limit a case's implementation ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    Pids(u32),
    Memory(u64),
    Output(u64),
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Pids(n) => write!(f, "the case's pids limit ({n})"),
            LimitHit::Memory(b) => write!(f, "the case's memory limit ({})", bytes(*b)),
            LimitHit::Output(b) => write!(f, "the case's output limit ({})", bytes(*b)),
        }
    }
}

/// `512 MiB`, `64 KiB`, or plain bytes.
pub fn bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// A memory peak, rounded up to whole MiB.
fn mib_in_use(n: u64) -> String {
    format!("{} MiB in use at most", n.div_ceil(1 << 20))
}

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
fn own_v1_cgroup(controller: &str) -> PathBuf {
    let text = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let path = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(1).zip(l.splitn(3, ':').nth(2)))
        .find(|(ctrls, _)| ctrls.split(',').any(|c| c == controller))
        .map(|(_, p)| p.trim_start_matches('/').to_string())
        .unwrap_or_default();
    Path::new(CGROUP_ROOT).join(controller).join(path)
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
    output: Arc<Mutex<Option<PathBuf>>>,
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
    pub fn create(tag: &str, settings: LimitSettings) -> Result<CaseLimits, LimitError> {
        settings.check().map_err(LimitError::Invalid)?;
        let mechanism = Mechanism::detect();
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
    pub fn watch_output(&self, log: &Path) {
        *self.watch.output.lock().unwrap_or_else(|p| p.into_inner()) = Some(log.to_path_buf());
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
                let log = self
                    .output
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()?;
                let len = fs::metadata(log).ok()?.len();
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
        let log = self
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let written = log
            .and_then(|l| fs::metadata(l).ok())
            .map_or(0, |m| m.len());
        (written >= s.output_bytes).then_some(LimitHit::Output(s.output_bytes))
    }
}

impl Drop for CaseLimits {
    fn drop(&mut self) {
        self.procs.clear();
        for dir in self.watch.dirs.iter().rev() {
            remove_cgroup(&dir);
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

fn write(dir: &Path, file: &str, value: &str) -> Result<(), LimitError> {
    let path = dir.join(file);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(io_err(format!("writing {value} to {}", path.display())))
}

/// `+pids +memory` in the root's `cgroup.subtree_control`, unless already there.
fn enable_v2_controllers(root: &Path) -> Result<(), LimitError> {
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
    fn hits_name_the_limit_and_its_value() {
        assert_eq!(
            LimitHit::Pids(512).to_string(),
            "the case's pids limit (512)"
        );
        assert_eq!(
            LimitHit::Memory(512 << 20).to_string(),
            "the case's memory limit (512 MiB)"
        );
        assert_eq!(
            LimitHit::Output(16 << 20).to_string(),
            "the case's output limit (16 MiB)"
        );
        assert_eq!(bytes(1000), "1000 bytes");
    }

    #[test]
    fn settings_too_small_to_start_are_refused() {
        assert!(LimitSettings::DEFAULT.check().is_ok());
        let few = LimitSettings {
            pids: 2,
            ..LimitSettings::DEFAULT
        };
        assert!(few.check().unwrap_err().contains("pids: 2"));
    }

    #[test]
    fn the_profile_key_overrides_defaults() {
        let key = LimitsKey {
            pids: Some(64),
            memory: Some(ByteCount::Text("256Mi".into())),
            output: Some(ByteCount::Number(1 << 20)),
        };
        let s = key.settings().unwrap();
        assert_eq!(
            (s.pids, s.memory_bytes, s.output_bytes),
            (64, 256 << 20, 1 << 20)
        );
        assert_eq!(
            LimitsKey::default().settings().unwrap(),
            LimitSettings::DEFAULT
        );
        let bad = LimitsKey {
            memory: Some(ByteCount::Text("lots".into())),
            ..Default::default()
        };
        assert_eq!(
            bad.settings().unwrap_err(),
            "memory: \"lots\" is not a number of bytes (like 512Mi, 64Ki, 1048576)"
        );
        let small = LimitsKey {
            output: Some(ByteCount::Text("1Ki".into())),
            ..Default::default()
        };
        assert_eq!(
            small.settings().unwrap_err(),
            "output: 1024 is too little (at least 64Ki)"
        );
    }

    #[test]
    fn v1_own_cgroup_is_below_the_hierarchy() {
        assert!(own_v1_cgroup("pids").starts_with("/sys/fs/cgroup/pids"));
    }
}
