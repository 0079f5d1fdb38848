//! Ports are observed where they matter: an implementation that ignores `--to-ports` and
//! `--random-fully` (`masq-wrong-agent without-flag to-ports`, the in-tree agent without
//! them) fails the `--to-ports` fixtures, with the cell saying which port was wrong or
//! that flows from one source port were not spread; the in-tree agent passes them.
//!
//! A libtest-mimic harness: without root, iptables or the agent the tests are reported as
//! ignored with the reason; under `CI=true` that fails the run.

use crate::common::{agent, profile_with, run_suite, Group};

fn an_agent_ignoring_to_ports_fails_with_the_port_named() {
    let argv: Vec<String> = [
        env!("CARGO_BIN_EXE_masq-wrong-agent").to_string(),
        "without-flag".into(),
        "to-ports".into(),
        agent().display().to_string(),
        "--v=2".into(),
    ]
    .into();
    let profile = profile_with("without-to-ports", &argv, "rule_listings: waived\n");
    let (ok, out) = run_suite(&profile, &["--exact", "flag-to-ports-one-range::legacy"]);
    assert!(
        !ok,
        "the suite passed an agent that ignores --to-ports:\n{out}"
    );
    assert!(
        out.contains("masqueraded!port-") && out.contains("-not-in-to-ports"),
        "the failure does not name the port:\n{out}"
    );
    std::fs::remove_file(profile).unwrap();
    let in_tree = profile_with("in-tree", &[agent().display().to_string()], "");
    let (ok, out) = run_suite(&in_tree, &["flag-to-ports"]);
    assert!(
        ok,
        "the in-tree agent fails the --to-ports fixtures:\n{out}"
    );
    std::fs::remove_file(in_tree).unwrap();
}

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "ports_observed",
        what: "the port self-tests",
        pure: vec![],
        root: vec![(
            "an_agent_ignoring_to_ports_fails_with_the_port_named",
            an_agent_ignoring_to_ports_fails_with_the_port_named,
        )],
        missing: None,
        alone: false,
    }
}
