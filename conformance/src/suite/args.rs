//! The command line: the suite's own options, and libtest's (with several positional
//! filters, `--skip` and `--exact`, as libtest users expect).

use std::path::{Path, PathBuf};

use libtest_mimic::Arguments;

use crate::vocabulary::IptablesBackend;

/// Options of the suite beyond libtest's own.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub fixtures_dir: PathBuf,
    pub profile_path: PathBuf,
    pub backends: Vec<IptablesBackend>,
    pub junit: Option<PathBuf>,
    /// Per-trial phase timings as JSON lines (for benchmarks).
    pub timings: Option<PathBuf>,
    /// Under `cargo test`: missing root or tools skip the suite (visibly) instead of failing.
    pub skip_if_unavailable: bool,
    /// A prerequisite the caller found missing (besides root and the backends).
    pub missing: Option<String>,
    /// Write the run's documents as the snapshots (`--bless`).
    pub bless: bool,
    /// Where mismatching documents and their diffs go (`--artifacts DIR`).
    pub artifacts: Option<PathBuf>,
    /// `--without-iptables`: the implementation's PATH holds no iptables tool and the
    /// runner runs none (for implementations that keep no iptables rules).
    pub without_iptables: bool,
    /// Positional name filters: a trial runs if it matches any (none: every trial).
    pub filters: Vec<String>,
    /// `--skip` filters: a trial that matches any does not run.
    pub skips: Vec<String>,
    /// `--exact`: filters match whole trial names.
    pub exact: bool,
    /// Write the versioned report here (`--report FILE`).
    pub report: Option<PathBuf>,
    /// Add this run's failing cases to this profile's expected_failures.
    pub write_expectations: Option<PathBuf>,
    /// The command line as given (the report says how to reproduce the run).
    pub argv: Vec<String>,
}

pub const USAGE: &str = "masq-conformance [OPTIONS] [FILTER...]

Runs every fixture against an ip-masq-agent implementation on real network namespaces.

Options of the suite:
  --implementation PROFILE.yaml  implementation profile (default: the in-tree agent's)
  --backend legacy|nft|all       iptables backend(s) to run against (default: all)
  --iptables DIR                 use the iptables unpacked in DIR (scripts/iptables-version.sh)
  --fixtures DIR                 fixture directory (default: ./fixtures)
  --without-iptables             leave iptables off the implementation's PATH (and its
                                 /etc/alternatives links dangling), and never run it:
                                 shows that an implementation of listing kind nftables
                                 or none works on a node without iptables; cases that
                                 need iptables are reported as unsupported
  --junit FILE                   write a JUnit XML report
  --artifacts DIR                write each mismatching document (NAME.snap.new) and its
                                 diff (NAME.diff) here; the suite's snapshots are never
                                 written without --bless
  --bless                        accept this run's documents as the snapshots (review the
                                 diff before committing; for the suite's maintainers)
  --report FILE                  write the versioned report (docs/report.schema.json):
                                 who, on what, every case and feature, the verdict, and
                                 the command that reproduces the run
  --write-expectations PROFILE   add this run's failing cases to PROFILE's
                                 expected_failures (reason: TODO), keeping what is there
  --timings FILE                 write per-case phase timings (JSON lines)
  --print-schema                 print the fixture JSON Schema and exit
  --print-report-schema          print the report JSON Schema and exit
  --sweep                        remove leftovers of killed runs and exit

Subcommands:
  masq-conformance verify-report FILE
      check a report: its schema, and every count, feature result and the verdict
      recomputed from its case records; exits 1 naming what does not add up
  masq-conformance compare [--html FILE] [--baseline BASE] REPORT...
      implementations side by side (Markdown on stdout; --html: a self-contained page);
      with --baseline, exit 1 when a case that passed in BASE does not pass in REPORT
  masq-conformance badge REPORT
      print a shields.io endpoint document (JSON) for a verified report's verdict

Filters: every FILTER selects the trials whose name contains it (with --exact: equals
it); --skip FILTER (repeatable) leaves them out. Every other libtest option works too:
--list, --ignored, --include-ignored, --test-threads N (default: 16 cases at once; they
mostly wait), -q.
Environment: GITHUB_STEP_SUMMARY (append a markdown report), INSTA_UPDATE=always|new
(let insta write snapshots, as --bless does).";

fn in_tree(rel: &str) -> PathBuf {
    let local = PathBuf::from(rel);
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// What the command line asks for.
pub enum Command {
    Run(Box<SuiteOptions>, Arguments),
    /// `verify-report FILE`.
    VerifyReport(PathBuf),
    /// `compare [--html FILE] [--baseline BASE] REPORT...`.
    Compare {
        reports: Vec<PathBuf>,
        html: Option<PathBuf>,
        baseline: Option<PathBuf>,
    },
    PrintReportSchema,
    /// `badge REPORT`: a shields.io endpoint document.
    Badge(PathBuf),
    Sweep,
    PrintSchema,
    Help,
}

/// libtest options that take a value (so that the value is not taken for a filter).
const LIBTEST_VALUED: [&str; 5] = ["--test-threads", "--logfile", "--format", "--color", "-Z"];

/// Splits the suite's options from libtest's; collects the filters itself (libtest takes
/// only one).
pub fn parse_args(args: Vec<String>) -> Result<Command, String> {
    match args.get(1).map(String::as_str) {
        Some("verify-report") => {
            return match args.get(2) {
                Some(file) if args.len() == 3 => Ok(Command::VerifyReport(file.into())),
                _ => Err("usage: masq-conformance verify-report FILE".into()),
            }
        }
        Some("compare") => return parse_compare(&args[2..]),
        Some("badge") => {
            return match args.get(2) {
                Some(file) if args.len() == 3 => Ok(Command::Badge(file.into())),
                _ => Err("usage: masq-conformance badge REPORT".into()),
            }
        }
        _ => {}
    }
    let argv = args.clone();
    let mut opts = SuiteOptions {
        fixtures_dir: in_tree("fixtures"),
        profile_path: in_tree("conformance/implementations/ip-masq-agent-rs.yaml"),
        backends: IptablesBackend::ALL.to_vec(),
        junit: None,
        timings: None,
        skip_if_unavailable: false,
        missing: None,
        bless: false,
        artifacts: None,
        without_iptables: false,
        filters: Vec::new(),
        skips: Vec::new(),
        exact: false,
        report: None,
        write_expectations: None,
        argv,
    };
    let mut rest = Vec::new();
    let mut iter = args.into_iter();
    if let Some(argv0) = iter.next() {
        rest.push(argv0);
    }
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
            "--iptables" => {
                crate::iptables::use_tree(Path::new(&value("--iptables")?))?;
            }
            "--artifacts" => opts.artifacts = Some(value("--artifacts")?.into()),
            "--bless" => opts.bless = true,
            "--without-iptables" => opts.without_iptables = true,
            "--report" => opts.report = Some(value("--report")?.into()),
            "--write-expectations" => {
                opts.write_expectations = Some(value("--write-expectations")?.into())
            }
            "--print-report-schema" => return Ok(Command::PrintReportSchema),
            "--skip" => opts.skips.push(value("--skip")?),
            "--exact" => opts.exact = true,
            "--backend" => {
                let v = value("--backend")?;
                opts.backends = match v.as_str() {
                    "all" => IptablesBackend::ALL.to_vec(),
                    other => vec![IptablesBackend::parse(other).ok_or_else(|| {
                        format!("--backend: {other:?} is not one of legacy, nft, all")
                    })?],
                };
            }
            "--print-schema" => return Ok(Command::PrintSchema),
            "--sweep" => return Ok(Command::Sweep),
            "--help" | "-h" => return Ok(Command::Help),
            k if LIBTEST_VALUED.contains(&k) => {
                let v = value(k)?;
                rest.push(k.to_string());
                rest.push(v);
            }
            k if k.starts_with('-') => rest.push(arg),
            _ => opts.filters.push(arg),
        }
    }
    // libtest's own options; a malformed one ends the program with clap's message.
    Ok(Command::Run(Box::new(opts), Arguments::from_iter(rest)))
}

fn parse_compare(args: &[String]) -> Result<Command, String> {
    let (mut reports, mut html, mut baseline) = (Vec::new(), None, None);
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        match a.as_str() {
            "--html" => html = Some(iter.next().ok_or("--html needs a file")?.into()),
            "--baseline" => baseline = Some(iter.next().ok_or("--baseline needs a report")?.into()),
            _ => reports.push(a.into()),
        }
    }
    if reports.is_empty() {
        return Err(
            "usage: masq-conformance compare [--html FILE] [--baseline BASE] REPORT...".into(),
        );
    }
    Ok(Command::Compare {
        reports,
        html,
        baseline,
    })
}

impl SuiteOptions {
    /// Whether the trial `name` is selected by the filters.
    pub fn selects(&self, name: &str) -> bool {
        let matches = |f: &String| {
            if self.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skips.iter().any(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> (SuiteOptions, Arguments) {
        let args = std::iter::once("masq-conformance")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        match parse_args(args).unwrap() {
            Command::Run(o, a) => (*o, a),
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn several_filters_skip_and_exact() {
        let (o, a) = parse(&[
            "fault-",
            "tamper",
            "--skip",
            "tamper-delete",
            "--test-threads",
            "3",
            "-q",
        ]);
        assert_eq!(a.test_threads, Some(3));
        assert!(a.quiet);
        assert!(o.selects("fault-lock::nft"));
        assert!(o.selects("tamper-flush::legacy"));
        assert!(!o.selects("tamper-delete-jump::legacy"));
        assert!(!o.selects("malformed::legacy"));
        // `fault-` is a substring of `default-`: libtest's rule, and ours without --exact.
        assert!(o.selects("default-no-config::nft"));
        let (o, _) = parse(&["--exact", "fault-x::nft", "default-no-config::nft"]);
        assert!(o.selects("default-no-config::nft"));
        assert!(!o.selects("default-no-config::legacy"));
        assert!(!o.selects("fault-x::legacy"));
    }
}
