//! What each command does once parsed: a run goes to [`crate::suite`], the report
//! commands to [`crate::verdict`], `generate` to [`crate::generate`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Command, Schema};
use crate::verdict::suite_cases::SuiteCases;

/// The suite a report is verified against, read from `dir` (an error already printed).
fn suite_at(dir: &Path) -> Result<SuiteCases, ExitCode> {
    SuiteCases::read(dir).map_err(|e| {
        eprintln!("error: reading the suite's corpus to verify against: {e}");
        ExitCode::from(2)
    })
}

fn verify_report(path: &Path, fixtures: &Path) -> ExitCode {
    let suite = match suite_at(fixtures) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: reading {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match crate::verdict::verify::verify(&text, &suite) {
        Ok(r) => {
            println!(
                "{}: verified against suite {} (corpus {}): {} {} is {} ({} cases)",
                path.display(),
                r.suite.version,
                r.suite.fixtures_digest,
                r.implementation.name,
                r.implementation
                    .version
                    .as_deref()
                    .unwrap_or("(no version)"),
                r.verdict.word(),
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

fn read_report(path: &Path, suite: &SuiteCases) -> Result<crate::verdict::Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::verdict::verify::verify(&text, suite)
        .map_err(|p| format!("{}: does not verify: {}", path.display(), p.join("; ")))
}

fn compare_reports(
    paths: &[PathBuf],
    html: Option<&Path>,
    baseline: Option<&Path>,
    fixtures: &Path,
) -> ExitCode {
    let suite = match suite_at(fixtures) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let reports: Result<Vec<_>, String> = paths.iter().map(|p| read_report(p, &suite)).collect();
    let reports = match reports {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", crate::verdict::comparison::markdown(&reports));
    if let Some(out) = html {
        if let Err(e) = std::fs::write(out, crate::verdict::comparison::html(&reports)) {
            eprintln!("error: writing {}: {e}", out.display());
            return ExitCode::from(2);
        }
    }
    if let Some(base) = baseline {
        let base = match read_report(base, &suite) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let mut regressed = false;
        for r in &reports {
            for line in crate::verdict::comparison::regressions(&base, r) {
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

fn badge(path: &Path, fixtures: &Path) -> ExitCode {
    let suite = match suite_at(fixtures) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match read_report(path, &suite) {
        Ok(r) => {
            println!("{}", crate::verdict::comparison::badge(&r));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Entry point shared by the binary and `cargo test`: parses `args` and
/// does what they ask. `skip_if_unavailable` is the harness's (`cargo test`) call, whose
/// arguments are always a run's.
pub fn main_with(
    args: Vec<String>,
    skip_if_unavailable: bool,
    missing: Option<String>,
) -> ExitCode {
    let parsed = if skip_if_unavailable {
        super::parse_harness_args(args)
    } else {
        super::parse_args(args)
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
            crate::suite::run(*opts, libtest)
        }
        Command::VerifyReport(path, fixtures) => verify_report(&path, &fixtures),
        Command::Compare {
            reports,
            html,
            baseline,
            fixtures,
        } => compare_reports(&reports, html.as_deref(), baseline.as_deref(), &fixtures),
        Command::Badge(path, fixtures) => badge(&path, &fixtures),
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
