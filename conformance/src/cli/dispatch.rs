//! What each command does once parsed: a run goes to [`crate::suite`], the report
//! commands to [`crate::verdict`], `generate` to [`crate::generate`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Command, Schema};

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
    print!("{}", crate::verdict::comparison::markdown(&reports));
    if let Some(out) = html {
        if let Err(e) = std::fs::write(out, crate::verdict::comparison::html(&reports)) {
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
        Command::VerifyReport(path) => verify_report(&path),
        Command::Compare {
            reports,
            html,
            baseline,
        } => compare_reports(&reports, html.as_deref(), baseline.as_deref()),
        Command::Badge(path) => match read_report(&path) {
            Ok(r) => {
                println!("{}", crate::verdict::comparison::badge(&r));
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
