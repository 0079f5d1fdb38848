//! Features that mean what they say (issue 21, item 5): an implementation that ignores a
//! key (`masq-wrong-agent force-key masqLinkLocal true`: it never exempts link-local) is
//! judged failing for the right reason: the partner fixture's link-local cells, counted
//! against `masq-link-local` alone, while `masq-link-local-true` passes and another case
//! it fails (`klog-flags-accepted`, on its link-local cells) counts against neither
//! `klog-flags` nor `masq-link-local`. And a profile that declares a feature unsupported
//! gets its cases unsupported, or, for `reference-bug-compat`, their steps skipped and
//! never counted as its passes.
//!
//! A libtest-mimic harness: without root, iptables or the agent the tests are reported as
//! ignored with the reason; under `CI=true` that fails the run.

use std::path::Path;

use masq_conformance::verdict::{CaseRecord, FeatureResult, FeatureState, Report};
use masq_conformance::vocabulary::{CaseState, Feature};

use crate::common::{agent, profile_with, run_suite, Group};

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "features_attributed",
        what: "the runner's self-tests of feature attribution",
        pure: vec![],
        root: vec![
            (
                "an_implementation_ignoring_a_key_fails_the_partner_fixture_for_that_key",
                an_implementation_ignoring_a_key_fails_the_partner_fixture_for_that_key,
            ),
            (
                "an_unsupported_feature_makes_its_cases_unsupported_or_its_steps_skipped",
                an_unsupported_feature_makes_its_cases_unsupported_or_its_steps_skipped,
            ),
        ],
        missing: None,
        alone: false,
    }
}

/// Runs `cases` (exact names) with a report; returns success, all output and the report.
fn run_reported(profile: &Path, cases: &[&str]) -> (bool, String, Report) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let mut args = vec!["--report", path.to_str().unwrap(), "--exact"];
    args.extend_from_slice(cases);
    let (ok, out) = run_suite(profile, &args);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}\n{out}"));
    let report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    (ok, out, report)
}

fn case<'a>(report: &'a Report, fixture: &str) -> &'a CaseRecord {
    report
        .cases
        .iter()
        .find(|c| c.fixture == fixture && c.backend == "legacy")
        .unwrap_or_else(|| panic!("no case {fixture}::legacy in the report"))
}

fn feature(report: &Report, f: Feature) -> &FeatureResult {
    report
        .features
        .iter()
        .find(|r| r.feature == f)
        .expect("every feature is listed")
}

fn an_implementation_ignoring_a_key_fails_the_partner_fixture_for_that_key() {
    let argv: Vec<String> = vec![
        env!("CARGO_BIN_EXE_masq-wrong-agent").to_string(),
        "force-key".into(),
        "masqLinkLocal".into(),
        "true".into(),
        "/etc/config/ip-masq-agent".into(),
        agent().display().to_string(),
    ];
    let profile = profile_with(
        "never-exempts-link-local",
        &argv,
        "config_path: /etc/config/ip-masq-agent\n",
    );
    let (ok, out, report) = run_reported(
        &profile,
        &[
            "masq-link-local-true::legacy",
            "masq-link-local-false::legacy",
            "klog-flags-accepted::legacy",
        ],
    );
    assert!(
        !ok,
        "the suite passed an implementation that never exempts link-local:\n{out}"
    );
    // The failure names the partner's link-local cell.
    assert!(
        out.contains("link-local/udp expected not-masqueraded, got masqueraded"),
        "{out}"
    );
    // And says which feature it counts against.
    assert!(out.contains("counts against: masq-link-local\n"), "{out}");
    // The key's own case cannot tell: it passes.
    assert_eq!(
        case(&report, "masq-link-local-true").state,
        CaseState::Passed
    );
    let partner = case(&report, "masq-link-local-false");
    assert_eq!(partner.state, CaseState::Failed, "{partner:?}");
    assert_eq!(
        partner.counts_for.as_deref(),
        Some(&[Feature::MasqLinkLocal][..]),
        "the partner's failure counts against masq-link-local alone: {partner:?}"
    );
    // klog-flags-accepted fails on its link-local cells too (its config has no
    // masqLinkLocal): the list's failure, not the flags'.
    let klog = case(&report, "klog-flags-accepted");
    assert_eq!(klog.state, CaseState::Failed, "{klog:?}");
    assert_eq!(
        klog.counts_for.as_deref(),
        Some(&[Feature::NonMasqueradeCidrs][..]),
        "{klog:?}"
    );
    assert_eq!(
        feature(&report, Feature::MasqLinkLocal).state,
        FeatureState::Failed
    );
    let flags = feature(&report, Feature::KlogFlags);
    assert_eq!(flags.counts.failed, 0, "{flags:?}");
    assert_ne!(flags.state, FeatureState::Failed, "{flags:?}");
}

fn an_unsupported_feature_makes_its_cases_unsupported_or_its_steps_skipped() {
    let profile = profile_with(
        "without-cidr-limit-and-bug-compat",
        &[agent().display().to_string()],
        "features:\n  unsupported: [cidr-limit, reference-bug-compat]\n",
    );
    let (ok, out, report) = run_reported(
        &profile,
        &["all-keys-yaml::legacy", "duplicated-cidrs::legacy"],
    );
    assert!(ok, "{out}");
    // all-keys-yaml uses cidrLimit: without it, unsupported, never a vacuous pass.
    let all_keys = case(&report, "all-keys-yaml");
    assert_eq!(all_keys.state, CaseState::Unsupported, "{all_keys:?}");
    assert!(
        all_keys
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("cidr-limit"),
        "{all_keys:?}"
    );
    // duplicated-cidrs runs; its bug-compatibility listing is skipped, and the pass
    // counts for the list only.
    let dup = case(&report, "duplicated-cidrs");
    assert_eq!(dup.state, CaseState::Passed, "{dup:?}");
    assert_eq!(dup.skipped_steps, vec![5], "{dup:?}");
    assert_eq!(
        dup.counts_for.as_deref(),
        Some(&[Feature::NonMasqueradeCidrs][..]),
        "{dup:?}"
    );
    let compat = feature(&report, Feature::ReferenceBugCompat);
    assert_eq!(compat.state, FeatureState::Unsupported, "{compat:?}");
    assert_eq!(compat.counts.passed, 0, "{compat:?}");
}
