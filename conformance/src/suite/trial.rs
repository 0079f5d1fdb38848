//! One trial: a fixture on one backend against the profile's implementation, run on a
//! thread of its own, judged against its snapshot, and recorded for the reports.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use libtest_mimic::{Completion, Failed};

use crate::case::{self, CaseOutput, CaseSpec};
use crate::document::corpus::Corpus;
use crate::document::judge::{Judge, Rejection};
use crate::document::mismatch::{Difference, Mismatch};
use crate::document::store::SnapshotMode;
use crate::fixture::Fixture;
use crate::profile::{known, ExpectedFailureEntry, ListingKind, Profile};
use crate::records::{Record, Recorder};
use crate::vocabulary::{CaseState, IptablesBackend};

/// Everything a trial needs; shared read-only between trials.
pub struct TrialSpec {
    pub name: String,
    pub fixture: Fixture,
    pub profile: Arc<Profile>,
    pub backend: IptablesBackend,
    /// The fixtures and snapshots as read at plan time: what the trial is judged against.
    pub corpus: Arc<Corpus>,
    /// Where `--bless` writes (never read by the run).
    pub snapshot_dir: PathBuf,
    pub mode: SnapshotMode,
    /// `--without-iptables`.
    pub without_iptables: bool,
    /// Where the trial's record goes.
    pub recorder: Recorder,
    /// How many times the case runs ([`super::plan::Plan::repeats`]).
    pub repeats: u32,
}

/// Why a trial's run did not match.
struct Failure {
    /// The step that failed, when one did.
    step: Option<usize>,
    /// The first line: which step, and what.
    headline: String,
    /// The rest: tables side by side, diffs.
    detail: String,
    /// The implementation hit one of the case's limits: never a known failure (an entry
    /// in expected_failures must not excuse a fork bomb).
    limit: bool,
    /// Each thing that went wrong (what expected_failures entries must cover).
    differences: Vec<Difference>,
}

impl Failure {
    /// A failure of one line, not a snapshot's difference.
    fn single(step: Option<usize>, headline: String, limit: bool) -> Self {
        Failure {
            step,
            differences: vec![Difference {
                step,
                cell: None,
                text: headline.clone(),
            }],
            headline,
            detail: String::new(),
            limit,
        }
    }
}

/// How much of the implementation's output a failure shows.
const LOG_TAIL: usize = 4096;

fn tail(s: &str, max: usize) -> &str {
    let start = s.len().saturating_sub(max);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    &s[start..]
}

/// Runs the case and judges its document; never panics (a panic is a failure).
fn judge(spec: &TrialSpec) -> (Result<(), Failure>, CaseOutput) {
    let snap_name = format!("{}@{}", spec.name, spec.backend.name());
    let waived: Vec<_> = spec
        .profile
        .listing_waivers
        .iter()
        .map(|w| w.aspect)
        .collect();
    let judge = Judge {
        corpus: &spec.corpus,
        snapshot_dir: &spec.snapshot_dir,
        snapshot_name: &snap_name,
        description: &spec.fixture.description,
        implementation: &spec.profile.name,
        waived: &waived,
        own_listings: spec.profile.listings != ListingKind::Iptables,
        iptables_listings_bind: spec.profile.iptables_listings_bind(),
        mode: &spec.mode,
    };
    // IPv6 always on in a case that leaves it off: its IPv6 cells do not bind.
    let ipv6_off_cells =
        spec.profile.ipv6 == crate::profile::Ipv6Mode::Always && !spec.fixture.ipv6();
    let unbound = |d: &crate::document::Document| match ipv6_off_cells {
        true => d.without_ipv6_rows(),
        false => d.clone(),
    };
    let expected = judge.expected().map(|d| unbound(&d));
    let case_spec = CaseSpec {
        name: &spec.name,
        fixture: &spec.fixture,
        profile: &spec.profile,
        backend: spec.backend,
        expected: expected.as_ref(),
        without_iptables: spec.without_iptables,
    };
    let run = case::run_case(&case_spec);
    if let Some(e) = run.error {
        let failure = Failure::single(e.step(), e.to_string(), e.is_limit());
        return (Err(failure), run.output);
    }
    let verdict = judge
        .judge(expected, &unbound(&run.output.document))
        .map_err(|rejection| match rejection {
            Rejection::Snapshot(m) => {
                let step = m
                    .step
                    .and_then(|n| spec.fixture.steps.get(n.wrapping_sub(1)).map(|s| (n, s)))
                    .map(|(n, s)| format!("step {n} ({}): ", s.name()))
                    .unwrap_or_default();
                Failure {
                    headline: format!("{step}{}", m.headline),
                    ..of_mismatch(m)
                }
            }
            Rejection::OwnListing(m) => of_mismatch(m),
        });
    (verdict, run.output)
}

fn of_mismatch(m: Mismatch) -> Failure {
    let differences = match m.differences.is_empty() {
        true => vec![Difference {
            step: m.step,
            cell: None,
            text: m.headline.clone(),
        }],
        false => m.differences,
    };
    Failure {
        step: m.step,
        headline: m.headline,
        detail: m.detail,
        limit: false,
        differences,
    }
}

/// One run of the case (of the trial's repeats).
struct Attempt {
    verdict: Result<(), Failure>,
    output: CaseOutput,
    /// The runner panicked: a bug of the runner, never a known failure.
    panicked: bool,
}

/// Runs the case once on a fresh thread (namespaces entered by setns never leak into the
/// harness's reused threads); a panic is a failure.
fn attempt(spec: &Arc<TrialSpec>, trial: &str) -> Attempt {
    let worker = {
        let spec = spec.clone();
        std::thread::Builder::new()
            .name(trial.to_string())
            .spawn(move || judge(&spec))
    };
    // A panic is a runner bug, never the implementation's failure: it is recorded (JUnit,
    // job summary) as a failure even for a case listed in expected_failures.
    match worker.map(|w| w.join()) {
        Ok(Ok((verdict, output))) => Attempt {
            verdict,
            output,
            panicked: false,
        },
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let headline = format!(
                "the case panicked (a bug of the runner, not of {}): {msg}",
                spec.profile.name
            );
            Attempt {
                verdict: Err(Failure::single(None, headline, false)),
                output: CaseOutput::default(),
                panicked: true,
            }
        }
        Err(e) => Attempt {
            verdict: Err(Failure::single(
                None,
                format!("spawning the case thread: {e}"),
                false,
            )),
            output: CaseOutput::default(),
            panicked: true,
        },
    }
}

/// Runs one trial on a fresh thread (namespaces entered by setns never leak into the
/// harness's reused threads), records it, and tells libtest how it ended: a known
/// failure is *ignored* with its reason, never counted as passed.
pub fn run_trial(spec: Arc<TrialSpec>) -> Result<Completion, Failed> {
    let trial = format!("{}::{}", spec.name, spec.backend.name());
    let started = Instant::now();
    let not_run = match spec.profile.first_unsupported(&spec.fixture.features) {
        Some(f) => Some((
            CaseState::Unsupported,
            format!(
                "unsupported: needs {f}, which {} does not claim",
                spec.profile.name
            ),
        )),
        None => match spec
            .fixture
            .inapplicable(spec.profile.listings, spec.without_iptables)
            .or_else(|| crate::case::source::inapplicable(&spec.fixture, &spec.profile))
        {
            Some(why) => Some((CaseState::NotApplicable, format!("not applicable: {why}"))),
            None => spec
                .profile
                .file_names(spec.fixture.config_files_needed())
                .err()
                .map(|why| (CaseState::NotRun, format!("not applicable: {why}"))),
        },
    };
    if let Some((status, reason)) = not_run {
        spec.recorder.record(Record {
            trial,
            fixture: spec.name.clone(),
            backend: spec.backend,
            state: status,
            headline: reason.clone(),
            detail: String::new(),
            reason: None,
            features: spec.fixture.features.clone(),
            failing_step: None,
            reload_latencies: Vec::new(),
            message: String::new(),
            tables: Vec::new(),
            duration: started.elapsed(),
            phases: Vec::new(),
            unstable: None,
        });
        return Ok(Completion::ignored_with(reason));
    }
    // Each repeat is a whole case in a fresh sandbox; a runner bug or a limit ends the
    // repeats (its failure is the trial's, whatever the profile lists).
    let mut attempts: Vec<Attempt> = Vec::new();
    for _ in 0..spec.repeats.max(1) {
        let a = attempt(&spec, &trial);
        let fatal = a.panicked || matches!(&a.verdict, Err(f) if f.limit);
        attempts.push(a);
        if fatal {
            break;
        }
    }
    let fatal = attempts
        .iter()
        .position(|a| a.panicked || matches!(&a.verdict, Err(f) if f.limit));
    let entries = spec.profile.expected_failures_of(&spec.name, spec.backend);
    let listed = spec.profile.unstable_entry(&spec.name, spec.backend);
    let instability = match fatal {
        None if attempts.len() > 1 || listed.is_some() => {
            let docs: Vec<_> = attempts.iter().map(|a| &a.output.document).collect();
            let ends: Vec<Option<&str>> = attempts
                .iter()
                .map(|a| a.verdict.as_ref().err().map(|f| f.headline.as_str()))
                .collect();
            Some(super::repeats::instability(listed.is_some(), &ends, &docs))
        }
        _ => None,
    };
    let chosen = match fatal {
        Some(i) => i,
        // The worst of agreeing repeats speaks for them: a failure no entry covers, else
        // a failure, else the first.
        None => {
            let rank = |a: &Attempt| match &a.verdict {
                Err(f) if !known::uncovered(&entries, &f.differences).is_empty() => 2,
                Err(_) => 1,
                Ok(()) => 0,
            };
            (0..attempts.len())
                .max_by_key(|&i| (rank(&attempts[i]), std::cmp::Reverse(i)))
                .unwrap_or(0)
        }
    };
    let Attempt {
        verdict, output, ..
    } = attempts.swap_remove(chosen);
    let repeats = attempts.len() + 1;
    let (status, headline, detail, reason, step) = match (&instability, listed) {
        (Some(u), Some(entry)) => (
            CaseState::Unstable,
            super::repeats::listed_headline(u),
            String::new(),
            Some(entry.reason()),
            None,
        ),
        (Some(u), None) if u.disagreed() => (
            CaseState::Unstable,
            super::repeats::unlisted_headline(u, &spec.profile.name, repeats),
            u.differing_cells.join("\n"),
            None,
            None,
        ),
        _ => {
            let (state, mut headline, detail, reason, step) =
                judged(verdict, &entries, &spec.profile.name, fatal.is_some());
            if state == CaseState::Failed && headline.starts_with("passed, but is listed") {
                // A profile without `suite_version` predates versioning: every change
                // of the corpus counts (CHANGELOG.md).
                let since = spec.profile.suite_version.as_deref().unwrap_or("0.0.0");
                if let Some(why) = crate::changelog::explain(&spec.name, since) {
                    headline.push_str(&format!("; {why}"));
                }
            }
            (state, headline, detail, reason, step)
        }
    };
    let instability = instability.filter(|_| status == CaseState::Unstable);
    let message = match status {
        s if s == CaseState::Failed || (s == CaseState::Unstable && listed.is_none()) => {
            let mut m = format!("{headline}\n  fixture: {}", spec.fixture.description);
            if !detail.is_empty() {
                m.push_str(&format!("\n{}", detail.trim_end()));
            }
            if !output.log.is_empty() {
                m.push_str(&format!(
                    "\n--- {} output (last {} KiB) ---\n{}",
                    spec.profile.name,
                    LOG_TAIL / 1024,
                    tail(&output.log, LOG_TAIL)
                ));
            }
            m
        }
        _ => String::new(),
    };
    spec.recorder.record(Record {
        trial,
        fixture: spec.name.clone(),
        backend: spec.backend,
        state: status,
        headline: headline.clone(),
        detail,
        reason: reason.clone(),
        features: spec.fixture.features.clone(),
        failing_step: step,
        reload_latencies: output.reload_latencies.clone(),
        message: message.clone(),
        tables: output.tables,
        duration: started.elapsed(),
        phases: output.timings.phases,
        unstable: instability,
    });
    match status {
        CaseState::Passed => Ok(Completion::Completed),
        CaseState::Unstable if listed.is_some() => Ok(Completion::ignored_with(format!(
            "unstable: {} — {}",
            reason.unwrap_or_default(),
            headline
        ))),
        CaseState::KnownFailure => Ok(Completion::ignored_with(format!(
            "known failure: {} — {}",
            reason.unwrap_or_default(),
            headline
        ))),
        _ => Err(Failed::from(message)),
    }
}

/// How a trial ended from its one (or agreeing) run: passed, a known failure (every part
/// of the failure covered by the profile's entries), or failed.
fn judged(
    verdict: Result<(), Failure>,
    entries: &[&ExpectedFailureEntry],
    implementation: &str,
    fatal: bool,
) -> (CaseState, String, String, Option<String>, Option<usize>) {
    match verdict {
        Ok(()) if entries.is_empty() => {
            (CaseState::Passed, String::new(), String::new(), None, None)
        }
        Ok(()) => (
            CaseState::Failed,
            format!(
                "passed, but is listed in expected_failures of {implementation}: remove it from the list (or, if it fails only sometimes, list it in unstable; --repeat N shows which cells vary)"
            ),
            String::new(),
            None,
            None,
        ),
        Err(f) if entries.is_empty() || fatal => {
            (CaseState::Failed, f.headline, f.detail, None, f.step)
        }
        Err(f) => {
            let uncovered = known::uncovered(entries, &f.differences);
            match uncovered.first() {
                None => {
                    let covering: Vec<String> = entries
                        .iter()
                        .filter(|e| f.differences.iter().any(|d| e.covers(d)))
                        .map(|e| e.reason())
                        .collect();
                    (
                        CaseState::KnownFailure,
                        f.headline,
                        f.detail,
                        Some(covering.join("; ")),
                        f.step,
                    )
                }
                Some(first) => {
                    let more = match uncovered.len() {
                        1 => String::new(),
                        n => format!(" (and {} more)", n - 1),
                    };
                    let scopes: Vec<String> = entries.iter().map(|e| e.scope()).collect();
                    (
                        CaseState::Failed,
                        format!(
                            "a new failure: {}{more}; expected_failures of {implementation} cover only {} of this case",
                            first.text,
                            scopes.join("; ")
                        ),
                        f.detail,
                        None,
                        first.step.or(f.step),
                    )
                }
            }
        }
    }
}
