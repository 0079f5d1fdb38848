//! What a profile knows of an implementation's results before a run: its known failures
//! (`expected_failures`, each the whole case or pinned to a step, cells or a message) and
//! its nondeterministic cases (`unstable`). docs/validating-an-implementation.md §5.

use serde::Deserialize;

use crate::document::mismatch::{Cell, Difference};
use crate::vocabulary::{Direction, IptablesBackend, Proto};

/// The most repeats of a case a run may ask for (`repeats`, `--repeat`): each is a whole
/// case in a fresh sandbox, so the bound keeps a run's length within reach.
pub const MAX_REPEATS: u32 = 10;

/// A known failure of an implementation: the ratchet's entry. Without `step`, `cells` or
/// `message` it covers every failure of the case; with any of them, only the failures
/// that match all that it names (a failure outside them is a new failure).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// `fixture` (every backend) or `fixture::backend`.
    pub case: String,
    /// Why it fails (required): shown wherever the case is reported.
    pub reason: String,
    /// Where to read more (an issue, a document).
    #[serde(default)]
    pub link: Option<String>,
    /// The step (1-based, as failures name it) whose failure this covers.
    #[serde(default)]
    pub step: Option<usize>,
    /// The outcome cells whose difference this covers.
    #[serde(default)]
    pub cells: Vec<CellSelector>,
    /// A substring of the failure's line (`rules (iptables-save -t nat) after step 3
    /// differs`, `exited with status 255`) that this covers.
    #[serde(default)]
    pub message: Option<String>,
}

/// Outcome cells a known failure covers: a destination (the row's name, as tables and
/// failures show it, or its address), and optionally one protocol and one direction
/// (absent: all of them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellSelector {
    pub destination: String,
    #[serde(default)]
    pub protocol: Option<Proto>,
    #[serde(default)]
    pub direction: Option<Direction>,
}

impl CellSelector {
    fn matches(&self, cell: &Cell) -> bool {
        (self.destination == cell.destination || self.destination == cell.address)
            && self.protocol.is_none_or(|p| p == cell.proto)
            && self.direction.is_none_or(|d| d == cell.direction)
    }
}

/// How a profile may write an expected failure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawEntry")]
pub enum ExpectedFailureEntry {
    Full(ExpectedFailure),
    /// A bare case name, from profiles written before reasons were required.
    Name(String),
}

/// An entry as written: a name, or a mapping checked field by field (so that an error
/// names the entry and the key, not "no variant matched").
#[derive(Deserialize)]
#[serde(untagged)]
enum RawEntry {
    Name(String),
    Full(serde_json::Value),
}

impl TryFrom<RawEntry> for ExpectedFailureEntry {
    type Error = String;

    fn try_from(raw: RawEntry) -> Result<Self, String> {
        match raw {
            RawEntry::Name(n) => Ok(ExpectedFailureEntry::Name(n)),
            RawEntry::Full(v) => {
                let case = v
                    .get("case")
                    .and_then(|c| c.as_str())
                    .unwrap_or("(no case)")
                    .to_string();
                serde_json::from_value(v)
                    .map(ExpectedFailureEntry::Full)
                    .map_err(|e| format!("expected_failures: {case}: {e}"))
            }
        }
    }
}

impl ExpectedFailureEntry {
    pub fn case(&self) -> &str {
        match self {
            ExpectedFailureEntry::Full(f) => &f.case,
            ExpectedFailureEntry::Name(n) => n,
        }
    }

    /// The reason, with the link when there is one.
    pub fn reason(&self) -> String {
        match self {
            ExpectedFailureEntry::Full(f) => with_link(&f.reason, f.link.as_deref()),
            ExpectedFailureEntry::Name(_) => "no reason given in the profile".into(),
        }
    }

    /// Whether the entry covers `difference`: every one of its `step`, `cells` and
    /// `message` that it names matches (a whole-case entry covers everything).
    pub fn covers(&self, difference: &Difference) -> bool {
        let ExpectedFailureEntry::Full(f) = self else {
            return true;
        };
        if f.step.is_some_and(|s| difference.step != Some(s)) {
            return false;
        }
        if !f.cells.is_empty() {
            match &difference.cell {
                Some(cell) if f.cells.iter().any(|s| s.matches(cell)) => {}
                _ => return false,
            }
        }
        f.message
            .as_deref()
            .is_none_or(|m| difference.text.contains(m))
    }

    /// What the entry covers, in words (for a failure it does not cover).
    pub fn scope(&self) -> String {
        let ExpectedFailureEntry::Full(f) = self else {
            return "the whole case".into();
        };
        let mut parts = Vec::new();
        if let Some(s) = f.step {
            parts.push(format!("step {s}"));
        }
        if !f.cells.is_empty() {
            let cells: Vec<String> = f
                .cells
                .iter()
                .map(|c| {
                    let mut s = c.destination.clone();
                    s.push('/');
                    s.push_str(c.protocol.map_or("*", Proto::name));
                    if let Some(d) = c.direction {
                        s.push_str(&format!(" (from {})", d.name()));
                    }
                    s
                })
                .collect();
            parts.push(format!("cells {}", cells.join(", ")));
        }
        if let Some(m) = &f.message {
            parts.push(format!("messages containing {m:?}"));
        }
        match parts.is_empty() {
            true => "the whole case".into(),
            false => parts.join(", "),
        }
    }

    /// Why the entry is malformed, if it is.
    pub(super) fn problem(&self) -> Option<String> {
        let ExpectedFailureEntry::Full(f) = self else {
            return None;
        };
        let case = &f.case;
        if f.reason.trim().is_empty() {
            return Some(format!(
                "expected_failures: {case}: reason must say why it fails"
            ));
        }
        if f.step == Some(0) {
            return Some(format!(
                "expected_failures: {case}: step: 0 is not a step (steps count from 1, as failures name them)"
            ));
        }
        if f.message.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Some(format!(
                "expected_failures: {case}: message: an empty message would cover every failure; leave it out"
            ));
        }
        if let Some(c) = f.cells.iter().find(|c| c.destination.trim().is_empty()) {
            return Some(format!(
                "expected_failures: {case}: cells: {c:?}: destination must name a row"
            ));
        }
        None
    }
}

fn with_link(reason: &str, link: Option<&str>) -> String {
    match link {
        Some(link) => format!("{reason} ({link})"),
        None => reason.to_string(),
    }
}

/// A case the profile knows to be nondeterministic: reported `unstable` with its reason,
/// never as passed, and never failing the run by passing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnstableEntry {
    /// `fixture` (every backend) or `fixture::backend`.
    pub case: String,
    /// What varies, and why (required).
    pub reason: String,
    #[serde(default)]
    pub link: Option<String>,
}

impl UnstableEntry {
    /// The reason, with the link when there is one.
    pub fn reason(&self) -> String {
        with_link(&self.reason, self.link.as_deref())
    }
}

/// Checks a profile's entries and `repeats`: the first problem, naming the key.
pub(super) fn check(
    expected: &[ExpectedFailureEntry],
    unstable: &[UnstableEntry],
    repeats: Option<u32>,
) -> Result<(), String> {
    if let Some(problem) = expected.iter().find_map(|e| e.problem()) {
        return Err(problem);
    }
    if let Some(u) = unstable.iter().find(|u| u.reason.trim().is_empty()) {
        return Err(format!(
            "unstable: {}: reason must say what varies and why",
            u.case
        ));
    }
    match repeats {
        Some(n) if !(1..=MAX_REPEATS).contains(&n) => Err(format!(
            "repeats: {n} is not between 1 and {MAX_REPEATS} (each repeat is a whole case)"
        )),
        _ => Ok(()),
    }
}

/// Whether `case` (an entry's) names `fixture` on `backend`.
pub fn names(case: &str, fixture: &str, backend: IptablesBackend) -> bool {
    case == fixture
        || case
            .strip_prefix(fixture)
            .and_then(|rest| rest.strip_prefix("::"))
            .is_some_and(|b| b == backend.name())
}

/// The differences of a failure that none of `entries` covers.
pub fn uncovered<'a>(
    entries: &[&ExpectedFailureEntry],
    differences: &'a [Difference],
) -> Vec<&'a Difference> {
    differences
        .iter()
        .filter(|d| !entries.iter().any(|e| e.covers(d)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(dest: &str, proto: Proto, direction: Direction) -> Difference {
        Difference {
            step: Some(4),
            cell: Some(Cell {
                direction,
                destination: dest.into(),
                address: "10.96.0.10".into(),
                proto,
            }),
            text: format!("{dest}/{} expected x, got y", proto.name()),
        }
    }

    fn entry(yaml: &str) -> ExpectedFailureEntry {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn pinned_entries_cover_only_what_they_name() {
        let v6 = entry(
            "{case: a, reason: r, step: 4, cells: [{destination: v6-internet, protocol: udp}]}",
        );
        let d = cell("v6-internet", Proto::Udp, Direction::Pod);
        assert!(v6.covers(&d));
        assert!(v6.covers(&cell("v6-internet", Proto::Udp, Direction::World)));
        assert!(!v6.covers(&cell("v6-internet", Proto::Tcp, Direction::Pod)));
        assert!(!v6.covers(&cell("internet", Proto::Udp, Direction::Pod)));
        assert!(!v6.covers(&Difference {
            step: Some(3),
            ..d.clone()
        }));
        let listing = Difference {
            step: Some(4),
            cell: None,
            text: "rules (iptables-save -t nat) after step 4 differs".into(),
        };
        assert!(!v6.covers(&listing), "cells never cover a listing");
        let by_address =
            entry("{case: a, reason: r, cells: [{destination: 10.96.0.10, direction: world}]}");
        assert!(by_address.covers(&cell("x", Proto::Icmp, Direction::World)));
        assert!(!by_address.covers(&cell("x", Proto::Icmp, Direction::Pod)));
        let message = entry("{case: a, reason: r, message: iptables-save}");
        assert!(message.covers(&listing));
        assert!(!message.covers(&d));
        // Whole-case entries, old and new, cover everything.
        assert!(entry("a").covers(&listing));
        assert!(entry("{case: a, reason: r}").covers(&d));
        let diffs = vec![d, listing];
        assert_eq!(uncovered(&[&v6], &diffs).len(), 1);
        assert!(uncovered(&[&v6, &message], &diffs).is_empty());
        assert_eq!(v6.scope(), "step 4, cells v6-internet/udp");
    }

    #[test]
    fn entries_name_fixtures_or_trials() {
        assert!(names("a", "a", IptablesBackend::Nft));
        assert!(names("a::nft", "a", IptablesBackend::Nft));
        assert!(!names("a::nft", "a", IptablesBackend::Legacy));
        assert!(!names("ab", "a", IptablesBackend::Nft));
    }

    #[test]
    fn known_failures_match_fixture_or_trial() {
        let mut p = crate::profile::Profile::new("x", vec!["x".into()]);
        p.expected_failures = vec![
            ExpectedFailureEntry::Name("a".into()),
            ExpectedFailureEntry::Full(ExpectedFailure {
                case: "b::nft".into(),
                reason: "r".into(),
                link: None,
                step: None,
                cells: vec![],
                message: None,
            }),
        ];
        p.unstable = vec![UnstableEntry {
            case: "c::legacy".into(),
            reason: "r".into(),
            link: None,
        }];
        assert_eq!(
            p.expected_failures_of("a", IptablesBackend::Legacy).len(),
            1
        );
        assert_eq!(
            p.expected_failures_of("b", IptablesBackend::Nft)[0].reason(),
            "r"
        );
        assert!(p
            .expected_failures_of("b", IptablesBackend::Legacy)
            .is_empty());
        assert!(p.unstable_entry("c", IptablesBackend::Legacy).is_some());
        assert!(p.unstable_entry("c", IptablesBackend::Nft).is_none());
        assert!(p.unmatched_entries(&["a", "b", "c"]).is_empty());
        assert_eq!(p.unmatched_entries(&["a"]), vec!["b::nft", "c::legacy"]);
    }
}
