//! The harness: fixtures × backends as libtest-mimic trials.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Trial};

use crate::cli::{Command, Schema};
use crate::fixture::Fixture;
use crate::iptables::Backend;
use crate::profile::Profile;
use crate::report;
use crate::store::SnapshotMode;

mod args;
mod expectations;
mod trial;

pub use args::SuiteOptions;
use trial::{run_trial, TrialSpec};

/// How many cases run at once unless `--test-threads` (or `RUST_TEST_THREADS`) says
/// otherwise. Chosen from what a case does, not from the core count: a case spends about
/// 92% of its wall time waiting (for the implementation to read and act, for probes to
/// arrive) and costs about 40 ms of CPU, so even a 2-core machine keeps 16 cases in
/// flight busy without starving any of them (docs/performance.md has the measurements).
pub const DEFAULT_CASES_IN_FLIGHT: usize = 16;

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
    unavailable_for(backends, false, false)
}

/// [`unavailable`] for a profile that may need `nft`, in a run that may leave iptables
/// out (then the backends' binaries are not needed).
pub fn unavailable_for(backends: &[Backend], nft: bool, without_iptables: bool) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root (network namespaces and iptables need it)".into());
    }
    if nft && crate::nftables::binary().is_none() {
        return Some("nft is not installed (the nftables package; run scripts/setup.sh)".into());
    }
    if without_iptables {
        return None;
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

/// Builds the trials and runs them. `skip_if_unavailable` turns a missing prerequisite
/// into ignored trials with a visible "SKIPPED" line, except under `CI=true`, where it
/// fails the run.
pub fn run(opts: SuiteOptions, mut args: Arguments) -> ExitCode {
    crate::guard::init();
    let profile = match Profile::load(&opts.profile_path) {
        Ok(p) => Arc::new(p),
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
    let names: Vec<&str> = fixtures.iter().map(|(n, _)| n.as_str()).collect();
    let unmatched = profile.unmatched_expected_failures(&names);
    if !unmatched.is_empty() {
        let list: Vec<&str> = unmatched.iter().map(|e| e.case()).collect();
        eprintln!(
            "error: {}: expected_failures names no case of {}: {list:?} (the ratchet must be exact: fix or remove them)",
            opts.profile_path.display(),
            opts.fixtures_dir.display()
        );
        return ExitCode::from(2);
    }
    if args.test_threads.is_none() && std::env::var_os("RUST_TEST_THREADS").is_none() {
        args.test_threads = Some(DEFAULT_CASES_IN_FLIGHT);
    }
    if opts.without_iptables && profile.listings == crate::profile::ListingKind::Iptables {
        eprintln!(
            "error: --without-iptables: {} keeps iptables rules (listings: iptables); it cannot run without iptables",
            opts.profile_path.display()
        );
        return ExitCode::from(2);
    }
    let blocker = opts.missing.clone().or_else(|| {
        unavailable_for(
            &opts.backends,
            profile.listings == crate::profile::ListingKind::Nftables,
            opts.without_iptables,
        )
    });
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
    let mode = SnapshotMode::choose(opts.bless, opts.artifacts.clone());
    let planned: Vec<crate::verdict::build::Planned> = fixtures
        .iter()
        .flat_map(|(name, fixture)| {
            opts.backends
                .iter()
                .map(|&backend| crate::verdict::build::Planned {
                    fixture: name.clone(),
                    backend,
                    features: fixture.features.clone(),
                })
        })
        .collect();
    let mut specs = Vec::new();
    for (name, fixture) in &fixtures {
        for &backend in &opts.backends {
            specs.push(Arc::new(TrialSpec {
                name: name.clone(),
                fixture: fixture.clone(),
                profile: profile.clone(),
                backend,
                snapshot_dir: snapshot_dir.clone(),
                mode: mode.clone(),
                without_iptables: opts.without_iptables,
            }));
        }
    }
    if !args.list {
        // The longest cases first, so that the run does not end waiting on one of them.
        specs.sort_by(|a, b| {
            b.fixture
                .estimated_duration()
                .cmp(&a.fixture.estimated_duration())
        });
    }
    // Filters are ours (libtest takes one); what they leave out is passed on as exact
    // skips, so that libtest still counts it as filtered out.
    let mut skipped = Vec::new();
    let trials: Vec<Trial> = specs
        .into_iter()
        .map(|spec| {
            let trial_name = format!("{}::{}", spec.name, spec.backend.name());
            if !opts.selects(&trial_name) {
                skipped.push(trial_name.clone());
            }
            let kind = spec.backend.name();
            Trial::ignorable_test(trial_name, move || run_trial(spec))
                .with_kind(kind)
                .with_ignored_flag(blocker.is_some())
        })
        .collect();
    args.filter = None;
    args.skip = skipped;
    args.exact = true;
    println!(
        "masq-conformance: {} fixtures x {} backend(s) against {} ({})",
        fixtures.len(),
        opts.backends.len(),
        profile.name,
        opts.profile_path.display()
    );
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
    println!("masq-conformance: {suite_name}");
    let conclusion = libtest_mimic::run(&args, trials);
    let records = report::RECORDS.lock().expect("records poisoned").clone();
    if !args.list {
        print!("{}", report::closing(&profile.name, &records, &conclusion));
    }
    if let Some(path) = &opts.report {
        let report = crate::verdict::build::build(&crate::verdict::build::RunFacts {
            profile: &profile,
            profile_path: &opts.profile_path,
            fixtures_dir: &opts.fixtures_dir,
            planned: &planned,
            records: &records,
            backends: &opts.backends,
            argv: &opts.argv,
            blocker: blocker.as_deref(),
            environment: crate::verdict::environment::current(
                if blocker.is_some() || opts.without_iptables {
                    &[]
                } else {
                    &opts.backends
                },
            ),
        });
        let text = serde_json::to_string_pretty(&report).expect("a report serialises");
        match std::fs::write(path, text + "\n") {
            Ok(()) => println!("report: {} ({:?})", path.display(), report.verdict),
            Err(e) => eprintln!("error: writing {}: {e}", path.display()),
        }
    }
    if let Some(path) = &opts.write_expectations {
        // A fixture is one entry only when it failed on every backend there is: a run of
        // one backend says nothing of the other.
        let cases = expectations::failing_cases(&records, &Backend::ALL);
        let written = std::fs::read_to_string(path).and_then(|text| {
            std::fs::write(path, expectations::add_expected_failures(&text, &cases))
        });
        match written {
            Ok(()) => println!(
                "{}: {} case(s) added to expected_failures with reason TODO: {cases:?}",
                path.display(),
                cases.len()
            ),
            Err(e) => eprintln!("error: updating {}: {e}", path.display()),
        }
    }
    if let Some(path) = &opts.junit {
        if let Err(e) = std::fs::write(path, report::junit(&suite_name, &records)) {
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
            let text = report::markdown_summary(&suite_name, &records);
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
    conclusion.exit_code()
}

fn verify_report(path: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: reading {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match crate::verdict::verify::verify(&text) {
        Ok(r) => {
            println!(
                "{}: verified: {} {} is {:?} ({} cases)",
                path.display(),
                r.implementation.name,
                r.implementation
                    .version
                    .as_deref()
                    .unwrap_or("(no version)"),
                r.verdict,
                r.cases.len()
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprintln!("{}: does not verify:", path.display());
            for p in problems {
                eprintln!("  {p}");
            }
            ExitCode::FAILURE
        }
    }
}

fn read_report(path: &Path) -> Result<crate::verdict::Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::verdict::verify::verify(&text)
        .map_err(|p| format!("{}: does not verify: {}", path.display(), p.join("; ")))
}

fn compare_reports(paths: &[PathBuf], html: Option<&Path>, baseline: Option<&Path>) -> ExitCode {
    let reports: Result<Vec<_>, String> = paths.iter().map(|p| read_report(p)).collect();
    let reports = match reports {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", crate::verdict::compare::markdown(&reports));
    if let Some(out) = html {
        if let Err(e) = std::fs::write(out, crate::verdict::compare::html(&reports)) {
            eprintln!("error: writing {}: {e}", out.display());
            return ExitCode::from(2);
        }
    }
    if let Some(base) = baseline {
        let base = match read_report(base) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let mut regressed = false;
        for r in &reports {
            for line in crate::verdict::compare::regressions(&base, r) {
                eprintln!("regression: {}: {line}", r.implementation.name);
                regressed = true;
            }
        }
        if regressed {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Entry point shared by the binary and `cargo test`: parses `args` ([`crate::cli`]) and
/// does what they ask. `skip_if_unavailable` is the harness's (`cargo test`) call, whose
/// arguments are always a run's.
pub fn main_with(
    args: Vec<String>,
    skip_if_unavailable: bool,
    missing: Option<String>,
) -> ExitCode {
    let parsed = if skip_if_unavailable {
        crate::cli::parse_harness_args(args)
    } else {
        crate::cli::parse_args(args)
    };
    let invocation = match parsed {
        Ok(i) => i,
        Err(e) => return e.report(),
    };
    if let Some(old) = invocation.deprecated {
        eprintln!("{old}");
    }
    match invocation.command {
        Command::Run(mut opts, libtest) => {
            if let Some(dir) = &opts.iptables {
                if let Err(e) = crate::iptables::use_tree(dir) {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
            opts.skip_if_unavailable = skip_if_unavailable;
            opts.missing = missing;
            run(*opts, libtest)
        }
        Command::VerifyReport(path) => verify_report(&path),
        Command::Compare {
            reports,
            html,
            baseline,
        } => compare_reports(&reports, html.as_deref(), baseline.as_deref()),
        Command::Badge(path) => match read_report(&path) {
            Ok(r) => {
                println!("{}", crate::verdict::compare::badge(&r));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Generate(opts) => match crate::generate::run(&opts) {
            Ok(t) if t.disagreements.is_empty() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::from(1),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Sweep => {
            crate::guard::init();
            let swept = crate::names::sweep_stale();
            println!("{swept:?}");
            ExitCode::SUCCESS
        }
        Command::Schema(Schema::Fixture) => {
            println!("{}", crate::fixture::schema());
            ExitCode::SUCCESS
        }
        Command::Schema(Schema::Report) => {
            println!("{}", crate::verdict::schema());
            ExitCode::SUCCESS
        }
    }
}
