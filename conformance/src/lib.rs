//! `masq-conformance`: proves what an implementation of ip-masq-agent does to packets.
//!
//! Each case (a fixture) runs in a sandbox of three network namespaces (`pod`, `node`,
//! `world`); the implementation runs in `node`, real flows go out, and what arrived is
//! snapshot-asserted. Every namespace is the runner's own: [`guard`] refuses anything
//! else. The modules' layers, the data flow and the invariants: ARCHITECTURE.md.

pub mod bounded_file;
pub mod case;
pub mod changelog;
pub mod cli;
pub mod configmap;
pub mod confinement;
pub mod document;
pub mod fixture;
pub mod forks;
pub mod generate;
pub mod go_duration;
pub mod guard;
pub mod implementation;
pub mod interrupt;
pub mod iptables;
pub mod limits;
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
pub mod records;
pub mod snapshot;
pub mod suite;
pub mod toolpath;
pub mod topology;
pub mod verdict;
pub mod vocabulary;
