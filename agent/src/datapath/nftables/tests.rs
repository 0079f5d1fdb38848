//! Script text: one exact case, then one insta snapshot per case, then the pieces; last,
//! the two in-place transactions (`--dry-run`) as reviewed snapshots.

use super::*;
use crate::config::ParseOptions;
use crate::datapath::parse_to_ports;
use crate::test_configs::{cfg, v6};

fn opts() -> RuleOptions {
    RuleOptions {
        chain: "IP-MASQ-AGENT".into(),
        random_fully: true,
        to_ports: Vec::new(),
        ipv6: false,
    }
}

#[test]
fn default_config_is_exact() {
    let expected = "add table inet IP-MASQ-AGENT
delete table inet IP-MASQ-AGENT
table inet IP-MASQ-AGENT {
\tcomment \"ip-masq-agent: managed by ip-masq-agent; replaced whole at every sync\"
\tset nomasq-v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = {
\t\t\t10.0.0.0/8,
\t\t\t172.16.0.0/12,
\t\t\t192.168.0.0/16,
\t\t}
\t}
\tchain IP-MASQ-AGENT {
\t\tcomment \"ip-masq-agent: managed by ip-masq-agent; replaced whole at every sync\"
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tfib daddr type local return comment \"ip-masq-agent: traffic to a local destination is not subject to MASQUERADE\"
\t\tmeta nfproto ipv6 return comment \"ip-masq-agent: IPv6 is not managed (--enable-ipv6 is off)\"
\t\tip daddr 169.254.0.0/16 return comment \"ip-masq-agent: local traffic is not subject to MASQUERADE\"
\t\tip daddr @nomasq-v4 return comment \"ip-masq-agent: local traffic is not subject to MASQUERADE\"
\t\tmasquerade fully-random comment \"ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)\"
\t}
}
";
    let c = Config::defaults(&ParseOptions::default());
    assert_eq!(script(&c, &opts()), expected);
}

#[test]
fn nft_default_config() {
    let c = Config::defaults(&ParseOptions::default());
    insta::assert_snapshot!(script(&c, &opts()));
}

#[test]
fn nft_ipv6_mixed_list() {
    let c = cfg(
        "nonMasqueradeCIDRs: [10.0.0.0/8, fd00::/8, 2001:db8::/32, 192.168.0.0/16]",
        &v6(),
    );
    insta::assert_snapshot!(script(
        &c,
        &RuleOptions {
            ipv6: true,
            ..opts()
        }
    ));
}

#[test]
fn nft_masq_link_local_both() {
    let c = cfg(
        "nonMasqueradeCIDRs: [fd00::/8]\nmasqLinkLocal: true\nmasqLinkLocalIPv6: true",
        &v6(),
    );
    let s = script(
        &c,
        &RuleOptions {
            ipv6: true,
            ..opts()
        },
    );
    assert!(
        !s.contains("169.254.0.0/16") && !s.contains("fe80::/10"),
        "{s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn link_local_follows_each_flag_separately() {
    let o = RuleOptions {
        ipv6: true,
        ..opts()
    };
    let s = script(&cfg("masqLinkLocal: true", &v6()), &o);
    assert!(!s.contains("169.254.0.0/16") && s.contains("ip6 daddr fe80::/10 return"));
    let s = script(&cfg("masqLinkLocalIPv6: true", &v6()), &o);
    assert!(s.contains("ip daddr 169.254.0.0/16 return") && !s.contains("fe80::/10"));
    // Without --enable-ipv6 there is no IPv6 set or rule, only the IPv6 return.
    let s = script(&cfg("", &ParseOptions::default()), &opts());
    assert!(!s.contains("fe80") && !s.contains(SET_V6) && s.contains("meta nfproto ipv6 return"));
    let s = script(&cfg("", &v6()), &o);
    assert!(!s.contains("meta nfproto ipv6") && s.contains("set nomasq-v6 {"));
}

#[test]
fn nft_to_ports_two_ranges_random_fully() {
    let c = Config::defaults(&ParseOptions::default());
    let s = script(
        &c,
        &RuleOptions {
            to_ports: parse_to_ports("1024-29999,32768-65535").unwrap(),
            ..opts()
        },
    );
    // 28976 / (28976 + 32768) of the choices go to the first range, as iptables'
    // --probability 0.46928...; the last range takes the rest without a draw.
    assert!(s.contains("\t\tmeta l4proto { tcp, udp, sctp } numgen random mod 61744 < 28976 masquerade to :1024-29999 fully-random comment"), "{s}");
    assert!(
        s.contains(
            "\t\tmeta l4proto { tcp, udp, sctp } masquerade to :32768-65535 fully-random comment"
        ),
        "{s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn nft_to_ports_single_ports_no_random_fully() {
    let c = Config::defaults(&ParseOptions::default());
    let s = script(
        &c,
        &RuleOptions {
            to_ports: parse_to_ports("5000,6000-6001,7000").unwrap(),
            random_fully: false,
            ..opts()
        },
    );
    assert!(!s.contains("fully-random"));
    assert!(s.contains("numgen random mod 4 < 1 masquerade to :5000 comment"));
    assert!(s.contains("numgen random mod 3 < 2 masquerade to :6000-6001 comment"));
    assert!(s.contains("meta l4proto { tcp, udp, sctp } masquerade to :7000 comment"));
    insta::assert_snapshot!(s);
}

#[test]
fn one_range_has_no_draw() {
    let c = Config::defaults(&ParseOptions::default());
    let s = script(
        &c,
        &RuleOptions {
            to_ports: parse_to_ports("2000-2999").unwrap(),
            ..opts()
        },
    );
    assert!(!s.contains("numgen"));
    let masq: Vec<&str> = s.lines().filter(|l| l.contains("masquerade")).collect();
    assert_eq!(masq.len(), 2, "{s}");
    assert!(masq[0]
        .starts_with("\t\tmeta l4proto { tcp, udp, sctp } masquerade to :2000-2999 fully-random"));
    assert!(masq[1].starts_with("\t\tmasquerade fully-random comment"));
}

#[test]
fn masq_chain_names_table_and_chain() {
    let c = Config::defaults(&ParseOptions::default());
    let s = script(
        &c,
        &RuleOptions {
            chain: "MY-MASQ".into(),
            ..opts()
        },
    );
    assert!(
        s.starts_with("add table inet MY-MASQ\ndelete table inet MY-MASQ\ntable inet MY-MASQ {\n")
    );
    assert!(s.contains("\tchain MY-MASQ {\n"));
    assert!(!s.contains("IP-MASQ-AGENT"));
    assert_eq!(table_name("MY-MASQ"), "MY-MASQ");
}

#[test]
fn nft_names() {
    for ok in ["IP-MASQ-AGENT", "MY_MASQ.1", "_X", "aB", "Z"] {
        assert_eq!(validate_nft_name(ok), Ok(()), "{ok}");
    }
    for (bad, why) in [
        ("counter", "upper-case"),
        ("ip-masq", "upper-case"),
        ("1ABC", "start with a letter"),
        ("-X", "start with a letter"),
        ("A$B", "contains '$'"),
        ("A:B", "contains ':'"),
        ("A/B", "contains '/'"),
        ("A@B", "contains '@'"),
        ("", "start with"),
    ] {
        let e = validate_nft_name(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
        assert!(e.contains("--datapath nftables"), "{e}");
    }
}

#[test]
fn overlapping_and_duplicate_cidrs_are_merged() {
    let c = cfg(
        "nonMasqueradeCIDRs: [10.1.0.0/16, 10.0.0.0/8, 10.0.0.0/8, 192.168.1.0/24, 192.168.0.0/24, 172.16.5.5/32, fd00::/8, fd00:1::/32, fd00::/8]",
        &v6(),
    );
    assert_eq!(
        v4_elements(&c)
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        ["10.0.0.0/8", "172.16.5.5/32", "192.168.0.0/23"]
    );
    assert_eq!(
        v6_elements(&c)
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        ["fd00::/8"]
    );
    // Everything: one element each.
    let c = cfg(
        "nonMasqueradeCIDRs: [0.0.0.0/0, 10.0.0.0/8, \"::/0\", fe80::/10]",
        &v6(),
    );
    assert_eq!(v4_elements(&c).len(), 1);
    assert_eq!(v6_elements(&c)[0].to_string(), "::/0");
}

#[test]
fn empty_list_keeps_an_empty_set() {
    let c = cfg("nonMasqueradeCIDRs: []", &ParseOptions::default());
    let s = script(&c, &opts());
    assert!(
        s.contains("\tset nomasq-v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n"),
        "{s}"
    );
    assert!(s.contains("ip daddr @nomasq-v4 return"));
}

#[test]
fn ten_thousand_cidrs_render_one_element_each() {
    let mut text = String::from("cidrLimit: 10000\nnonMasqueradeCIDRs:\n");
    for i in 0..10_000 {
        // Every other /24: nothing to merge.
        text.push_str(&format!("  - 10.{}.{}.0/24\n", i / 128, (i % 128) * 2));
    }
    let c = cfg(&text, &ParseOptions::default());
    let s = script(&c, &opts());
    assert_eq!(
        s.lines().filter(|l| l.starts_with("\t\t\t10.")).count(),
        10_000
    );
}

/// The two in-place transactions as `--dry-run` prints them (the text the daemon applies,
/// one `nft -f -` per transaction), reviewed: transaction 1 never touches the chain,
/// transaction 2 never touches a set's contents, neither deletes anything.
fn transactions(c: &Config, o: &RuleOptions) -> String {
    let s = scripts(c, o);
    assert!(
        !s.sets.contains(" chain ") && !s.sets.contains(" rule "),
        "{}",
        s.sets
    );
    assert!(
        !s.rules.contains(" element ") && !s.rules.contains(" set "),
        "{}",
        s.rules
    );
    assert!(!dry_run(&s).contains("delete"));
    assert_eq!(
        s.replace,
        script(c, o),
        "the fallback is the whole-table script"
    );
    dry_run(&s)
}

#[test]
fn nft_transactions_default_config() {
    let c = Config::defaults(&ParseOptions::default());
    insta::assert_snapshot!(transactions(&c, &opts()));
}

#[test]
fn nft_transactions_ipv6_mixed_list() {
    let c = cfg(
        "nonMasqueradeCIDRs: [10.0.0.0/8, fd00::/8, 2001:db8::/32, 192.168.0.0/16]",
        &v6(),
    );
    let o = RuleOptions {
        ipv6: true,
        ..opts()
    };
    insta::assert_snapshot!(transactions(&c, &o));
}

#[test]
fn nft_transactions_empty_list_and_link_local() {
    // Empty sets are still created and flushed (no `add element`: nft refuses `{ }`).
    let c = cfg(
        "nonMasqueradeCIDRs: []\nmasqLinkLocal: true\nmasqLinkLocalIPv6: true",
        &v6(),
    );
    let o = RuleOptions {
        ipv6: true,
        ..opts()
    };
    let t = transactions(&c, &o);
    assert!(!t.contains("add element"), "{t}");
    insta::assert_snapshot!(t);
}

#[test]
fn nft_transactions_to_ports_masq_chain() {
    let c = cfg(
        "nonMasqueradeCIDRs: [100.64.0.0/10]",
        &ParseOptions::default(),
    );
    let o = RuleOptions {
        chain: "MY-MASQ".into(),
        to_ports: parse_to_ports("1024-29999,32768-65535").unwrap(),
        random_fully: false,
        ..opts()
    };
    insta::assert_snapshot!(transactions(&c, &o));
}

#[test]
fn scripts_expect_what_the_transactions_leave() {
    let c = cfg(
        "nonMasqueradeCIDRs: [10.0.0.0/8, 10.1.0.0/16, fd00::/8]",
        &v6(),
    );
    let o = RuleOptions {
        ipv6: true,
        ..opts()
    };
    let s = scripts(&c, &o);
    assert_eq!(s.expect.table, "IP-MASQ-AGENT");
    assert_eq!(s.expect.chain, "IP-MASQ-AGENT");
    assert_eq!(
        s.expect.sets,
        [
            ("nomasq-v4".to_string(), vec!["10.0.0.0/8".to_string()]),
            ("nomasq-v6".to_string(), vec!["fd00::/8".to_string()]),
        ]
    );
    assert_eq!(s.expect.rules, s.rules.matches("\nadd rule ").count());
}
