//! What a run of the suite is asked to do beyond libtest's options (the command line that
//! fills it in is [`crate::cli`]).

use std::path::PathBuf;

use crate::iptables::Backend;

/// Options of the suite beyond libtest's own.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub fixtures_dir: PathBuf,
    pub profile_path: PathBuf,
    pub backends: Vec<Backend>,
    /// `--iptables DIR`: the iptables unpacked there instead of the machine's.
    pub iptables: Option<PathBuf>,
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

impl SuiteOptions {
    /// The defaults: the in-tree agent on both backends, every fixture of ./fixtures.
    pub fn new(argv: Vec<String>) -> Self {
        SuiteOptions {
            fixtures_dir: crate::cli::in_tree("fixtures"),
            profile_path: crate::cli::in_tree(crate::cli::DEFAULT_PROFILE),
            backends: Backend::ALL.to_vec(),
            iptables: None,
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
        }
    }

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
