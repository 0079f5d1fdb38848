//! The two iptables backends, and running iptables inside a sandbox's `node` namespace.
//!
//! The backend is chosen per trial by putting a directory of symlinks first on the
//! implementation's PATH: `iptables`, `iptables-save`, ... all point at
//! `xtables-legacy-multi` or `xtables-nft-multi`, which pick their personality from
//! argv[0]. Any implementation that runs `iptables` from PATH is steered without knowing.
//!
//! Those are the machine's binaries, or with `--iptables DIR` wrappers that run another
//! iptables version unpacked in DIR with its own libraries ([`Tree`], [`use_tree`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use crate::guard::GuardError;
use crate::vocabulary::Family;
use crate::vocabulary::IptablesBackend;

/// The tool names an implementation may call; each becomes a symlink in the shim dir.
pub const TOOL_NAMES: [&str; 6] = [
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
];

/// Directories searched for the xtables multi-call binaries.
const SBIN_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"];

impl IptablesBackend {
    fn multi_binary(self) -> &'static str {
        match self {
            IptablesBackend::Legacy => "xtables-legacy-multi",
            IptablesBackend::Nft => "xtables-nft-multi",
        }
    }

    /// Path of the multi-call binary: the machine's, or with `--iptables DIR` the wrapper
    /// that runs DIR's (see [`Tree`]). Both dispatch on the name they are run by (the shim
    /// symlinks) or, run by their own name, on their first argument.
    pub fn binary(self) -> Option<PathBuf> {
        if let Some(tree) = TREE.get() {
            return Some(tree.wrapper(self));
        }
        SBIN_DIRS
            .iter()
            .map(|d| Path::new(d).join(self.multi_binary()))
            .find(|p| p.exists())
    }

    /// What `iptables --version` prints through [`IptablesBackend::binary`] (`iptables v1.8.7
    /// (legacy)`), run in a network namespace of its own.
    pub fn version(self) -> Result<String, String> {
        let binary = self
            .binary()
            .ok_or_else(|| format!("{} is not installed", self.multi_binary()))?;
        let mut cmd = std::process::Command::new(&binary);
        cmd.args(["iptables", "--version"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: between fork and exec only unshare(2) runs. A new, empty network
        // namespace: nothing this binary does can reach the machine's own.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(std::io::Error::from)
            });
        }
        let out = cmd
            .output()
            .map_err(|e| format!("running {}: {e}", binary.display()))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || text.is_empty() {
            return Err(format!(
                "{} iptables --version failed ({}): {}",
                binary.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(text)
    }

    /// Creates `dir` holding the tool symlinks for this backend.
    pub fn make_shim_dir(self, dir: &Path) -> std::io::Result<()> {
        let target = self.binary().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not installed", self.multi_binary()),
            )
        })?;
        std::fs::create_dir_all(dir)?;
        for tool in TOOL_NAMES {
            let link = dir.join(tool);
            if !link.exists() {
                std::os::unix::fs::symlink(&target, &link)?;
            }
        }
        Ok(())
    }
}

/// Errors from running iptables in a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum IptablesError {
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error("{tool} is not installed for backend {backend}")]
    Missing { tool: String, backend: &'static str },
    #[error("running {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
}

/// The nat table of one sandbox's `node` namespace, seen through one backend.
///
/// Commands share the case's own xtables lock file (`XTABLES_LOCKFILE`) with the
/// implementation, so they serialise with it but never with other cases.
pub struct NodeTables<'a> {
    pub ns: &'a File,
    pub backend: IptablesBackend,
    pub lock_file: &'a Path,
}

impl NodeTables<'_> {
    /// Runs `tool args...` inside the namespace and returns stdout.
    pub fn run(&self, tool: &str, args: &[&str]) -> Result<String, IptablesError> {
        self.run_with_input(tool, args, None)
    }

    /// `iptables-restore -w 5 --noflush` (or ip6tables-restore) of `payload`: one atomic
    /// change of the table.
    pub fn restore_nat(&self, family: Family, payload: &str) -> Result<String, IptablesError> {
        let tool = match family {
            Family::V4 => "iptables-restore",
            Family::V6 => "ip6tables-restore",
        };
        self.run_with_input(tool, &["-w", "5", "--noflush"], Some(payload))
    }

    fn run_with_input(
        &self,
        tool: &str,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<String, IptablesError> {
        let binary = self.backend.binary().ok_or(IptablesError::Missing {
            tool: tool.into(),
            backend: self.backend.name(),
        })?;
        let mut cmd = crate::netns::command_in(self.ns, binary.to_str().unwrap_or_default())?;
        // Run by its own name, the multi-call binary (or a `--iptables` wrapper, a script,
        // whose argv[0] the kernel replaces) dispatches on its first argument.
        cmd.arg(tool)
            .args(args)
            .env("XTABLES_LOCKFILE", self.lock_file)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = format!("{tool} {} ({})", args.join(" "), self.backend.name());
        let child = {
            let _spawning = crate::forks::spawning();
            cmd.spawn()
        };
        let out = child
            .and_then(|c| {
                crate::netns::output_within(
                    c,
                    input.map(|i| i.as_bytes().to_vec()),
                    crate::netns::TOOL_DEADLINE,
                    &command,
                )
            })
            .map_err(|source| IptablesError::Spawn {
                command: command.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(IptablesError::Failed {
                command,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `iptables-save -t nat` (or `ip6tables-save`).
    pub fn save_nat(&self, family: Family) -> Result<String, IptablesError> {
        self.run(family.iptables_save(), &["-t", "nat"])
    }

    /// `iptables -w 5 -t nat -L <chain> -n -v -x` (or ip6tables).
    pub fn list_chain(&self, family: Family, chain: &str) -> Result<String, IptablesError> {
        self.run(
            family.iptables(),
            &["-w", "5", "-t", "nat", "-L", chain, "-n", "-v", "-x"],
        )
    }

    /// `iptables -w 5 -t nat ARGS...` (or ip6tables).
    pub fn nat(&self, family: Family, args: &[&str]) -> Result<String, IptablesError> {
        let mut full = vec!["-w", "5", "-t", "nat"];
        full.extend_from_slice(args);
        self.run(family.iptables(), &full)
    }
}

/// The iptables tree chosen with `--iptables DIR`, for the whole run.
static TREE: OnceLock<Tree> = OnceLock::new();

/// An unpacked iptables other than the machine's (`scripts/iptables-version.sh VERSION`
/// makes one from Debian's packages): `DIR/usr/sbin/xtables-{legacy,nft}-multi`, their
/// libraries somewhere under DIR, the extensions in a `xtables` directory, and, when the
/// machine's C library is too old for them, that C library with its dynamic loader.
///
/// Each backend gets a small wrapper script, `DIR/.masq-conformance/BACKEND/MULTI`, which
/// sets `XTABLES_LIBDIR` and the library path (through the tree's own loader when it has
/// one, else `LD_LIBRARY_PATH`) and runs the tree's binary with the tool name it was run
/// by. [`IptablesBackend::binary`] then returns the wrapper, so the shim symlinks, the
/// `/etc/alternatives` of the implementation's private `/etc`, the fault step `cleared`
/// and the runner's own listings ([`NodeTables`]) all use the tree.
#[derive(Debug, Clone)]
pub struct Tree {
    pub dir: PathBuf,
    wrappers: PathBuf,
}

/// How a tree's binaries find their libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TreeLayout {
    /// Per backend (legacy, nft): the multi-call binary.
    multi: [PathBuf; 2],
    /// Directories holding shared libraries, searched in this order.
    lib_dirs: Vec<PathBuf>,
    /// The extensions' directory (`XTABLES_LIBDIR`).
    xtables: PathBuf,
    /// The tree's dynamic loader, when it brings its own C library.
    loader: Option<PathBuf>,
}

impl Tree {
    fn wrapper(&self, backend: IptablesBackend) -> PathBuf {
        self.wrappers
            .join(backend.name())
            .join(backend.multi_binary())
    }
}

/// Selects `dir` as the iptables of this run (once, before any case): finds its binaries
/// and libraries and writes the wrappers. Errors name what is missing.
pub fn use_tree(dir: &Path) -> Result<&'static Tree, String> {
    let dir =
        std::fs::canonicalize(dir).map_err(|e| format!("--iptables {}: {e}", dir.display()))?;
    let layout = TreeLayout::find(&dir)?;
    let wrappers = dir.join(".masq-conformance");
    for (i, backend) in IptablesBackend::ALL.into_iter().enumerate() {
        let path = wrappers.join(backend.name()).join(backend.multi_binary());
        write_executable(&path, &layout.wrapper_script(&layout.multi[i]))
            .map_err(|e| format!("--iptables: writing {}: {e}", path.display()))?;
    }
    // The runner runs as root; the tree usually belongs to the user who fetched it (under
    // their target/): give the wrappers to the tree's owner, so that `cargo clean` or a CI
    // cache step can remove them.
    give_to_owner_of(&dir, &wrappers)
        .map_err(|e| format!("--iptables: {}: {e}", wrappers.display()))?;
    let tree = Tree { dir, wrappers };
    TREE.set(tree)
        .map_err(|_| "--iptables given twice".to_string())?;
    // A tree whose binaries cannot run (a library missing, a C library too new for this
    // machine) is refused here, not as 154 failing cases. Without root, the suite says
    // so itself before any case.
    if nix::unistd::geteuid().is_root() {
        for backend in IptablesBackend::ALL {
            backend
                .version()
                .map_err(|e| format!("--iptables: {} does not run: {e}", backend.name()))?;
        }
    }
    Ok(TREE.get().expect("just set"))
}

/// The tree selected with `--iptables`, if any.
pub fn tree() -> Option<&'static Tree> {
    TREE.get()
}

/// `iptables --version` of each backend, for reports: `iptables v1.8.7 (legacy), iptables
/// v1.8.7 (nf_tables)`, with ` from DIR` for a `--iptables` tree.
pub fn describe(backends: &[IptablesBackend]) -> String {
    let versions: Vec<String> = backends
        .iter()
        .map(|b| b.version().unwrap_or_else(|e| format!("{}: {e}", b.name())))
        .collect();
    match tree() {
        Some(t) => format!("{} from {}", versions.join(", "), t.dir.display()),
        None => versions.join(", "),
    }
}

fn write_executable(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().expect("wrapper path has a parent");
    std::fs::create_dir_all(dir)?;
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    // Written aside and renamed: a concurrent run never sees half a script.
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, path)
}

/// Gives `path` and everything below it to the owner of `tree`.
fn give_to_owner_of(tree: &Path, path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(tree)?;
    let mut paths = vec![path.to_path_buf()];
    walk_all(path, &mut paths);
    for p in paths {
        if std::fs::symlink_metadata(&p)?.uid() != owner.uid() {
            std::os::unix::fs::lchown(&p, Some(owner.uid()), Some(owner.gid()))?;
        }
    }
    Ok(())
}

fn walk_all(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk_all(&path, out);
        }
    }
}

/// `'text'` for sh.
fn sh_quote(text: &Path) -> String {
    format!("'{}'", text.display().to_string().replace('\'', r"'\''"))
}

impl TreeLayout {
    fn find(dir: &Path) -> Result<Self, String> {
        let multi = |backend: IptablesBackend| {
            ["usr/sbin", "sbin", "usr/bin", "bin"]
                .iter()
                .map(|d| dir.join(d).join(backend.multi_binary()))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    format!(
                        "--iptables {}: no {} in its usr/sbin, sbin, usr/bin or bin (scripts/iptables-version.sh VERSION makes such a tree)",
                        dir.display(),
                        backend.multi_binary()
                    )
                })
        };
        let multi = [
            multi(IptablesBackend::Legacy)?,
            multi(IptablesBackend::Nft)?,
        ];
        let mut files = Vec::new();
        walk(dir, &mut files);
        let name = |p: &Path| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        };
        let xtables = files
            .iter()
            .filter(|f| name(f).starts_with("libxt_") && name(f).ends_with(".so"))
            .filter_map(|f| f.parent())
            .find(|d| d.file_name().is_some_and(|n| n == "xtables"))
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                format!(
                    "--iptables {}: no xtables extension directory (libxt_*.so) in it",
                    dir.display()
                )
            })?;
        let mut lib_dirs: Vec<PathBuf> = Vec::new();
        for f in &files {
            let n = name(f);
            let parent = f.parent().expect("below dir");
            // Versioned shared objects (`libmnl.so.0`): not the extensions, not gconv's.
            if n.starts_with("lib")
                && n.contains(".so.")
                && parent != xtables
                && !lib_dirs.iter().any(|d| d == parent)
            {
                lib_dirs.push(parent.to_path_buf());
            }
        }
        lib_dirs.sort();
        let mut loaders: Vec<&PathBuf> = files
            .iter()
            .filter(|f| name(f).starts_with("ld-linux") && name(f).contains(".so"))
            .collect();
        loaders.sort();
        Ok(Self {
            multi,
            lib_dirs,
            xtables,
            loader: loaders.first().map(|p| p.to_path_buf()),
        })
    }

    /// The wrapper for `multi`: run as `iptables` (through a shim symlink) it runs
    /// `multi iptables ...`; run by its own name it passes its arguments on.
    fn wrapper_script(&self, multi: &Path) -> String {
        let lib_path = std::env::join_paths(&self.lib_dirs)
            .map(PathBuf::from)
            .unwrap_or_default();
        let exec = match &self.loader {
            // The tree's C library: its own loader, whatever the machine's is.
            Some(loader) => format!(
                "exec {} --library-path {} {} \"$@\"",
                sh_quote(loader),
                sh_quote(&lib_path),
                sh_quote(multi)
            ),
            None => format!(
                "LD_LIBRARY_PATH={}\nexport LD_LIBRARY_PATH\nexec {} \"$@\"",
                sh_quote(&lib_path),
                sh_quote(multi)
            ),
        };
        format!(
            "#!/bin/sh\n# Written by masq-conformance --iptables: runs {} with the tree's own libraries.\nXTABLES_LIBDIR={}\nexport XTABLES_LIBDIR\ncase \"${{0##*/}}\" in\n  xtables-*-multi) ;;\n  *) set -- \"${{0##*/}}\" \"$@\" ;;\nesac\n{exec}\n",
            multi.display(),
            sh_quote(&self.xtables),
        )
    }
}

/// Every file (and symlink) below `dir`, skipping the wrappers' own directory.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if entry.file_name() != ".masq-conformance" {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("masq-tree-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_bullseye_tree_runs_with_ld_library_path() {
        let d = scratch("bullseye");
        touch(&d, "usr/sbin/xtables-legacy-multi");
        touch(&d, "usr/sbin/xtables-nft-multi");
        touch(&d, "usr/lib/x86_64-linux-gnu/libxtables.so.12");
        touch(&d, "usr/lib/x86_64-linux-gnu/xtables/libxt_MASQUERADE.so");
        touch(&d, "lib/x86_64-linux-gnu/libmnl.so.0");
        let layout = TreeLayout::find(&d).unwrap();
        assert_eq!(layout.loader, None);
        assert_eq!(
            layout.lib_dirs,
            vec![
                d.join("lib/x86_64-linux-gnu"),
                d.join("usr/lib/x86_64-linux-gnu")
            ]
        );
        let script = layout.wrapper_script(&layout.multi[0]);
        assert!(script.contains(&format!(
            "XTABLES_LIBDIR='{}'",
            d.join("usr/lib/x86_64-linux-gnu/xtables").display()
        )));
        assert!(script.contains("LD_LIBRARY_PATH='"), "{script}");
        assert!(script.ends_with(&format!(
            "exec '{}' \"$@\"\n",
            d.join("usr/sbin/xtables-legacy-multi").display()
        )));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_tree_with_its_own_c_library_runs_through_its_loader() {
        let d = scratch("trixie");
        touch(&d, "usr/sbin/xtables-legacy-multi");
        touch(&d, "usr/sbin/xtables-nft-multi");
        touch(&d, "usr/lib/x86_64-linux-gnu/libc.so.6");
        touch(&d, "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        touch(&d, "usr/lib/x86_64-linux-gnu/xtables/libxt_comment.so");
        let layout = TreeLayout::find(&d).unwrap();
        let script = layout.wrapper_script(&layout.multi[1]);
        assert!(
            script.contains(&format!(
                "exec '{}' --library-path '{}' '{}' \"$@\"",
                d.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
                    .display(),
                d.join("usr/lib/x86_64-linux-gnu").display(),
                d.join("usr/sbin/xtables-nft-multi").display()
            )),
            "{script}"
        );
        assert!(!script.contains("LD_LIBRARY_PATH"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_tree_without_binaries_is_refused_by_name() {
        let d = scratch("empty");
        touch(&d, "usr/lib/x86_64-linux-gnu/xtables/libxt_comment.so");
        let err = TreeLayout::find(&d).unwrap_err();
        assert!(err.contains("xtables-legacy-multi"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn quotes_survive_sh() {
        assert_eq!(sh_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
