//! Building reports for the report tests without a run: from the suite's own corpus (its
//! case list, whatever fixtures it holds), through the same `build` a run uses, so that a
//! genuine full report can be made and then edited into each shape `verify` refuses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use masq_conformance::document::corpus::{sha256, Corpus};
use masq_conformance::fixture::{fixtures_of, Fixture};
use masq_conformance::profile::Profile;
use masq_conformance::records::Record;
use masq_conformance::verdict::build::{build, Planned, RunFacts};
use masq_conformance::verdict::environment::Environment;
use masq_conformance::verdict::suite_cases::SuiteCases;
use masq_conformance::verdict::{Coverage, Report};
use masq_conformance::vocabulary::{CaseState, Feature, IptablesBackend};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixtures_dir() -> PathBuf {
    root().join("fixtures")
}

/// The suite reports are verified against: the in-tree corpus.
pub fn suite() -> SuiteCases {
    SuiteCases::read(&fixtures_dir()).unwrap()
}

/// The in-tree corpus's fixtures.
pub fn fixtures() -> Vec<(String, Fixture)> {
    fixtures_of(&Corpus::read(&fixtures_dir()).unwrap()).unwrap()
}

pub fn in_tree_profile() -> PathBuf {
    root().join("conformance/implementations/ip-masq-agent-rs.yaml")
}

/// A record as a trial writes it.
pub fn record(
    fixture: &str,
    backend: IptablesBackend,
    status: CaseState,
    features: &[Feature],
) -> Record {
    let failed = matches!(status, CaseState::Failed | CaseState::KnownFailure);
    Record {
        trial: format!("{fixture}::{}", backend.name()),
        fixture: fixture.into(),
        backend,
        state: status,
        headline: match status {
            CaseState::Passed => String::new(),
            CaseState::NotApplicable => "not applicable: x".into(),
            _ => "step 3 (wait): x".into(),
        },
        detail: String::new(),
        reason: (status == CaseState::KnownFailure).then(|| "known".into()),
        features: features.to_vec(),
        counts_for: None,
        skipped_steps: Vec::new(),
        failing_step: failed.then_some(3),
        reload_latencies: vec![],
        message: String::new(),
        tables: vec![],
        duration: Duration::from_millis(12),
        phases: vec![],
        unstable: None,
        measurements: Default::default(),
    }
}

/// The records of a whole run of the in-tree corpus against `profile`: each case in the
/// state `state` gives it (`None`: what the profile makes of it, passed if it can run).
pub fn whole_run(
    profile: &Profile,
    state: impl Fn(&str, &Fixture) -> Option<CaseState>,
) -> Vec<Record> {
    let mut out = Vec::new();
    for (name, fixture) in fixtures() {
        for b in IptablesBackend::ALL {
            let s = state(&name, &fixture).unwrap_or_else(|| {
                if profile.first_unsupported(&fixture.features).is_some() {
                    CaseState::Unsupported
                } else if fixture.inapplicable(profile.listings, false).is_some() {
                    CaseState::NotApplicable
                } else {
                    CaseState::Passed
                }
            });
            out.push(record(&name, b, s, &fixture.features));
        }
    }
    out
}

/// A report of `records` as a run of `profile_path` would write it, covering what
/// `coverage` says; every trial of `records` is planned.
pub fn report_with(profile_path: &Path, records: &[Record], coverage: Coverage) -> Report {
    let text = std::fs::read_to_string(profile_path).unwrap();
    let profile = Profile::from_text(profile_path, &text).unwrap();
    let planned: Vec<Planned> = records
        .iter()
        .map(|r| Planned {
            fixture: r.fixture.clone(),
            backend: r.backend,
            features: r.features.clone(),
        })
        .collect();
    build(&RunFacts {
        profile: &profile,
        profile_path,
        profile_digest: &sha256(&text),
        commit: Some("0123456789abcdef0123456789abcdef01234567"),
        fixtures_digest: suite().digest.as_str(),
        coverage: &coverage,
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
    })
}

/// A full run of the in-tree agent's profile in which every case did what the profile
/// makes of it: the genuine report every refusal below is edited from.
pub fn genuine() -> serde_json::Value {
    let profile = Profile::load(&in_tree_profile()).unwrap();
    let records = whole_run(&profile, |_, _| None);
    let report = report_with(&in_tree_profile(), &records, Coverage::full());
    serde_json::to_value(report).unwrap()
}

/// The report of `records` (in-tree profile, full coverage claimed) as a value.
pub fn of_records(records: &[Record]) -> serde_json::Value {
    serde_json::to_value(report_with(&in_tree_profile(), records, Coverage::full())).unwrap()
}
