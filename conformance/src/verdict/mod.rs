//! The published report of a run: who was tested, on what, with which suite, every case
//! and feature, the verdict, and the command that reproduces it — versioned, with a JSON
//! Schema (`docs/report.schema.json`), and verifiable by the suite itself
//! ([`verify`]). The verdict and the per-feature results are computed here and nowhere
//! else, so that a report and its verification cannot disagree on the rules.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::vocabulary::{CaseState, Feature, Level};

pub mod build;
pub mod comparison;
pub mod environment;
pub mod verify;

/// The report format's version.
pub const API_VERSION: &str = "masq-conformance.report/v1";

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub implementation: ImplementationInfo,
    pub suite: SuiteInfo,
    pub environment: environment::Environment,
    pub profile: ProfileInfo,
    /// The command that reproduces the run.
    pub command: String,
    pub features: Vec<FeatureResult>,
    pub cases: Vec<CaseRecord>,
    pub summary: Summary,
    pub verdict: RunVerdict,
}

/// Who was tested (from the profile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImplementationInfo {
    pub name: String,
    /// A tag or a commit, never a branch.
    pub version: Option<String>,
    pub url: Option<String>,
    pub contact: Option<String>,
}

/// Which suite judged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuiteInfo {
    pub version: String,
    /// The suite's git commit, when known.
    pub commit: Option<String>,
    /// SHA-256 over the fixtures and snapshots used (names and bytes, sorted).
    pub fixtures_digest: String,
}

/// The profile used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInfo {
    pub path: String,
    /// SHA-256 of the profile file.
    pub digest: String,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRecord {
    pub fixture: String,
    pub backend: String,
    pub state: CaseState,
    pub features: Vec<Feature>,
    pub duration_ms: u64,
    pub failing_step: Option<usize>,
    /// What failed, or why it is known to fail, or why it did not run.
    pub reason: Option<String>,
    /// Reload latency, when the case measured it (`reload-latency` steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_latency: Option<Latency>,
}

/// Publication to the first new flow with the new outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub publications: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What became of one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureState {
    /// Claimed, and every case of it passed.
    Passed,
    /// Claimed; its cases passed or are known failures.
    Partial,
    /// Claimed, and a case of it failed.
    Failed,
    /// Not claimed by the profile.
    Unsupported,
    /// Claimed, but a case of it did not run.
    NotRun,
}

/// One feature's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureResult {
    pub feature: Feature,
    pub level: Level,
    pub supported: bool,
    pub state: FeatureState,
    pub counts: Summary,
}

/// Counts of case states.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub known_failures: usize,
    pub unsupported: usize,
    pub not_run: usize,
    /// (Absent from reports written before listing kinds.)
    #[serde(default)]
    pub not_applicable: usize,
}

/// The verdict levels (docs/validating-an-implementation.md, "Verdicts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
// Named `Verdict` in the report schema, as before the rename.
#[schemars(rename = "Verdict")]
pub enum RunVerdict {
    /// Every case of every claimed feature ran and passed, known failures only outside
    /// the core features.
    Conformant,
    /// No unexpected failure, but a known failure in a core feature.
    PartiallyConformant,
    /// A case failed that was not expected to.
    NonConformant,
    /// A case of a claimed feature did not run (a filtered run, a missing backend): the
    /// report cannot say more.
    Incomplete,
}

impl Summary {
    /// Counts the states of `cases`.
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseRecord>) -> Self {
        let mut s = Summary::default();
        for c in cases {
            match c.state {
                CaseState::Passed => s.passed += 1,
                CaseState::Failed => s.failed += 1,
                CaseState::KnownFailure => s.known_failures += 1,
                CaseState::Unsupported => s.unsupported += 1,
                CaseState::NotRun => s.not_run += 1,
                CaseState::NotApplicable => s.not_applicable += 1,
            }
        }
        s
    }
}

/// Every feature's results, from the cases and the features claimed.
pub fn feature_results(
    cases: &[CaseRecord],
    supported: &dyn Fn(Feature) -> bool,
) -> Vec<FeatureResult> {
    Feature::ALL
        .iter()
        .map(|&feature| {
            let counts = Summary::of(cases.iter().filter(|c| c.features.contains(&feature)));
            let state = if !supported(feature) {
                FeatureState::Unsupported
            } else if counts.failed > 0 {
                FeatureState::Failed
            } else if counts.not_run > 0 {
                // (A case unsupported for another of its features does not count here.)
                FeatureState::NotRun
            } else if counts.known_failures > 0 {
                FeatureState::Partial
            } else if counts.passed == 0 && counts.unsupported + counts.not_applicable > 0 {
                // Every case of it also needs a feature the profile does not claim.
                FeatureState::Unsupported
            } else if counts.passed == 0 {
                FeatureState::NotRun
            } else {
                FeatureState::Passed
            };
            FeatureResult {
                feature,
                level: feature.level(),
                supported: supported(feature),
                state,
                counts,
            }
        })
        .collect()
}

/// The verdict, from the cases and the feature results.
pub fn verdict(cases: &[CaseRecord], features: &[FeatureResult]) -> RunVerdict {
    if cases.iter().any(|c| c.state == CaseState::Failed) {
        return RunVerdict::NonConformant;
    }
    if features
        .iter()
        .any(|f| f.supported && f.state == FeatureState::NotRun)
    {
        return RunVerdict::Incomplete;
    }
    let core_known = cases.iter().any(|c| {
        c.state == CaseState::KnownFailure && c.features.iter().any(|f| f.level() == Level::Core)
    });
    if core_known {
        RunVerdict::PartiallyConformant
    } else {
        RunVerdict::Conformant
    }
}

/// The report's JSON Schema (checked into the repository as docs/report.schema.json).
pub fn schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(Report)).expect("schema serialises")
}

/// Claimed features of a report, as its feature list says.
pub fn claimed(report: &Report) -> BTreeMap<Feature, bool> {
    report
        .features
        .iter()
        .map(|f| (f.feature, f.supported))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn case(fixture: &str, state: CaseState, features: &[Feature]) -> CaseRecord {
        CaseRecord {
            fixture: fixture.into(),
            backend: "legacy".into(),
            state,
            features: features.to_vec(),
            duration_ms: 1,
            failing_step: None,
            reason: None,
            reload_latency: None,
        }
    }

    #[test]
    fn verdict_levels() {
        let all = |_: Feature| true;
        let pass = vec![
            case("a", CaseState::Passed, &[Feature::Defaults]),
            case("b", CaseState::Passed, &Feature::ALL),
        ];
        let f = feature_results(&pass, &all);
        assert_eq!(verdict(&pass, &f), RunVerdict::Conformant);

        let mut extended_known = pass.clone();
        extended_known.push(case("c", CaseState::KnownFailure, &[Feature::ToPorts]));
        let f = feature_results(&extended_known, &all);
        assert_eq!(verdict(&extended_known, &f), RunVerdict::Conformant);
        assert_eq!(
            f.iter()
                .find(|r| r.feature == Feature::ToPorts)
                .unwrap()
                .state,
            FeatureState::Partial
        );

        let mut core_known = pass.clone();
        core_known.push(case("d", CaseState::KnownFailure, &[Feature::Healing]));
        let f = feature_results(&core_known, &all);
        assert_eq!(verdict(&core_known, &f), RunVerdict::PartiallyConformant);

        let mut failed = core_known.clone();
        failed.push(case("e", CaseState::Failed, &[Feature::Ipv6]));
        let f = feature_results(&failed, &all);
        assert_eq!(verdict(&failed, &f), RunVerdict::NonConformant);

        let mut filtered = pass.clone();
        filtered.push(case("f", CaseState::NotRun, &[Feature::Ipv6]));
        let f = feature_results(&filtered, &all);
        assert_eq!(verdict(&filtered, &f), RunVerdict::Incomplete);

        let no_ipv6 = |f: Feature| f != Feature::Ipv6;
        let mut unsupported = pass.clone();
        unsupported.push(case("g", CaseState::Unsupported, &[Feature::Ipv6]));
        unsupported[1].features.retain(|f| *f != Feature::Ipv6);
        let f = feature_results(&unsupported, &no_ipv6);
        assert_eq!(verdict(&unsupported, &f), RunVerdict::Conformant);
    }
}
