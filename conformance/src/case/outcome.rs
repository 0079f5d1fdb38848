//! The outcome table and its targets: which destinations a probe step tries, and how
//! what arrived is written down.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::direction::Direction;
use crate::fixture::{Choice, Fixture, ProbeSelection, ProbeSet};
use crate::probe::{Outcome, Proto};

/// A destination the runner probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub address: IpAddr,
}

/// The standard destinations: one per range of the outcome table in docs/spec.md,
/// IPv4 and IPv6.
pub fn standard_targets() -> Vec<Target> {
    [
        ("rfc1918-10", "10.96.0.10"),
        ("rfc1918-172", "172.20.0.10"),
        ("rfc1918-192", "192.168.0.10"),
        ("link-local", "169.254.169.254"),
        ("internet", "203.0.113.10"),
        ("node", "198.51.100.1"),
        ("ula6", "fd00:10:96::10"),
        ("internet6", "2001:db8:ffff::10"),
        ("node6", "2001:db8:1::1"),
    ]
    .iter()
    .map(|(n, a)| Target {
        name: n.to_string(),
        address: a.parse().expect("valid literal"),
    })
    .collect()
}

/// The fixture's own destinations.
pub fn extra_targets(fixture: &Fixture) -> Vec<Target> {
    fixture
        .destinations
        .iter()
        .map(|d| Target {
            name: d.name.clone(),
            address: d.address,
        })
        .collect()
}

/// Standard and extra destinations together.
pub fn all_targets(fixture: &Fixture) -> Vec<Target> {
    let mut t = standard_targets();
    t.extend(extra_targets(fixture));
    t
}

/// The rows a probe step selects (names were checked when the fixture loaded): the
/// destinations, or from `world` the world addresses the flows to the pod start from.
pub fn selected_targets(fixture: &Fixture, sel: &ProbeSelection) -> Vec<Target> {
    let named = |names: &[String]| {
        let all = all_targets(fixture);
        names
            .iter()
            .filter_map(|n| all.iter().find(|t| &t.name == n).cloned())
            .collect()
    };
    let set = |set: ProbeSet, direction: Direction| {
        let targets = match set {
            ProbeSet::Default => standard_targets(),
            ProbeSet::Extra => extra_targets(fixture),
            ProbeSet::All => all_targets(fixture),
        };
        targets
            .into_iter()
            // The node's own addresses are no world address to start from.
            .filter(|t| direction != Direction::World || !crate::topology::reserved(t.address))
            .collect()
    };
    match sel {
        ProbeSelection::Named(s) => set(*s, Direction::Pod),
        ProbeSelection::Explicit { destinations, .. } => named(destinations),
        ProbeSelection::From(d) => match d.choice() {
            Choice::Set(s) => set(s, d.from),
            Choice::Names(names) => named(&names),
        },
    }
}

/// The protocols a probe step sends: its own, else all three.
pub fn selected_protocols(sel: &ProbeSelection) -> Vec<Proto> {
    match sel {
        ProbeSelection::Explicit {
            protocols: Some(p), ..
        } => p.clone(),
        ProbeSelection::From(d) => d.protocols.clone().unwrap_or_else(|| Proto::ALL.to_vec()),
        _ => Proto::ALL.to_vec(),
    }
}

/// Addresses the world namespace must carry: the standard ones not owned by the node,
/// plus the fixture's.
pub fn world_addresses(fixture: &Fixture) -> Vec<IpAddr> {
    standard_targets()
        .into_iter()
        .filter(|t| !t.name.starts_with("node"))
        .map(|t| t.address)
        .chain(fixture.destinations.iter().map(|d| d.address))
        .collect()
}

/// One row of an outcome table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub name: String,
    pub address: IpAddr,
    pub outcomes: BTreeMap<Proto, Outcome>,
    /// What a cell asserts beyond the source address, when it fails: with `--to-ports`,
    /// a translated port outside the ranges, or `--random-fully` not spreading flows.
    /// Rendered after the cell's outcome as `masqueraded!NOTE` (one token, no spaces);
    /// empty whenever the ports are right, so tables read as before.
    pub notes: BTreeMap<Proto, String>,
}

/// The result of one probe step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutcomeTable {
    pub rows: Vec<OutcomeRow>,
    /// Where the flows started (names the section and the first column).
    pub direction: Direction,
}

impl OutcomeTable {
    /// Fixed-width text, one destination per line.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{:<14} {:<20} {:<16} {:<16} {}\n",
            self.direction.row_label(),
            "address",
            "udp",
            "tcp",
            "icmp"
        );
        for row in &self.rows {
            let cell = |p: Proto| {
                let text = row
                    .outcomes
                    .get(&p)
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "-".into());
                match row.notes.get(&p) {
                    // One token, so that tables still split on whitespace.
                    Some(note) => format!("{text}!{note}"),
                    None => text,
                }
            };
            let line = format!(
                "{:<14} {:<20} {:<16} {:<16} {}",
                row.name,
                row.address.to_string(),
                cell(Proto::Udp),
                cell(Proto::Tcp),
                cell(Proto::Icmp)
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology;

    #[test]
    fn standard_targets_avoid_the_sandbox_except_the_node() {
        for t in standard_targets() {
            assert_eq!(
                topology::reserved(t.address),
                t.name.starts_with("node"),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn a_table_renders_one_line_per_destination() {
        let table = OutcomeTable {
            rows: vec![OutcomeRow {
                name: "internet".into(),
                address: "203.0.113.10".parse().unwrap(),
                outcomes: BTreeMap::from([(Proto::Udp, Outcome::Masqueraded)]),
                notes: BTreeMap::new(),
            }],
            direction: Direction::Pod,
        };
        let text = table.render();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().nth(1).unwrap().starts_with("internet "));
    }
}
