//! Where the rules live: the [`Datapath`]s, what shapes their rules ([`RuleOptions`]), the
//! pure renderers ([`iptables`]: the `iptables-restore` payload; [`nftables`]: the `nft -f -`
//! transactions, and the nftables datapath's round) and the [`backend`] that runs the
//! tools. Nothing here knows about the daemon's loop.

pub mod backend;
mod cli;
pub mod iptables;
pub mod nftables;
mod options;
mod runner;

pub use cli::{Cli, DEFAULT_COMMAND_TIMEOUT};
pub use options::{parse_to_ports, Family, PortRange, RuleOptions, ToPortsError};

/// Which kernel interface holds the rules (`--datapath`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Datapath {
    /// A chain in iptables' `nat` table and a POSTROUTING jump (the reference's rules).
    #[default]
    Iptables,
    /// A table of its own in nftables (docs/nftables-datapath.md).
    Nftables,
}

impl Datapath {
    pub fn name(self) -> &'static str {
        match self {
            Datapath::Iptables => "iptables",
            Datapath::Nftables => "nftables",
        }
    }
}

impl std::str::FromStr for Datapath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "iptables" => Ok(Datapath::Iptables),
            "nftables" => Ok(Datapath::Nftables),
            _ => Err(format!("{s:?} is not a datapath (iptables or nftables)")),
        }
    }
}
