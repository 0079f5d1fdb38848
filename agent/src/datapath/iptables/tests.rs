//! Payload text: the docs/spec.md §4 example literally, then one insta file snapshot per case.

use super::*;
use crate::config::ParseOptions;
use crate::datapath::{parse_to_ports, PortRange};
use crate::test_configs::{cfg, v6};

/// Both payloads of a case, labelled, for one snapshot.
fn both(config: &Config, opts: &RuleOptions) -> String {
    format!(
        "# IPv4\n{}# IPv6\n{}",
        restore_payload(config, Family::V4, opts),
        restore_payload(config, Family::V6, opts)
    )
}

#[test]
fn spec_example_is_exact() {
    let expected = "*nat
:IP-MASQ-AGENT - [0:0]
-A IP-MASQ-AGENT -m comment --comment \"ip-masq-agent: local traffic is not subject to MASQUERADE\" -d 169.254.0.0/16 -j RETURN
-A IP-MASQ-AGENT -m comment --comment \"ip-masq-agent: local traffic is not subject to MASQUERADE\" -d 10.0.0.0/8 -j RETURN
-A IP-MASQ-AGENT -m comment --comment \"ip-masq-agent: local traffic is not subject to MASQUERADE\" -d 172.16.0.0/12 -j RETURN
-A IP-MASQ-AGENT -m comment --comment \"ip-masq-agent: local traffic is not subject to MASQUERADE\" -d 192.168.0.0/16 -j RETURN
-A IP-MASQ-AGENT -m comment --comment \"ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)\" -j MASQUERADE --random-fully
COMMIT
";
    let c = Config::defaults(&ParseOptions::default());
    assert_eq!(
        restore_payload(&c, Family::V4, &RuleOptions::default()),
        expected
    );
}

#[test]
fn default_config() {
    let c = Config::defaults(&ParseOptions::default());
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &RuleOptions::default()));
}

#[test]
fn masq_link_local_true() {
    let c = cfg("masqLinkLocal: true", &ParseOptions::default());
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &RuleOptions::default()));
}

#[test]
fn empty_list() {
    let c = cfg("nonMasqueradeCIDRs: []", &ParseOptions::default());
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &RuleOptions::default()));
}

#[test]
fn reserved_ranges() {
    let opts = ParseOptions {
        nomasq_all_reserved_ranges: true,
        ..ParseOptions::default()
    };
    let c = cfg("", &opts);
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &RuleOptions::default()));
}

#[test]
fn duplicates_kept_in_order() {
    let c = cfg(
        "nonMasqueradeCIDRs: [192.168.0.0/16, 10.0.0.0/8, 192.168.0.0/16]",
        &ParseOptions::default(),
    );
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &RuleOptions::default()));
}

#[test]
fn no_random_fully_custom_chain() {
    let c = Config::defaults(&ParseOptions::default());
    let opts = RuleOptions {
        chain: "MY-CHAIN".into(),
        random_fully: false,
        to_ports: Vec::new(),
        ipv6: false,
    };
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &opts));
}

#[test]
fn ipv6_mixed_list() {
    let c = cfg(
        "nonMasqueradeCIDRs: [10.0.0.0/8, fd00::/8, 2001:db8::/32, 192.168.0.0/16]",
        &v6(),
    );
    insta::assert_snapshot!(both(&c, &RuleOptions::default()));
}

#[test]
fn ipv6_masq_link_local_ipv6() {
    let c = cfg(
        "nonMasqueradeCIDRs: [fd00::/8]\nmasqLinkLocalIPv6: true",
        &v6(),
    );
    insta::assert_snapshot!(both(&c, &RuleOptions::default()));
}

#[test]
fn to_ports_two_ranges() {
    let c = Config::defaults(&ParseOptions::default());
    let opts = RuleOptions {
        to_ports: parse_to_ports("1024-29999,32768-65535").unwrap(),
        ..RuleOptions::default()
    };
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &opts));
}

#[test]
fn to_ports_single_ports_no_random_fully() {
    let c = cfg("nonMasqueradeCIDRs: []", &ParseOptions::default());
    let opts = RuleOptions {
        to_ports: parse_to_ports("1000,2000-2001,3000").unwrap(),
        random_fully: false,
        ..RuleOptions::default()
    };
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &opts));
}

#[test]
fn to_ports_one_range_has_no_probability() {
    let c = cfg("nonMasqueradeCIDRs: []", &ParseOptions::default());
    let opts = RuleOptions {
        to_ports: parse_to_ports("5000-6000").unwrap(),
        ..RuleOptions::default()
    };
    insta::assert_snapshot!(restore_payload(&c, Family::V4, &opts));
}

#[test]
fn probabilities_print_like_go() {
    assert_eq!(format_probability(0.5), "0.5");
    assert_eq!(format_probability(1.0 / 3.0), "0.3333333333333333");
    assert_eq!(format_probability(28976.0 / 61744.0), "0.469292562840114");
    assert_eq!(format_probability(1.0 / 65535.0), "0.000015259021896696422");
    assert_eq!(format_probability(1e-7), "0.0000001");
}

#[test]
fn to_ports_parsing() {
    assert_eq!(parse_to_ports("").unwrap(), []);
    assert_eq!(
        parse_to_ports("1,2-3,65535").unwrap(),
        [
            PortRange { first: 1, last: 1 },
            PortRange { first: 2, last: 3 },
            PortRange {
                first: 65535,
                last: 65535
            }
        ]
    );
    let e = |s: &str| parse_to_ports(s).unwrap_err().to_string();
    assert_eq!(
        e("0-5"),
        r#"invalid --to-ports "0-5": "0" is not a port number (1-65535)"#
    );
    assert_eq!(
        e("1-65536"),
        r#"invalid --to-ports "1-65536": "65536" is not a port number (1-65535)"#
    );
    assert_eq!(
        e("10-5"),
        r#"invalid --to-ports "10-5": range "10-5" ends before it starts"#
    );
    assert_eq!(
        e("1,,2"),
        r#"invalid --to-ports "1,,2": "" is not a port number (1-65535)"#
    );
    assert_eq!(
        e("+5"),
        r#"invalid --to-ports "+5": "+5" is not a port number (1-65535)"#
    );
    assert_eq!(
        e("a-b"),
        r#"invalid --to-ports "a-b": "a" is not a port number (1-65535)"#
    );
}

#[test]
fn jump_args() {
    assert_eq!(
        postrouting_jump_args("X").join(" "),
        "-m comment --comment ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom X chain -m addrtype ! --dst-type LOCAL -j X"
    );
}

/// A prefix written with leading zeros (`/08`, accepted as the reference accepts it) is
/// rendered in its canonical form.
#[test]
fn zero_padded_prefix_is_rendered_canonically() {
    let c = crate::config::parse(
        b"nonMasqueradeCIDRs: [10.0.0.0/08]",
        &ParseOptions::default(),
    )
    .expect("a zero-padded prefix is a valid CIDR")
    .config;
    let payload = restore_payload(&c, Family::V4, &RuleOptions::default());
    assert!(
        payload.contains("-d 10.0.0.0/8 -j RETURN") && !payload.contains("/08"),
        "{payload}"
    );
}
