//! `masq-generate` finds a bug by itself: against a deliberately wrong implementation
//! (`masq-wrong-agent drop-last-cidr`, the in-tree agent fed each config without the last
//! CIDR of its list) a small fixed seed range disagrees with the model, and the shrunk
//! fixture it writes fails against that implementation and passes against the in-tree
//! agent. And the in-tree agent itself agrees with the model on the same seeds.
//!
//! A libtest-mimic harness: without root, iptables or the agent the tests are reported as
//! ignored with the reason; under `CI=true` that fails the run.

use std::process::Command;

use crate::common::{agent, profile_with, run_suite, workspace, Group};

/// The seeds the self-test uses: fixed, so that a failure can be repeated.
const SEED: &str = "1";
const COUNT: &str = "6";

fn generate(profile: &std::path::Path, out: &std::path::Path) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_masq-generate"))
        .current_dir(workspace())
        .env("IP_MASQ_AGENT_BIN", agent())
        .args([
            "--seed",
            SEED,
            "--count",
            COUNT,
            "--configs",
            "3",
            "--backend",
            "legacy",
        ])
        .arg("--implementation")
        .arg(profile)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

fn wrong_profile() -> std::path::PathBuf {
    let argv: Vec<String> = [
        env!("CARGO_BIN_EXE_masq-wrong-agent").to_string(),
        "drop-last-cidr".into(),
        "/etc/config/ip-masq-agent".into(),
        agent().display().to_string(),
        "--v=2".into(),
    ]
    .into();
    profile_with(
        "drop-last-cidr",
        &argv,
        "config_path: /etc/config/ip-masq-agent\n",
    )
}

fn finds_a_dropped_cidr_and_writes_a_fixture_that_tells_the_two_apart() {
    let out = tempfile::tempdir().unwrap();
    let wrong = wrong_profile();
    let (code, text) = generate(&wrong, out.path());
    assert_eq!(
        code,
        Some(1),
        "generate found nothing against a wrong agent:\n{text}"
    );
    assert!(
        text.contains(&format!("seed {SEED}")),
        "the seed is printed:\n{text}"
    );
    let written: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert!(!written.is_empty(), "no fixture written:\n{text}");
    let fixtures = out.path().to_str().unwrap();
    let (ok, suite) = run_suite(&wrong, &["--fixtures", fixtures]);
    assert!(
        !ok,
        "the written fixtures pass against the wrong agent:\n{suite}"
    );
    // The in-tree agent without its profile's expected failures (they name cases of
    // fixtures/, not of this directory).
    let in_tree = profile_with("in-tree", &[agent().display().to_string()], "");
    let (ok, suite) = run_suite(&in_tree, &["--fixtures", fixtures]);
    assert!(
        ok,
        "the written fixtures fail against the in-tree agent:\n{suite}"
    );
    std::fs::remove_file(wrong).unwrap();
    std::fs::remove_file(in_tree).unwrap();
}

fn the_in_tree_agent_agrees_with_the_model_on_the_same_seeds() {
    let out = tempfile::tempdir().unwrap();
    let in_tree = workspace().join("conformance/implementations/ip-masq-agent-rs.yaml");
    let (code, text) = generate(&in_tree, out.path());
    assert_eq!(
        code,
        Some(0),
        "the in-tree agent disagrees with the model:\n{text}"
    );
}

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "generate_finds_bugs",
        what: "the generator self-tests",
        pure: vec![],
        root: vec![
            (
                "finds_a_dropped_cidr_and_writes_a_fixture_that_tells_the_two_apart",
                finds_a_dropped_cidr_and_writes_a_fixture_that_tells_the_two_apart,
            ),
            (
                "the_in_tree_agent_agrees_with_the_model_on_the_same_seeds",
                the_in_tree_agent_agrees_with_the_model_on_the_same_seeds,
            ),
        ],
        missing: None,
        alone: false,
    }
}
