//! The published report of a run: who was tested, on what, with which suite, every case
//! and feature, the verdict, and the command that reproduces it — versioned, with a JSON
//! Schema (`docs/report.schema.json`), and verifiable by the suite itself
//! ([`verify`]). The verdict and the per-feature results are computed here and nowhere
//! else, so that a report and its verification cannot disagree on the rules.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::vocabulary::{CaseState, Feature, Instability, Level};

pub mod build;
pub mod comparison;
pub mod environment;
pub mod measurements;
pub mod suite_cases;
pub mod verify;

/// The report format's version. v2 (issue 20): `coverage`; digests written
/// `sha256:<hex>` and taken of what was judged (read before the run); the feature state
/// `unobserved` and the verdict `partial-run`. v3 (issue 21): the case and feature state
/// `inconclusive` and its count, `measurements` (the run's and each case's), and causes
/// for unstable and inconclusive cases too. A v2 report is a v3 one without them.
pub const API_VERSION: &str = "masq-conformance.report/v3";

/// The versions this suite reads: its own, and v2 (written before `inconclusive`).
pub const READS: [&str; 2] = [API_VERSION, "masq-conformance.report/v2"];

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
    /// Whether the run covered the whole suite, and what restricted it if not.
    pub coverage: Coverage,
    /// The command that reproduces the run.
    pub command: String,
    pub features: Vec<FeatureResult>,
    pub cases: Vec<CaseRecord>,
    /// The failures and known failures grouped by root cause (the same known-failure
    /// reason, or the same first failing message): one bug, one entry. Absent from
    /// reports written before issue 21, which still load ([`causes_of`] groups them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causes: Option<Vec<Cause>>,
    /// The implementation's read period and read-to-action delay over the run, and what
    /// the waits made of them (absent when nothing was measured, and from v2 reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurements: Option<measurements::Measurements>,
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
    /// The suite's version: the masq-conformance crate's version (semver).
    pub version: String,
    /// The suite's git commit, when known.
    pub commit: Option<String>,
    /// `sha256:` + hex over the fixtures and snapshots judged against (names and bytes,
    /// sorted), as read before any implementation started.
    pub fixtures_digest: String,
}

/// Whether a run covered the whole suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub state: CoverageState,
    /// What restricted a partial run (empty for a full one): another `--fixtures`, name
    /// filters, `--skip`, a backend left out, snapshots written by the run.
    pub restricted_by: Vec<String>,
}

/// How much of the suite a run covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CoverageState {
    /// Every fixture of the suite's own corpus on every backend the suite defines.
    Full,
    /// Less, or something else: never a verdict on conformance.
    Partial,
}

impl Coverage {
    /// A run of the whole suite.
    pub fn full() -> Self {
        Coverage {
            state: CoverageState::Full,
            restricted_by: Vec::new(),
        }
    }

    /// Full when nothing restricted the run, else partial with the reasons.
    pub fn restricted_by(reasons: Vec<String>) -> Self {
        Coverage {
            state: if reasons.is_empty() {
                CoverageState::Full
            } else {
                CoverageState::Partial
            },
            restricted_by: reasons,
        }
    }

    pub fn is_full(&self) -> bool {
        self.state == CoverageState::Full
    }
}

/// The profile used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInfo {
    pub path: String,
    /// `sha256:` + hex of the profile file, as read before the run.
    pub digest: String,
    /// The capabilities the implementation ran with (docs/threat-model.md): NET_ADMIN
    /// and NET_RAW unless its profile granted more.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The per-case limits it ran under, and how this machine enforced them.
    #[serde(default)]
    pub limits: Option<LimitsInfo>,
    /// `adapter` when the config did not come from the file at `config_path` but was
    /// rendered into flags and environment, a restart per change (absent: the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_source: Option<String>,
    /// `always` or `never` when `--enable-ipv6` does not switch its IPv6 (absent: it does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<String>,
}

/// A run's per-case limits (the profile's `limits`, or the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsInfo {
    pub pids: u32,
    pub memory_bytes: u64,
    pub output_bytes: u64,
    /// `cgroup-v2`, `cgroup-v1` or `rlimits` (which cannot bound uid 0's processes).
    pub mechanism: String,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRecord {
    pub fixture: String,
    pub backend: String,
    pub state: CaseState,
    pub features: Vec<Feature>,
    /// The features this result counts for, when not all of `features`: a failure's are
    /// those of its failing step and cells; a pass with skipped steps leaves out the
    /// feature they show (docs/validating-an-implementation.md, "Which feature a failure
    /// counts against"). Absent: all of them (and in reports written before issue 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts_for: Option<Vec<Feature>>,
    /// Steps not judged because they show a feature the profile does not claim
    /// (`reference-bug-compat`): recorded, never a pass of that feature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_steps: Vec<usize>,
    pub duration_ms: u64,
    pub failing_step: Option<usize>,
    /// What failed, or why it is known to fail, or why it did not run.
    pub reason: Option<String>,
    /// Reload latency, when the case measured it (`reload-latency` steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_latency: Option<Latency>,
    /// For an `unstable` case: whether the profile lists it, what each repeat did, and
    /// the outcome cells that differed between repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstable: Option<Instability>,
    /// What the runner measured of the implementation's timing in this case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurements: Option<measurements::Measurements>,
}

impl CaseRecord {
    /// Whether this case's result counts in `feature`'s tallies.
    pub fn counts_for(&self, feature: Feature) -> bool {
        match &self.counts_for {
            Some(fs) => fs.contains(&feature),
            None => self.features.contains(&feature),
        }
    }

    /// An unstable case the profile does not list: the run is `non-conformant`.
    pub fn unlisted_unstable(&self) -> bool {
        self.state == CaseState::Unstable && !self.unstable.as_ref().is_some_and(|u| u.listed)
    }
}

/// One root cause and the cases it explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cause {
    /// The known-failure reason, or the first failing message with what varies between
    /// cases (step numbers, durations, the first differing cell) taken out.
    pub cause: String,
    /// `failed`, `known-failure`, `unstable` or `inconclusive` (v2 reports: the first
    /// two only).
    pub state: CaseState,
    /// The cases (`fixture::backend`), sorted.
    pub cases: Vec<String>,
}

impl From<crate::records::causes::RootCause> for Cause {
    fn from(c: crate::records::causes::RootCause) -> Self {
        Cause {
            cause: c.cause,
            state: c.state,
            cases: c.trials,
        }
    }
}

/// A report's causes: as recorded, or, for a report written before they were, grouped
/// from its case records (a known failure's reason is written `REASON — HEADLINE`).
pub fn causes_of(report: &Report) -> Vec<Cause> {
    if let Some(c) = &report.causes {
        return c.clone();
    }
    use crate::records::causes::{cause_of, group, unstable_cause};
    group(report.cases.iter().filter_map(|c| {
        let text = c.reason.as_deref().unwrap_or("");
        let listed = c.unstable.as_ref().is_some_and(|u| u.listed);
        let (reason, headline) = match c.state {
            CaseState::KnownFailure => match text.split_once(" — ") {
                Some((r, h)) => (Some(r), h),
                None => (Some(text), text),
            },
            CaseState::Unstable if listed => match text.split_once(" — ") {
                Some((r, h)) => (Some(r), h),
                None => (Some(text), text),
            },
            _ => (None, text),
        };
        let cause = match c.state {
            CaseState::Unstable => unstable_cause(reason, c.unstable.as_ref(), headline),
            s => cause_of(s, reason, headline)?,
        };
        Some((c.state, cause, format!("{}::{}", c.fixture, c.backend)))
    }))
    .into_iter()
    .map(Cause::from)
    .collect()
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
    /// A core feature none of whose cases could be observed (each was not applicable to
    /// the implementation, e.g. healing under `listings: none`): it is claimed, as core
    /// features always are, and nothing shows it holds.
    Unobserved,
    /// Claimed, and a case of it could not be judged (`inconclusive`: its verdict rests
    /// on reads the runner could not see), none failed.
    Inconclusive,
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
    /// Unstable cases, listed or not (absent from reports written before repeats).
    #[serde(default)]
    pub unstable: usize,
    /// Cases that could not be judged (absent from v2 reports).
    #[serde(default)]
    pub inconclusive: usize,
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
    /// No unexpected failure, but a known failure (or a listed unstable case) in a core
    /// feature.
    PartiallyConformant,
    /// A case failed that was not expected to, or its repeats disagreed without the
    /// profile listing it as `unstable`.
    NonConformant,
    /// A case of a claimed feature did not run (nothing could run here, a case the
    /// profile cannot publish), could not be judged ([`CaseState::Inconclusive`]), or a
    /// core feature could not be observed ([`FeatureState::Unobserved`]): the report
    /// cannot say more.
    Incomplete,
    /// The run did not cover the whole suite ([`Coverage`]): it says nothing of
    /// conformance, whatever its cases did.
    PartialRun,
}

impl RunVerdict {
    /// The word the report's JSON writes (`non-conformant`): `verify-report`, the run's
    /// closing line, the page and the badge print this one, never the Rust name.
    pub fn word(self) -> &'static str {
        match self {
            RunVerdict::Conformant => "conformant",
            RunVerdict::PartiallyConformant => "partially-conformant",
            RunVerdict::NonConformant => "non-conformant",
            RunVerdict::Incomplete => "incomplete",
            RunVerdict::PartialRun => "partial-run",
        }
    }

    pub const ALL: [RunVerdict; 5] = [
        RunVerdict::Conformant,
        RunVerdict::PartiallyConformant,
        RunVerdict::NonConformant,
        RunVerdict::Incomplete,
        RunVerdict::PartialRun,
    ];
}

impl FeatureState {
    /// The word the report's JSON writes (`not-run`).
    pub fn word(self) -> &'static str {
        match self {
            FeatureState::Passed => "passed",
            FeatureState::Partial => "partial",
            FeatureState::Failed => "failed",
            FeatureState::Unsupported => "unsupported",
            FeatureState::NotRun => "not-run",
            FeatureState::Unobserved => "unobserved",
            FeatureState::Inconclusive => "inconclusive",
        }
    }
}

impl Summary {
    /// The cases that ran to an end of their own: every state but those not run.
    pub fn ran(&self) -> usize {
        self.passed + self.failed + self.known_failures + self.unstable + self.inconclusive
    }

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
                CaseState::Unstable => s.unstable += 1,
                CaseState::Inconclusive => s.inconclusive += 1,
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
            let of_feature = || cases.iter().filter(|c| c.counts_for(feature));
            let counts = Summary::of(of_feature());
            let unlisted_unstable = of_feature().any(CaseRecord::unlisted_unstable);
            let state = if !supported(feature) {
                FeatureState::Unsupported
            } else if counts.failed > 0 || unlisted_unstable {
                FeatureState::Failed
            } else if counts.not_run > 0 {
                // (A case unsupported for another of its features does not count here.)
                FeatureState::NotRun
            } else if counts.inconclusive > 0 {
                FeatureState::Inconclusive
            } else if counts.known_failures + counts.unstable > 0 {
                // (A listed unstable case is never counted as passed.)
                FeatureState::Partial
            } else if counts.passed == 0 && counts.unsupported + counts.not_applicable > 0 {
                // Every case of it also needs a feature the profile does not claim, or
                // does not apply: a core feature is then unobserved, never unsupported.
                match feature.level() {
                    Level::Core => FeatureState::Unobserved,
                    Level::Extended => FeatureState::Unsupported,
                }
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

/// The verdict, from the run's coverage, the cases and the feature results.
pub fn verdict(
    coverage: &Coverage,
    cases: &[CaseRecord],
    features: &[FeatureResult],
) -> RunVerdict {
    if !coverage.is_full() {
        return RunVerdict::PartialRun;
    }
    // An unstable case the profile does not list is an unexpected result, like a failure.
    if cases
        .iter()
        .any(|c| c.state == CaseState::Failed || c.unlisted_unstable())
        || features
            .iter()
            .any(|f| f.level == Level::Core && !f.supported)
    {
        return RunVerdict::NonConformant;
    }
    // A case nobody could judge is never taken as passed: the run cannot say more.
    let inconclusive = cases.iter().any(|c| c.state == CaseState::Inconclusive);
    if inconclusive
        || features.iter().any(|f| {
            f.supported
                && matches!(
                    f.state,
                    FeatureState::NotRun | FeatureState::Unobserved | FeatureState::Inconclusive
                )
        })
    {
        return RunVerdict::Incomplete;
    }
    // A listed unstable case of a core feature is treated as a known failure there: never
    // as a pass.
    let core_known = cases.iter().any(|c| {
        matches!(c.state, CaseState::KnownFailure | CaseState::Unstable)
            && Feature::ALL
                .iter()
                .any(|f| f.level() == Level::Core && c.counts_for(*f))
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
mod tests;
