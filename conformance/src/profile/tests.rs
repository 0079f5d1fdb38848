//! Loading and checking profiles: keys, shapes and the errors that name them.

use super::*;

#[test]
fn expands_environment_and_names_missing_variables() {
    std::env::set_var("MASQ_TEST_BIN", "/opt/agent");
    assert_eq!(expand_env("${MASQ_TEST_BIN}/x").unwrap(), "/opt/agent/x");
    assert_eq!(
        expand_env("${MASQ_TEST_SURELY_UNSET:-target/x}").unwrap(),
        "target/x"
    );
    assert_eq!(expand_env("${MASQ_TEST_BIN:-y}").unwrap(), "/opt/agent");
    let err = expand_env("${MASQ_TEST_SURELY_UNSET}").unwrap_err();
    assert!(err.contains("MASQ_TEST_SURELY_UNSET"), "{err}");
}

#[test]
fn unbounded_or_malformed_values_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (body, needle) in [
        ("resync_period: 99999999999999999999h", "invalid duration"),
        ("resync_period: 2m", "resync_period: 2m exceeds"),
        ("act_within: -1s", "negative"),
        (
            "expected_failures: [{case: x, reason: \"\"}]",
            "reason must say why",
        ),
        (
            "listing_waivers: [{aspect: comments, reason: \" \"}]",
            "reason must say why",
        ),
        ("listing_waivers: [{aspect: colours, reason: r}]", "colours"),
        (
            "expected_failures: [{case: x, reason: r, step: 0}]",
            "expected_failures: x: step: 0 is not a step",
        ),
        (
            "expected_failures: [{case: x, reason: r, message: \"\"}]",
            "expected_failures: x: message: an empty message",
        ),
        (
            "expected_failures: [{case: x, reason: r, cells: [{destination: a, protocol: sctp}]}]",
            "sctp",
        ),
        (
            "expected_failures: [{case: x, reason: r, cells: [{destination: a, colour: red}]}]",
            "expected_failures: x: unknown field `colour`",
        ),
        (
            "expected_failures: [{case: x, reason: r, step: two}]",
            "expected_failures: x: invalid type: string \"two\"",
        ),
        (
            "unstable: [{case: x, reason: \" \"}]",
            "unstable: x: reason must say what varies",
        ),
        ("unstable: [{case: x}]", "reason"),
        ("repeats: 0", "repeats: 0 is not between 1 and 10"),
        ("repeats: 11", "repeats: 11 is not between 1 and 10"),
        ("config_files: {merge: [only-one]}", "two files or more"),
        ("config_files: {merge: [a, ../b]}", "not a file name"),
        (
            "features: {unsupported: [healing]}",
            "healing is a core feature",
        ),
        (
            "features: {unsupported: [to-ports], supported: [to-ports]}",
            "both supported and unsupported",
        ),
        (
            "version: main",
            "version: \"main\" is neither a semantic version",
        ),
        ("version: v1.2", "neither a semantic version"),
        (
            "nftables: {table: inet t}",
            "only applies with `listings: nftables`",
        ),
        (
            "listings: nftables\nnftables: {table: inet}",
            "nftables: table: \"inet\" is not",
        ),
        ("listings: ebpf", "ebpf"),
    ] {
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, format!("name: x\ncommand: [x]\n{body}\n")).unwrap();
        let err = Profile::load(&path).unwrap_err().to_string();
        assert!(err.contains("p.yaml"), "{err}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    for name in ["\"../../etc/passwd\"", "\"[x](http://e)\"", "\"<b>x</b>\""] {
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, format!("name: {name}\ncommand: [x]\n")).unwrap();
        let err = Profile::load(&path).unwrap_err().to_string();
        assert!(err.contains("p.yaml: name: "), "{err}");
        assert!(err.contains("is not an implementation name"), "{err}");
    }
}
