//! ip-masq-agent: keeps the nat-table rules that decide which pod traffic is masqueraded.
//!
//! A pure core ([`config`]: bytes → [`config::Config`]; [`rules`]: config → the exact
//! `iptables-restore` payload; [`nftables`]: config → the `nft -f -` transactions of the
//! nftables datapath; [`nftstate`]: is a listing our table; [`iptables_text`]: iptables'
//! output read back) and a thin shell ([`backend`]: runs iptables and nft;
//! [`daemon`]: the resync loop; [`nft_sync`]: the nftables datapath's round; [`watch`]: immediate reload; [`health`]: `/healthz`). The
//! binary in `main.rs` only parses flags and wires these together.

pub mod backend;
pub mod config;
pub mod daemon;
pub mod health;
pub mod iptables_text;
pub mod nft_generation;
pub mod nft_sync;
pub mod nftables;
pub mod nftstate;
pub mod rules;
#[cfg(test)]
mod test_configs;
pub mod watch;
