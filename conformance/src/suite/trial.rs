//! One trial: a fixture on one backend against the profile's implementation, run on a
//! thread of its own, judged against its snapshot, and recorded for the reports.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use libtest_mimic::{Completion, Failed};

use crate::case::{self, CaseOutput, CaseSpec};
use crate::document::{sections_marked, LISTING_MARK, NFT_MARK, RULES_MARK};
use crate::fixture::Fixture;
use crate::profile::{ListingKind, Profile};
use crate::report::{self, Record, Status};
use crate::store::{self, SnapshotMode, Stored};
use crate::vocabulary::IptablesBackend;

/// Everything a trial needs; shared read-only between trials.
pub struct TrialSpec {
    pub name: String,
    pub fixture: Fixture,
    pub profile: Arc<Profile>,
    pub backend: IptablesBackend,
    pub snapshot_dir: PathBuf,
    pub mode: SnapshotMode,
    /// `--without-iptables`.
    pub without_iptables: bool,
}

/// Why a trial's run did not match.
struct Failure {
    /// The step that failed, when one did.
    step: Option<usize>,
    /// The first line: which step, and what.
    headline: String,
    /// The rest: tables side by side, diffs.
    detail: String,
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

/// Runs the case and compares its document; never panics (a panic is a failure).
fn judge(spec: &TrialSpec) -> (Result<(), Failure>, CaseOutput) {
    let snap_name = format!("{}@{}", spec.name, spec.backend.name());
    let waived: Vec<_> = spec
        .profile
        .listing_waivers
        .iter()
        .map(|w| w.aspect)
        .collect();
    let stored = store::stored(&spec.snapshot_dir, &snap_name);
    let expected = stored.as_deref().map(|s| crate::waivers::apply(s, &waived));
    let case_spec = CaseSpec {
        name: &spec.name,
        fixture: &spec.fixture,
        profile: &spec.profile,
        backend: spec.backend,
        expected: expected.as_deref(),
        without_iptables: spec.without_iptables,
    };
    let run = case::run_case(&case_spec);
    if let Some(e) = run.error {
        let failure = Failure {
            step: e.step(),
            headline: e.to_string(),
            detail: String::new(),
        };
        return (Err(failure), run.output);
    }
    let mut doc = crate::waivers::apply(&run.output.document, &waived);
    let mut expected = expected;
    let mut mode = spec.mode.clone();
    let mut own_verdict = Ok(());
    if spec.profile.listings != ListingKind::Iptables {
        // Its own listing is its own regression snapshot; the normative one binds only
        // its outcomes, and is never rewritten by its run. (A wrong outcome is reported
        // before a changed listing.)
        let own = sections_marked(&doc, &[NFT_MARK], true);
        own_verdict = check_own(spec, &snap_name, &own);
        let listings = [RULES_MARK, LISTING_MARK, NFT_MARK];
        doc = sections_marked(&doc, &listings, false);
        expected = expected.map(|e| sections_marked(&e, &listings, false));
        if !matches!(mode, SnapshotMode::ReadOnly { .. }) {
            mode = SnapshotMode::ReadOnly { artifacts: None };
        }
    } else if !spec.profile.iptables_listings_bind() {
        if let Some(stored) = &expected {
            doc = crate::document::with_stored_rules(&doc, stored);
        }
    }
    let verdict = match store::check(
        &spec.snapshot_dir,
        &snap_name,
        &spec.fixture.description,
        expected.as_deref(),
        &doc,
        &mode,
    ) {
        Ok(Stored::Matched) => Ok(()),
        Ok(Stored::Written(path)) => {
            eprintln!(
                "note: {snap_name}: snapshot written to {} (review it before committing)",
                path.display()
            );
            Ok(())
        }
        Err(m) => {
            let step = m
                .step
                .and_then(|n| spec.fixture.steps.get(n.wrapping_sub(1)).map(|s| (n, s)))
                .map(|(n, s)| format!("step {n} ({}): ", s.name()))
                .unwrap_or_default();
            Err(Failure {
                step: m.step,
                headline: format!("{step}{}", m.headline),
                detail: m.detail,
            })
        }
    };
    (verdict.and(own_verdict), run.output)
}

/// Compares the implementation's own listing with its regression snapshot
/// (`snapshots/<name>/<case>@<backend>.snap`) when there is one; writes it only when
/// asked (`--bless`, `INSTA_UPDATE`).
fn check_own(spec: &TrialSpec, snap_name: &str, own: &str) -> Result<(), Failure> {
    let dir = spec.snapshot_dir.join(&spec.profile.name);
    let stored = store::stored(&dir, snap_name);
    if stored.is_none() && (own.is_empty() || matches!(spec.mode, SnapshotMode::ReadOnly { .. })) {
        return Ok(()); // nothing recorded for this implementation: nothing to compare
    }
    if !matches!(spec.mode, SnapshotMode::ReadOnly { .. }) {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return Err(Failure {
                step: None,
                headline: format!("creating {}: {e}", dir.display()),
                detail: String::new(),
            });
        }
    }
    let mode = match &spec.mode {
        SnapshotMode::ReadOnly { artifacts } => SnapshotMode::ReadOnly {
            artifacts: artifacts.as_ref().map(|a| a.join(&spec.profile.name)),
        },
        other => other.clone(),
    };
    let description = format!(
        "{}'s own listing (a regression snapshot of this implementation, not normative): {}",
        spec.profile.name, spec.fixture.description
    );
    match store::check(&dir, snap_name, &description, stored.as_deref(), own, &mode) {
        Ok(Stored::Matched) => Ok(()),
        Ok(Stored::Written(path)) => {
            eprintln!(
                "note: {snap_name}: implementation snapshot written to {} (review it before committing)",
                path.display()
            );
            Ok(())
        }
        Err(m) => Err(Failure {
            step: m.step,
            headline: format!(
                "{}'s own listing differs from its regression snapshot: {}",
                spec.profile.name, m.headline
            ),
            detail: m.detail,
        }),
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
            Status::Unsupported,
            format!(
                "unsupported: needs {f}, which {} does not claim",
                spec.profile.name
            ),
        )),
        None => match spec
            .fixture
            .inapplicable(spec.profile.listings, spec.without_iptables)
        {
            Some(why) => Some((Status::Inapplicable, format!("not applicable: {why}"))),
            None => spec
                .profile
                .file_names(spec.fixture.config_files_needed())
                .err()
                .map(|why| (Status::Skipped, format!("not applicable: {why}"))),
        },
    };
    if let Some((status, reason)) = not_run {
        report::record(Record {
            trial,
            fixture: spec.name.clone(),
            backend: spec.backend,
            status,
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
            };
            (Err(failure), CaseOutput::default(), true)
        }
        Err(e) => {
            let failure = Failure {
                step: None,
                headline: format!("spawning the case thread: {e}"),
                detail: String::new(),
            };
            (Err(failure), CaseOutput::default(), true)
        }
    };
    let expected = spec
        .profile
        .expects_failure(&spec.name, spec.backend)
        .filter(|_| !panicked);
    let (status, headline, detail, reason, step) = match (verdict, expected) {
        (Ok(()), None) => (Status::Passed, String::new(), String::new(), None, None),
        (Ok(()), Some(_)) => (
            Status::Failed,
            format!(
                "passed, but is listed in expected_failures of {}: remove it from the list",
                spec.profile.name
            ),
            String::new(),
            None,
            None,
        ),
        (Err(f), Some(entry)) => (
            Status::KnownFailure,
            f.headline,
            f.detail,
            Some(entry.reason()),
            f.step,
        ),
        (Err(f), None) => (Status::Failed, f.headline, f.detail, None, f.step),
    };
    let message = match status {
        Status::Failed => {
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
    report::record(Record {
        trial,
        fixture: spec.name.clone(),
        backend: spec.backend,
        status,
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
        Status::Passed => Ok(Completion::Completed),
        Status::KnownFailure => Ok(Completion::ignored_with(format!(
            "known failure: {} — {}",
            reason.unwrap_or_default(),
            headline
        ))),
        _ => Err(Failed::from(message)),
    }
}
