//! Self-tests of the suite's verdicts on implementations it did not write: it must never
//! pass one that did not exercise the behaviour, never write into its own checkout while
//! judging, and its outcomes-only mode must pass the in-tree agent.
//!
//! A libtest-mimic harness: without root, iptables or the agent the tests are reported as
//! ignored with the reason; under `CI=true` that fails the run.

use crate::common::{agent, files_under, profile_with, run_suite, workspace, Group};

fn wrong_agent(args: &[&str]) -> Vec<String> {
    std::iter::once(env!("CARGO_BIN_EXE_masq-wrong-agent").to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect()
}

/// One sync, then it never reads its config again: every bad-config case must fail, and
/// say that it did not read the config (a time-based wait used to pass it).
fn an_agent_that_never_rereads_its_config_fails_the_bad_config_cases() {
    let agent = agent().display().to_string();
    let profile = profile_with("once", &wrong_agent(&["once", &agent]), "");
    let (ok, out) = run_suite(
        &profile,
        &[
            "--exact",
            "bad-cidr-after-good::legacy",
            "malformed-yaml-after-good::legacy",
            "invalid-config-does-not-heal-tampering::legacy",
        ],
    );
    assert!(
        !ok,
        "the suite passed an agent that never re-reads its config:\n{out}"
    );
    assert!(
        out.contains("masq-conformance: once: 0 passed, 3 failed"),
        "{out}"
    );
    assert!(
        out.contains("step 6 (wait): did not read the config published at step 5 within"),
        "{out}"
    );
    std::fs::remove_file(profile).unwrap();
}

/// Exits 300 ms into the case: the case fails, naming the exit status.
fn an_agent_that_exits_mid_case_fails() {
    let agent = agent().display().to_string();
    let profile = profile_with("quitter", &wrong_agent(&["exit-after", "300", &agent]), "");
    let (ok, out) = run_suite(&profile, &["--exact", "jump-not-duplicated::legacy"]);
    assert!(
        !ok,
        "the suite passed an agent that exited mid-case:\n{out}"
    );
    assert!(
        out.contains("the implementation exited (exit status: 3)"),
        "{out}"
    );
    std::fs::remove_file(profile).unwrap();
}

/// `readiness: outcomes` with waived listings passes every case of the in-tree agent.
fn outcomes_readiness_passes_the_in_tree_agent() {
    let profile = profile_with(
        "outcomes-only",
        &[agent().display().to_string()],
        "readiness: outcomes\nrule_listings: waived\n",
    );
    let (ok, out) = run_suite(&profile, &[]);
    assert!(
        ok,
        "outcomes-only readiness failed the in-tree agent:\n{out}"
    );
    assert!(out.contains(" 0 failed"), "{out}");
    std::fs::remove_file(profile).unwrap();
}

/// Judging another implementation leaves the suite's checkout as it was; what differs
/// goes to --artifacts.
fn judging_another_implementation_writes_nothing_into_fixtures() {
    let fixtures = workspace().join("fixtures");
    let before = files_under(&fixtures);
    let artifacts = tempfile::tempdir().unwrap();
    let profile = profile_with(
        "masquerade-everything",
        &wrong_agent(&["masquerade-everything"]),
        "",
    );
    let (ok, out) = run_suite(
        &profile,
        &[
            "--artifacts",
            artifacts.path().to_str().unwrap(),
            "default-no-config",
            "range-edges-10",
        ],
    );
    assert!(!ok, "{out}");
    assert_eq!(
        files_under(&fixtures),
        before,
        "the run wrote into fixtures/:\n{out}"
    );
    assert!(!out.contains("cargo insta review"), "{out}");
    assert!(!out.contains("stack backtrace"), "{out}");
    assert!(
        artifacts
            .path()
            .join("default-no-config@legacy.snap.new")
            .exists()
            && artifacts
                .path()
                .join("default-no-config@legacy.diff")
                .exists(),
        "{:?}",
        files_under(artifacts.path())
    );
    std::fs::remove_file(profile).unwrap();
}

/// The multi-file cases pass against the merging example, and are reported as
/// unsupported (never as passed) against an implementation that reads one file.
fn multi_file_cases_run_only_where_files_are_merged() {
    let merging = workspace().join("conformance/implementations/merging-example.yaml");
    let out = crate::common::suite_command(&merging)
        .env(
            "MASQ_MERGING_AGENT",
            env!("CARGO_BIN_EXE_masq-merging-agent"),
        )
        .args(["--backend", "legacy", "multi-file-"])
        .output()
        .unwrap();
    let (ok, text) = crate::common::success_and_text(&out);
    assert!(ok, "{text}");
    assert!(
        text.contains("masq-merging-agent: 3 passed, 0 failed"),
        "{text}"
    );

    let one_file = profile_with("one-file", &[agent().display().to_string()], "");
    let (ok, text) = run_suite(&one_file, &["multi-file-"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "0 passed, 0 failed, 0 known failures (counted as ignored above), 3 unsupported"
        ),
        "{text}"
    );
    assert!(
        text.contains("ignored (unsupported: needs multi-file, which one-file does not claim)"),
        "{text}"
    );
    std::fs::remove_file(one_file).unwrap();
}

/// The in-tree agent's report of a whole run says conformant and verifies; the same
/// report with one case flipped does not.
fn the_in_tree_report_is_conformant_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let profile = workspace().join("conformance/implementations/ip-masq-agent-rs.yaml");
    let out = crate::common::suite_command(&profile)
        .args(["-q", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    let (ok, text) = crate::common::success_and_text(&out);
    assert!(ok, "{text}");
    let verify = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
            .arg("verify-report")
            .arg(path)
            .output()
            .unwrap()
    };
    let checked = verify(&report);
    let said = String::from_utf8_lossy(&checked.stdout).to_string();
    assert!(
        checked.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(said.contains("is conformant"), "{said}");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let cases = value["cases"].as_array_mut().unwrap();
    let passed = cases.iter_mut().find(|c| c["state"] == "passed").unwrap();
    passed["state"] = serde_json::json!("failed");
    let flipped = dir.path().join("flipped.json");
    std::fs::write(&flipped, value.to_string()).unwrap();
    let checked = verify(&flipped);
    assert!(!checked.status.success());
    assert!(
        String::from_utf8_lossy(&checked.stderr).contains("the cases add up to"),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// The attack of issue 20: a wrong implementation passes a corpus of one fixture whose
/// snapshots were blessed from its own run. The run says it is partial, its report says
/// `partial-run`, and neither `verify-report` nor `badge` accepts it.
fn a_run_of_another_corpus_is_partial_and_its_report_never_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let easy = dir.path().join("easy");
    std::fs::create_dir_all(easy.join("snapshots")).unwrap();
    std::fs::copy(
        workspace().join("fixtures/default-no-config.yaml"),
        easy.join("default-no-config.yaml"),
    )
    .unwrap();
    let profile = profile_with("masq-all", &wrong_agent(&["masquerade-everything"]), "");
    let run = |extra: &[&str]| {
        let out = crate::common::suite_command(&profile)
            .arg("--fixtures")
            .arg(&easy)
            .args(extra)
            .output()
            .unwrap();
        crate::common::success_and_text(&out)
    };
    let (ok, text) = run(&["--bless"]);
    assert!(ok, "{text}");
    let report = dir.path().join("report.json");
    let (ok, text) = run(&["--report", report.to_str().unwrap()]);
    assert!(ok, "the wrong agent passes its own corpus:\n{text}");
    assert!(text.contains("masq-all: 2 passed, 0 failed"), "{text}");
    assert!(
        text.contains("masq-conformance: verdict: partial run (restricted by --fixtures "),
        "{text}"
    );
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(value["verdict"], "partial-run", "{value}");
    assert_eq!(value["coverage"]["state"], "partial", "{value}");
    for command in ["verify-report", "badge"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
            .arg(command)
            .arg(&report)
            .output()
            .unwrap();
        let (ok, text) = crate::common::success_and_text(&out);
        assert!(!ok, "{command} accepted a partial run: {text}");
        assert!(
            text.contains("a report of another corpus"),
            "{command}: {text}"
        );
        assert!(
            text.contains("a partial run never verifies as conformant"),
            "{command}: {text}"
        );
    }
}

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "honest_verdicts",
        what: "the verdict self-tests",
        pure: vec![],
        root: vec![
            (
                "the_in_tree_report_is_conformant_and_verifies",
                the_in_tree_report_is_conformant_and_verifies,
            ),
            (
                "multi_file_cases_run_only_where_files_are_merged",
                multi_file_cases_run_only_where_files_are_merged,
            ),
            (
                "an_agent_that_never_rereads_its_config_fails_the_bad_config_cases",
                an_agent_that_never_rereads_its_config_fails_the_bad_config_cases,
            ),
            (
                "an_agent_that_exits_mid_case_fails",
                an_agent_that_exits_mid_case_fails,
            ),
            (
                "outcomes_readiness_passes_the_in_tree_agent",
                outcomes_readiness_passes_the_in_tree_agent,
            ),
            (
                "judging_another_implementation_writes_nothing_into_fixtures",
                judging_another_implementation_writes_nothing_into_fixtures,
            ),
            (
                "a_run_of_another_corpus_is_partial_and_its_report_never_verifies",
                a_run_of_another_corpus_is_partial_and_its_report_never_verifies,
            ),
        ],
        missing: None,
        alone: false,
    }
}
