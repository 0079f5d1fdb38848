//! An executable model of docs/spec.md: given the configuration in force and the flags,
//! what a conforming implementation does to one flow. Pure: no namespaces, no processes,
//! and nothing of the agent crate. Every rule cites the spec's section it comes from.
//!
//! - [`config`] reads a config file as §2 says the reference reads it;
//! - [`Flags`] are the flags of §3 that change outcomes (`--masq-chain` changes none);
//! - [`History`] follows published configs over time (§5: keep the last good one, revert
//!   to defaults on removal, write nothing before the first good one);
//! - [`decide`] is §4 and §6: masqueraded or not, and for `--to-ports` the ports;
//! - [`replay`] runs a fixture's steps through all of this and predicts its outcome
//!   tables, saying "not modelled" where the spec leaves the answer to timing or faults.

use std::net::IpAddr;
use std::ops::RangeInclusive;

pub mod check;
pub mod cidr;
pub mod config;
pub mod replay;

pub use cidr::{parse_cidr, Net};
pub use config::{parse, Config, Parsed};

use crate::configmap::Content;
use crate::vocabulary::addresses;
use crate::vocabulary::Flags;
use crate::vocabulary::Proto;

impl Flags {
    /// The default list (§2 Keys, §3 `--nomasq-all-reserved-ranges`).
    pub fn default_cidrs(&self) -> Vec<Net> {
        let list: &[&str] = if self.nomasq_all_reserved_ranges {
            &RESERVED_RANGES
        } else {
            &DEFAULT_CIDRS
        };
        list.iter()
            .map(|t| parse_cidr(t).expect("the spec's ranges are valid"))
            .collect()
    }
}

/// §2 Keys: the default `nonMasqueradeCIDRs`.
pub const DEFAULT_CIDRS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// §3: the default list under `--nomasq-all-reserved-ranges`.
pub const RESERVED_RANGES: [&str; 11] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
];

/// §2 Keys / §4.1: the link-local ranges that keep the pod's source unless masqueraded.
pub const LINK_LOCAL_V4: &str = "169.254.0.0/16";
pub const LINK_LOCAL_V6: &str = "fe80::/10";

/// The configuration in force: a valid config with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub cidrs: Vec<Net>,
    pub masq_link_local: bool,
    pub masq_link_local_ipv6: bool,
}

impl Effective {
    /// §2: a key that is present replaces its default entirely.
    pub fn new(config: &Config, flags: &Flags) -> Effective {
        Effective {
            cidrs: config
                .non_masquerade_cidrs
                .clone()
                .unwrap_or_else(|| flags.default_cidrs()),
            masq_link_local: config.masq_link_local.unwrap_or(false),
            masq_link_local_ipv6: config.masq_link_local_ipv6.unwrap_or(false),
        }
    }
}

/// What a conforming implementation does to one new flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelVerdict {
    /// The receiver sees the address of the interface the node sent the flow out of (the
    /// egress address; towards the pod, the pod-facing one). `ports`: with `--to-ports`, for
    /// tcp, udp and sctp, the ranges the translated source port lies in.
    Masqueraded {
        ports: Option<Vec<RangeInclusive<u16>>>,
    },
    /// The receiver sees the flow's own source (the pod's, for pod flows).
    NotMasqueraded,
    /// Nothing arrives. Nothing in docs/spec.md drops a pod's flow; kept so that the
    /// model can say so if the spec ever does.
    Dropped,
    /// The spec does not settle it (or not without timing the model cannot know).
    NotModelled(String),
}

impl ModelVerdict {
    /// The outcome-table word (`crate::vocabulary::Outcome`'s spelling), or `None` when not
    /// modelled.
    pub fn cell(&self) -> Option<&'static str> {
        match self {
            ModelVerdict::Masqueraded { .. } => Some("masqueraded"),
            ModelVerdict::NotMasqueraded => Some("not-masqueraded"),
            ModelVerdict::Dropped => Some("dropped"),
            ModelVerdict::NotModelled(_) => None,
        }
    }
}

/// The node's own addresses in the sandbox (`crate::topology`): LOCAL destinations.
pub fn node_addresses() -> [IpAddr; 6] {
    [
        IpAddr::V4(addresses::NODE_V4),
        IpAddr::V4(addresses::NODE_POD_SIDE_V4),
        IpAddr::V4(addresses::NODE_MAIN_V4),
        IpAddr::V6(addresses::NODE_V6),
        IpAddr::V6(addresses::NODE_POD_SIDE_V6),
        IpAddr::V6(addresses::NODE_MAIN_V6),
    ]
}

/// §4 and §6: the verdict for a new flow from `source` to `destination` over `proto`
/// while `rules` are installed (`None`: no rules were ever written, §5 "at start-up, with
/// no good config yet, nothing is written").
pub fn decide(
    rules: Option<&Effective>,
    flags: &Flags,
    source: IpAddr,
    destination: IpAddr,
    proto: Proto,
) -> ModelVerdict {
    // §6: every direction — from a pod, from the node's own addresses, inbound towards a
    // pod — is decided by the destination alone; the source only has to be of the
    // destination's family for a flow to exist. (Testing the source for locality is the
    // bug `masq-wrong-agent src-local` plays.)
    let _ = source;
    // §6 / §4.2: the POSTROUTING jump excludes `--dst-type LOCAL`: never masqueraded.
    if node_addresses().contains(&destination) {
        return ModelVerdict::NotMasqueraded;
    }
    // §5: no good config yet, no rules.
    let Some(rules) = rules else {
        return ModelVerdict::NotMasqueraded;
    };
    let link_local = match destination {
        // §4.4 and the standard destinations' note: without --enable-ipv6 there are no
        // ip6tables rules, so IPv6 is never masqueraded.
        IpAddr::V6(_) if !flags.enable_ipv6 => return ModelVerdict::NotMasqueraded,
        // §4.4: fe80::/10 under masqLinkLocalIPv6, then the IPv6 entries of the list.
        IpAddr::V6(_) => (!rules.masq_link_local_ipv6).then_some(LINK_LOCAL_V6),
        // §4.3: the link-local RETURN comes first while masqLinkLocal is false.
        IpAddr::V4(_) => (!rules.masq_link_local).then_some(LINK_LOCAL_V4),
    };
    if let Some(ll) = link_local {
        if parse_cidr(ll).expect("valid").contains(destination) {
            return ModelVerdict::NotMasqueraded;
        }
    }
    // §4.3: one RETURN per entry of the list (each family's entries in its table).
    if rules.cidrs.iter().any(|n| n.contains(destination)) {
        return ModelVerdict::NotMasqueraded;
    }
    // §4.3: the final MASQUERADE; with --to-ports, tcp/udp/sctp take their ports from the
    // ranges (one rule each, spread by statistic), other protocols the catch-all.
    let ports = match proto {
        Proto::Udp | Proto::Tcp if !flags.to_ports.is_empty() => Some(flags.to_ports.clone()),
        _ => None,
    };
    ModelVerdict::Masqueraded { ports }
}

/// What one `config` publication holds, as far as the model is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// No file (§5: defaults again).
    Absent,
    /// A file's bytes.
    Bytes(Vec<u8>),
    /// Something that cannot be read as a file (a directory, a symlink loop).
    Unreadable,
}

impl From<&Content> for Published {
    fn from(c: &Content) -> Self {
        match c {
            Content::Absent => Published::Absent,
            Content::Bytes(b) => Published::Bytes(b.clone()),
            Content::Directory | Content::Unreadable => Published::Unreadable,
        }
    }
}

/// What one read of a publication gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Good(Effective),
    Bad(String),
    NotModelled(String),
}

/// §2 and §5: reads a publication under `flags`.
pub fn read(published: &Published, flags: &Flags) -> Reading {
    match published {
        // §2: a missing file means all defaults; §5: a removed one means defaults again.
        Published::Absent => Reading::Good(Effective::new(&Config::default(), flags)),
        Published::Unreadable => Reading::Bad("cannot be read".into()),
        Published::Bytes(b) => match parse(b, flags.enable_ipv6, &flags.default_cidrs()) {
            Parsed::Valid(c) => Reading::Good(Effective::new(&c, flags)),
            Parsed::Invalid(e) => Reading::Bad(e),
            Parsed::NotModelled(e) => Reading::NotModelled(e),
        },
    }
}

/// §5: which config is current after a sequence of publications.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum History {
    /// No good config was ever read: nothing is written.
    #[default]
    NothingYet,
    /// The last good config (or the defaults).
    Current(Effective),
    /// A publication the model does not judge was read: what is current is unknown.
    Unknown(String),
}

impl History {
    /// §5: a valid config becomes current; a bad one leaves the previous one current.
    pub fn publish(&mut self, published: &Published, flags: &Flags) {
        match read(published, flags) {
            Reading::Good(e) => *self = History::Current(e),
            Reading::Bad(_) => {}
            Reading::NotModelled(why) => *self = History::Unknown(why),
        }
    }

    /// The rules in force, for [`decide`]; `Err` when unknown.
    pub fn rules(&self) -> Result<Option<&Effective>, String> {
        match self {
            History::NothingYet => Ok(None),
            History::Current(e) => Ok(Some(e)),
            History::Unknown(why) => Err(why.clone()),
        }
    }
}

/// The pod's address of the destination's family: the source of every probe.
pub fn pod_source(destination: IpAddr) -> IpAddr {
    match destination {
        IpAddr::V4(_) => IpAddr::V4(addresses::POD_V4),
        IpAddr::V6(_) => IpAddr::V6(addresses::POD_V6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        Flags::from_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn verdict(h: &History, f: &Flags, dst: &str, proto: Proto) -> ModelVerdict {
        let d: IpAddr = dst.parse().unwrap();
        decide(h.rules().unwrap(), f, pod_source(d), d, proto)
    }

    #[test]
    fn defaults_and_history() {
        let f = flags(&[]);
        let mut h = History::default();
        assert_eq!(
            verdict(&h, &f, "203.0.113.10", Proto::Udp),
            ModelVerdict::NotMasqueraded
        );
        h.publish(
            &Published::Bytes(b"nonMasqueradeCIDRs: [010.0.0.0/8]\n".to_vec()),
            &f,
        );
        assert_eq!(h, History::NothingYet, "invalid at start: nothing written");
        h.publish(&Published::Absent, &f);
        let m = ModelVerdict::Masqueraded { ports: None };
        assert_eq!(verdict(&h, &f, "203.0.113.10", Proto::Udp), m);
        assert_eq!(
            verdict(&h, &f, "169.254.169.254", Proto::Tcp),
            ModelVerdict::NotMasqueraded
        );
        assert_eq!(
            verdict(&h, &f, "198.51.100.1", Proto::Icmp),
            ModelVerdict::NotMasqueraded
        );
        assert_eq!(
            verdict(&h, &f, "2001:db8:ffff::10", Proto::Icmp),
            ModelVerdict::NotMasqueraded
        );
        h.publish(
            &Published::Bytes(b"nonMasqueradeCIDRs: []\nmasqLinkLocal: true\n".to_vec()),
            &f,
        );
        assert_eq!(verdict(&h, &f, "10.96.0.10", Proto::Udp), m);
        assert_eq!(verdict(&h, &f, "169.254.169.254", Proto::Udp), m);
        h.publish(&Published::Unreadable, &f);
        assert_eq!(
            verdict(&h, &f, "169.254.169.254", Proto::Udp),
            m,
            "last good kept"
        );
    }

    #[test]
    fn flags_change_outcomes() {
        let f = flags(&[
            "--enable-ipv6",
            "--to-ports",
            "1024-29999,40000",
            "--masq-chain",
            "X",
        ]);
        assert!(f.enable_ipv6 && f.random_fully);
        assert_eq!(f.to_ports, vec![1024..=29999, 40000..=40000]);
        let h = History::Current(Effective::new(&Config::default(), &f));
        assert_eq!(
            verdict(&h, &f, "2001:db8:ffff::10", Proto::Udp),
            ModelVerdict::Masqueraded {
                ports: Some(f.to_ports.clone())
            }
        );
        assert_eq!(
            verdict(&h, &f, "2001:db8:ffff::10", Proto::Icmp),
            ModelVerdict::Masqueraded { ports: None }
        );
        assert_eq!(
            verdict(&h, &f, "2001:db8:1::1", Proto::Udp),
            ModelVerdict::NotMasqueraded
        );
        let r = flags(&["--nomasq-all-reserved-ranges=true", "--random-fully=false"]);
        assert!(!r.random_fully);
        let h = History::Current(Effective::new(&Config::default(), &r));
        assert_eq!(
            verdict(&h, &r, "203.0.113.10", Proto::Udp),
            ModelVerdict::NotMasqueraded
        );
        assert_eq!(
            verdict(&h, &r, "8.8.8.8", Proto::Udp),
            ModelVerdict::Masqueraded { ports: None }
        );
    }
}
