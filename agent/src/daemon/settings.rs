//! Everything the flags decide for the daemon: the datapath, the config file, and the
//! rules' options (one [`RuleOptions`] for both datapaths).

use crate::config::ParseOptions;
use crate::datapath::{Datapath, RuleOptions, DEFAULT_COMMAND_TIMEOUT};
use std::path::PathBuf;
use std::time::Duration;

/// Default config path (a ConfigMap key mounted as a file).
pub const DEFAULT_CONFIG_PATH: &str = "/etc/config/ip-masq-agent";

/// Everything the flags decide.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--datapath`.
    pub datapath: Datapath,
    pub config_path: PathBuf,
    /// `--nomasq-all-reserved-ranges`.
    pub nomasq_all_reserved_ranges: bool,
    /// `--masq-chain`, `--random-fully` (as requested; the iptables datapath uses it only
    /// if iptables supports it), `--to-ports`, `--enable-ipv6`.
    pub rules: RuleOptions,
    /// `--command-timeout`: the deadline of each iptables or nft child, and so the
    /// longest a round may take before `/healthz` counts the loop as wedged.
    pub command_timeout: Duration,
}

impl Settings {
    /// How the config is parsed under these flags.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            nomasq_all_reserved_ranges: self.nomasq_all_reserved_ranges,
            enable_ipv6: self.rules.ipv6,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            datapath: Datapath::Iptables,
            config_path: DEFAULT_CONFIG_PATH.into(),
            nomasq_all_reserved_ranges: false,
            rules: RuleOptions::default(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}
