//! Planning a run: the profile and fixtures loaded and checked, the prerequisites looked
//! at, and everything the trials share decided before any of them starts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::Arguments;

use super::{unavailable_for, SuiteOptions, DEFAULT_CASES_IN_FLIGHT};
use crate::document::corpus::{self, Corpus};
use crate::document::store::SnapshotMode;
use crate::fixture::{fixtures_of, Fixture};
use crate::profile::{ListingKind, Profile};
use crate::verdict::build::Planned;
use crate::verdict::Coverage;

/// What a run will do.
pub struct Plan {
    pub profile: Arc<Profile>,
    /// The profile file's digest, of the bytes [`Plan::profile`] was parsed from.
    pub profile_digest: String,
    /// Every fixture and snapshot, read (and hashed) before any implementation starts:
    /// trials are judged against this copy, never the directory.
    pub corpus: Arc<Corpus>,
    pub fixtures: Vec<(String, Fixture)>,
    /// The git commit of the fixtures' checkout, asked before any implementation starts.
    pub commit: Option<String>,
    /// Why the suite cannot run here, if it cannot (its trials are then ignored).
    pub blocker: Option<String>,
    pub snapshot_dir: PathBuf,
    pub mode: SnapshotMode,
    /// Every fixture × backend, for the report (run or not).
    pub planned: Vec<Planned>,
    /// What reports call the run: the profile, and the iptables the cases ran on.
    pub suite_name: String,
    /// Whether the run covers the whole suite, and what restricted it if not.
    pub coverage: Coverage,
    /// How many times each case runs (`--repeat`, else the profile's `repeats`, else 1).
    pub repeats: u32,
}

/// Loads and checks what the run needs; `Err` is the exit code of a run that cannot
/// start (an error already printed). Sets libtest's default of cases in flight.
pub fn plan(opts: &SuiteOptions, args: &mut Arguments) -> Result<Plan, ExitCode> {
    crate::guard::init();
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    // Everything that decides a verdict is read once, here, before any implementation
    // starts: the profile, the fixtures and the snapshots (issue 20, item 4).
    let profile_text = corpus::read_regular(&opts.profile_path)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            String::from_utf8(b)
                .map_err(|e| format!("{}: not UTF-8: {e}", opts.profile_path.display()))
        })
        .map_err(fail)?;
    let profile_digest = corpus::sha256(&profile_text);
    let profile = Profile::from_text(&opts.profile_path, &profile_text)
        .map(Arc::new)
        .map_err(|e| fail(e.to_string()))?;
    let corpus = Corpus::read(&opts.fixtures_dir)
        .map(Arc::new)
        .map_err(|e| fail(format!("reading fixtures: {e}")))?;
    let fixtures = fixtures_of(&corpus).map_err(|e| fail(e.to_string()))?;
    let commit = crate::verdict::build::git_commit(&opts.fixtures_dir);
    let names: Vec<&str> = fixtures.iter().map(|(n, _)| n.as_str()).collect();
    let unmatched = profile.unmatched_entries(&names);
    if !unmatched.is_empty() {
        // With another `--fixtures DIR`, an entry for a case of the suite's own corpus
        // that DIR lacks is expected: reported, not fatal. A name that matches nothing in
        // the suite's own corpus either is a mistake.
        let own_dir = super::args::own_corpus_dir();
        let own_names: Vec<String> = match same_dir(&own_dir, &opts.fixtures_dir) {
            true => Vec::new(),
            false => Corpus::read(&own_dir)
                .ok()
                .and_then(|c| fixtures_of(&c).ok())
                .map(|f| f.into_iter().map(|(n, _)| n).collect())
                .unwrap_or_default(),
        };
        let own: Vec<&str> = own_names.iter().map(String::as_str).collect();
        let nowhere = profile.unmatched_entries(&own);
        let (absent, unknown): (Vec<&str>, Vec<&str>) = unmatched
            .iter()
            .partition(|case| !own.is_empty() && !nowhere.contains(case));
        if !unknown.is_empty() {
            return Err(fail(format!(
                "{}: expected_failures or unstable names no case of {}: {unknown:?} (the ratchet must be exact: fix or remove them)",
                opts.profile_path.display(),
                opts.fixtures_dir.display()
            )));
        }
        eprintln!(
            "note: {}: expected_failures or unstable entries for cases of the suite's own corpus that {} does not hold (not run here): {absent:?}",
            opts.profile_path.display(),
            opts.fixtures_dir.display()
        );
    }
    if args.test_threads.is_none() && std::env::var_os("RUST_TEST_THREADS").is_none() {
        args.test_threads = Some(DEFAULT_CASES_IN_FLIGHT);
    }
    if opts.without_iptables && profile.listings == ListingKind::Iptables {
        return Err(fail(format!(
            "--without-iptables: {} keeps iptables rules (listings: iptables); it cannot run without iptables",
            opts.profile_path.display()
        )));
    }
    let blocker = opts.missing.clone().or_else(|| {
        unavailable_for(
            &opts.backends,
            profile.listings == ListingKind::Nftables,
            opts.without_iptables,
        )
    });
    if let Some(why) = &blocker {
        if crate::prereq::required() && !args.list {
            return Err(fail(format!(
                "cannot run the conformance suite: {why} (CI=true: a test that cannot run fails)"
            )));
        }
        if !opts.skip_if_unavailable && !args.list {
            return Err(fail(format!("cannot run the conformance suite: {why}")));
        }
        eprintln!("SKIPPED: conformance suite not run: {why}");
    } else if !args.list {
        let swept = crate::names::sweep_stale();
        if !swept.is_empty() {
            eprintln!("swept leftovers of killed runs: {swept}");
        }
    }
    let snapshot_dir = std::fs::canonicalize(&opts.fixtures_dir)
        .unwrap_or(opts.fixtures_dir.clone())
        .join("snapshots");
    let mode = SnapshotMode::choose(opts.bless, opts.artifacts.clone());
    let planned: Vec<Planned> = fixtures
        .iter()
        .flat_map(|(name, fixture)| {
            opts.backends.iter().map(|&backend| Planned {
                fixture: name.clone(),
                backend,
                features: fixture.features.clone(),
            })
        })
        .collect();
    // Reports name the iptables version the cases ran on (`--iptables`, or the machine's).
    let suite_name = match blocker.is_none() && !args.list {
        true if opts.without_iptables => format!("{} without iptables", profile.name),
        true => format!(
            "{} on {}",
            profile.name,
            crate::iptables::describe(&opts.backends)
        ),
        false => profile.name.clone(),
    };
    let coverage = super::coverage::of(opts, &corpus, &planned, &mode);
    let repeats = opts.repeat.or(profile.repeats).unwrap_or(1);
    Ok(Plan {
        repeats,
        profile,
        profile_digest,
        corpus,
        fixtures,
        commit,
        blocker,
        snapshot_dir,
        mode,
        planned,
        suite_name,
        coverage,
    })
}

/// Whether two paths name the same directory.
fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
