//! `masq-conformance compare REPORT...`: implementations side by side — features as rows,
//! implementations as columns, a cell per state — as Markdown (for a job summary or a
//! README, [`markdown`]) and as one self-contained HTML page (no network, no external
//! assets, [`html`]); and the regressions of a report against a baseline.
//!
//! What both outputs share lives here: the cells' words, the titles (a commit shortened
//! to 12 characters), and the cases where the reports disagree, grouped so that 100
//! trials with one cause read as one row (issue 21): one row per fixture with its
//! backends merged when they agree, and fixtures that every implementation treats alike
//! (same states, same causes) in one row.

use std::collections::{BTreeMap, BTreeSet};

use super::{causes_of, CaseState, FeatureState, Report, RunVerdict};

mod html;
mod markdown;

pub use html::html;
pub use markdown::markdown;

/// How many characters of a commit badges and headers show.
pub const SHORT_COMMIT: usize = 12;

fn feature_icon(state: FeatureState) -> &'static str {
    match state {
        FeatureState::Passed => "✅",
        FeatureState::Partial => "⚠️",
        FeatureState::Failed => "❌",
        FeatureState::Unsupported => "➖",
        FeatureState::NotRun => "⏸",
        FeatureState::Unobserved => "❔",
        FeatureState::Inconclusive => "❓",
    }
}

fn case_icon(state: CaseState) -> &'static str {
    match state {
        CaseState::Passed => "✅",
        CaseState::KnownFailure => "⚠️",
        CaseState::Failed => "❌",
        CaseState::Unsupported => "➖",
        CaseState::NotRun => "⏸",
        CaseState::NotApplicable => "⏭",
        CaseState::Unstable => "🎲",
        CaseState::Inconclusive => "❓",
    }
}

/// A version or commit as badges and headers show it: a commit id (hex) cut to
/// [`SHORT_COMMIT`] characters, anything else as written.
pub fn short_commit(v: &str) -> &str {
    if v.len() > SHORT_COMMIT && crate::vocabulary::identifiers::is_commit(v) {
        &v[..SHORT_COMMIT]
    } else {
        v
    }
}

/// The implementation and its version, as written (escape it for the output).
fn title(r: &Report) -> String {
    match &r.implementation.version {
        Some(v) => format!("{} {}", r.implementation.name, short_commit(v)),
        None => r.implementation.name.clone(),
    }
}

/// How bad a feature's failures are: `Most` when more than half of its cases that were
/// judged failed, are known failures or unstable, `Few` when some did, `None` when none
/// did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    None,
    Few,
    Most,
}

/// The severity of a feature's counts.
pub fn severity(counts: &super::Summary) -> Severity {
    let bad = counts.failed + counts.known_failures + counts.unstable;
    let ran = bad + counts.passed;
    if bad == 0 {
        Severity::None
    } else if bad * 2 > ran {
        Severity::Most
    } else {
        Severity::Few
    }
}

/// One implementation's result for a fixture: one (backend, state, cause) per backend, or
/// one entry with no backend when every backend ended alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell(pub Vec<(Option<String>, CaseState, Option<String>)>);

/// The cases of `report` (`fixture::backend` → (state, cause)).
fn outcomes(report: &Report) -> BTreeMap<String, (CaseState, Option<String>)> {
    let mut cause: BTreeMap<String, String> = BTreeMap::new();
    for c in causes_of(report) {
        for case in c.cases {
            cause.insert(case, c.cause.clone());
        }
    }
    report
        .cases
        .iter()
        .map(|c| {
            let name = format!("{}::{}", c.fixture, c.backend);
            let why = cause.get(&name).cloned().or_else(|| match c.state {
                CaseState::Passed => None,
                // "unsupported: needs ..." under the word unsupported: said once.
                s => c.reason.as_deref().map(|r| {
                    let spoken = s.word().replace('-', " ");
                    r.strip_prefix(&format!("{spoken}: "))
                        .unwrap_or(r)
                        .to_string()
                }),
            });
            (name, (c.state, why))
        })
        .collect()
}

/// A fixture's cell in one report: its backends merged when they ended alike.
fn cell(
    outcomes: &BTreeMap<String, (CaseState, Option<String>)>,
    fixture: &str,
    backends: &[String],
) -> Cell {
    let per: Vec<(Option<String>, CaseState, Option<String>)> = backends
        .iter()
        .filter_map(|b| {
            let (s, c) = outcomes.get(&format!("{fixture}::{b}"))?;
            Some((Some(b.clone()), *s, c.clone()))
        })
        .collect();
    let alike = per
        .windows(2)
        .all(|w| (w[0].1, &w[0].2) == (w[1].1, &w[1].2));
    if alike && per.len() == backends.len() {
        Cell(
            per.into_iter()
                .take(1)
                .map(|(_, s, c)| (None, s, c))
                .collect(),
        )
    } else {
        Cell(per)
    }
}

/// A row of the disagreement list: the fixtures every report treats alike, and each
/// report's cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisagreementRow {
    pub fixtures: Vec<String>,
    pub cells: Vec<Cell>,
}

/// The fixtures whose states differ between the reports (on any backend), grouped: one
/// row per distinct set of cells, most fixtures first.
pub fn disagreements(reports: &[Report]) -> Vec<DisagreementRow> {
    let all: Vec<_> = reports.iter().map(outcomes).collect();
    let mut fixtures: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in reports {
        for c in &r.cases {
            fixtures
                .entry(c.fixture.clone())
                .or_default()
                .insert(c.backend.clone());
        }
    }
    let mut rows: Vec<DisagreementRow> = Vec::new();
    for (fixture, backends) in fixtures {
        let backends: Vec<String> = backends.into_iter().collect();
        let differ = backends.iter().any(|b| {
            let states: Vec<Option<CaseState>> = all
                .iter()
                .map(|o| o.get(&format!("{fixture}::{b}")).map(|(s, _)| *s))
                .collect();
            states.windows(2).any(|w| w[0] != w[1])
        });
        if !differ {
            continue;
        }
        let cells: Vec<Cell> = all.iter().map(|o| cell(o, &fixture, &backends)).collect();
        match rows.iter_mut().find(|r| r.cells == cells) {
            Some(r) => r.fixtures.push(fixture),
            None => rows.push(DisagreementRow {
                fixtures: vec![fixture],
                cells,
            }),
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.fixtures.len()));
    rows
}

/// Cases that passed in `baseline` and do not pass in `current`.
pub fn regressions(baseline: &Report, current: &Report) -> Vec<String> {
    let now = outcomes(current);
    baseline
        .cases
        .iter()
        .filter(|b| b.state == CaseState::Passed)
        .filter_map(|b| {
            let name = format!("{}::{}", b.fixture, b.backend);
            match now.get(&name).map(|(s, _)| *s) {
                Some(CaseState::Passed) => None,
                Some(state) => Some(format!(
                    "{name}: passed in the baseline, {} now",
                    state.word()
                )),
                None => Some(format!("{name}: passed in the baseline, missing now")),
            }
        })
        .collect()
}

/// A shields.io endpoint document for a report's verdict (a commit shortened).
pub fn badge(report: &Report) -> String {
    let message = report.verdict.word();
    let color = match report.verdict {
        RunVerdict::Conformant => "brightgreen",
        RunVerdict::PartiallyConformant => "yellow",
        RunVerdict::NonConformant => "red",
        RunVerdict::Incomplete | RunVerdict::PartialRun => "lightgrey",
    };
    serde_json::json!({
        "schemaVersion": 1,
        "label": "ip-masq-agent conformance",
        "message": match &report.implementation.version {
            Some(v) => format!("{message} ({})", short_commit(v)),
            None => message.to_string(),
        },
        "color": color,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_commits_are_shortened() {
        let c = "1715531419582d0537128f663424459ad9441fc0";
        assert_eq!(short_commit(c), "171553141958");
        assert_eq!(short_commit("v2.12.2"), "v2.12.2");
        assert_eq!(short_commit("1715531"), "1715531");
    }

    #[test]
    fn severity_is_the_share_of_cases_that_did_not_pass() {
        let s = |passed, failed, known_failures| super::super::Summary {
            passed,
            failed,
            known_failures,
            ..Default::default()
        };
        assert_eq!(severity(&s(54, 0, 0)), Severity::None);
        assert_eq!(severity(&s(52, 2, 0)), Severity::Few);
        assert_eq!(severity(&s(4, 0, 14)), Severity::Most);
        assert_eq!(severity(&s(1, 1, 0)), Severity::Few);
        assert_eq!(severity(&s(0, 1, 0)), Severity::Most);
    }
}
