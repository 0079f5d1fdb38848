//! Time from what was observed (issue 21, item 4): the runner gives an implementation
//! the `act_within` it declares after every read, watches it that long after the last
//! read of a bad config, never passes a flap in which no bad version was read, and never
//! passes a case resting on unseen reads when reads showed the hint was wrong. Each
//! wrong implementation here (`masq-wrong-agent slow-act|exit-after-bad|debounce`) is
//! judged for the right reason, and the in-tree agent under the same profile passes the
//! same cases (so the failure is the fault's, not the profile's).
//!
//! A libtest-mimic harness: without root, iptables or the agent the tests are reported as
//! ignored with the reason; under `CI=true` that fails the run.

use crate::common::{agent, profile_with, run_suite, run_suite_on, Group};

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "observed_time",
        what: "the runner's self-tests of observed time",
        pure: vec![],
        root: vec![
            (
                "a_slow_act_is_waited_for_as_long_as_act_within_says",
                a_slow_act_is_waited_for_as_long_as_act_within_says,
            ),
            (
                "an_exit_seconds_after_a_bad_config_fails_the_keep_last_good_cases",
                an_exit_seconds_after_a_bad_config_fails_the_keep_last_good_cases,
            ),
            (
                "a_flap_in_which_no_bad_version_was_read_fails",
                a_flap_in_which_no_bad_version_was_read_fails,
            ),
            (
                "unobservable_reads_are_inconclusive_unless_the_period_is_known",
                unobservable_reads_are_inconclusive_unless_the_period_is_known,
            ),
        ],
        missing: None,
        alone: false,
    }
}

const CONFIG: &str = "/etc/config/ip-masq-agent";

fn wrong_agent(mode: &str, millis: &str) -> Vec<String> {
    vec![
        env!("CARGO_BIN_EXE_masq-wrong-agent").to_string(),
        mode.to_string(),
        millis.to_string(),
        CONFIG.to_string(),
        agent().display().to_string(),
    ]
}

/// Reads every 300 ms, acts 2 s after each read. With `act_within: 3s` it passes the
/// case whose probe follows a read of a new config (a wait that ended at the next read
/// used to probe before it acted); with `act_within: 1s` it fails there, on the probe.
fn a_slow_act_is_waited_for_as_long_as_act_within_says() {
    let case = ["--exact", "fault-xtables-lock-held::nft"];
    let argv = wrong_agent("slow-act", "2000");
    let patient = profile_with("slow-act-3s", &argv, "act_within: 3s\n");
    let (ok, out) = run_suite_on(&patient, "nft", &case);
    assert!(ok, "a slow act within act_within failed:\n{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");

    let hasty = profile_with("slow-act-1s", &argv, "act_within: 1s\n");
    let (ok, out) = run_suite_on(&hasty, "nft", &case);
    assert!(!ok, "an act later than act_within passed:\n{out}");
    assert!(out.contains("0 passed, 1 failed"), "{out}");
    assert!(
        out.contains(
            "step 7 (snapshot): rfc1918-172/udp expected not-masqueraded, got masqueraded"
        ),
        "not failed on the probe after the read:\n{out}"
    );
    // The delay from read to action is measured, and the run says when it exceeds
    // act_within (a `rules-changed` wait lets it pass).
    let (_, out) = run_suite(
        &hasty,
        &["--exact", "cidr-limit-exceeded-then-raised::legacy"],
    );
    assert!(
        out.contains(
            "after the first read of the config published at step 9, later than act_within (1.0s)"
        ),
        "{out}"
    );
    std::fs::remove_file(patient).unwrap();
    std::fs::remove_file(hasty).unwrap();
}

/// Exits 3 s after it first read a bad config. With `act_within: 4s` every case that
/// ends on a bad config fails naming the exit, including one whose bad config (a
/// directory) it cannot be seen reading; the in-tree agent passes the same cases.
fn an_exit_seconds_after_a_bad_config_fails_the_keep_last_good_cases() {
    let cases = [
        "--exact",
        "bad-cidr-after-good::legacy",
        "bad-cidr-at-start::legacy",
        "config-directory-after-good::legacy",
    ];
    let extra = "act_within: 4s\n";
    let quitter = profile_with(
        "exit-after-bad",
        &wrong_agent("exit-after-bad", "3000"),
        extra,
    );
    let (ok, out) = run_suite(&quitter, &cases);
    assert!(!ok, "an exit after a bad config passed:\n{out}");
    assert!(out.contains("0 passed, 3 failed"), "{out}");
    for case in [
        "bad-cidr-after-good on legacy: step 6 (wait): the implementation exited (exit status: 3)",
        "bad-cidr-at-start on legacy: step 2 (wait): the implementation exited (exit status: 3)",
        "config-directory-after-good on legacy: step 5 (config): the implementation exited (exit status: 3)",
    ] {
        assert!(out.contains(case), "not failed on the exit: {case}\n{out}");
    }
    assert!(
        out.contains("of the bad config in force"),
        "the directory case did not fail at its end:\n{out}"
    );

    let in_tree = profile_with("in-tree-4s", &[agent().display().to_string()], extra);
    let (ok, out) = run_suite(&in_tree, &cases);
    assert!(ok, "the in-tree agent failed under act_within 4s:\n{out}");
    std::fs::remove_file(quitter).unwrap();
    std::fs::remove_file(in_tree).unwrap();
}

/// Reads only once the ConfigMap has been still for 300 ms: during a flap it reads
/// nothing, and the table never moves. The flap fails for that reason (it used to pass).
fn a_flap_in_which_no_bad_version_was_read_fails() {
    let profile = profile_with("debounce", &wrong_agent("debounce", "300"), "");
    let (ok, out) = run_suite(&profile, &["--exact", "fault-config-flapping::legacy"]);
    assert!(!ok, "a flap with no bad version read passed:\n{out}");
    assert!(
        out.contains("read none of the") && out.contains("bad versions the flap published"),
        "{out}"
    );
    std::fs::remove_file(profile).unwrap();
}

/// Reads every 5 s whatever the config's 300 ms hint says (`masq-wrong-agent rewrite`,
/// rules in a changing order, hence the waiver). Without `resync_period` the cases whose
/// bad input (a directory, a symlink loop) cannot be seen being read are `inconclusive`,
/// never passed (a wait of three hinted periods used to pass them unread) nor failed:
/// counted as such in the closing lines, JUnit and the report, grouped by cause, and the
/// measured period is on the closing lines. With `resync_period: 5s` they are judged,
/// and pass.
fn unobservable_reads_are_inconclusive_unless_the_period_is_known() {
    let cases = [
        "--exact",
        "config-directory-after-good::legacy",
        "config-unreadable-after-good::legacy",
    ];
    let argv: Vec<String> = [
        env!("CARGO_BIN_EXE_masq-wrong-agent"),
        "rewrite",
        "5000",
        CONFIG,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([agent().display().to_string()])
    .collect();
    let waiver =
        "listing_waivers:\n  - {aspect: rule-order, reason: \"writes its rules in hash-map order\"}\n";
    let unknown = profile_with("period-unknown", &argv, waiver);
    let dir = tempfile::tempdir().unwrap();
    let (junit, report) = (dir.path().join("junit.xml"), dir.path().join("r.json"));
    let mut args = cases.to_vec();
    let paths = [junit.to_str().unwrap(), report.to_str().unwrap()];
    args.extend(["--junit", paths[0], "--report", paths[1]]);
    let (ok, out) = run_suite(&unknown, &args);
    assert!(!ok, "cases resting on unseen reads passed:\n{out}");
    for needle in [
        "0 passed, 0 failed, 0 known failures (counted as ignored above), 2 inconclusive (not judged: failing the run)",
        "config-directory-after-good on legacy: step 6 (wait): inconclusive: this wait rests on reads the runner cannot see",
        "config-unreadable-after-good on legacy: step 6 (wait): inconclusive: this wait rests on reads the runner cannot see",
        "inconclusive, by root cause:\n  wait: inconclusive: this wait rests on reads the runner cannot see",
        "\nmeasured: ",
    ] {
        assert!(out.contains(needle), "no {needle:?} in:\n{out}");
    }
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(
        junit.matches("<failure type=\"inconclusive\"").count(),
        2,
        "{junit}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["summary"]["inconclusive"], 2, "{report}");
    // Each case saw the read at start, and no second one of any version: no period.
    assert!(
        report["measurements"]["reads"].as_u64() >= Some(2),
        "{report}"
    );
    assert!(
        out.contains("reads (no period: no version was seen read twice)"),
        "{out}"
    );

    // Repeats that could not be judged do not disagree: still inconclusive, not unstable.
    let (ok, out) = run_suite(
        &unknown,
        &[
            "--exact",
            "config-directory-after-good::legacy",
            "--repeat",
            "2",
        ],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("0 failed, 0 known failures (counted as ignored above), 1 inconclusive"),
        "{out}"
    );

    let known = profile_with(
        "period-known",
        &argv,
        &format!("resync_period: 5s\n{waiver}"),
    );
    let (ok, out) = run_suite(&known, &cases);
    assert!(
        ok,
        "a known period did not make the cases judgeable:\n{out}"
    );
    assert!(out.contains("2 passed, 0 failed"), "{out}");
    std::fs::remove_file(unknown).unwrap();
    std::fs::remove_file(known).unwrap();
}
