//! The flags that shape the rules of either datapath ([`RuleOptions`]) and the words
//! they are made of: the address family, a `--to-ports` range.

/// Which table family a payload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The link-local range whose RETURN rule comes first.
    pub fn link_local(self) -> &'static str {
        match self {
            Family::V4 => "169.254.0.0/16",
            Family::V6 => "fe80::/10",
        }
    }
}

/// An inclusive source-port range from `--to-ports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// How many ports the range holds.
    pub fn size(self) -> u64 {
        u64::from(self.last - self.first) + 1
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// A bad `--to-ports` value; the message names the flag and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --to-ports {value:?}: {reason}")]
pub struct ToPortsError {
    pub value: String,
    pub reason: String,
}

/// Parses `--to-ports`: a comma-separated list of `N` or `A-B`, each port 1..=65535, A<=B.
/// The empty string means no ranges.
pub fn parse_to_ports(value: &str) -> Result<Vec<PortRange>, ToPortsError> {
    let err = |reason: String| ToPortsError {
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let port = |p: &str| -> Result<u16, ToPortsError> {
        match p.parse::<u16>() {
            Ok(n) if n >= 1 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(err(format!("{p:?} is not a port number (1-65535)"))),
        }
    };
    value
        .split(',')
        .map(|part| {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (port(a)?, port(b)?),
                None => {
                    let n = port(part)?;
                    (n, n)
                }
            };
            if first > last {
                return Err(err(format!("range {part:?} ends before it starts")));
            }
            Ok(PortRange { first, last })
        })
        .collect()
}

/// The flags that shape the rules, the same for both datapaths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOptions {
    /// `--masq-chain`: the iptables chain, or the nftables table and its chain.
    pub chain: String,
    /// `--random-fully`: as requested in the flags; when rendering iptables rules, only if
    /// the iptables binary supports it too.
    pub random_fully: bool,
    /// `--to-ports`, parsed.
    pub to_ports: Vec<PortRange>,
    /// `--enable-ipv6`: IPv6 rules too (ip6tables, or the nftables table's IPv6 set).
    pub ipv6: bool,
}

impl Default for RuleOptions {
    fn default() -> Self {
        RuleOptions {
            chain: "IP-MASQ-AGENT".into(),
            random_fully: true,
            to_ports: Vec::new(),
            ipv6: false,
        }
    }
}
