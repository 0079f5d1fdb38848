//! Property tests (proptest, stable toolchain) for the config parser and the rule
//! renderer. The same invariants drive the cargo-fuzz targets in `fuzz/` (see
//! docs/fuzzing.md); here they run on a few hundred random inputs per property, fast
//! enough for every `cargo test`.

mod invariants;

use ip_masq_agent::config::{self, Cidr, Config, ParseOptions};
use ip_masq_agent::datapath::iptables::restore_payload;
use ip_masq_agent::datapath::{parse_to_ports, Family, PortRange, RuleOptions};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

fn cidr() -> impl Strategy<Value = Cidr> {
    prop_oneof![
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, p)| IpNet::V4(Ipv4Net::new(a.into(), p).unwrap().trunc())),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, p)| IpNet::V6(Ipv6Net::new(a.into(), p).unwrap().trunc())),
        prop::sample::select(vec!["169.254.0.0/16", "fe80::/10", "0.0.0.0/0", "::/0"])
            .prop_map(|s| s.parse::<IpNet>().unwrap()),
    ]
    .prop_map(|net| Cidr {
        text: net.to_string(),
        net,
    })
}

fn port_range() -> impl Strategy<Value = PortRange> {
    (1u16..=65535, 1u16..=65535).prop_map(|(a, b)| PortRange {
        first: a.min(b),
        last: a.max(b),
    })
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop::collection::vec(cidr(), 0..12),
        any::<bool>(),
        any::<bool>(),
        any::<i64>(),
    )
        .prop_map(|(cidrs, ll, ll6, resync)| Config {
            cidr_limit: cidrs.len() as i64,
            non_masquerade_cidrs: cidrs,
            masq_link_local: ll,
            masq_link_local_ipv6: ll6,
            resync_interval_nanos: resync,
        })
}

fn rule_options() -> impl Strategy<Value = RuleOptions> {
    (
        "[A-Za-z0-9_-]{1,28}",
        any::<bool>(),
        prop::collection::vec(port_range(), 0..5),
    )
        .prop_map(|(chain, random_fully, to_ports)| RuleOptions {
            chain,
            random_fully,
            to_ports,
            ipv6: false,
        })
}

/// Fragments a config file is made of; random sequences of them are "YAML-ish".
const TOKENS: &[&str] = &[
    "nonMasqueradeCIDRs",
    "NONMASQUERADECIDRS",
    "cidrLimit",
    "masqLinkLocal",
    "masqLinkLocalIPv6",
    "resyncInterval",
    ": ",
    ":",
    "\n",
    "\n  - ",
    "- ",
    "  ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "&a ",
    "*a",
    "!!str ",
    "---\n",
    "# c\n",
    "null",
    "~",
    "true",
    "yes",
    "off",
    "\"true\"",
    "0",
    "-1",
    "3",
    "0x1f",
    "0b101",
    "017",
    "1e3",
    "5.0",
    "9223372036854775808",
    "10.0.0.0/8",
    "10.0.0.1/8",
    "169.254.0.0/16",
    "fe80::/10",
    "2001:db8::/32",
    "300.0.0.0/8",
    "30s",
    "1m30s",
    "500ms",
    "-1.5h",
    "1µs",
    "2562047h47m16.854775808s",
    "9999999999h",
];

fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat())
}

/// A valid config written out as YAML or JSON, with keys in random case and order.
fn document() -> impl Strategy<Value = (Config, String)> {
    (config(), any::<bool>(), any::<u64>()).prop_map(|(mut c, json, seed)| {
        // Only durations that are written the way Go prints them are generated.
        c.resync_interval_nanos = c.resync_interval_nanos.clamp(-(1 << 50), 1 << 50);
        c.cidr_limit = c.non_masquerade_cidrs.len() as i64 + (seed % 3) as i64;
        let case = |k: &str, bit: u32| {
            if seed >> bit & 1 == 1 {
                k.to_ascii_uppercase()
            } else {
                k.to_string()
            }
        };
        let list: Vec<String> = c
            .non_masquerade_cidrs
            .iter()
            .map(|x| format!("\"{}\"", x.text))
            .collect();
        let mut entries = [
            (
                case("nonMasqueradeCIDRs", 8),
                format!("[{}]", list.join(", ")),
            ),
            (case("cidrLimit", 9), c.cidr_limit.to_string()),
            (case("masqLinkLocal", 10), c.masq_link_local.to_string()),
            (
                case("masqLinkLocalIPv6", 11),
                c.masq_link_local_ipv6.to_string(),
            ),
            (
                case("resyncInterval", 12),
                format!(
                    "\"{}\"",
                    config::format_go_duration(c.resync_interval_nanos)
                ),
            ),
        ];
        entries.rotate_left((seed % 5) as usize);
        let text = if json {
            let body: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("\"{k}\": {v}"))
                .collect();
            format!("{{{}}}", body.join(", "))
        } else {
            entries.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
        };
        (c, text)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn payload_invariants(config in config(), opts in rule_options()) {
        for family in [Family::V4, Family::V6] {
            let payload = restore_payload(&config, family, &opts);
            invariants::check_payload(&payload, &config, family, &opts);
        }
    }

    #[test]
    fn parser_never_panics_on_yamlish(text in yamlish()) {
        invariants::check_parse_all(text.as_bytes());
    }

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        invariants::check_parse_all(&bytes);
    }

    #[test]
    fn written_config_parses_back((config, text) in document()) {
        let opts = ParseOptions { enable_ipv6: true, ..ParseOptions::default() };
        let parsed = config::parse(text.as_bytes(), &opts)
            .unwrap_or_else(|e| panic!("{text}\n{e}"));
        prop_assert_eq!(parsed.config, config);
        invariants::check_parse_all(text.as_bytes());
    }

    #[test]
    fn to_ports_invariants(text in "[0-9,-]{0,24}|\\PC{0,16}") {
        invariants::check_to_ports(&text, &parse_to_ports(&text));
    }

    #[test]
    fn to_ports_roundtrip(ranges in prop::collection::vec(port_range(), 1..6)) {
        let text: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        prop_assert_eq!(parse_to_ports(&text.join(",")), Ok(ranges));
    }
}
