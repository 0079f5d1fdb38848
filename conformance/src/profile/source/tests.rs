//! Config sources: file and adapter rendering, and the errors of bad shapes.

use super::*;

fn adapter(text: &str) -> Adapter {
    serde_saphyr::from_str(text).unwrap()
}

/// `{nonMasqueradeCIDRs: [10.0.0.0/8, fd00::/8], masqLinkLocal: true}`.
fn two_cidrs_and_link_local() -> ConfigValues {
    ConfigValues {
        non_masquerade_cidrs: Some(vec!["10.0.0.0/8".into(), "fd00::/8".into()]),
        masq_link_local: Some(true),
        ..Default::default()
    }
}

#[test]
fn files_of_the_implementations_own_format() {
    let a = adapter(
        "files:\n - {name: cidrs.txt, content: \"{nonMasqueradeCIDRs}\\n\", join: \"\\n\"}\n - {name: link-local, content: \"on\", when: masqLinkLocal}\n",
    );
    a.check().unwrap();
    let r = a.render(&two_cidrs_and_link_local()).unwrap();
    assert!(r.flags.is_empty() && r.env.is_empty());
    assert_eq!(
        r.files,
        [
            (
                "cidrs.txt".to_string(),
                "10.0.0.0/8\nfd00::/8\n".to_string()
            ),
            ("link-local".to_string(), "on".to_string())
        ]
    );
    // The key left out, the boolean false: no file (the implementation's default).
    let r = a.render(&ConfigValues::default()).unwrap();
    assert!(r.files.is_empty(), "{r:?}");
    let empty = ConfigValues {
        non_masquerade_cidrs: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(
        a.render(&empty).unwrap().files,
        [("cidrs.txt".to_string(), "\n".to_string())]
    );
    assert_eq!(
        a.rendered_keys(),
        [ConfigKey::NonMasqueradeCidrs, ConfigKey::MasqLinkLocal]
    );
}

#[test]
fn kindnet_style_flags_and_env() {
    let a = adapter(
        "flags:\n - {flag: \"--no-masquerade-cidr={item}\", each: nonMasqueradeCIDRs, if_empty: \"--no-masquerade-cidr=\"}\n - {flag: --masq-link-local, when: masqLinkLocal}\n - {flag: \"--resync={resyncInterval}\"}\nenv:\n - {name: CIDRS, value: \"{nonMasqueradeCIDRs}\", join: \" \"}\n",
    );
    a.check().unwrap();
    let r = a.render(&two_cidrs_and_link_local()).unwrap();
    assert_eq!(
        r.flags,
        [
            "--no-masquerade-cidr=10.0.0.0/8",
            "--no-masquerade-cidr=fd00::/8",
            "--masq-link-local"
        ]
    );
    assert_eq!(
        r.env,
        [("CIDRS".to_string(), "10.0.0.0/8 fd00::/8".to_string())]
    );
    let empty = ConfigValues {
        non_masquerade_cidrs: Some(vec![]),
        resync_interval: Some("1s".into()),
        ..Default::default()
    };
    let r = a.render(&empty).unwrap();
    assert_eq!(r.flags, ["--no-masquerade-cidr=", "--resync=1s"]);
    assert_eq!(
        a.render(&ConfigValues::default()).unwrap().flags,
        Vec::<String>::new()
    );
    assert_eq!(
        a.rendered_keys(),
        [
            ConfigKey::NonMasqueradeCidrs,
            ConfigKey::MasqLinkLocal,
            ConfigKey::ResyncInterval
        ]
    );
    let no_empty = adapter("flags: [{flag: \"-c {item}\", each: nonMasqueradeCIDRs}]");
    let err = no_empty.render(&empty).unwrap_err();
    assert!(err.contains("cannot express"), "{err}");
    let braces = adapter("flags: [{flag: \"{{x}}={cidrLimit}\"}]");
    let r = braces.render(&ConfigValues {
        cidr_limit: Some(3),
        ..Default::default()
    });
    assert_eq!(r.unwrap().flags, ["{x}=3"]);
}

#[test]
fn bad_templates_are_named() {
    for (text, needle) in [
        (
            "flags: [{flag: \"--x={cidr}\"}]",
            "flags[0]: flag: \"--x={cidr}\": {cidr} is neither",
        ),
        (
            "flags: [{flag: \"--x={item}\"}]",
            "uses {item} without `each`",
        ),
        (
            "flags: [{flag: x, each: masqLinkLocal}]",
            "each: masqLinkLocal is not a list key",
        ),
        (
            "flags: [{flag: x, when: cidrLimit}]",
            "when: cidrLimit is not a boolean key",
        ),
        ("flags: [{flag: \"a}\"}]", "a lone `}`"),
        (
            "env: [{name: \"A-B\", value: x}]",
            "env[0]: name: \"A-B\" is not",
        ),
        ("env: [{name: PATH, value: x}]", "PATH is set by the runner"),
        (
            "files: [{name: a/b, content: x}]",
            "files[0]: name: \"a/b\" is not a file name",
        ),
        (
            "files: [{name: ..data, content: x}]",
            "files[0]: name: \"..data\" is not a file name",
        ),
        (
            "files: [{name: a, content: x}, {name: a, content: y}]",
            "files[1]: name: \"a\" is named twice",
        ),
        (
            "files: [{name: a, content: \"{item}\"}]",
            "files[0]: content: \"{item}\": {item} is only for flags",
        ),
        (
            "files: [{name: a, content: x, when: cidrLimit}]",
            "files[0]: when: cidrLimit is not a boolean key",
        ),
        ("flags: []", "give `flags`, `env` or `files`"),
    ] {
        let err = adapter(text).check().unwrap_err();
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    assert!(check_cidrs(&["10.0.0.0/33".into()])
        .unwrap_err()
        .contains("\"10.0.0.0/33\""));
    assert!(check_cidrs(&["fd00::/64".into()]).is_ok());
    assert!(check_chain("KIND-MASQ-AGENT").is_ok());
    assert!(check_chain("A B").is_err());
    assert!(check_chain("-j").is_err());
}

#[test]
fn profile_keys_are_checked_naming_file_key_and_value() {
    let load = |body: &str| {
        let text = format!("name: x\ncommand: [x]\n{body}\n");
        super::super::Profile::from_text(std::path::Path::new("p.yaml"), &text)
    };
    for (body, needle) in [
        ("config_source: socket", "socket"),
        (
            "config_source: {adapter: {flags: [{flag: \"--c={cidrs}\"}]}}",
            "p.yaml: config_source: adapter: flags[0]: flag: \"--c={cidrs}\": {cidrs} is neither",
        ),
        (
            "config_source: {adapter: {flags: [{flag: x, colour: red}]}}",
            "colour",
        ),
        (
            "config_source: {adapter: {flags: [{flag: x}]}}\nconfig_files: {merge: [a, b]}",
            "only with `config_source: file`",
        ),
        ("ipv6: sometimes", "sometimes"),
        (
            "default_non_masquerade_cidrs: [10.0.0.0/8, 10.0.0.0]",
            "p.yaml: default_non_masquerade_cidrs: \"10.0.0.0\" is not a CIDR",
        ),
        (
            "chain: \"A B\"",
            "p.yaml: chain: \"A B\" is not an iptables chain name",
        ),
    ] {
        let err = load(body).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    let never = load("ipv6: never").unwrap();
    assert!(!never.supports(crate::vocabulary::Feature::Ipv6));
    assert!(load("ipv6: always")
        .unwrap()
        .supports(crate::vocabulary::Feature::Ipv6));
    let same = load("default_non_masquerade_cidrs: [192.168.0.0/16, 10.0.0.0/8, 172.16.0.0/12]");
    assert_eq!(same.unwrap().other_default_list(), None);
}
