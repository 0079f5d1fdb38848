//! Self-tests of the suite's verdicts on implementations it did not write: it must never
//! pass one that did not exercise the behaviour, never write into its own checkout while
//! judging, and its outcomes-only mode must pass the in-tree agent.
//!
//! A libtest-mimic harness: without root, iptables or the agent the tests are reported as
//! ignored with the reason; under `CI=true` that fails the run.

mod common;

use std::process::ExitCode;

use common::{agent, files_under, profile_with, run_suite, workspace};
use libtest_mimic::{Arguments, Trial};
use masq_conformance::prereq::{self, Verdict};

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
    // The in-tree agent's known failure (its profile's expected_failures) is no
    // readiness question.
    let (ok, out) = run_suite(
        &profile,
        &["--skip", "generated-leading-zero-octet-after-good"],
    );
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

/// The multi-file cases pass against the merging example, and are reported as not
/// applicable (never as passed) against an implementation that reads one file.
fn multi_file_cases_run_only_where_files_are_merged() {
    let merging = workspace().join("conformance/implementations/merging-example.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .current_dir(workspace())
        .env("IP_MASQ_AGENT_BIN", agent())
        .env(
            "MASQ_MERGING_AGENT",
            env!("CARGO_BIN_EXE_masq-merging-agent"),
        )
        .args([
            "--implementation",
            merging.to_str().unwrap(),
            "--backend",
            "legacy",
            "multi-file-",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("masq-merging-agent: 3 passed, 0 failed"),
        "{text}"
    );

    let one_file = profile_with("one-file", &[agent().display().to_string()], "");
    let (ok, text) = run_suite(&one_file, &["multi-file-"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "0 passed, 0 failed, 0 known failures (counted as ignored above), 3 not applicable"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "ignored (not applicable: the case publishes 2 config files; one-file reads one"
        ),
        "{text}"
    );
    std::fs::remove_file(one_file).unwrap();
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let ignore = match prereq::verdict(common::missing_prerequisite()) {
        Verdict::Run => false,
        Verdict::Ignore(why) => {
            eprintln!("ignored: the verdict self-tests need root: {why}");
            true
        }
        Verdict::Fail(why) if !args.list => {
            eprintln!("error: the verdict self-tests cannot run: {why}");
            return ExitCode::FAILURE;
        }
        Verdict::Fail(_) => true,
    };
    let tests: [(&str, fn()); 5] = [
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
    ];
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            Trial::test(name, move || {
                f();
                Ok(())
            })
            .with_ignored_flag(ignore)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
