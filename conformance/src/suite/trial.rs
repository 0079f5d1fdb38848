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
use crate::vocabulary::{CaseState, Feature, IptablesBackend};

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
    /// The case could not be judged (its verdict rests on reads the runner cannot see):
    /// `inconclusive`, whatever the profile lists.
    inconclusive: bool,
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
            inconclusive: false,
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
        skipped_steps: &skipped_steps(spec),
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
        let failure = Failure {
            inconclusive: e.is_inconclusive(),
            ..Failure::single(e.step(), e.to_string(), e.is_limit())
        };
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

/// The steps that show a feature the profile does not claim and that is skipped step by
/// step (`Feature::skips_steps`): never judged, never a pass of that feature.
fn skipped_steps(spec: &TrialSpec) -> Vec<usize> {
    spec.fixture
        .steps
        .explicit()
        .filter(|(_, f)| f.skips_steps() && !spec.profile.supports(*f))
        .map(|(n, _)| n)
        .collect()
}

/// The features a trial's result counts for: a failure's, those of the differences that
/// made it one; a pass's, the fixture's but those whose steps were skipped. `None`: all
/// the fixture's.
fn counted_features(
    spec: &TrialSpec,
    state: CaseState,
    differences: &[Difference],
    entries: &[&ExpectedFailureEntry],
) -> Option<Vec<Feature>> {
    let fixture = &spec.fixture;
    match state {
        CaseState::Failed | CaseState::KnownFailure if !differences.is_empty() => {
            let uncovered: Vec<Difference> = known::uncovered(entries, differences)
                .into_iter()
                .cloned()
                .collect();
            let blamed = match (state, uncovered.is_empty()) {
                (CaseState::Failed, false) => fixture.features_of_failure(&uncovered),
                _ => fixture.features_of_failure(differences),
            };
            (blamed != fixture.features).then_some(blamed)
        }
        CaseState::Passed | CaseState::Failed | CaseState::KnownFailure => {
            let skipped: Vec<Feature> = skipped_steps(spec)
                .into_iter()
                .filter_map(|n| fixture.steps.feature_of(n))
                .collect();
            (!skipped.is_empty()).then(|| {
                fixture
                    .features
                    .iter()
                    .copied()
                    .filter(|f| !skipped.contains(f))
                    .collect()
            })
        }
        _ => None,
    }
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
        inconclusive: false,
    }
}

/// One run of the case (of the trial's repeats).
struct Attempt {
    verdict: Result<(), Failure>,
    output: CaseOutput,
    /// The runner panicked: a bug of the runner, never a known failure.
    panicked: bool,
}

impl Attempt {
    /// It could not be judged: it says nothing of whether the repeats agree.
    fn inconclusive(&self) -> bool {
        matches!(&self.verdict, Err(f) if f.inconclusive)
    }
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
    // A feature skipped step by step leaves the rest of the case to run.
    let needed: Vec<Feature> = spec
        .fixture
        .features
        .iter()
        .copied()
        .filter(|f| !f.skips_steps())
        .collect();
    let not_run = match spec.profile.first_unsupported(&needed) {
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
            counts_for: None,
            skipped_steps: Vec::new(),
            failing_step: None,
            reload_latencies: Vec::new(),
            message: String::new(),
            tables: Vec::new(),
            duration: started.elapsed(),
            phases: Vec::new(),
            unstable: None,
            measurements: Default::default(),
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
    // Repeats that could not be judged neither agree nor disagree with the others; when
    // none could, the case is inconclusive, listed in unstable or not.
    let conclusive: Vec<&Attempt> = attempts.iter().filter(|a| !a.inconclusive()).collect();
    let instability = match fatal {
        None if !conclusive.is_empty() && (conclusive.len() > 1 || listed.is_some()) => {
            let docs: Vec<_> = conclusive.iter().map(|a| &a.output.document).collect();
            let ends: Vec<Option<&str>> = conclusive
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
        // a failure, else a pass, else (none could be judged) the first.
        None => {
            let rank = |a: &Attempt| match &a.verdict {
                Err(f) if f.inconclusive => 0,
                Err(f) if !known::uncovered(&entries, &f.differences).is_empty() => 3,
                Err(_) => 2,
                Ok(()) => 1,
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
    let differences = verdict
        .as_ref()
        .err()
        .map(|f| f.differences.clone())
        .unwrap_or_default();
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
    let counts_for = match instability {
        None => counted_features(&spec, status, &differences, &entries),
        Some(_) => None,
    };
    let whole = match status {
        CaseState::Failed | CaseState::Inconclusive => true,
        CaseState::Unstable => listed.is_none(),
        _ => false,
    };
    let message = match whole {
        true => {
            let mut m = format!("{headline}\n  fixture: {}", spec.fixture.description);
            if status == CaseState::Failed {
                let blamed = counts_for.as_ref().unwrap_or(&spec.fixture.features);
                let names: Vec<String> = blamed.iter().map(|f| f.name()).collect();
                m.push_str(&format!("\n  counts against: {}", names.join(", ")));
            }
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
        false => String::new(),
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
        counts_for,
        skipped_steps: skipped_steps(&spec),
        failing_step: step,
        reload_latencies: output.reload_latencies.clone(),
        message: message.clone(),
        tables: output.tables,
        duration: started.elapsed(),
        phases: output.timings.phases,
        unstable: instability,
        measurements: output.measurements,
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
        // Neither passed nor failed: no entry covers it, and none is contradicted by it.
        Err(f) if f.inconclusive => (
            CaseState::Inconclusive,
            f.headline,
            f.detail,
            None,
            f.step,
        ),
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
