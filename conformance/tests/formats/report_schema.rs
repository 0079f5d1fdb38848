//! The published report: docs/report.schema.json is what the types generate, a report
//! built from a run verifies, and hand edits do not. Pure: needs neither root nor
//! iptables.

use std::path::Path;
use std::time::Duration;

use masq_conformance::profile::Profile;
use masq_conformance::records::Record;
use masq_conformance::verdict::build::{build, Planned, RunFacts};
use masq_conformance::verdict::environment::Environment;
use masq_conformance::verdict::{self, comparison, verify::verify, RunVerdict};
use masq_conformance::vocabulary::{CaseState, Feature, IptablesBackend};

fn record(
    fixture: &str,
    backend: IptablesBackend,
    status: CaseState,
    features: &[Feature],
) -> Record {
    Record {
        trial: format!("{fixture}::{}", backend.name()),
        fixture: fixture.into(),
        backend,
        state: status,
        headline: if status == CaseState::Passed {
            String::new()
        } else {
            "step 3 (wait): x".into()
        },
        detail: String::new(),
        reason: (status == CaseState::KnownFailure).then(|| "known".into()),
        features: features.to_vec(),
        failing_step: (status != CaseState::Passed).then_some(3),
        reload_latencies: vec![],
        message: String::new(),
        tables: vec![],
        duration: Duration::from_millis(12),
        phases: vec![],
    }
}

fn report_text(records: &[Record]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let profile_path = root.join("conformance/implementations/ip-masq-agent-rs.yaml");
    let profile = Profile::load(&profile_path).unwrap();
    let planned: Vec<Planned> = records
        .iter()
        .map(|r| Planned {
            fixture: r.fixture.clone(),
            backend: r.backend,
            features: r.features.clone(),
        })
        .collect();
    let report = build(&RunFacts {
        profile: &profile,
        profile_path: &profile_path,
        fixtures_dir: &root.join("fixtures"),
        planned: &planned,
        records,
        backends: &IptablesBackend::ALL,
        argv: &[
            "masq-conformance".into(),
            "--report".into(),
            "r.json".into(),
        ],
        blocker: None,
        environment: Environment {
            kernel: "6.1".into(),
            distribution: "Debian".into(),
            architecture: "x86_64".into(),
            iptables: Default::default(),
        },
    });
    serde_json::to_string_pretty(&report).unwrap()
}

fn all_features_pass() -> Vec<Record> {
    vec![
        record(
            "a",
            IptablesBackend::Legacy,
            CaseState::Passed,
            &Feature::ALL[..17],
        ),
        record(
            "b",
            IptablesBackend::Nft,
            CaseState::Passed,
            &Feature::ALL[18..],
        ),
        record(
            "m",
            IptablesBackend::Nft,
            CaseState::Unsupported,
            &[Feature::MultiFile],
        ),
    ]
}

#[test]
fn the_stored_schema_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let generated: serde_json::Value = serde_json::from_str(&verdict::schema()).unwrap();
    assert!(
        stored == generated,
        "docs/report.schema.json is stale: masq-conformance --print-report-schema > docs/report.schema.json"
    );
}

#[test]
fn a_built_report_verifies_and_edits_do_not() {
    let text = report_text(&all_features_pass());
    let report = verify(&text).unwrap_or_else(|p| panic!("{p:?}\n{text}"));
    assert_eq!(report.verdict, RunVerdict::Conformant);
    assert!(report
        .command
        .starts_with("masq-conformance --report r.json"));

    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["summary"]["passed"] = serde_json::json!(5);
    let problems = verify(&v.to_string()).unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains("summary says")),
        "{problems:?}"
    );

    let failing = report_text(&[
        record(
            "a",
            IptablesBackend::Legacy,
            CaseState::Failed,
            &Feature::ALL[..17],
        ),
        record(
            "b",
            IptablesBackend::Nft,
            CaseState::Passed,
            &Feature::ALL[18..],
        ),
    ]);
    assert_eq!(verify(&failing).unwrap().verdict, RunVerdict::NonConformant);
    // A failure turned into a pass, counts and all: the failure it carries gives it away.
    let mut v: serde_json::Value = serde_json::from_str(&failing).unwrap();
    v["cases"][0]["state"] = serde_json::json!("passed");
    let problems = verify(&v.to_string()).unwrap_err();
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

    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["unexpected"] = serde_json::json!(1);
    assert!(verify(&v.to_string()).unwrap_err()[0].starts_with("schema:"));
}

#[test]
fn a_known_failure_in_a_core_feature_is_partial_and_filtered_runs_do_not_verify() {
    let partial = report_text(&[
        record(
            "a",
            IptablesBackend::Legacy,
            CaseState::KnownFailure,
            &[Feature::Healing],
        ),
        record(
            "b",
            IptablesBackend::Nft,
            CaseState::Passed,
            &Feature::ALL[..17],
        ),
        record(
            "c",
            IptablesBackend::Nft,
            CaseState::Passed,
            &Feature::ALL[18..],
        ),
    ]);
    assert_eq!(
        verify(&partial).unwrap().verdict,
        RunVerdict::PartiallyConformant
    );
    let mut records = all_features_pass();
    records.pop();
    let planned_but_not_run = {
        let mut t: serde_json::Value = serde_json::from_str(&report_text(&records)).unwrap();
        t["cases"][0]["state"] = serde_json::json!("not-run");
        t.to_string()
    };
    let problems = verify(&planned_but_not_run).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("claimed as supported, but some of its cases were not run")),
        "{problems:?}"
    );
}

/// A report of `records`, read back from its JSON. Not verified: these reports cover a
/// case or two, so they are incomplete, and `regressions` is what is under test here.
fn report_of(records: &[Record]) -> verdict::Report {
    serde_json::from_str(&report_text(records)).unwrap()
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
