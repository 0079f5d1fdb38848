//! One trial: a fixture on one backend against the profile's implementation, run on a
//! thread of its own, judged against its snapshot, and recorded for the reports.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use libtest_mimic::{Completion, Failed};

use crate::case::{self, CaseOutput, CaseSpec};
use crate::document::corpus::Corpus;
use crate::document::judge::{Judge, Rejection};
use crate::document::store::SnapshotMode;
use crate::fixture::Fixture;
use crate::profile::{ListingKind, Profile};
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
    let expected = judge.expected();
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
            step: e.step(),
            headline: e.to_string(),
            detail: String::new(),
            limit: e.is_limit(),
        };
        return (Err(failure), run.output);
    }
    let verdict =
        judge
            .judge(expected, &run.output.document)
            .map_err(|rejection| match rejection {
                Rejection::Snapshot(m) => {
                    let step = m
                        .step
                        .and_then(|n| spec.fixture.steps.get(n.wrapping_sub(1)).map(|s| (n, s)))
                        .map(|(n, s)| format!("step {n} ({}): ", s.name()))
                        .unwrap_or_default();
                    Failure {
                        step: m.step,
                        headline: format!("{step}{}", m.headline),
                        detail: m.detail,
                        limit: false,
                    }
                }
                Rejection::OwnListing(m) => Failure {
                    step: m.step,
                    headline: m.headline,
                    detail: m.detail,
                    limit: false,
                },
            });
    (verdict, run.output)
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
        });
        return Ok(Completion::ignored_with(reason));
    }
    let worker = {
        let spec = spec.clone();
        std::thread::Builder::new()
            .name(trial.clone())
            .spawn(move || judge(&spec))
    };
    // A panic is a runner bug, never the implementation's failure: it is recorded (JUnit,
    // job summary) as a failure even for a case listed in expected_failures.
    let (verdict, output, panicked) = match worker.map(|w| w.join()) {
        Ok(Ok((verdict, output))) => (verdict, output, false),
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let failure = Failure {
                step: None,
                headline: format!(
                    "the case panicked (a bug of the runner, not of {}): {msg}",
                    spec.profile.name
                ),
                detail: String::new(),
                limit: false,
            };
            (Err(failure), CaseOutput::default(), true)
        }
        Err(e) => {
            let failure = Failure {
                step: None,
                headline: format!("spawning the case thread: {e}"),
                detail: String::new(),
                limit: false,
            };
            (Err(failure), CaseOutput::default(), true)
        }
    };
    let limit = matches!(&verdict, Err(f) if f.limit);
    let expected = spec
        .profile
        .expects_failure(&spec.name, spec.backend)
        .filter(|_| !panicked && !limit);
    let (status, headline, detail, reason, step) = match (verdict, expected) {
        (Ok(()), None) => (CaseState::Passed, String::new(), String::new(), None, None),
        (Ok(()), Some(_)) => (
            CaseState::Failed,
            {
                // A profile without `suite_version` predates versioning: every change counts.
                let since = spec.profile.suite_version.as_deref().unwrap_or("0.0.0");
                let fixture = spec.name.split("::").next().unwrap_or(&spec.name);
                let why = crate::changelog::explain(fixture, since)
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                format!(
                    "passed, but is listed in expected_failures of {}: remove it from the list{why}",
                    spec.profile.name
                )
            },
            String::new(),
            None,
            None,
        ),
        (Err(f), Some(entry)) => (
            CaseState::KnownFailure,
            f.headline,
            f.detail,
            Some(entry.reason()),
            f.step,
        ),
        (Err(f), None) => (CaseState::Failed, f.headline, f.detail, None, f.step),
    };
    let message = match status {
        CaseState::Failed => {
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
    });
    match status {
        CaseState::Passed => Ok(Completion::Completed),
        CaseState::KnownFailure => Ok(Completion::ignored_with(format!(
            "known failure: {} — {}",
            reason.unwrap_or_default(),
            headline
        ))),
        _ => Err(Failed::from(message)),
    }
}
