//! The case's side of the node: its sandbox, ConfigMap volume, backend shims and xtables
//! lock, and what the runner reads of the node's nat table.

use std::path::PathBuf;

use super::error::{SetupError, StepError};
use crate::configmap::{ConfigMapVolume, Content};
use crate::family::Family;
use crate::implementation::Profile;
use crate::iptables::{Backend, IptablesError, NodeTables};
use crate::snapshot::normalize_save;
use crate::topology::Sandbox;

/// Everything a case keeps of the node besides the implementation itself.
pub struct Node {
    pub sandbox: Sandbox,
    pub volume: ConfigMapVolume,
    /// First on the implementation's PATH: the backend's tool links, and fault shims.
    pub shim_dir: PathBuf,
    /// The case's own xtables lock (`XTABLES_LOCKFILE`), shared with the implementation.
    pub lock_file: PathBuf,
    pub backend: Backend,
    /// The families whose nat tables matter: IPv4, and IPv6 when the fixture enables it.
    pub families: &'static [Family],
    config_key: String,
}

impl Node {
    pub fn prepare(
        sandbox: Sandbox,
        profile: &Profile,
        backend: Backend,
        ipv6: bool,
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
        backend
            .make_shim_dir(&shim_dir)
            .map_err(|source| SetupError::Backend {
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
            config_key: key,
        })
    }

    /// The file name the implementation reads its config from.
    pub fn config_key(&self) -> String {
        self.config_key.clone()
    }

    pub fn tables(&self) -> NodeTables<'_> {
        NodeTables {
            ns: self.sandbox.node.file(),
            backend: self.backend,
            lock_file: &self.lock_file,
        }
    }

    /// Publishes a config the way the kubelet does.
    pub fn publish(&mut self, content: &Content) -> Result<(), StepError> {
        self.volume.update(content).map_err(StepError::Publish)
    }

    /// The nat table(s), normalised, as one text.
    pub fn current_rules(&self) -> Result<String, IptablesError> {
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
