//! A structured arbitrary Config + RuleOptions → `datapath::iptables::restore_payload` for V4 and V6,
//! checked line by line (`agent/tests/invariants/mod.rs`).
#![no_main]

use arbitrary::Arbitrary;
use ip_masq_agent::config::{Cidr, Config};
use ip_masq_agent::datapath::iptables::restore_payload;
use ip_masq_agent::datapath::{parse_to_ports, Family, PortRange, RuleOptions};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use libfuzzer_sys::fuzz_target;

#[path = "../../agent/tests/invariants/mod.rs"]
mod invariants;

#[derive(Arbitrary, Debug)]
enum ArbCidr {
    V4(u32, u8),
    V6(u128, u8),
    /// One of a few interesting fixed ranges (link-local, default route, host routes).
    Fixed(u8),
}

const FIXED: [&str; 8] = [
    "169.254.0.0/16",
    "fe80::/10",
    "0.0.0.0/0",
    "::/0",
    "255.255.255.255/32",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
    "::ffff:0.0.0.0/96",
    "10.0.0.0/8",
];

impl ArbCidr {
    fn build(&self) -> Cidr {
        let net = match *self {
            ArbCidr::V4(a, p) => IpNet::V4(Ipv4Net::new(a.into(), p % 33).unwrap().trunc()),
            ArbCidr::V6(a, p) => IpNet::V6(Ipv6Net::new(a.into(), p % 129).unwrap().trunc()),
            ArbCidr::Fixed(i) => FIXED[usize::from(i) % FIXED.len()].parse().unwrap(),
        };
        Cidr {
            text: net.to_string(),
            net,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum ToPorts {
    None,
    Ranges(Vec<(u16, u16)>),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    cidrs: Vec<ArbCidr>,
    masq_link_local: bool,
    masq_link_local_ipv6: bool,
    resync_interval_nanos: i64,
    chain: Vec<u8>,
    random_fully: bool,
    to_ports: ToPorts,
}

/// iptables chain names: up to 28 characters; keep to a safe alphabet.
const CHAIN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fuzz_target!(|input: Input| {
    let non_masquerade_cidrs: Vec<Cidr> = input.cidrs.iter().map(ArbCidr::build).collect();
    let config = Config {
        cidr_limit: non_masquerade_cidrs.len() as i64,
        non_masquerade_cidrs,
        masq_link_local: input.masq_link_local,
        masq_link_local_ipv6: input.masq_link_local_ipv6,
        resync_interval_nanos: input.resync_interval_nanos,
    };
    let mut chain: String = input
        .chain
        .iter()
        .take(28)
        .map(|b| char::from(CHAIN_ALPHABET[usize::from(*b) % CHAIN_ALPHABET.len()]))
        .collect();
    if chain.is_empty() {
        chain = "IP-MASQ-AGENT".into();
    }
    let to_ports = match input.to_ports {
        ToPorts::None => Vec::new(),
        ToPorts::Ranges(r) => r
            .into_iter()
            .map(|(a, b)| {
                let (a, b) = (a.max(1), b.max(1));
                PortRange {
                    first: a.min(b),
                    last: a.max(b),
                }
            })
            .collect(),
        ToPorts::Text(s) => match parse_to_ports(&s) {
            Ok(r) => r,
            Err(_) => return,
        },
    };
    let opts = RuleOptions {
        chain,
        random_fully: input.random_fully,
        to_ports,
        ipv6: false,
    };
    for family in [Family::V4, Family::V6] {
        let payload = restore_payload(&config, family, &opts);
        invariants::check_payload(&payload, &config, family, &opts);
    }
});
