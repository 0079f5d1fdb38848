//! How a case ended: the one end-state enum of a trial's record, the report and the
//! summaries (a case not run because it reads several config files is `NotRun`; one
//! whose rules are of another kind, or need iptables in a run without it, is
//! `NotApplicable`; one whose repeats disagree, or that the profile lists as
//! nondeterministic, is `Unstable`; one whose verdict rests on reads the runner could
//! not observe is `Inconclusive`).

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
    /// Its repeats disagreed, or the profile lists it in `unstable`: never counted as
    /// passed. Listed, it does not fail the run; not listed, the run is not conformant
    /// (the record says which cells differed between repeats).
    Unstable,
    /// Its verdict rests on reads the runner cannot see (an absent file, a directory, a
    /// symlink loop), and the reads it could see showed a period longer than the
    /// config's hint without ever showing it whole: never passed, never failed, and the
    /// run is not conformant (`incomplete`) until the profile says `resync_period`.
    Inconclusive,
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
            CaseState::Unstable => "unstable",
            CaseState::Inconclusive => "inconclusive",
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
            CaseState::Unstable => "Unstable",
            CaseState::Inconclusive => "Inconclusive",
        }
    }
}

/// Why a case is [`CaseState::Unstable`]: whether the profile says so, and what its
/// repeats did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Instability {
    /// The profile lists the case in `unstable` (then it does not fail the run).
    pub listed: bool,
    /// How each repeat ended, in order: `passed`, or the first line of its failure.
    pub repeats: Vec<String>,
    /// Each outcome cell that differed between repeats: `step N: destination/protocol
    /// (from direction): outcome of repeat 1 | outcome of repeat 2 | ...`.
    pub differing_cells: Vec<String>,
}

impl Instability {
    /// Whether the repeats disagreed: some passed and some failed, or an outcome cell
    /// differed (failures worded differently, a timing in a message, are not a
    /// disagreement). A listed case may have agreed in this run.
    pub fn disagreed(&self) -> bool {
        let passed = |r: &String| r == "passed";
        !self.differing_cells.is_empty()
            || (self.repeats.iter().any(passed) && !self.repeats.iter().all(passed))
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
            CaseState::Unstable,
            CaseState::Inconclusive,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.word());
        }
    }
}
