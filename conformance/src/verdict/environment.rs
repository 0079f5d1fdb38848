//! What a run happened on: kernel, distribution, architecture, and the iptables version
//! of each backend (asked inside a namespace the runner makes for the purpose: the
//! runner never runs iptables anywhere else).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::iptables::NodeTables;
use crate::vocabulary::IptablesBackend;

/// The machine of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub kernel: String,
    pub distribution: String,
    pub architecture: String,
    /// `iptables --version` of each backend run (`legacy`, `nft`).
    pub iptables: BTreeMap<String, String>,
}

/// Reads the environment; `backends` are asked for their version when the runner can
/// make a namespace (root).
pub fn current(backends: &[IptablesBackend]) -> Environment {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let distribution = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    Environment {
        kernel,
        distribution,
        architecture: std::env::consts::ARCH.to_string(),
        iptables: iptables_versions(backends),
    }
}

fn iptables_versions(backends: &[IptablesBackend]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let ns = match crate::topology::Namespace::create(format!(
        "{}-env",
        crate::names::next_case_tag()
    )) {
        Ok(ns) => ns,
        Err(_) => return out,
    };
    let lock = std::env::temp_dir().join(format!("masq-env-{}.lock", std::process::id()));
    for &backend in backends {
        let tables = NodeTables {
            ns: ns.file(),
            backend,
            lock_file: &lock,
        };
        let version = tables
            .run("iptables", &["--version"])
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"));
        out.insert(backend.name().to_string(), version);
    }
    let _ = std::fs::remove_file(lock);
    out
}
