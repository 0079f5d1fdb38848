//! The published report: docs/report.schema.json is what the types generate, a genuine
//! full report verifies, and hand edits do not (the refused shapes of issue 20 are in
//! report_refusals.rs). Pure: needs neither root nor iptables.

use std::path::Path;

use masq_conformance::records::Record;
use masq_conformance::verdict::{self, comparison, verify::verify, Coverage, RunVerdict};
use masq_conformance::vocabulary::{CaseState, Feature, IptablesBackend};

use crate::reports::{genuine, in_tree_profile, of_records, record, report_with, suite, whole_run};

fn verify_value(v: &serde_json::Value) -> Result<verdict::Report, Vec<String>> {
    verify(&v.to_string(), &suite())
}

#[test]
fn the_stored_schema_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let generated: serde_json::Value = serde_json::from_str(&verdict::schema()).unwrap();
    assert!(
        stored == generated,
        "docs/report.schema.json is stale: masq-conformance schema report > docs/report.schema.json"
    );
}

#[test]
fn a_genuine_full_report_verifies_as_conformant_and_edits_do_not() {
    let text = genuine();
    let report = verify_value(&text).unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(report.verdict, RunVerdict::Conformant);
    assert!(report.coverage.is_full());
    assert_eq!(report.suite.fixtures_digest, suite().digest);
    assert!(report
        .command
        .starts_with("masq-conformance --report r.json"));

    let mut v = text.clone();
    v["summary"]["passed"] = serde_json::json!(5);
    let problems = verify_value(&v).unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains("summary says")),
        "{problems:?}"
    );

    let mut v = text.clone();
    v["unexpected"] = serde_json::json!(1);
    assert!(verify_value(&v).unwrap_err()[0].starts_with("schema:"));
}

/// The first fixture of the corpus exercising `feature` (and its name).
fn first_with(feature: Feature) -> String {
    crate::reports::fixtures()
        .into_iter()
        .find(|(_, f)| f.features.contains(&feature))
        .map(|(n, _)| n)
        .unwrap()
}

#[test]
fn a_failure_is_non_conformant_and_cannot_be_turned_into_a_pass() {
    let profile = masq_conformance::profile::Profile::load(&in_tree_profile()).unwrap();
    let failing = first_with(Feature::Defaults);
    let records = whole_run(&profile, |name, _| {
        (name == failing).then_some(CaseState::Failed)
    });
    let v = of_records(&records);
    assert_eq!(verify_value(&v).unwrap().verdict, RunVerdict::NonConformant);
    // A failure turned into a pass, counts and all: the failure it carries gives it away.
    let mut v = v.clone();
    for (i, _) in records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.fixture == failing)
    {
        v["cases"][i]["state"] = serde_json::json!("passed");
    }
    let problems = verify_value(&v).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("passed, yet carries a failure")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("verdict says")),
        "{problems:?}"
    );
}

#[test]
fn a_known_failure_in_a_core_feature_is_partially_conformant() {
    let profile = masq_conformance::profile::Profile::load(&in_tree_profile()).unwrap();
    let known = first_with(Feature::Healing);
    let records = whole_run(&profile, |name, _| {
        (name == known).then_some(CaseState::KnownFailure)
    });
    assert_eq!(
        verify_value(&of_records(&records)).unwrap().verdict,
        RunVerdict::PartiallyConformant
    );
}

/// A report of `records`. Not verified: these reports cover a case or two, so they are
/// partial, and `regressions` is what is under test here.
fn report_of(records: &[Record]) -> verdict::Report {
    report_with(
        &in_tree_profile(),
        records,
        Coverage::restricted_by(vec!["a case or two".into()]),
    )
}

/// `compare --baseline` gates a user's CI on these lines: each names a case that passed
/// in the baseline and does not now.
fn regressions(baseline: &[Record], current: &[Record]) -> Vec<String> {
    comparison::regressions(&report_of(baseline), &report_of(current))
}

fn case(fixture: &str, state: CaseState) -> Record {
    record(fixture, IptablesBackend::Legacy, state, &[Feature::ALL[0]])
}

#[test]
fn a_case_that_passed_and_fails_now_is_a_regression() {
    let lines = regressions(
        &[case("a", CaseState::Passed), case("b", CaseState::Passed)],
        &[case("a", CaseState::Failed), case("b", CaseState::Passed)],
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("a::legacy: passed in the baseline, "),
        "{lines:?}"
    );
}

#[test]
fn a_case_that_passed_and_did_not_run_or_is_known_to_fail_now_is_a_regression() {
    for now in [
        CaseState::KnownFailure,
        CaseState::Unsupported,
        CaseState::NotRun,
        CaseState::NotApplicable,
    ] {
        let lines = regressions(&[case("a", CaseState::Passed)], &[case("a", now)]);
        assert_eq!(lines.len(), 1, "{now:?}: {lines:?}");
    }
}

#[test]
fn a_removed_case_is_a_regression_and_a_new_one_is_not() {
    let lines = regressions(
        &[case("gone", CaseState::Passed)],
        &[case("new", CaseState::Failed)],
    );
    assert_eq!(
        lines,
        ["gone::legacy: passed in the baseline, missing now"],
        "{lines:?}"
    );
}

#[test]
fn only_cases_that_passed_in_the_baseline_can_regress() {
    let baseline = [
        case("known", CaseState::KnownFailure),
        case("failed", CaseState::Failed),
        case("unsupported", CaseState::Unsupported),
        case("same", CaseState::Passed),
    ];
    let current = [
        case("known", CaseState::Failed),
        case("failed", CaseState::Failed),
        case("unsupported", CaseState::Failed),
        case("same", CaseState::Passed),
    ];
    assert_eq!(regressions(&baseline, &current), Vec::<String>::new());
    // Fixed cases are no regression either.
    assert_eq!(regressions(&current, &baseline), Vec::<String>::new());
}
