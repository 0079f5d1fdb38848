//! The closed vocabulary of features a fixture exercises and a profile claims. *Core*
//! features are what the documentation promises every ip-masq-agent; *extended* ones are
//! flags, extensions and details an implementation may leave out (and say so).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One feature. The kebab-case names are the vocabulary of fixtures, profiles and
/// reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    // Core (docs/spec.md §2, §4, §5, §6).
    /// With no config (or an empty one) the default list applies.
    Defaults,
    /// `nonMasqueradeCIDRs` decides who keeps the pod's source.
    NonMasqueradeCidrs,
    /// `masqLinkLocal`.
    MasqLinkLocal,
    /// The config is re-read periodically and ConfigMap swaps are followed.
    Resync,
    /// An invalid config changes nothing: the last good rules stay.
    KeepLastGood,
    /// Damaged rules are restored at the next resync.
    Healing,
    // Extended.
    /// `--enable-ipv6`: dual stack.
    Ipv6,
    /// `masqLinkLocalIPv6`.
    MasqLinkLocalIpv6,
    /// `--random-fully` (and turning it off).
    RandomFully,
    /// `--to-ports`.
    ToPorts,
    /// `--masq-chain`.
    MasqChain,
    /// `--nomasq-all-reserved-ranges`.
    NomasqAllReservedRanges,
    /// `cidrLimit`.
    CidrLimit,
    /// `resyncInterval` taken from the config.
    ResyncIntervalFromConfig,
    /// The reference's parsing quirks (case-insensitive keys, YAML 1.1 booleans, ...).
    ParsingQuirks,
    /// A config written as JSON.
    JsonConfig,
    /// The iptables rules themselves: a case whose point is the listing.
    IptablesListings,
    /// Several config files merged (docs/spec.md §9).
    MultiFile,
    /// Faults around the implementation: failing tools, a held lock, a flapping config.
    Faults,
    /// SIGTERM leaves the rules in place.
    Sigterm,
    /// Established flows keep their NAT decision (conntrack).
    EstablishedFlows,
    /// Rules left by older releases.
    UpgradeHazards,
    /// The reference's klog flags are accepted.
    KlogFlags,
    /// Flows that do not start in a pod (docs/spec.md §6): from the node's own addresses,
    /// and inbound towards a pod. The reference's rules decide them like pod flows; the
    /// Kubernetes documentation promises only pod traffic, so a profile may leave them out.
    TrafficDirections,
    /// Started over the rules of its other datapath (this agent's iptables chain, or its
    /// nftables table), the implementation removes them: outcomes follow its config alone.
    DatapathSwitch,
    /// The reference's own hazards, reproduced: its rule text's quirks, duplicate rules
    /// for a CIDR listed twice, a second jump beside a stale quoted one. Only the steps
    /// that show them name it (`feature:` on the step); a profile without it has those
    /// steps skipped, and the rest of each case still judged.
    ReferenceBugCompat,
}

/// Whether every implementation must have a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Core,
    Extended,
}

impl Feature {
    pub const ALL: [Feature; 26] = [
        Feature::Defaults,
        Feature::NonMasqueradeCidrs,
        Feature::MasqLinkLocal,
        Feature::Resync,
        Feature::KeepLastGood,
        Feature::Healing,
        Feature::Ipv6,
        Feature::MasqLinkLocalIpv6,
        Feature::RandomFully,
        Feature::ToPorts,
        Feature::MasqChain,
        Feature::NomasqAllReservedRanges,
        Feature::CidrLimit,
        Feature::ResyncIntervalFromConfig,
        Feature::ParsingQuirks,
        Feature::JsonConfig,
        Feature::IptablesListings,
        Feature::MultiFile,
        Feature::Faults,
        Feature::Sigterm,
        Feature::EstablishedFlows,
        Feature::UpgradeHazards,
        Feature::KlogFlags,
        Feature::TrafficDirections,
        Feature::DatapathSwitch,
        Feature::ReferenceBugCompat,
    ];

    pub fn level(self) -> Level {
        match self {
            Feature::Defaults
            | Feature::NonMasqueradeCidrs
            | Feature::MasqLinkLocal
            | Feature::Resync
            | Feature::KeepLastGood
            | Feature::Healing => Level::Core,
            _ => Level::Extended,
        }
    }

    /// Whether a profile without this feature has only the steps that name it skipped,
    /// not its whole cases unsupported: a bug-compatibility step is a detail of a case
    /// whose point (outcomes) every implementation must meet.
    pub fn skips_steps(self) -> bool {
        self == Feature::ReferenceBugCompat
    }

    /// The kebab-case name.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_is_closed_and_named() {
        assert_eq!(Feature::NonMasqueradeCidrs.name(), "non-masquerade-cidrs");
        assert_eq!(Feature::Ipv6.name(), "ipv6");
        let core = Feature::ALL
            .iter()
            .filter(|f| f.level() == Level::Core)
            .count();
        assert_eq!(core, 6);
        let mut names: Vec<String> = Feature::ALL.iter().map(|f| f.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Feature::ALL.len());
        assert!(serde_json::from_str::<Feature>("\"colours\"").is_err());
    }
}
