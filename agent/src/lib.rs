//! ip-masq-agent: keeps the nat-table rules that decide which pod traffic is masqueraded.
//!
//! Three folders, each importing only the ones before it: [`config`] (bytes →
//! [`config::Config`]), [`datapath`] (config → the rules of the iptables or the nftables
//! datapath, and the backend that applies them) and [`daemon`] (the resync loop, the
//! config watch, `/healthz` and `/readyz`). The binary in `main.rs` only parses flags and
//! wires these together.

pub mod config;
pub mod daemon;
pub mod datapath;
mod gostd;
mod survey;
#[cfg(test)]
mod test_configs;
mod tree;
mod yaml11;

/// The iptables renderer under its former path, for `config_tests.rs` alone: that file
/// belongs to the config side's move (agent/src/config/), which updates the path.
#[cfg(test)]
mod rules {
    pub use crate::datapath::iptables::restore_payload;
    pub use crate::datapath::{Family, RuleOptions};
}
