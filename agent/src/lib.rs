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
#[cfg(test)]
mod test_configs;
