//! Failures grouped by root cause (issue 21): the cases that share a known-failure reason,
//! or the same first failing message, are one cause, so that one bug reads as one line in
//! the closing lines, the job summary, the report and the compare page, not as 40.
//!
//! "The same message" is the first line of a failure with what varies between cases taken
//! out: the step number, durations and counts, the destination cell it was first seen in,
//! and how many more cells differ. An exit status and addresses are kept: they tell causes
//! apart.
//!
//! Unstable and inconclusive cases are grouped the same way: an unstable case by the
//! profile's reason when it lists it, else by the first failing message among its
//! repeats (what goes wrong, sometimes); an inconclusive one by its message.

use super::Record;
use crate::vocabulary::{CaseState, Instability, IptablesBackend};

/// One root cause and the trials it explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCause {
    /// `Failed`, `KnownFailure`, `Unstable` or `Inconclusive`.
    pub state: CaseState,
    /// The known-failure reason, or the normalised first failing message.
    pub cause: String,
    /// The trials (`fixture::backend`), sorted.
    pub trials: Vec<String>,
}

/// The cause of one failing (or known-failing) trial; `None` for any other state.
pub fn cause_of(state: CaseState, reason: Option<&str>, headline: &str) -> Option<String> {
    match state {
        CaseState::KnownFailure => Some(match reason.map(str::trim) {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => first_message(headline),
        }),
        CaseState::Failed | CaseState::Inconclusive => Some(first_message(headline)),
        _ => None,
    }
}

/// The cause of an unstable case: the profile's reason when it lists the case, else the
/// first failing message among its repeats, else the first cell that differed (with what
/// varies taken out), else its headline's.
pub fn unstable_cause(
    reason: Option<&str>,
    unstable: Option<&Instability>,
    headline: &str,
) -> String {
    if let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) {
        return r.to_string();
    }
    let failed = unstable.and_then(|u| {
        u.repeats
            .iter()
            .find_map(|r| r.strip_prefix("failed: "))
            .map(|f| format!("sometimes: {}", first_message(f)))
    });
    let cell = || {
        let cell = unstable?.differing_cells.first()?;
        // "step 2: internet/udp: a | b": the step and the cell's name vary by fixture.
        let outcomes = cell.rsplit_once(": ").map_or(cell.as_str(), |(_, o)| o);
        Some(format!(
            "outcomes differ between repeats: {}",
            numbers_out(outcomes)
        ))
    };
    failed
        .or_else(cell)
        .unwrap_or_else(|| first_message(headline))
}

/// The failures and known failures of `records` grouped by cause: most trials first, then
/// failures before known failures, then by cause.
pub fn root_causes(records: &[Record]) -> Vec<RootCause> {
    group(records.iter().filter_map(|r| {
        let cause = match r.state {
            CaseState::Unstable => {
                unstable_cause(r.reason.as_deref(), r.unstable.as_ref(), &r.headline)
            }
            s => cause_of(s, r.reason.as_deref(), &r.headline)?,
        };
        Some((r.state, cause, r.trial.clone()))
    }))
}

/// Groups `(state, cause, trial)` triples (shared with the report's fallback for reports
/// written before causes were recorded).
pub fn group(items: impl IntoIterator<Item = (CaseState, String, String)>) -> Vec<RootCause> {
    let mut out: Vec<RootCause> = Vec::new();
    for (state, cause, trial) in items {
        match out
            .iter_mut()
            .find(|c| c.state == state && c.cause == cause)
        {
            Some(c) => c.trials.push(trial),
            None => out.push(RootCause {
                state,
                cause,
                trials: vec![trial],
            }),
        }
    }
    for c in &mut out {
        c.trials.sort();
        c.trials.dedup();
    }
    out.sort_by(|a, b| {
        b.trials
            .len()
            .cmp(&a.trials.len())
            .then((a.state != CaseState::Failed).cmp(&(b.state != CaseState::Failed)))
            .then(a.cause.cmp(&b.cause))
    });
    out
}

/// Trials by fixture, backends merged: `a` when it is on every backend, `a (nft)` when
/// only on some.
pub fn fixtures_text(trials: &[String]) -> String {
    by_fixture(trials)
        .into_iter()
        .map(|(fixture, backends)| {
            if backends.len() >= IptablesBackend::ALL.len() {
                fixture
            } else {
                format!("{fixture} ({})", backends.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Trials (`fixture::backend`) as (fixture, its backends), in order of first appearance.
pub fn by_fixture(trials: &[String]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in trials {
        let (fixture, backend) = t.rsplit_once("::").unwrap_or((t, ""));
        match out.iter_mut().find(|(f, _)| f == fixture) {
            Some((_, b)) => b.push(backend.to_string()),
            None => out.push((fixture.to_string(), vec![backend.to_string()])),
        }
    }
    out
}

/// The first line of a failure with what varies between cases taken out (module doc).
pub fn first_message(headline: &str) -> String {
    let line = headline.lines().next().unwrap_or("").trim();
    // "step 4 (snapshot): ..." → "snapshot: ...": the step's kind, not its number.
    let line = match line
        .strip_prefix("step ")
        .and_then(|rest| rest.split_once(" ("))
        .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        .and_then(|(_, rest)| rest.split_once("): "))
    {
        Some((kind, msg)) => format!("{kind}: {msg}"),
        None => line.to_string(),
    };
    // "...; the table was:" introduces a dump (lines below): the clause before it says it.
    let line = match line.strip_suffix(':').and_then(|l| l.rsplit_once("; ")) {
        Some((before, _)) => before.to_string(),
        None => line,
    };
    // "(and 8 more cells)" says how far it spread, not why.
    let line = match line.find(" (and ") {
        Some(i) if line[i..].ends_with(" more cells)") => line[..i].to_string(),
        _ => line,
    };
    // "rfc1918-10/udp expected X, got Y": the cell it was first seen in varies by fixture.
    let line = match line.split_once(": ") {
        Some((kind, msg)) => match msg.split_once(' ') {
            Some((cell, rest)) if cell.contains('/') && rest.starts_with("expected ") => {
                format!("{kind}: {rest}")
            }
            _ => line,
        },
        None => line,
    };
    numbers_out(&line)
}

/// Replaces each standalone number (digits with at most one dot, an optional `s`/`ms`
/// unit) by `N`, and `port-<digits>` by `port-N`; keeps an exit status, and addresses
/// (two dots or more), CIDRs and names with digits in them (`rfc1918-10`, `IPv4`).
fn numbers_out(line: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || "._/-".contains(c);
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if !is_word(c) {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let end = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        // A sentence's full stop is not part of the number.
        let (word, stop) = match word.strip_suffix('.') {
            Some(w) if !w.is_empty() => (w, "."),
            _ => (word, ""),
        };
        let digits = word.trim_end_matches("ms").trim_end_matches('s');
        let number = !digits.is_empty()
            && digits.starts_with(|c: char| c.is_ascii_digit())
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && digits.matches('.').count() <= 1;
        if number && !out.ends_with("status: ") {
            out.push('N');
            out.push_str(&word[digits.len()..]);
        } else {
            out.push_str(&ports_out(word));
        }
        out.push_str(stop);
        rest = tail;
    }
    out
}

/// `port-62293-not-in-to-ports` → `port-N-not-in-to-ports`: a port picked at random.
fn ports_out(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find("port-") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let n = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if n > 0 {
            out.push('N');
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_keeps_the_cause_and_drops_what_varies() {
        let cases = [
            (
                "step 6 (wait): did not read the config published at step 5 within 10.3s (read it 0 of 1 times)",
                "wait: did not read the config published at step N within Ns (read it N of N times)",
            ),
            (
                "step 2 (wait): did not read the config published at step 1 within 10.5s (read it 0 of 2 times)",
                "wait: did not read the config published at step N within Ns (read it N of N times)",
            ),
            (
                "step 4 (snapshot): rfc1918-10/udp expected not-masqueraded, got masqueraded (and 8 more cells)",
                "snapshot: expected not-masqueraded, got masqueraded",
            ),
            (
                "step 4 (snapshot): first-entry/udp expected not-masqueraded, got masqueraded (and 5 more cells)",
                "snapshot: expected not-masqueraded, got masqueraded",
            ),
            (
                "step 4 (snapshot): rfc1918-10/udp expected not-masqueraded, got masqueraded!port-62293-not-in-to-ports (and 13 more cells)",
                "snapshot: expected not-masqueraded, got masqueraded!port-N-not-in-to-ports",
            ),
            (
                "step 2 (wait): rfc1918-10 kept after 3s",
                "wait: rfc1918-10 kept after Ns",
            ),
            (
                "step 5 (wait): the implementation exited (exit status: 101)",
                "wait: the implementation exited (exit status: 101)",
            ),
            (
                "step 2 (wait): timed out after 15.028380101s waiting for chain FOO; the table was:\n*nat\n",
                "wait: timed out after Ns waiting for chain FOO",
            ),
            (
                "step 3 (probe): 10.0.0.0/8 refused by IPv4 tables after 250ms.",
                "probe: 10.0.0.0/8 refused by IPv4 tables after Nms.",
            ),
        ];
        for (headline, want) in cases {
            assert_eq!(first_message(headline), want, "{headline}");
        }
    }

    #[test]
    fn a_known_failure_is_grouped_by_its_reason_a_failure_by_its_message() {
        let items = vec![
            (
                CaseState::Failed,
                first_message("step 4 (snapshot): a/udp expected x, got y (and 2 more cells)"),
                "b::nft".to_string(),
            ),
            (
                CaseState::Failed,
                first_message("step 2 (snapshot): z/tcp expected x, got y"),
                "a::legacy".to_string(),
            ),
            (
                CaseState::KnownFailure,
                cause_of(CaseState::KnownFailure, Some("why"), "step 1 (wait): h").unwrap(),
                "c::nft".to_string(),
            ),
            (
                CaseState::Failed,
                first_message("step 5 (wait): the implementation exited (exit status: 1)"),
                "d::nft".to_string(),
            ),
        ];
        let g = group(items);
        assert_eq!(g.len(), 3, "{g:?}");
        assert_eq!(g[0].cause, "snapshot: expected x, got y");
        assert_eq!(g[0].trials, vec!["a::legacy", "b::nft"]);
        assert_eq!(g[0].state, CaseState::Failed);
        // Equal sizes: failures first.
        assert_eq!(g[1].state, CaseState::Failed);
        assert_eq!(g[2].cause, "why");
        assert_eq!(cause_of(CaseState::Passed, None, ""), None);
        let trials = ["a::legacy", "a::nft", "b::nft"].map(String::from);
        assert_eq!(fixtures_text(&trials), "a, b (nft)");
        assert_eq!(
            cause_of(CaseState::KnownFailure, Some(" "), "step 1 (wait): h").unwrap(),
            "wait: h"
        );
    }

    #[test]
    fn an_unstable_case_is_grouped_by_its_reason_or_what_sometimes_fails() {
        let u = Instability {
            listed: false,
            repeats: vec![
                "passed".into(),
                "failed: step 4 (snapshot): rfc1918-10/udp expected not-masqueraded, got masqueraded (and 3 more cells)".into(),
            ],
            differing_cells: vec!["step 4: rfc1918-10/udp: not-masqueraded | masqueraded".into()],
        };
        assert_eq!(
            unstable_cause(None, Some(&u), "unstable: its 2 repeats disagree"),
            "sometimes: snapshot: expected not-masqueraded, got masqueraded"
        );
        assert_eq!(
            unstable_cause(Some("map order"), Some(&u), "h"),
            "map order"
        );
        let cells_only = Instability {
            repeats: vec!["passed".into(), "passed".into()],
            ..u.clone()
        };
        assert_eq!(
            unstable_cause(None, Some(&cells_only), "h"),
            "outcomes differ between repeats: not-masqueraded | masqueraded"
        );
        assert_eq!(
            cause_of(
                CaseState::Inconclusive,
                None,
                "step 6 (wait): inconclusive: this wait rests on reads the runner cannot see, and the config before the one published at step 5 went unread for 3.1s"
            )
            .unwrap(),
            "wait: inconclusive: this wait rests on reads the runner cannot see, and the config before the one published at step N went unread for Ns"
        );
    }
}
