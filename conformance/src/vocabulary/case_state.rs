//! How a case ended: the one end-state enum of the records, the report and its summary.

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
    /// Not run: the run was filtered, or could not run it here (several config files
    /// for an implementation that reads one).
    NotRun,
    /// Not run: its steps act on rules of a kind the implementation does not keep
    /// (docs/validating-an-implementation.md §6, the profile's `listings`), or on
    /// iptables in a run without it; the reason says which.
    NotApplicable,
}

impl CaseState {
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
