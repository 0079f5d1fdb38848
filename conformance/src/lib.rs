//! `masq-conformance`: proves what an implementation of ip-masq-agent does to packets.
//!
//! Each case (a fixture file) gets its own sandbox of three network namespaces — `pod`,
//! `node`, `world` — joined by veth pairs. The implementation under test runs in `node`
//! (in a private mount namespace where the fixture's config appears ConfigMap-style), the
//! runner sends real UDP, TCP and ICMP flows from `pod` to destinations in `world` (and,
//! with [`direction`], from the node's own addresses, and from `world` to the pod), and
//! records which source address arrived. Outcome tables and the node's nat table are
//! snapshot-asserted with insta.
//!
//! Safety is structural: every namespace is created by this crate, nothing is created in
//! or routed through the initial namespace, and [`guard`] refuses to run iptables or an
//! implementation anywhere else.

pub mod case;
pub mod cli;
pub mod compare;
pub mod configmap;
pub mod direction;
pub mod document;
pub mod family;
pub mod features;
pub mod fixture;
pub mod forks;
pub mod generate;
pub mod go_duration;
pub mod guard;
pub mod implementation;
pub mod iptables;
pub mod listing_kind;
pub mod model;
pub mod names;
pub mod netns;
pub mod nftables;
pub mod pid_namespace;
pub mod poll;
pub mod prereq;
pub mod probe;
pub mod profile;
pub mod report;
pub mod snapshot;
pub mod store;
pub mod suite;
pub mod toolpath;
pub mod topology;
pub mod verdict;
pub mod waivers;
