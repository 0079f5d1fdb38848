//! The harness: fixtures × backends as libtest-mimic trials.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::case::{self, CaseOutput, CaseSpec};
use crate::fixture::Fixture;
use crate::implementation::{Profile, RuleListings};
use crate::iptables::Backend;
use crate::report::{self, Record, Status};
use crate::snapshot;

/// How many cases run at once unless `--test-threads` (or `RUST_TEST_THREADS`) says
/// otherwise. Chosen from what a case does, not from the core count: a case spends about
/// 92% of its wall time waiting (for a resync, for probes to arrive) and costs about 40 ms
/// of CPU, so even a 2-core machine keeps 16 cases in flight busy without starving any
/// of them (docs/performance.md has the measurements).
pub const DEFAULT_CASES_IN_FLIGHT: usize = 16;

/// Options of the suite beyond libtest's own.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub fixtures_dir: PathBuf,
    pub profile_path: PathBuf,
    pub backends: Vec<Backend>,
    pub junit: Option<PathBuf>,
    /// Per-trial phase timings as JSON lines (for benchmarks).
    pub timings: Option<PathBuf>,
    /// Under `cargo test`: missing root or tools skip the suite (visibly) instead of failing.
    pub skip_if_unavailable: bool,
    /// A prerequisite the caller found missing (besides root and the backends).
    pub missing: Option<String>,
}

const USAGE: &str = "masq-conformance [OPTIONS] [FILTER]

Runs every fixture against an ip-masq-agent implementation on real network namespaces.

Options of the suite:
  --implementation PROFILE.yaml  implementation profile (default: the in-tree agent's)
  --backend legacy|nft|all       iptables backend(s) to run against (default: all)
  --fixtures DIR                 fixture directory (default: ./fixtures)
  --junit FILE                   write a JUnit XML report
  --timings FILE                 write per-case phase timings (JSON lines)
  --print-schema                 print the fixture JSON Schema and exit
  --sweep                        remove leftovers of killed runs and exit

Every libtest option works too: FILTER, --exact, --list, --ignored, --test-threads N
(default: 16 cases at once; they mostly wait), -q.
Environment: GITHUB_STEP_SUMMARY (append a markdown outcome table), INSTA_UPDATE.";

fn in_tree(rel: &str) -> PathBuf {
    let local = PathBuf::from(rel);
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Splits the suite's own options from libtest's.
pub fn parse_args(args: Vec<String>) -> Result<(SuiteOptions, Vec<String>, bool), String> {
    let mut opts = SuiteOptions {
        fixtures_dir: in_tree("fixtures"),
        profile_path: in_tree("conformance/implementations/ip-masq-agent-rs.yaml"),
        backends: Backend::ALL.to_vec(),
        junit: None,
        timings: None,
        skip_if_unavailable: false,
        missing: None,
    };
    let mut rest = Vec::new();
    let mut iter = args.into_iter();
    if let Some(argv0) = iter.next() {
        rest.push(argv0);
    }
    let mut sweep_only = false;
    while let Some(arg) = iter.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| iter.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match key.as_str() {
            "--implementation" => opts.profile_path = value("--implementation")?.into(),
            "--fixtures" => opts.fixtures_dir = value("--fixtures")?.into(),
            "--junit" => opts.junit = Some(value("--junit")?.into()),
            "--timings" => opts.timings = Some(value("--timings")?.into()),
            "--backend" => {
                let v = value("--backend")?;
                opts.backends = match v.as_str() {
                    "all" => Backend::ALL.to_vec(),
                    other => vec![Backend::parse(other).ok_or_else(|| {
                        format!("--backend: {other:?} is not one of legacy, nft, all")
                    })?],
                };
            }
            "--print-schema" => {
                println!("{}", crate::fixture::schema());
                std::process::exit(0);
            }
            "--sweep" => sweep_only = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => rest.push(arg),
        }
    }
    Ok((opts, rest, sweep_only))
}

/// Loads every `*.yaml` fixture of `dir`, sorted by name.
pub fn load_fixtures(dir: &Path) -> Result<Vec<(String, Fixture)>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading fixtures from {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!(
            "no fixtures (*.yaml) in {}: nothing to run is an error, not a pass",
            dir.display()
        ));
    }
    paths
        .iter()
        .map(|p| {
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Fixture::load(p)
                .map(|f| (name, f))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Why the suite cannot run here, if it cannot.
pub fn unavailable(backends: &[Backend]) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root (network namespaces and iptables need it)".into());
    }
    for b in backends {
        if b.binary().is_none() {
            return Some(format!(
                "iptables backend {} is not installed (run scripts/setup.sh)",
                b.name()
            ));
        }
    }
    None
}

fn tail(s: &str, max: usize) -> &str {
    let start = s.len().saturating_sub(max);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    &s[start..]
}

/// Runs one trial on a fresh thread (namespaces entered by setns never leak into the
/// harness's reused threads) and turns its result into pass/fail.
fn run_trial(
    name: String,
    fixture: Fixture,
    profile: Profile,
    backend: Backend,
    snapshot_dir: PathBuf,
) -> Result<(), Failed> {
    let trial = format!("{name}::{}", backend.name());
    let started = Instant::now();
    let worker = {
        let (name, fixture, profile) = (name.clone(), fixture.clone(), profile.clone());
        std::thread::Builder::new()
            .name(trial.clone())
            .spawn(move || {
                let spec = CaseSpec {
                    name: &name,
                    fixture: &fixture,
                    profile: &profile,
                    backend,
                };
                let run = case::run_case(&spec);
                let (output, run_error) = (run.output, run.error.map(|e| e.to_string()));
                let verdict = match run_error {
                    Some(e) => Err(e),
                    None => {
                        let snap_name = format!("{name}@{}", backend.name());
                        let mut doc = output.document.clone();
                        if profile.rule_listings == RuleListings::Waived {
                            if let Some(stored) = crate::document::stored_body(
                                &snapshot_dir.join(format!("{snap_name}.snap")),
                            ) {
                                doc = crate::document::with_stored_rules(&doc, &stored);
                            }
                        }
                        snapshot::assert_document(
                            &snapshot_dir,
                            &snap_name,
                            &fixture.description,
                            &doc,
                        )
                    }
                };
                (verdict, output)
            })
            .map_err(|e| Failed::from(format!("spawning the case thread: {e}")))?
    };
    // A panic is a runner bug, never the implementation's failure: it is recorded (JUnit,
    // job summary) as a failure even for a case listed in expected_failures.
    let (verdict, output, panicked) = match worker.join() {
        Ok((verdict, output)) => (verdict, output, false),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let verdict = Err(format!(
                "the case panicked (a bug of the runner, not of {}): {msg}",
                profile.name
            ));
            (verdict, CaseOutput::default(), true)
        }
    };
    let expected = profile.expects_failure(&name, backend) && !panicked;
    let (status, result) = match (verdict, expected) {
        (Ok(()), false) => (Status::Passed, Ok(())),
        (Ok(()), true) => (
            Status::Failed,
            Err(format!(
                "passed, but is listed in expected_failures of {}: remove it from the list",
                profile.name
            )),
        ),
        (Err(e), true) => {
            eprintln!("known failure {trial}: {}", e.lines().next().unwrap_or(""));
            (Status::KnownFailure, Ok(()))
        }
        (Err(e), false) => (
            Status::Failed,
            Err(format!(
                "{e}\n--- {} output (last 4 KiB) ---\n{}",
                profile.name,
                tail(&output.log, 4096)
            )),
        ),
    };
    report::record(Record {
        trial,
        status,
        message: result.as_ref().err().cloned().unwrap_or_default(),
        tables: output.tables,
        duration: started.elapsed(),
        phases: output.timings.phases,
    });
    result.map_err(Failed::from)
}

/// Builds the trials and runs them. `skip_if_unavailable` turns a missing prerequisite
/// into ignored trials with a visible "SKIPPED" line, except under `CI=true`, where it
/// fails the run.
pub fn run(opts: SuiteOptions, libtest_args: Vec<String>) -> ExitCode {
    crate::guard::init();
    let mut args = Arguments::from_iter(libtest_args);
    let profile = match Profile::load(&opts.profile_path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let fixtures = match load_fixtures(&opts.fixtures_dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.test_threads.is_none() && std::env::var_os("RUST_TEST_THREADS").is_none() {
        args.test_threads = Some(DEFAULT_CASES_IN_FLIGHT);
    }
    let blocker = opts.missing.clone().or_else(|| unavailable(&opts.backends));
    if let Some(why) = &blocker {
        if crate::prereq::required() && !args.list {
            eprintln!("error: cannot run the conformance suite: {why} (CI=true: a test that cannot run fails)");
            return ExitCode::from(2);
        }
        if !opts.skip_if_unavailable && !args.list {
            eprintln!("error: cannot run the conformance suite: {why}");
            return ExitCode::from(2);
        }
        eprintln!("SKIPPED: conformance suite not run: {why}");
    } else if !args.list {
        let swept = crate::names::sweep_stale();
        if !swept.is_empty() {
            eprintln!(
                "swept leftovers of killed runs: namespaces {:?}, processes {:?}, directories {:?}",
                swept.namespaces, swept.processes, swept.directories
            );
        }
    }
    let snapshot_dir = std::fs::canonicalize(&opts.fixtures_dir)
        .unwrap_or(opts.fixtures_dir.clone())
        .join("snapshots");
    let mut trials = Vec::new();
    for (name, fixture) in &fixtures {
        for &backend in &opts.backends {
            let trial_name = format!("{name}::{}", backend.name());
            let (name, fixture, profile, dir) = (
                name.clone(),
                fixture.clone(),
                profile.clone(),
                snapshot_dir.clone(),
            );
            let trial = Trial::test(trial_name, move || {
                run_trial(name, fixture, profile, backend, dir)
            })
            .with_kind(backend.name());
            trials.push(trial.with_ignored_flag(blocker.is_some()));
        }
    }
    println!(
        "masq-conformance: {} fixtures x {} backend(s) against {} ({})",
        fixtures.len(),
        opts.backends.len(),
        profile.name,
        opts.profile_path.display()
    );
    let conclusion = libtest_mimic::run(&args, trials);
    let records = report::RECORDS.lock().expect("records poisoned").clone();
    if let Some(path) = &opts.junit {
        if let Err(e) = std::fs::write(path, report::junit(&profile.name, &records)) {
            eprintln!("error: writing {}: {e}", path.display());
        }
    }
    if let Some(path) = &opts.timings {
        if let Err(e) = std::fs::write(path, report::timings_jsonl(&records)) {
            eprintln!("error: writing {}: {e}", path.display());
        }
    }
    if let Ok(summary) = std::env::var("GITHUB_STEP_SUMMARY") {
        if !summary.is_empty() && !records.is_empty() {
            use std::io::Write;
            let text = report::markdown_summary(&profile.name, &records);
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&summary)
                .and_then(|mut f| f.write_all(text.as_bytes()));
            if let Err(e) = written {
                eprintln!("error: writing the job summary {summary}: {e}");
            }
        }
    }
    let known = report::count(&records, |s| s == Status::KnownFailure);
    if known > 0 {
        println!(
            "{known} known failure(s) (expected_failures of {})",
            profile.name
        );
    }
    conclusion.exit()
}

/// Entry point shared by the binary and `cargo test`.
pub fn main_with(
    args: Vec<String>,
    skip_if_unavailable: bool,
    missing: Option<String>,
) -> ExitCode {
    match parse_args(args) {
        Ok((mut opts, rest, sweep_only)) => {
            if sweep_only {
                crate::guard::init();
                let swept = crate::names::sweep_stale();
                println!("{swept:?}");
                return ExitCode::SUCCESS;
            }
            opts.skip_if_unavailable = skip_if_unavailable;
            opts.missing = missing;
            run(opts, rest)
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
