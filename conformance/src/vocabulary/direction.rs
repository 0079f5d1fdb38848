//! Where a probe's flows start, and what "masqueraded" means for each start.
//!
//! docs/spec.md §6: every flow that leaves the node through POSTROUTING towards a
//! non-LOCAL destination goes through the non-masquerade list, whoever sent it. Bugs that
//! test the wrong address for locality (the source instead of the destination) only show
//! in flows the node itself sends, or forwards towards a pod; so the sandbox sends from
//! four places, and for each one knows which source a receiver sees when the flow kept
//! its source, and which when it was masqueraded.

use std::net::IpAddr;

use schemars::JsonSchema;
use serde::Deserialize;

use super::addresses;
use super::Outcome;

/// Where a probe's flows start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// From the pod to destinations in `world` (and the node's own addresses): the
    /// original direction, what every case without `from` probes.
    #[default]
    Pod,
    /// From the node itself, from its address on the pod-facing veth (10.244.0.1,
    /// fd00:10:244::1), to the same destinations.
    NodePodAddress,
    /// From the node itself, from its main address (192.0.2.1, 2001:db8:2::1, on the
    /// node's loopback and the `src` of its default routes), to the same destinations.
    NodeMainAddress,
    /// From addresses in `world` (the destinations that live there) to the pod, which
    /// runs the receiver: inbound traffic the node forwards towards a pod.
    World,
}

impl Direction {
    pub const ALL: [Direction; 4] = [
        Direction::Pod,
        Direction::NodePodAddress,
        Direction::NodeMainAddress,
        Direction::World,
    ];

    /// The fixture spelling.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Pod => "pod",
            Direction::NodePodAddress => "node-pod-address",
            Direction::NodeMainAddress => "node-main-address",
            Direction::World => "world",
        }
    }

    /// What an outcome section's heading says about the direction: nothing for the pod
    /// (so every snapshot written before directions existed reads the same).
    pub fn heading_note(self) -> &'static str {
        match self {
            Direction::Pod => "",
            Direction::NodePodAddress => " (from node pod-facing address)",
            Direction::NodeMainAddress => " (from node main address)",
            Direction::World => " (from world to pod)",
        }
    }

    /// The direction whose [`Self::heading_note`] is `note`.
    pub fn from_heading_note(note: &str) -> Option<Direction> {
        Self::ALL.into_iter().find(|d| d.heading_note() == note)
    }

    /// The first column of an outcome table: the rows are destinations, except from
    /// `world`, where they are the world addresses the flows start from.
    pub fn row_label(self) -> &'static str {
        match self {
            Direction::World => "source",
            _ => "destination",
        }
    }

    /// For a row's address: the flow's `(source, destination)`. `None` as the source:
    /// the pod's own (the runner does not bind the pod's sockets, as before).
    pub fn endpoints(self, row: IpAddr) -> (Option<IpAddr>, IpAddr) {
        let v6 = row.is_ipv6();
        let pick = |a4: std::net::Ipv4Addr, a6: std::net::Ipv6Addr| -> IpAddr {
            if v6 {
                a6.into()
            } else {
                a4.into()
            }
        };
        match self {
            Direction::Pod => (None, row),
            Direction::NodePodAddress => (
                Some(pick(
                    addresses::NODE_POD_SIDE_V4,
                    addresses::NODE_POD_SIDE_V6,
                )),
                row,
            ),
            Direction::NodeMainAddress => (
                Some(pick(addresses::NODE_MAIN_V4, addresses::NODE_MAIN_V6)),
                row,
            ),
            Direction::World => (Some(row), pick(addresses::POD_V4, addresses::POD_V6)),
        }
    }

    /// The source a receiver sees when the flow for `row` kept its source.
    pub fn kept_source(self, row: IpAddr) -> IpAddr {
        match self.endpoints(row) {
            (Some(source), _) => source,
            (None, _) if row.is_ipv6() => addresses::POD_V6.into(),
            (None, _) => addresses::POD_V4.into(),
        }
    }

    /// The source a receiver sees when the flow for `row` was masqueraded: MASQUERADE
    /// takes the primary address of the interface the flow leaves by. Every flow towards
    /// `world` leaves by `to-world` (198.51.100.1); a flow towards the pod by `to-pod`
    /// (10.244.0.1). Neither is the source of any direction's unmasqueraded flow to a
    /// non-LOCAL destination, so the two outcomes can always be told apart.
    pub fn masqueraded_source(self, row: IpAddr) -> IpAddr {
        let v6 = row.is_ipv6();
        match (self, v6) {
            (Direction::World, false) => addresses::NODE_POD_SIDE_V4.into(),
            (Direction::World, true) => addresses::NODE_POD_SIDE_V6.into(),
            (_, false) => addresses::NODE_V4.into(),
            (_, true) => addresses::NODE_V6.into(),
        }
    }

    /// Classifies the source a receiver saw for the flow of `row`.
    pub fn classify(self, row: IpAddr, seen: IpAddr) -> Outcome {
        let seen = match seen {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(seen),
            v4 => v4,
        };
        if seen == self.kept_source(row) {
            Outcome::NotMasqueraded
        } else if seen == self.masqueraded_source(row) {
            Outcome::Masqueraded
        } else {
            Outcome::Unexpected(seen)
        }
    }
}

/// Classifies a source address seen by a receiver of a flow from the pod.
pub fn classify(source: IpAddr) -> Outcome {
    let family = if source.is_ipv6() && !source.to_canonical().is_ipv4() {
        IpAddr::V6(addresses::POD_V6)
    } else {
        IpAddr::V4(addresses::POD_V4)
    };
    Direction::Pod.classify(family, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_two_outcomes_differ_in_every_direction_and_family() {
        for d in Direction::ALL {
            for row in [ip("203.0.113.10"), ip("2001:db8:ffff::10")] {
                assert_ne!(d.kept_source(row), d.masqueraded_source(row), "{d:?} {row}");
                assert_eq!(d.kept_source(row).is_ipv6(), row.is_ipv6());
                assert_eq!(d.endpoints(row).1.is_ipv6(), row.is_ipv6());
            }
        }
    }

    #[test]
    fn each_direction_classifies_its_own_sources() {
        let internet = ip("203.0.113.10");
        assert_eq!(
            Direction::Pod.classify(internet, ip("10.244.0.2")),
            Outcome::NotMasqueraded
        );
        assert_eq!(
            Direction::NodePodAddress.classify(internet, ip("10.244.0.1")),
            Outcome::NotMasqueraded
        );
        assert_eq!(
            Direction::NodeMainAddress.classify(internet, ip("198.51.100.1")),
            Outcome::Masqueraded
        );
        assert_eq!(
            Direction::World.classify(internet, ip("203.0.113.10")),
            Outcome::NotMasqueraded
        );
        assert_eq!(
            Direction::World.classify(internet, ip("10.244.0.1")),
            Outcome::Masqueraded
        );
        assert_eq!(
            Direction::World.classify(internet, ip("198.51.100.1")),
            Outcome::Unexpected(ip("198.51.100.1"))
        );
    }

    #[test]
    fn heading_notes_read_back() {
        for d in Direction::ALL {
            assert_eq!(Direction::from_heading_note(d.heading_note()), Some(d));
        }
    }

    #[test]
    fn classifies_sources() {
        assert_eq!(classify(addresses::POD_V4.into()), Outcome::NotMasqueraded);
        assert_eq!(classify(addresses::NODE_V6.into()), Outcome::Masqueraded);
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(classify(other), Outcome::Unexpected(other));
    }
}
