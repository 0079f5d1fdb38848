//! Self-tests of profiles that reach more implementations (`config_source: adapter`,
//! `ipv6: always`): an implementation configured only by flags (masq-flags-agent, on the
//! in-tree agent) passes through its adapter (flags, environment, a file of its own
//! format) for the right reason, the cases that cannot
//! apply to it say why, and one that ignores a flag fails the case about that flag.

use crate::common::{success_and_text, suite_command, workspace, write_profile, Group};

/// The example profile's text, with `extra` flags added to its command.
fn example_with(extra: &[&str]) -> String {
    let path = workspace().join("conformance/implementations/flags-only-example.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let flags: String = extra.iter().map(|f| format!("  - {f}\n")).collect();
    text.replacen("  - --v=2\n", &format!("  - --v=2\n{flags}"), 1)
}

fn run(profile_text: &str, name: &str, cases: &[&str]) -> (bool, String) {
    let profile = write_profile(name, profile_text);
    let out = suite_command(&profile)
        .env("MASQ_FLAGS_AGENT", env!("CARGO_BIN_EXE_masq-flags-agent"))
        .args(["--backend", "legacy", "--exact"])
        .args(cases)
        .output()
        .unwrap();
    std::fs::remove_file(profile).unwrap();
    success_and_text(&out)
}

/// Config changes reach it as restarts with new flags (a list, an empty list, a boolean,
/// a changed list), it heals and keeps its rules through a failing tool; IPv6 cases pass
/// without `--enable-ipv6`. The cases about a file, a bad value or IPv6 being off are not
/// applicable, each with its reason.
fn the_flags_only_example_passes_through_its_adapter() {
    let (ok, out) = run(
        &example_with(&[]),
        "flags-only",
        &[
            "masq-link-local-true::legacy",
            "non-masquerade-cidrs-empty::legacy",
            "config-change-at-next-resync::legacy",
            "config-removed-reverts-to-defaults::legacy",
            "tamper-flush-chain-healed::legacy",
            "fault-restore-failing::legacy",
            "ipv6-dual-stack::legacy",
            "bad-cidr-after-good::legacy",
            "config-directory-after-good::legacy",
            "key-case-insensitive::legacy",
            "ipv6-cidr-without-enable-ipv6-at-start::legacy",
            "fault-config-flapping::legacy",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("masq-flags-agent: 7 passed, 0 failed, 0 known failures (counted as ignored above), 0 unsupported, 5 not applicable"),
        "{out}"
    );
    for reason in [
        "not applicable: step 5: it publishes a bad config (invalid CIDR address: 10.0.0.0/33): through an adapter a bad value is never rolled out",
        "not applicable: step 5: it publishes a config that is a directory: an adapter source has no file that could be one",
        "not applicable: its point is how a config file is read (parsing-quirks)",
        "not applicable: its point is IPv6 without --enable-ipv6, and masq-flags-agent always does IPv6 (ipv6: always)",
        "not applicable: it flaps a config file, and an adapter source has none",
    ] {
        assert!(out.contains(reason), "{reason:?} not in:\n{out}");
    }
}

/// It drops `--masq-link-local`: the case about that key fails at its snapshot (the
/// link-local cells), and a case that does not use the flag still passes.
fn a_flags_only_agent_that_ignores_a_flag_fails_the_right_case() {
    let (ok, out) = run(
        &example_with(&["--ignore-flag=masq-link-local"]),
        "ignores-flag",
        &[
            "masq-link-local-true::legacy",
            "docs-example-config::legacy",
        ],
    );
    assert!(
        !ok,
        "the suite passed an agent that ignores --masq-link-local:\n{out}"
    );
    assert!(
        out.contains("masq-flags-agent: 1 passed, 1 failed"),
        "{out}"
    );
    assert!(
        out.contains("masq-link-local-true on legacy: step 4 (snapshot): link-local"),
        "{out}"
    );
}

/// `masqLinkLocal` through the environment (`MASQ_LINK_LOCAL=true`) instead of a flag:
/// the case about the key passes, so the variable reached it (without it the case fails,
/// as the flag-ignoring agent shows).
fn masq_link_local_reaches_it_through_the_environment() {
    let text = example_with(&[]).replace(
        "      - {flag: --masq-link-local, when: masqLinkLocal}\n",
        "",
    );
    let env = "    env:\n      - {name: MASQ_LINK_LOCAL, value: \"true\", when: masqLinkLocal}\n";
    let text = text.replacen(
        "      - {flag: \"--resync-interval={resyncInterval}\"}\n",
        &format!("      - {{flag: \"--resync-interval={{resyncInterval}}\"}}\n{env}"),
        1,
    );
    assert!(
        text.contains("MASQ_LINK_LOCAL") && !text.contains("flag: --masq-link-local,"),
        "{text}"
    );
    let (ok, out) = run(
        &text,
        "env-configured",
        &[
            "masq-link-local-true::legacy",
            "range-edges-link-local::legacy",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("masq-flags-agent: 2 passed, 0 failed"),
        "{out}"
    );
}

/// With `ipv6: always`, a case without `--enable-ipv6` does not hold it to the
/// reference's IPv6 cells (it masquerades IPv6 there), in the judgement and in outcome
/// readiness alike; its IPv4 cells still bind.
fn ipv6_always_leaves_the_ipv6_cells_of_ipv4_cases_unbound() {
    let text = format!(
        "{}readiness: outcomes\nrule_listings: waived\n",
        example_with(&[])
    );
    let (ok, out) = run(
        &text,
        "always-outcomes",
        &["default-no-config::legacy", "ipv6-dual-stack::legacy"],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("masq-flags-agent: 2 passed, 0 failed"),
        "{out}"
    );
    // Its IPv4 cells bind: ignoring the list's flags fails the case.
    let text = format!(
        "{}readiness: outcomes\nrule_listings: waived\n",
        example_with(&["--ignore-flag=no-masquerade-cidr"])
    );
    let (ok, out) = run(&text, "always-ignores", &["docs-example-config::legacy"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("masq-flags-agent: 0 passed, 1 failed"),
        "{out}"
    );
    // Its IPv4 rows never show what the snapshot expects: the readiness wait says so.
    assert!(
        out.contains("docs-example-config on legacy: step 2 (wait): timed out")
            && out.contains("waiting for the outcome table the snapshot expects"),
        "{out}"
    );
}

/// It keeps a chain of its own (FLAGS-MASQ): with `chain:` in the profile, readiness,
/// the listings (compared with the snapshot's chain name in its place) and the tamper
/// steps follow it; without, `wait: rules` looks for IP-MASQ-AGENT and fails.
fn the_profile_chain_is_the_one_waited_for_listed_and_damaged() {
    let with_chain = example_with(&["--default-chain=FLAGS-MASQ"]);
    let cases = [
        "docs-default-rules::legacy",
        "tamper-delete-chain-healed::legacy",
        "flag-masq-chain::legacy",
    ];
    let (ok, out) = run(
        &format!("{with_chain}chain: FLAGS-MASQ\n"),
        "own-chain",
        &cases,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("masq-flags-agent: 3 passed, 0 failed"),
        "{out}"
    );
    let (ok, out) = run(&with_chain, "chain-unsaid", &cases[..1]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("chain IP-MASQ-AGENT with a MASQUERADE rule and a POSTROUTING jump"),
        "{out}"
    );
}

/// The example profile with the list through a file (`files`, read by `--cidr-file`)
/// instead of its flag template, and `extra` flags added to its command.
fn file_configured(extra: &[&str]) -> String {
    let flags: Vec<&str> = ["--cidr-file=/etc/config/cidrs.txt"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    let text = example_with(&flags).replace(
        "      - {flag: \"--no-masquerade-cidr={item}\", each: nonMasqueradeCIDRs, if_empty: \"--no-masquerade-cidr=\"}\n",
        "",
    );
    let files =
        "    files:\n      - {name: cidrs.txt, content: \"{nonMasqueradeCIDRs}\", join: \"\\n\"}\n";
    let text = text.replacen("ipv6: always\n", &format!("{files}ipv6: always\n"), 1);
    assert!(
        text.contains("name: cidrs.txt") && !text.contains("--no-masquerade-cidr="),
        "{text}"
    );
    text
}

/// The list through a file of its own format (`files`: one CIDR per line in the
/// volume, read by `--cidr-file`), not a flag: a list, an empty list (an empty file), a
/// changed list and the key left out (no file: the defaults) all reach it; an agent that
/// ignores the file fails the case whose list it carries.
fn the_list_reaches_it_through_a_file_of_its_own_format() {
    let text = file_configured(&[]);
    let cases = [
        "docs-example-config::legacy",
        "non-masquerade-cidrs-empty::legacy",
        "config-change-at-next-resync::legacy",
        "config-removed-reverts-to-defaults::legacy",
    ];
    let (ok, out) = run(&text, "file-configured", &cases);
    assert!(ok, "{out}");
    assert!(
        out.contains("masq-flags-agent: 4 passed, 0 failed"),
        "{out}"
    );
    let ignoring = file_configured(&["--ignore-flag=cidr-file"]);
    let (ok, out) = run(&ignoring, "file-ignored", &cases[..1]);
    assert!(
        !ok,
        "the suite passed an agent that ignores its file:\n{out}"
    );
    assert!(
        out.contains("masq-flags-agent: 0 passed, 1 failed")
            && out.contains("docs-example-config on legacy: step 4 (snapshot): rfc1918-172/udp expected masqueraded"),
        "{out}"
    );
}

/// A template that names no config key is refused before anything runs, naming the
/// file, the key and the value.
fn a_bad_adapter_template_is_named() {
    let text = example_with(&[]).replace("{item}", "{cidr}");
    let profile = write_profile("bad-template", &text);
    let out = suite_command(&profile).arg("--list").output().unwrap();
    let (ok, out) = success_and_text(&out);
    std::fs::remove_file(&profile).unwrap();
    assert!(!ok, "{out}");
    assert!(out.contains(&profile.display().to_string()), "{out}");
    assert!(
        out.contains("config_source: adapter: flags[0]: flag: \"--no-masquerade-cidr={cidr}\": {cidr} is neither {item} nor a config key"),
        "{out}"
    );
}

pub fn group() -> Group {
    Group {
        name: "config_sources",
        what: "the config-source self-tests",
        pure: vec![(
            "a_bad_adapter_template_is_named",
            a_bad_adapter_template_is_named,
        )],
        root: vec![
            (
                "the_flags_only_example_passes_through_its_adapter",
                the_flags_only_example_passes_through_its_adapter,
            ),
            (
                "ipv6_always_leaves_the_ipv6_cells_of_ipv4_cases_unbound",
                ipv6_always_leaves_the_ipv6_cells_of_ipv4_cases_unbound,
            ),
            (
                "masq_link_local_reaches_it_through_the_environment",
                masq_link_local_reaches_it_through_the_environment,
            ),
            (
                "the_profile_chain_is_the_one_waited_for_listed_and_damaged",
                the_profile_chain_is_the_one_waited_for_listed_and_damaged,
            ),
            (
                "the_list_reaches_it_through_a_file_of_its_own_format",
                the_list_reaches_it_through_a_file_of_its_own_format,
            ),
            (
                "a_flags_only_agent_that_ignores_a_flag_fails_the_right_case",
                a_flags_only_agent_that_ignores_a_flag_fails_the_right_case,
            ),
        ],
        missing: None,
        alone: false,
    }
}
