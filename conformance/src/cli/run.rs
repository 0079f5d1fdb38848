//! `masq-conformance run` (the default command): the suite's own options and libtest's.

use std::path::PathBuf;

use clap::Args;
use libtest_mimic::Arguments;

use crate::suite::SuiteOptions;
use crate::vocabulary::IptablesBackend;

/// The options of a run. libtest's are flattened in whole, so that every option
/// libtest-mimic accepts (`--list`, `--exact`, `--skip`, `--test-threads`, `--format`,
/// `-q`, `-Z`, ...) keeps working, today and after an upgrade of libtest-mimic.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Implementation profile [default: the in-tree agent's,
    /// conformance/implementations/ip-masq-agent-rs.yaml]
    #[arg(long, value_name = "PROFILE.yaml")]
    pub implementation: Option<PathBuf>,
    /// iptables backend(s) to run against: legacy, nft or all
    #[arg(long, value_name = "legacy|nft|all", default_value = "all", value_parser = parse_backends)]
    pub backend: Backends,
    /// Use the iptables unpacked in DIR (scripts/iptables-version.sh VERSION prints one)
    #[arg(long, value_name = "DIR")]
    pub iptables: Option<PathBuf>,
    /// Fixture directory (its snapshots/ beside the cases) [default: ./fixtures]
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// Leave iptables off the implementation's PATH (its /etc/alternatives links
    /// dangling) and never run it: shows that an implementation of listing kind nftables
    /// or none works on a node without iptables; cases that need iptables are reported as
    /// unsupported
    #[arg(long)]
    pub without_iptables: bool,
    /// Write a JUnit XML report
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write each mismatching document (NAME.snap.new) and its diff (NAME.diff) here; the
    /// suite's snapshots are never written without --bless
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Accept this run's documents as the snapshots (review the diff before committing;
    /// for the suite's maintainers)
    #[arg(long)]
    pub bless: bool,
    /// Write the versioned report (docs/report.schema.json): who, on what, every case and
    /// feature, the verdict, and the command that reproduces the run
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Add this run's failing cases to PROFILE's expected_failures, and the cases whose
    /// repeats disagreed to its unstable (reason: TODO), keeping what is there
    #[arg(long, value_name = "PROFILE")]
    pub write_expectations: Option<PathBuf>,
    /// Run each case N times, each in a fresh sandbox (overrides the profile's
    /// `repeats`; 1 to 10): a case whose repeats disagree is reported unstable, naming the
    /// cells that differed
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::profile::MAX_REPEATS as i64))]
    pub repeat: Option<u32>,
    /// Write per-case phase timings (JSON lines)
    #[arg(long, value_name = "FILE")]
    pub timings: Option<PathBuf>,
    /// libtest's options.
    #[command(flatten, next_help_heading = "libtest options")]
    pub libtest: Arguments,
    /// Run the trials whose name contains any FILTER (with --exact: equals it); none: all.
    /// A filter spelled like a command (generate, sweep, ...) goes after `run` or an option
    // Index 2: the first filter is libtest's own positional, hidden from --help.
    #[arg(value_name = "FILTER", index = 2, help_heading = "Arguments")]
    pub filters: Vec<String>,
}

/// The backends `--backend` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backends(pub Vec<IptablesBackend>);

pub(super) fn parse_backends(value: &str) -> Result<Backends, String> {
    match value {
        "all" => Ok(Backends(IptablesBackend::ALL.to_vec())),
        other => IptablesBackend::parse(other)
            .map(|b| Backends(vec![b]))
            .ok_or_else(|| format!("{other:?} is not one of legacy, nft, all")),
    }
}

impl RunArgs {
    /// The suite's options and libtest's. Filters are the suite's own (libtest takes only
    /// one); so are `--skip` and `--exact`, which apply to them. `argv` is the command line
    /// as given: the report says how to reproduce the run.
    pub fn into_suite(self, argv: Vec<String>) -> (SuiteOptions, Arguments) {
        let mut libtest = self.libtest;
        // libtest's own positional (hidden in --help) takes the first filter.
        let filters = libtest
            .filter
            .take()
            .into_iter()
            .chain(self.filters)
            .collect();
        let mut opts = SuiteOptions::new(argv);
        if let Some(profile) = self.implementation {
            opts.profile_path = profile;
        }
        if let Some(fixtures) = self.fixtures {
            opts.fixtures_dir = fixtures;
        }
        opts.backends = self.backend.0;
        opts.iptables = self.iptables;
        opts.without_iptables = self.without_iptables;
        opts.junit = self.junit;
        opts.artifacts = self.artifacts;
        opts.bless = self.bless;
        opts.report = self.report;
        opts.write_expectations = self.write_expectations;
        opts.timings = self.timings;
        opts.repeat = self.repeat;
        opts.filters = filters;
        opts.skips = std::mem::take(&mut libtest.skip);
        opts.exact = std::mem::take(&mut libtest.exact);
        (opts, libtest)
    }
}
