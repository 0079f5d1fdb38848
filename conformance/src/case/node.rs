//! The case's side of the node: its sandbox, ConfigMap volume, backend shims and xtables
//! lock, and what the runner reads of the node's nat table.

use std::path::PathBuf;

use super::error::{SetupError, StepError};
use crate::configmap::ConfigMapVolume;
use crate::fixture::ConfigSource;
use crate::implementation::Profile;
use crate::iptables::{IptablesError, NodeTables};
use crate::nftables::{self, NodeNft, Table};
use crate::profile::ListingKind;
use crate::snapshot::normalize_save;
use crate::topology::Sandbox;
use crate::vocabulary::Family;
use crate::vocabulary::IptablesBackend;

/// Everything a case keeps of the node besides the implementation itself.
pub struct Node {
    pub sandbox: Sandbox,
    pub volume: ConfigMapVolume,
    /// First on the implementation's PATH: the backend's tool links, and fault shims.
    pub shim_dir: PathBuf,
    /// The case's own xtables lock (`XTABLES_LOCKFILE`), shared with the implementation.
    pub lock_file: PathBuf,
    pub backend: IptablesBackend,
    /// The families whose nat tables matter: IPv4, and IPv6 when the fixture enables it.
    pub families: &'static [Family],
    /// Names of the current config's files whose reading can be observed.
    watched: Vec<String>,
    /// The profile, which names the files of a config.
    profile: Profile,
    /// The implementation's nftables table, when the profile names one.
    nft_table: Option<Table>,
    /// iptables is left out of the implementation's PATH and never run by the runner.
    pub without_iptables: bool,
    /// The directory of tools that replaces the runner's PATH after the shims, when some
    /// must be found only in the shims (see [`crate::toolpath`]).
    pub tool_dir: Option<PathBuf>,
}

impl Node {
    pub fn prepare(
        sandbox: Sandbox,
        profile: &Profile,
        backend: IptablesBackend,
        ipv6: bool,
        without_iptables: bool,
    ) -> Result<Self, SetupError> {
        let key = profile
            .config_path
            .file_name()
            .ok_or(SetupError::ConfigPathWithoutFileName)?
            .to_string_lossy()
            .into_owned();
        let volume = ConfigMapVolume::create(&sandbox.scratch.join("volume"), &key)
            .map_err(SetupError::Volume)?;
        let shim_dir = sandbox.scratch.join("bin");
        let nftables = profile.listings == ListingKind::Nftables;
        let left_out = move |name: &str| {
            (without_iptables && crate::toolpath::is_iptables_tool(name))
                || (nftables && name == "nft")
        };
        let tool_dir = (without_iptables || nftables).then(|| sandbox.scratch.join("sbin"));
        let shims = match without_iptables {
            true => std::fs::create_dir_all(&shim_dir),
            false => backend.make_shim_dir(&shim_dir),
        };
        shims
            .and_then(|()| match &tool_dir {
                Some(dir) => crate::toolpath::make_tool_dir(dir, &shim_dir, &left_out),
                None => Ok(()),
            })
            .and_then(|()| match nftables {
                true => crate::toolpath::link_nft(&shim_dir),
                false => Ok(()),
            })
            .map_err(|source| SetupError::IptablesBackend {
                backend: backend.name(),
                source,
            })?;
        let lock_file = sandbox.scratch.join("xtables.lock");
        Ok(Self {
            sandbox,
            volume,
            shim_dir,
            lock_file,
            backend,
            families: Family::enabled(ipv6),
            watched: Vec::new(),
            profile: profile.clone(),
            nft_table: profile.nft_table(),
            without_iptables,
            tool_dir,
        })
    }

    /// Publishes a config: one file under the profile's `config_path` name, or several
    /// under the names of its `config_files`.
    pub fn publish_source(&mut self, source: &ConfigSource) -> Result<(), StepError> {
        let names = self
            .profile_files(source.file_count())
            .map_err(StepError::Misuse)?;
        let files: Vec<&ConfigSource> = if source.files.is_empty() {
            vec![source]
        } else {
            source.files.iter().collect()
        };
        self.watched = names
            .iter()
            .zip(&files)
            .filter(|(_, f)| crate::fixture::observable(f.form))
            .map(|(n, _)| n.clone())
            .collect();
        let contents = names
            .into_iter()
            .zip(files.iter().map(|f| f.content.clone()))
            .collect();
        self.volume
            .update_files(&contents)
            .map_err(StepError::Publish)
    }

    /// Reads of the current config: the fewest over the files of it that can be seen
    /// being read.
    pub fn reads(&mut self) -> u32 {
        let counts = self.volume.reads_of_current();
        self.watched
            .iter()
            .map(|n| counts.get(n).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }

    fn profile_files(&self, count: usize) -> Result<Vec<String>, String> {
        self.profile.file_names(count)
    }

    pub fn tables(&self) -> NodeTables<'_> {
        NodeTables {
            ns: self.sandbox.node.file(),
            backend: self.backend,
            lock_file: &self.lock_file,
        }
    }

    /// The implementation's nftables (for listing kind `nftables`).
    pub fn nft(&self) -> NodeNft<'_> {
        NodeNft {
            ns: self.sandbox.node.file(),
            table: self.nft_table.as_ref(),
        }
    }

    /// The implementation's nftables, normalised (counters included).
    pub fn nft_listing(&self) -> Result<String, StepError> {
        Ok(nftables::normalize(&self.nft().list()?))
    }

    /// The implementation's rules as one text without counters, for readiness and
    /// `rules-changed`: the nat table(s) for kind `iptables`, its nftables for kind
    /// `nftables`, nothing for kind `none`.
    pub fn current_rules(&self) -> Result<String, StepError> {
        match self.profile.listings {
            ListingKind::Iptables => Ok(self.current_nat()?),
            ListingKind::Nftables => Ok(nftables::without_counters(&self.nft_listing()?)),
            ListingKind::None => Ok(String::new()),
        }
    }

    /// Whether the implementation's rules are in place: for kind `iptables` see
    /// [`Node::rules_in_place`]; for kind `nftables`, a table with a chain hooked at
    /// postrouting and a `masquerade` statement.
    pub fn ready(&self, chain: &str) -> Result<bool, StepError> {
        match self.profile.listings {
            ListingKind::Nftables => Ok(nftables::in_place(&self.nft_listing()?)),
            _ => Ok(self.rules_in_place(chain)?),
        }
    }

    /// The nat table(s), normalised, as one text.
    pub fn current_nat(&self) -> Result<String, IptablesError> {
        let tables = self.tables();
        let mut text = String::new();
        for &family in self.families {
            text.push_str(&normalize_save(&tables.save_nat(family)?));
        }
        Ok(text)
    }

    /// Whether, in every enabled family, `chain` exists with a MASQUERADE rule and
    /// POSTROUTING jumps to it.
    pub fn rules_in_place(&self, chain: &str) -> Result<bool, IptablesError> {
        let tables = self.tables();
        for &family in self.families {
            let save = tables.save_nat(family)?;
            let has_chain = save.lines().any(|l| l.starts_with(&format!(":{chain} ")));
            let has_masq = save
                .lines()
                .any(|l| l.starts_with(&format!("-A {chain} ")) && l.contains("-j MASQUERADE"));
            let has_jump = save
                .lines()
                .any(|l| l.starts_with("-A POSTROUTING ") && l.ends_with(&format!("-j {chain}")));
            if !(has_chain && has_masq && has_jump) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
