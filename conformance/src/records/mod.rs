//! The record of each trial of a run, the [`Recorder`] the trials write them to, and what
//! is written from them besides libtest's own lines: JUnit XML, timings and the GitHub
//! job summary.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::vocabulary::{CaseState, Instability, IptablesBackend, Outcome, OutcomeTable};

pub mod causes;
mod junit;
pub mod measured;

pub use junit::junit;

/// One trial's record.
#[derive(Debug, Clone)]
pub struct Record {
    pub trial: String,
    pub fixture: String,
    pub backend: IptablesBackend,
    pub state: CaseState,
    /// The first line of what went wrong (empty for a pass).
    pub headline: String,
    /// What differs, without the implementation's output (for grouping backends).
    pub detail: String,
    /// Why a known failure is known (the profile's reason).
    pub reason: Option<String>,
    /// The features the fixture exercises.
    pub features: Vec<crate::vocabulary::Feature>,
    /// The features the result counts for, when not all of `features`: a failure's are
    /// those of its failing step and cells (`Fixture::features_of_failure`).
    pub counts_for: Option<Vec<crate::vocabulary::Feature>>,
    /// Steps not judged: they show a feature the profile does not claim.
    pub skipped_steps: Vec<usize>,
    /// The step that failed, when one did.
    pub failing_step: Option<usize>,
    /// Reload latencies measured by the case (`reload-latency` steps).
    pub reload_latencies: Vec<Duration>,
    /// Everything a maintainer needs, for JUnit's body.
    pub message: String,
    pub tables: Vec<OutcomeTable>,
    pub duration: Duration,
    /// Where the case's time went (sandbox, implementation start, waits, probes, ...).
    pub phases: Vec<(&'static str, Duration)>,
    /// For an unstable case: listed or not, and what its repeats did.
    pub unstable: Option<Instability>,
    /// The implementation's read period and read-to-action delay, as measured.
    pub measurements: crate::case::observed::Measurements,
}

impl Record {
    /// Whether the record fails the run (its exit status): a failure, an unstable case
    /// the profile does not list, or a case that could not be judged.
    pub fn fails_run(&self) -> bool {
        match self.state {
            CaseState::Failed | CaseState::Inconclusive => true,
            CaseState::Unstable => !self.unstable.as_ref().is_some_and(|u| u.listed),
            _ => false,
        }
    }
}

/// One JSON object per line and trial: `{"trial": ..., "total_ms": ..., "phases_ms": {...}}`.
pub fn timings_jsonl(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| {
            let phases: serde_json::Map<String, serde_json::Value> = r
                .phases
                .iter()
                .map(|(p, d)| (p.to_string(), serde_json::json!(d.as_secs_f64() * 1e3)))
                .collect();
            serde_json::json!({
                "trial": r.trial,
                "status": r.state.timing_name(),
                "total_ms": r.duration.as_secs_f64() * 1e3,
                "phases_ms": phases,
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// Where a run's trials write their records as they finish: the suite hands one to every
/// trial and reads them all once the run is over (no process-wide state).
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Record>>>);

impl Recorder {
    /// Adds a record.
    pub fn record(&self, r: Record) {
        self.0.lock().expect("records poisoned").push(r);
    }

    /// Every record so far, in the order the trials finished.
    pub fn records(&self) -> Vec<Record> {
        self.0.lock().expect("records poisoned").clone()
    }
}

/// How many records have a status that satisfies `pred`.
pub fn count(records: &[Record], pred: impl Fn(CaseState) -> bool) -> usize {
    records.iter().filter(|r| pred(r.state)).count()
}

/// The cases in `state`, by fixture: `(fixture, backends, headline)`, the backends of a
/// fixture on one line ("legacy, nft (identically)") when they failed alike.
fn failures_by_fixture(records: &[Record], state: CaseState) -> Vec<(String, String, String)> {
    let mut rows: Vec<(&Record, Vec<&'static str>)> = Vec::new();
    let mut sorted: Vec<&Record> = records.iter().filter(|r| r.state == state).collect();
    sorted.sort_by(|a, b| (&a.fixture, a.backend).cmp(&(&b.fixture, b.backend)));
    for r in sorted {
        match rows.iter_mut().find(|(first, _)| {
            first.fixture == r.fixture && first.headline == r.headline && first.detail == r.detail
        }) {
            Some(row) => row.1.push(r.backend.name()),
            None => rows.push((r, vec![r.backend.name()])),
        }
    }
    rows.into_iter()
        .map(|(r, b)| {
            let backends = match b.len() {
                1 => b.join(", "),
                _ => format!("{} (identically)", b.join(", ")),
            };
            (r.fixture.clone(), backends, r.headline.clone())
        })
        .collect()
}

/// The suite's own closing lines, after libtest's: honest counts (a known failure is
/// neither a pass nor a failure), and the failures grouped where every backend of a
/// fixture fails the same way.
pub fn closing(
    implementation: &str,
    records: &[Record],
    conclusion: &libtest_mimic::Conclusion,
) -> String {
    let passed = count(records, |s| s == CaseState::Passed);
    let failed = count(records, |s| s == CaseState::Failed);
    let known = count(records, |s| s == CaseState::KnownFailure);
    let not_applicable = count(records, |s| {
        matches!(s, CaseState::NotRun | CaseState::NotApplicable)
    });
    let unsupported = count(records, |s| s == CaseState::Unsupported);
    let unstable = count(records, |s| s == CaseState::Unstable);
    let unlisted_unstable = records
        .iter()
        .filter(|r| r.state == CaseState::Unstable && r.fails_run())
        .count();
    // (Named only when there are any, so that the line reads as before repeats existed.)
    let unstable_count = match (unstable, unlisted_unstable) {
        (0, _) => String::new(),
        (n, 0) => format!(", {n} unstable"),
        (n, u) => format!(", {n} unstable ({u} not listed: failing the run)"),
    };
    let inconclusive = count(records, |s| s == CaseState::Inconclusive);
    let inconclusive_count = match inconclusive {
        0 => String::new(),
        n => format!(", {n} inconclusive (not judged: failing the run)"),
    };
    let mut out = String::new();
    // Each failing case with its own first line (both backends on one line when they
    // failed alike), then the same failures grouped by root cause.
    for (fixture, backends, headline) in failures_by_fixture(records, CaseState::Failed) {
        if out.is_empty() {
            out.push_str("\nfailures:\n");
        }
        writeln!(out, "  {fixture} on {backends}: {headline}").ok();
    }
    for (i, (fixture, backends, headline)) in failures_by_fixture(records, CaseState::Inconclusive)
        .into_iter()
        .enumerate()
    {
        if i == 0 {
            out.push_str("\ninconclusive (the verdict rests on reads the runner could not see):\n");
        }
        writeln!(out, "  {fixture} on {backends}: {headline}").ok();
    }
    for r in records
        .iter()
        .filter(|r| r.state == CaseState::KnownFailure)
    {
        if !out.contains("known failures:\n") {
            out.push_str("\nknown failures:\n");
        }
        let reason = r.reason.as_deref().unwrap_or_default();
        writeln!(out, "  {}: {reason} — {}", r.trial, r.headline).ok();
    }
    let groups = causes::root_causes(records);
    for (state, title) in [
        (CaseState::Failed, "failures, by root cause"),
        (CaseState::KnownFailure, "known failures, by root cause"),
        (CaseState::Unstable, "unstable, by root cause"),
        (CaseState::Inconclusive, "inconclusive, by root cause"),
    ] {
        let mut listed = groups.iter().filter(|c| c.state == state).peekable();
        if listed.peek().is_some() {
            writeln!(out, "\n{title}:").ok();
        }
        for c in listed {
            writeln!(
                out,
                "  {} ({} case{}): {}",
                c.cause,
                c.trials.len(),
                if c.trials.len() == 1 { "" } else { "s" },
                causes::fixtures_text(&c.trials)
            )
            .ok();
        }
    }
    for r in records.iter().filter(|r| r.state == CaseState::Unstable) {
        if !out.contains("unstable:\n") {
            out.push_str("\nunstable:\n");
        }
        let why = match r.fails_run() {
            true => "NOT LISTED in the profile's unstable (fails the run)".to_string(),
            false => format!("listed: {}", r.reason.as_deref().unwrap_or_default()),
        };
        writeln!(out, "  {}: {why} — {}", r.trial, r.headline).ok();
        for cell in r.unstable.iter().flat_map(|u| &u.differing_cells) {
            writeln!(out, "    {cell}").ok();
        }
    }
    for (trial, p50, p99, n) in latencies(records) {
        writeln!(
            out,
            "reload latency {trial}: p50 {:.1} ms, p99 {:.1} ms over {n} publications",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        )
        .ok();
    }
    out.push_str(&measured::closing(records));
    writeln!(
        out,
        "\nmasq-conformance: {implementation}: {passed} passed, {failed} failed, {known} known failures (counted as ignored above){unstable_count}{inconclusive_count}, {unsupported} unsupported, {not_applicable} not applicable, {} not run",
        (conclusion.num_ignored as usize)
            .saturating_sub(known + not_applicable + unsupported + unstable - unlisted_unstable)
            + conclusion.num_filtered_out as usize
    )
    .ok();
    out
}

/// The reload latencies of the records that measured any: (trial, p50, p99, count).
pub fn latencies(records: &[Record]) -> Vec<(String, Duration, Duration, usize)> {
    let mut out: Vec<_> = records
        .iter()
        .filter_map(|r| {
            let (p50, p99) = crate::case::reload::percentiles(&r.reload_latencies)?;
            Some((r.trial.clone(), p50, p99, r.reload_latencies.len()))
        })
        .collect();
    out.sort();
    out
}

fn short(o: &Outcome) -> String {
    match o {
        Outcome::Masqueraded => "masq".into(),
        Outcome::NotMasqueraded => "kept".into(),
        Outcome::Dropped => "dropped".into(),
        Outcome::Unexpected(a) => format!("from {a}"),
    }
}

/// A markdown table: one row per trial, one column per destination of its last probe
/// step; a cell is the outcome shared by all protocols, or each protocol's.
pub fn markdown_summary(implementation: &str, records: &[Record]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for r in records {
        if let Some(t) = r.tables.last() {
            for row in &t.rows {
                if !columns.contains(&row.name) {
                    columns.push(row.name.clone());
                }
            }
        }
    }
    let passed = count(records, |s| s == CaseState::Passed);
    let failed = count(records, |s| s == CaseState::Failed);
    let known = count(records, |s| s == CaseState::KnownFailure);
    let unstable = count(records, |s| s == CaseState::Unstable);
    let inconclusive = match count(records, |s| s == CaseState::Inconclusive) {
        0 => String::new(),
        n => format!(", {n} inconclusive"),
    };
    let implementation = crate::vocabulary::markup::markdown(implementation);
    let mut out = format!(
        "## ip-masq-agent conformance: {implementation}\n\n{passed} passed, {failed} failed, {known} known failures, {unstable} unstable{inconclusive}\n\n`kept` = arrived with the pod's address, `masq` = with the node's.\n\n"
    );
    out.push_str(&measured::markdown(records));
    let measured = latencies(records);
    if !measured.is_empty() {
        out.push_str("### Reload latency (publication to the first new flow with the new outcome)\n\n| case | p50 | p99 | publications |\n|---|---|---|---|\n");
        for (trial, p50, p99, n) in &measured {
            writeln!(
                out,
                "| `{trial}` | {:.1} ms | {:.1} ms | {n} |",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            )
            .ok();
        }
        out.push('\n');
    }
    let groups = causes::root_causes(records);
    for (state, title) in [
        (CaseState::Failed, "Failures by root cause"),
        (CaseState::KnownFailure, "Known failures by root cause"),
        (CaseState::Unstable, "Unstable cases by root cause"),
        (CaseState::Inconclusive, "Inconclusive cases by root cause"),
    ] {
        let listed: Vec<_> = groups.iter().filter(|c| c.state == state).collect();
        if listed.is_empty() {
            continue;
        }
        writeln!(out, "### {title}\n").ok();
        for c in listed {
            let fixtures: Vec<String> = causes::fixtures_text(&c.trials)
                .split(", ")
                // (Fixture names are strict identifiers: nothing to escape in a code span.)
                .map(|f| format!("`{f}`"))
                .collect();
            writeln!(
                out,
                "- **{}** ({} case{}): {}",
                crate::vocabulary::markup::markdown(&c.cause),
                c.trials.len(),
                if c.trials.len() == 1 { "" } else { "s" },
                fixtures.join(", ")
            )
            .ok();
        }
        out.push('\n');
    }
    let unstable: Vec<&Record> = records
        .iter()
        .filter(|r| r.state == CaseState::Unstable)
        .collect();
    if !unstable.is_empty() {
        out.push_str("### Unstable (repeats disagree, or listed as nondeterministic)\n\n");
        for r in unstable {
            let md = crate::vocabulary::markup::markdown;
            let why = match r.fails_run() {
                true => "**not listed** in the profile's `unstable`".to_string(),
                false => format!("listed: {}", md(r.reason.as_deref().unwrap_or_default())),
            };
            writeln!(out, "- `{}`: {why} — {}", r.trial, md(&r.headline)).ok();
            for cell in r.unstable.iter().flat_map(|u| &u.differing_cells) {
                writeln!(out, "  - {}", md(cell)).ok();
            }
        }
        out.push('\n');
    }
    out.push_str("| case | result |");
    for c in &columns {
        write!(out, " {} |", crate::vocabulary::markup::markdown(c)).ok();
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.trial.cmp(&b.trial));
    for r in sorted {
        let result = match r.state {
            CaseState::Passed => "✅ pass",
            CaseState::Failed => "❌ FAIL",
            CaseState::KnownFailure => "⚠️ known failure",
            // (the reason is in the list above the table)
            CaseState::NotRun | CaseState::NotApplicable => "⏭ not applicable",
            CaseState::Unsupported => "➖ unsupported",
            CaseState::Unstable if r.fails_run() => "❌ UNSTABLE (not listed)",
            CaseState::Unstable => "🎲 unstable",
            CaseState::Inconclusive => "❔ INCONCLUSIVE",
        };
        write!(out, "| `{}` | {result} |", r.trial).ok();
        for c in &columns {
            let cell = r
                .tables
                .last()
                .and_then(|t| t.rows.iter().find(|row| &row.name == c))
                .map(|row| {
                    let all: Vec<String> = row.outcomes.values().map(short).collect();
                    if all.windows(2).all(|w| w[0] == w[1]) {
                        all.first().cloned().unwrap_or_default()
                    } else {
                        row.outcomes
                            .iter()
                            .map(|(p, o)| format!("{}:{}", p.name(), short(o)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                })
                .unwrap_or_default();
            write!(out, " {cell} |").ok();
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn record(
        fixture: &str,
        backend: IptablesBackend,
        status: CaseState,
        headline: &str,
    ) -> Record {
        Record {
            trial: format!("{fixture}::{}", backend.name()),
            fixture: fixture.into(),
            backend,
            state: status,
            headline: headline.into(),
            detail: "d".into(),
            reason: (status == CaseState::KnownFailure).then(|| "why".to_string()),
            features: vec![],
            counts_for: None,
            skipped_steps: Vec::new(),
            failing_step: None,
            reload_latencies: vec![],
            message: format!("{headline}\nmore"),
            tables: vec![],
            duration: Duration::from_millis(5),
            phases: vec![],
            unstable: None,
            measurements: Default::default(),
        }
    }

    #[test]
    fn junit_escapes_and_counts() {
        let recs = vec![
            record("a", IptablesBackend::Legacy, CaseState::Passed, ""),
            record(
                "b",
                IptablesBackend::Nft,
                CaseState::Failed,
                "x < y & \"z\"",
            ),
            record(
                "c",
                IptablesBackend::Nft,
                CaseState::KnownFailure,
                "step 3 (probe): k",
            ),
        ];
        let x = junit("s", &recs);
        assert!(x.contains("tests=\"3\" failures=\"1\""), "{x}");
        assert!(
            x.contains("<failure message=\"x &lt; y &amp; &quot;z&quot;\">"),
            "{x}"
        );
        assert!(x.contains("classname=\"b\" name=\"nft\""));
        assert!(
            x.contains("<skipped message=\"known failure: why\">step 3 (probe): k"),
            "{x}"
        );
    }

    #[test]
    fn the_summary_groups_failures_by_root_cause() {
        let recs = vec![
            record(
                "a",
                IptablesBackend::Nft,
                CaseState::Failed,
                "step 2 (wait): did not read the config within 10.3s",
            ),
            record(
                "a",
                IptablesBackend::Legacy,
                CaseState::Failed,
                "step 2 (wait): did not read the config within 10.5s",
            ),
            record(
                "b",
                IptablesBackend::Legacy,
                CaseState::Failed,
                "step 6 (wait): did not read the config within 11s",
            ),
            record(
                "c",
                IptablesBackend::Nft,
                CaseState::Failed,
                "step 4 (snapshot): x/udp expected masqueraded, got not-masqueraded",
            ),
            record("d", IptablesBackend::Nft, CaseState::KnownFailure, "h"),
        ];
        let md = markdown_summary("impl", &recs);
        assert!(
            md.contains("### Failures by root cause\n\n- **wait: did not read the config within Ns** (3 cases): `a`, `b (legacy)`\n- **snapshot: expected masqueraded, got not-masqueraded** (1 case): `c (nft)`\n"),
            "{md}"
        );
        assert!(
            md.contains("### Known failures by root cause\n\n- **why** (1 case): `d (nft)`"),
            "{md}"
        );
    }

    #[test]
    fn unstable_cases_are_skipped_when_listed_and_failures_when_not() {
        let unstable = |fixture: &str, listed: bool| Record {
            reason: listed.then(|| "coin".to_string()),
            unstable: Some(Instability {
                listed,
                repeats: vec!["passed".into(), "failed: x".into()],
                differing_cells: vec!["step 2: internet/udp: masqueraded | not-masqueraded".into()],
            }),
            ..record(
                fixture,
                IptablesBackend::Nft,
                CaseState::Unstable,
                "passed in 1 of 2",
            )
        };
        let recs = vec![unstable("a", true), unstable("b", false)];
        let x = junit("s", &recs);
        assert!(x.contains("failures=\"1\" skipped=\"1\""), "{x}");
        assert!(x.contains("<skipped message=\"unstable: coin\">"), "{x}");
        let conclusion = libtest_mimic::Conclusion {
            num_filtered_out: 0,
            num_passed: 0,
            num_failed: 1,
            num_ignored: 1,
            num_measured: 0,
        };
        let text = closing("impl", &recs, &conclusion);
        assert!(text.contains("a::nft: listed: coin"), "{text}");
        assert!(text.contains("b::nft: NOT LISTED"), "{text}");
        assert!(
            text.contains("    step 2: internet/udp: masqueraded | not-masqueraded"),
            "{text}"
        );
        assert!(
            text.contains("0 failed, 0 known failures (counted as ignored above), 2 unstable (1 not listed: failing the run), 0 unsupported"),
            "{text}"
        );
        assert!(text.ends_with(", 0 not run\n"), "{text}");
        let md = markdown_summary("impl", &recs);
        assert!(
            md.contains("🎲 unstable") && md.contains("❌ UNSTABLE (not listed)"),
            "{md}"
        );
    }
}
