//! The address plan: the sandbox's own addresses (see the diagram in [`crate::topology`])
//! and the standard destinations every outcome table probes (docs/spec.md).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The pod's address: the source a non-masqueraded packet arrives with.
pub const POD_V4: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 2);
pub const POD_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x10, 0x244, 0, 0, 0, 0, 2);
/// The node's pod-facing gateway address.
pub const NODE_POD_SIDE_V4: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 1);
pub const NODE_POD_SIDE_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x10, 0x244, 0, 0, 0, 0, 1);
/// The node's egress address: the source a masqueraded packet arrives with.
pub const NODE_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const NODE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// The node's main address: on its loopback, the `src` of its default routes; never the
/// egress interface's primary address (see the module comment).
pub const NODE_MAIN_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const NODE_MAIN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1);
/// The world's end of the node's uplink.
pub const WORLD_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const WORLD_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);

/// Addresses the sandbox itself uses; a fixture's destination may not be one of them.
pub fn reserved(addr: IpAddr) -> bool {
    let v4_nets: [(Ipv4Addr, u8); 2] = [(POD_V4, 24), (NODE_V4, 24)];
    match addr {
        IpAddr::V4(a) => {
            a == NODE_MAIN_V4
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.is_loopback()
                || v4_nets.iter().any(|(net, len)| {
                    let mask = u32::MAX << (32 - len);
                    u32::from(a) & mask == u32::from(*net) & mask
                })
        }
        IpAddr::V6(a) => {
            let seg = a.segments();
            a == NODE_MAIN_V6
                || a.is_unspecified()
                || a.is_loopback()
                || a.is_multicast()
                || (seg[0..3] == [0xfd00, 0x10, 0x244] && seg[3] == 0)
                || (seg[0..3] == [0x2001, 0xdb8, 1] && seg[3] == 0)
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_targets_avoid_the_sandbox_except_the_node() {
        for t in standard_targets() {
            assert_eq!(
                reserved(t.address),
                t.name.starts_with("node"),
                "{}",
                t.name
            );
        }
    }
}
