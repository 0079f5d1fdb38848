//! Self-tests of the traffic directions (docs/spec.md §6): wrong implementations fail the
//! direction cases for the right reason, in the cells that show their bug.
//!
//! - `masq-wrong-agent src-local` tests the SOURCE for locality in its POSTROUTING jump:
//!   pod flows and inbound flows are decided right, so every pod-only case passes it;
//!   only flows the node sends itself show the bug.
//! - `masq-wrong-agent masquerade-everything` masquerades inbound flows toward the pod
//!   too, which the pod range's RETURN should have kept.
//!
//! Listings are waived in both profiles: the verdicts must come from the outcomes, not
//! from the rules looking different. A libtest-mimic harness: without root, iptables or
//! the agent the tests are reported as ignored with the reason; under `CI=true` that
//! fails the run.

use crate::common::{agent, profile_with, run_suite, Group};

fn wrong_agent(args: &[&str]) -> Vec<String> {
    std::iter::once(env!("CARGO_BIN_EXE_masq-wrong-agent").to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect()
}

/// The row `row` of the side-by-side table printed under `heading` in a failure.
fn failure_row<'a>(out: &'a str, heading: &str, row: &str) -> Option<&'a str> {
    out.lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .take_while(|l| !l.ends_with(':') && !l.is_empty())
        .find(|l| l.split_whitespace().next() == Some(row))
}

fn an_agent_testing_the_source_for_locality_fails_only_the_node_cases() {
    let agent = agent().display().to_string();
    let profile = profile_with(
        "src-local",
        &wrong_agent(&["src-local", &agent]),
        // It makes a scratch network namespace of its own (`unshare -n`).
        "rule_listings: waived\ncapabilities: [SYS_ADMIN]\n",
    );
    let (ok, out) = run_suite(
        &profile,
        &[
            "--exact",
            "directions-default-config::legacy",
            "directions-pod-range-not-listed::legacy",
            "default-no-config::legacy",
        ],
    );
    std::fs::remove_file(profile).unwrap();
    assert!(
        !ok,
        "the suite passed an agent that tests the source for locality:\n{out}"
    );
    // Pod and inbound flows cannot see the bug: those cases pass.
    assert!(out.contains("src-local: 2 passed, 1 failed"), "{out}");
    assert!(
        out.contains("directions-default-config on legacy: step 6 (snapshot): internet/udp expected masqueraded, got not-masqueraded (and 2 more cells)"),
        "{out}"
    );
    for heading in [
        "outcome (from node pod-facing address) after step 6:",
        "outcome (from node main address) after step 8:",
    ] {
        let row = failure_row(&out, heading, "internet")
            .unwrap_or_else(|| panic!("no internet row under {heading:?}:\n{out}"));
        assert_eq!(row.matches("not-masqueraded*").count(), 3, "{row}\n{out}");
    }
    // Only differing tables are printed: the pod's and the inbound one matched.
    for matched in [
        "outcome after step 4:",
        "outcome (from world to pod) after step 10:",
    ] {
        assert!(!out.contains(matched), "{matched}\n{out}");
    }
}

fn masquerading_everything_fails_the_inbound_cells() {
    let profile = profile_with(
        "masquerade-everything",
        &wrong_agent(&["masquerade-everything"]),
        "rule_listings: waived\n",
    );
    let (ok, out) = run_suite(
        &profile,
        &[
            "--exact",
            "directions-default-config::legacy",
            "directions-pod-range-not-listed::legacy",
        ],
    );
    std::fs::remove_file(profile).unwrap();
    assert!(!ok, "{out}");
    assert!(
        out.contains("masquerade-everything: 0 passed, 2 failed"),
        "{out}"
    );
    // Inbound to the pod must keep the world's source under the default list.
    let inbound = failure_row(
        &out,
        "outcome (from world to pod) after step 10:",
        "internet",
    )
    .unwrap_or_else(|| panic!("no inbound internet row:\n{out}"));
    assert_eq!(
        inbound.matches("masqueraded*").count(),
        3,
        "{inbound}\n{out}"
    );
    assert!(
        inbound.starts_with("internet") && inbound.contains("| not-masqueraded "),
        "{inbound}"
    );
}

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "directions",
        what: "the traffic-direction self-tests",
        pure: vec![],
        root: vec![
            (
                "an_agent_testing_the_source_for_locality_fails_only_the_node_cases",
                an_agent_testing_the_source_for_locality_fails_only_the_node_cases,
            ),
            (
                "masquerading_everything_fails_the_inbound_cells",
                masquerading_everything_fails_the_inbound_cells,
            ),
        ],
        missing: None,
        alone: false,
    }
}
