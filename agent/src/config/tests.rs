//! Every key, default, quirk and validation error of the config parser.

use super::*;

fn v4() -> ParseOptions {
    ParseOptions::default()
}

fn v6() -> ParseOptions {
    ParseOptions {
        enable_ipv6: true,
        ..ParseOptions::default()
    }
}

fn ok(text: &str) -> Config {
    parse(text.as_bytes(), &v4())
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .config
}

fn err(text: &str) -> String {
    match parse(text.as_bytes(), &v4()) {
        Ok(p) => panic!("{text:?} parsed: {:?}", p.config),
        Err(e) => e.to_string(),
    }
}

fn cidrs(c: &Config) -> Vec<&str> {
    c.non_masquerade_cidrs
        .iter()
        .map(|c| c.text.as_str())
        .collect()
}

#[test]
fn empty_inputs_give_defaults() {
    for text in [
        "",
        "   \n  \n",
        "# just a comment\n",
        "null",
        "~",
        "---\n",
        "---\n...\n",
    ] {
        let c = ok(text);
        assert_eq!(c, Config::defaults(&v4()), "{text:?}");
    }
    // go-yaml refuses a tab in indentation, even on a blank line (settled against the
    // oracle, tools/reference-parse).
    assert!(err("   \n\t\n").contains("cannot start any token"));
    let d = Config::defaults(&v4());
    assert_eq!(cidrs(&d), ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
    assert_eq!(d.cidr_limit, 64);
    assert!(!d.masq_link_local);
    assert!(!d.masq_link_local_ipv6);
    assert_eq!(d.resync_interval_nanos, 60_000_000_000);
}

#[test]
fn reserved_ranges_default() {
    let opts = ParseOptions {
        nomasq_all_reserved_ranges: true,
        ..v4()
    };
    let c = parse(b"", &opts).unwrap().config;
    assert_eq!(cidrs(&c), RESERVED_NON_MASQ_CIDRS);
    assert_eq!(c.non_masquerade_cidrs.len(), 11);
    // Only when the config does not set the list.
    let c = parse(b"nonMasqueradeCIDRs: [1.0.0.0/8]", &opts)
        .unwrap()
        .config;
    assert_eq!(cidrs(&c), ["1.0.0.0/8"]);
}

#[test]
fn every_key_yaml() {
    let c = ok("nonMasqueradeCIDRs:\n  - 1.0.0.0/8\n  - 2.2.0.0/16\ncidrLimit: 5\nmasqLinkLocal: true\nmasqLinkLocalIPv6: true\nresyncInterval: 1m30s\n");
    assert_eq!(cidrs(&c), ["1.0.0.0/8", "2.2.0.0/16"]);
    assert_eq!(c.cidr_limit, 5);
    assert!(c.masq_link_local);
    assert!(c.masq_link_local_ipv6);
    assert_eq!(c.resync_interval_nanos, 90_000_000_000);
}

#[test]
fn every_key_json() {
    let c = ok(
        r#"  {"nonMasqueradeCIDRs": ["1.0.0.0/8"], "cidrLimit": 1, "masqLinkLocal": true, "masqLinkLocalIPv6": false, "resyncInterval": "500ms"}"#,
    );
    assert_eq!(cidrs(&c), ["1.0.0.0/8"]);
    assert_eq!(c.cidr_limit, 1);
    assert!(c.masq_link_local);
    assert_eq!(c.resync_interval_nanos, 500_000_000);
}

#[test]
fn present_key_replaces_default() {
    assert!(ok("nonMasqueradeCIDRs: []").non_masquerade_cidrs.is_empty());
    assert!(ok(r#"{"nonMasqueradeCIDRs": []}"#)
        .non_masquerade_cidrs
        .is_empty());
    // Go's decoder sets a slice to nil on null, but leaves scalars alone.
    assert!(ok("nonMasqueradeCIDRs:").non_masquerade_cidrs.is_empty());
    assert_eq!(ok("cidrLimit: null").cidr_limit, 64);
    assert!(!ok("masqLinkLocal: ~").masq_link_local);
}

#[test]
fn keys_are_case_insensitive() {
    let c = ok("NonMasqueradeCIDRs: [1.0.0.0/8]\nCIDRLIMIT: 3\nmasqlinklocal: true\nMASQLINKLOCALIPV6: yes\nResyncInterval: 2h\n");
    assert_eq!(cidrs(&c), ["1.0.0.0/8"]);
    assert_eq!(c.cidr_limit, 3);
    assert!(c.masq_link_local && c.masq_link_local_ipv6);
    assert_eq!(c.resync_interval_nanos, 7_200_000_000_000);
}

#[test]
fn unknown_keys_are_warnings() {
    let p = parse(b"foo: 1\nmasqLinkLocal: true\nbar: [x]\n", &v4()).unwrap();
    assert!(p.config.masq_link_local);
    assert_eq!(
        p.warnings,
        [
            r#"unknown key "bar" ignored"#,
            r#"unknown key "foo" ignored"#
        ]
    );
}

#[test]
fn duplicate_keys_last_wins() {
    assert_eq!(ok("cidrLimit: 1\ncidrLimit: 7\n").cidr_limit, 7);
    assert_eq!(ok(r#"{"cidrLimit": 1, "cidrLimit": 7}"#).cidr_limit, 7);
    // JSON: document order decides between case variants.
    assert_eq!(ok(r#"{"cidrLimit": 1, "CIDRLimit": 7}"#).cidr_limit, 7);
    assert_eq!(ok(r#"{"CIDRLimit": 7, "cidrLimit": 5}"#).cidr_limit, 5);
    // YAML goes through a Go map re-marshalled with sorted keys: lowercase sorts last.
    assert_eq!(ok("cidrLimit: 5\nCIDRLimit: 7\n").cidr_limit, 5);
    assert_eq!(
        cidrs(&ok(
            "nonMasqueradeCIDRs: [1.0.0.0/8]\nnonMasqueradeCIDRs: [2.0.0.0/8]\n"
        )),
        ["2.0.0.0/8"]
    );
}

#[test]
fn yaml_1_1_booleans() {
    for t in [
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
    ] {
        assert!(ok(&format!("masqLinkLocal: {t}")).masq_link_local, "{t}");
    }
    for f in [
        "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
    ] {
        let c = ok(&format!("masqLinkLocal: true\nmasqLinkLocal: {f}"));
        assert!(!c.masq_link_local, "{f}");
    }
}

#[test]
fn quoted_bool_is_an_error() {
    assert_eq!(
        err(r#"masqLinkLocal: "true""#),
        r#"masqLinkLocal: "true" is a string, expected a boolean (true or false, unquoted)"#
    );
    assert_eq!(
        err("masqLinkLocal: 'yes'"),
        r#"masqLinkLocal: "yes" is a string, expected a boolean (true or false, unquoted)"#
    );
    assert_eq!(
        err(r#"{"masqLinkLocalIPv6": "false"}"#),
        r#"masqLinkLocalIPv6: "false" is a string, expected a boolean (true or false, unquoted)"#
    );
    assert_eq!(
        err("masqLinkLocal: 1"),
        "masqLinkLocal: 1 is a number, expected a boolean (true or false, unquoted)"
    );
}

#[test]
fn durations() {
    let cases = [
        ("500ms", 500_000_000),
        ("30s", 30_000_000_000),
        ("1m30s", 90_000_000_000),
        ("2h", 7_200_000_000_000),
        ("1.5s", 1_500_000_000),
        (".5s", 500_000_000),
        ("1h2m3s4ms5us6ns", 3_723_004_005_006),
        ("1µs", 1_000),
        ("0", 0),
        ("-1s", -1_000_000_000),
        ("+3s", 3_000_000_000),
        ("0s", 0),
    ];
    for (text, nanos) in cases {
        assert_eq!(parse_go_duration(text), Ok(nanos), "{text}");
        assert_eq!(
            ok(&format!("resyncInterval: {text:?}")).resync_interval_nanos,
            nanos
        );
    }
    for bad in ["", "30", "s", "1x", "1.s.", "3 s", "-", "9999999999h"] {
        assert!(parse_go_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn duration_errors() {
    assert_eq!(
        err("resyncInterval: 30"),
        r#"resyncInterval: 30 is not a duration string (use e.g. "30s")"#
    );
    assert_eq!(
        err(r#"{"resyncInterval": 30}"#),
        r#"resyncInterval: 30 is not a duration string (use e.g. "30s")"#
    );
    assert_eq!(
        err("resyncInterval: 10 parsecs"),
        r#"resyncInterval: "10 parsecs" is not a valid duration: unknown unit " parsecs" (use ns, us, ms, s, m, h) (use e.g. "30s", "1m30s", "500ms")"#
    );
    assert_eq!(
        err("resyncInterval: \"30\""),
        r#"resyncInterval: "30" is not a valid duration: missing unit (ns, us, ms, s, m, h) (use e.g. "30s", "1m30s", "500ms")"#
    );
    assert!(err("resyncInterval:").starts_with("resyncInterval: \"\" is not a valid duration"));
}

#[test]
fn format_durations() {
    assert_eq!(format_go_duration(60_000_000_000), "1m0s");
    assert_eq!(format_go_duration(90_000_000_000), "1m30s");
    assert_eq!(format_go_duration(500_000_000), "500ms");
    assert_eq!(format_go_duration(1_500_000_000), "1.5s");
    assert_eq!(format_go_duration(0), "0s");
    assert_eq!(format_go_duration(-1_000_000_000), "-1s");
    assert_eq!(format_go_duration(7_200_000_000_000), "2h0m0s");
}

#[test]
fn wrong_types() {
    assert_eq!(
        err("nonMasqueradeCIDRs: 10.0.0.0/8"),
        r#"nonMasqueradeCIDRs: "10.0.0.0/8" is a string, expected a list of CIDR strings"#
    );
    assert_eq!(
        err("nonMasqueradeCIDRs: {a: b}"),
        "nonMasqueradeCIDRs: a mapping is a mapping, expected a list of CIDR strings"
    );
    assert_eq!(
        err("nonMasqueradeCIDRs: [[10.0.0.0/8]]"),
        "nonMasqueradeCIDRs[0]: a list is a list, expected a CIDR string"
    );
    assert_eq!(
        err("cidrLimit: ten"),
        r#"cidrLimit: "ten" is a string, expected an integer"#
    );
    assert_eq!(
        err("cidrLimit: 1.5"),
        "cidrLimit: 1.5 is a number, expected an integer"
    );
    assert_eq!(
        err(r#"{"cidrLimit": 5.0}"#),
        "cidrLimit: 5 is a number, expected an integer"
    );
    // YAML floats go through Go's shortest formatting first: 5.0 arrives as 5.
    assert_eq!(ok("cidrLimit: 5.0").cidr_limit, 5);
    assert_eq!(ok("cidrLimit: 0x10").cidr_limit, 16);
    assert_eq!(
        err("- a\n- b"),
        "config must be a mapping of keys to values, found a list"
    );
    assert_eq!(
        err("just a string"),
        "config must be a mapping of keys to values, found a string"
    );
    assert_eq!(
        err("[1]"),
        "config must be a mapping of keys to values, found a list"
    );
}

#[test]
fn cidr_validation() {
    assert_eq!(
        err("nonMasqueradeCIDRs: [10.0.0.0/8, 10.0.0.1/8]"),
        r#"nonMasqueradeCIDRs[1]: "10.0.0.1/8" is not a network address (did you mean 10.0.0.0/8?)"#
    );
    assert_eq!(
        err("nonMasqueradeCIDRs: [10.0.0.0/33]"),
        r#"nonMasqueradeCIDRs[0]: "10.0.0.0/33" is not a valid CIDR: prefix length 33 is larger than 32"#
    );
    assert_eq!(
        err("nonMasqueradeCIDRs: [banana]"),
        r#"nonMasqueradeCIDRs[0]: "banana" is not a valid CIDR: missing /prefix-length"#
    );
    assert_eq!(
        err("nonMasqueradeCIDRs: [10.0.0.0]"),
        r#"nonMasqueradeCIDRs[0]: "10.0.0.0" is not a valid CIDR: missing /prefix-length"#
    );
    assert_eq!(
        err("nonMasqueradeCIDRs: [' 10.0.0.0/8']"),
        r#"nonMasqueradeCIDRs[0]: " 10.0.0.0/8" is not a valid CIDR: " 10.0.0.0" is not an IP address"#
    );
    assert_eq!(
        err("nonMasqueradeCIDRs: [fd00::/8]"),
        r#"nonMasqueradeCIDRs[0]: "fd00::/8" is an IPv6 CIDR but IPv6 is not enabled (--enable-ipv6)"#
    );
    assert_eq!(
        err("nonMasqueradeCIDRs: [10]"),
        "nonMasqueradeCIDRs[0]: 10 is a number, expected a CIDR string"
    );
    let p = parse(b"nonMasqueradeCIDRs: [fd00::/8, 10.0.0.0/8]", &v6()).unwrap();
    assert_eq!(cidrs(&p.config), ["fd00::/8", "10.0.0.0/8"]);
    assert_eq!(
        parse(b"nonMasqueradeCIDRs: [fd00::1/8]", &v6())
            .unwrap_err()
            .to_string(),
        r#"nonMasqueradeCIDRs[0]: "fd00::1/8" is not a network address (did you mean fd00::/8?)"#
    );
}

#[test]
fn duplicates_accepted() {
    assert_eq!(
        cidrs(&ok("nonMasqueradeCIDRs: [10.0.0.0/8, 10.0.0.0/8]")),
        ["10.0.0.0/8", "10.0.0.0/8"]
    );
}

#[test]
fn cidr_limit() {
    assert_eq!(
        err("cidrLimit: 2\nnonMasqueradeCIDRs: [1.0.0.0/8, 2.0.0.0/8, 3.0.0.0/8]"),
        "cidrLimit: 3 entries in nonMasqueradeCIDRs exceed cidrLimit 2"
    );
    ok("cidrLimit: 3\nnonMasqueradeCIDRs: [1.0.0.0/8, 2.0.0.0/8, 3.0.0.0/8]");
    // The default list counts too.
    assert_eq!(
        err("cidrLimit: 2"),
        "cidrLimit: 3 entries in nonMasqueradeCIDRs exceed cidrLimit 2"
    );
    ok("cidrLimit: 0\nnonMasqueradeCIDRs: []");
    let many: Vec<String> = (0..65).map(|i| format!("10.{i}.0.0/16")).collect();
    assert_eq!(
        err(&format!("nonMasqueradeCIDRs: [{}]", many.join(", "))),
        "cidrLimit: 65 entries in nonMasqueradeCIDRs exceed cidrLimit 64"
    );
}

#[test]
fn syntax_errors_carry_position() {
    let e = err("masqLinkLocal: true\n  bad: [unclosed\n");
    assert!(e.starts_with("YAML syntax error at line "), "{e}");
    let e = err("a: b\nc: [1, 2\n");
    assert!(
        e.starts_with("YAML syntax error at line 3")
            || e.starts_with("YAML syntax error at line 2"),
        "{e}"
    );
    assert_eq!(
        err("{\"cidrLimit\": 1,\n}"),
        "JSON syntax error at line 2, column 1: trailing comma"
    );
    assert_eq!(
        err("{ nope"),
        "JSON syntax error at line 1, column 3: key must be a string"
    );
}

#[test]
fn binary_junk_and_big_input() {
    let e = parse(&[0x00, 0xff, 0xfe, 0x80, 0x01], &v4()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config is not valid UTF-8 (first bad byte at offset 1)"
    );
    // 10 MB of junk: a clear error, quickly.
    let junk: Vec<u8> = (0..10_000_000u32)
        .map(|i| b"a: [{\"\n"[(i % 7) as usize])
        .collect();
    let start = std::time::Instant::now();
    assert!(parse(&junk, &v4()).is_err());
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    // Deep nesting must not overflow the stack.
    let deep = "[".repeat(200_000);
    assert!(parse(deep.as_bytes(), &v4()).is_err());
    let deep_json = format!("{{\"a\": {}", "[".repeat(200_000));
    assert!(parse(deep_json.as_bytes(), &v4()).is_err());
}

#[test]
fn anchors_and_multiple_documents() {
    let c = ok("x: &l [1.0.0.0/8]\nnonMasqueradeCIDRs: *l\n");
    assert_eq!(cidrs(&c), ["1.0.0.0/8"]);
    // Only the first document counts.
    assert_eq!(ok("cidrLimit: 3\n---\ncidrLimit: 4\n").cidr_limit, 3);
}

#[test]
fn signs_only_lead_an_integer() {
    // Go's strconv.ParseInt (which go-yaml uses) allows a sign only in front, so these
    // are strings, and a string is not a cidrLimit. `-0-2000…` (octal -2^127 after a second
    // sign) used to overflow the negation: a panic in debug builds.
    let min_octal = format!("-0-2{}", "0".repeat(42));
    for v in ["0x-5", "0-5", "0b-1", "-0x-5", "+0+7", min_octal.as_str()] {
        let e = err(&format!("cidrLimit: {v}\nnonMasqueradeCIDRs: []"));
        assert!(e.contains("is a string, expected an integer"), "{v}: {e}");
    }
    assert_eq!(
        err("cidrLimit: -0x5\nnonMasqueradeCIDRs: []"),
        "cidrLimit: 0 entries in nonMasqueradeCIDRs exceed cidrLimit -5"
    );
    assert_eq!(ok("cidrLimit: +017\nnonMasqueradeCIDRs: []").cidr_limit, 15);
}

#[test]
fn alias_expansion_is_bounded() {
    // "Billion laughs": each level repeats the previous one 9 times; ten levels would
    // expand to 9^10 nodes. go-yaml rejects excessive aliasing; so must we, quickly.
    let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        doc.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let start = std::time::Instant::now();
    let e = err(&doc);
    assert!(e.contains("excessive aliasing"), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

/// Go's `net.ParseCIDR` (1.17+), settled against the oracle (tools/reference-parse):
/// leading zeros in an octet are refused, in the prefix accepted; no sign, no zone; an
/// IPv4-mapped IPv6 CIDR is IPv4. Rules carry the parsed network, never the text.
#[test]
fn cidrs_parse_as_go_does() {
    for bad in [
        "010.0.0.0/8",
        "10.0.0.00/8",
        "10.0.0.0/+8",
        "10.0.0.0/-8",
        "10.0.0.0/",
        "10.0.0.0/ 8",
        "10.0.0.0/8 ",
        "fe80::%eth0/64",
        "::ffff:010.0.0.0/104",
        "10.0.0.0/0x8",
        "10.0.0.0/99999999999999999999",
    ] {
        let e = err(&format!("nonMasqueradeCIDRs: [{bad:?}]"));
        assert!(e.contains("is not a valid CIDR"), "{bad}: {e}");
    }
    let c = ok("nonMasqueradeCIDRs: [10.0.0.0/08, 10.0.0.0/0008, 0.0.0.0/0]");
    let nets: Vec<String> = c
        .non_masquerade_cidrs
        .iter()
        .map(|c| c.net.to_string())
        .collect();
    assert_eq!(nets, ["10.0.0.0/8", "10.0.0.0/8", "0.0.0.0/0"]);
    // IPv4-mapped: IPv4 for the reference; accepted without --enable-ipv6.
    let c = ok("nonMasqueradeCIDRs: ['::ffff:10.0.0.0/104', '::ffff:0.0.0.0/96']");
    let nets: Vec<String> = c
        .non_masquerade_cidrs
        .iter()
        .map(|c| c.net.to_string())
        .collect();
    assert_eq!(nets, ["10.0.0.0/8", "0.0.0.0/0"]);
    assert!(err("nonMasqueradeCIDRs: ['::ffff:10.0.0.1/104']").contains("not a network address"));
    assert!(err("nonMasqueradeCIDRs: ['::ffff:10.0.0.0/80']").contains("not a network address"));
    // IPv4-compatible (not mapped) stays IPv6.
    assert!(err("nonMasqueradeCIDRs: ['::10.0.0.0/104']").contains("IPv6 is not enabled"));
    // Uppercase IPv6 is written in canonical form.
    let p = parse(b"nonMasqueradeCIDRs: ['FD00:0::/8']", &v6()).unwrap();
    assert_eq!(p.config.non_masquerade_cidrs[0].net.to_string(), "fd00::/8");
}

/// Long bad values are cut in messages; many unknown keys give a bounded warning list.
#[test]
fn long_values_are_cut_in_messages() {
    let long = "9".repeat(1_000_000);
    for text in [
        format!("nonMasqueradeCIDRs: ['{long}']"),
        format!("nonMasqueradeCIDRs: ['10.0.0.0/{long}']"),
        format!("nonMasqueradeCIDRs: ['{long}/8']"),
        format!("resyncInterval: '{long}x'"),
        format!("resyncInterval: '1{long}'"),
        format!("masqLinkLocal: '{long}'"),
        format!("cidrLimit: '{long}'"),
    ] {
        let e = err(&text);
        assert!(e.len() < 400, "{} chars: {}", e.len(), &e[..200]);
    }
    // Plain YAML keys are limited to 1024 characters; 500 is long enough to be cut.
    let key = "k".repeat(500);
    let many: String = (0..50).map(|i| format!("{key}{i}: 1\n")).collect();
    let p = parse(many.as_bytes(), &v4()).unwrap();
    assert_eq!(p.warnings.len(), 11);
    assert!(p.warnings.iter().all(|w| w.len() < 200));
    assert_eq!(p.warnings[10], "40 more unknown keys ignored");
}

/// Anchors nested in anchors, none aliased: 50 KB once cost 319 MB (each anchor kept a
/// copy of its subtree). Only aliased anchors are kept now; this one parses as the list
/// it is (and, aliased, is bounded like any alias).
#[test]
fn nested_anchors_cost_nothing_unless_aliased() {
    let depth = 200;
    let opens: String = (0..depth).map(|i| format!("&a{i} [")).collect();
    let closes = "]".repeat(depth);
    let items = vec!["x"; 25_000].join(",");
    let doc = format!("k: {opens}{items}{closes}\n");
    let p = parse(doc.as_bytes(), &v4()).unwrap();
    assert_eq!(p.warnings, [r#"unknown key "k" ignored"#]);
    let aliased = format!("k: {opens}{items}{closes}\nj: [*a0, *a1, *a2, *a3, *a4]\n");
    assert!(err(&aliased).contains("excessive aliasing"));
}

/// Every config's cost is bounded: more than a million values is refused (a config with
/// 100,000 CIDRs has 100,001).
#[test]
fn more_than_a_million_values_is_refused() {
    let doc = format!("k: [{}]\n", vec!["1"; 1_000_001].join(","));
    let e = err(&doc);
    assert!(e.contains("more than 1000000 values"), "{e}");
}
