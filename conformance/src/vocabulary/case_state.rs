//! How a case ended: the one end-state enum of a trial's record, the report and the
//! summaries (a case not run because it reads several config files is `NotRun`; one
//! whose rules are of another kind, or need iptables in a run without it, is
//! `NotApplicable`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CaseState {
    Passed,
    Failed,
    /// Failed, as the profile's `expected_failures` says it does.
    KnownFailure,
    /// Not run: it needs a feature the profile does not claim.
    Unsupported,
    /// Not run: the run was filtered, or could not run it here.
    NotRun,
    /// Not run: its steps act on rules of a kind the implementation does not keep
    /// (docs/validating-an-implementation.md §6); the reason says which.
    NotApplicable,
}

impl CaseState {
    /// The word the report's JSON writes (`known-failure`), which every message prints.
    pub fn word(self) -> &'static str {
        match self {
            CaseState::Passed => "passed",
            CaseState::Failed => "failed",
            CaseState::KnownFailure => "known-failure",
            CaseState::Unsupported => "unsupported",
            CaseState::NotRun => "not-run",
            CaseState::NotApplicable => "not-applicable",
        }
    }

    /// The name `--timings` lines have always given the state.
    pub fn timing_name(self) -> &'static str {
        match self {
            CaseState::Passed => "Passed",
            CaseState::Failed => "Failed",
            CaseState::KnownFailure => "KnownFailure",
            CaseState::Unsupported => "Unsupported",
            CaseState::NotRun => "Skipped",
            CaseState::NotApplicable => "Inapplicable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CaseState;

    #[test]
    fn words_are_the_json_ones() {
        for s in [
            CaseState::Passed,
            CaseState::Failed,
            CaseState::KnownFailure,
            CaseState::Unsupported,
            CaseState::NotRun,
            CaseState::NotApplicable,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.word());
        }
    }
}
