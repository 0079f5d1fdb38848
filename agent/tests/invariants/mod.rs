//! Invariants of the config parser and the rule renderer, shared by the proptest suite
//! (`agent/tests/properties.rs`) and the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`,
//! which include this file with `#[path]`). Every check panics with a message on failure.

#![allow(dead_code)]

use ip_masq_agent::config::{self, Config, ConfigError, ParseOptions, Parsed};
use ip_masq_agent::datapath::iptables::{self as rules, restore_payload};
use ip_masq_agent::datapath::{parse_to_ports, Family, PortRange, RuleOptions, ToPortsError};
use ipnet::IpNet;

/// All four combinations of the flags that change parsing.
pub fn all_parse_options() -> [ParseOptions; 4] {
    let mut out = [ParseOptions::default(); 4];
    for (i, o) in out.iter_mut().enumerate() {
        o.nomasq_all_reserved_ranges = i & 1 != 0;
        o.enable_ipv6 = i & 2 != 0;
    }
    out
}

/// Parses `bytes` under every option combination and checks every outcome; also renders
/// each accepted config for both families and checks the payload.
pub fn check_parse_all(bytes: &[u8]) {
    let results: Vec<_> = all_parse_options()
        .iter()
        .map(|o| (*o, config::parse(bytes, o)))
        .collect();
    for (opts, result) in &results {
        check_parse_result(bytes, opts, result);
        // Pure function: the same input gives the same answer.
        assert_eq!(
            &config::parse(bytes, opts),
            result,
            "parse is not deterministic"
        );
    }
    // Enabling IPv6 only ever turns an error into success, never the reverse, and never
    // changes an accepted config.
    for reserved in [false, true] {
        let find = |v6: bool| {
            results
                .iter()
                .find(|(o, _)| o.nomasq_all_reserved_ranges == reserved && o.enable_ipv6 == v6)
                .map(|(_, r)| r)
                .unwrap()
        };
        if let Ok(p4) = find(false) {
            assert_eq!(
                Ok(p4),
                find(true).as_ref(),
                "--enable-ipv6 changed an accepted config"
            );
        }
    }
}

/// The invariants of one parse outcome.
pub fn check_parse_result(bytes: &[u8], opts: &ParseOptions, result: &Result<Parsed, ConfigError>) {
    match result {
        Err(e) => {
            // Every error renders (and says something).
            assert!(!e.to_string().is_empty());
        }
        Ok(parsed) => {
            check_config(&parsed.config, opts);
            let blank = bytes.iter().all(|b| b.is_ascii_whitespace());
            if blank {
                assert_eq!(
                    parsed.config,
                    Config::defaults(opts),
                    "blank input is not the defaults"
                );
            }
            for family in [Family::V4, Family::V6] {
                let ropts = RuleOptions::default();
                let payload = restore_payload(&parsed.config, family, &ropts);
                check_payload(&payload, &parsed.config, family, &ropts);
            }
        }
    }
}

/// The invariants of an accepted config.
pub fn check_config(c: &Config, opts: &ParseOptions) {
    assert!(
        c.non_masquerade_cidrs.len() as i128 <= i128::from(c.cidr_limit),
        "{} CIDRs exceed cidrLimit {}",
        c.non_masquerade_cidrs.len(),
        c.cidr_limit
    );
    for cidr in &c.non_masquerade_cidrs {
        let reparsed: IpNet = cidr
            .text
            .parse()
            .unwrap_or_else(|e| panic!("accepted CIDR {:?} does not parse: {e}", cidr.text));
        assert_eq!(reparsed, cidr.net, "text and parsed form disagree");
        assert_eq!(
            cidr.net.addr(),
            cidr.net.network(),
            "{:?} is not a network address",
            cidr.text
        );
        assert!(
            opts.enable_ipv6 || matches!(cidr.net, IpNet::V4(_)),
            "IPv6 CIDR {:?} accepted without --enable-ipv6",
            cidr.text
        );
        // The text goes into an iptables-restore line verbatim.
        assert!(
            cidr.text
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b".:/".contains(&b)),
            "CIDR text {:?} has characters unsafe in a rule",
            cidr.text
        );
    }
    // The resync interval is a real Go duration: it prints and re-parses to itself.
    let printed = config::format_go_duration(c.resync_interval_nanos);
    assert_eq!(
        config::parse_go_duration(&printed),
        Ok(c.resync_interval_nanos),
        "resyncInterval {} ns prints as {printed:?}, which does not parse back",
        c.resync_interval_nanos
    );
}

/// The invariants of `parse_to_ports(input)`.
pub fn check_to_ports(input: &str, result: &Result<Vec<PortRange>, ToPortsError>) {
    match result {
        Ok(ranges) => {
            if input.is_empty() {
                assert!(ranges.is_empty());
            } else {
                assert_eq!(ranges.len(), input.split(',').count(), "one range per item");
            }
            for r in ranges {
                assert!(
                    r.first >= 1 && r.first <= r.last,
                    "bad range {r:?} from {input:?}"
                );
                // The printed form parses back to the same range.
                assert_eq!(parse_to_ports(&r.to_string()).as_deref(), Ok(&[*r][..]));
            }
        }
        Err(e) => assert!(e.to_string().contains("--to-ports")),
    }
}

/// The invariants of a restore payload, checked line by line against what the config and
/// options say it must contain.
pub fn check_payload(payload: &str, config: &Config, family: Family, opts: &RuleOptions) {
    let chain = &opts.chain;
    let header = format!("*nat\n:{chain} - [0:0]\n");
    assert!(payload.starts_with(&header), "bad header:\n{payload}");
    assert!(
        payload.ends_with("\nCOMMIT\n"),
        "no COMMIT at the end:\n{payload}"
    );
    let body = &payload[header.len()..payload.len() - "COMMIT\n".len()];
    let lines: Vec<&str> = body.lines().collect();
    let prefix = format!("-A {chain} -m comment --comment \"");
    for l in &lines {
        assert!(
            l.starts_with(&prefix),
            "rule line {l:?} does not append to {chain}"
        );
    }

    // RETURN lines: link-local first (iff not masqueraded), then this family's CIDRs in order.
    let masq_link_local = match family {
        Family::V4 => config.masq_link_local,
        Family::V6 => config.masq_link_local_ipv6,
    };
    let mut want_returns: Vec<&str> = Vec::new();
    if !masq_link_local {
        want_returns.push(family.link_local());
    }
    for c in &config.non_masquerade_cidrs {
        if matches!(
            (family, c.net),
            (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_))
        ) {
            want_returns.push(&c.text);
        }
    }
    let ret_prefix = format!("{prefix}{}\" -d ", rules::LOCAL_COMMENT);
    let got_returns: Vec<&str> = lines
        .iter()
        .take_while(|l| l.ends_with(" -j RETURN"))
        .map(|l| {
            l.strip_prefix(&ret_prefix)
                .and_then(|r| r.strip_suffix(" -j RETURN"))
                .unwrap_or_else(|| panic!("malformed RETURN rule {l:?}"))
        })
        .collect();
    assert_eq!(got_returns, want_returns, "RETURN rules\n{payload}");
    let link_local_lines = got_returns
        .iter()
        .filter(|d| **d == family.link_local())
        .count();
    let link_local_cidrs = want_returns[usize::from(!masq_link_local)..]
        .iter()
        .filter(|d| **d == family.link_local())
        .count();
    assert_eq!(
        link_local_lines,
        usize::from(!masq_link_local) + link_local_cidrs
    );

    // MASQUERADE lines: the to-ports rules, then the plain rule, last.
    let masq_lines = &lines[got_returns.len()..];
    let masq = format!(
        "{prefix}{}\" -j MASQUERADE{}",
        rules::MASQ_COMMENT,
        if opts.random_fully {
            " --random-fully"
        } else {
            ""
        }
    );
    assert_eq!(
        masq_lines.last(),
        Some(&masq.as_str()),
        "last rule is not the MASQUERADE rule"
    );
    let n = opts.to_ports.len();
    assert_eq!(
        masq_lines.len(),
        3 * n + 1,
        "to-ports rule count\n{payload}"
    );
    let sizes: Vec<f64> = opts
        .to_ports
        .iter()
        .map(|r| f64::from(r.last - r.first) + 1.0)
        .collect();
    for (p, proto) in ["tcp", "udp", "sctp"].iter().enumerate() {
        for (i, range) in opts.to_ports.iter().enumerate() {
            let line = masq_lines[p * n + i];
            let rest = line
                .strip_prefix(&masq)
                .and_then(|r| r.strip_prefix(&format!(" -p {proto}")))
                .and_then(|r| r.strip_suffix(&format!(" --to-ports {range}")))
                .unwrap_or_else(|| panic!("malformed to-ports rule {line:?}"));
            if i + 1 == n {
                assert_eq!(rest, "", "the last range has a probability: {line:?}");
                continue;
            }
            let text = rest
                .strip_prefix(" -m statistic --mode random --probability ")
                .unwrap_or_else(|| panic!("no probability in {line:?}"));
            let prob: f64 = text
                .parse()
                .unwrap_or_else(|_| panic!("bad probability {text:?}"));
            assert!(prob > 0.0 && prob <= 1.0, "probability {prob} out of (0,1]");
            // Plain decimal, shortest round-trip form (Go's FormatFloat(p, 'f', -1, 64)).
            assert!(
                text.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
                "{text:?}"
            );
            assert_eq!(format!("{prob}"), text);
            let want = sizes[i] / sizes[i..].iter().sum::<f64>();
            assert!(
                (prob - want).abs() <= 1e-12,
                "probability {prob}, expected {want}"
            );
        }
    }
}
