//! What the daemon needs from a firewall: the [`Backend`] trait, its errors, and the stop
//! flag that interrupts it. The command-line implementation is [`super::Cli`].

use super::nftables::elements::ElementEdit;
use super::nftables::netlink::BatchError;
use super::nftables::objects::TableObjects;
use super::Family;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Shared "stop now" flag: set by the signal handler thread, checked before every child
/// is started and while one runs, so a stop request interrupts any wait promptly.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A failure to apply rules; carries the command and what it printed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("could not run {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("could not understand `{command}` output {output:?}")]
    Version { command: String, output: String },
    #[error("{command} did not finish within {after:?}; killed")]
    Timeout { command: String, after: Duration },
    #[error("{command} interrupted: the agent is stopping")]
    Interrupted { command: String },
    #[error("nftables set elements over netlink: {0}")]
    Elements(#[from] BatchError),
}

/// What the daemon needs from a firewall backend.
pub trait Backend {
    /// Applies a payload with `--noflush`: creates the chains it declares if missing and
    /// replaces their content, atomically.
    fn restore(&mut self, family: Family, payload: &str) -> Result<(), BackendError>;
    /// Makes sure `POSTROUTING` jumps to `chain` (appended once, only if missing).
    fn ensure_jump(&mut self, family: Family, chain: &str) -> Result<(), BackendError>;
    /// Whether MASQUERADE accepts `--random-fully` (iptables 1.6.2 and later).
    fn supports_random_fully(&mut self) -> Result<bool, BackendError>;
    /// Runs an nft script (`nft -f -`): the whole script is one kernel transaction (the
    /// nftables datapath sends two per sync, in order: `super::nftables::Scripts`).
    fn nft_apply(&mut self, script: &str) -> Result<(), BackendError>;
    /// `nft list table inet <table>`: its listing, `None` when the command fails (no such
    /// table, or nft cannot list it). Only ever used to skip a sync with nothing to do, so
    /// any doubt means "apply".
    fn nft_list_table(&mut self, table: &str) -> Option<String>;
    /// Deletes and adds elements of existing sets of the nftables datapath's table in one
    /// transaction, which the kernel commits only while the ruleset generation is still
    /// `edit.generation` (`crate::datapath::nftables::netlink`).
    fn nft_edit_elements(&mut self, edit: &ElementEdit) -> Result<(), BackendError>;
    /// The nftables ruleset generation of this network namespace (bumped by every commit,
    /// anyone's), `None` when it cannot be read (no netlink permission, no nf_tables). Like
    /// the listing, only ever used to skip work: `None` means "look at the listing".
    fn nft_generation(&mut self) -> Option<u32>;
    /// The chains and named sets of `inet <table>` (a netlink dump, no element read),
    /// `None` when they cannot be read. Only ever used to vouch for a table the agent has
    /// just written in full: `None` means "look at the listing".
    fn nft_table_objects(&mut self, table: &str) -> Option<TableObjects>;
    /// The prefixes set `set` of `inet <table>` holds (a netlink dump), `None` when they
    /// cannot be read or are not all prefixes. Only ever used to send less: `None` means
    /// "flush and refill".
    fn nft_set_contents(&mut self, table: &str, set: &str) -> Option<Vec<ipnet::IpNet>>;
    /// Removes the iptables datapath's rules of `family`: every `POSTROUTING` rule jumping
    /// to `chain`, then `chain` itself (flushed, deleted). Nothing to do, or no iptables
    /// binary on `PATH`, is no error.
    fn remove_iptables(&mut self, family: Family, chain: &str) -> Result<Cleanup, BackendError>;
    /// Deletes the nftables datapath's table `inet <table>` if it exists. No `nft` on
    /// `PATH` is no error.
    fn remove_nft_table(&mut self, table: &str) -> Result<Cleanup, BackendError>;
}

/// What removing the other datapath's rules found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    /// Nothing of ours was there.
    Nothing,
    /// Something was removed; says what.
    Removed(String),
    /// The tool is not on `PATH`, so there was nothing we could see (or remove).
    ToolMissing(String),
}

/// Whether `program` resolves on `PATH` to an executable file (what `Command` would run).
pub fn on_path(program: &str) -> bool {
    resolve(program).is_some()
}

/// The executable file `program` resolves to on `PATH` (symbolic links followed), with
/// its metadata.
pub fn resolve(program: &str) -> Option<(std::path::PathBuf, std::fs::Metadata)> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        let file = dir.join(program);
        let m = std::fs::metadata(&file).ok()?;
        (m.is_file() && m.permissions().mode() & 0o111 != 0).then_some((file, m))
    })
}

/// Which file a tool is: where `PATH` finds it and the file it reaches (device, inode,
/// size, change and modification times). Another binary behind the same name, or the
/// same file rewritten or its mode changed, gives another identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolIdentity {
    path: std::path::PathBuf,
    file: (u64, u64, u64, i64, i64, i64, i64),
}

impl ToolIdentity {
    /// `program`'s identity now, `None` when it is not on `PATH`.
    pub fn of(program: &str) -> Option<ToolIdentity> {
        use std::os::unix::fs::MetadataExt;
        let (path, m) = resolve(program)?;
        Some(ToolIdentity {
            path,
            file: (
                m.dev(),
                m.ino(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            ),
        })
    }
}
