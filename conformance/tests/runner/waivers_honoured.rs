//! Every check honours the profile's listing waivers (issue 21, item 3): under
//! `rule-order`, an implementation that writes the right rules in a changing order
//! (`masq-wrong-agent rewrite`, its RETURN rules reversed at every other sync, the whole
//! chain restored each time) passes the flap and the counters of overlapping rules, and
//! fails both without the waiver; and a chain rewritten between probe and listing is
//! retried or reported as a counter reset, never as a listing difference.
//!
//! A libtest-mimic harness: without root, iptables or the agent the tests are reported as
//! ignored with the reason; under `CI=true` that fails the run.

use crate::common::{agent, profile_with, run_suite, Group};

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "waivers_honoured",
        what: "the runner's self-tests of waivers",
        pure: vec![],
        root: vec![
            (
                "rule_order_covers_the_flap_and_the_counters_of_overlapping_rules",
                rule_order_covers_the_flap_and_the_counters_of_overlapping_rules,
            ),
            (
                "a_counter_reset_is_never_a_listing_difference",
                a_counter_reset_is_never_a_listing_difference,
            ),
        ],
        missing: None,
        alone: false,
    }
}

const RULE_ORDER: &str =
    "listing_waivers:\n  - {aspect: rule-order, reason: \"writes its rules in hash-map order\"}\n";

fn rewriting(millis: &str) -> Vec<String> {
    vec![
        env!("CARGO_BIN_EXE_masq-wrong-agent").to_string(),
        "rewrite".into(),
        millis.into(),
        "/etc/config/ip-masq-agent".into(),
        agent().display().to_string(),
    ]
}

const CASES: [&str; 3] = [
    "--exact",
    "overlapping-cidrs::legacy",
    "fault-config-flapping::legacy",
];

fn rule_order_covers_the_flap_and_the_counters_of_overlapping_rules() {
    let waived = profile_with("rewrite-waived", &rewriting("300"), RULE_ORDER);
    let (ok, out) = run_suite(&waived, &CASES);
    assert!(ok, "rule order failed a run that waives it:\n{out}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");

    let bound = profile_with("rewrite-bound", &rewriting("300"), "");
    let (ok, out) = run_suite(&bound, &CASES);
    assert!(
        !ok,
        "a changing rule order passed without the waiver:\n{out}"
    );
    assert!(
        out.contains("+config flapped between good and bad every 5ms; nat table changed during flapping: yes"),
        "{out}"
    );
    assert!(
        out.contains("overlapping-cidrs on legacy: step 4 (snapshot): rules (iptables-save -t nat) after step 4 differs"),
        "{out}"
    );
    std::fs::remove_file(waived).unwrap();
    std::fs::remove_file(bound).unwrap();
}

/// Restores its chain in a tight loop: nearly every listing races a rewrite. Each run
/// passes (a retry on zeroed counters landed between two rewrites) or fails saying the
/// counters were reset; never "listing differs".
fn a_counter_reset_is_never_a_listing_difference() {
    let profile = profile_with("rewrite-always", &rewriting("0"), RULE_ORDER);
    let mut notes = 0;
    for _ in 0..3 {
        let (ok, out) = run_suite(&profile, &["--exact", "overlapping-cidrs::legacy"]);
        assert!(
            !out.contains("-L IP-MASQ-AGENT -n -v -x) after step 4 differs"),
            "{out}"
        );
        assert!(
            ok || out
                .contains("step 4 (snapshot): counters reset by a resync: in each of 3 attempts"),
            "{out}"
        );
        notes += out
            .matches("(counters reset by a resync): probing and listing again")
            .count();
    }
    assert!(
        notes > 0,
        "no reset seen in 3 runs of a chain restored in a loop"
    );
    std::fs::remove_file(profile).unwrap();
}
