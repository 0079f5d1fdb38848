//! The two iptables backends, and running iptables inside a sandbox's `node` namespace.
//!
//! The backend is chosen per trial by putting a directory of symlinks first on the
//! implementation's PATH: `iptables`, `iptables-save`, ... all point at
//! `xtables-legacy-multi` or `xtables-nft-multi`, which pick their personality from
//! argv[0]. Any implementation that runs `iptables` from PATH is steered without knowing.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::family::Family;
use crate::guard::GuardError;

/// The iptables flavours a trial runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    Legacy,
    Nft,
}

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

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Legacy, Backend::Nft];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Legacy => "legacy",
            Backend::Nft => "nft",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "legacy" => Some(Backend::Legacy),
            "nft" => Some(Backend::Nft),
            _ => None,
        }
    }

    fn multi_binary(self) -> &'static str {
        match self {
            Backend::Legacy => "xtables-legacy-multi",
            Backend::Nft => "xtables-nft-multi",
        }
    }

    /// Path of the multi-call binary, if installed.
    pub fn binary(self) -> Option<PathBuf> {
        SBIN_DIRS
            .iter()
            .map(|d| Path::new(d).join(self.multi_binary()))
            .find(|p| p.exists())
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
    pub backend: Backend,
    pub lock_file: &'a Path,
}

impl NodeTables<'_> {
    /// Runs `tool args...` inside the namespace and returns stdout.
    pub fn run(&self, tool: &str, args: &[&str]) -> Result<String, IptablesError> {
        let binary = self.backend.binary().ok_or(IptablesError::Missing {
            tool: tool.into(),
            backend: self.backend.name(),
        })?;
        let mut cmd = crate::netns::command_in(self.ns, binary.to_str().unwrap_or_default())?;
        // The multi-call binary dispatches on argv[0].
        {
            use std::os::unix::process::CommandExt;
            cmd.arg0(tool);
        }
        cmd.args(args)
            .env("XTABLES_LOCKFILE", self.lock_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = format!("{tool} {} ({})", args.join(" "), self.backend.name());
        let out = cmd.output().map_err(|source| IptablesError::Spawn {
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
