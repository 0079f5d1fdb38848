//! IPv4 or IPv6: which table family a listing, a rule or a probe belongs to.

use std::net::IpAddr;

/// An address family. A named type rather than a `bool` so that `save_nat(Family::V6)`
/// reads as what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// Only IPv4, or IPv4 then IPv6 (the order the reference syncs them in).
    pub fn enabled(ipv6: bool) -> &'static [Family] {
        if ipv6 {
            &[Family::V4, Family::V6]
        } else {
            &[Family::V4]
        }
    }

    /// The family of an address.
    pub fn of(address: IpAddr) -> Family {
        match address {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// `iptables` or `ip6tables`.
    pub const fn iptables(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }

    /// `iptables-save` or `ip6tables-save`.
    pub const fn iptables_save(self) -> &'static str {
        match self {
            Family::V4 => "iptables-save",
            Family::V6 => "ip6tables-save",
        }
    }

    /// `iptables-restore` or `ip6tables-restore`.
    pub const fn iptables_restore(self) -> &'static str {
        match self {
            Family::V4 => "iptables-restore",
            Family::V6 => "ip6tables-restore",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_name_their_tools() {
        assert_eq!(Family::enabled(false), &[Family::V4]);
        assert_eq!(Family::enabled(true), &[Family::V4, Family::V6]);
        assert_eq!(Family::V6.iptables_save(), "ip6tables-save");
        assert_eq!(Family::of("fd00::1".parse().unwrap()), Family::V6);
    }
}
