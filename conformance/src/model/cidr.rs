//! CIDRs parsed the way Go's `net.ParseCIDR` parses them (docs/spec.md §2, Validation),
//! and checked to be network addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A validated network: its address is its network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Net {
    pub addr: IpAddr,
    pub len: u8,
}

impl Net {
    /// Whether `ip` lies in this network (an IPv4 network never holds an IPv6 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask4(a, self.len) == n,
            (IpAddr::V6(n), IpAddr::V6(a)) => mask6(a, self.len) == n,
            _ => false,
        }
    }

    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// The first and last addresses of the network.
    pub fn bounds(&self) -> (IpAddr, IpAddr) {
        match self.addr {
            IpAddr::V4(n) => {
                let host = u32::MAX.checked_shr(u32::from(self.len)).unwrap_or(0);
                let n = u32::from(n);
                (Ipv4Addr::from(n).into(), Ipv4Addr::from(n | host).into())
            }
            IpAddr::V6(n) => {
                let host = u128::MAX.checked_shr(u32::from(self.len)).unwrap_or(0);
                let n = u128::from(n);
                (Ipv6Addr::from(n).into(), Ipv6Addr::from(n | host).into())
            }
        }
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

pub fn mask4(a: Ipv4Addr, len: u8) -> Ipv4Addr {
    let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ipv4Addr::from(u32::from(a) & m)
}

pub fn mask6(a: Ipv6Addr, len: u8) -> Ipv6Addr {
    let m = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    Ipv6Addr::from(u128::from(a) & m)
}

/// Why a CIDR is refused, or why the model will not judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// `net.ParseCIDR` rejects it.
    Parse(String),
    /// It parses, but its address is not its network address (`10.0.0.1/8`).
    NotNetwork(String),
    /// Outside what the model knows Go to do (IPv4-mapped IPv6 notation).
    NotModelled(String),
}

/// Go's `parseIPv4` (Go 1.17 and later): exactly four decimal fields, each 0-255, no
/// leading zeros (docs/spec.md §2: `010.0.0.0/8` is rejected, iptables would read octal).
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut out = [0u8; 4];
    let mut fields = s.split('.');
    for slot in &mut out {
        let f = fields.next()?;
        if f.is_empty() || f.len() > 3 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if f.len() > 1 && f.starts_with('0') {
            return None;
        }
        *slot = f.parse::<u16>().ok().filter(|v| *v <= 255)? as u8;
    }
    if fields.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(out))
}

/// Go's `dtoi`: decimal digits only (leading zeros allowed), at least one, no sign.
fn dtoi(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok()
}

/// `net.ParseCIDR` then the network-address check (docs/spec.md §2, Validation).
pub fn parse_cidr(text: &str) -> Result<Net, CidrError> {
    let bad = || CidrError::Parse(format!("invalid CIDR address: {text}"));
    // Go splits at the first '/'.
    let (addr, prefix) = text.split_once('/').ok_or_else(bad)?;
    let len = dtoi(prefix).ok_or_else(bad)?;
    let ip: IpAddr = if addr.contains(':') {
        let v6: Ipv6Addr = addr.parse().map_err(|_| bad())?;
        if v6.to_ipv4_mapped().is_some() || addr.contains('.') {
            return Err(CidrError::NotModelled(format!(
                "{text}: IPv4 written inside IPv6 notation"
            )));
        }
        v6.into()
    } else {
        parse_ipv4(addr).ok_or_else(bad)?.into()
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(bad());
    }
    let len = len as u8;
    let network = match ip {
        IpAddr::V4(a) => IpAddr::V4(mask4(a, len)),
        IpAddr::V6(a) => IpAddr::V6(mask6(a, len)),
    };
    if network != ip {
        return Err(CidrError::NotNetwork(format!(
            "{text} is not a network address (its network is {network}/{len})"
        )));
    }
    Ok(Net { addr: ip, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_parse_cidr() {
        for ok in [
            "10.0.0.0/8",
            "0.0.0.0/0",
            "192.168.0.1/32",
            "fd00::/8",
            "::/0",
            "10.0.0.0/08",
        ] {
            assert!(parse_cidr(ok).is_ok(), "{ok}");
        }
        for bad in [
            "010.0.0.0/8",
            "10.0.0/8",
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/+8",
            "10.0.0.0/",
            "256.0.0.0/8",
            " 10.0.0.0/8",
            "fd00::/129",
            "fd00::%eth0/8",
            "10.0.0.0/8/8",
        ] {
            assert!(matches!(parse_cidr(bad), Err(CidrError::Parse(_))), "{bad}");
        }
        assert!(matches!(
            parse_cidr("10.0.0.1/8"),
            Err(CidrError::NotNetwork(_))
        ));
        assert!(matches!(
            parse_cidr("::ffff:10.0.0.0/104"),
            Err(CidrError::NotModelled(_))
        ));
        let n = parse_cidr("172.16.0.0/12").unwrap();
        assert!(n.contains("172.31.255.255".parse().unwrap()));
        assert!(!n.contains("172.32.0.0".parse().unwrap()));
        assert_eq!(n.bounds().1, "172.31.255.255".parse::<IpAddr>().unwrap());
    }
}
