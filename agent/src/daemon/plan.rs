//! A round's kernel work as data: the [`Step`]s of a [`plan`], and what `--dry-run` prints.

use super::Settings;
use crate::config::Config;
use crate::datapath::iptables::restore_payload;
use crate::datapath::{nftables, Datapath, Family, RuleOptions};
use std::sync::Arc;

/// The options a round renders with: the flags', with `random_fully` as decided for this
/// datapath (requested and, for iptables, supported).
fn rule_options(settings: &Settings, random_fully: bool) -> RuleOptions {
    RuleOptions {
        random_fully,
        ..settings.rules.clone()
    }
}

/// The nftables datapath's transactions for a config.
pub fn nft_scripts(config: &Config, settings: &Settings, random_fully: bool) -> nftables::Scripts {
    nftables::scripts(config, &rule_options(settings, random_fully))
}

/// The payloads for a config: IPv4, then IPv6 when enabled.
pub fn payloads(config: &Config, settings: &Settings, random_fully: bool) -> Vec<(Family, String)> {
    let opts = rule_options(settings, random_fully);
    let mut out = vec![(Family::V4, restore_payload(config, Family::V4, &opts))];
    if opts.ipv6 {
        out.push((Family::V6, restore_payload(config, Family::V6, &opts)));
    }
    out
}

/// What `--dry-run` prints: the iptables-restore payloads (IPv4, then IPv6 when enabled),
/// or the nft transactions ([`nftables::dry_run`]).
pub fn dry_run_text(config: &Config, settings: &Settings, random_fully: bool) -> String {
    match settings.datapath {
        Datapath::Iptables => payloads(config, settings, random_fully)
            .into_iter()
            .map(|(_, p)| p)
            .collect(),
        Datapath::Nftables => nftables::dry_run(&nft_scripts(config, settings, random_fully)),
    }
}

/// One step of a round's kernel work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `iptables-restore --noflush` of a payload.
    Restore(Family, String),
    /// The POSTROUTING jump into the chain.
    EnsureJump(Family, String),
    /// The nftables datapath's sync: nothing if the table is as we left it, else the two
    /// in-place transactions (the whole-table replacement if they fail).
    NftApply(Arc<nftables::Scripts>),
    /// Removing the iptables datapath's chain and jump (switching to nftables).
    RemoveIptables(Family, String),
    /// Removing the nftables datapath's table (switching to iptables).
    RemoveNftTable(String),
}

impl Step {
    /// Whether the step writes the new rules (as opposed to removing the other
    /// datapath's), for the timing in the log.
    pub(super) fn applies(&self) -> bool {
        matches!(
            self,
            Step::Restore(..) | Step::EnsureJump(..) | Step::NftApply(_)
        )
    }
}

/// A round's steps in order: the datapath's rules first, the other datapath's removal
/// after them.
pub fn plan(config: &Config, settings: &Settings, random_fully: bool) -> Vec<Step> {
    let chain = &settings.rules.chain;
    let mut steps = Vec::new();
    match settings.datapath {
        Datapath::Iptables => {
            for (family, payload) in payloads(config, settings, random_fully) {
                steps.push(Step::Restore(family, payload));
                steps.push(Step::EnsureJump(family, chain.clone()));
            }
            // A name nft cannot take cannot have a table of ours.
            if nftables::validate_nft_name(chain).is_ok() {
                steps.push(Step::RemoveNftTable(
                    nftables::table_name(chain).to_string(),
                ));
            }
        }
        Datapath::Nftables => {
            steps.push(Step::NftApply(Arc::new(nft_scripts(
                config,
                settings,
                random_fully,
            ))));
            // Both families, with or without --enable-ipv6: IPv6 rules left by an earlier
            // run would masquerade what the nft table leaves alone.
            for family in [Family::V4, Family::V6] {
                steps.push(Step::RemoveIptables(family, chain.clone()));
            }
        }
    }
    steps
}
